"""Backup reports pages: one page per tab (tiles, plotly charts, tables), exports, background export progress and
scheduled email reports."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import FileResponse, Http404, HttpResponse, HttpResponseRedirect, StreamingHttpResponse
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from core.exceptions import PermissionDenied
from core.forms import apply_errors
from monitoring.reports import exporters, queries
from monitoring.reports.charts import render_figure
from monitoring.reports.choices import CONTENT_TYPES, Format, Frequency, Tab
from monitoring.reports.models import ReportExport, ScheduledReport
from monitoring.reports.services import (
    export_path,
    export_start,
    scheduled_report_create,
    scheduled_report_delete,
)

PAGE_ROWS = 100
TABS = [t for t in Tab if t != Tab.COMPLIANCE]


def _tab_or_404(tab: str) -> str:
    if tab not in Tab.values:
        raise Http404
    return tab


@login_required
def tab(request, tab: str):
    tab = _tab_or_404(tab)
    filters = queries.parse_filters(request.GET)
    report = queries.build(tab, request.user, filters)
    tables = []
    for table in report.tables:
        rows = []
        for i, row in enumerate(table.iter_rows()):
            if i >= PAGE_ROWS:
                break
            rows.append([exporters._plain(v) for v in row])
        tables.append({"name": table.name, "columns": table.columns, "rows": rows, "more": len(rows) == PAGE_ROWS})
    context = {
        "title": f"Backup reports: {Tab(tab).label}",
        "tab": tab,
        "tabs": TABS,
        "report": report,
        "tables": tables,
        "figures": [(title, render_figure(fig)) for title, fig in report.figures],
        "filters": filters,
        "query": request.GET.urlencode(),
        "formats": Format.choices,
    }
    return render(request, "reports/tab.html", context)


@login_required
def export(request, tab: str, fmt: str):
    """Download a tab as CSV, XLSX or PDF; large ones run as a background job with a download link."""
    tab = _tab_or_404(tab)
    if fmt not in Format.values:
        raise Http404
    filters = queries.parse_filters(request.GET)
    return export_response(request.user, tab, fmt, filters, background_url=True)


def export_response(user, tab: str, fmt: str, filters: dict, *, background_url: bool):
    report = queries.build(tab, user, filters)
    if exporters.main_row_count(report) > settings.BACKUPCENTER_EXPORT_SYNC_ROWS:
        background = export_start(actor=user, tab=tab, fmt=fmt, filters=filters)
        if background_url:
            return HttpResponseRedirect(background.get_absolute_url())
        return background
    name = f"{tab}.{fmt}"
    if fmt == Format.CSV:
        response = StreamingHttpResponse(exporters.csv_chunks(report), content_type=CONTENT_TYPES["csv"])
    else:
        response = HttpResponse(exporters.render(report, fmt, user=user), content_type=CONTENT_TYPES[fmt])
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


def _own_export(request, pk) -> ReportExport:
    export = get_object_or_404(ReportExport.objects.select_related("job"), pk=pk)
    if export.owner_id != request.user.pk:
        raise Http404
    return export


@login_required
def export_detail(request, pk):
    export = _own_export(request, pk)
    context = {"title": f"Export: {export}", "export": export, "job": export.job}
    if request.htmx:
        return render(request, "reports/export_detail.html#progress", context)
    return render(request, "reports/export_detail.html", context)


@login_required
def export_download(request, pk):
    export = _own_export(request, pk)
    path = export_path(export)
    if not export.file_name or not path.exists():
        raise Http404
    return FileResponse(
        open(path, "rb"), as_attachment=True, filename=export.file_name, content_type=CONTENT_TYPES[export.format]
    )


class ScheduleForm(forms.Form):
    name = forms.CharField(max_length=120)
    scope = forms.ChoiceField()
    tab = forms.ChoiceField(choices=Tab.choices, label="Report")
    format = forms.ChoiceField(choices=Format.choices)
    frequency = forms.ChoiceField(choices=Frequency.choices)
    recipients = forms.CharField(help_text="Email addresses separated by commas.")
    days = forms.IntegerField(initial=30, min_value=1, max_value=3660, label="Range (days)")

    def __init__(self, *args, user, **kwargs):
        from policies.governance.forms import scope_choices

        super().__init__(*args, **kwargs)
        self.fields["scope"].choices = scope_choices(user)
        for field in self.fields.values():
            css = "form-select" if isinstance(field.widget, forms.Select) else "form-control"
            field.widget.attrs.setdefault("class", css)


@login_required
def schedules(request):
    from policies.governance.forms import scope_from_value

    form = ScheduleForm(request.POST or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            scheduled_report_create(
                actor=request.user,
                scope=scope_from_value(request.user, data["scope"]),
                name=data["name"],
                tab=data["tab"],
                format=data["format"],
                frequency=data["frequency"],
                recipients=data["recipients"],
                filters={"days": data["days"]},
            )
        except ValidationError as error:
            apply_errors(form, error)
        except PermissionDenied as error:
            form.add_error(None, str(error))
        else:
            messages.success(request, "Scheduled report saved; the first email goes out within minutes.")
            return HttpResponseRedirect(reverse("reports:schedule_list"))
    rows = ScheduledReport.objects.for_user(request.user).select_related("tenant", "subscription", "resource_group")
    context = {"title": "Scheduled email reports", "form": form, "schedules": rows, "tabs": TABS}
    return render(request, "reports/schedules.html", context)


@login_required
@require_POST
def schedule_delete(request, pk):
    report = get_object_or_404(ScheduledReport.objects.for_user(request.user), pk=pk)
    try:
        scheduled_report_delete(actor=request.user, report=report)
    except PermissionDenied as error:
        messages.error(request, str(error))
    return HttpResponseRedirect(reverse("reports:schedule_list"))
