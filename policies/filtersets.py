"""Filters of the backup policy list; the same class backs the API."""

import django_filters

from core.filtersets import ScopedFilterSet
from policies.models import BackupPolicy


class BackupPolicyFilterSet(ScopedFilterSet):
    scope_paths = {**ScopedFilterSet.scope_paths, "location": "vault__location", "datasource_kind": "datasource_kind"}
    search_fields = ("name", "vault__name")
    vault = django_filters.NumberFilter(field_name="vault_id")
    frequency = django_filters.ChoiceFilter(
        choices=[("hourly", "Hourly"), ("daily", "Daily"), ("weekly", "Weekly")], method="filter_frequency"
    )

    class Meta:
        model = BackupPolicy
        fields = ["q", "tenant", "subscription", "resource_group", "location", "datasource_kind", "vault"]

    def filter_frequency(self, queryset, name, value):
        return queryset.filter(schedule__frequency=value) if value else queryset
