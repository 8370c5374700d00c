"""Report tabs about the rules: Policies, Optimize, Policy adherence, Compliance."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta

from django.db.models import Count, Max, Q, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone

from monitoring.reports import charts
from monitoring.reports.choices import Tab
from monitoring.reports.queries.base import (
    Column,
    Report,
    Table,
    _instances,
    _points,
    _policies,
    _qs_table,
    _scope,
)

# Policies --------------------------------------------------------------------------------------------------------


def _policy_rows(queryset) -> list[tuple]:
    from policies.governance.definitions import policy_interval_hours, policy_retention_days

    rows = []
    for p in queryset:
        rows.append(
            (
                p.name,
                p.vault.name,
                p.tenant.name,
                p.datasource_kind,
                (p.schedule or {}).get("frequency", ""),
                policy_interval_hours(p.schedule or {}),
                policy_retention_days(p.retention or {}),
                p.items,
                p.stored,
            )
        )
    return rows


POLICY_COLUMNS = [
    Column("policy", "Policy"),
    Column("vault", "Vault"),
    Column("tenant", "Tenant"),
    Column("kind", "Datasource type"),
    Column("frequency", "Frequency"),
    Column("interval", "Longest interval (hours)", "float"),
    Column("retention", "Retention (days)", "int"),
    Column("items", "Backup items", "int"),
    Column("stored", "Cloud storage (bytes)", "bytes"),
]


def _annotated_policies(user, filters):
    from vaults.models import RecoveryPoint

    stored = RecoveryPoint.objects.exclude(state="deleted").values("instance__policy").annotate(s=Sum("data_added"))
    per_policy = {row["instance__policy"]: row["s"] or 0 for row in stored}
    queryset = (
        _policies(user, filters)
        .select_related("vault", "tenant")
        .annotate(items=Count("instances", distinct=True))
        .order_by("name", "pk")
    )
    for policy in queryset:
        policy.stored = per_policy.get(policy.pk, 0)
        yield policy


def policies(user, filters: dict) -> Report:
    report = Report(Tab.POLICIES, "Policies", filters)
    rows = _policy_rows(_annotated_policies(user, filters))
    report.tables.append(Table("Policies", POLICY_COLUMNS, rows=lambda: rows, count=lambda: len(rows)))
    report.tiles = [("Active policies", sum(1 for r in rows if r[7])), ("Policies", len(rows))]
    if rows:
        report.figures.append(
            (
                "Backup items per policy",
                charts.bar_figure("Backup items per policy", [f"{r[0]} ({r[1]})" for r in rows], [r[7] for r in rows]),
            )
        )
    return report


# Optimize --------------------------------------------------------------------------------------------------------


def optimize(user, filters: dict) -> Report:
    report = Report(Tab.OPTIMIZE, "Optimize", filters)
    now = timezone.now()
    cutoff = now - timedelta(days=filters["inactive_days"])
    inactive = (
        _instances(user, filters)
        .filter(protection_state__in=("protected", "protection_error"))
        .annotate(last_point=Max("recovery_points__created", filter=Q(recovery_points__state="available")))
        .filter(Q(last_point__lt=cutoff) | Q(last_point__isnull=True), created__lt=cutoff)
        .order_by("datasource__name")
    )
    report.tables.append(
        _qs_table(
            f"Inactive instances (no backup in {filters['inactive_days']} days)",
            [
                Column("datasource", "Backup item"),
                Column("vault", "Vault"),
                Column("tenant", "Tenant"),
                Column("last", "Last recovery point (UTC)", "datetime"),
            ],
            inactive,
            ["datasource__name", "vault__name", "tenant__name", "last_point"],
        )
    )
    long_rows = [r for r in _policy_rows(_annotated_policies(user, filters)) if r[6] > filters["retention_days"]]
    report.tables.append(
        Table(
            f"Policies keeping data longer than {filters['retention_days']} days",
            POLICY_COLUMNS,
            rows=lambda: long_rows,
            count=lambda: len(long_rows),
        )
    )
    archive_cutoff = now - timedelta(days=filters["archive_days"])
    candidates = (
        _points(user, filters)
        .filter(state="available", tier="standard", created__lt=archive_cutoff)
        .values("instance__datasource__name", "vault__name")
        .annotate(points=Count("id"), size=Sum("data_added"))
        .order_by("-size")
    )
    report.tables.append(
        Table(
            f"Archive tier candidates (recovery points older than {filters['archive_days']} days)",
            [
                Column("datasource", "Backup item"),
                Column("vault", "Vault"),
                Column("points", "Recovery points", "int"),
                Column("size", "Bytes", "bytes"),
            ],
            rows=lambda: (
                (c["instance__datasource__name"], c["vault__name"], c["points"], c["size"] or 0) for c in candidates
            ),
            count=lambda: candidates.count(),
        )
    )
    unused = _policies(user, filters).filter(instances__isnull=True).select_related("vault", "tenant").order_by("name")
    report.tables.append(
        _qs_table(
            "Policies with no backup items",
            [
                Column("policy", "Policy"),
                Column("vault", "Vault"),
                Column("tenant", "Tenant"),
                Column("kind", "Datasource type"),
            ],
            unused,
            ["name", "vault__name", "tenant__name", "datasource_kind"],
        )
    )
    return report


# Policy adherence ------------------------------------------------------------------------------------------------


def _period_start(day: date, granularity: str) -> date:
    if granularity == "week":
        return day - timedelta(days=day.weekday())
    if granularity == "month":
        return day.replace(day=1)
    return day


def _expected_per_day(schedule: dict, day: date) -> float:
    frequency = schedule.get("frequency")
    if frequency == "hourly":
        return min(24, schedule.get("window_hours", 24)) / max(int(schedule.get("interval_hours") or 24), 1)
    runs = len(schedule.get("times") or []) or 1
    if frequency == "weekly":
        return runs if day.weekday() in (schedule.get("weekdays") or []) else 0
    return runs


def adherence(user, filters: dict) -> Report:
    report = Report(Tab.ADHERENCE, "Policy adherence", filters)
    granularity = filters["granularity"]
    today = timezone.now().date()
    # The current partial day is not judged (Azure's reports leave it out too).
    first, last = today - timedelta(days=filters["days"]), today - timedelta(days=1)
    instances = list(
        _instances(user, filters)
        .exclude(protection_state="soft_deleted")
        .values_list("pk", "datasource__name", "vault__name", "policy__schedule", "created")
        .order_by("datasource__name", "pk")
    )
    counts: dict[tuple[int, date], int] = {}
    for row in (
        _points(user, filters)
        .filter(created__date__gte=first, created__date__lte=last)
        .annotate(day=TruncDate("created"))
        .values("instance_id", "day")
        .annotate(n=Count("id"))
    ):
        counts[(row["instance_id"], row["day"])] = row["n"]
    days = [first + timedelta(days=i) for i in range((last - first).days + 1)]
    rows: list[tuple] = []
    for pk, name, vault, schedule, created in instances:
        periods: dict[date, list] = {}
        for day in days:
            if day < created.date():
                continue
            bucket = periods.setdefault(_period_start(day, granularity), [0.0, 0])
            bucket[0] += _expected_per_day(schedule or {}, day)
            bucket[1] += counts.get((pk, day), 0)
        for start, (expected, actual) in periods.items():
            adhered = None if expected == 0 else actual >= 1
            rows.append((name, vault, start, round(expected, 2), actual, adhered))
    report.tables.append(
        Table(
            f"Adherence by backup instance (per {granularity})",
            [
                Column("datasource", "Backup item"),
                Column("vault", "Vault"),
                Column("period", "Period start", "date"),
                Column("expected", "Expected backups", "float"),
                Column("actual", "Successful backups", "int"),
                Column("adhered", "At least one successful backup", "bool"),
            ],
            rows=lambda: rows,
            count=lambda: len(rows),
        )
    )
    by_period: dict[date, list[int]] = defaultdict(lambda: [0, 0])
    for _, _, start, _, _, adhered in rows:
        if adhered is not None:
            by_period[start][0] += adhered
            by_period[start][1] += 1
    periods = sorted(by_period)
    if periods:
        report.figures.append(
            (
                "Items with at least one successful backup",
                charts.bar_figure(
                    "Items adhering (%)", periods, [round(100 * by_period[p][0] / by_period[p][1], 1) for p in periods]
                ),
            )
        )
        names = sorted({r[0] for r in rows})[:50]
        grid = {(r[0], r[2]): (1 if r[5] else 0) for r in rows if r[5] is not None}
        report.figures.append(
            (
                "By backup instance",
                charts.heatmap_figure(
                    "Adherence by backup instance", periods, names, [[grid.get((n, p)) for p in periods] for n in names]
                ),
            )
        )
    return report


# Compliance ------------------------------------------------------------------------------------------------------


def compliance(user, filters: dict) -> Report:
    from policies.governance.models import ComplianceResult
    from policies.governance.views import assignments_with_counts

    report = Report(Tab.COMPLIANCE, "Compliance", filters)
    results = _scope(ComplianceResult.objects.for_user(user), filters, {"location": None, "datasource_kind": None})
    per_assignment: dict[int, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for row in results.values("assignment_id", "state").annotate(n=Count("id")):
        per_assignment[row["assignment_id"]][row["state"]] = row["n"]
    assignment_rows = []
    for a in assignments_with_counts(user):
        c = per_assignment.get(a.pk, {})
        judged = sum(c.values()) - c.get("exempt", 0)
        assignment_rows.append(
            (
                a.name,
                a.definition_key,
                a.scope_name,
                a.effect,
                c.get("compliant", 0),
                c.get("non_compliant", 0),
                c.get("exempt", 0),
                c.get("unknown", 0),
                c.get("conflict", 0),
                round(100 * c.get("compliant", 0) / judged, 1) if judged else None,
            )
        )
    report.tables.append(
        Table(
            "Assignments",
            [
                Column("assignment", "Assignment"),
                Column("definition", "Definition"),
                Column("scope", "Scope"),
                Column("effect", "Effect"),
                Column("compliant", "Compliant", "int"),
                Column("non_compliant", "Non-compliant", "int"),
                Column("exempt", "Exempt", "int"),
                Column("unknown", "Unknown", "int"),
                Column("conflict", "Conflict", "int"),
                Column("percent", "Compliant (%)", "percent"),
            ],
            rows=lambda: assignment_rows,
            count=lambda: len(assignment_rows),
        )
    )
    detail = results.order_by("assignment__name", "resource_name", "pk")
    if filters.get("state"):
        detail = detail.filter(state__in=filters["state"])
    report.tables.append(
        _qs_table(
            "Resources",
            [
                Column("assignment", "Assignment"),
                Column("type", "Resource type"),
                Column("resource", "Resource"),
                Column("tenant", "Tenant"),
                Column("subscription", "Subscription"),
                Column("state", "State"),
                Column("reason", "Reason"),
                Column("since", "In this state since (UTC)", "datetime"),
                Column("evaluated", "Evaluated (UTC)", "datetime"),
            ],
            detail,
            [
                "assignment__name",
                "resource_type",
                "resource_name",
                "tenant__name",
                "subscription__name",
                "state",
                "reason",
                "state_since",
                "evaluated_at",
            ],
        )
    )
    totals: dict[str, int] = defaultdict(int)
    for c in per_assignment.values():
        for state, n in c.items():
            totals[state] += n
    judged = sum(totals.values()) - totals.get("exempt", 0)
    report.tiles = [
        ("Overall compliance", f"{round(100 * totals.get('compliant', 0) / judged, 1)}%" if judged else "—")
    ]
    if totals:
        report.figures.append(("Resources by compliance state", charts.compliance_figure(dict(totals))))
    return report
