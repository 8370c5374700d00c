"""What a policy definition is (parameters, effects, evaluation hooks) and the pieces several definitions share."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import Case, CharField, Exists, OuterRef, Q, QuerySet, Value, When

from policies.governance.choices import ComplianceState, Effect

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
