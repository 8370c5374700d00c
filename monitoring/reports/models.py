"""Scheduled email reports and large exports run in the background."""

from django.conf import settings
from django.db import models
from django.urls import reverse

from core.querysets import ScopedManager
from monitoring.reports.choices import Format, Frequency, Tab

SCOPE = {"tenant": "tenant_id", "subscription": "subscription_id", "resource_group": "resource_group_id"}


class ScheduledReport(models.Model):
    """A report tab mailed to recipients on a schedule. It is built with its owner's permissions, limited to its
    scope, so recipients never get rows the owner could not see."""

    tenant = models.ForeignKey("inventory.Tenant", on_delete=models.CASCADE, related_name="+")
    subscription = models.ForeignKey(
        "inventory.Subscription", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    resource_group = models.ForeignKey(
        "inventory.ResourceGroup", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    name = models.CharField(max_length=120)
    tab = models.CharField(max_length=20, choices=Tab.choices)
    format = models.CharField(max_length=4, choices=Format.choices, default=Format.XLSX)
    frequency = models.CharField(max_length=10, choices=Frequency.choices, default=Frequency.WEEKLY)
    recipients = models.JSONField(default=list)
    filters = models.JSONField(default=dict, blank=True)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    enabled = models.BooleanField(default=True)
    next_run_at = models.DateTimeField(db_index=True)
    last_sent_at = models.DateTimeField(null=True, blank=True)
    last_status = models.CharField(max_length=10, blank=True)
    last_message = models.TextField(blank=True)
    created = models.DateTimeField(auto_now_add=True)

    objects = ScopedManager()
    scope_fields = SCOPE

    class Meta:
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("reports:schedule_list")

    @property
    def scope_object(self):
        return self.resource_group or self.subscription or self.tenant


class ReportExport(models.Model):
    """A large export written by a worker; its Job shows progress, the file is downloaded by its owner."""

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    tab = models.CharField(max_length=20, choices=Tab.choices)
    format = models.CharField(max_length=4, choices=Format.choices)
    filters = models.JSONField(default=dict, blank=True)
    job = models.OneToOneField("monitoring.Job", null=True, on_delete=models.SET_NULL, related_name="report_export")
    file_name = models.CharField(max_length=200, blank=True)
    rows = models.BigIntegerField(default=0)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created", "-id"]

    def __str__(self) -> str:
        return f"{self.get_tab_display()} ({self.format}) #{self.pk}"

    def get_absolute_url(self) -> str:
        return reverse("reports:export_detail", args=[self.pk])
