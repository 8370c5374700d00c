"""The filters every list shares: quick search and the scope bar (tenant, subscription, resource group,
location, datasource type). Pages and the API use the same FilterSet classes."""

import django_filters
from django.db.models import Q

from inventory.choices import DatasourceKind


def _visible(model_path: str):
    def queryset(request):
        from django.apps import apps

        model = apps.get_model(model_path)
        user = getattr(request, "user", None)
        if hasattr(model.objects, "for_user"):
            return model.objects.for_user(user, "view") if user is not None else model.objects.none()
        return model.objects.all()

    return queryset


class ScopedFilterSet(django_filters.FilterSet):
    """Base FilterSet: `q` searches `search_fields`; scope filters apply where the model has the key."""

    search_fields: tuple[str, ...] = ("name",)

    q = django_filters.CharFilter(method="search", label="Search")
    tenant = django_filters.ModelMultipleChoiceFilter(queryset=_visible("inventory.Tenant"))
    subscription = django_filters.ModelMultipleChoiceFilter(queryset=_visible("inventory.Subscription"))
    resource_group = django_filters.ModelMultipleChoiceFilter(queryset=_visible("inventory.ResourceGroup"))
    location = django_filters.ModelMultipleChoiceFilter(queryset=_visible("inventory.Location"))
    datasource_kind = django_filters.MultipleChoiceFilter(
        choices=DatasourceKind.choices, method="filter_kind", label="Datasource type"
    )

    # Where each scope filter looks on this FilterSet's model; None = the model has no such key.
    scope_paths: dict[str, str | None] = {
        "tenant": "tenant",
        "subscription": "subscription",
        "resource_group": "resource_group",
        "location": "location",
        "datasource_kind": "kind",
    }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name, path in self.scope_paths.items():
            if path is None:
                self.filters.pop(name, None)
            elif name != "datasource_kind" and name in self.filters:
                self.filters[name].field_name = path

    def search(self, queryset, name, value):
        value = value.strip()
        if not value:
            return queryset
        q = Q()
        for field in self.search_fields:
            q |= Q(**{f"{field}__icontains": value})
        return queryset.filter(q)

    def filter_kind(self, queryset, name, value):
        if not value:
            return queryset
        return queryset.filter(**{f"{self.scope_paths['datasource_kind']}__in": value})
