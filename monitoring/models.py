"""Jobs: one row per operation, with live progress, outcome and an actionable error."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.urls import reverse

from core.querysets import ScopedManager
from monitoring.choices import ACTIVE_STATUSES, JobStatus, Operation


class Job(models.Model):
    """An operation the product runs (backup, restore, …). Progress lives here; pages poll it."""

    operation = models.CharField(max_length=24, choices=Operation.choices, db_index=True)
    status = models.CharField(max_length=24, choices=JobStatus.choices, default=JobStatus.QUEUED, db_index=True)
    tenant = models.ForeignKey("inventory.Tenant", null=True, on_delete=models.SET_NULL, related_name="+")
    subscription = models.ForeignKey("inventory.Subscription", null=True, on_delete=models.SET_NULL, related_name="+")
    resource_group = models.ForeignKey(
        "inventory.ResourceGroup", null=True, on_delete=models.SET_NULL, related_name="+"
    )
    vault = models.ForeignKey("vaults.Vault", null=True, blank=True, on_delete=models.SET_NULL, related_name="jobs")
    instance = models.ForeignKey(
        "vaults.BackupInstance", null=True, blank=True, on_delete=models.SET_NULL, related_name="jobs"
    )
    datasource = models.ForeignKey(
        "inventory.Datasource", null=True, blank=True, on_delete=models.SET_NULL, related_name="jobs"
    )
    recovery_point = models.ForeignKey(
        "vaults.RecoveryPoint", null=True, blank=True, on_delete=models.SET_NULL, related_name="restore_jobs"
    )
    datasource_kind = models.CharField(max_length=20, blank=True, db_index=True)
    subject = models.CharField(max_length=200, blank=True, help_text="What the job works on, for lists.")
    params = models.JSONField(default=dict, blank=True, help_text="Options of the operation; never secrets.")
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    actor_name = models.CharField(max_length=150, blank=True)
    queue = models.CharField(max_length=100, blank=True)
    celery_task_id = models.CharField(max_length=64, blank=True)
    attempt = models.PositiveSmallIntegerField(default=0)
    cancel_requested = models.BooleanField(default=False)

    created = models.DateTimeField(auto_now_add=True, db_index=True)
    started = models.DateTimeField(null=True, blank=True)
    ended = models.DateTimeField(null=True, blank=True)
    heartbeat = models.DateTimeField(null=True, blank=True)

    percent = models.FloatField(default=0)
    files_done = models.BigIntegerField(default=0)
    total_files = models.BigIntegerField(default=0)
    bytes_done = models.BigIntegerField(default=0)
    total_bytes = models.BigIntegerField(default=0)
    seconds_remaining = models.IntegerField(null=True, blank=True)
    bytes_added = models.BigIntegerField(default=0)

    error_code = models.CharField(max_length=50, blank=True)
    message = models.TextField(blank=True, help_text="Outcome, or what to do about an error.")
    warnings = models.JSONField(default=list, blank=True)
    log = models.TextField(blank=True, help_text="A short excerpt of what the job did.")

    objects = ScopedManager()
    scope_fields = {
        "tenant": "tenant_id",
        "subscription": "subscription_id",
        "resource_group": "resource_group_id",
        "vault": "vault_id",
    }

    class Meta:
        ordering = ["-created", "-id"]
        constraints = [
            # Two dispatchers or two clicks can never run two backups of one instance at once.
            models.UniqueConstraint(
                fields=["instance"],
                condition=Q(operation=Operation.BACKUP, status__in=ACTIVE_STATUSES),
                name="one_active_backup_per_instance",
            ),
        ]
        indexes = [models.Index(fields=["tenant", "-created"]), models.Index(fields=["status", "heartbeat"])]

    def __str__(self) -> str:
        return f"{self.get_operation_display()} {self.subject} #{self.pk}"

    def get_absolute_url(self) -> str:
        return reverse("monitoring:job_detail", args=[self.pk])

    @property
    def status_colour(self) -> str:
        return JobStatus(self.status).colour

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE_STATUSES

    @property
    def duration(self):
        if self.started and self.ended:
            return self.ended - self.started
        return None

    @property
    def throughput(self) -> float | None:
        """Bytes per second so far."""
        if not self.started or not self.bytes_done:
            return None
        end = self.ended or self.heartbeat or self.started
        seconds = (end - self.started).total_seconds()
        return self.bytes_done / seconds if seconds > 0 else None
