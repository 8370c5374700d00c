"""Every write to vaults and what they hold: vaults, keys, backup instances, backups and restores.

Rules live here once; pages, the API, the admin and tasks all call these functions.
"""

import json
import secrets as pysecrets
import uuid
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from core import secrets
from core.exceptions import DomainError
from core.permissions import ensure_permission
from core.roles import Action
from core.services import change_record_write, snapshot
from inventory.choices import SUPPORTED_KINDS
from inventory.models import Datasource, Location, ResourceGroup
from monitoring.choices import JobStatus, Operation
from monitoring.models import Job
from monitoring.services import job_create
from policies.governance.services import enforce_deny
from vaults.choices import (
    MANDATORY_OPERATIONS,
    AccessRequestStatus,
    Encryption,
    Immutability,
    PointState,
    ProtectedOperation,
    ProtectionState,
    Redundancy,
    SoftDeleteState,
    StorageRole,
)
from vaults.models import (
    AccessRequest,
    BackupInstance,
    EncryptionKey,
    RecoveryPoint,
    ResourceGuard,
    StorageLocation,
    Vault,
)
from vaults.security import (
    MAX_REQUEST_HOURS,
    ensure_authorized,
    ensure_mutable,
    purge_after,
    security_event,
    soft_delete_active,
)

SOFT_DELETE_DAYS = (14, 180)


# Keys --------------------------------------------------------------------------------------------


@transaction.atomic
def key_create(*, actor, resource_group: ResourceGroup, name: str) -> EncryptionKey:
    """A new customer-managed key; its first version is created in the keyring."""
    ensure_permission(actor, Action.CHANGE, scope=resource_group)
    key = EncryptionKey(
        resource_group=resource_group,
        tenant_id=resource_group.tenant_id,
        subscription_id=resource_group.subscription_id,
        name=name,
    )
    key.full_clean(exclude=["tenant", "subscription"])
    key.save()
    secrets.create_key(key.keyring_id(1))
    change_record_write(actor=actor, action="create", obj=key, after=snapshot(key))
    return key


def key_set_enabled(*, actor, key: EncryptionKey, enabled: bool) -> EncryptionKey:
    """Disable or enable a key: while disabled, backups and restores of vaults using it fail clearly."""
    ensure_permission(actor, Action.CHANGE, scope=key)
    before = snapshot(key)
    for version in range(1, key.current_version + 1):
        if secrets.key_exists(key.keyring_id(version)):
            secrets.set_key_enabled(key.keyring_id(version), enabled)
    key.enabled = enabled
    key.save(update_fields=["enabled"])
    change_record_write(
        actor=actor, action="enable" if enabled else "disable", obj=key, before=before, after=snapshot(key)
    )
    return key


def key_rotate(*, actor, key: EncryptionKey) -> Job:
    """Create the key's next version and re-wrap every repository password sealed with the old one."""
    ensure_permission(actor, Action.CHANGE, scope=key)
    if not key.enabled:
        raise DomainError("Enable the key before rotating it.", code="key_disabled")
    from monitoring.services import job_finish

    before = snapshot(key)
    new_version = key.current_version + 1
    job = job_create(
        actor=actor, operation=Operation.ROTATE_KEY, scope=key, subject=f"key {key.name}", status=JobStatus.IN_PROGRESS
    )
    rewrapped = 0
    try:
        secrets.create_key(key.keyring_id(new_version))
        with transaction.atomic():
            for storage in StorageLocation.objects.select_for_update().filter(vault__encryption_key=key):
                password = secrets.unseal(storage.sealed_password)
                storage.sealed_password = secrets.seal(password, key.keyring_id(new_version))
                if storage.sealed_env:
                    storage.sealed_env = secrets.seal(secrets.unseal(storage.sealed_env), key.keyring_id(new_version))
                storage.save(update_fields=["sealed_password", "sealed_env"])
                rewrapped += 1
            key.current_version = new_version
            key.rotated = timezone.now()
            key.save(update_fields=["current_version", "rotated"])
            change_record_write(actor=actor, action="rotate", obj=key, before=before, after=snapshot(key))
    except secrets.KeyUnavailable as error:
        # The re-wrap is all or nothing: the database still names the old version, which stays in the keyring.
        job_finish(job, status=JobStatus.FAILED, error_code=error.code, message=error.message)
        raise DomainError(error.message, code=error.code) from None
    return job_finish(
        job,
        status=JobStatus.COMPLETED,
        message=f"Key {key.name} is at version {new_version}; re-wrapped {rewrapped} repository passwords.",
    )


