"""Restores: validate the target against the restore folders, then queue the restore job."""

import uuid
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction

from core.exceptions import DomainError
from core.permissions import ensure_permission
from core.roles import Action
from core.services import change_record_write
from inventory.models import Datasource
from monitoring.choices import Operation
from monitoring.models import Job
from monitoring.services import job_create
from vaults.choices import (
    ProtectedOperation,
    ProtectionState,
)
from vaults.models import (
    BackupInstance,
    RecoveryPoint,
)
from vaults.security import (
    ensure_authorized,
)

# Restores ----------------------------------------------------------------------------------------

RESTORE_TARGET_KEYS = {
    "files": {"location", "path", "include", "conflict"},
    "postgresql": {"mode", "dbname", "path", "confirm_overwrite", "overwrite"},
    "sqlite": {"path", "overwrite"},
}


def restore_roots() -> list[Path]:
    return [Path(p).resolve() for p in settings.BACKUPCENTER_RESTORE_ROOTS]


def _inside_restore_roots(path: str) -> bool:
    resolved = Path(path).resolve()
    return any(resolved == root or root in resolved.parents for root in restore_roots())


def _validate_target(datasource: Datasource, target: Any) -> dict:
    """Shape and place of a restore target; the datasource module checks the rest when it runs."""
    kind = datasource.kind
    if not isinstance(target, dict):
        raise ValidationError({"target": ["The restore target must be an object."]})
    unknown = set(target) - RESTORE_TARGET_KEYS[kind]
    if unknown:
        raise ValidationError({"target": [f"Unknown target fields: {', '.join(sorted(unknown))}."]})
    target = {k: v for k, v in target.items() if v not in (None, "")}
    path = target.get("path")
    if path is not None and (not isinstance(path, str) or not path.startswith("/") or ".." in path.split("/")):
        raise ValidationError({"path": ["Give an absolute folder path without '..'."]})
    alternate = (
        (kind == "files" and target.get("location") == "alternate")
        or (kind == "postgresql" and target.get("mode") == "files")
        or (kind == "sqlite" and path is not None and path != datasource.connection.get("path"))
    )
    if alternate:
        if not path:
            raise ValidationError({"path": ["Choose the folder to restore into."]})
        if not _inside_restore_roots(path):
            allowed = ", ".join(str(r) for r in restore_roots())
            raise ValidationError({"path": [f"Restores may only write inside the restore folders: {allowed}."]})
    if kind == "postgresql" and target.get("mode") == "original" and target.get("confirm_overwrite") is not True:
        raise ValidationError({"confirm_overwrite": ["Confirm that the original database will be overwritten."]})
    return target


def instance_restore(*, actor, instance: BackupInstance, recovery_point: RecoveryPoint, target: dict) -> Job:
    """Queue a restore of one recovery point to a target (kind-specific: original or alternate location,
    chosen items, a new database, or the dump as a file)."""
    from vaults.tasks import run_restore

    ensure_permission(actor, Action.OPERATE, scope=instance)
    if instance.protection_state == ProtectionState.SOFT_DELETED:
        raise DomainError("This instance is soft deleted; undelete it before restoring.", code="soft_deleted")
    if recovery_point.instance_id != instance.pk:
        raise ValidationError({"recovery_point": ["This recovery point belongs to another backup instance."]})
    if recovery_point.state != "available":
        raise DomainError("This recovery point is not available; undelete it first.", code="point_unavailable")
    target = _validate_target(instance.datasource, target)
    ensure_authorized(actor=actor, vault=instance.vault, operation=ProtectedOperation.RESTORE)
    task_id = uuid.uuid4().hex
    with transaction.atomic():
        job = job_create(
            actor=actor,
            operation=Operation.RESTORE,
            scope=instance,
            instance=instance,
            datasource=instance.datasource,
            datasource_kind=instance.datasource.kind,
            recovery_point=recovery_point,
            subject=instance.datasource.name,
            queue=instance.datasource.queue,
            celery_task_id=task_id,
            params={"target": target},
        )
        change_record_write(
            actor=actor,
            action="restore",
            obj=instance,
            message=f"job #{job.pk} from {recovery_point.snapshot_id[:12]} to {target}",
        )
    transaction.on_commit(lambda: run_restore.apply_async((job.pk,), queue=job.queue, task_id=task_id))
    return job
