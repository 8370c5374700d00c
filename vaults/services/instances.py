"""Backup instances: configure backup, back up now, stop or resume protection, change policy."""

import uuid
from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from core.exceptions import DomainError
from core.permissions import ensure_permission
from core.roles import Action
from core.services import change_record_write, snapshot
from inventory.choices import SUPPORTED_KINDS
from inventory.models import Datasource
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
    Vault,
)
from vaults.security import (
    ensure_authorized,
    ensure_mutable,
    purge_after,
    security_event,
    soft_delete_active,
)
from vaults.services.soft_delete import _purge_soon

# Backup instances --------------------------------------------------------------------------------


def _validate_selection(kind: str, selection: Any) -> dict:
    if selection in (None, ""):
        return {}
    if not isinstance(selection, dict):
        raise ValidationError({"selection": ["The selection must be an object."]})
    if kind == "files":
        excludes = selection.get("excludes", [])
        if not isinstance(excludes, list) or not all(isinstance(x, str) and x for x in excludes):
            raise ValidationError({"selection": ["excludes must be a list of patterns."]})
        return {"excludes": excludes}
    return {}


@transaction.atomic
def instance_create(*, actor, datasource: Datasource, vault: Vault, policy=None, selection: dict | None = None):
    """Configure backup: protect a datasource in a vault under a policy (the vault's daily policy by default)."""
    from policies.services import policy_get_or_create_default

    ensure_permission(actor, Action.CHANGE, scope=vault)
    ensure_permission(actor, Action.VIEW, scope=datasource)
    existing = BackupInstance.objects.filter(datasource=datasource).select_related("vault").first()
    if existing is not None:
        raise ValidationError({"datasource": [f"{datasource} is already protected in vault {existing.vault}."]})
    errors: dict[str, list[str]] = {}
    if datasource.kind not in SUPPORTED_KINDS:
        errors["datasource"] = [f"{datasource.get_kind_display()} datasources cannot be backed up yet."]
    if not datasource.exists:
        errors["datasource"] = ["This datasource was not found by its last discovery."]
    if datasource.location_id != vault.location_id:
        errors["vault"] = [f"The vault must be in the datasource's location ({datasource.location})."]
    if datasource.tenant_id != vault.tenant_id:
        errors["vault"] = ["The vault must belong to the datasource's tenant."]
    if policy is not None and (policy.vault_id != vault.pk or policy.datasource_kind != datasource.kind):
        errors["policy"] = [f"Choose a {datasource.get_kind_display()} policy of vault {vault}."]
    if errors:
        raise ValidationError(errors)
    selection = _validate_selection(datasource.kind, selection)
    if policy is None:
        policy = policy_get_or_create_default(actor=actor, vault=vault, datasource_kind=datasource.kind)
    instance = BackupInstance(datasource=datasource, vault=vault, policy=policy, selection=selection)
    instance.save()
    if not vault.redundancy_locked:
        Vault.objects.filter(pk=vault.pk).update(redundancy_locked=True)
    job_create(
        actor=actor,
        operation=Operation.CONFIGURE_BACKUP,
        scope=instance,
        instance=instance,
        datasource=datasource,
        datasource_kind=datasource.kind,
        subject=datasource.name,
        status=JobStatus.COMPLETED,
        message=f"Protected with policy {policy}.",
        percent=100,
    )
    change_record_write(actor=actor, action="configure_backup", obj=instance, after=snapshot(instance))
    return instance


def instance_backup_now(
    *, actor, instance: BackupInstance, retain_until: datetime | None = None, on_demand: bool = True
) -> Job:
    """Queue a backup of one instance. Refused while another backup of it is queued or running."""
    from vaults.tasks import run_backup

    ensure_permission(actor, Action.OPERATE, scope=instance)
    instance = BackupInstance.objects.select_related("datasource", "vault").get(pk=instance.pk)
    if instance.protection_state not in (ProtectionState.PROTECTED, ProtectionState.PROTECTION_ERROR):
        raise DomainError(
            f"Protection of {instance.datasource} is {instance.get_protection_state_display().lower()}; "
            "resume protection first.",
            code="not_protected",
        )
    if retain_until is not None and retain_until <= timezone.now():
        raise ValidationError({"retain_until": ["Choose a date in the future."]})
    task_id = uuid.uuid4().hex
    try:
        with transaction.atomic():
            job = job_create(
                actor=actor,
                operation=Operation.BACKUP,
                scope=instance,
                instance=instance,
                datasource=instance.datasource,
                datasource_kind=instance.datasource.kind,
                subject=instance.datasource.name,
                queue=instance.datasource.queue,
                celery_task_id=task_id,
                params={"on_demand": on_demand, "retain_until": retain_until.isoformat() if retain_until else None},
            )
    except IntegrityError:
        running = Job.objects.filter(
            instance=instance, operation=Operation.BACKUP, status__in=[JobStatus.QUEUED, JobStatus.IN_PROGRESS]
        ).first()
        raise DomainError(
            f"A backup of {instance.datasource} is already queued or running"
            f"{f' (job #{running.pk})' if running else ''}.",
            code="backup_in_progress",
        ) from None
    change_record_write(actor=actor, action="backup", obj=instance, message=f"job #{job.pk}")
    transaction.on_commit(lambda: run_backup.apply_async((job.pk,), queue=job.queue, task_id=task_id))
    return job


