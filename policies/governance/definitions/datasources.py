"""Definitions judged per datasource or backup instance: backup enabled, configure backup (DeployIfNotExists),
last recovery point age, restore drills."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db.models import Case, CharField, Exists, OuterRef, Q, QuerySet, Value, When
from django.db.models.fields.json import KT
from django.db.models.functions import Cast

from policies.governance.choices import Effect, ResourceType
from policies.governance.definitions.base import (
    Definition,
    Parameter,
    S,
    _protection_state,
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