def _seal_key_id(vault: Vault) -> str:
    if vault.encryption == Encryption.CUSTOMER_MANAGED:
        return vault.encryption_key.keyring_id()
    return secrets.PLATFORM_KEY_ID


# Repositories ------------------------------------------------------------------------------------


def repository_for(storage: StorageLocation):
    """The restic repository of a storage location, with its password unsealed (raises KeyUnavailable)."""
    from vaults.engine import ResticRepository

    password = secrets.unseal(storage.sealed_password)
    env = json.loads(secrets.unseal(storage.sealed_env)) if storage.sealed_env else None
    cache = Path(settings.VAR_DIR) / "restic-cache"
    return ResticRepository(storage.url, password, env=env, cache_dir=str(cache))


# Vaults ------------------------------------------------------------------------------------------


def _validate_vault_settings(vault: Vault) -> None:
    errors: dict[str, list[str]] = {}
    low, high = SOFT_DELETE_DAYS
    if not low <= vault.soft_delete_days <= high:
        errors["soft_delete_days"] = [f"Soft delete keeps data between {low} and {high} days."]
    if vault.cross_region_restore and vault.redundancy != Redundancy.GRS:
        errors["cross_region_restore"] = ["Cross-region restore needs geo-redundant (GRS) storage."]
    if vault.redundancy == Redundancy.GRS and vault.location.paired_region_id is None:
        errors["redundancy"] = [f"{vault.location} has no paired region, so GRS is not available there."]
    if vault.encryption == Encryption.CUSTOMER_MANAGED:
        if vault.encryption_key_id is None:
            errors["encryption_key"] = ["Choose the customer-managed key."]
        elif vault.encryption_key.tenant_id != vault.tenant_id:
            errors["encryption_key"] = ["The key must belong to the vault's tenant."]
        elif not vault.encryption_key.enabled:
            errors["encryption_key"] = ["This key is disabled."]
    elif vault.encryption_key_id is not None:
        errors["encryption_key"] = ["A key is chosen only with customer-managed encryption."]
    if errors:
        raise ValidationError(errors)


REMOTE_BACKENDS = ("s3:", "sftp:", "rest:", "azure:", "gs:", "b2:", "swift:", "rclone:")


def _storage_url(url: str, resource_group: ResourceGroup) -> str:
    """A new repository's location: a remote restic backend, or a new folder under the vault root.

    Local paths outside the vault root are refused so a contributor cannot point a vault at another
    tenant's repository or any folder the worker can write.
    """
    url = url.strip()
    root = Path(settings.BACKUPCENTER_VAULT_ROOT).resolve()
    if not url:
        return str(root / f"{resource_group.tenant.name}-{uuid.uuid4().hex}")
    if url.startswith(REMOTE_BACKENDS):
        taken = StorageLocation.objects.filter(url=url).exists()
    else:
        path = Path(url)
        if not path.is_absolute() or ".." in path.parts:
            raise ValidationError({"storage_url": ["Give an absolute folder path or a restic backend URL."]})
        resolved = path.resolve()
        if root not in resolved.parents:
            raise ValidationError({"storage_url": [f"Local repositories must be new folders inside {root}."]})
        if resolved.exists():
            raise ValidationError({"storage_url": ["That folder already exists; choose a new one."]})
        url = str(resolved)
        taken = any(
            Path(other) == resolved or Path(other) in resolved.parents or resolved in Path(other).parents
            for other in StorageLocation.objects.exclude(url__startswith=REMOTE_BACKENDS).values_list("url", flat=True)
        )
    if taken:
        raise ValidationError({"storage_url": ["Another vault already uses this location."]})
    return url


