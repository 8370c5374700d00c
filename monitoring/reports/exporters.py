"""Writing a `Report` as CSV, XLSX or PDF.

* CSV: one table as plain CSV; several tables as sections (`# <table>` line, header, rows, blank line). Rows are
  written as they come from the database.
* XLSX: openpyxl in write-only mode (rows stream to the file, memory stays flat): a "Report" sheet with title,
  scope, filters and generation time, then one sheet per table with typed cells (numbers, dates, booleans).
* PDF: reportlab (pure Python, its own standard fonts, no system libraries): header, tiles, each chart redrawn with
  reportlab's graphics from the plotly figure's data, each table (capped at BACKUPCENTER_PDF_MAX_ROWS rows).
  plotly's own static export needs kaleido and a Chrome, which a self-hosted, offline install cannot rely on.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from typing import IO

from django.conf import settings
from django.utils import timezone

from monitoring.reports.queries import Report, Table

Progress = Callable[[int], None] | None


def _plain(value):
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, date):
        return value.isoformat()
    if value is None:
        return ""
    return value


def scope_text(user, filters: dict) -> str:
    from inventory.models import ResourceGroup, Subscription, Tenant

    parts = []
    for key, model in (("tenant", Tenant), ("subscription", Subscription), ("resource_group", ResourceGroup)):
        if filters.get(key):
            names = model.objects.for_user(user).filter(pk__in=filters[key]).values_list("name", flat=True)
            parts.append(f"{key.replace('_', ' ')}: {', '.join(names)}")
    return "; ".join(parts) or f"everything {user} can see"


def filter_text(filters: dict) -> str:
    skip = {"tenant", "subscription", "resource_group"}
    return ", ".join(
        f"{k}={v if not isinstance(v, list) else '|'.join(v)}" for k, v in filters.items() if k not in skip
    )


# CSV -------------------------------------------------------------------------------------------------------------


class _Echo:
    def write(self, value):
        return value


def csv_chunks(report: Report, progress: Progress = None) -> Iterator[str]:
    writer = csv.writer(_Echo())
    sections = len(report.tables) > 1
    done = 0
    for table in report.tables:
        if sections:
            yield writer.writerow([f"# {table.name}"])
        yield writer.writerow([c.label for c in table.columns])
        for row in table.iter_rows():
            yield writer.writerow([_plain(v) for v in row])
            done += 1
            if progress and done % 5000 == 0:
                progress(done)
        if sections:
            yield "\r\n"


def write_csv(report: Report, out: IO[str], progress: Progress = None) -> None:
    for chunk in csv_chunks(report, progress):
        out.write(chunk)


# XLSX ------------------------------------------------------------------------------------------------------------


def _sheet_title(name: str, used: set[str]) -> str:
    title = "".join(ch for ch in name if ch not in "[]:*?/\\")[:31] or "Table"
    base, n = title, 2
    while title in used:
        title = f"{base[:28]} {n}"
        n += 1
    used.add(title)
    return title


def write_xlsx(report: Report, out: IO[bytes], *, user, progress: Progress = None) -> None:
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font

    workbook = Workbook(write_only=True)
    bold = Font(bold=True)
    header = workbook.create_sheet("Report")
    for label, value in (
        ("Report", report.title),
        ("Scope", scope_text(user, report.filters)),
        ("Filters", filter_text(report.filters)),
        ("Generated (UTC)", timezone.now().astimezone(UTC).replace(tzinfo=None)),
        ("Generated for", str(user)),
    ):
        cell = WriteOnlyCell(header, value=label)
        cell.font = bold
        header.append([cell, value])
    for label, value in report.tiles:
        header.append([label, value])
    used = {"Report"}
    done = 0
    for table in report.tables:
        sheet = workbook.create_sheet(_sheet_title(table.name, used))
        row = []
        for column in table.columns:
            cell = WriteOnlyCell(sheet, value=column.label)
            cell.font = bold
            row.append(cell)
        sheet.append(row)
        kinds = [c.type for c in table.columns]
        for values in table.iter_rows():
            sheet.append([_xlsx_value(v, kind) for v, kind in zip(values, kinds, strict=False)])
            done += 1
            if progress and done % 5000 == 0:
                progress(done)
    workbook.save(out)


def _xlsx_value(value, kind: str):
    if isinstance(value, datetime):
        return value.astimezone(UTC).replace(tzinfo=None)
    if kind in ("int", "bytes") and value is not None and not isinstance(value, bool):
        return int(value)
    if kind in ("float", "percent") and value is not None:
        return float(value)
    return value


# PDF -------------------------------------------------------------------------------------------------------------


def _drawing(figure, width: float, height: float = 190):
    """Redraw a plotly figure's bar, line or pie traces with reportlab's graphics."""
    from reportlab.graphics.charts.barcharts import VerticalBarChart
    from reportlab.graphics.charts.legends import Legend
    from reportlab.graphics.charts.linecharts import HorizontalLineChart
    from reportlab.graphics.charts.piecharts import Pie
    from reportlab.graphics.shapes import Drawing, String
    from reportlab.lib import colors

    palette = [colors.HexColor(c) for c in ("#0d6efd", "#dc3545", "#198754", "#ffc107", "#6f42c1", "#20c997")]
    traces = list(figure.data)
    drawing = Drawing(width, height)
    if not traces:
        return drawing
    kind = traces[0].type
    if kind == "pie":
        pie = Pie()
        pie.x, pie.y, pie.width, pie.height = 20, 15, height - 40, height - 40
        pie.data = [float(v) for v in traces[0].values]
        pie.labels = [f"{label}: {int(v)}" for label, v in zip(traces[0].labels, traces[0].values, strict=False)]
        for i in range(len(pie.data)):
            pie.slices[i].fillColor = palette[i % len(palette)]
        drawing.add(pie)
        return drawing
    if kind == "heatmap":
        drawing.add(String(10, height / 2, "(grid shown in the table below)", fontSize=8))
        return drawing
    categories = [str(_plain(x))[:14] for x in traces[0].x]
    series = [[float(v or 0) for v in t.y] for t in traces]
    chart = HorizontalLineChart() if kind == "scatter" else VerticalBarChart()
    chart.x, chart.y, chart.width, chart.height = 45, 35, width - 160, height - 50
    chart.data = series
    chart.categoryAxis.categoryNames = categories
    chart.categoryAxis.labels.angle = 30 if len(categories) > 6 else 0
    chart.categoryAxis.labels.fontSize = 6
    chart.categoryAxis.labels.boxAnchor = "ne" if len(categories) > 6 else "n"
    chart.valueAxis.labels.fontSize = 6
    chart.valueAxis.valueMin = 0
    for i in range(len(series)):
        target = chart.lines[i] if kind == "scatter" else chart.bars[i]
        target.strokeColor = palette[i % len(palette)]
        if kind != "scatter":
            target.fillColor = palette[i % len(palette)]
    if kind != "scatter" and getattr(figure.layout, "barmode", None) == "stack":
        chart.categoryAxis.style = "stacked"
    drawing.add(chart)
    if len(traces) > 1:
        legend = Legend()
        legend.x, legend.y = width - 105, height - 20
        legend.fontSize = 7
        legend.colorNamePairs = [(palette[i % len(palette)], t.name or f"series {i + 1}") for i, t in enumerate(traces)]
        drawing.add(legend)
    return drawing


def write_pdf(report: Report, out: IO[bytes], *, user, progress: Progress = None) -> None:
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4, landscape
    from reportlab.lib.styles import getSampleStyleSheet
    from reportlab.lib.units import mm
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, TableStyle
    from reportlab.platypus import Table as PdfTable

    styles = getSampleStyleSheet()
    small = styles["BodyText"].clone("small", fontSize=7, leading=8)
    page = landscape(A4)
    doc = SimpleDocTemplate(
        out,
        pagesize=page,
        leftMargin=12 * mm,
        rightMargin=12 * mm,
        topMargin=12 * mm,
        bottomMargin=12 * mm,
        title=f"Backup report: {report.title}",
    )
    width = page[0] - 24 * mm
    generated = timezone.now().astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    story = [
        Paragraph(f"Backup report: {report.title}", styles["Title"]),
        Paragraph(f"Scope: {scope_text(user, report.filters)}", styles["BodyText"]),
        Paragraph(f"Filters: {filter_text(report.filters)}", styles["BodyText"]),
        Paragraph(f"Generated {generated} for {user}", styles["BodyText"]),
        Spacer(1, 4 * mm),
    ]
    if report.tiles:
        story.append(
            Paragraph(" · ".join(f"<b>{label}</b>: {value}" for label, value in report.tiles), styles["BodyText"])
        )
        story.append(Spacer(1, 4 * mm))
    for title, figure in report.figures:
        story += [Paragraph(title, styles["Heading3"]), _drawing(figure, width), Spacer(1, 3 * mm)]
    limit = settings.BACKUPCENTER_PDF_MAX_ROWS
    done = 0
    for table in report.tables:
        story.append(Paragraph(table.name, styles["Heading3"]))
        data = [[Paragraph(f"<b>{c.label}</b>", small) for c in table.columns]]
        total = 0
        for row in table.iter_rows():
            total += 1
            if total <= limit:
                data.append([Paragraph(_escape(_plain(v)), small) for v in row])
            done += 1
            if progress and done % 5000 == 0:
                progress(done)
        if total == 0:
            story.append(Paragraph("No rows.", styles["BodyText"]))
            continue
        pdf_table = PdfTable(data, repeatRows=1, colWidths=[width / len(table.columns)] * len(table.columns))
        pdf_table.setStyle(
            TableStyle(
                [
                    ("GRID", (0, 0), (-1, -1), 0.25, colors.grey),
                    ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e9ecef")),
                    ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ]
            )
        )
        story.append(pdf_table)
        if total > limit:
            story.append(Paragraph(f"First {limit} of {total} rows; the CSV and XLSX exports hold every row.", small))
        story.append(Spacer(1, 4 * mm))
    doc.build(story)


def _escape(value) -> str:
    return str(value).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def render(report: Report, fmt: str, *, user, progress: Progress = None) -> bytes:
    """The whole export in memory (small reports, emails)."""
    if fmt == "csv":
        buffer = io.StringIO()
        write_csv(report, buffer, progress)
        return buffer.getvalue().encode("utf-8")
    buffer = io.BytesIO()
    (write_xlsx if fmt == "xlsx" else write_pdf)(report, buffer, user=user, progress=progress)
    return buffer.getvalue()


def main_row_count(report: Report) -> int:
    return max((t.row_count() for t in report.tables), default=0)


__all__ = ["Table", "render", "write_csv", "write_xlsx", "write_pdf", "csv_chunks", "main_row_count"]
