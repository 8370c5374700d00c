"""The dispatcher: every minute, start the scheduled backups that are due.

An instance is due when its policy's most recent run (`policies.schedule.last_due(now)`) is later than the run the
dispatcher last started for it (`ScheduleCursor.last_scheduled_run`, or the instance's creation before its first
run). Because only the most recent run counts, downtime yields at most one catch-up backup per instance.

Per batch the work is set-based: one query finds due instances, one conditional upsert claims them (it advances
the cursor only where it is still older than the run, and returns exactly the rows it advanced — so two
dispatchers never both claim one run), one bulk insert creates the queued jobs (the partial unique constraint
`one_active_backup_per_instance` makes a second active backup impossible; conflicting rows are skipped), and the
tasks are published after commit on each datasource's host queue. Per-vault and per-host limits of active backups
(settings) defer the excess to the next tick; deferred instances stay due because their cursor did not move.
"""

from __future__ import annotations

import logging
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Count, Exists, F, OuterRef, Q
from django.db.models.functions import Coalesce
from django.utils import timezone

from monitoring.choices import ACTIVE_STATUSES, JobStatus, Operation
from monitoring.models import Job
from policies.models import BackupPolicy, ScheduleCursor
from policies.schedule import last_due
from vaults.choices import ProtectionState
from vaults.models import BackupInstance

logger = logging.getLogger(__name__)

DISPATCHED_STATES = (ProtectionState.PROTECTED, ProtectionState.PROTECTION_ERROR)
SCHEDULER_NAME = "scheduler"


@dataclass
class DispatchResult:
    """What one tick did: the queued job ids, how many instances were due and how many limits deferred."""

    now: datetime
    job_ids: list[int] = field(default_factory=list)
    due: int = 0
    deferred: int = 0
    lost_claims: int = 0


def due_runs(now: datetime) -> dict[datetime, list[int]]:
    """Policy ids grouped by their most recent scheduled run at `now` (the calculator decides; no DB time maths)."""
    groups: dict[datetime, list[int]] = defaultdict(list)
    for policy in BackupPolicy.objects.only("pk", "schedule"):
        try:
            instant = last_due(policy.schedule_obj(), now)
        except (TypeError, ValueError):
            logger.warning("policy %s has an invalid schedule; its instances are not dispatched", policy.pk)
            continue
        if instant is not None:
            groups[instant].append(policy.pk)
    return groups


def due_instances_query(groups: dict[datetime, list[int]]):
    """The set-based query of due instances: active, under a policy whose last run is newer than the cursor,
    without an active backup. Rows carry what the job needs, so no further lookups happen per instance."""
    when = Q(pk__in=[])
    for instant, policy_ids in groups.items():
        when |= Q(policy_id__in=policy_ids, since__lt=instant)
    active_backup = Job.objects.filter(
        instance_id=OuterRef("pk"), operation=Operation.BACKUP, status__in=ACTIVE_STATUSES
    )
    return (
        BackupInstance.objects.filter(protection_state__in=DISPATCHED_STATES)
        .annotate(since=Coalesce(F("schedule_cursor__last_scheduled_run"), F("created")))
        .filter(when)
        .filter(~Exists(active_backup))
        .order_by("pk")
        .values(
            "pk",
            "policy_id",
            "vault_id",
            "tenant_id",
            "subscription_id",
            "resource_group_id",
            "datasource_id",
            "datasource__kind",
            "datasource__name",
            "datasource__host",
        )
    )


