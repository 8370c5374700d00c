"""Every write to vaults and what they hold: vaults, keys, backup instances, backups and restores.

Rules live here once; pages, the API, the admin and tasks all call these functions.
"""

import json
import secrets as pysecrets
import uuid
from datetime import datetime
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
from vaults.choices import Encryption, Immutability, ProtectionState, Redundancy, SoftDeleteState, StorageRole
from vaults.models import BackupInstance, EncryptionKey, RecoveryPoint, StorageLocation, Vault

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
    before = snapshot(key)
    new_version = key.current_version + 1
    secrets.create_key(key.keyring_id(new_version))
    job = job_create(
        actor=actor, operation=Operation.ROTATE_KEY, scope=key, subject=f"key {key.name}", status=JobStatus.IN_PROGRESS
    )
    rewrapped = 0
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
    from monitoring.services import job_finish

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

    url = storage_url.strip() or str(
        Path(settings.BACKUPCENTER_VAULT_ROOT) / f"{resource_group.tenant.name}-{uuid.uuid4().hex}"
    )
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
    old_key_id = _seal_key_id(vault)
    for key, value in fields.items():
        setattr(vault, key, value)
    vault.full_clean(exclude=["tenant", "subscription"])
    _validate_vault_settings(vault)
    new_key_id = _seal_key_id(vault)
    if new_key_id != old_key_id:
        for storage in vault.storage_locations.select_for_update():
            storage.sealed_password = secrets.seal(secrets.unseal(storage.sealed_password), new_key_id)
            if storage.sealed_env:
                storage.sealed_env = secrets.seal(secrets.unseal(storage.sealed_env), new_key_id)
            storage.save(update_fields=["sealed_password", "sealed_env"])
    vault.save()
    change_record_write(actor=actor, action="update", obj=vault, before=before, after=snapshot(vault))
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
def instance_stop_protection(*, actor, instance: BackupInstance) -> BackupInstance:
    """Stop scheduled backups and keep every recovery point ("stop protection, retain data")."""
    ensure_permission(actor, Action.CHANGE, scope=instance)
    if instance.protection_state == ProtectionState.STOPPED_RETAIN_DATA:
        raise DomainError("Protection is already stopped.", code="already_stopped")
    before = snapshot(instance)
    instance.protection_state = ProtectionState.STOPPED_RETAIN_DATA
    instance.save(update_fields=["protection_state"])
    job_create(
        actor=actor,
        operation=Operation.STOP_PROTECTION,
        scope=instance,
        instance=instance,
        datasource=instance.datasource,
        datasource_kind=instance.datasource.kind,
        subject=instance.datasource.name,
        status=JobStatus.COMPLETED,
        message="Data retained.",
        percent=100,
    )
    change_record_write(actor=actor, action="stop_protection", obj=instance, before=before, after=snapshot(instance))
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
    if recovery_point.instance_id != instance.pk:
        raise ValidationError({"recovery_point": ["This recovery point belongs to another backup instance."]})
    if recovery_point.state != "available":
        raise DomainError("This recovery point is not available; undelete it first.", code="point_unavailable")
    target = _validate_target(instance.datasource, target)
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
