"""Filters of the monitoring lists; the same classes back the API."""

from datetime import timedelta

import django_filters
from django.utils import timezone

from core.filtersets import ScopedFilterSet
from inventory.choices import DatasourceKind
from monitoring.choices import (
    AlertCategory,
    AlertState,
    HealthMetric,
    HealthStatus,
    JobStatus,
    MonitorCondition,
    Operation,
    Severity,
)
from monitoring.models import Alert, HealthEvent, Job

RANGE_CHOICES = [
    ("24h", "Last 24 hours"),
    ("7d", "Last 7 days"),
    ("30d", "Last 30 days"),
    ("90d", "Last 90 days"),
    ("365d", "Last 365 days"),
    ("all", "Any time"),
]
RANGE_DELTAS = {"24h": timedelta(hours=24), "7d": timedelta(days=7), "30d": timedelta(days=30)}
RANGE_DELTAS.update({"90d": timedelta(days=90), "365d": timedelta(days=365)})


class _TimeRangeMixin(django_filters.FilterSet):
    """`range=24h|7d|30d|90d|365d|all` on the model's time field; since/until give any other range."""

    time_field = "created"
    range = django_filters.ChoiceFilter(choices=RANGE_CHOICES, method="filter_range", label="Time range")

    def filter_range(self, queryset, name, value):
        delta = RANGE_DELTAS.get(value)
        if delta is None:
            return queryset
        return queryset.filter(**{f"{self.time_field}__gte": timezone.now() - delta})


class JobFilterSet(_TimeRangeMixin, ScopedFilterSet):
    search_fields = ("subject", "message", "actor_name")
    scope_paths = {**ScopedFilterSet.scope_paths, "location": "vault__location", "datasource_kind": "datasource_kind"}
    operation = django_filters.MultipleChoiceFilter(choices=Operation.choices)
    status = django_filters.MultipleChoiceFilter(choices=JobStatus.choices)
    kind = django_filters.MultipleChoiceFilter(
        field_name="datasource_kind", choices=DatasourceKind.choices, label="Datasource type"
    )
    vault = django_filters.NumberFilter(field_name="vault_id")
    instance = django_filters.NumberFilter(field_name="instance_id")
    since = django_filters.IsoDateTimeFilter(field_name="created", lookup_expr="gte", label="From")
    until = django_filters.IsoDateTimeFilter(field_name="created", lookup_expr="lte", label="To")

    class Meta:
        model = Job
        fields = [
            "q",
            "tenant",
            "subscription",
            "resource_group",
            "location",
            "operation",
            "status",
            "kind",
            "vault",
            "instance",
            "range",
            "since",
            "until",
        ]


class AlertFilterSet(_TimeRangeMixin, ScopedFilterSet):
    search_fields = ("name", "resource", "description", "error_code")
    scope_paths = {**ScopedFilterSet.scope_paths, "location": "vault__location", "datasource_kind": "datasource_kind"}
    time_field = "last_fired"
    severity = django_filters.MultipleChoiceFilter(choices=Severity.choices)
    state = django_filters.MultipleChoiceFilter(choices=AlertState.choices)
    monitor_condition = django_filters.MultipleChoiceFilter(choices=MonitorCondition.choices)
    category = django_filters.MultipleChoiceFilter(choices=AlertCategory.choices)
    alert_type = django_filters.ChoiceFilter(
        choices=[("security", "Security"), ("configured", "Configured")], method="filter_type", label="Alert type"
    )
    scope_kind = django_filters.ChoiceFilter(
        choices=[("datasource", "Datasource alerts"), ("global", "Global alerts")], method="filter_scope_kind"
    )
    vault = django_filters.NumberFilter(field_name="vault_id")
    instance = django_filters.NumberFilter(field_name="instance_id")

    class Meta:
        model = Alert
        fields = [
            "q",
            "tenant",
            "subscription",
            "resource_group",
            "location",
            "severity",
            "state",
            "monitor_condition",
            "category",
            "alert_type",
            "scope_kind",
            "vault",
            "instance",
            "range",
        ]

    def filter_type(self, queryset, name, value):
        if value == "security":
            return queryset.filter(category=AlertCategory.SECURITY)
        return queryset.exclude(category=AlertCategory.SECURITY)

    def filter_scope_kind(self, queryset, name, value):
        if value == "datasource":
            return queryset.filter(instance__isnull=False)
        return queryset.filter(instance__isnull=True)


class HealthEventFilterSet(_TimeRangeMixin, ScopedFilterSet):
    search_fields = ("instance_name", "error_code")
    scope_paths = {**ScopedFilterSet.scope_paths, "location": "vault__location", "datasource_kind": "datasource_kind"}
    time_field = "timestamp"
    metric = django_filters.MultipleChoiceFilter(choices=HealthMetric.choices)
    health_status = django_filters.MultipleChoiceFilter(choices=HealthStatus.choices)
    vault = django_filters.NumberFilter(field_name="vault_id")
    instance = django_filters.NumberFilter(field_name="instance_id")
    since = django_filters.IsoDateTimeFilter(field_name="timestamp", lookup_expr="gte")
    until = django_filters.IsoDateTimeFilter(field_name="timestamp", lookup_expr="lte")

    class Meta:
        model = HealthEvent
        fields = ["q", "tenant", "subscription", "resource_group", "location", "metric", "health_status", "vault"]
