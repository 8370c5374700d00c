"""Customer-managed keys, and opening a vault's repository with its sealed password."""

import json
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from core import secrets
from core.exceptions import DomainError
from core.permissions import ensure_permission
from core.roles import Action
from core.services import change_record_write, snapshot
from inventory.models import ResourceGroup
from monitoring.choices import JobStatus, Operation
from monitoring.models import Job
from monitoring.services import job_create
from vaults.choices import (
    Encryption,
)
from vaults.models import (
    EncryptionKey,
    StorageLocation,
    Vault,
)

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
