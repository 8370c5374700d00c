"""Tables of the monitoring pages: jobs, alerts, health events, rules, action groups, deliveries."""

import django_tables2 as tables
from django.template.defaultfilters import filesizeformat
from django.utils.html import format_html

from core.tables import BadgeColumn, BaseTable
from monitoring.choices import (
    AlertCategory,
    AlertState,
    DeliveryStatus,
    HealthStatus,
    JobStatus,
    MonitorCondition,
    Severity,
)
from monitoring.models import ActionGroup, Alert, AlertProcessingRule, Delivery, HealthEvent, Job, MetricAlertRule


class JobTable(BaseTable):
    id = tables.Column(linkify=True, verbose_name="Job")
    subject = tables.Column(verbose_name="Datasource / item")
    datasource_kind = tables.Column(verbose_name="Datasource type")
    operation = tables.Column()
    status = BadgeColumn(JobStatus)
    created = tables.DateTimeColumn(format="Y-m-d H:i:s", verbose_name="Start time (UTC)")
    duration = tables.Column(orderable=False, empty_values=())
    bytes_done = tables.Column(verbose_name="Data transferred")
    vault = tables.Column()
    actor_name = tables.Column(verbose_name="By")

    class Meta(BaseTable.Meta):
        model = Job
        fields = (
            "id",
            "subject",
            "datasource_kind",
            "operation",
            "status",
            "created",
            "duration",
            "bytes_done",
            "vault",
            "actor_name",
        )

    def render_id(self, value):
        return f"#{value}"

    def render_bytes_done(self, value):
        return filesizeformat(value)

    def render_duration(self, record):
        if record.duration is None:
            return format_html('<span class="text-secondary">{}</span>', "running" if record.is_active else "—")
        seconds = int(record.duration.total_seconds())
        return f"{seconds // 3600:d}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


class AlertTable(BaseTable):
    select = tables.CheckBoxColumn(accessor="pk", attrs={"th__input": {"aria-label": "Select all"}})
    id = tables.Column(linkify=True, verbose_name="Alert")
    name = tables.Column(linkify=True)
    severity = BadgeColumn(Severity)
    category = BadgeColumn(AlertCategory)
    resource = tables.Column(verbose_name="Affected resource")
    state = BadgeColumn(AlertState)
    monitor_condition = BadgeColumn(MonitorCondition, verbose_name="Condition")
    occurrences = tables.Column(verbose_name="Count")
    last_fired = tables.DateTimeColumn(format="Y-m-d H:i", verbose_name="Last fired (UTC)")
    vault = tables.Column()

    class Meta(BaseTable.Meta):
        model = Alert
        fields = (
            "select",
            "id",
            "name",
            "severity",
            "category",
            "resource",
            "state",
            "monitor_condition",
            "occurrences",
            "last_fired",
            "vault",
        )

    def render_id(self, value):
        return f"#{value}"


class HealthEventTable(BaseTable):
    timestamp = tables.DateTimeColumn(format="Y-m-d H:i:s", verbose_name="Time (UTC)")
    metric = tables.Column()
    health_status = BadgeColumn(HealthStatus, verbose_name="Health status")
    instance_name = tables.Column(verbose_name="Datasource")
    datasource_kind = tables.Column(verbose_name="Datasource type")
    vault = tables.Column()
    error_code = tables.Column(verbose_name="Error")
    job = tables.Column(linkify=True)

    class Meta(BaseTable.Meta):
        model = HealthEvent
        fields = (
            "timestamp",
            "metric",
            "health_status",
            "instance_name",
            "datasource_kind",
            "vault",
            "error_code",
            "job",
        )

    def render_job(self, value):
        return f"#{value.pk}"


class MetricAlertRuleTable(BaseTable):
    name = tables.Column(linkify=True)
    condition = tables.Column(orderable=False, empty_values=())
    severity = BadgeColumn(Severity)
    stateful = tables.BooleanColumn()
    enabled = tables.BooleanColumn()
    subscription = tables.Column()
    last_evaluated_at = tables.DateTimeColumn(format="Y-m-d H:i", verbose_name="Last evaluated (UTC)")

    class Meta(BaseTable.Meta):
        model = MetricAlertRule
        fields = ("name", "condition", "severity", "stateful", "enabled", "subscription", "last_evaluated_at")


class ActionGroupTable(BaseTable):
    name = tables.Column(linkify=True)
    channels = tables.Column(orderable=False, empty_values=())
    enabled = tables.BooleanColumn()
    subscription = tables.Column()

    class Meta(BaseTable.Meta):
        model = ActionGroup
        fields = ("name", "channels", "enabled", "subscription")

    def render_channels(self, value):
        return ", ".join(value) or "—"


class AlertProcessingRuleTable(BaseTable):
    name = tables.Column(linkify=True)
    action = tables.Column()
    starts_at = tables.DateTimeColumn(format="Y-m-d H:i", verbose_name="From (UTC)")
    ends_at = tables.DateTimeColumn(format="Y-m-d H:i", verbose_name="Until (UTC)")
    enabled = tables.BooleanColumn()
    subscription = tables.Column()

    class Meta(BaseTable.Meta):
        model = AlertProcessingRule
        fields = ("name", "action", "starts_at", "ends_at", "enabled", "subscription")


class DeliveryTable(BaseTable):
    created = tables.DateTimeColumn(format="Y-m-d H:i:s", verbose_name="Created (UTC)")
    channel = tables.Column()
    target = tables.Column()
    alert = tables.Column(linkify=True)
    is_test = tables.BooleanColumn(verbose_name="Test")
    status = BadgeColumn(DeliveryStatus)
    attempts = tables.Column()
    response_code = tables.Column(verbose_name="Response")
    last_error = tables.Column(verbose_name="Last error")
    attempt_log = tables.Column(verbose_name="Attempts", orderable=False)

    class Meta(BaseTable.Meta):
        model = Delivery
        fields = (
            "created",
            "channel",
            "target",
            "alert",
            "is_test",
            "status",
            "attempts",
            "response_code",
            "last_error",
            "attempt_log",
        )

    def render_attempt_log(self, value):
        parts = []
        for entry in value:
            outcome = entry.get("response_code") or ("ok" if entry.get("ok") else "error")
            parts.append(f"#{entry.get('attempt')} {entry.get('at', '')[11:19]} → {outcome}")
        return "; ".join(parts)