def _claim(rows: list[tuple[int, datetime]], now: datetime) -> set[int]:
    """Advance the cursors of `rows` (instance id, run) where still older than the run; return the ids advanced.

    One INSERT … ON CONFLICT DO UPDATE … WHERE … RETURNING (PostgreSQL and SQLite ≥ 3.35). Concurrent claims of
    the same row wait for each other's row lock; the loser's WHERE no longer matches, so it gets nothing back.
    Rows are sorted by id so concurrent dispatchers lock in the same order and cannot deadlock.
    """
    if not rows:
        return set()
    table = connection.ops.quote_name(ScheduleCursor._meta.db_table)
    adapt = connection.ops.adapt_datetimefield_value
    values, params = [], []
    for instance_id, run in sorted(rows):
        values.append("(%s, %s, %s)")
        params += [instance_id, adapt(run), adapt(now)]
    sql = (
        f"INSERT INTO {table} (instance_id, last_scheduled_run, dispatched_at) VALUES {', '.join(values)} "
        "ON CONFLICT (instance_id) DO UPDATE SET last_scheduled_run = excluded.last_scheduled_run, "
        "dispatched_at = excluded.dispatched_at "
        f"WHERE {table}.last_scheduled_run < excluded.last_scheduled_run "
        "RETURNING instance_id"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return {row[0] for row in cursor.fetchall()}


def _active_counts() -> tuple[Counter, Counter]:
    by_vault: Counter = Counter()
    by_queue: Counter = Counter()
    for row in (
        Job.objects.filter(operation=Operation.BACKUP, status__in=ACTIVE_STATUSES)
        .values("vault_id", "queue")
        .annotate(n=Count("id"))
        .order_by()
    ):
        by_vault[row["vault_id"]] += row["n"]
        by_queue[row["queue"]] += row["n"]
    return by_vault, by_queue


def _enqueue(rows: list[tuple[int, str, str]]) -> None:
    """Publish the backup tasks through one broker connection (after the jobs are committed)."""
    from vaults.tasks import run_backup

    with run_backup.app.producer_or_acquire() as producer:
        for job_id, task_id, queue in rows:
            run_backup.apply_async((job_id,), queue=queue, task_id=task_id, producer=producer)


def dispatch_due(now: datetime | None = None, *, batch_size: int = 2000) -> DispatchResult:
    """One tick of the dispatcher: queue a backup job for every due instance, within the concurrency limits."""
    now = now or timezone.now()
    result = DispatchResult(now=now)
    groups = due_runs(now)
    if not groups:
        return result
    run_of_policy = {pk: instant for instant, ids in groups.items() for pk in ids}
    vault_limit = settings.BACKUPCENTER_MAX_BACKUPS_PER_VAULT
    host_limit = settings.BACKUPCENTER_MAX_BACKUPS_PER_HOST
    limited = bool(vault_limit or host_limit)
    by_vault, by_queue = _active_counts() if limited else (Counter(), Counter())
    query = due_instances_query(groups)
    last_pk = 0
    while True:
        batch = list(query.filter(pk__gt=last_pk)[:batch_size])
        if not batch:
            break
        last_pk = batch[-1]["pk"]
        result.due += len(batch)
        chosen = []
        for row in batch:
            queue = f"host.{row['datasource__host']}"
            if limited and (
                (vault_limit and by_vault[row["vault_id"]] >= vault_limit)
                or (host_limit and by_queue[queue] >= host_limit)
            ):
                result.deferred += 1
                continue
            by_vault[row["vault_id"]] += 1
            by_queue[queue] += 1
            chosen.append((row, queue))
        if chosen:
            result.job_ids += _dispatch_batch(chosen, run_of_policy, now, result)
        if len(batch) < batch_size:
            break
    if result.job_ids or result.deferred:
        logger.info(
            "dispatcher: %s due, %s queued, %s deferred by limits", result.due, len(result.job_ids), result.deferred
        )
    return result


def _dispatch_batch(chosen, run_of_policy, now: datetime, result: DispatchResult) -> list[int]:
    with transaction.atomic():
        claimed = _claim([(row["pk"], run_of_policy[row["policy_id"]]) for row, _ in chosen], now)
        result.lost_claims += len(chosen) - len(claimed)
        jobs, task_ids = [], []
        for row, queue in chosen:
            if row["pk"] not in claimed:
                continue
            task_id = uuid.uuid4().hex
            task_ids.append(task_id)
            run = run_of_policy[row["policy_id"]]
            # The fields job_create would set, built in bulk: a scheduled backup has no acting user.
            jobs.append(
                Job(
                    operation=Operation.BACKUP,
                    status=JobStatus.QUEUED,
                    tenant_id=row["tenant_id"],
                    subscription_id=row["subscription_id"],
                    resource_group_id=row["resource_group_id"],
                    vault_id=row["vault_id"],
                    instance_id=row["pk"],
                    datasource_id=row["datasource_id"],
                    datasource_kind=row["datasource__kind"],
                    subject=row["datasource__name"][:200],
                    queue=queue,
                    celery_task_id=task_id,
                    actor_name=SCHEDULER_NAME,
                    params={"on_demand": False, "retain_until": None, "scheduled_for": run.isoformat()},
                )
            )
        if not jobs:
            return []
        # A backup started by hand between the query and here wins: its row makes ours conflict and be skipped.
        Job.objects.bulk_create(jobs, batch_size=1000, ignore_conflicts=True)
        created = list(
            Job.objects.filter(
                instance_id__in=[job.instance_id for job in jobs],
                operation=Operation.BACKUP,
                status=JobStatus.QUEUED,
                celery_task_id__in=task_ids,
            ).values_list("pk", "celery_task_id", "queue")
        )
        transaction.on_commit(partial(_enqueue, created))
    return [pk for pk, _, _ in created]
