"""Writes of reports: background exports (a Job with progress, a file for its owner) and scheduled email reports."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.mail import EmailMessage
from django.core.validators import validate_email
from django.db import transaction
from django.utils import timezone

from core.permissions import ensure_permission
from core.roles import Action
from core.services import change_record_write, snapshot
from monitoring.choices import JobStatus, Operation
from monitoring.models import Job
from monitoring.reports import exporters, queries
from monitoring.reports.choices import CONTENT_TYPES, Format, Frequency, Tab
from monitoring.reports.models import ReportExport, ScheduledReport
from monitoring.services import job_claim, job_create, job_finish

EXPORT_OPERATION = Operation.EXPORT_REPORT


def export_dir() -> Path:
    path = Path(settings.VAR_DIR) / "exports"
    path.mkdir(parents=True, exist_ok=True)
    return path


def export_path(export: ReportExport) -> Path:
    return export_dir() / f"{export.pk}.{export.format}"


def _job_scope(user, filters: dict):
    from inventory.models import Tenant

    tenant = Tenant.objects.for_user(user).filter(pk__in=filters.get("tenant") or []).first()
    return tenant and SimpleNamespace(tenant_id=tenant.pk, subscription_id=None, resource_group_id=None)


@transaction.atomic
def export_start(*, actor, tab: str, fmt: str, filters: dict) -> ReportExport:
    """Queue a large export; a worker writes the file, streaming rows, and reports progress on the job."""
    if tab not in Tab.values or fmt not in Format.values:
        raise ValidationError({"tab": ["Unknown report or format."]})
    export = ReportExport.objects.create(owner=actor, tab=tab, format=fmt, filters=filters)
    scope = _job_scope(actor, filters) or SimpleNamespace(tenant_id=None, subscription_id=None, resource_group_id=None)
    export.job = job_create(
        actor=actor,
        operation=EXPORT_OPERATION,
        scope=scope,
        subject=f"{Tab(tab).label} report ({fmt.upper()})",
        params={"export": export.pk},
    )
    export.save(update_fields=["job"])
    from monitoring.reports.tasks import run_export

    transaction.on_commit(lambda: run_export.delay(export.pk))
    return export


def export_run(export_id: int) -> ReportExport | None:
    """Write an export's file (the task's body). Rows stream from the database into the file."""
    export = ReportExport.objects.select_related("owner", "job").filter(pk=export_id).first()
    if export is None or export.job is None or job_claim(export.job_id) is None:
        return None
    job = Job.objects.get(pk=export.job_id)
    report = queries.build(export.tab, export.owner, export.filters)
    total = max(exporters.main_row_count(report), 1)

    def progress(done: int) -> None:
        Job.objects.filter(pk=job.pk).update(
            percent=min(99.0, round(100 * done / total, 1)), files_done=done, heartbeat=timezone.now()
        )

    path = export_path(export)
    try:
        if export.format == Format.CSV:
            with open(path, "w", encoding="utf-8", newline="") as handle:
                exporters.write_csv(report, handle, progress)
        else:
            writer = exporters.write_xlsx if export.format == Format.XLSX else exporters.write_pdf
            with open(path, "wb") as handle:
                writer(report, handle, user=export.owner, progress=progress)
    except Exception as error:  # the job must end; the message says what broke
        job_finish(job, status=JobStatus.FAILED, error_code="export_failed", message=f"The export failed: {error}")
        raise
    rows = sum(t.row_count() for t in report.tables) if export.format != Format.CSV else total
    export.file_name = f"{export.tab}-{timezone.now():%Y%m%d-%H%M}.{export.format}"
    export.rows = rows
    export.save(update_fields=["file_name", "rows"])
    job_finish(job, status=JobStatus.COMPLETED, message=f"{rows} rows written; download from the export page.")
    return export


# Scheduled reports ----------------------------------------------------------------------------------------------


def _next_run(frequency: str, after: datetime) -> datetime:
    return after + {Frequency.DAILY: timedelta(days=1), Frequency.WEEKLY: timedelta(days=7)}.get(
        frequency, timedelta(days=30)
    )


def _clean_recipients(recipients) -> list[str]:
    if isinstance(recipients, str):
        recipients = [r.strip() for r in recipients.replace(";", ",").split(",") if r.strip()]
    if not isinstance(recipients, list) or not recipients:
        raise ValidationError({"recipients": ["Give at least one email address."]})
    for address in recipients:
        try:
            validate_email(address)
        except ValidationError:
            raise ValidationError({"recipients": [f"{address} is not an email address."]}) from None
    return list(dict.fromkeys(recipients))


def _scope_fields(scope) -> dict:
    name = scope.__class__.__name__
    if name == "Tenant":
        return {"tenant": scope, "subscription": None, "resource_group": None}
    if name == "Subscription":
        return {"tenant_id": scope.tenant_id, "subscription": scope, "resource_group": None}
    if name == "ResourceGroup":
        return {"tenant_id": scope.tenant_id, "subscription_id": scope.subscription_id, "resource_group": scope}
    raise ValidationError({"scope": ["Choose a tenant, subscription or resource group."]})


@transaction.atomic
def scheduled_report_create(
    *, actor, scope, name: str, tab: str, format: str, frequency: str, recipients, filters: dict | None = None
) -> ScheduledReport:
    """A report mailed on a schedule, built with the creator's permissions and limited to `scope`."""
    ensure_permission(actor, Action.VIEW, scope=scope)
    report = ScheduledReport(
        **_scope_fields(scope),
        name=name,
        tab=tab,
        format=format,
        frequency=frequency,
        recipients=_clean_recipients(recipients),
        filters=queries.parse_filters(filters or {}),
        owner=actor,
        next_run_at=timezone.now(),
    )
    report.full_clean(exclude=["tenant", "subscription", "resource_group", "owner"])
    report.save()
    change_record_write(actor=actor, action="create", obj=report, after=snapshot(report))
    return report


