"""Deleting backup data: soft delete, undelete, the upcoming-purge warning and the purge itself."""

from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from core.exceptions import DomainError
from core.permissions import ensure_permission
from core.roles import Action
from core.services import change_record_write, snapshot
from monitoring.choices import JobStatus, Operation
from monitoring.models import Job
from monitoring.services import job_create
from vaults.choices import (
    PointState,
    ProtectedOperation,
    ProtectionState,
)
from vaults.models import (
    BackupInstance,
    RecoveryPoint,
    Vault,
)
from vaults.security import (
    ensure_authorized,
    ensure_mutable,
    purge_after,
    security_event,
    soft_delete_active,
)
from vaults.services.keys import repository_for


@transaction.atomic
def recovery_point_delete(*, actor, point: RecoveryPoint) -> RecoveryPoint:
    """Delete one recovery point: soft deleted (purged after the window), or at once without soft delete.
    Immutable vaults refuse it before the point's expiry."""
    ensure_permission(actor, Action.DELETE, scope=point)
    point = RecoveryPoint.objects.select_for_update().select_related("vault", "instance__datasource").get(pk=point.pk)
    vault = point.vault
    if point.state != PointState.AVAILABLE:
        raise DomainError("This recovery point is already deleted.", code="point_unavailable")
    if point.expires_at is None or point.expires_at > timezone.now():
        ensure_mutable(vault, "deleting a recovery point before it expires")
    ensure_authorized(actor=actor, vault=vault, operation=ProtectedOperation.DELETE_RECOVERY_POINT)
    before = snapshot(point)
    point.state = PointState.SOFT_DELETED
    point.purge_after = purge_after(vault) if soft_delete_active(vault) else timezone.now()
    point.save(update_fields=["state", "purge_after"])
    change_record_write(actor=actor, action="delete_recovery_point", obj=point, before=before, after=snapshot(point))
    security_event(
        actor=actor,
        kind="backup_data_deleted",
        vault=vault,
        message=f"Recovery point {point} of {point.instance.datasource} was deleted by {actor}.",
    )
    if not soft_delete_active(vault):
        _purge_soon(vault)
    return point


@transaction.atomic
def instance_undelete(*, actor, instance: BackupInstance) -> BackupInstance:
    """Bring a soft-deleted instance back as "stopped, data retained" with all its points available."""
    ensure_permission(actor, Action.CHANGE, scope=instance)
    instance = BackupInstance.objects.select_for_update().select_related("datasource").get(pk=instance.pk)
    if instance.protection_state != ProtectionState.SOFT_DELETED:
        raise DomainError("Only a soft-deleted instance can be undeleted.", code="not_soft_deleted")
    before = snapshot(instance)
    restored = instance.recovery_points.filter(state=PointState.SOFT_DELETED, purge_after__gt=timezone.now())
    count = restored.update(state=PointState.AVAILABLE, purge_after=None, purge_warned=False)
    instance.protection_state = ProtectionState.STOPPED_RETAIN_DATA
    instance.save(update_fields=["protection_state"])
    job_create(
        actor=actor,
        operation=Operation.UNDELETE,
        scope=instance,
        instance=instance,
        datasource=instance.datasource,
        datasource_kind=instance.datasource.kind,
        subject=instance.datasource.name,
        status=JobStatus.COMPLETED,
        percent=100,
        message=f"{count} recovery point(s) are available again; protection is stopped until resumed.",
    )
    change_record_write(actor=actor, action="undelete", obj=instance, before=before, after=snapshot(instance))
    return instance


@transaction.atomic
def recovery_point_undelete(*, actor, point: RecoveryPoint) -> RecoveryPoint:
    """Bring back one soft-deleted recovery point of an instance that is not itself soft deleted."""
    ensure_permission(actor, Action.CHANGE, scope=point)
    if point.state != PointState.SOFT_DELETED or (point.purge_after and point.purge_after <= timezone.now()):
        raise DomainError(
            "Only a soft-deleted point whose purge has not started can be undeleted.", code="not_soft_deleted"
        )
    if point.instance.protection_state == ProtectionState.SOFT_DELETED:
        raise DomainError("Undelete the backup instance instead.", code="instance_soft_deleted")
    before = snapshot(point)
    RecoveryPoint.objects.filter(pk=point.pk).update(state=PointState.AVAILABLE, purge_after=None, purge_warned=False)
    point.refresh_from_db()
    change_record_write(actor=actor, action="undelete", obj=point, before=before, after=snapshot(point))
    return point


# Purge -------------------------------------------------------------------------------------------


def purge_due_points(vault: Vault, *, now: datetime | None = None) -> int:
    """Remove from restic every soft-deleted point of `vault` whose window has ended, then its row.

    Serialised per repository with the maintenance lock; `forget` by snapshot id, then `prune`. An
    instance left soft deleted with no points is removed so its datasource can be protected again.
    """
    from core.permissions import SystemActor
    from vaults.engine import repository_lock

    now = now or timezone.now()
    due = list(RecoveryPoint.objects.filter(vault=vault, state=PointState.SOFT_DELETED, purge_after__lte=now))
    if not due:
        return 0
    storage = vault.primary
    repo = repository_for(storage)
    with repository_lock(f"storage-{storage.pk}", timeout=600):
        existing = {snap.id for snap in repo.snapshots()}
        ids = [p.snapshot_id for p in due if p.snapshot_id in existing]
        if ids:
            repo.forget(ids)
            repo.prune()
    actor = SystemActor("purge")
    instance_ids = {p.instance_id for p in due}
    with transaction.atomic():
        Job.objects.filter(recovery_point__in=due).update(recovery_point=None)
        RecoveryPoint.objects.filter(pk__in=[p.pk for p in due]).delete()
        gone = BackupInstance.objects.filter(pk__in=instance_ids, protection_state=ProtectionState.SOFT_DELETED)
        for instance in gone.select_related("datasource", "vault"):
            if not instance.recovery_points.exists():
                change_record_write(actor=actor, action="purged", obj=instance)
                Job.objects.filter(instance=instance).update(instance=None)
                instance.delete()
    security_event(
        actor=actor,
        kind="purge_complete",
        vault=vault,
        message=f"{len(due)} soft-deleted recovery point(s) were permanently removed from vault {vault}.",
    )
    return len(due)


def warn_upcoming_purges(*, now: datetime | None = None, ahead: timedelta = timedelta(days=2)) -> int:
    """Raise one "upcoming purge" security event per vault for points purged within two days."""
    from core.permissions import SystemActor

    now = now or timezone.now()
    soon = RecoveryPoint.objects.filter(
        state=PointState.SOFT_DELETED, purge_warned=False, purge_after__lte=now + ahead, purge_after__gt=now
    )
    warned = 0
    for vault in Vault.objects.filter(pk__in=soon.values("vault_id")):
        points = soon.filter(vault=vault)
        first = min(p.purge_after for p in points)
        count = points.update(purge_warned=True)
        warned += count
        security_event(
            actor=SystemActor("purge"),
            kind="upcoming_purge",
            vault=vault,
            message=f"{count} soft-deleted recovery point(s) in vault {vault} will be permanently removed from "
            f"{first:%Y-%m-%d %H:%M} UTC. Undelete them before then to keep them.",
        )
    return warned


def _purge_soon(vault: Vault) -> None:
    from vaults.tasks import purge_vault

    transaction.on_commit(lambda: purge_vault.delay(vault.pk))
