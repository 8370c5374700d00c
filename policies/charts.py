"""Plotly figures of the policy pages (pure functions of their input rows)."""

from __future__ import annotations

import plotly.graph_objects as go

from policies.retention import REASON_NEWEST
from policies.schedule import get_zone
from policies.selectors import RetentionPreview

# Strongest reason first: a point kept by several rules is drawn on the row of the longest-lived one.
ROWS = [
    ("yearly", "Yearly", "#6f42c1"),
    ("monthly", "Monthly", "#0d6efd"),
    ("weekly", "Weekly", "#20c997"),
    ("daily", "Daily", "#198754"),
    ("instant-restore", "Instant restore", "#fd7e14"),
    (REASON_NEWEST, "Newest", "#0dcaf0"),
    ("expired", "Expired", "#adb5bd"),
]


def retention_figure(preview: RetentionPreview, timezone_name: str) -> go.Figure:
    """A timeline of a simulated year: every backup as a marker on the row of the rule that keeps it (or expired)."""
    zone = get_zone(timezone_name)
    rows: dict[str, list] = {key: [] for key, _, _ in ROWS}
    for point in preview.points:
        reasons = preview.decision.keep.get(point.id)
        key = "expired" if not reasons else next(k for k, _, _ in ROWS if k in reasons)
        rows[key].append(point.created.astimezone(zone))
    figure = go.Figure()
    for key, label, colour in ROWS:
        xs = rows[key]
        figure.add_trace(
            go.Scattergl(
                x=xs,
                y=[label] * len(xs),
                mode="markers",
                name=f"{label} ({len(xs)})",
                marker={
                    "color": colour,
                    "size": 9 if key != "expired" else 5,
                    "symbol": "line-ns-open" if key == "expired" else "circle",
                },
                hovertemplate="%{x|%Y-%m-%d %H:%M}<extra>" + label + "</extra>",
            )
        )
    figure.update_layout(
        height=300,
        margin={"l": 110, "r": 10, "t": 10, "b": 30},
        showlegend=False,
        yaxis={"categoryorder": "array", "categoryarray": [label for _, label, _ in reversed(ROWS)]},
        xaxis={"title": None},
        plot_bgcolor="white",
    )
    return figure