def vault_create(
    *,
    actor,
    resource_group: ResourceGroup,
    location: Location,
    name: str,
    redundancy: str = Redundancy.LRS,
    cross_region_restore: bool = False,
    soft_delete_state: str = SoftDeleteState.ENABLED,
    soft_delete_days: int = 14,
    immutability: str = Immutability.DISABLED,
    encryption: str = Encryption.PLATFORM,
    encryption_key: EncryptionKey | None = None,
    storage_url: str = "",
    storage_env: dict | None = None,
) -> Vault:
    """Create a vault and initialise its restic repository; if the repository cannot be made, nothing is kept."""
    from vaults.engine import EngineError

    ensure_permission(actor, Action.CHANGE, scope=resource_group)
    if encryption_key is not None:
        ensure_permission(actor, Action.VIEW, scope=encryption_key)
    vault = Vault(
        resource_group=resource_group,
        tenant_id=resource_group.tenant_id,
        subscription_id=resource_group.subscription_id,
        location=location,
        name=name,
        redundancy=redundancy,
        cross_region_restore=cross_region_restore,
        soft_delete_state=soft_delete_state,
        soft_delete_days=soft_delete_days,
        immutability=immutability,
        encryption=encryption,
        encryption_key=encryption_key,
    )
    vault.full_clean(exclude=["tenant", "subscription"])
    _validate_vault_settings(vault)
    if immutability == Immutability.LOCKED:
        raise ValidationError({"immutability": ["Enable immutability first; lock it once you have checked it."]})
    enforce_deny(actor=actor, action="vault.create", obj=vault)

    url = _storage_url(storage_url, resource_group)
    password = pysecrets.token_hex(32)
    key_id = _seal_key_id(vault)
    sealed_password = secrets.seal(password, key_id)
    sealed_env = secrets.seal(json.dumps(storage_env), key_id) if storage_env else ""
    from vaults.engine import ResticRepository

    try:
        ResticRepository(url, password, env=storage_env).init()
    except EngineError as error:
        job_create(
            actor=actor,
            operation=Operation.CREATE_VAULT,
            scope=resource_group,
            subject=f"vault {name}",
            status=JobStatus.FAILED,
            error_code=getattr(error, "code", "") or "restic_failed",
            message=f"The vault's repository could not be created: {error.message}",
        )
        raise DomainError(
            f"The vault's repository could not be created: {error.message}",
            code=getattr(error, "code", "") or "storage_unavailable",
        ) from None
    with transaction.atomic():
        vault.save()
        StorageLocation.objects.create(
            vault=vault,
            role=StorageRole.PRIMARY,
            url=url,
            sealed_password=sealed_password,
            sealed_env=sealed_env,
            region=location.name,
        )
        job_create(
            actor=actor,
            operation=Operation.CREATE_VAULT,
            scope=vault,
            subject=f"vault {name}",
            status=JobStatus.COMPLETED,
            message="Repository initialised.",
            percent=100,
        )
        change_record_write(actor=actor, action="create", obj=vault, after=snapshot(vault))
    return vault


