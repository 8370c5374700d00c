"""Report figures: pure functions `*_figure(rows) -> go.Figure`, rendered for pages without bundling plotly.js
(the page loads it from our static files)."""

import plotly.graph_objects as go

STATE_COLOURS = {
    "compliant": "#198754",
    "non_compliant": "#dc3545",
    "exempt": "#6c757d",
    "unknown": "#ffc107",
    "conflict": "#212529",
}


def _layout(fig: go.Figure, title: str) -> go.Figure:
    fig.update_layout(title=title, height=320, margin={"l": 40, "r": 10, "t": 40, "b": 40}, template="plotly_white")
    return fig


def render_figure(fig: go.Figure) -> str:
    return fig.to_html(full_html=False, include_plotlyjs=False, config={"displaylogo": False})


def compliance_figure(counts: dict[str, int]) -> go.Figure:
    labels = [k for k, v in counts.items() if v]
    fig = go.Figure(
        go.Pie(
            labels=[label.replace("_", " ") for label in labels],
            values=[counts[label] for label in labels],
            hole=0.55,
            marker={"colors": [STATE_COLOURS.get(label, "#999") for label in labels]},
        )
    )
    return _layout(fig, "Resources by compliance state")


def bar_figure(title: str, x: list, y: list, name: str = "") -> go.Figure:
    return _layout(go.Figure(go.Bar(x=x, y=y, name=name)), title)


def stacked_bar_figure(title: str, x: list, series: dict[str, list]) -> go.Figure:
    fig = go.Figure([go.Bar(x=x, y=values, name=name) for name, values in series.items()])
    fig.update_layout(barmode="stack")
    return _layout(fig, title)


def line_figure(title: str, x: list, series: dict[str, list]) -> go.Figure:
    fig = go.Figure([go.Scatter(x=x, y=values, name=name, mode="lines+markers") for name, values in series.items()])
    return _layout(fig, title)


def heatmap_figure(title: str, x: list, y: list, z: list[list]) -> go.Figure:
    fig = go.Figure(go.Heatmap(x=x, y=y, z=z, colorscale=[[0, "#dc3545"], [1, "#198754"]], zmin=0, zmax=1))
    return _layout(fig, title)
