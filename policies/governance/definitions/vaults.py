"""Definitions judged per vault: soft delete, immutability, multi-user authorization, customer-managed keys,
disallowed storage redundancy."""

from __future__ import annotations

from datetime import datetime

from django.db.models import Case, CharField, Q, QuerySet, Value, When

from policies.governance.choices import Effect, ResourceType
from policies.governance.definitions.base import (
    Definition,
    Parameter,
    S,
    _flag,
)

# 3–5. Vault security settings (Audit) ------------------------------------------------------------------------------


def _vaults(params: dict) -> QuerySet:
    from vaults.models import Vault

    return Vault.objects.all()


def _soft_delete_state(params: dict, now: datetime):
    ok = ["always_on"] if params["always_on_only"] else ["enabled", "always_on"]
    state = Case(
        When(soft_delete_state__in=ok, then=Value(S.COMPLIANT)),
        default=Value(S.NON_COMPLIANT),
        output_field=CharField(),
    )
    reason = Case(
        When(soft_delete_state="disabled", then=Value("Soft delete is disabled.")),
        When(soft_delete_state="enabled", then=Value("Soft delete is enabled but not always-on.")),
        default=Value("Soft delete is always-on."),
        output_field=CharField(),
    )
    if not params["always_on_only"]:
        reason = Case(When(soft_delete_state="enabled", then=Value("Soft delete is enabled.")), default=reason)
    return state, reason


SOFT_DELETE = Definition(
    key="soft_delete_enabled",
    version=1,
    name="Soft delete must be enabled for vaults",
    description="Audits vaults whose soft delete is off (or, with the parameter, not always-on).",
    resource_type=ResourceType.VAULT,
    effects=(Effect.AUDIT, Effect.DISABLED),
    default_effect=Effect.AUDIT,
    parameters=(Parameter("always_on_only", "Only always-on soft delete counts", "bool", default=True),),
    applicable=_vaults,
    state=_soft_delete_state,
    reference="Azure 31b8092a-36b8-434b-9af7-5ec844364148 (checkAlwaysOnSoftDeleteOnly)",
)


def _immutability_state(params: dict, now: datetime):
    ok = ["locked"] if params["locked_only"] else ["unlocked", "locked"]
    state = Case(
        When(immutability__in=ok, then=Value(S.COMPLIANT)), default=Value(S.NON_COMPLIANT), output_field=CharField()
    )
    reason = Case(
        When(immutability="disabled", then=Value("Immutability is disabled.")),
        When(
            immutability="unlocked",
            then=Value("Immutability is enabled but not locked." if params["locked_only"] else "Immutability is on."),
        ),
        default=Value("Immutability is locked."),
        output_field=CharField(),
    )
    return state, reason


IMMUTABILITY = Definition(
    key="immutability_enabled",
    version=1,
    name="Immutability must be enabled for vaults",
    description="Audits vaults without immutability (or, with the parameter, without locked immutability).",
    resource_type=ResourceType.VAULT,
    effects=(Effect.AUDIT, Effect.DISABLED),
    default_effect=Effect.AUDIT,
    parameters=(Parameter("locked_only", "Only locked immutability counts", "bool", default=True),),
    applicable=_vaults,
    state=_immutability_state,
    reference="Azure d6f6f560-14b7-49a4-9fc8-d2c3a9807868 (checkLockedImmutabilityOnly)",
)

MUA = Definition(
    key="mua_enabled",
    version=1,
    name="Multi-user authorization (MUA) must be enabled for vaults",
    description="Audits vaults that no Resource Guard protects.",
    resource_type=ResourceType.VAULT,
    effects=(Effect.AUDIT, Effect.DISABLED),
    default_effect=Effect.AUDIT,
    parameters=(),
    applicable=_vaults,
    state=lambda params, now: _flag(
        Q(resource_guard__isnull=False), "A Resource Guard protects the vault.", "No Resource Guard protects the vault."
    ),
    reference="Azure c7031eab-0fc0-4cd9-acd0-4497bd66d91a",
)


# 6. Customer-managed keys (Audit or Deny) ------------------------------------------------------------------------


def _cmk_violation(vault, params: dict) -> str | None:
    if vault.encryption != "customer_managed":
        return f"Vault {vault.name} must use a customer-managed key."
    return None


CMK = Definition(
    key="vault_cmk",
    version=1,
    name="Vaults should use customer-managed keys for encrypting backup data",
    description="Audits vaults encrypted with the platform key; with Deny, such vaults cannot be created or kept.",
    resource_type=ResourceType.VAULT,
    effects=(Effect.AUDIT, Effect.DENY, Effect.DISABLED),
    default_effect=Effect.AUDIT,
    parameters=(),
    applicable=_vaults,
    state=lambda params, now: _flag(
        Q(encryption="customer_managed"), "Encrypted with a customer-managed key.", "Encrypted with the platform key."
    ),
    deny_actions=("vault.create", "vault.update"),
    violation=_cmk_violation,
    reference="Azure 2e94d99a-8a36-4563-bc77-810d8893b671",
)


# 7. Disallowed storage redundancy (Deny) -------------------------------------------------------------------------


def _redundancy_violation(vault, params: dict) -> str | None:
    if vault.redundancy in params["redundancies"]:
        return f"Vaults with {vault.redundancy} storage redundancy are not allowed here."
    return None


REDUNDANCY = Definition(
    key="disallowed_redundancy",
    version=1,
    name="Do not allow vaults of the chosen storage redundancy",
    description="Refuses creating (or changing to) a vault of a disallowed redundancy; existing ones are reported.",
    resource_type=ResourceType.VAULT,
    effects=(Effect.DENY, Effect.DISABLED),
    default_effect=Effect.DENY,
    parameters=(Parameter("redundancies", "Disallowed redundancy", "multichoice", default=["GRS"], choices=()),),
    applicable=_vaults,
    state=lambda params, now: (
        Case(
            When(redundancy__in=params["redundancies"], then=Value(S.NON_COMPLIANT)),
            default=Value(S.COMPLIANT),
            output_field=CharField(),
        ),
        Case(
            When(redundancy__in=params["redundancies"], then=Value("Its storage redundancy is disallowed.")),
            default=Value("Its storage redundancy is allowed."),
            output_field=CharField(),
        ),
    ),
    deny_actions=("vault.create", "vault.update"),
    violation=_redundancy_violation,
    reference="Azure 8f09fda1-91a2-4e14-96a2-67c6281158f7",
)
