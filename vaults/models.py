"""Vaults: where recovery points are kept, with their security settings."""

from django.db import models
from django.urls import reverse

from core.querysets import ScopedManager
from inventory.models import Location, ResourceGroup, Subscription, Tenant, name_validator
from vaults.choices import Encryption, Immutability, Redundancy, SoftDeleteState


class Vault(models.Model):
    """A backup vault: one restic repository per copy, with redundancy, soft delete and immutability settings."""

    tenant = models.ForeignKey(Tenant, on_delete=models.PROTECT, related_name="+", editable=False)
    subscription = models.ForeignKey(Subscription, on_delete=models.PROTECT, related_name="+", editable=False)
    resource_group = models.ForeignKey(ResourceGroup, on_delete=models.PROTECT, related_name="vaults")
    location = models.ForeignKey(Location, on_delete=models.PROTECT, related_name="vaults")
    name = models.CharField(max_length=50, validators=[name_validator])
    redundancy = models.CharField(max_length=3, choices=Redundancy.choices, default=Redundancy.LRS)
    cross_region_restore = models.BooleanField(default=False)
    soft_delete_state = models.CharField(
        max_length=10, choices=SoftDeleteState.choices, default=SoftDeleteState.ENABLED
    )
    soft_delete_days = models.PositiveSmallIntegerField(default=14)
    immutability = models.CharField(max_length=10, choices=Immutability.choices, default=Immutability.DISABLED)
    encryption = models.CharField(max_length=20, choices=Encryption.choices, default=Encryption.PLATFORM)
    created = models.DateTimeField(auto_now_add=True)

    objects = ScopedManager()
    scope_fields = {
        "tenant": "tenant_id",
        "subscription": "subscription_id",
        "resource_group": "resource_group_id",
        "vault": "id",
    }

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["resource_group", "name"], name="vault_unique_name")]

    def __str__(self) -> str:
        return self.name

    def save(self, *args, **kwargs):
        self.subscription_id = self.resource_group.subscription_id
        self.tenant_id = self.resource_group.tenant_id
        super().save(*args, **kwargs)

    def get_absolute_url(self) -> str:
        return reverse("vaults:vault_detail", args=[self.pk])
