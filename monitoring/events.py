"""The two entry points other apps call to tell monitoring that something happened.

- `job_finished(job)`: call once a backup or restore job has reached its terminal state (vaults.runner does, in
  `execute_backup` and `execute_restore`). It emits the Backup/Restore Health Event, raises the Sev1 job failure
  alert for a failed job (unless the vault switched job alerts off) and resolves the instance's failure alerts
  when the job succeeded.
- `security_event(kind=..., vault=..., message=..., resource=None)`: call when a security-relevant change
  happened (after writing the change record). It raises the Sev0 security alert, which cannot be switched off.

Neither raises on monitoring problems: losing an alert must never fail the backup that caused it.
"""

import logging

from monitoring.alerts import job_alert_raise, job_alerts_resolve, security_alert_raise
from monitoring.choices import JobStatus
from monitoring.health import effective_error_code, health_event_record
from monitoring.models import Alert, HealthEvent, Job

logger = logging.getLogger(__name__)

SECURITY_EVENT_KINDS = (
    "soft_delete_disabled",
    "mua_removed",
    "backup_data_deleted",
    "retention_shortened",
    "protection_retention_shortened",
    "immutability_disabled",
    "upcoming_purge",
    "purge_complete",
)


def job_finished(job: Job) -> tuple[HealthEvent | None, Alert | None]:
    """Health event + job alert of a finished backup or restore job. Safe to call twice (one event per job).

    Returns (health event or None, alert or None).
    """
    try:
        job.refresh_from_db()
        event = health_event_record(job)
        alert = None
        if job.status == JobStatus.FAILED:
            alert = job_alert_raise(job, event.error_code if event else effective_error_code(job))
        elif job.status in (JobStatus.COMPLETED, JobStatus.COMPLETED_WITH_WARNINGS):
            job_alerts_resolve(job)
        return event, alert
    except Exception:  # monitoring must never turn a finished backup into a crashed task
        logger.exception("monitoring could not record the outcome of job %s", job.pk)
        return None, None


def security_event(*, kind: str, vault, message: str, resource=None) -> Alert | None:
    """Raise the always-on Sev0 security alert `kind` on `vault`.

    kind: one of SECURITY_EVENT_KINDS (soft_delete_disabled, mua_removed, backup_data_deleted, retention_shortened,
    protection_retention_shortened, immutability_disabled, upcoming_purge, purge_complete); other kinds are
    accepted with a generic name. message: what happened, shown as the alert's description. resource: the affected
    object (a backup instance, recovery point or policy) or a label; None means the vault itself. Alerts are
    deduplicated by (kind, resource): a repeat adds an occurrence to the open alert.
    """
    try:
        return security_alert_raise(kind=kind, vault=vault, message=message, resource=resource)
    except Exception:
        logger.exception("monitoring could not raise the %s security alert on vault %s", kind, vault.pk)
        return None
