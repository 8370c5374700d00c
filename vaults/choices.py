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