@transaction.atomic
def vault_update(*, actor, vault: Vault, **fields: Any) -> Vault:
    """Change a vault's settings. Irreversible states (always-on soft delete, locked immutability,
    customer-managed keys, redundancy once an item is protected) cannot be undone."""
    ensure_permission(actor, Action.CHANGE, scope=vault)
    vault = Vault.objects.select_for_update().get(pk=vault.pk)
    before = snapshot(vault)
    errors: dict[str, list[str]] = {}
    if "redundancy" in fields and fields["redundancy"] != vault.redundancy and vault.redundancy_locked:
        errors["redundancy"] = ["Storage redundancy cannot change once an item is protected in the vault."]
    if vault.soft_delete_state == SoftDeleteState.ALWAYS_ON and fields.get("soft_delete_state", "always_on") != (
        SoftDeleteState.ALWAYS_ON
    ):
        errors["soft_delete_state"] = ["Always-on soft delete is irreversible."]
    if vault.immutability == Immutability.LOCKED and fields.get("immutability", "locked") != Immutability.LOCKED:
        errors["immutability"] = ["Locked immutability is irreversible."]
    if vault.encryption == Encryption.CUSTOMER_MANAGED and fields.get("encryption", vault.encryption) != (
        Encryption.CUSTOMER_MANAGED
    ):
        errors["encryption"] = ["A vault using a customer-managed key cannot go back to a platform-managed key."]
    if errors:
        raise ValidationError(errors)
    events = []
    if fields.get("soft_delete_state") == SoftDeleteState.DISABLED and vault.soft_delete_state != (
        SoftDeleteState.DISABLED
    ):
        ensure_authorized(actor=actor, vault=vault, operation=ProtectedOperation.DISABLE_SOFT_DELETE)
        if vault.recovery_points.filter(state=PointState.SOFT_DELETED).exists():
            raise DomainError(
                "This vault holds soft-deleted backup data: undelete it or wait for its purge before "
                "disabling soft delete.",
                code="soft_deleted_data_exists",
            )
        events.append(("soft_delete_disabled", f"Soft delete was disabled on vault {vault} by {actor}."))
    if fields.get("immutability") == Immutability.DISABLED and vault.immutability == Immutability.UNLOCKED:
        ensure_authorized(actor=actor, vault=vault, operation=ProtectedOperation.DISABLE_IMMUTABILITY)
        events.append(("immutability_disabled", f"Immutability was disabled on vault {vault} by {actor}."))
    if ("encryption" in fields and fields["encryption"] != vault.encryption) or (
        "encryption_key" in fields and fields["encryption_key"] != vault.encryption_key
    ):
        ensure_authorized(actor=actor, vault=vault, operation=ProtectedOperation.CHANGE_ENCRYPTION)
    if vault.immutability != Immutability.DISABLED and fields.get("soft_delete_days", 10**6) < vault.soft_delete_days:
        ensure_mutable(vault, "shortening the soft delete window")
    old_key_id = _seal_key_id(vault)
    for key, value in fields.items():
        setattr(vault, key, value)
    vault.full_clean(exclude=["tenant", "subscription"])
    _validate_vault_settings(vault)
    enforce_deny(actor=actor, action="vault.update", obj=vault)
    new_key_id = _seal_key_id(vault)
    if new_key_id != old_key_id:
        for storage in vault.storage_locations.select_for_update():
            storage.sealed_password = secrets.seal(secrets.unseal(storage.sealed_password), new_key_id)
            if storage.sealed_env:
                storage.sealed_env = secrets.seal(secrets.unseal(storage.sealed_env), new_key_id)
            storage.save(update_fields=["sealed_password", "sealed_env"])
    vault.save()
    change_record_write(actor=actor, action="update", obj=vault, before=before, after=snapshot(vault))
    for kind, message in events:
        security_event(actor=actor, kind=kind, vault=vault, message=message)
    return vault


@transaction.atomic
def vault_delete(*, actor, vault: Vault) -> None:
    """Delete an empty vault (no instances, no recovery points). Its repository folder is left on disk."""
    ensure_permission(actor, Action.DELETE, scope=vault)
    if vault.instances.exists() or vault.recovery_points.exclude(state="deleted").exists():
        raise DomainError(
            "Stop protection and delete the backup data of every item in this vault first.", code="vault_not_empty"
        )
    change_record_write(actor=actor, action="delete", obj=vault, before=snapshot(vault))
    from policies.models import BackupPolicy

    BackupPolicy.objects.filter(vault=vault).delete()
    vault.storage_locations.all().delete()
    Job.objects.filter(vault=vault).update(vault=None)
    vault.delete()


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


