"""The Backup Center shell: Overview and the action center."""

from django.contrib.auth.decorators import login_required
from django.db.models import Count
from django.http import Http404
from django.shortcuts import redirect, render

from inventory.choices import DatasourceKind
from inventory.models import Datasource
from inventory.selectors import protectable_datasources

SCOPE_KEYS_OVERVIEW = ("tenant", "subscription", "resource_group", "location", "datasource_kind")


def _scoped(request, queryset):
    """Apply the scope bar's tenant/subscription/resource group/location/type filters to a queryset."""
    from core.context_processors import SCOPE_KEYS

    for key, field in SCOPE_KEYS.items():
        values = [v for v in request.GET.getlist(key) if v]
        if values:
            queryset = queryset.filter(**{f"{field}__in": values})
    return queryset


def _security_posture(vaults) -> list[tuple] | None:
    """[(level label, colour, count, share %)] of the vaults in scope; None until the security features exist."""
    try:
        from vaults.choices import Posture
        from vaults.security import vault_posture
    except ImportError:
        return None
    counts = {level: 0 for level in Posture}
    for vault in vaults:
        counts[Posture(vault_posture(vault).level)] += 1
    total = sum(counts.values()) or 1
    return [(level.label, level.colour, n, round(100 * n / total)) for level, n in counts.items()]


@login_required
def overview(request):
    """Overview: jobs, backup instances, alerts and security posture of the user's scope, each number a link to the
    filtered list; datasources not protected yet; a 14-day backup health chart (loaded lazily)."""
    from monitoring.choices import JobStatus, Severity
    from monitoring.selectors import alert_tile, job_tile, scoped
    from vaults.choices import ProtectionState
    from vaults.models import BackupInstance, Vault

    scope = {key: [v for v in request.GET.getlist(key) if v] for key in SCOPE_KEYS_OVERVIEW}
    datasources = _scoped(request, Datasource.objects.for_user(request.user))
    protectable = _scoped(request, protectable_datasources(request.user))
    by_kind = {row: 0 for row in DatasourceKind.values}
    for kind in datasources.values_list("kind", flat=True):
        by_kind[kind] += 1
    instance_paths = {
        "tenant": "tenant",
        "subscription": "subscription",
        "resource_group": "resource_group",
        "location": "vault__location",
        "datasource_kind": "datasource__kind",
    }
    instances = scoped(BackupInstance.objects.for_user(request.user), scope, instance_paths)
    by_state = dict(instances.values_list("protection_state").annotate(n=Count("id")).order_by())
    vaults = scoped(Vault.objects.for_user(request.user), scope, {**instance_paths, "location": "location"})
    if scope.get("datasource_kind"):
        vaults = vaults.filter(instances__datasource__kind__in=scope["datasource_kind"]).distinct()
    jobs = job_tile(request.user, scope)
    alerts = alert_tile(request.user, scope)
    shown_statuses = [JobStatus.COMPLETED, JobStatus.COMPLETED_WITH_WARNINGS, JobStatus.FAILED, JobStatus.IN_PROGRESS]
    context = {
        "title": "Overview",
        "datasource_count": datasources.count(),
        "not_found_count": datasources.filter(exists=False).count(),
        "protectable_count": protectable.count(),
        "by_kind": [(DatasourceKind(k).label, n) for k, n in by_kind.items() if n],
        "job_rows": [
            (status, JobStatus(status).label, JobStatus(status).colour, jobs["backup"][status], jobs["restore"][status])
            for status in shown_statuses
        ],
        "instance_rows": [(s.value, s.label, s.colour, by_state.get(s.value, 0)) for s in ProtectionState],
        "instance_total": sum(by_state.values()),
        "alerts": alerts,
        "alert_rows": [
            (s.value, s.label, s.colour, alerts["security"].get(s.value, 0), alerts["configured"].get(s.value, 0))
            for s in Severity
        ],
        "posture": _security_posture(vaults),
    }
    return render(request, "backupcenter/overview.html", context)


@login_required
def action_center(request, action: str):
    """The + actions on Overview: each opens its wizard."""
    targets = {
        "backup": "vaults:instance_add",
        "restore": "vaults:restore",
        "policy": "policies:policy_add",
        "vault": "vaults:vault_add",
    }
    if action not in targets:
        raise Http404
    return redirect(targets[action])
