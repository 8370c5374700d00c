"""Writes of backup policies."""

from django.core.exceptions import ValidationError
from django.db import transaction

from core.permissions import ensure_permission
from core.roles import Action
from core.services import change_record_write, snapshot
from policies.models import DEFAULT_DAILY_POLICY, BackupPolicy
from policies.retention import validate_retention
from policies.schedule import validate_schedule


def validate_policy_rules(policy: BackupPolicy) -> None:
    """Field errors from the schedule and retention calculators, as one ValidationError."""
    errors: dict[str, list[str]] = {}
    try:
        schedule = policy.schedule_obj()
        retention = policy.retention_rules()
    except (TypeError, ValueError) as error:
        raise ValidationError({"schedule": [f"The schedule or retention is malformed: {error}"]}) from None
    max_runs = 6 if policy.datasource_kind == "files" else None
    for field, messages in validate_schedule(schedule, max_runs).items():
        errors.setdefault(f"schedule.{field}", []).extend(messages)
    for field, messages in validate_retention(retention).items():
        errors.setdefault(f"retention.{field}", []).extend(messages)
    if errors:
        raise ValidationError(errors)


@transaction.atomic
def policy_get_or_create_default(*, actor, vault, datasource_kind: str) -> BackupPolicy:
    """The vault's built-in daily policy for a kind ("daily at 02:00 UTC, keep 30 days"), created when missing."""
    name = f"{DEFAULT_DAILY_POLICY['name']}-{datasource_kind}"
    existing = BackupPolicy.objects.filter(vault=vault, name=name).first()
    if existing:
        return existing
    ensure_permission(actor, Action.CHANGE, scope=vault)
    policy = BackupPolicy(
        vault=vault,
        name=name,
        datasource_kind=datasource_kind,
        schedule=DEFAULT_DAILY_POLICY["schedule"],
        retention=DEFAULT_DAILY_POLICY["retention"],
    )
    validate_policy_rules(policy)
    policy.full_clean(exclude=["tenant", "subscription", "resource_group"])
    policy.save()
    change_record_write(actor=actor, action="create", obj=policy, after=snapshot(policy))
    return policy
