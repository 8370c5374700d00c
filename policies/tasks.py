"""Celery tasks of policies: the dispatcher tick and retention enforcement (both on the beat schedule)."""

import logging

from celery import shared_task

from core.context import origin

logger = logging.getLogger(__name__)


@shared_task(queue="default", ignore_result=True, soft_time_limit=50, time_limit=58)
def dispatch_scheduled_backups() -> int:
    """Beat, every minute: queue a backup job for every instance whose scheduled run is due."""
    from policies.dispatcher import dispatch_due

    with origin(task_id=dispatch_scheduled_backups.request.id or ""):
        return len(dispatch_due().job_ids)


@shared_task(queue="default", ignore_result=True, soft_time_limit=3000, time_limit=3300)
def enforce_retention(policy_id: int | None = None) -> dict:
    """Beat, hourly (and after a policy's retention changes): expire what the rules no longer keep."""
    from policies.enforcement import enforce_retention as run

    with origin(task_id=enforce_retention.request.id or ""):
        result = run(policy_id=policy_id)
    return {"instances": result.instances, "deleted": result.deleted, "soft_deleted": result.soft_deleted}
