"""Backup and Restore Health Events: one per finished backup or restore, with its HealthStatus, and the hourly
rollup the charts read.

A failed job is *degraded* when the cause is on the user's side (a missing source, a wrong password, a disabled
key, an invalid restore target) and *unhealthy* when it is on the service's side (storage, restic, a lost worker).
The same error again for the same instance makes the status *persistent*; the first time it is *transient*.
"""

import re
from datetime import datetime

from django.db import connection, transaction
from django.db.models import Count
from django.db.models.functions import TruncHour

from monitoring.choices import HealthMetric, HealthStatus, JobStatus, Operation
from monitoring.models import HealthEvent, HealthEventRollup, Job

# Causes the user can fix: wrong credentials, a missing path, a disabled key, a bad target.
USER_ERROR_CODES = frozenset(
    {
        "source_missing",
        "datasource_not_found",
        "wrong_password",
        "key_disabled",
        "key_missing",
        "key_mismatch",
        "invalid_target",
        "restore_conflict",
        "path_escape",
        "repository_missing",
    }
)
METRIC_OF_OPERATION = {Operation.BACKUP: HealthMetric.BACKUP, Operation.RESTORE: HealthMetric.RESTORE}
FINISHED = (JobStatus.COMPLETED, JobStatus.COMPLETED_WITH_WARNINGS, JobStatus.FAILED)
# restic reports a vanished source folder only in its message ("all source directories/files do not exist").
_SOURCE_MISSING_RE = re.compile(r"do(es)? not exist|no such file or directory", re.IGNORECASE)


def effective_error_code(job: Job) -> str:
    """The job's error code, made specific where restic's generic failure says the source is gone."""
    code = job.error_code or ""
    if code in ("restic_failed", "datasource_failed") and _SOURCE_MISSING_RE.search(job.message or ""):
        return "source_missing"
    return code


def is_user_error(code: str) -> bool:
    return code in USER_ERROR_CODES


def health_status_for(job: Job, previous: dict | None) -> tuple[str, str]:
    """(HealthStatus, error code) of a finished job, given the instance's previous event of the same metric."""
    if job.status != JobStatus.FAILED:
        return HealthStatus.HEALTHY, ""
    code = effective_error_code(job) or "unknown_error"
    repeated = bool(previous) and previous["error_code"] == code and previous["health_status"] != HealthStatus.HEALTHY
    if is_user_error(code):
        return (HealthStatus.PERSISTENT_DEGRADED if repeated else HealthStatus.TRANSIENT_DEGRADED), code
    return (HealthStatus.PERSISTENT_UNHEALTHY if repeated else HealthStatus.TRANSIENT_UNHEALTHY), code


def health_event_record(job: Job) -> HealthEvent | None:
    """Emit the health event of a finished backup or restore job (once per job); None for other jobs."""
    from vaults.models import BackupInstance

    metric = METRIC_OF_OPERATION.get(job.operation)
    if metric is None or job.status not in FINISHED or job.instance_id is None:
        return None
    if HealthEvent.objects.filter(job_id=job.pk).exists():
        return None
    instance = BackupInstance.objects.select_related("datasource", "vault").filter(pk=job.instance_id).first()
    if instance is None:
        return None
    previous = (
        HealthEvent.objects.filter(instance_id=instance.pk, metric=metric)
        .order_by("-timestamp", "-id")
        .values("health_status", "error_code")
        .first()
    )
    status, code = health_status_for(job, previous)
    with transaction.atomic():
        event = HealthEvent.objects.create(
            metric=metric,
            health_status=status,
            timestamp=job.ended or job.created,
            tenant_id=instance.tenant_id,
            subscription_id=instance.subscription_id,
            resource_group_id=instance.resource_group_id,
            vault_id=instance.vault_id,
            instance=instance,
            datasource_id=instance.datasource_id,
            datasource_kind=instance.datasource.kind,
            instance_name=str(instance.datasource)[:200],
            error_code=code,
            job=job,
        )
        rollup_add(event)
    return event


def _hour(moment: datetime) -> datetime:
    return moment.replace(minute=0, second=0, microsecond=0)


def rollup_add(event: HealthEvent, count: int = 1) -> None:
    """Count one event into its hour's rollup row. An upsert, so concurrent workers never lose a count."""
    table = HealthEventRollup._meta.db_table
    sql = (
        f"INSERT INTO {table} (bucket, metric, health_status, tenant_id, subscription_id, resource_group_id, "
        "vault_id, datasource_kind, count) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) "
        "ON CONFLICT (bucket, metric, health_status, vault_id, datasource_kind) "
        f"DO UPDATE SET count = {table}.count + EXCLUDED.count"
    )
    params = [
        _hour(event.timestamp),
        event.metric,
        event.health_status,
        event.tenant_id,
        event.subscription_id,
        event.resource_group_id,
        event.vault_id,
        event.datasource_kind,
        count,
    ]
    if connection.vendor == "sqlite":
        params[0] = params[0].isoformat(sep=" ")
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


@transaction.atomic
def health_rollup_rebuild() -> int:
    """Recount the whole rollup from the events (after a bulk load or a purge). Returns the rows written."""
    HealthEventRollup.objects.all().delete()
    rows = (
        HealthEvent.objects.annotate(bucket=TruncHour("timestamp"))
        .values(
            "bucket",
            "metric",
            "health_status",
            "tenant_id",
            "subscription_id",
            "resource_group_id",
            "vault_id",
            "datasource_kind",
        )
        .annotate(n=Count("id"))
        .order_by()
    )
    batch, written = [], 0
    for row in rows.iterator(chunk_size=5000):
        n = row.pop("n")
        batch.append(HealthEventRollup(count=n, **row))
        if len(batch) >= 5000:
            HealthEventRollup.objects.bulk_create(batch)
            written += len(batch)
            batch = []
    HealthEventRollup.objects.bulk_create(batch)
    return written + len(batch)
