"""Set-based compliance evaluation.

For one assignment the definition yields a queryset of the resources it judges plus CASE expressions for the
state and reason; scope, excluded child scopes and exemptions are applied on top. That SELECT is then used twice
by the database itself, never row by row in Python:

1. ``INSERT INTO compliancechange SELECT … LEFT JOIN complianceresult … WHERE state changed`` — the history;
2. ``INSERT INTO complianceresult SELECT … ON CONFLICT DO UPDATE`` — the latest state, keeping ``state_since``
   when the state did not change (so a report can say "compliant since").

Results of resources that left the assignment's scope are deleted and a snapshot of the counts is kept.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from datetime import datetime

from django.db import connection, transaction
from django.db.models import BigIntegerField, Case, CharField, Count, F, QuerySet, Value, When
from django.db.models.functions import Left
from django.utils import timezone

from policies.governance.choices import ComplianceState, Effect
from policies.governance.definitions import CONFIGURE_BACKUP, Definition, clean_parameters, get_definition
from policies.governance.models import ComplianceChange, ComplianceResult, ComplianceSnapshot, PolicyAssignment

log = logging.getLogger(__name__)

COLUMNS = ("g_assignment", "g_type", "g_id", "g_name", "g_tenant", "g_sub", "g_rg", "g_state", "g_reason")


def scoped(queryset: QuerySet, assignment: PolicyAssignment) -> QuerySet:
    """Limit a resource queryset to the assignment's scope minus its excluded child scopes."""
    if assignment.resource_group_id:
        queryset = queryset.filter(resource_group_id=assignment.resource_group_id)
    elif assignment.subscription_id:
        queryset = queryset.filter(subscription_id=assignment.subscription_id)
    else:
        queryset = queryset.filter(tenant_id=assignment.tenant_id)
    for scope in assignment.excluded_scopes or []:
        level, pk = scope.get("level"), scope.get("id")
        if level in ("subscription", "resource_group") and pk:
            queryset = queryset.exclude(**{f"{level}_id": pk})
    return queryset


def assignment_rows(
    assignment: PolicyAssignment, now: datetime, *, definition: Definition | None = None, conflicts=()
) -> QuerySet:
    """The evaluation of one assignment as a queryset of `COLUMNS` (one row per judged resource)."""
    definition = definition or get_definition(assignment.definition_key)
    params = clean_parameters(definition, assignment.parameters)
    state, reason = definition.state(params, now)
    exempt = [int(pk) for pk in assignment.exempt_resources or []]
    if conflicts:
        state = Case(When(pk__in=list(conflicts), then=Value(ComplianceState.CONFLICT)), default=state)
        reason = Case(
            When(
                pk__in=list(conflicts),
                then=Value("Another assignment would configure backup of it with a different policy."),
            ),
            default=reason,
        )
    if exempt:
        state = Case(When(pk__in=exempt, then=Value(ComplianceState.EXEMPT)), default=state)
        reason = Case(When(pk__in=exempt, then=Value("Exempted by the assignment.")), default=reason)
    rows = scoped(definition.applicable(params), assignment).order_by()
    return rows.annotate(
        g_assignment=Value(assignment.pk, output_field=BigIntegerField()),
        g_type=Value(definition.resource_type, output_field=CharField()),
        g_id=F("pk"),
        g_name=Left(F(definition.name_field), 200),
        g_tenant=F("tenant_id"),
        g_sub=F("subscription_id"),
        g_rg=F("resource_group_id"),
        g_state=Case(default=state, output_field=CharField()),
        g_reason=Case(default=reason, output_field=CharField()),
    ).values(*COLUMNS)


def _sql(rows: QuerySet) -> tuple[str, tuple]:
    sql, params = rows.query.get_compiler(connection=connection).as_sql()
    return sql, tuple(params)