def _purge_soon(vault: Vault) -> None:
    from vaults.tasks import purge_vault

    transaction.on_commit(lambda: purge_vault.delay(vault.pk))


@transaction.atomic
def instance_change_policy(*, actor, instance: BackupInstance, policy) -> BackupInstance:
    """Move an instance to another policy of its vault. A weaker policy (keeps less, or backs up less often)
    is refused by an immutable vault when it keeps less, and needs approved access on a guarded vault."""
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


# Resource Guards and multi-user authorization ----------------------------------------------------


def _clean_operations(operations) -> list[str]:
    if operations is None:
        return ResourceGuard.default_operations()
    if not isinstance(operations, list | tuple) or any(op not in ProtectedOperation.values for op in operations):
        raise ValidationError({"protected_operations": ["Choose operations from the list of protected operations."]})
    return sorted({*operations, *MANDATORY_OPERATIONS})


@transaction.atomic
def guard_create(
    *,
    actor,
    resource_group: ResourceGroup,
    location: Location,
    name: str,
    description: str = "",
    protected_operations: list[str] | None = None,
) -> ResourceGuard:
    """A security admin creates a Resource Guard in a scope they own."""
    ensure_permission(actor, Action.MANAGE_GUARD, scope=resource_group)
    guard = ResourceGuard(
        resource_group=resource_group,
        tenant_id=resource_group.tenant_id,
        subscription_id=resource_group.subscription_id,
        location=location,
        name=name,
        description=description,
        protected_operations=_clean_operations(protected_operations),
    )
    guard.full_clean(exclude=["tenant", "subscription"])
    guard.save()
    change_record_write(actor=actor, action="create", obj=guard, after=snapshot(guard))
    return guard


@transaction.atomic
def guard_update(
    *, actor, guard: ResourceGuard, description: str | None = None, protected_operations: list[str] | None = None
) -> ResourceGuard:
    """Change what a guard protects; the mandatory operations stay protected whatever is asked."""
    ensure_permission(actor, Action.MANAGE_GUARD, scope=guard)
    before = snapshot(guard)
    if description is not None:
        guard.description = description
    if protected_operations is not None:
        guard.protected_operations = _clean_operations(protected_operations)
    guard.save()
    change_record_write(actor=actor, action="update", obj=guard, before=before, after=snapshot(guard))
    return guard


@transaction.atomic
def vault_link_guard(*, actor, vault: Vault, guard: ResourceGuard) -> Vault:
    """Protect a vault with a Resource Guard: a backup admin of the vault who can at least read the guard."""
    ensure_permission(actor, Action.CHANGE, scope=vault)
    ensure_permission(actor, Action.VIEW, scope=guard)
    if guard.location_id != vault.location_id:
        raise ValidationError({"guard": [f"The Resource Guard must be in the vault's location ({vault.location})."]})
    vault = Vault.objects.select_for_update().get(pk=vault.pk)
    if vault.resource_guard_id == guard.pk:
        raise DomainError(f"Vault {vault} is already protected by {guard}.", code="already_linked")
    if vault.resource_guard_id is not None:
        raise DomainError(
            "Unlink the current Resource Guard first (that itself needs approved access).", code="guard_linked"
        )
    before = snapshot(vault)
    vault.resource_guard = guard
    vault.save(update_fields=["resource_guard"])
    change_record_write(actor=actor, action="link_guard", obj=vault, before=before, after=snapshot(vault))
    return vault


