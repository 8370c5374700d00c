"""Resource Guards, linking them to vaults, and access requests (multi-user authorization)."""

from datetime import timedelta

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from core.exceptions import DomainError
from core.permissions import ensure_permission
from core.roles import Action
from core.services import change_record_write, snapshot
from inventory.models import Location, ResourceGroup
from vaults.choices import (
    MANDATORY_OPERATIONS,
    AccessRequestStatus,
    ProtectedOperation,
)
from vaults.models import (
    AccessRequest,
    ResourceGuard,
    Vault,
)
from vaults.security import (
    MAX_REQUEST_HOURS,
    ensure_authorized,
    security_event,
)

# Resource Guards and multi-user authorization ----------------------------------------------------


def _clean_operations(operations) -> list[str]:
    if operations is None:
        return ResourceGuard.default_operations()
    if not isinstance(operations, list | tuple) or any(op not in ProtectedOperation.values for op in operations):
        raise ValidationError({"protected_operations": ["Choose operations from the list of protected operations."]})
    return sorted({*operations, *MANDATORY_OPERATIONS})


@transaction.atomic
def guard_create(
    *,
    actor,
    resource_group: ResourceGroup,
    location: Location,
    name: str,
    description: str = "",
    protected_operations: list[str] | None = None,
) -> ResourceGuard:
    """A security admin creates a Resource Guard in a scope they own."""
    ensure_permission(actor, Action.MANAGE_GUARD, scope=resource_group)
    guard = ResourceGuard(
        resource_group=resource_group,
        tenant_id=resource_group.tenant_id,
        subscription_id=resource_group.subscription_id,
        location=location,
        name=name,
        description=description,
        protected_operations=_clean_operations(protected_operations),
    )
    guard.full_clean(exclude=["tenant", "subscription"])
    guard.save()
    change_record_write(actor=actor, action="create", obj=guard, after=snapshot(guard))
    return guard


@transaction.atomic
def guard_update(
    *, actor, guard: ResourceGuard, description: str | None = None, protected_operations: list[str] | None = None
) -> ResourceGuard:
    """Change what a guard protects; the mandatory operations stay protected whatever is asked."""
    ensure_permission(actor, Action.MANAGE_GUARD, scope=guard)
    before = snapshot(guard)
    if description is not None:
        guard.description = description
    if protected_operations is not None:
        guard.protected_operations = _clean_operations(protected_operations)
    guard.save()
    change_record_write(actor=actor, action="update", obj=guard, before=before, after=snapshot(guard))
    return guard


@transaction.atomic
def vault_link_guard(*, actor, vault: Vault, guard: ResourceGuard) -> Vault:
    """Protect a vault with a Resource Guard: a backup admin of the vault who can at least read the guard."""
    ensure_permission(actor, Action.CHANGE, scope=vault)
    ensure_permission(actor, Action.VIEW, scope=guard)
    if guard.location_id != vault.location_id:
        raise ValidationError({"guard": [f"The Resource Guard must be in the vault's location ({vault.location})."]})
    vault = Vault.objects.select_for_update().get(pk=vault.pk)
    if vault.resource_guard_id == guard.pk:
        raise DomainError(f"Vault {vault} is already protected by {guard}.", code="already_linked")
    if vault.resource_guard_id is not None:
        raise DomainError(
            "Unlink the current Resource Guard first (that itself needs approved access).", code="guard_linked"
        )
    before = snapshot(vault)
    vault.resource_guard = guard
    vault.save(update_fields=["resource_guard"])
    change_record_write(actor=actor, action="link_guard", obj=vault, before=before, after=snapshot(vault))
    return vault


@transaction.atomic
def vault_unlink_guard(*, actor, vault: Vault) -> Vault:
    """Remove MUA protection from a vault: always needs an approved access request."""
    ensure_permission(actor, Action.CHANGE, scope=vault)
    vault = Vault.objects.select_for_update(of=("self",)).select_related("resource_guard").get(pk=vault.pk)
    if vault.resource_guard is None:
        raise DomainError("This vault has no Resource Guard.", code="no_guard")
    ensure_authorized(actor=actor, vault=vault, operation=ProtectedOperation.REMOVE_MUA)
    before = snapshot(vault)
    guard = vault.resource_guard
    vault.resource_guard = None
    vault.save(update_fields=["resource_guard"])
    change_record_write(actor=actor, action="unlink_guard", obj=vault, before=before, after=snapshot(vault))
    security_event(
        actor=actor,
        kind="mua_removed",
        vault=vault,
        message=f"Multi-user authorization (Resource Guard {guard}) was removed from vault {vault} by {actor}.",
    )
    return vault


@transaction.atomic
def access_request_create(
    *, actor, vault: Vault, operation: str, justification: str, duration_hours: int = 1
) -> AccessRequest:
    """Ask the guard's security admins for one protected operation on one vault (or, with no operation, a
    time window for all of them)."""
    ensure_permission(actor, Action.VIEW, scope=vault)
    guard = vault.resource_guard
    if guard is None:
        raise DomainError(f"Vault {vault} has no Resource Guard; nothing needs approval.", code="no_guard")
    errors: dict[str, list[str]] = {}
    if operation and operation not in ProtectedOperation.values:
        errors["operation"] = ["Unknown operation."]
    elif operation and not guard.guards(operation):
        errors["operation"] = [f"Resource Guard {guard} does not protect '{ProtectedOperation(operation).label}'."]
    if not isinstance(duration_hours, int) or not 1 <= duration_hours <= MAX_REQUEST_HOURS:
        errors["duration_hours"] = [f"Ask for 1 to {MAX_REQUEST_HOURS} hours."]
    if not (justification or "").strip():
        errors["justification"] = ["Say why you need this access."]
    if errors:
        raise ValidationError(errors)
    request = AccessRequest.objects.create(
        guard=guard,
        vault=vault,
        operation=operation or "",
        requester=actor,
        justification=justification.strip(),
        duration_hours=duration_hours,
    )
    change_record_write(actor=actor, action="access_requested", obj=vault, message=f"{request} (#{request.pk})")
    return request


def _decide(actor, request: AccessRequest, *, approve: bool, note: str) -> AccessRequest:
    ensure_permission(actor, Action.APPROVE_ACCESS, scope=request.guard)
    if request.requester_id == actor.pk:
        raise DomainError(
            "You cannot decide your own access request; another security admin must.", code="self_approval"
        )
    now = timezone.now()
    values = {
        "status": AccessRequestStatus.APPROVED if approve else AccessRequestStatus.DENIED,
        "approver": actor,
        "decided": now,
        "decision_note": note,
    }
    if approve:
        values["valid_until"] = now + timedelta(hours=request.duration_hours)
    updated = AccessRequest.objects.filter(pk=request.pk, status=AccessRequestStatus.PENDING).update(**values)
    if updated != 1:
        raise DomainError("This request has already been decided.", code="already_decided")
    request.refresh_from_db()
    change_record_write(
        actor=actor,
        action="access_approved" if approve else "access_denied",
        obj=request.vault,
        message=f"{request} (#{request.pk}) {note}".strip(),
    )
    return request


@transaction.atomic
def access_request_approve(*, actor, request: AccessRequest, note: str = "") -> AccessRequest:
    """A security admin of the guard, other than the requester, approves; access lasts the asked duration."""
    return _decide(actor, request, approve=True, note=note)


@transaction.atomic
def access_request_deny(*, actor, request: AccessRequest, note: str = "") -> AccessRequest:
    """A security admin of the guard, other than the requester, denies."""
    return _decide(actor, request, approve=False, note=note)
