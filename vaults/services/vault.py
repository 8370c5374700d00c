"""Vaults: create with a new restic repository, change settings (irreversible states kept), delete."""

import json
import secrets as pysecrets
import uuid
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction

from core import secrets
from core.exceptions import DomainError
from core.permissions import ensure_permission
from core.roles import Action
from core.services import change_record_write, snapshot
from inventory.models import Location, ResourceGroup
from monitoring.choices import JobStatus, Operation
from monitoring.models import Job
from monitoring.services import job_create
from policies.governance.services import enforce_deny
from vaults.choices import (
    Encryption,
    Immutability,
    PointState,
    ProtectedOperation,
    Redundancy,
    SoftDeleteState,
    StorageRole,
)
from vaults.models import (
    EncryptionKey,
    StorageLocation,
    Vault,
)
from vaults.security import (
    ensure_authorized,
    ensure_mutable,
    security_event,
)
from vaults.services.keys import _seal_key_id

SOFT_DELETE_DAYS = (14, 180)


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
