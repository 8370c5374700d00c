"""Celery tasks of vaults: thin wrappers around vaults.runner and the job reaper."""

import logging

from celery import shared_task

logger = logging.getLogger(__name__)


@shared_task(bind=True, acks_late=True, ignore_result=True)
def run_backup(self, job_id: int) -> None:
    """Run a queued backup job (routed to the datasource's host queue)."""
    from vaults.runner import execute_backup

    execute_backup(job_id, task_id=self.request.id or "")


@shared_task(bind=True, acks_late=True, ignore_result=True)
def run_restore(self, job_id: int) -> None:
    """Run a queued restore job (routed to the datasource's host queue)."""
    from vaults.runner import execute_restore

    execute_restore(job_id, task_id=self.request.id or "")


@shared_task(queue="default", ignore_result=True)
def reap_stale_jobs() -> list[int]:
    """Beat, every minute: fail jobs whose worker died, and clear the stale restic locks it left."""
    from monitoring.models import Job
    from monitoring.services import jobs_reap_stale
    from vaults.services import repository_for

    reaped = jobs_reap_stale()
    for job in Job.objects.filter(pk__in=reaped, vault__isnull=False).select_related("vault"):
        try:
            repository_for(job.vault.primary).unlock()
        except Exception as error:  # the next run retries the lock anyway
            logger.warning(
                "could not clear stale locks of vault %s: %s",
                job.vault_id,
                getattr(error, "code", type(error).__name__),
            )
    return reaped


@shared_task(queue="default", ignore_result=True)
def purge_vault(vault_id: int) -> int:
    """Remove the soft-deleted points of one vault whose window has ended (or that were deleted without one)."""
    from vaults.models import Vault
    from vaults.services import purge_due_points

    vault = Vault.objects.filter(pk=vault_id).first()
    return purge_due_points(vault) if vault else 0


@shared_task(queue="default", ignore_result=True)
def purge_soft_deleted() -> int:
    """Beat, hourly: warn two days before a purge, then purge every vault's expired soft-deleted data."""
    from django.utils import timezone

    from vaults.choices import PointState
    from vaults.models import RecoveryPoint
    from vaults.services import warn_upcoming_purges

    warn_upcoming_purges()
    due = RecoveryPoint.objects.filter(state=PointState.SOFT_DELETED, purge_after__lte=timezone.now())
    vault_ids = list(due.values_list("vault_id", flat=True).distinct())
    for vault_id in vault_ids:
        purge_vault.delay(vault_id)
    return len(vault_ids)
