"""The security rules of vaults, each in one place: the multi-user authorization check, immutability,
soft delete windows, security events and the security posture of a vault.

Services call `ensure_authorized` before every protected operation; pages, the API, the admin and
tasks reach those operations only through the services.
"""

from dataclasses import dataclass
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from core.exceptions import DomainError
from core.permissions import has_permission
from core.services import change_record_write
from vaults.choices import AccessRequestStatus, Immutability, Posture, ProtectedOperation, SoftDeleteState
from vaults.models import AccessRequest, Vault

MAX_REQUEST_HOURS = 8


class AuthorizationRequired(DomainError):
    """A protected operation on a guarded vault needs an approved access request."""

    status_code = 403


def ensure_authorized(*, actor, vault: Vault, operation: str) -> AccessRequest | None:
    """The multi-user authorization check. Passes when the vault has no Resource Guard, when the guard
    does not protect `operation`, when the actor is the product itself (scheduled tasks never perform a
    protected operation on their own), or when the actor holds an approved, unexpired, unused access
    request for this operation (or a time window) on this vault, approved by someone else. A
    single-operation request is consumed by this call."""
    guard = vault.resource_guard
    if guard is None or not guard.guards(operation) or getattr(actor, "is_system", False):
        return None
    now = timezone.now()
    AccessRequest.objects.filter(status=AccessRequestStatus.APPROVED, valid_until__lte=now).update(
        status=AccessRequestStatus.EXPIRED
    )
    candidates = AccessRequest.objects.filter(
        guard=guard, vault=vault, requester_id=actor.pk, status=AccessRequestStatus.APPROVED, valid_until__gt=now
    ).exclude(approver_id=actor.pk)
    # An approval counts only while its approver still holds security admin rights on the guard.
    candidates = [
        c
        for c in candidates.select_related("approver")
        if c.approver and has_permission(c.approver, "approve_access", guard)
    ]
    window = next((c for c in candidates if c.operation == ""), None)
    if window is not None:
        return window
    single = min((c for c in candidates if c.operation == operation), key=lambda c: c.valid_until, default=None)
    if single is not None:
        with transaction.atomic():
            used = AccessRequest.objects.filter(pk=single.pk, status=AccessRequestStatus.APPROVED).update(
                status=AccessRequestStatus.USED, used=now
            )
        if used == 1:
            change_record_write(
                actor=actor,
                action="access_used",
                obj=vault,
                message=f"{ProtectedOperation(operation).label} with request #{single.pk}",
            )
            return single
    label = ProtectedOperation(operation).label
    raise AuthorizationRequired(
        f"'{label}' on vault {vault} is protected by Resource Guard {guard}. Request access for this operation; "
        f"a security admin of the guard must approve it. {guard.description}".strip(),
        code="mua_required",
    )


def ensure_mutable(vault: Vault, what: str) -> None:
    """Immutable vaults refuse anything that would remove backup data early or shorten retention."""
    if vault.immutability in (Immutability.UNLOCKED, Immutability.LOCKED):
        raise DomainError(
            f"Vault {vault} is immutable ({vault.get_immutability_display().lower()}): {what} is not allowed.",
            code="vault_immutable",
        )


def soft_delete_active(vault: Vault) -> bool:
    return vault.soft_delete_state in (SoftDeleteState.ENABLED, SoftDeleteState.ALWAYS_ON)


def purge_after(vault: Vault):
    """When data deleted now leaves the vault: the soft delete days in force at deletion time."""
    return timezone.now() + timedelta(days=vault.soft_delete_days)


def security_event(*, actor, kind: str, vault: Vault, message: str) -> None:
    """Record a security event in the activity log and raise its always-on Sev0 alert."""
    change_record_write(actor=actor, action=f"security:{kind}", obj=vault, message=message)
    from monitoring.events import security_event as raise_alert

    raise_alert(kind=kind, vault=vault, message=message)


def posture_q(level: str):
    """A queryset filter selecting the vaults at one security level (the same rule as `vault_posture`)."""
    from django.db.models import Q

    irreversible = Q(soft_delete_state=SoftDeleteState.ALWAYS_ON) | Q(immutability=Immutability.LOCKED)
    protected = Q(soft_delete_state__in=[SoftDeleteState.ENABLED, SoftDeleteState.ALWAYS_ON]) | Q(
        immutability=Immutability.LOCKED
    )
    mua = Q(resource_guard__isnull=False)
    return {
        Posture.EXCELLENT: irreversible & mua,
        Posture.GOOD: protected & ~(irreversible & mua),
        Posture.FAIR: ~protected & mua,
        Posture.POOR: ~protected & ~mua,
    }[level]


@dataclass(frozen=True)
class PostureResult:
    level: str
    advice: str

    @property
    def colour(self) -> str:
        return Posture(self.level).colour

    @property
    def label(self) -> str:
        return Posture(self.level).label


def vault_posture(vault: Vault) -> PostureResult:
    """Security level of a vault, with what to change to reach the next level."""
    mua = vault.resource_guard_id is not None
    irreversible = vault.soft_delete_state == SoftDeleteState.ALWAYS_ON or vault.immutability == Immutability.LOCKED
    protected = soft_delete_active(vault) or vault.immutability == Immutability.LOCKED
    if irreversible and mua:
        return PostureResult(Posture.EXCELLENT, "Nothing to change.")
    if protected:
        if not mua:
            return PostureResult(
                Posture.GOOD,
                "Link a Resource Guard (multi-user authorization)"
                + ("" if irreversible else " and make soft delete always-on or lock immutability")
                + " to reach Excellent.",
            )
        return PostureResult(Posture.GOOD, "Make soft delete always-on or lock immutability to reach Excellent.")
    if mua:
        return PostureResult(Posture.FAIR, "Enable soft delete to reach Good.")
    return PostureResult(Posture.POOR, "Enable soft delete (or lock immutability) to reach Good.")
