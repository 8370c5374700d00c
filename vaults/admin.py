"""The admin shows vaults and what they hold, read-only.

Every change to these rows is guarded by rules the admin cannot apply on its own: multi-user authorization,
immutability, soft delete, irreversible settings, repository passwords sealed by a key. So the admin never adds,
changes or deletes them; the console and the API do, through the services. Sealed secrets are never shown.
"""

from django.contrib import admin

from vaults.models import (
    AccessRequest,
    BackupInstance,
    EncryptionKey,
    RecoveryPoint,
    ResourceGuard,
    StorageLocation,
    Vault,
)


class ReadOnlyAdmin(admin.ModelAdmin):
    """View only: no add, change or delete permission, no bulk actions."""

    actions = None

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Vault)
class VaultAdmin(ReadOnlyAdmin):
    list_display = ("name", "resource_group", "location", "soft_delete_state", "immutability", "resource_guard")
    list_filter = ("soft_delete_state", "immutability", "redundancy")
    search_fields = ("name",)


@admin.register(StorageLocation)
class StorageLocationAdmin(ReadOnlyAdmin):
    list_display = ("vault", "role", "region", "zone", "bytes_stored")
    exclude = StorageLocation.secret_fields


@admin.register(EncryptionKey)
class EncryptionKeyAdmin(ReadOnlyAdmin):
    list_display = ("name", "resource_group", "current_version", "enabled", "rotated")


@admin.register(BackupInstance)
class BackupInstanceAdmin(ReadOnlyAdmin):
    list_display = ("datasource", "vault", "policy", "protection_state", "health", "last_backup_time")
    list_filter = ("protection_state", "health")


@admin.register(RecoveryPoint)
class RecoveryPointAdmin(ReadOnlyAdmin):
    list_display = ("snapshot_id", "instance", "vault", "created", "state", "expires_at", "purge_after")
    list_filter = ("state", "tier")


@admin.register(ResourceGuard)
class ResourceGuardAdmin(ReadOnlyAdmin):
    list_display = ("name", "resource_group", "location", "created")


@admin.register(AccessRequest)
class AccessRequestAdmin(ReadOnlyAdmin):
    list_display = ("pk", "operation", "vault", "requester", "status", "approver", "valid_until")
    list_filter = ("status", "operation")
