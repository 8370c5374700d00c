"""Job lifecycle: create, claim, report progress, finish, cancel. Every operation's job goes through here."""

import time
from datetime import timedelta

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from core.exceptions import DomainError
from core.permissions import ensure_permission
from core.roles import Action
from core.services import change_record_write
from monitoring.choices import ACTIVE_STATUSES, JobStatus
from monitoring.models import Job

LOG_LIMIT = 8000


def job_create(*, actor, operation: str, scope, subject: str = "", status: str = JobStatus.QUEUED, **fields) -> Job:
    """A new job for `operation` on `scope` (a vault, instance or resource group); scope keys are copied."""
    keys = {}
    for level in ("tenant", "subscription", "resource_group"):
        keys[f"{level}_id"] = getattr(scope, f"{level}_id", None)
    if hasattr(scope, "vault_id"):
        keys["vault_id"] = scope.vault_id
    elif scope.__class__.__name__ == "Vault":
        keys["vault_id"] = scope.pk
    fields = {**keys, **fields}
    now = timezone.now()
    if status != JobStatus.QUEUED:
        fields.setdefault("started", now)
    if status not in ACTIVE_STATUSES:
        fields.setdefault("ended", now)
    return Job.objects.create(
        operation=operation,
        status=status,
        subject=subject[:200],
        actor=actor if getattr(actor, "pk", None) and not getattr(actor, "is_system", False) else None,
        actor_name=getattr(actor, "username", None) or str(actor or "system"),
        **fields,
    )


def job_claim(job_id: int) -> Job | None:
    """Move a queued job to in progress; None when another worker claimed it first or it was cancelled."""
    now = timezone.now()
    claimed = Job.objects.filter(pk=job_id, status=JobStatus.QUEUED).update(
        status=JobStatus.IN_PROGRESS, started=now, heartbeat=now, attempt=F("attempt") + 1
    )
    return Job.objects.get(pk=job_id) if claimed == 1 else None


def job_append_log(job: Job, line: str) -> None:
    job.log = (job.log + line.rstrip() + "\n")[-LOG_LIMIT:]
    Job.objects.filter(pk=job.pk).update(log=job.log)


def job_finish(job: Job, *, status: str, message: str = "", error_code: str = "", warnings=None, **fields) -> Job:
    """Put a job in its terminal state; only an active job can finish (a cancelled job stays cancelled)."""
    values = {"status": status, "ended": timezone.now(), "message": message[:4000], "error_code": error_code, **fields}
    if warnings is not None:
        values["warnings"] = list(warnings)[:200]
    if status in (JobStatus.COMPLETED, JobStatus.COMPLETED_WITH_WARNINGS):
        values.setdefault("percent", 100)
    Job.objects.filter(pk=job.pk, status__in=ACTIVE_STATUSES).update(**values)
    job.refresh_from_db()
    return job


class JobReporter:
    """Writes progress into the job at most once a second and answers whether cancellation was asked."""

    def __init__(self, job: Job, min_interval: float = 1.0) -> None:
        self.job = job
        self.min_interval = min_interval
        self._last_write = 0.0
        self._last_cancel_check = 0.0
        self._cancelled = False

    def progress(self, p) -> None:
        now = time.monotonic()
        if now - self._last_write < self.min_interval:
            return
        self._last_write = now
        Job.objects.filter(pk=self.job.pk, status=JobStatus.IN_PROGRESS).update(
            percent=round(min(max(p.percent_done * 100, 0), 100), 1),
            files_done=p.files_done,
            total_files=p.total_files,
            bytes_done=p.bytes_done,
            total_bytes=p.total_bytes,
            seconds_remaining=p.seconds_remaining,
            heartbeat=timezone.now(),
        )

    def beat(self) -> None:
        Job.objects.filter(pk=self.job.pk, status=JobStatus.IN_PROGRESS).update(heartbeat=timezone.now())

    def cancelled(self) -> bool:
        now = time.monotonic()
        if not self._cancelled and now - self._last_cancel_check >= 1.0:
            self._last_cancel_check = now
            self._cancelled = Job.objects.filter(pk=self.job.pk, cancel_requested=True).exists()
            if not self._cancelled and now - self._last_write >= 30:
                self._last_write = now
                self.beat()
        return self._cancelled


@transaction.atomic
def job_cancel(*, actor, job: Job) -> Job:
    """Ask a job to stop. A queued job is cancelled at once; a running one stops at its next check."""
    ensure_permission(actor, Action.OPERATE, scope=job)
    job = Job.objects.select_for_update().get(pk=job.pk)
    if not job.is_active:
        raise DomainError(f"Job #{job.pk} has already ended ({job.get_status_display()}).", code="job_ended")
    Job.objects.filter(pk=job.pk, status__in=ACTIVE_STATUSES).update(cancel_requested=True)
    Job.objects.filter(pk=job.pk, status=JobStatus.QUEUED).update(
        status=JobStatus.CANCELLED, ended=timezone.now(), message=f"Cancelled by {actor} before it started."
    )
    job.refresh_from_db()
    change_record_write(actor=actor, action="cancel", obj=job)
    return job


def jobs_reap_stale(*, stale_after: timedelta = timedelta(minutes=5)) -> list[int]:
    """Fail in-progress jobs whose worker stopped sending heartbeats (killed worker, lost machine)."""
    limit = timezone.now() - stale_after
    stale = list(Job.objects.filter(status=JobStatus.IN_PROGRESS, heartbeat__lt=limit).values_list("pk", flat=True))
    reaped = []
    for pk in stale:
        updated = Job.objects.filter(pk=pk, status=JobStatus.IN_PROGRESS, heartbeat__lt=limit).update(
            status=JobStatus.FAILED,
            ended=timezone.now(),
            error_code="worker_lost",
            message="The worker running this job stopped responding (it was killed or its machine went away). "
            "Stale repository locks are cleared before the next run; start the operation again.",
        )
        if updated:
            reaped.append(pk)
    return reaped


def job_history_purge(*, days: int, batch: int = 5000) -> dict:
    """Delete finished jobs, health events and their rollup older than `days` (BACKUPCENTER_JOB_RETENTION_DAYS).

    Works in batches so a large backlog never holds one long transaction; active jobs are never deleted.
    """
    from monitoring.models import HealthEvent, HealthEventRollup

    cutoff = timezone.now() - timedelta(days=days)
    deleted = {"jobs": 0, "health_events": 0}
    while True:
        ids = list(
            Job.objects.filter(created__lt=cutoff)
            .exclude(status__in=ACTIVE_STATUSES)
            .order_by()
            .values_list("pk", flat=True)[:batch]
        )
        if not ids:
            break
        with transaction.atomic():
            deleted["jobs"] += Job.objects.filter(pk__in=ids).delete()[1].get("monitoring.Job", 0)
    while True:
        ids = list(HealthEvent.objects.filter(timestamp__lt=cutoff).order_by().values_list("pk", flat=True)[:batch])
        if not ids:
            break
        deleted["health_events"] += HealthEvent.objects.filter(pk__in=ids).delete()[0]
    HealthEventRollup.objects.filter(bucket__lt=cutoff.replace(minute=0, second=0, microsecond=0)).delete()
    return deleted
