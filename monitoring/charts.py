"""Charts as pure functions: rows in, a plotly Figure out. Pages render them with
`to_html(full_html=False, include_plotlyjs=False)`; plotly.js itself is a local static file."""

from collections import defaultdict
from datetime import UTC, date, datetime, timedelta

import plotly.graph_objects as go

from monitoring.choices import HealthStatus

STATUS_COLOURS = {
    HealthStatus.HEALTHY: "#198754",
    HealthStatus.TRANSIENT_UNHEALTHY: "#fd7e14",
    HealthStatus.PERSISTENT_UNHEALTHY: "#dc3545",
    HealthStatus.TRANSIENT_DEGRADED: "#0dcaf0",
    HealthStatus.PERSISTENT_DEGRADED: "#6f42c1",
}
LAYOUT = {
    "margin": {"l": 40, "r": 10, "t": 30, "b": 40},
    "height": 320,
    "legend": {"orientation": "h", "y": -0.2},
    "template": "plotly_white",
}


def backup_health_figure(rows, *, end: date | None = None, days: int = 14) -> go.Figure:
    """Stacked daily bars of backup health events by status over the `days` days ending `end` (today, UTC);
    rows = [(day, health status, count)]. Every day gets a bar slot, so one busy day does not stretch the axis."""
    end = end or datetime.now(UTC).date()
    calendar = [end - timedelta(days=offset) for offset in range(days - 1, -1, -1)]
    by_status: dict[str, dict] = defaultdict(dict)
    for day, status, count in rows:
        key = day.date() if isinstance(day, datetime) else day
        by_status[status][key] = by_status[status].get(key, 0) + count
    figure = go.Figure()
    labels = [d.strftime("%b %d") for d in calendar]
    for status in HealthStatus:
        points = by_status.get(status.value)
        if not points:
            continue
        figure.add_bar(
            x=labels, y=[points.get(d, 0) for d in calendar], name=status.label, marker_color=STATUS_COLOURS[status]
        )
    figure.update_layout(barmode="stack", title=f"Backup health, last {days} days", yaxis_title="Backups", **LAYOUT)
    figure.update_xaxes(type="category", categoryorder="array", categoryarray=labels)
    figure.update_yaxes(rangemode="tozero", tickformat=",d")
    return figure


def metric_figure(rows, *, title: str, aggregation: str = "Count") -> go.Figure:
    """One line per series; rows = [(bucket start, series name, value)]."""
    series: dict[str, list] = defaultdict(list)
    for bucket, name, value in rows:
        series[name].append((bucket, value))
    figure = go.Figure()
    for name in sorted(series):
        points = sorted(series[name])
        figure.add_scatter(x=[p[0] for p in points], y=[p[1] for p in points], mode="lines+markers", name=name)
    figure.update_layout(title=title, yaxis_title=aggregation, **LAYOUT)
    return figure


def to_html(figure: go.Figure) -> str:
    return figure.to_html(full_html=False, include_plotlyjs=False, config={"displaylogo": False, "responsive": True})