@transaction.atomic
def vault_unlink_guard(*, actor, vault: Vault) -> Vault:
    """Remove MUA protection from a vault: always needs an approved access request."""
    ensure_permission(actor, Action.CHANGE, scope=vault)
    vault = Vault.objects.select_for_update(of=("self",)).select_related("resource_guard").get(pk=vault.pk)
    if vault.resource_guard is None:
        raise DomainError("This vault has no Resource Guard.", code="no_guard")
    ensure_authorized(actor=actor, vault=vault, operation=ProtectedOperation.REMOVE_MUA)
    before = snapshot(vault)
    guard = vault.resource_guard
    vault.resource_guard = None
    vault.save(update_fields=["resource_guard"])
    change_record_write(actor=actor, action="unlink_guard", obj=vault, before=before, after=snapshot(vault))
    security_event(
        actor=actor,
        kind="mua_removed",
        vault=vault,
        message=f"Multi-user authorization (Resource Guard {guard}) was removed from vault {vault} by {actor}.",
    )
    return vault


@transaction.atomic
def access_request_create(
    *, actor, vault: Vault, operation: str, justification: str, duration_hours: int = 1
) -> AccessRequest:
    """Ask the guard's security admins for one protected operation on one vault (or, with no operation, a
    time window for all of them)."""
    ensure_permission(actor, Action.VIEW, scope=vault)
    guard = vault.resource_guard
    if guard is None:
        raise DomainError(f"Vault {vault} has no Resource Guard; nothing needs approval.", code="no_guard")
    errors: dict[str, list[str]] = {}
    if operation and operation not in ProtectedOperation.values:
        errors["operation"] = ["Unknown operation."]
    elif operation and not guard.guards(operation):
        errors["operation"] = [f"Resource Guard {guard} does not protect '{ProtectedOperation(operation).label}'."]
    if not isinstance(duration_hours, int) or not 1 <= duration_hours <= MAX_REQUEST_HOURS:
        errors["duration_hours"] = [f"Ask for 1 to {MAX_REQUEST_HOURS} hours."]
    if not (justification or "").strip():
        errors["justification"] = ["Say why you need this access."]
    if errors:
        raise ValidationError(errors)
    request = AccessRequest.objects.create(
        guard=guard,
        vault=vault,
        operation=operation or "",
        requester=actor,
        justification=justification.strip(),
        duration_hours=duration_hours,
    )
    change_record_write(actor=actor, action="access_requested", obj=vault, message=f"{request} (#{request.pk})")
    return request


def _decide(actor, request: AccessRequest, *, approve: bool, note: str) -> AccessRequest:
    ensure_permission(actor, Action.APPROVE_ACCESS, scope=request.guard)
    if request.requester_id == actor.pk:
        raise DomainError(
            "You cannot decide your own access request; another security admin must.", code="self_approval"
        )
    now = timezone.now()
    values = {
        "status": AccessRequestStatus.APPROVED if approve else AccessRequestStatus.DENIED,
        "approver": actor,
        "decided": now,
        "decision_note": note,
    }
    if approve:
        values["valid_until"] = now + timedelta(hours=request.duration_hours)
    updated = AccessRequest.objects.filter(pk=request.pk, status=AccessRequestStatus.PENDING).update(**values)
    if updated != 1:
        raise DomainError("This request has already been decided.", code="already_decided")
    request.refresh_from_db()
    change_record_write(
        actor=actor,
        action="access_approved" if approve else "access_denied",
        obj=request.vault,
        message=f"{request} (#{request.pk}) {note}".strip(),
    )
    return request


@transaction.atomic
def access_request_approve(*, actor, request: AccessRequest, note: str = "") -> AccessRequest:
    """A security admin of the guard, other than the requester, approves; access lasts the asked duration."""
    return _decide(actor, request, approve=True, note=note)


@transaction.atomic
def access_request_deny(*, actor, request: AccessRequest, note: str = "") -> AccessRequest:
    """A security admin of the guard, other than the requester, denies."""
    return _decide(actor, request, approve=False, note=note)
