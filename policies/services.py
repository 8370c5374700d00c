"""Writes of backup policies and auto-protection intents.

Schedules and retention rules are checked by the calculators (`policies.schedule`, `policies.retention`); the
JSON stored on a policy holds exactly their dataclass fields, times as "HH:MM".
"""

from __future__ import annotations

from dataclasses import fields as dataclass_fields
from datetime import time
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from core.permissions import SystemActor, ensure_permission
from core.roles import Action
from core.services import change_record_write, snapshot
from inventory.choices import ConnectorKind, DatasourceKind
from policies.governance.services import enforce_deny
from policies.models import DEFAULT_DAILY_POLICY, AutoProtection, BackupPolicy
from policies.retention import RetentionRules, validate_retention
from policies.schedule import Schedule, validate_schedule

# Scheduled backups a day each datasource kind allows (file shares: 6, as in the reference); None = no limit.
MAX_RUNS_PER_DAY: dict[str, int | None] = {DatasourceKind.FILES: 6}
TIERING_MODES = ("do_not_tier", "tier_after", "tier_recommended")
TIER_AFTER_DAYS = (90, 36500)  # archive needs at least 3 months in the standard tier (reference §2.8)
SCHEDULE_KEYS = {f.name for f in dataclass_fields(Schedule)}
RETENTION_KEYS = {f.name for f in dataclass_fields(RetentionRules)} - {"timezone"}
RULE_FIELDS = {
    "daily": ("daily_count", ()),
    "weekly": ("weekly_count", ("weekly_weekday",)),
    "monthly": ("monthly_count", ("monthly_day", "monthly_weekday", "monthly_week")),
    "yearly": ("yearly_count", ("yearly_month", "yearly_day", "yearly_weekday", "yearly_week")),
}


# Parsing and validation ------------------------------------------------------------------------------------------


def _as_int(value: Any) -> Any:
    """Whole numbers given as text (form posts) become ints; anything else is left for the calculator to reject."""
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value.strip())
    return value


def _parse_time(value: Any) -> time | None:
    if isinstance(value, time):
        return value
    if isinstance(value, str):
        try:
            parsed = time.fromisoformat(value.strip())
        except ValueError:
            return None
        return parsed if parsed.tzinfo is None else None
    return None


def normalise_schedule(
    data: Any, max_runs_per_day: int | None = None
) -> tuple[dict, Schedule | None, dict[str, list[str]]]:
    """The stored form of a schedule (only the fields its frequency uses), its calculator object and field errors.

    Error keys are the schedule's field names.
    """
    if not isinstance(data, dict):
        return {}, None, {"__all__": ["The schedule must be an object."]}
    errors: dict[str, list[str]] = {}
    unknown = set(data) - SCHEDULE_KEYS
    if unknown:
        errors["__all__"] = [f"Unknown schedule fields: {', '.join(sorted(unknown))}."]
    frequency = data.get("frequency")
    stored: dict[str, Any] = {"frequency": frequency, "timezone": data.get("timezone", "UTC")}
    values: dict[str, Any] = dict(stored)
    if frequency == "hourly":
        values["interval_hours"] = stored["interval_hours"] = _as_int(data.get("interval_hours", 4))
        values["window_hours"] = stored["window_hours"] = _as_int(data.get("window_hours", 24))
        start = _parse_time(data.get("window_start", "08:00"))
        if start is None:
            errors.setdefault("window_start", []).append("Give the window start as HH:MM, e.g. 08:00.")
        else:
            values["window_start"] = start
            stored["window_start"] = start.strftime("%H:%M")
    elif frequency in ("daily", "weekly"):
        raw_times = data.get("times", [])
        if isinstance(raw_times, str):
            raw_times = [t for t in raw_times.replace(";", ",").split(",") if t.strip()]
        if not isinstance(raw_times, list | tuple):
            raw_times = [raw_times]
        parsed = [_parse_time(t) for t in raw_times]
        bad = [str(raw) for raw, t in zip(raw_times, parsed, strict=True) if t is None]
        if bad:
            errors.setdefault("times", []).append(f"Give backup times as HH:MM, e.g. 02:30 (not {', '.join(bad)}).")
        values["times"] = tuple(t for t in parsed if t is not None)
        stored["times"] = [t.strftime("%H:%M") for t in values["times"]]
        if frequency == "weekly":
            raw_days = data.get("weekdays", [])
            if not isinstance(raw_days, list | tuple):
                raw_days = [raw_days]
            values["weekdays"] = tuple(_as_int(d) for d in raw_days)
            stored["weekdays"] = list(values["weekdays"])
    schedule = Schedule(**values)
    if not errors:
        for field, messages in validate_schedule(schedule, max_runs_per_day).items():
            errors.setdefault(field, []).extend(messages)
    return stored, (None if errors else schedule), errors


