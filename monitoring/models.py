"""Monitoring rows: jobs (one per operation, with live progress), alerts, health events and their hourly rollup,
metric alert rules, action groups, alert processing rules and notification deliveries."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.urls import reverse

from core.querysets import ScopedManager
from monitoring.choices import (
    ACTIVE_STATUSES,
    OPEN_ALERT_STATES,
    Aggregation,
    AlertCategory,
    AlertState,
    Channel,
    DeliveryStatus,
    HealthMetric,
    HealthStatus,
    JobStatus,
    MonitorCondition,
    Operation,
    Operator,
    ProcessingAction,
    RuleSplit,
    Severity,
)

SCOPE_KEYS = {
    "tenant": "tenant_id",
    "subscription": "subscription_id",
    "resource_group": "resource_group_id",
    "vault": "vault_id",
}
SUBSCRIPTION_SCOPE = {"tenant": "tenant_id", "subscription": "subscription_id"}


def _scope_fk(name: str, null: bool = True):
    model = "vaults.Vault" if name == "vault" else f"inventory.{name.title().replace('_', '')}"
    return models.ForeignKey(
        model, null=null, blank=null, on_delete=models.SET_NULL if null else models.CASCADE, related_name="+"
    )


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
        indexes = [
            models.Index(fields=["tenant", "-created"]),
            models.Index(fields=["status", "heartbeat"]),
            # The jobs page's default order and the Overview's "last 24 hours" range.
            models.Index(fields=["-created", "-id"], name="job_created_id_desc"),
            models.Index(fields=["operation", "status", "created"], name="job_op_status_created"),
            # Subscription-level roles (the common grant) list their jobs newest first without a sort.
            models.Index(fields=["subscription", "-created"], name="job_subscription_created"),
        ]

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


class HealthEvent(models.Model):
    """A Backup or Restore Health Event: one per finished backup or restore job, with its HealthStatus."""

    metric = models.CharField(max_length=20, choices=HealthMetric.choices)
    health_status = models.CharField(max_length=24, choices=HealthStatus.choices)
    timestamp = models.DateTimeField()
    tenant = _scope_fk("tenant", null=False)
    subscription = _scope_fk("subscription", null=False)
    resource_group = _scope_fk("resource_group", null=False)
    vault = models.ForeignKey("vaults.Vault", on_delete=models.CASCADE, related_name="+")
    instance = models.ForeignKey(
        "vaults.BackupInstance", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    datasource = models.ForeignKey(
        "inventory.Datasource", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    datasource_kind = models.CharField(max_length=20)
    instance_name = models.CharField(max_length=200, blank=True)
    error_code = models.CharField(max_length=50, blank=True)
    job = models.ForeignKey(Job, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    objects = ScopedManager()
    scope_fields = SCOPE_KEYS

    class Meta:
        ordering = ["-timestamp", "-id"]
        indexes = [
            models.Index(fields=["metric", "timestamp"], name="health_metric_ts"),
            models.Index(fields=["instance", "metric", "-timestamp"], name="health_instance_latest"),
        ]

    def __str__(self) -> str:
        return f"{self.get_metric_display()}: {self.get_health_status_display()} ({self.instance_name})"

    @property
    def status_colour(self) -> str:
        return HealthStatus(self.health_status).colour


class HealthEventRollup(models.Model):
    """Health events counted per hour and dimension combination, kept up to date on every event, so charts over
    weeks read thousands of rows instead of millions."""

    bucket = models.DateTimeField(help_text="Start of the hour (UTC).")
    metric = models.CharField(max_length=20, choices=HealthMetric.choices)
    health_status = models.CharField(max_length=24, choices=HealthStatus.choices)
    tenant = _scope_fk("tenant", null=False)
    subscription = _scope_fk("subscription", null=False)
    resource_group = _scope_fk("resource_group", null=False)
    vault = models.ForeignKey("vaults.Vault", on_delete=models.CASCADE, related_name="+")
    datasource_kind = models.CharField(max_length=20)
    count = models.PositiveIntegerField(default=0)

    objects = ScopedManager()
    scope_fields = SCOPE_KEYS

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["bucket", "metric", "health_status", "vault", "datasource_kind"], name="health_rollup_unique"
            )
        ]
        indexes = [models.Index(fields=["metric", "bucket"], name="health_rollup_metric_bucket")]

    def __str__(self) -> str:
        return f"{self.bucket:%Y-%m-%d %H}:00 {self.metric} {self.health_status} = {self.count}"


class VaultAlertSettings(models.Model):
    """Per-vault monitoring switches. Built-in job failure alerts are on unless switched off here; security
    alerts have no switch."""

    vault = models.OneToOneField("vaults.Vault", on_delete=models.CASCADE, related_name="alert_settings")
    tenant = _scope_fk("tenant", null=False)
    subscription = _scope_fk("subscription", null=False)
    resource_group = _scope_fk("resource_group", null=False)
    job_failure_alerts = models.BooleanField(default=True, help_text="Raise an alert for every failed job.")

    objects = ScopedManager()
    scope_fields = SCOPE_KEYS

    def __str__(self) -> str:
        return f"Alert settings of {self.vault}"


class ActionGroup(models.Model):
    """Where notifications go: email addresses (Django's SMTP backend) and a webhook signed with the group's
    secret (HMAC-SHA256)."""

    tenant = _scope_fk("tenant", null=False)
    subscription = _scope_fk("subscription", null=False)
    name = models.CharField(max_length=80)
    emails = models.JSONField(default=list, blank=True)
    webhook_url = models.URLField(max_length=500, blank=True)
    sealed_webhook_secret = models.TextField(blank=True, editable=False)
    timeout_seconds = models.PositiveSmallIntegerField(default=10)
    max_attempts = models.PositiveSmallIntegerField(default=4)
    enabled = models.BooleanField(default=True)
    created = models.DateTimeField(auto_now_add=True)

    objects = ScopedManager()
    scope_fields = SUBSCRIPTION_SCOPE
    secret_fields = ("sealed_webhook_secret",)

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["subscription", "name"], name="action_group_unique_name")]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("monitoring:actiongroup_detail", args=[self.pk])

    @property
    def channels(self) -> list[str]:
        return [label for on, label in ((self.emails, "Email"), (self.webhook_url, "Webhook")) if on]


class MetricAlertRule(models.Model):
    """A condition on a health metric evaluated on a schedule; stateful rules fire once and resolve after
    three consecutive clean evaluations."""

    tenant = _scope_fk("tenant", null=False)
    subscription = _scope_fk("subscription", null=False)
    vault = models.ForeignKey("vaults.Vault", null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    name = models.CharField(max_length=120)
    description = models.TextField(blank=True)
    metric = models.CharField(max_length=20, choices=HealthMetric.choices, default=HealthMetric.BACKUP)
    health_statuses = models.JSONField(default=list, blank=True, help_text="Empty = every status.")
    datasource_kinds = models.JSONField(default=list, blank=True, help_text="Empty = every datasource type.")
    split = models.CharField(max_length=10, choices=RuleSplit.choices, default=RuleSplit.NONE)
    aggregation = models.CharField(max_length=10, choices=Aggregation.choices, default=Aggregation.COUNT)
    operator = models.CharField(max_length=2, choices=Operator.choices, default=Operator.GT)
    threshold = models.FloatField(default=0)
    window_minutes = models.PositiveIntegerField(default=24 * 60)
    frequency_minutes = models.PositiveIntegerField(default=60)
    severity = models.CharField(max_length=4, choices=Severity.choices, default=Severity.SEV2)
    stateful = models.BooleanField(default=True)
    enabled = models.BooleanField(default=True)
    action_groups = models.ManyToManyField(ActionGroup, blank=True, related_name="metric_rules")
    next_evaluation_at = models.DateTimeField(null=True, blank=True, db_index=True)
    last_evaluated_at = models.DateTimeField(null=True, blank=True)
    created = models.DateTimeField(auto_now_add=True)

    objects = ScopedManager()
    scope_fields = SUBSCRIPTION_SCOPE

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("monitoring:metricalertrule_detail", args=[self.pk])

    @property
    def condition(self) -> str:
        statuses = ", ".join(HealthStatus(s).label for s in self.health_statuses) or "any status"
        return (
            f"{self.get_aggregation_display()} of {self.get_metric_display()} ({statuses}) over "
            f"{self.window_minutes} min {self.get_operator_display()} {self.threshold:g}"
        )


class AlertProcessingRule(models.Model):
    """Changes which notifications go out: apply action groups to matching alerts, or suppress notifications
    (e.g. during a maintenance window). Suppression beats applying action groups."""

    tenant = _scope_fk("tenant", null=False)
    subscription = _scope_fk("subscription", null=False)
    vault = models.ForeignKey("vaults.Vault", null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    name = models.CharField(max_length=120)
    action = models.CharField(max_length=20, choices=ProcessingAction.choices, default=ProcessingAction.SUPPRESS)
    action_groups = models.ManyToManyField(ActionGroup, blank=True, related_name="processing_rules")
    severities = models.JSONField(default=list, blank=True, help_text="Empty = every severity.")
    categories = models.JSONField(default=list, blank=True, help_text="Empty = every category.")
    starts_at = models.DateTimeField(null=True, blank=True, help_text="Empty = always (from now).")
    ends_at = models.DateTimeField(null=True, blank=True)
    weekdays = models.JSONField(default=list, blank=True, help_text="Recurring: 0 = Monday … 6 = Sunday.")
    daily_start = models.TimeField(null=True, blank=True, help_text="Recurring window start (UTC).")
    daily_end = models.TimeField(null=True, blank=True, help_text="Recurring window end (UTC).")
    enabled = models.BooleanField(default=True)
    created = models.DateTimeField(auto_now_add=True)

    objects = ScopedManager()
    scope_fields = SUBSCRIPTION_SCOPE

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("monitoring:alertprocessingrule_edit", args=[self.pk])

    def active_at(self, moment) -> bool:
        """Whether the rule's schedule covers `moment` (UTC)."""
        if not self.enabled:
            return False
        if self.starts_at and moment < self.starts_at or self.ends_at and moment >= self.ends_at:
            return False
        if self.weekdays and moment.weekday() not in self.weekdays:
            return False
        if self.daily_start and self.daily_end:
            now = moment.time()
            if self.daily_start <= self.daily_end:
                return self.daily_start <= now < self.daily_end
            return now >= self.daily_start or now < self.daily_end  # a window across midnight
        return True

    def matches(self, alert: "Alert") -> bool:
        if self.subscription_id != alert.subscription_id:
            return False
        if self.vault_id and self.vault_id != alert.vault_id:
            return False
        if self.severities and alert.severity not in self.severities:
            return False
        return not (self.categories and alert.category not in self.categories)


class Alert(models.Model):
    """A fired alert. Deduplicated by its key (rule, resource, error code) while open, counting occurrences.
    Users move `state` new → acknowledged → closed; the system sets `monitor_condition` fired/resolved."""

    rule_key = models.CharField(max_length=80, help_text="job.backup_failure, security.<kind>, metric.<rule id>")
    name = models.CharField(max_length=200)
    category = models.CharField(max_length=10, choices=AlertCategory.choices)
    severity = models.CharField(max_length=4, choices=Severity.choices)
    state = models.CharField(max_length=14, choices=AlertState.choices, default=AlertState.NEW)
    monitor_condition = models.CharField(
        max_length=10, choices=MonitorCondition.choices, default=MonitorCondition.FIRED
    )
    metric_rule = models.ForeignKey(
        MetricAlertRule, null=True, blank=True, on_delete=models.SET_NULL, related_name="alerts"
    )
    tenant = _scope_fk("tenant")
    subscription = _scope_fk("subscription")
    resource_group = _scope_fk("resource_group")
    vault = models.ForeignKey("vaults.Vault", null=True, blank=True, on_delete=models.SET_NULL, related_name="alerts")
    instance = models.ForeignKey(
        "vaults.BackupInstance", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    datasource = models.ForeignKey(
        "inventory.Datasource", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    datasource_kind = models.CharField(max_length=20, blank=True)
    resource = models.CharField(max_length=300, help_text="The affected resource, for people.")
    resource_key = models.CharField(max_length=120, help_text="The affected resource, for deduplication.")
    error_code = models.CharField(max_length=50, blank=True)
    dedup_key = models.CharField(max_length=300)
    description = models.TextField()
    recommended_action = models.TextField(blank=True)
    occurrences = models.PositiveIntegerField(default=1)
    first_fired = models.DateTimeField()
    last_fired = models.DateTimeField(db_index=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    clean_evaluations = models.PositiveSmallIntegerField(default=0)
    state_changed_at = models.DateTimeField(null=True, blank=True)
    state_changed_by = models.CharField(max_length=150, blank=True)
    job = models.ForeignKey(Job, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    context = models.JSONField(default=dict, blank=True)

    objects = ScopedManager()
    scope_fields = SCOPE_KEYS

    class Meta:
        ordering = ["-last_fired", "-id"]
        constraints = [
            # One open, fired alert per key: concurrent raisers add an occurrence instead of a second alert.
            models.UniqueConstraint(
                fields=["dedup_key"],
                condition=Q(state__in=OPEN_ALERT_STATES, monitor_condition=MonitorCondition.FIRED),
                name="one_open_alert_per_key",
            )
        ]
        indexes = [models.Index(fields=["state", "last_fired"], name="alert_state_last_fired")]

    def __str__(self) -> str:
        return f"{self.name}: {self.resource}"

    def get_absolute_url(self) -> str:
        return reverse("monitoring:alert_detail", args=[self.pk])

    @property
    def is_open(self) -> bool:
        return self.state in OPEN_ALERT_STATES

    @property
    def scope_kind(self) -> str:
        """Datasource alert (carries a datasource) or global alert."""
        return "datasource" if self.datasource_id or self.instance_id else "global"


class Delivery(models.Model):
    """One notification of one alert (or a test) through one channel of an action group, with every attempt."""

    tenant = _scope_fk("tenant", null=False)
    subscription = _scope_fk("subscription", null=False)
    action_group = models.ForeignKey(ActionGroup, on_delete=models.CASCADE, related_name="deliveries")
    alert = models.ForeignKey(Alert, null=True, blank=True, on_delete=models.CASCADE, related_name="deliveries")
    channel = models.CharField(max_length=10, choices=Channel.choices)
    target = models.CharField(max_length=500)
    payload = models.JSONField(default=dict)
    status = models.CharField(max_length=10, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING)
    is_test = models.BooleanField(default=False)
    attempts = models.PositiveSmallIntegerField(default=0)
    max_attempts = models.PositiveSmallIntegerField(default=4)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    response_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    attempt_log = models.JSONField(default=list, blank=True)
    created = models.DateTimeField(auto_now_add=True)
    finished = models.DateTimeField(null=True, blank=True)

    objects = ScopedManager()
    scope_fields = SUBSCRIPTION_SCOPE

    class Meta:
        ordering = ["-created", "-id"]
        verbose_name_plural = "deliveries"
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="delivery_due")]

    def __str__(self) -> str:
        return f"{self.get_channel_display()} to {self.target}"

    @property
    def status_colour(self) -> str:
        return DeliveryStatus(self.status).colour
