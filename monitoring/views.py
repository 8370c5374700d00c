"""Jobs: the list, the detail with live progress (an HTMX partial that polls only while the job runs), cancel."""

import csv

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponseRedirect, StreamingHttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_POST

from core.exceptions import DomainError
from core.permissions import has_permission
from core.views import ObjectListView, get_scoped
from monitoring.filtersets import JobFilterSet
from monitoring.models import Job
from monitoring.services import job_cancel
from monitoring.tables import JobTable


class JobListView(ObjectListView):
    queryset = Job.objects.select_related("vault")
    filterset_class = JobFilterSet
    table_class = JobTable
    title = "Backup jobs"
    empty_hint = "Jobs appear when backups, restores and other operations run."
    template_name = "monitoring/job_list.html"


@login_required
def job_detail(request, pk):
    job = get_scoped(Job, request.user, pk)
    context = {
        "job": job,
        "object": job,
        "title": f"Job #{job.pk}: {job.get_operation_display()} {job.subject}",
        "can_operate": has_permission(request.user, "operate", job),
    }
    if request.htmx and request.htmx.target == "job-progress":
        return render(request, "monitoring/job_detail.html#progress", context)
    return render(request, "monitoring/job_detail.html", context)


@login_required
@require_POST
def job_cancel_view(request, pk):
    job = get_scoped(Job, request.user, pk)
    try:
        job_cancel(actor=request.user, job=job)
        messages.info(request, f"Cancellation of job #{job.pk} requested.")
    except DomainError as error:
        messages.error(request, error.message)
    return HttpResponseRedirect(job.get_absolute_url())


class _Echo:
    def write(self, value):
        return value


@login_required
def job_export(request):
    """The filtered jobs as CSV, streamed row by row."""
    rows = JobFilterSet(
        request.GET, queryset=Job.objects.for_user(request.user).select_related("vault"), request=request
    ).qs
    writer = csv.writer(_Echo())
    header = [
        "id",
        "operation",
        "status",
        "subject",
        "datasource_kind",
        "vault",
        "created",
        "started",
        "ended",
        "bytes_done",
        "bytes_added",
        "error_code",
        "message",
        "actor",
    ]

    def stream():
        yield writer.writerow(header)
        for job in rows.iterator(chunk_size=2000):
            yield writer.writerow(
                [
                    job.pk,
                    job.operation,
                    job.status,
                    job.subject,
                    job.datasource_kind,
                    job.vault.name if job.vault else "",
                    job.created.isoformat(),
                    job.started.isoformat() if job.started else "",
                    job.ended.isoformat() if job.ended else "",
                    job.bytes_done,
                    job.bytes_added,
                    job.error_code,
                    job.message,
                    job.actor_name,
                ]
            )

    response = StreamingHttpResponse(stream(), content_type="text/csv")
    response["Content-Disposition"] = 'attachment; filename="jobs.csv"'
    return response