def normalise_retention(data: Any, timezone_name: str) -> tuple[dict, RetentionRules | None, dict[str, list[str]]]:
    """The stored form of retention rules (evaluated in the policy's time zone), the rules and field errors."""
    if not isinstance(data, dict):
        return {}, None, {"__all__": ["The retention rules must be an object."]}
    errors: dict[str, list[str]] = {}
    unknown = set(data) - RETENTION_KEYS - {"timezone"}
    if unknown:
        errors["__all__"] = [f"Unknown retention fields: {', '.join(sorted(unknown))}."]
    stored: dict[str, Any] = {}
    for key in RETENTION_KEYS:
        value = data.get(key)
        if value in ("", None):
            continue
        stored[key] = value if key.endswith("_week") else _as_int(value)
    # Fields of a switched-off rule are dropped so they cannot make a valid policy invalid.
    for count_field, detail_fields in RULE_FIELDS.values():
        if not stored.get(count_field):
            for name in detail_fields:
                stored.pop(name, None)
    stored["timezone"] = timezone_name
    rules = RetentionRules(**stored)
    errors.update(validate_retention(rules))
    return stored, (None if errors else rules), errors


def normalise_tiering(data: Any) -> tuple[dict, dict[str, list[str]]]:
    if data in (None, {}):
        return {"mode": "do_not_tier"}, {}
    if not isinstance(data, dict):
        return {}, {"mode": ["The tiering rule must be an object."]}
    mode = data.get("mode", "do_not_tier")
    if mode not in TIERING_MODES:
        return {}, {"mode": ["Choose do not tier, tier after a number of days, or tier recommended points."]}
    if mode != "tier_after":
        return {"mode": mode}, {}
    days = _as_int(data.get("after_days"))
    low, high = TIER_AFTER_DAYS
    if not isinstance(days, int) or isinstance(days, bool) or not low <= days <= high:
        return {}, {"after_days": [f"Move points to archive after {low} to {high} days in the standard tier."]}
    return {"mode": mode, "after_days": days}, {}


def clean_policy_rules(
    *, datasource_kind: str, schedule: Any, retention: Any, tiering: Any = None
) -> tuple[dict, dict, dict]:
    """Normalised (schedule, retention, tiering) or a ValidationError keyed "schedule.<field>", "retention.<field>",
    "tiering.<field>" — the form maps them back onto its fields, the API returns them as they are."""
    errors: dict[str, list[str]] = {}
    stored_schedule, _, schedule_errors = normalise_schedule(schedule, MAX_RUNS_PER_DAY.get(datasource_kind))
    for field, messages in schedule_errors.items():
        errors[f"schedule.{field}"] = messages
    zone = stored_schedule.get("timezone", "UTC") if isinstance(stored_schedule, dict) else "UTC"
    stored_retention, _, retention_errors = normalise_retention(retention, zone)
    for field, messages in retention_errors.items():
        if field == "timezone":
            continue  # the schedule already reports an unknown time zone
        errors[f"retention.{field}"] = messages
    stored_tiering, tiering_errors = normalise_tiering(tiering)
    for field, messages in tiering_errors.items():
        errors[f"tiering.{field}"] = messages
    if errors:
        raise ValidationError(errors)
    return stored_schedule, stored_retention, stored_tiering


def validate_policy_rules(policy: BackupPolicy) -> None:
    """Field errors from the schedule and retention calculators, as one ValidationError."""
    clean_policy_rules(
        datasource_kind=policy.datasource_kind,
        schedule=policy.schedule,
        retention={k: v for k, v in (policy.retention or {}).items() if k != "timezone"},
        tiering=policy.tiering,
    )


