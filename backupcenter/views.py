"""The Backup Center shell: Overview, the action center and honest placeholders for features to come."""

from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render

from inventory.choices import DatasourceKind
from inventory.models import Datasource
from inventory.selectors import protectable_datasources

# Features whose pages are not built yet, with the work item that brings them.
COMING = {
    "alerts": ("Alerts", "monitoring"),
    "metrics": ("Metrics", "monitoring"),
    "governance": ("Governance", "governance, compliance and reports"),
    "compliance": ("Compliance", "governance, compliance and reports"),
    "reports": ("Reports", "governance, compliance and reports"),
}


def _scoped(request, queryset):
    """Apply the scope bar's tenant/subscription/resource group/location/type filters to a queryset."""
    from core.context_processors import SCOPE_KEYS

    for key, field in SCOPE_KEYS.items():
        values = [v for v in request.GET.getlist(key) if v]
        if values:
            queryset = queryset.filter(**{f"{field}__in": values})
    return queryset


@login_required
def overview(request):
    """Overview: what the user's scope holds and what is not protected yet."""
    datasources = _scoped(request, Datasource.objects.for_user(request.user))
    protectable = _scoped(request, protectable_datasources(request.user))
    by_kind = {row: 0 for row in DatasourceKind.values}
    for kind in datasources.values_list("kind", flat=True):
        by_kind[kind] += 1
    context = {
        "title": "Overview",
        "datasource_count": datasources.count(),
        "not_found_count": datasources.filter(exists=False).count(),
        "protectable_count": protectable.count(),
        "by_kind": [(DatasourceKind(k).label, n) for k, n in by_kind.items() if n],
    }
    return render(request, "backupcenter/overview.html", context)


@login_required
def action_center(request, action: str):
    """The + actions on Overview: each opens its wizard, or says plainly which work brings it."""
    from django.urls import NoReverseMatch, reverse

    targets = {
        "backup": "vaults:instance_add",
        "restore": "vaults:restore",
        "policy": "policies:policy_add",
        "vault": "vaults:vault_add",
    }
    if action not in targets:
        raise Http404
    try:
        return redirect(reverse(targets[action]))
    except NoReverseMatch:
        return redirect("coming_soon", feature=action)


@login_required
def coming_soon(request, feature: str):
    if feature not in COMING:
        raise Http404
    title, work = COMING[feature]
    return render(request, "backupcenter/coming_soon.html", {"title": title, "work": work})
