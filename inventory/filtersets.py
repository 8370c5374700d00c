"""Filters of the inventory lists; the same classes back the API."""

import django_filters

from core.filtersets import ScopedFilterSet
from core.roles import Role, ScopeLevel
from inventory.choices import ConnectorKind, DatasourceKind
from inventory.models import Connector, Datasource, Location, ResourceGroup, RoleAssignment, Subscription, Tenant

NO_LOCATION_OR_KIND = {"location": None, "datasource_kind": None}


class TenantFilterSet(ScopedFilterSet):
    scope_paths = {"tenant": "id", "subscription": None, "resource_group": None, **NO_LOCATION_OR_KIND}
    search_fields = ("name", "description")

    class Meta:
        model = Tenant
        fields = ["q", "tenant"]


class SubscriptionFilterSet(ScopedFilterSet):
    scope_paths = {"tenant": "tenant", "subscription": "id", "resource_group": None, **NO_LOCATION_OR_KIND}

    class Meta:
        model = Subscription
        fields = ["q", "tenant", "subscription"]


class ResourceGroupFilterSet(ScopedFilterSet):
    scope_paths = {"tenant": "tenant", "subscription": "subscription", "resource_group": "id", **NO_LOCATION_OR_KIND}

    class Meta:
        model = ResourceGroup
        fields = ["q", "tenant", "subscription", "resource_group"]


class LocationFilterSet(ScopedFilterSet):
    scope_paths = {
        "tenant": None,
        "subscription": None,
        "resource_group": None,
        "location": "id",
        "datasource_kind": None,
    }
    search_fields = ("name", "display_name")

    class Meta:
        model = Location
        fields = ["q", "location"]


class ConnectorFilterSet(ScopedFilterSet):
    scope_paths = {**ScopedFilterSet.scope_paths, "datasource_kind": None}
    kind = django_filters.MultipleChoiceFilter(choices=ConnectorKind.choices, label="Connector type")

    class Meta:
        model = Connector
        fields = ["q", "tenant", "subscription", "resource_group", "location", "kind"]


class DatasourceFilterSet(ScopedFilterSet):
    search_fields = ("name", "host")
    kind = django_filters.MultipleChoiceFilter(choices=DatasourceKind.choices, label="Type")
    exists = django_filters.BooleanFilter(label="Found by discovery")
    protected = django_filters.BooleanFilter(method="filter_protected", label="Protected")

    class Meta:
        model = Datasource
        fields = ["q", "tenant", "subscription", "resource_group", "location", "kind", "exists", "protected"]

    def filter_protected(self, queryset, name, value):
        if value is None:
            return queryset
        from inventory.selectors import protected_datasource_ids

        ids = protected_datasource_ids()
        return queryset.filter(pk__in=ids) if value else queryset.exclude(pk__in=ids)


class RoleAssignmentFilterSet(ScopedFilterSet):
    scope_paths = {
        "tenant": "tenant",
        "subscription": "subscription",
        "resource_group": "resource_group",
        **NO_LOCATION_OR_KIND,
    }
    search_fields = ("user__username", "group__name")
    role = django_filters.MultipleChoiceFilter(choices=Role.choices)
    scope_level = django_filters.MultipleChoiceFilter(choices=ScopeLevel.choices)
    user = django_filters.CharFilter(field_name="user__username", lookup_expr="iexact")

    class Meta:
        model = RoleAssignment
        fields = ["q", "tenant", "subscription", "resource_group", "role", "scope_level", "user"]