def retention_cuts(old: RetentionRules, new: RetentionRules) -> list[str]:
    """What a change of rules shortens, in words; empty when nothing kept today would go sooner."""
    cuts: list[str] = []
    for label, (count_field, detail_fields) in RULE_FIELDS.items():
        before, after = getattr(old, count_field), getattr(new, count_field)
        if before and after < before:
            cuts.append(f"{label} {before} → {after or 'off'}")
        elif before and any(getattr(old, f) != getattr(new, f) for f in detail_fields):
            cuts.append(f"{label} points now taken on another day (existing ones lose that rule)")
    if new.instant_restore_days < old.instant_restore_days:
        cuts.append(f"instant restore {old.instant_restore_days} → {new.instant_restore_days} days")
    if old.timezone != new.timezone and any(getattr(old, f) for f, _ in RULE_FIELDS.values()):
        cuts.append(f"time zone {old.timezone} → {new.timezone} (days are counted in another zone)")
    return cuts


def runs_per_week(schedule) -> int:
    """Scheduled runs in a week: weekly schedules run only on their weekdays, so dropping a weekday (or going from
    daily to weekly on some days) backs up less often even when the runs per day stay the same."""
    from policies.schedule import runs_per_day

    days = len(set(schedule.weekdays)) if schedule.frequency == "weekly" else 7
    return runs_per_day(schedule) * days


def ensure_not_weaker(*, actor, vault, cuts: list[str], old_schedule, new_schedule, operation: str) -> None:
    """The rule for weakening protection, in one place: shortening retention is refused by an immutable vault,
    and shortening retention or backing up less often needs multi-user authorization on a guarded vault."""
    from vaults.security import ensure_authorized, ensure_mutable

    less_often = runs_per_week(new_schedule) < runs_per_week(old_schedule)
    if cuts:
        ensure_mutable(vault, "shortening retention (" + "; ".join(cuts) + ")")
    if cuts or less_often:
        ensure_authorized(actor=actor, vault=vault, operation=operation)


# Policies ----------------------------------------------------------------------------------------------------------


def _check_name(vault, name: str, exclude_pk: int | None = None) -> None:
    if not isinstance(name, str) or not name.strip():
        raise ValidationError({"name": ["Give the policy a name."]})
    clash = BackupPolicy.objects.filter(vault=vault, name=name.strip())
    if exclude_pk:
        clash = clash.exclude(pk=exclude_pk)
    if clash.exists():
        raise ValidationError({"name": [f"Vault {vault} already has a policy called {name.strip()}."]})


@transaction.atomic
def policy_create(
    *,
    actor,
    vault,
    name: str,
    datasource_kind: str,
    schedule: dict,
    retention: dict,
    tiering: dict | None = None,
) -> BackupPolicy:
    """A new backup policy in a vault, for one datasource kind."""
    ensure_permission(actor, Action.CHANGE, scope=vault)
    if datasource_kind not in DatasourceKind.values:
        raise ValidationError({"datasource_kind": ["Choose a datasource type."]})
    _check_name(vault, name)
    schedule, retention, tiering = clean_policy_rules(
        datasource_kind=datasource_kind, schedule=schedule, retention=retention, tiering=tiering
    )
    policy = BackupPolicy(
        vault=vault,
        name=name.strip(),
        datasource_kind=datasource_kind,
        schedule=schedule,
        retention=retention,
        tiering=tiering,
    )
    policy.full_clean(exclude=["tenant", "subscription", "resource_group"])
    enforce_deny(actor=actor, action="policy.create", obj=policy)
    policy.save()
    change_record_write(actor=actor, action="create", obj=policy, after=snapshot(policy))
    return policy


