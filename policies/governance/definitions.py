"""The built-in policy definitions, category "Backup": code-defined and versioned, each with a parameter schema,
the effects an assignment may choose, how to evaluate it as a set (`applicable` + `state`) and, for Deny-capable
ones, how to judge one object a service is about to save (`violation`).

Sources: Azure Policy's built-ins for Backup (reference §6.1) and AWS Backup Audit Manager's controls.
A definition's `version` changes whenever its meaning changes; assignments record the version they were made with.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import Case, CharField, Exists, OuterRef, Q, QuerySet, Value, When
from django.db.models.fields.json import KT
from django.db.models.functions import Cast

from policies.governance.choices import ComplianceState, Effect, ResourceType

S = ComplianceState


@dataclass(frozen=True)
class Parameter:
    """One parameter of a definition. `kind`: int, bool, str, choice, multichoice, strings, policy."""

    name: str
    label: str
    kind: str
    default: Any = None
    choices: tuple[tuple[str, str], ...] = ()
    minimum: int | None = None
    maximum: int | None = None
    required: bool = False
    help: str = ""

    def clean(self, value: Any) -> Any:
        if value in (None, "") or value == []:
            if self.required:
                raise ValidationError(f"{self.label} is required.")
            return self.default
        if self.kind == "int" or self.kind == "policy":
            try:
                number = int(value)
            except (TypeError, ValueError):
                raise ValidationError(f"{self.label} must be a whole number.") from None
            if self.minimum is not None and number < self.minimum:
                raise ValidationError(f"{self.label} must be at least {self.minimum}.")
            if self.maximum is not None and number > self.maximum:
                raise ValidationError(f"{self.label} must be at most {self.maximum}.")
            return number
        if self.kind == "bool":
            if isinstance(value, str):
                return value.lower() in {"1", "true", "yes", "on"}
            return bool(value)
        if self.kind == "choice":
            if value not in {c for c, _ in self.choices}:
                raise ValidationError(f"{self.label}: choose one of {', '.join(c for c, _ in self.choices)}.")
            return value
        if self.kind in ("multichoice", "strings"):
            if isinstance(value, str):
                value = [v.strip() for v in value.split(",") if v.strip()]
            if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
                raise ValidationError(f"{self.label} must be a list of strings.")
            if self.kind == "multichoice":
                allowed = {c for c, _ in self.choices}
                unknown = [v for v in value if v not in allowed]
                if unknown:
                    raise ValidationError(f"{self.label}: unknown values {', '.join(unknown)}.")
            return list(dict.fromkeys(value))
        if self.kind == "str":
            if not isinstance(value, str) or len(value) > 100:
                raise ValidationError(f"{self.label} must be text of at most 100 characters.")
            return value.strip()
        raise ValidationError(f"{self.label}: unsupported parameter type.")


@dataclass(frozen=True)
class Definition:
    """A built-in definition. `applicable(params)` → the resource rows it judges (unscoped); `state(params, now)` →
    (state, reason) expressions over those rows; `violation(obj, params)` → why an object breaks it, or None."""

    key: str
    version: int
    name: str
    description: str
    resource_type: str
    effects: tuple[str, ...]
    default_effect: str
    parameters: tuple[Parameter, ...]
    applicable: Callable[[dict], QuerySet]
    state: Callable[[dict, datetime], tuple[Any, Any]]
    name_field: str = "name"
    deny_actions: tuple[str, ...] = ()
    violation: Callable[[Any, dict], str | None] | None = None
    reference: str = ""
    extra: dict = field(default_factory=dict)

    @property
    def remediable(self) -> bool:
        return Effect.DEPLOY_IF_NOT_EXISTS in self.effects

    def clean_parameters(self, values: Any) -> dict:
        if values in (None, ""):
            values = {}
        if not isinstance(values, dict):
            raise ValidationError({"parameters": ["Parameters must be an object."]})
        unknown = set(values) - {p.name for p in self.parameters}
        errors: dict[str, list[str]] = {}
        if unknown:
            errors["parameters"] = [f"Unknown parameters: {', '.join(sorted(unknown))}."]
        cleaned = {}
        for parameter in self.parameters:
            try:
                cleaned[parameter.name] = parameter.clean(values.get(parameter.name))
            except ValidationError as error:
                errors.setdefault("parameters", []).extend(error.messages)
        if errors:
            raise ValidationError(errors)
        return cleaned


# Shared pieces --------------------------------------------------------------------------------------------------


def _kinds():
    from inventory.choices import DatasourceKind

    return tuple(DatasourceKind.choices)


def _redundancies():
    from vaults.choices import Redundancy

    return tuple(Redundancy.choices)


ACTIVE = ("protected", "protection_error", "configuring")
STOPPED = ("stopped_retain_data", "soft_deleted")


def _protection_state(not_protected_reason: str):
    from vaults.models import BackupInstance

    active = Exists(BackupInstance.objects.filter(datasource=OuterRef("pk"), protection_state__in=ACTIVE))
    stopped = Exists(BackupInstance.objects.filter(datasource=OuterRef("pk"), protection_state__in=STOPPED))
    state = Case(
        When(exists=False, then=Value(S.UNKNOWN)),
        When(active, then=Value(S.COMPLIANT)),
        default=Value(S.NON_COMPLIANT),
        output_field=CharField(),
    )
    reason = Case(
        When(exists=False, then=Value("Not found by the last discovery; cannot be judged.")),
        When(active, then=Value("Backup is enabled.")),
        When(stopped, then=Value("Protection was stopped; no new backups are taken.")),
        default=Value(not_protected_reason),
        output_field=CharField(),
    )
    return state, reason


def _flag(condition: Q, ok: str, bad: str):
    return (
        Case(When(condition, then=Value(S.COMPLIANT)), default=Value(S.NON_COMPLIANT), output_field=CharField()),
        Case(When(condition, then=Value(ok)), default=Value(bad), output_field=CharField()),
    )


# 1. Backup should be enabled for datasources of kind K (AuditIfNotExists) -------------------------------------


def _backup_enabled_rows(params: dict) -> QuerySet:
    from inventory.models import Datasource

    return Datasource.objects.filter(kind__in=params["kinds"])


BACKUP_ENABLED = Definition(
    key="backup_enabled",
    version=1,
    name="Backup should be enabled for datasources of the chosen types",
    description="Audits datasources of the chosen types that no backup instance protects.",
    resource_type=ResourceType.DATASOURCE,
    effects=(Effect.AUDIT_IF_NOT_EXISTS, Effect.DISABLED),
    default_effect=Effect.AUDIT_IF_NOT_EXISTS,
    parameters=(
        Parameter("kinds", "Datasource types", "multichoice", default=["files", "postgresql", "sqlite"], choices=()),
    ),
    applicable=_backup_enabled_rows,
    state=lambda params, now: _protection_state("Backup is not enabled."),
    reference="Azure 013e242c-8828-4970-87b3-ab247555486d; AWS BACKUP_RESOURCES_PROTECTED_BY_BACKUP_PLAN",
)


# 2. Configure backup for tagged datasources to an existing vault in the same location (DeployIfNotExists) -------


def policy_of(params: dict):
    from policies.models import BackupPolicy

    return BackupPolicy.objects.select_related("vault").filter(pk=params.get("policy")).first()


def _any_value(values: list[str]) -> Q:
    # The key's text is cast to a plain string: lookups on a JSON key compare JSON-encoded values on SQLite.
    match = Q(pk__in=[])
    for value in values:
        match |= Q(_tag_value=value)
    return match


def _configure_rows(params: dict) -> QuerySet:
    from inventory.models import Datasource

    policy = policy_of(params)
    if policy is None:
        return Datasource.objects.none()
    rows = Datasource.objects.filter(
        kind=policy.datasource_kind, location_id=policy.vault.location_id, tenant_id=policy.tenant_id
    ).annotate(_tag_value=Cast(KT(f"tags__{params['tag_name']}"), CharField()))
    if params["tag_mode"] == "include":
        return rows.filter(_any_value(params["tag_values"]) if params["tag_values"] else Q(_tag_value__isnull=False))
    # Exclusion tag: datasources without the tag, or with it set to a value not listed.
    if params["tag_values"]:
        return rows.filter(Q(_tag_value__isnull=True) | ~_any_value(params["tag_values"]))
    return rows.filter(_tag_value__isnull=True)


def _configure_state(params: dict, now: datetime):
    policy = policy_of(params)
    target = f"vault {policy.vault} with policy {policy}" if policy else "the chosen vault"
    return _protection_state(f"Backup is not configured; remediation protects it in {target}.")


CONFIGURE_BACKUP = Definition(
    key="configure_backup_tagged",
    version=1,
    name="Configure backup for datasources with (or without) a tag to an existing vault in the same location",
    description="Datasources of the policy's type, in its vault's location and tenant, selected by a tag, must be "
    "protected; a remediation task configures backup with the chosen policy.",
    resource_type=ResourceType.DATASOURCE,
    effects=(Effect.DEPLOY_IF_NOT_EXISTS, Effect.AUDIT_IF_NOT_EXISTS, Effect.DISABLED),
    default_effect=Effect.DEPLOY_IF_NOT_EXISTS,
    parameters=(
        Parameter("policy", "Backup policy (its vault is the target)", "policy", required=True, minimum=1),
        Parameter("tag_name", "Tag name", "str", required=True),
        Parameter("tag_values", "Tag values (empty = any value)", "strings", default=[]),
        Parameter(
            "tag_mode",
            "Select datasources",
            "choice",
            default="include",
            choices=(("include", "with the tag"), ("exclude", "without the tag (exclusion tag)")),
        ),
    ),
    applicable=_configure_rows,
    state=_configure_state,
    reference="Azure 345fa903-145c-4fe1-8bcd-93ec2adccde8 / 09ce66bc-1220-4153-8104-e3f51c936913",
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


# 8. Minimum retention and frequency of backup policies (Audit or Deny) -------------------------------------------


def policy_interval_hours(schedule: dict) -> float:
    """The longest gap between two scheduled runs of a policy, in hours."""
    frequency = schedule.get("frequency")
    if frequency == "hourly":
        return float(schedule.get("interval_hours") or 24)
    times = sorted(schedule.get("times") or ["00:00"])
    minutes = [int(t[:2]) * 60 + int(t[3:5]) for t in times]
    if frequency == "weekly":
        days = sorted(set(schedule.get("weekdays") or [0]))
        starts = [d * 24 * 60 + m for d in days for m in minutes]
        period = 7 * 24 * 60
    else:
        starts, period = minutes, 24 * 60
    gaps = [(starts[(i + 1) % len(starts)] - s) % period or period for i, s in enumerate(starts)]
    return max(gaps) / 60


def policy_retention_days(retention: dict) -> int:
    """How far back a policy keeps recovery points, in days: the longest of its rules."""
    return max(
        int(retention.get("daily_count") or 0),
        7 * int(retention.get("weekly_count") or 0),
        31 * int(retention.get("monthly_count") or 0),
        366 * int(retention.get("yearly_count") or 0),
    )


def _policy_violation(policy, params: dict) -> str | None:
    problems = []
    days = policy_retention_days(policy.retention or {})
    if days < params["min_retention_days"]:
        problems.append(f"keeps recovery points {days} days (at least {params['min_retention_days']} required)")
    hours = policy_interval_hours(policy.schedule or {})
    if hours > params["max_interval_hours"]:
        problems.append(f"runs every {hours:g} hours at most (at least every {params['max_interval_hours']} required)")
    if problems:
        return f"Policy {policy.name} " + " and ".join(problems) + "."
    return None


def _policies(params: dict) -> QuerySet:
    from policies.models import BackupPolicy

    return BackupPolicy.objects.all()


def _policy_state(params: dict, now: datetime):
    # The rules live in JSON the calculators interpret; policies are few, so judge them in Python once and hand
    # the verdicts to the database as one CASE.
    from policies.models import BackupPolicy

    failing = {}
    for policy in BackupPolicy.objects.only("pk", "name", "schedule", "retention"):
        problem = _policy_violation(policy, params)
        if problem:
            failing[policy.pk] = problem[:300]
    if not failing:
        return Value(S.COMPLIANT), Value("Retention and frequency meet the minimum.")
    return (
        Case(
            When(pk__in=list(failing), then=Value(S.NON_COMPLIANT)),
            default=Value(S.COMPLIANT),
            output_field=CharField(),
        ),
        Case(
            *[When(pk=pk, then=Value(text)) for pk, text in failing.items()],
            default=Value("Retention and frequency meet the minimum."),
            output_field=CharField(),
        ),
    )


POLICY_MINIMUMS = Definition(
    key="policy_min_retention_frequency",
    version=1,
    name="Backup policies must keep at least N days and run at least every M hours",
    description="Audits (or, with Deny, refuses) backup policies that keep data too briefly or run too rarely.",
    resource_type=ResourceType.POLICY,
    effects=(Effect.AUDIT, Effect.DENY, Effect.DISABLED),
    default_effect=Effect.AUDIT,
    parameters=(
        Parameter("min_retention_days", "Minimum retention (days)", "int", default=35, minimum=1, maximum=36500),
        Parameter("max_interval_hours", "Run at least every (hours)", "int", default=24, minimum=1, maximum=24 * 31),
    ),
    applicable=_policies,
    state=_policy_state,
    deny_actions=("policy.create", "policy.update"),
    violation=_policy_violation,
    reference="AWS BACKUP_PLAN_MIN_FREQUENCY_AND_MIN_RETENTION_CHECK",
)


# 9. The last recovery point must be younger than X hours --------------------------------------------------------


def _instances(params: dict) -> QuerySet:
    from vaults.models import BackupInstance

    return BackupInstance.objects.filter(protection_state__in=("protected", "protection_error"))


def _last_point_state(params: dict, now: datetime):
    from vaults.models import RecoveryPoint

    hours = params["max_age_hours"]
    cutoff = now - timedelta(hours=hours)
    fresh = Exists(RecoveryPoint.objects.filter(instance=OuterRef("pk"), state="available", created__gte=cutoff))
    young = Q(created__gt=cutoff)
    state = Case(
        When(fresh, then=Value(S.COMPLIANT)),
        When(young, then=Value(S.UNKNOWN)),
        default=Value(S.NON_COMPLIANT),
        output_field=CharField(),
    )
    reason = Case(
        When(fresh, then=Value(f"A recovery point is younger than {hours} hours.")),
        When(young, then=Value(f"Protected less than {hours} hours ago; no backup is due yet.")),
        default=Value(f"No recovery point in the last {hours} hours."),
        output_field=CharField(),
    )
    return state, reason


LAST_RECOVERY_POINT = Definition(
    key="last_recovery_point_age",
    version=1,
    name="The last recovery point must be younger than X hours",
    description="Audits protected instances whose newest available recovery point is too old.",
    resource_type=ResourceType.INSTANCE,
    effects=(Effect.AUDIT, Effect.DISABLED),
    default_effect=Effect.AUDIT,
    parameters=(Parameter("max_age_hours", "Maximum age (hours)", "int", default=24, minimum=1, maximum=24 * 366),),
    applicable=_instances,
    state=_last_point_state,
    name_field="datasource__name",
    reference="AWS BACKUP_LAST_RECOVERY_POINT_CREATED",
)


# 10. A restore must have succeeded in the last N days (restore drills) -------------------------------------------


def _restore_state(params: dict, now: datetime):
    from monitoring.models import Job

    days = params["days"]
    cutoff = now - timedelta(days=days)
    restored = Exists(
        Job.objects.filter(
            instance=OuterRef("pk"),
            operation="restore",
            status__in=("completed", "completed_with_warnings"),
            ended__gte=cutoff,
        )
    )
    state = Case(
        When(restored, then=Value(S.COMPLIANT)),
        When(created__gt=cutoff, then=Value(S.UNKNOWN)),
        default=Value(S.NON_COMPLIANT),
        output_field=CharField(),
    )
    reason = Case(
        When(restored, then=Value(f"A restore succeeded in the last {days} days.")),
        When(created__gt=cutoff, then=Value(f"Protected less than {days} days ago; no drill is due yet.")),
        default=Value(f"No successful restore in the last {days} days."),
        output_field=CharField(),
    )
    return state, reason


RESTORE_DRILL = Definition(
    key="restore_drill",
    version=1,
    name="A restore must have succeeded in the last N days",
    description="Audits protected instances without a successful restore drill in the period.",
    resource_type=ResourceType.INSTANCE,
    effects=(Effect.AUDIT, Effect.DISABLED),
    default_effect=Effect.AUDIT,
    parameters=(Parameter("days", "Period (days)", "int", default=30, minimum=1, maximum=3660),),
    applicable=_instances,
    state=_restore_state,
    name_field="datasource__name",
    reference="AWS RESTORE_TIME_FOR_RESOURCES_MEET_TARGET / restore testing",
)


DEFINITIONS: dict[str, Definition] = {
    d.key: d
    for d in (
        BACKUP_ENABLED,
        CONFIGURE_BACKUP,
        SOFT_DELETE,
        IMMUTABILITY,
        MUA,
        CMK,
        REDUNDANCY,
        POLICY_MINIMUMS,
        LAST_RECOVERY_POINT,
        RESTORE_DRILL,
    )
}

# Definitions that say "this datasource should be protected": the Protectable datasources page shows their verdicts.
BACKUP_REQUIRED_KEYS = (BACKUP_ENABLED.key, CONFIGURE_BACKUP.key)


def get_definition(key: str) -> Definition | None:
    return DEFINITIONS.get(key)


def parameter_choices(parameter: Parameter) -> tuple[tuple[str, str], ...]:
    """Choices are filled lazily (the enums live in other apps)."""
    if parameter.choices:
        return parameter.choices
    if parameter.name == "kinds":
        return _kinds()
    if parameter.name == "redundancies":
        return _redundancies()
    return ()


def clean_parameters(definition: Definition, values: Any) -> dict:
    """Validated parameters with defaults filled in; multichoice values are checked against their enums."""
    resolved = tuple(
        Parameter(**{**p.__dict__, "choices": parameter_choices(p)}) if p.kind == "multichoice" else p
        for p in definition.parameters
    )
    return Definition(**{**definition.__dict__, "parameters": resolved}).clean_parameters(values)
