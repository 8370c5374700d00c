"""The definition judged per backup policy: minimum retention and maximum interval between backups."""

from __future__ import annotations

from datetime import datetime

from django.db.models import Case, CharField, QuerySet, Value, When

from policies.governance.choices import Effect, ResourceType
from policies.governance.definitions.base import (
    Definition,
    Parameter,
    S,
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
