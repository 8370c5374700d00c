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
