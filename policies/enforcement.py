"""Retention enforcement: apply each policy's rules to its instances' recovery points.

The decision is `policies.retention.select` (the one implementation, shared with the editor preview); this module
only feeds it the points and carries out its answer:

* kept points get `expires_at` from `policies.retention.expiry_for` (or from the rule that keeps them);
* points whose time is up (their recorded `expires_at` has passed, or was never computed) are removed from restic
  — `forget` by snapshot id, then `prune`, under the repository's maintenance lock — and marked deleted;
* points the rules drop *before* their recorded expiry (a user shortened retention) are soft deleted in vaults
  with soft delete, so the data stays until the vault's soft-delete window ends; the purge removes them later.

Only instances under active protection are enforced; "stop protection, retain data" keeps every point.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from core.permissions import SystemActor
from core.services import change_record_write
from monitoring.choices import JobStatus, Operation
from monitoring.services import job_create, job_finish
from policies.models import BackupPolicy
from policies.retention import (
    REASON_INSTANT_RESTORE,
    REASON_NEWEST,
    REASON_ON_DEMAND,
    Point,
    RetentionRules,
    expiry_for,
    select,
)
from vaults.choices import PointState, ProtectionState, SoftDeleteState
from vaults.models import BackupInstance, RecoveryPoint, Vault

logger = logging.getLogger(__name__)

ENFORCED_STATES = (ProtectionState.PROTECTED, ProtectionState.PROTECTION_ERROR)
# An on-demand point saved without a retain-until date is kept this long (the portal's default for on-demand).
ON_DEMAND_DEFAULT = timedelta(days=30)
# Expiry instants are recomputed every run; this slack keeps rounding from turning expiry into "early".
EARLY_SLACK = timedelta(minutes=1)
LOCK_TIMEOUT = 600.0


@dataclass
class InstancePlan:
    """What retention decides for one instance at one instant."""

    instance_id: int
    vault_id: int
    keep: dict[int, list[str]]
    expire: list[int]
    expires_at: dict[int, datetime | None]


@dataclass
class RetentionRun:
    """Counts of one enforcement run."""

    instances: int = 0
    kept: int = 0
    deleted: int = 0
    soft_deleted: int = 0
    failed_vaults: list[int] = field(default_factory=list)


def as_point(row: dict) -> Point:
    """A recovery point row (values) as the calculator sees it."""
    retain = None
    if row["on_demand"]:
        retain = row["retain_until"] or row["created"] + ON_DEMAND_DEFAULT
    return Point(row["id"], row["created"], retain)


def _expiry(point: Point, reasons: list[str], rules: RetentionRules, now: datetime) -> datetime | None:
    gfs = [r for r in reasons if r not in (REASON_INSTANT_RESTORE, REASON_ON_DEMAND, REASON_NEWEST)]
    if gfs or point.on_demand_retain_until is not None:
        return expiry_for(point, rules, now)
    if REASON_INSTANT_RESTORE in reasons:
        return point.created + timedelta(days=rules.instant_restore_days)
    return None  # kept only because it is the newest point: no date while it stays the newest


def plan_instances(instance_ids: list[int], now: datetime) -> list[InstancePlan]:
    """Retention decisions for the given instances (one query for their points, one for their policies)."""
    instances = {
        i.pk: i for i in BackupInstance.objects.filter(pk__in=instance_ids).only("pk", "vault_id", "policy_id")
    }
    rules_by_policy = {
        p.pk: p.retention_rules() for p in BackupPolicy.objects.filter(pk__in={i.policy_id for i in instances.values()})
    }
    rows: dict[int, list[dict]] = defaultdict(list)
    for row in RecoveryPoint.objects.filter(instance_id__in=instances, state=PointState.AVAILABLE).values(
        "id", "instance_id", "created", "on_demand", "retain_until"
    ):
        rows[row["instance_id"]].append(row)
    plans = []
    for instance_id, point_rows in rows.items():
        instance = instances[instance_id]
        rules = rules_by_policy[instance.policy_id]
        points = {row["id"]: as_point(row) for row in point_rows}
        decision = select(points.values(), rules, now)
        expires = {pk: _expiry(points[pk], reasons, rules, now) for pk, reasons in decision.keep.items()}
        plans.append(InstancePlan(instance_id, instance.vault_id, decision.keep, decision.expire, expires))
    return plans


def _store_expiries(plans: list[InstancePlan]) -> None:
    current = {
        row["id"]: row["expires_at"]
        for row in RecoveryPoint.objects.filter(pk__in=[pk for p in plans for pk in p.expires_at]).values(
            "id", "expires_at"
        )
    }
    changed = [
        RecoveryPoint(pk=pk, expires_at=value)
        for plan in plans
        for pk, value in plan.expires_at.items()
        if current.get(pk) != value
    ]
    RecoveryPoint.objects.bulk_update(changed, ["expires_at"], batch_size=500)


def _split_early(plans: list[InstancePlan], now: datetime) -> tuple[dict[int, list[int]], dict[int, list[int]]]:
    """Expired points by vault: (due now → forget, dropped early → soft delete where the vault has soft delete)."""
    expire_ids = [pk for plan in plans for pk in plan.expire]
    points = RecoveryPoint.objects.filter(pk__in=expire_ids).values("id", "vault_id", "expires_at")
    soft_vaults = set(
        Vault.objects.filter(pk__in={p.vault_id for p in plans})
        .exclude(soft_delete_state=SoftDeleteState.DISABLED)
        .values_list("pk", flat=True)
    )
    due: dict[int, list[int]] = defaultdict(list)
    early: dict[int, list[int]] = defaultdict(list)
    for row in points:
        is_early = row["expires_at"] is not None and row["expires_at"] > now + EARLY_SLACK
        (early if is_early and row["vault_id"] in soft_vaults else due)[row["vault_id"]].append(row["id"])
    return due, early


def _soft_delete(actor, vault_points: dict[int, list[int]], now: datetime) -> int:
    count = 0
    for vault in Vault.objects.filter(pk__in=vault_points):
        purge_after = now + timedelta(days=vault.soft_delete_days)
        updated = RecoveryPoint.objects.filter(pk__in=vault_points[vault.pk], state=PointState.AVAILABLE).update(
            state=PointState.SOFT_DELETED, purge_after=purge_after
        )
        if updated:
            count += updated
            change_record_write(
                actor=actor,
                action="retention_soft_deleted",
                obj=vault,
                message=f"{updated} recovery point(s) no longer kept by the shortened retention were soft deleted; "
                f"they are purged after {purge_after:%Y-%m-%d %H:%M} UTC unless retention is raised again.",
            )
    return count


@transaction.atomic
def policy_apply_retention(*, policy: BackupPolicy, actor, now: datetime | None = None) -> None:
    """Apply a policy's (new) rules to its instances' existing points at once, without touching restic:
    recompute expiry dates and soft delete what the rules dropped early. The retention task does the rest."""
    now = now or timezone.now()
    ids = list(policy.instances.filter(protection_state__in=ENFORCED_STATES).values_list("pk", flat=True))
    plans = plan_instances(ids, now)
    _, early = _split_early(plans, now)
    _soft_delete(actor, early, now)
    _store_expiries(plans)


def _forget(actor, vault: Vault, point_ids: list[int]) -> int:
    """Forget the points' snapshots and prune, holding the repository's maintenance lock; mark them deleted."""
    from vaults.engine import repository_lock
    from vaults.services import repository_for

    storage = vault.primary
    job = job_create(
        actor=actor,
        operation=Operation.RETENTION,
        scope=vault,
        subject=f"vault {vault.name}",
        status=JobStatus.IN_PROGRESS,
        message="Removing expired recovery points.",
    )
    try:
        with repository_lock(storage.url, timeout=LOCK_TIMEOUT):
            # Re-read under the lock: another run may have removed some already.
            rows = list(
                RecoveryPoint.objects.filter(pk__in=point_ids, state=PointState.AVAILABLE).values_list(
                    "pk", "snapshot_id"
                )
            )
            if not rows:
                job_finish(job, status=JobStatus.COMPLETED, message="Nothing left to remove.")
                return 0
            repo = repository_for(storage)
            repo.forget([snapshot_id for _, snapshot_id in rows])
            # The snapshots are gone from restic now: the rows follow before prune (invariant: row ⇔ snapshot).
            RecoveryPoint.objects.filter(pk__in=[pk for pk, _ in rows]).update(state=PointState.DELETED)
            change_record_write(
                actor=actor,
                action="retention_expired",
                obj=vault,
                message=f"{len(rows)} expired recovery point(s) removed: "
                + ", ".join(s[:12] for _, s in rows[:50])
                + (" …" if len(rows) > 50 else ""),
            )
            repo.prune()
    except Exception as error:
        logger.warning("retention of vault %s failed: %s", vault.pk, getattr(error, "code", type(error).__name__))
        job_finish(
            job,
            status=JobStatus.FAILED,
            error_code=getattr(error, "code", "") or "retention_failed",
            message=getattr(error, "message", "")
            or "Removing expired recovery points failed; the next hourly run tries again.",
        )
        raise
    job_finish(job, status=JobStatus.COMPLETED, message=f"Removed {len(rows)} expired recovery point(s).")
    return len(rows)


def enforce_retention(
    *, now: datetime | None = None, policy_id: int | None = None, instance_ids: list[int] | None = None
) -> RetentionRun:
    """Run retention for every actively protected instance (or one policy's, or the given ones)."""
    now = now or timezone.now()
    actor = SystemActor("retention")
    instances = BackupInstance.objects.filter(protection_state__in=ENFORCED_STATES)
    if policy_id is not None:
        instances = instances.filter(policy_id=policy_id)
    if instance_ids is not None:
        instances = instances.filter(pk__in=instance_ids)
    run = RetentionRun()
    ids = list(instances.values_list("pk", flat=True))
    run.instances = len(ids)
    plans = plan_instances(ids, now)
    run.kept = sum(len(p.keep) for p in plans)
    with transaction.atomic():
        due, early = _split_early(plans, now)
        run.soft_deleted = _soft_delete(actor, early, now)
        _store_expiries(plans)
    for vault in Vault.objects.filter(pk__in=due):
        try:
            run.deleted += _forget(actor, vault, due[vault.pk])
        except Exception:
            run.failed_vaults.append(vault.pk)
    return run