@transaction.atomic
def policy_update(*, actor, policy: BackupPolicy, **fields: Any) -> BackupPolicy:
    """Change a policy's name, schedule, retention or tiering; the vault and datasource type stay.

    The new retention applies to every existing recovery point of the policy's instances (Azure semantics):
    expiry dates are recomputed now, points the new rules no longer keep are soft deleted (vaults with soft
    delete) and the retention task removes the rest. A change that shortens retention is recorded as the
    security-relevant change "retention_shortened"; guards on it (MUA, immutability) belong here.
    """
    from policies.enforcement import policy_apply_retention
    from policies.tasks import enforce_retention

    ensure_permission(actor, Action.CHANGE, scope=policy)
    policy = BackupPolicy.objects.select_for_update().get(pk=policy.pk)
    before = snapshot(policy)
    fixed = {"vault": policy.vault, "datasource_kind": policy.datasource_kind}
    errors = {
        key: ["The vault and datasource type of a policy cannot change; create another policy."]
        for key, value in fields.items()
        if key in fixed and value not in (fixed[key], getattr(fixed[key], "pk", None))
    }
    unknown = set(fields) - {"name", "schedule", "retention", "tiering", *fixed}
    if unknown:
        errors["__all__"] = [f"Unknown policy fields: {', '.join(sorted(unknown))}."]
    if errors:
        raise ValidationError(errors)
    name = fields.get("name", policy.name)
    _check_name(policy.vault, name, exclude_pk=policy.pk)
    old_rules = policy.retention_rules()
    retention_input = fields.get("retention", {k: v for k, v in policy.retention.items() if k != "timezone"})
    schedule, retention, tiering = clean_policy_rules(
        datasource_kind=policy.datasource_kind,
        schedule=fields.get("schedule", policy.schedule),
        retention=retention_input,
        tiering=fields.get("tiering", policy.tiering),
    )
    old_schedule = policy.schedule_obj()
    policy.name, policy.schedule, policy.retention, policy.tiering = name.strip(), schedule, retention, tiering
    policy.full_clean(exclude=["tenant", "subscription", "resource_group"])
    cuts = retention_cuts(old_rules, policy.retention_rules())
    ensure_not_weaker(
        actor=actor,
        vault=policy.vault,
        cuts=cuts,
        old_schedule=old_schedule,
        new_schedule=policy.schedule_obj(),
        operation="reduce_retention",
    )
    enforce_deny(actor=actor, action="policy.update", obj=policy)
    policy.save()
    after = snapshot(policy)
    change_record_write(actor=actor, action="update", obj=policy, before=before, after=after)
    if cuts:
        change_record_write(
            actor=actor,
            action="retention_shortened",
            obj=policy,
            before={"retention": before["retention"]},
            after={"retention": after["retention"]},
            message="Retention shortened: " + "; ".join(cuts) + ".",
        )
        from monitoring.events import security_event

        security_event(
            kind="retention_shortened",
            vault=policy.vault,
            message=f"Retention of policy {policy} was shortened by {actor}: " + "; ".join(cuts) + ".",
        )
    if before["retention"] != after["retention"]:
        policy_apply_retention(policy=policy, actor=actor)
        transaction.on_commit(lambda: enforce_retention.delay(policy_id=policy.pk))
    return policy


@transaction.atomic
def policy_delete(*, actor, policy: BackupPolicy) -> None:
    """Delete a policy no backup instance or auto-protection uses; otherwise refuse and name the users."""
    ensure_permission(actor, Action.DELETE, scope=policy)
    users = list(policy.instances.select_related("datasource").order_by("datasource__name")[:21])
    if users:
        names = ", ".join(i.datasource.name for i in users[:20]) + (" and more" if len(users) > 20 else "")
        raise ValidationError(
            {"instances": [f"Policy {policy} protects {names}; move them to another policy or stop protection first."]}
        )
    intents = list(policy.auto_protections.select_related("connector"))
    if intents:
        raise ValidationError(
            {
                "instances": [
                    "Auto-protection of "
                    + ", ".join(str(a.connector) for a in intents)
                    + f" uses policy {policy}; change or switch it off first."
                ]
            }
        )
    change_record_write(actor=actor, action="delete", obj=policy, before=snapshot(policy))
    policy.delete()


@transaction.atomic
def policy_get_or_create_default(*, actor, vault, datasource_kind: str) -> BackupPolicy:
    """The vault's built-in daily policy for a kind ("daily at 02:00 UTC, keep 30 days"), created when missing."""
    name = f"{DEFAULT_DAILY_POLICY['name']}-{datasource_kind}"
    existing = BackupPolicy.objects.filter(vault=vault, name=name).first()
    if existing:
        return existing
    ensure_permission(actor, Action.CHANGE, scope=vault)
    schedule, retention, tiering = clean_policy_rules(
        datasource_kind=datasource_kind,
        schedule=DEFAULT_DAILY_POLICY["schedule"],
        retention={k: v for k, v in DEFAULT_DAILY_POLICY["retention"].items() if k != "timezone"},
    )
    policy = BackupPolicy(
        vault=vault, name=name, datasource_kind=datasource_kind, schedule=schedule, retention=retention, tiering=tiering
    )
    policy.full_clean(exclude=["tenant", "subscription", "resource_group"])
    policy.save()
    change_record_write(actor=actor, action="create", obj=policy, after=snapshot(policy))
    return policy


