"""The permission gate: which objects a user may see or act on, computed from role assignments.

Every scoped model lists its scope levels (`scope_fields`), e.g. a datasource has tenant, subscription
and resource group keys copied onto its row. An assignment at level L grants its actions on every row
whose L key equals the assignment's target. Container models (tenant, subscription, resource group)
are also *visible* to users who hold a role somewhere below them, so they can navigate to it.
"""

from dataclasses import dataclass

from django.db.models import Q

from core.exceptions import PermissionDenied
from core.roles import LEVEL_ORDER, role_grants


@dataclass(frozen=True)
class Grant:
    """One role assignment reduced to what the gate needs."""

    role: str
    tenant_id: int | None
    subscription_id: int | None
    resource_group_id: int | None
    vault_id: int | None
    level: str

    def target_id(self, level: str) -> int | None:
        return getattr(self, f"{level}_id")


def user_grants(user) -> list[Grant]:
    """The user's grants (direct and through groups), cached on the user object for the request."""
    if not getattr(user, "is_authenticated", False):
        return []
    cached = getattr(user, "_bc_grants", None)
    if cached is not None:
        return cached
    from inventory.models import RoleAssignment

    rows = RoleAssignment.objects.filter(Q(user=user) | Q(group__in=user.groups.all())).values_list(
        "role", "tenant_id", "subscription_id", "resource_group_id", "vault_id", "scope_level"
    )
    grants = [Grant(*row) for row in rows]
    user._bc_grants = grants
    return grants


def clear_grant_cache(user) -> None:
    if hasattr(user, "_bc_grants"):
        del user._bc_grants


def scope_q(user, model, action: str) -> Q | None:
    """A filter limiting `model` rows to those `user` may perform `action` on; None means no limit."""
    if getattr(user, "is_system", False) or (getattr(user, "is_superuser", False) and user.is_active):
        return None
    fields: dict[str, str] = model.scope_fields
    deepest = [level for level in LEVEL_ORDER if level in fields][-1]
    by_field: dict[str, set[int]] = {}
    for grant in user_grants(user):
        if grant.level in fields:
            if role_grants(grant.role, action):
                by_field.setdefault(fields[grant.level], set()).add(grant.target_id(grant.level))
        elif action == "view" and getattr(model, "scope_container", False) and role_grants(grant.role, "view"):
            # A role deeper than this container makes the container visible (navigation only).
            target = grant.target_id(deepest)
            if target is not None:
                by_field.setdefault(fields[deepest], set()).add(target)
    q = Q(pk__in=[])
    for field, ids in by_field.items():
        q |= Q(**{f"{field}__in": sorted(ids)})
    return q


def has_permission(user, action: str, obj) -> bool:
    """Whether `user` may perform `action` on `obj` (a scoped model instance)."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return False
    if user.is_superuser or getattr(user, "is_system", False):
        return True
    fields: dict[str, str] = obj.scope_fields
    for grant in user_grants(user):
        if grant.level not in fields:
            continue
        value = obj
        for part in fields[grant.level].split("__"):
            value = getattr(value, part, None)
        if value == grant.target_id(grant.level) and role_grants(grant.role, action):
            return True
    return False


def ensure_permission(actor, action: str, *, scope) -> None:
    """Raise PermissionDenied unless `actor` may perform `action` on `scope`. Services call this first."""
    if actor is None:
        raise PermissionDenied("No acting user given.")
    if getattr(actor, "is_system", False):
        return
    if not has_permission(actor, action, scope):
        raise PermissionDenied(f"You do not have permission to {action.replace('_', ' ')} {scope}.")


def ensure_superuser(actor) -> None:
    if actor is None or not (getattr(actor, "is_superuser", False) or getattr(actor, "is_system", False)):
        raise PermissionDenied("Only administrators can change this.")


class SystemActor:
    """The product acting on its own (schedules, discovery, remediation); recorded by name in the log."""

    is_system = True
    is_authenticated = True
    is_active = True
    is_superuser = False
    pk = None
    id = None

    def __init__(self, name: str = "system") -> None:
        self.username = name

    def __str__(self) -> str:
        return self.username
