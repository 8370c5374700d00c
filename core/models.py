"""The change log: one row per change any service makes, with the actor, before and after."""

from django.conf import settings
from django.db import models

from core.querysets import ScopedManager


class ChangeRecord(models.Model):
    """An entry of the activity log. Secrets are masked before they are written."""

    time = models.DateTimeField(auto_now_add=True, db_index=True)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    actor_name = models.CharField(max_length=150)
    action = models.CharField(max_length=64, db_index=True)
    object_type = models.CharField(max_length=100, db_index=True)
    object_id = models.CharField(max_length=64, blank=True)
    object_repr = models.CharField(max_length=300, blank=True)
    tenant = models.ForeignKey("inventory.Tenant", null=True, blank=True, on_delete=models.SET_NULL)
    subscription = models.ForeignKey("inventory.Subscription", null=True, blank=True, on_delete=models.SET_NULL)
    resource_group = models.ForeignKey("inventory.ResourceGroup", null=True, blank=True, on_delete=models.SET_NULL)
    vault_id = models.BigIntegerField(null=True, blank=True)
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)
    message = models.TextField(blank=True)
    request_id = models.CharField(max_length=64, blank=True)
    task_id = models.CharField(max_length=64, blank=True)

    objects = ScopedManager()
    scope_fields = {
        "tenant": "tenant_id",
        "subscription": "subscription_id",
        "resource_group": "resource_group_id",
        "vault": "vault_id",
    }

    class Meta:
        ordering = ["-time", "-id"]
        indexes = [models.Index(fields=["tenant", "-time"]), models.Index(fields=["object_type", "object_id"])]

    def __str__(self) -> str:
        return f"{self.actor_name} {self.action} {self.object_type} {self.object_repr}"
