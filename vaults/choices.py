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