def _write(assignment: PolicyAssignment, rows: QuerySet, now: datetime) -> None:
    result_table = ComplianceResult._meta.db_table
    change_table = ComplianceChange._meta.db_table
    select, params = _sql(rows)
    # Raw SQL bypasses field adaptation: store the instant exactly as the ORM does, so later lookups match it.
    at = connection.ops.adapt_datetimefield_value(now)
    history = f"""
            INSERT INTO {change_table} (assignment_id, resource_type, resource_id, resource_name, tenant_id,
                subscription_id, resource_group_id, old_state, new_state, reason, changed_at)
            SELECT s.g_assignment, s.g_type, s.g_id, s.g_name, s.g_tenant, s.g_sub, s.g_rg,
                COALESCE(r.state, ''), s.g_state, s.g_reason, %s
            FROM {{source}} s
            LEFT JOIN {result_table} r
              ON r.assignment_id = s.g_assignment AND r.resource_type = s.g_type AND r.resource_id = s.g_id
            WHERE r.id IS NULL OR r.state <> s.g_state"""
    upsert = f"""
            INSERT INTO {result_table} (assignment_id, resource_type, resource_id, resource_name, tenant_id,
                subscription_id, resource_group_id, state, reason, evaluated_at, state_since)
            SELECT s.g_assignment, s.g_type, s.g_id, s.g_name, s.g_tenant, s.g_sub, s.g_rg, s.g_state, s.g_reason,
                %s, %s
            FROM {{source}} s WHERE true
            ON CONFLICT (assignment_id, resource_type, resource_id) DO UPDATE SET
                resource_name = excluded.resource_name,
                tenant_id = excluded.tenant_id,
                subscription_id = excluded.subscription_id,
                resource_group_id = excluded.resource_group_id,
                state_since = CASE WHEN {result_table}.state = excluded.state
                                   THEN {result_table}.state_since ELSE excluded.state_since END,
                state = excluded.state,
                reason = excluded.reason,
                evaluated_at = excluded.evaluated_at"""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # One statement: the evaluation runs once (materialised), and both writes see the results as they were
            # before this statement, so the history compares against the previous states.
            cursor.execute(
                f"WITH s AS MATERIALIZED ({select}), history AS ({history.format(source='s')}) "
                + upsert.format(source="s"),
                (*params, at, at, at),
            )
        else:
            cursor.execute(history.format(source=f"({select})"), (at, *params))
            cursor.execute(upsert.format(source=f"({select})"), (at, at, *params))


def _dine_conflicts(assignments: list[PolicyAssignment], now: datetime) -> dict[int, set[int]]:
    """Per DeployIfNotExists assignment, the datasources another such assignment would protect with another policy."""
    dine = [a for a in assignments if a.definition_key == CONFIGURE_BACKUP.key and a.effect != Effect.DISABLED]
    if len({a.parameters.get("policy") for a in dine}) < 2:
        return {}
    wanted: dict[int, set] = defaultdict(set)  # datasource → policies that would protect it
    pending: dict[int, set[int]] = {}
    for assignment in dine:
        rows = assignment_rows(assignment, now, definition=CONFIGURE_BACKUP)
        ids = set(
            rows.filter(g_state=ComplianceState.NON_COMPLIANT)
            .exclude(pk__in=assignment.exempt_resources or [])
            .values_list("g_id", flat=True)
        )
        pending[assignment.pk] = ids
        for pk in ids:
            wanted[pk].add(assignment.parameters.get("policy"))
    clashing = {pk for pk, policies in wanted.items() if len(policies) > 1}
    return {a_pk: ids & clashing for a_pk, ids in pending.items() if ids & clashing}


def evaluate_assignment(assignment: PolicyAssignment, *, now: datetime | None = None, conflicts=()) -> dict[str, int]:
    """Evaluate one assignment now; returns its counts per state."""
    now = now or timezone.now()
    definition = get_definition(assignment.definition_key)
    with transaction.atomic():
        locked = PolicyAssignment.objects.select_for_update().filter(pk=assignment.pk).first()
        if locked is None:
            return {}
        if definition is None or locked.effect == Effect.DISABLED:
            ComplianceResult.objects.filter(assignment=locked).delete()
            PolicyAssignment.objects.filter(pk=locked.pk).update(last_evaluated_at=now)
            return {}
        _write(locked, assignment_rows(locked, now, definition=definition, conflicts=conflicts), now)
        ComplianceResult.objects.filter(assignment=locked).exclude(evaluated_at=now).delete()
        counts = {state: 0 for state in ComplianceState.values}
        for row in ComplianceResult.objects.filter(assignment=locked).values("state").annotate(n=Count("id")):
            counts[row["state"]] = row["n"]
        ComplianceSnapshot.objects.create(
            assignment=locked,
            tenant_id=locked.tenant_id,
            subscription_id=locked.subscription_id,
            resource_group_id=locked.resource_group_id,
            evaluated_at=now,
            **counts,
        )
        PolicyAssignment.objects.filter(pk=locked.pk).update(last_evaluated_at=now)
    return counts


def evaluate(assignments=None, *, now: datetime | None = None) -> dict[int, dict[str, int]]:
    """Evaluate the given assignments (default: all). DeployIfNotExists conflicts are worked out across all."""
    now = now or timezone.now()
    everything = list(PolicyAssignment.objects.all())
    chosen = everything if assignments is None else [a for a in everything if a.pk in {x.pk for x in assignments}]
    conflicts = _dine_conflicts(everything, now)
    outcome = {}
    for assignment in chosen:
        outcome[assignment.pk] = evaluate_assignment(assignment, now=now, conflicts=conflicts.get(assignment.pk, ()))
    return outcome