# Auto-protection ---------------------------------------------------------------------------------------------------


def _clean_exclude(exclude: Any) -> list[str]:
    if exclude in (None, ""):
        return []
    if isinstance(exclude, str):
        exclude = [x for x in exclude.replace("\n", ",").split(",")]
    if not isinstance(exclude, list | tuple) or not all(isinstance(x, str) for x in exclude):
        raise ValidationError({"exclude": ["List the database names to leave out."]})
    return sorted({x.strip() for x in exclude if x.strip()})


@transaction.atomic
def auto_protection_set(*, actor, connector, vault, policy: BackupPolicy, exclude: Any = None) -> AutoProtection:
    """Protect every database the connector's server has now or gets later with `policy` in `vault`, except
    `exclude`. Databases found now are protected at once; discovery protects the ones that appear later."""
    ensure_permission(actor, Action.CHANGE, scope=connector)
    ensure_permission(actor, Action.CHANGE, scope=vault)
    errors: dict[str, list[str]] = {}
    if connector.kind != ConnectorKind.POSTGRESQL_SERVER:
        errors["connector"] = ["Auto-protection is available for PostgreSQL server connectors."]
    if policy.vault_id != vault.pk or policy.datasource_kind != DatasourceKind.POSTGRESQL:
        errors["policy"] = [f"Choose a PostgreSQL policy of vault {vault}."]
    if vault.location_id != connector.location_id:
        errors["vault"] = [f"The vault must be in the connector's location ({connector.location})."]
    if vault.tenant_id != connector.tenant_id:
        errors["vault"] = ["The vault must belong to the connector's tenant."]
    if errors:
        raise ValidationError(errors)
    exclude = _clean_exclude(exclude)
    intent = AutoProtection.objects.filter(connector=connector).first()
    before = snapshot(intent)
    intent = intent or AutoProtection(connector=connector)
    intent.vault, intent.policy, intent.exclude = vault, policy, exclude
    user = actor if getattr(actor, "pk", None) and not getattr(actor, "is_system", False) else None
    intent.set_by, intent.set_by_name = user, getattr(actor, "username", str(actor))
    intent.save()
    change_record_write(actor=actor, action="auto_protection_set", obj=connector, before=before, after=snapshot(intent))
    transaction.on_commit(lambda: auto_protection_apply(connector=connector))
    return intent


@transaction.atomic
def auto_protection_clear(*, actor, connector) -> None:
    """Switch auto-protection off; databases protected so far stay protected."""
    ensure_permission(actor, Action.CHANGE, scope=connector)
    intent = AutoProtection.objects.filter(connector=connector).first()
    if intent is None:
        return
    change_record_write(actor=actor, action="auto_protection_clear", obj=connector, before=snapshot(intent))
    intent.delete()


def auto_protection_apply(*, connector) -> list:
    """Protect the connector's unprotected, existing, not excluded databases under its auto-protection intent.

    Called by discovery. Acts as the system actor "auto-protection" on behalf of whoever set the intent; a
    database that cannot be protected is logged and skipped, never blocking the others.
    """
    from vaults.services import instance_create

    intent = AutoProtection.objects.select_related("vault", "policy").filter(connector=connector).first()
    if intent is None:
        return []
    candidates = (
        connector.datasources.filter(kind=DatasourceKind.POSTGRESQL, exists=True, backup_instances__isnull=True)
        .exclude(name__in=intent.exclude)
        .order_by("name")
    )
    actor = SystemActor(f"auto-protection (set by {intent.set_by_name})")
    created = []
    for datasource in candidates:
        try:
            with transaction.atomic():
                instance = instance_create(actor=actor, datasource=datasource, vault=intent.vault, policy=intent.policy)
                change_record_write(
                    actor=actor,
                    action="auto_protected",
                    obj=instance,
                    message=f"Protected by the auto-protection of {connector} set by {intent.set_by_name} "
                    f"on {timezone.localtime(intent.updated):%Y-%m-%d %H:%M}.",
                )
        except ValidationError as error:
            change_record_write(
                actor=actor, action="auto_protect_failed", obj=datasource, message="; ".join(error.messages)
            )
            continue
        created.append(instance)
    return created
