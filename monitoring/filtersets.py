"""Filters of the jobs list; the same class backs the API."""

import django_filters

from core.filtersets import ScopedFilterSet
from inventory.choices import DatasourceKind
from monitoring.choices import JobStatus, Operation
from monitoring.models import Job


class JobFilterSet(ScopedFilterSet):
    search_fields = ("subject", "message", "actor_name")
    scope_paths = {**ScopedFilterSet.scope_paths, "location": "vault__location", "datasource_kind": "datasource_kind"}
    operation = django_filters.MultipleChoiceFilter(choices=Operation.choices)
    status = django_filters.MultipleChoiceFilter(choices=JobStatus.choices)
    kind = django_filters.MultipleChoiceFilter(field_name="datasource_kind", choices=DatasourceKind.choices,
                                               label="Datasource type")
    vault = django_filters.NumberFilter(field_name="vault_id")
    instance = django_filters.NumberFilter(field_name="instance_id")
    since = django_filters.IsoDateTimeFilter(field_name="created", lookup_expr="gte", label="From")
    until = django_filters.IsoDateTimeFilter(field_name="created", lookup_expr="lte", label="To")

    class Meta:
        model = Job
        fields = ["q", "tenant", "subscription", "resource_group", "location", "operation", "status", "kind",
                  "vault", "instance", "since", "until"]
