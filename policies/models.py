"""Backup policies: a schedule, retention rules and a tiering rule, belonging to a vault."""

from datetime import time

from django.conf import settings
from django.db import models
from django.urls import reverse

from core.querysets import ScopedManager
from inventory.choices import DatasourceKind
from inventory.models import ResourceGroup, Subscription, Tenant
from policies.retention import RetentionRules
from policies.schedule import Schedule


class BackupPolicy(models.Model):
    """When to back up (schedule) and how long to keep it (retention), for one datasource kind in one vault.

    `schedule` and `retention` hold the fields of `policies.schedule.Schedule` and
    `policies.retention.RetentionRules` (times as "HH:MM"); the calculators are the only interpreters.
    """

    tenant = models.ForeignKey(Tenant, on_delete=models.PROTECT, related_name="+", editable=False)
    subscription = models.ForeignKey(Subscription, on_delete=models.PROTECT, related_name="+", editable=False)
    resource_group = models.ForeignKey(ResourceGroup, on_delete=models.PROTECT, related_name="+", editable=False)
    vault = models.ForeignKey("vaults.Vault", on_delete=models.PROTECT, related_name="policies")
    name = models.CharField(max_length=80)
    datasource_kind = models.CharField(max_length=20, choices=DatasourceKind.choices)
    schedule = models.JSONField(default=dict)
    retention = models.JSONField(default=dict)
    tiering = models.JSONField(default=dict, blank=True)
    created = models.DateTimeField(auto_now_add=True)

    objects = ScopedManager()
    scope_fields = {
        "tenant": "tenant_id",
        "subscription": "subscription_id",
        "resource_group": "resource_group_id",
        "vault": "vault_id",
    }

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "backup policies"
        constraints = [models.UniqueConstraint(fields=["vault", "name"], name="policy_unique_name")]

    def __str__(self) -> str:
        return self.name

    def save(self, *args, **kwargs):
        self.tenant_id = self.vault.tenant_id
        self.subscription_id = self.vault.subscription_id
        self.resource_group_id = self.vault.resource_group_id
        super().save(*args, **kwargs)

    def get_absolute_url(self) -> str:
        try:
            return reverse("policies:policy_detail", args=[self.pk])
        except Exception:
            return reverse("vaults:vault_detail", args=[self.vault_id])

    def schedule_obj(self) -> Schedule:
        data = dict(self.schedule)
        data["times"] = tuple(time.fromisoformat(t) for t in data.get("times", ()))
        data["weekdays"] = tuple(data.get("weekdays", ()))
        if "window_start" in data:
            data["window_start"] = time.fromisoformat(data["window_start"])
        return Schedule(**data)

    def retention_rules(self) -> RetentionRules:
        return RetentionRules(**self.retention)


DEFAULT_DAILY_POLICY = {
    "name": "DailyPolicy",
    "schedule": {"frequency": "daily", "times": ["02:00"], "timezone": "UTC"},
    "retention": {"daily_count": 30, "timezone": "UTC"},
}


class ScheduleCursor(models.Model):
    """The dispatcher's memory of one backup instance: the scheduled run it last started.

    A run is due when the policy's ``last_due(now)`` is later than ``last_scheduled_run`` (or than the
    instance's creation when there is no cursor yet). The dispatcher advances it with one conditional upsert,
    so two dispatchers never both claim the same run.
    """

    instance = models.OneToOneField(
        "vaults.BackupInstance", on_delete=models.CASCADE, primary_key=True, related_name="schedule_cursor"
    )
    last_scheduled_run = models.DateTimeField()
    dispatched_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.instance_id} @ {self.last_scheduled_run:%Y-%m-%d %H:%M} UTC"


class AutoProtection(models.Model):
    """The intent "protect every database of this server with policy P in vault V" (except `exclude`).

    Discovery applies it: each newly found database is protected by the product (a system actor) on behalf
    of `set_by`, and the change log says so.
    """

    tenant = models.ForeignKey(Tenant, on_delete=models.PROTECT, related_name="+", editable=False)
    subscription = models.ForeignKey(Subscription, on_delete=models.PROTECT, related_name="+", editable=False)
    resource_group = models.ForeignKey(ResourceGroup, on_delete=models.PROTECT, related_name="+", editable=False)
    connector = models.OneToOneField("inventory.Connector", on_delete=models.CASCADE, related_name="auto_protection")
    vault = models.ForeignKey("vaults.Vault", on_delete=models.PROTECT, related_name="auto_protections")
    policy = models.ForeignKey(BackupPolicy, on_delete=models.PROTECT, related_name="auto_protections")
    exclude = models.JSONField(default=list, blank=True, help_text="Database names never protected automatically.")
    set_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    set_by_name = models.CharField(max_length=150)
    updated = models.DateTimeField(auto_now=True)

    objects = ScopedManager()
    scope_fields = {"tenant": "tenant_id", "subscription": "subscription_id", "resource_group": "resource_group_id"}

    def __str__(self) -> str:
        return f"auto-protection of {self.connector} with {self.policy}"

    def save(self, *args, **kwargs):
        self.tenant_id = self.connector.tenant_id
        self.subscription_id = self.connector.subscription_id
        self.resource_group_id = self.connector.resource_group_id
        super().save(*args, **kwargs)