@transaction.atomic
def scheduled_report_delete(*, actor, report: ScheduledReport) -> None:
    if report.owner_id != actor.pk and not getattr(actor, "is_superuser", False):
        ensure_permission(actor, Action.CHANGE, scope=report)
    change_record_write(actor=actor, action="delete", obj=report, before=snapshot(report))
    report.delete()


def report_filters(report: ScheduledReport) -> dict:
    """The stored filters narrowed to the schedule's scope."""
    filters = dict(report.filters)
    level = "resource_group" if report.resource_group_id else "subscription" if report.subscription_id else "tenant"
    filters[level] = [str(report.scope_object.pk)]
    return filters


def scheduled_report_send(report: ScheduledReport) -> None:
    """Build the report as its owner would see it and mail it to the recipients as an attachment."""
    owner = get_user_model().objects.get(pk=report.owner_id)
    built = queries.build(report.tab, owner, report_filters(report))
    content = exporters.render(built, report.format, user=owner)
    lines = [f"{label}: {value}" for label, value in built.tiles]
    body = (
        f"Backup report “{report.name}” ({Tab(report.tab).label}) for {report.scope_object}, "
        f"generated {timezone.now():%Y-%m-%d %H:%M} UTC.\n\n" + "\n".join(lines) + "\n"
    )
    message = EmailMessage(
        subject=f"Backup report: {report.name}",
        body=body,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=report.recipients,
    )
    message.attach(f"{report.tab}-{timezone.now():%Y%m%d}.{report.format}", content, CONTENT_TYPES[report.format])
    message.send()


def send_due_reports(*, now: datetime | None = None) -> int:
    """Send every enabled report that is due; each is claimed with a conditional update (safe with two beats)."""
    now = now or timezone.now()
    sent = 0
    for report in ScheduledReport.objects.filter(enabled=True, next_run_at__lte=now):
        claimed = ScheduledReport.objects.filter(pk=report.pk, next_run_at=report.next_run_at).update(
            next_run_at=_next_run(report.frequency, now)
        )
        if claimed != 1:
            continue
        try:
            scheduled_report_send(report)
        except Exception as error:  # recorded on the schedule; the next run tries again
            ScheduledReport.objects.filter(pk=report.pk).update(last_status="failed", last_message=str(error)[:2000])
            continue
        ScheduledReport.objects.filter(pk=report.pk).update(last_sent_at=now, last_status="sent", last_message="")
        sent += 1
    return sent