@transaction.atomic
def instance_stop_protection(*, actor, instance: BackupInstance, delete_data: bool = False) -> BackupInstance:
    """Stop scheduled backups. Retain data keeps every recovery point; delete data soft-deletes them
    (restic is untouched until the purge after the vault's soft delete window), or removes them at once
    when the vault has soft delete disabled."""
    ensure_permission(actor, Action.DELETE if delete_data else Action.CHANGE, scope=instance)
    instance = BackupInstance.objects.select_for_update().select_related("vault", "datasource").get(pk=instance.pk)
    vault = instance.vault
    if instance.protection_state == ProtectionState.SOFT_DELETED:
        raise DomainError("This instance is soft deleted; undelete it first.", code="soft_deleted")
    if not delete_data and instance.protection_state == ProtectionState.STOPPED_RETAIN_DATA:
        raise DomainError("Protection is already stopped.", code="already_stopped")
    if delete_data:
        ensure_mutable(vault, "stopping protection with delete data")
        ensure_authorized(actor=actor, vault=vault, operation=ProtectedOperation.STOP_PROTECTION_DELETE_DATA)
    else:
        ensure_authorized(actor=actor, vault=vault, operation=ProtectedOperation.STOP_PROTECTION_RETAIN_DATA)
    before = snapshot(instance)
    points = instance.recovery_points.filter(state=PointState.AVAILABLE)
    if delete_data:
        count = points.count()
        when = purge_after(vault) if soft_delete_active(vault) else timezone.now()
        points.update(state=PointState.SOFT_DELETED, purge_after=when)
        instance.protection_state = ProtectionState.SOFT_DELETED
        if soft_delete_active(vault):
            message = (
                f"{count} recovery point(s) soft deleted; purged after {when:%Y-%m-%d %H:%M} UTC unless undeleted."
            )
        else:
            message = f"{count} recovery point(s) deleted (soft delete is disabled)."
    else:
        instance.protection_state = ProtectionState.STOPPED_RETAIN_DATA
        message = "Data retained."
    instance.save(update_fields=["protection_state"])
    job_create(
        actor=actor,
        operation=Operation.DELETE_BACKUP_DATA if delete_data else Operation.STOP_PROTECTION,
        scope=instance,
        instance=instance,
        datasource=instance.datasource,
        datasource_kind=instance.datasource.kind,
        subject=instance.datasource.name,
        status=JobStatus.COMPLETED,
        message=message,
        percent=100,
    )
    change_record_write(
        actor=actor,
        action="stop_protection_delete_data" if delete_data else "stop_protection",
        obj=instance,
        before=before,
        after=snapshot(instance),
        message=message,
    )
    if delete_data:
        security_event(
            actor=actor,
            kind="backup_data_deleted",
            vault=vault,
            message=f"Backup data of {instance.datasource} was deleted by {actor}. {message}",
        )
        if not soft_delete_active(vault):
            _purge_soon(vault)
    return instance


@transaction.atomic
def instance_change_policy(*, actor, instance: BackupInstance, policy) -> BackupInstance:
    """Move an instance to another policy of its vault. A weaker policy (keeps less, or backs up less often)
    is refused by an immutable vault when it keeps less, and needs approved access on a guarded vault; a move
    that keeps less raises the Sev0 security alert "protection_retention_shortened"."""
    from policies.enforcement import policy_apply_retention
    from policies.services import ensure_not_weaker, retention_cuts

    ensure_permission(actor, Action.CHANGE, scope=instance)
    instance = (
        BackupInstance.objects.select_for_update().select_related("policy", "vault", "datasource").get(pk=instance.pk)
    )
    if policy.vault_id != instance.vault_id or policy.datasource_kind != instance.datasource.kind:
        raise ValidationError(
            {"policy": [f"Choose a {instance.datasource.get_kind_display()} policy of vault {instance.vault}."]}
        )
    if policy.pk == instance.policy_id:
        raise ValidationError({"policy": ["The instance already uses this policy."]})
    old = instance.policy
    cuts = retention_cuts(old.retention_rules(), policy.retention_rules())
    ensure_not_weaker(
        actor=actor,
        vault=instance.vault,
        cuts=cuts,
        old_schedule=old.schedule_obj(),
        new_schedule=policy.schedule_obj(),
        operation=ProtectedOperation.MOVE_TO_WEAKER_POLICY,
    )
    before = snapshot(instance)
    instance.policy = policy
    instance.save(update_fields=["policy"])
    change_record_write(
        actor=actor,
        action="change_policy",
        obj=instance,
        before=before,
        after=snapshot(instance),
        message=f"{old} → {policy}" + (f"; keeps less: {'; '.join(cuts)}" if cuts else ""),
    )
    if cuts:
        from monitoring.events import security_event

        security_event(
            kind="protection_retention_shortened",
            vault=instance.vault,
            resource=instance,
            message=f"{instance.datasource} was moved by {actor} from policy {old} to {policy}, which keeps less: "
            + "; ".join(cuts)
            + ".",
        )
    policy_apply_retention(policy=policy, actor=actor)
    return instance


@transaction.atomic
def instance_resume_protection(*, actor, instance: BackupInstance) -> BackupInstance:
    """Resume scheduled backups of a stopped instance."""
    ensure_permission(actor, Action.CHANGE, scope=instance)
    if instance.protection_state != ProtectionState.STOPPED_RETAIN_DATA:
        raise DomainError("Only an instance whose protection is stopped can be resumed.", code="not_stopped")
    before = snapshot(instance)
    instance.protection_state = ProtectionState.PROTECTED
    instance.save(update_fields=["protection_state"])
    change_record_write(actor=actor, action="resume_protection", obj=instance, before=before, after=snapshot(instance))
    return instance
