"""Enumerations of vaults and what they hold, each with a badge colour."""

from django.db import models


class Redundancy(models.TextChoices):
    LRS = "LRS", "Locally redundant (LRS)"
    ZRS = "ZRS", "Zone redundant (ZRS)"
    GRS = "GRS", "Geo redundant (GRS)"


class SoftDeleteState(models.TextChoices):
    DISABLED = "disabled", "Disabled"
    ENABLED = "enabled", "Enabled"
    ALWAYS_ON = "always_on", "Always on (irreversible)"


class Immutability(models.TextChoices):
    DISABLED = "disabled", "Disabled"
    UNLOCKED = "unlocked", "Enabled, unlocked"
    LOCKED = "locked", "Enabled, locked (irreversible)"


class Encryption(models.TextChoices):
    PLATFORM = "platform", "Platform-managed key"
    CUSTOMER_MANAGED = "customer_managed", "Customer-managed key"


class StorageRole(models.TextChoices):
    PRIMARY = "primary", "Primary"
    ZONE_REPLICA = "zone_replica", "Zone replica"
    SECONDARY_REGION = "secondary_region", "Secondary region"
    ARCHIVE = "archive", "Archive tier"


class ProtectionState(models.TextChoices):
    CONFIGURING = "configuring", "Configuring"
    PROTECTED = "protected", "Protected"
    PROTECTION_ERROR = "protection_error", "Protection error"
    STOPPED_RETAIN_DATA = "stopped_retain_data", "Protection stopped, data retained"
    SOFT_DELETED = "soft_deleted", "Soft deleted"

    @property
    def colour(self) -> str:
        return {
            "configuring": "info",
            "protected": "success",
            "protection_error": "danger",
            "stopped_retain_data": "warning",
            "soft_deleted": "secondary",
        }[self.value]


class Health(models.TextChoices):
    HEALTHY = "healthy", "Healthy"
    UNHEALTHY = "unhealthy", "Unhealthy"
    UNKNOWN = "unknown", "Not yet backed up"

    @property
    def colour(self) -> str:
        return {"healthy": "success", "unhealthy": "danger", "unknown": "secondary"}[self.value]


class Tier(models.TextChoices):
    STANDARD = "standard", "Standard"
    ARCHIVE = "archive", "Archive"
    REHYDRATED = "rehydrated", "Rehydrated"


class PointState(models.TextChoices):
    AVAILABLE = "available", "Available"
    SOFT_DELETED = "soft_deleted", "Soft deleted"
    DELETED = "deleted", "Deleted"

    @property
    def colour(self) -> str:
        return {"available": "success", "soft_deleted": "warning", "deleted": "secondary"}[self.value]


class ProtectedOperation(models.TextChoices):
    """Operations a Resource Guard can put behind multi-user authorization."""

    DISABLE_SOFT_DELETE = "disable_soft_delete", "Disable soft delete"
    REMOVE_MUA = "remove_mua", "Remove MUA protection (unlink the Resource Guard)"
    STOP_PROTECTION_DELETE_DATA = "stop_protection_delete_data", "Stop protection with delete data"
    REDUCE_RETENTION = "reduce_retention", "Modify a policy to shorten retention or lengthen the interval"
    MOVE_TO_WEAKER_POLICY = "move_to_weaker_policy", "Move an instance to a weaker policy"
    STOP_PROTECTION_RETAIN_DATA = "stop_protection_retain_data", "Stop protection with retain data"
    DISABLE_IMMUTABILITY = "disable_immutability", "Disable immutability"
    CHANGE_ENCRYPTION = "change_encryption", "Change encryption settings"
    DELETE_RECOVERY_POINT = "delete_recovery_point", "Delete a recovery point"
    RESTORE = "restore", "Restore"


# Protected whatever the guard's owner chooses.
MANDATORY_OPERATIONS = frozenset({ProtectedOperation.DISABLE_SOFT_DELETE, ProtectedOperation.REMOVE_MUA})
# Optional operations that a new guard leaves unprotected (the owner can turn them on).
OFF_BY_DEFAULT = frozenset({ProtectedOperation.RESTORE})


class AccessRequestStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    APPROVED = "approved", "Approved"
    DENIED = "denied", "Denied"
    EXPIRED = "expired", "Expired"
    USED = "used", "Used"

    @property
    def colour(self) -> str:
        return {
            "pending": "warning",
            "approved": "success",
            "denied": "danger",
            "expired": "secondary",
            "used": "dark",
        }[self.value]


class Posture(models.TextChoices):
    EXCELLENT = "excellent", "Excellent"
    GOOD = "good", "Good"
    FAIR = "fair", "Fair"
    POOR = "poor", "Poor"

    @property
    def colour(self) -> str:
        return {"excellent": "success", "good": "primary", "fair": "warning", "poor": "danger"}[self.value]
