"""The scope bar: tenant, subscription, resource group, location and datasource type, kept in the URL."""

from urllib.parse import urlencode

from inventory.choices import DatasourceKind

# Query parameter → field on scoped rows.
SCOPE_KEYS = {
    "tenant": "tenant",
    "subscription": "subscription",
    "resource_group": "resource_group",
    "location": "location",
    "datasource_kind": "kind",
}


def scope_bar(request) -> dict:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated or request.path.startswith(("/api/", "/admin/")):
        return {}
    from inventory.models import Location, ResourceGroup, Subscription, Tenant

    selected = {key: [v for v in request.GET.getlist(key) if v] for key in SCOPE_KEYS}
    tenants = Tenant.objects.for_user(user)
    subscriptions = Subscription.objects.for_user(user)
    groups = ResourceGroup.objects.for_user(user)
    if selected["tenant"]:
        subscriptions = subscriptions.filter(tenant__in=selected["tenant"])
        groups = groups.filter(tenant__in=selected["tenant"])
    if selected["subscription"]:
        groups = groups.filter(subscription__in=selected["subscription"])
    pairs = [(key, value) for key, values in selected.items() for value in values]
    return {
        "scope": {
            "tenants": list(tenants.values_list("pk", "name")),
            "subscriptions": list(subscriptions.values_list("pk", "name")),
            "resource_groups": list(groups.values_list("pk", "name")),
            "locations": list(Location.objects.values_list("pk", "name")),
            "kinds": DatasourceKind.choices,
            "selected": {key: [str(v) for v in values] for key, values in selected.items()},
            "query": urlencode(pairs),
        }
    }
