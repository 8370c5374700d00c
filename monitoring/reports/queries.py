"""The report tabs as data: each builder takes the user and the filters and returns a `Report` of tables (columns
+ a row iterator, so exports stream) and figures. Every queryset starts from `for_user`, so a report never holds
a row its reader could not open; aggregates are computed by the database, grouped, never per row."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from django.db.models import Count, Max, Q, Sum
from django.db.models.functions import Coalesce, TruncDate
from django.utils import timezone

from monitoring.reports import charts
from monitoring.reports.choices import Tab

SCOPE_FILTERS = ("tenant", "subscription", "resource_group", "location", "datasource_kind")


@dataclass
class Column:
    key: str
    label: str
    type: str = "str"  # str, int, float, bytes, percent, datetime, date, bool


@dataclass
class Table:
    name: str
    columns: list[Column]
    rows: Callable[[], Iterable[tuple]]
    count: Callable[[], int] | None = None

    def iter_rows(self) -> Iterator[tuple]:
        yield from self.rows()

    def row_count(self) -> int:
        if self.count is not None:
            return self.count()
        return sum(1 for _ in self.rows())


@dataclass
class Report:
    tab: str
    title: str
    filters: dict
    tables: list[Table] = field(default_factory=list)
    figures: list[tuple[str, Any]] = field(default_factory=list)
    tiles: list[tuple[str, Any]] = field(default_factory=list)


def parse_filters(data) -> dict:
    """Filters from a QueryDict or dict: scope lists, `days` (range, default 30) and tab options."""
    getlist = data.getlist if hasattr(data, "getlist") else lambda k: data.get(k) or []
    filters: dict[str, Any] = {}
    for key in SCOPE_FILTERS + ("state",):
        values = getlist(key)
        values = [values] if isinstance(values, str | int) else values
        values = [str(v) for v in values if str(v)]
        if values:
            filters[key] = values
    for key, default, low, high in (
        ("days", 30, 1, 3660),
        ("inactive_days", 7, 1, 3660),
        ("retention_days", 365, 1, 36600),
        ("archive_days", 90, 1, 36600),
    ):
        raw = data.get(key)
        try:
            filters[key] = min(max(int(raw), low), high) if raw not in (None, "") else default
        except (TypeError, ValueError):
            filters[key] = default
    filters["granularity"] = data.get("granularity") if data.get("granularity") in ("day", "week", "month") else "day"
    return filters


def _scope(queryset, filters: dict, paths: dict[str, str | None]):
    for key in SCOPE_FILTERS:
        path = paths.get(key, key if key != "datasource_kind" else None)
        if path and filters.get(key):
            queryset = queryset.filter(**{f"{path}__in": filters[key]})
    return queryset


def _since(filters: dict) -> datetime:
    return timezone.now() - timedelta(days=filters["days"])


def _instances(user, filters):
    from vaults.models import BackupInstance

    return _scope(
        BackupInstance.objects.for_user(user),
        filters,
        {"location": "datasource__location", "datasource_kind": "datasource__kind"},
    )


def _points(user, filters):
    from vaults.models import RecoveryPoint

    return _scope(
        RecoveryPoint.objects.for_user(user).exclude(state="deleted"),
        filters,
        {"location": "instance__datasource__location", "datasource_kind": "instance__datasource__kind"},
    )


def _jobs(user, filters):
    from monitoring.models import Job

    return _scope(
        Job.objects.for_user(user).filter(created__gte=_since(filters)),
        filters,
        {"location": "datasource__location", "datasource_kind": "datasource_kind"},
    )


def _policies(user, filters):
    from policies.models import BackupPolicy

    return _scope(
        BackupPolicy.objects.for_user(user),
        filters,
        {"location": "vault__location", "datasource_kind": "datasource_kind"},
    )


def _qs_table(name: str, columns: list[Column], queryset, fields: list[str]) -> Table:
    return Table(
        name,
        columns,
        rows=lambda: queryset.values_list(*fields).iterator(chunk_size=2000),
        count=queryset.count,
    )


SUCCESS = ("completed", "completed_with_warnings")


# Summary ---------------------------------------------------------------------------------------------------------


def summary(user, filters: dict) -> Report:
    from inventory.choices import DatasourceKind

    report = Report(Tab.SUMMARY, "Summary", filters)
    instances = _instances(user, filters)
    per_kind: dict[str, dict] = defaultdict(lambda: defaultdict(int))
    for row in instances.values("datasource__kind").annotate(
        items=Count("id"),
        protected=Count("id", filter=Q(protection_state="protected")),
        stopped=Count("id", filter=Q(protection_state__in=("stopped_retain_data", "soft_deleted"))),
    ):
        per_kind[row["datasource__kind"]].update(items=row["items"], protected=row["protected"], stopped=row["stopped"])
    for row in _points(user, filters).values("instance__datasource__kind").annotate(stored=Sum("data_added")):
        per_kind[row["instance__datasource__kind"]]["stored"] = row["stored"] or 0
    for row in (
        _jobs(user, filters)
        .filter(operation="backup")
        .values("datasource_kind")
        .annotate(
            total=Count("id"),
            ok=Count("id", filter=Q(status__in=SUCCESS)),
            failed=Count("id", filter=Q(status="failed")),
        )
    ):
        per_kind[row["datasource_kind"] or "other"].update(jobs=row["total"], succeeded=row["ok"], failed=row["failed"])
    labels = dict(DatasourceKind.choices)
    rows = []
    for kind, v in sorted(per_kind.items()):
        rate = round(100 * v["succeeded"] / v["jobs"], 1) if v["jobs"] else None
        rows.append(
            (
                labels.get(kind, kind),
                v["items"],
                v["protected"],
                v["stopped"],
                v["stored"],
                v["jobs"],
                v["succeeded"],
                v["failed"],
                rate,
            )
        )
    report.tables.append(
        Table(
            "Summary by datasource type",
            [
                Column("kind", "Datasource type"),
                Column("items", "Backup items", "int"),
                Column("protected", "Protected", "int"),
                Column("stopped", "Protection stopped", "int"),
                Column("stored", "Cloud storage (bytes)", "bytes"),
                Column("jobs", "Backup jobs", "int"),
                Column("succeeded", "Succeeded", "int"),
                Column("failed", "Failed", "int"),
                Column("rate", "Job success rate (%)", "percent"),
            ],
            rows=lambda: rows,
            count=lambda: len(rows),
        )
    )
    total_jobs = sum(r[5] for r in rows)
    report.tiles = [
        ("Backup items", sum(r[1] for r in rows)),
        ("Protected instances", sum(r[2] for r in rows)),
        ("Cloud storage (bytes)", sum(r[4] for r in rows)),
        ("Job success rate", f"{round(100 * sum(r[6] for r in rows) / total_jobs, 1)}%" if total_jobs else "—"),
    ]
    if rows:
        report.figures.append(
            (
                "Job success rate per datasource type",
                charts.bar_figure("Job success rate (%)", [r[0] for r in rows], [r[8] or 0 for r in rows]),
            )
        )
    return report


# Backup items ----------------------------------------------------------------------------------------------------


ITEM_COLUMNS = [
    Column("datasource", "Backup item"),
    Column("kind", "Datasource type"),
    Column("tenant", "Tenant"),
    Column("subscription", "Subscription"),
    Column("vault", "Vault"),
    Column("policy", "Policy"),
    Column("state", "Protection state"),
    Column("health", "Health"),
    Column("last_status", "Last backup status"),
    Column("last_time", "Last backup (UTC)", "datetime"),
    Column("points", "Recovery points", "int"),
    Column("stored", "Cloud storage (bytes)", "bytes"),
]


def backup_items(user, filters: dict) -> Report:
    report = Report(Tab.BACKUP_ITEMS, "Backup items", filters)
    queryset = (
        _instances(user, filters)
        .annotate(
            points=Count("recovery_points", filter=~Q(recovery_points__state="deleted")),
            stored=Coalesce(Sum("recovery_points__data_added", filter=~Q(recovery_points__state="deleted")), 0),
        )
        .order_by("datasource__name", "pk")
    )
    fields = [
        "datasource__name",
        "datasource__kind",
        "tenant__name",
        "subscription__name",
        "vault__name",
        "policy__name",
        "protection_state",
        "health",
        "last_backup_status",
        "last_backup_time",
        "points",
        "stored",
    ]
    report.tables.append(_qs_table("Backup items", ITEM_COLUMNS, queryset, fields))
    states = dict(queryset.order_by().values_list("protection_state").annotate(n=Count("id")))
    report.tiles = [(k.replace("_", " ").capitalize(), v) for k, v in sorted(states.items())]
    top = list(queryset.order_by("-stored")[:20].values_list("datasource__name", "stored"))
    if top:
        report.figures.append(
            (
                "Cloud storage per item (top 20)",
                charts.bar_figure("Cloud storage per item (bytes)", [t[0] for t in top], [t[1] for t in top]),
            )
        )
    return report


# Usage -----------------------------------------------------------------------------------------------------------


def usage(user, filters: dict) -> Report:
    report = Report(Tab.USAGE, "Usage", filters)
    points = _points(user, filters)
    per_vault = (
        points.values("tenant__name", "vault__name", "tier")
        .annotate(instances=Count("instance", distinct=True), points=Count("id"), stored=Sum("data_added"))
        .order_by("tenant__name", "vault__name", "tier")
    )
    report.tables.append(
        Table(
            "Storage per vault and tier",
            [
                Column("tenant", "Tenant"),
                Column("vault", "Vault"),
                Column("tier", "Tier"),
                Column("instances", "Protected instances", "int"),
                Column("points", "Recovery points", "int"),
                Column("stored", "Stored (bytes)", "bytes"),
            ],
            rows=lambda: (
                (r["tenant__name"], r["vault__name"], r["tier"], r["instances"], r["points"], r["stored"] or 0)
                for r in per_vault
            ),
            count=lambda: per_vault.count(),
        )
    )
    since = _since(filters)
    before = dict(points.filter(created__lt=since).values_list("vault__name").annotate(s=Sum("data_added")))
    daily = list(
        points.filter(created__gte=since)
        .annotate(day=TruncDate("created"))
        .values("day", "vault__name")
        .annotate(added=Sum("data_added"))
        .order_by("day", "vault__name")
    )
    report.tables.append(
        Table(
            "Data added per day",
            [Column("day", "Day", "date"), Column("vault", "Vault"), Column("added", "Added (bytes)", "bytes")],
            rows=lambda: ((r["day"], r["vault__name"], r["added"] or 0) for r in daily),
            count=lambda: len(daily),
        )
    )
    if daily:
        days = sorted({r["day"] for r in daily})
        series: dict[str, list] = {}
        for vault in sorted({r["vault__name"] for r in daily}):
            added = {r["day"]: r["added"] or 0 for r in daily if r["vault__name"] == vault}
            running, values = before.get(vault) or 0, []
            for day in days:
                running += added.get(day, 0)
                values.append(running)
            series[vault] = values
        report.figures.append(
            ("Stored bytes per vault over time", charts.line_figure("Stored bytes per vault", days, series))
        )
    return report


# Jobs ------------------------------------------------------------------------------------------------------------


def jobs(user, filters: dict) -> Report:
    report = Report(Tab.JOBS, "Jobs", filters)
    queryset = _jobs(user, filters).order_by("-created", "-id")
    if filters.get("state"):
        queryset = queryset.filter(status__in=filters["state"])
    report.tables.append(
        _qs_table(
            "Jobs",
            [
                Column("id", "Job", "int"),
                Column("created", "Start time (UTC)", "datetime"),
                Column("ended", "End time (UTC)", "datetime"),
                Column("operation", "Operation"),
                Column("status", "Status"),
                Column("subject", "Backup item"),
                Column("kind", "Datasource type"),
                Column("vault", "Vault"),
                Column("tenant", "Tenant"),
                Column("bytes", "Data transferred (bytes)", "bytes"),
                Column("error_code", "Error code"),
                Column("message", "Message"),
            ],
            queryset,
            [
                "id",
                "created",
                "ended",
                "operation",
                "status",
                "subject",
                "datasource_kind",
                "vault__name",
                "tenant__name",
                "bytes_done",
                "error_code",
                "message",
            ],
        )
    )
    causes = list(
        queryset.filter(status="failed").values("error_code").annotate(n=Count("id")).order_by("-n", "error_code")[:10]
    )
    report.tables.append(
        Table(
            "Top failure causes",
            [Column("error_code", "Error code"), Column("count", "Failed jobs", "int")],
            rows=lambda: ((c["error_code"] or "(none)", c["n"]) for c in causes),
            count=lambda: len(causes),
        )
    )
    per_day = list(
        queryset.order_by()
        .annotate(day=TruncDate("created"))
        .values("day")
        .annotate(failed=Count("id", filter=Q(status="failed")), ok=Count("id", filter=Q(status__in=SUCCESS)))
        .order_by("day")
    )
    if per_day:
        report.figures.append(
            (
                "Jobs per day",
                charts.stacked_bar_figure(
                    "Jobs per day",
                    [r["day"] for r in per_day],
                    {"Succeeded": [r["ok"] for r in per_day], "Failed": [r["failed"] for r in per_day]},
                ),
            )
        )
    return report


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


BUILDERS: dict[str, Callable[[Any, dict], Report]] = {
    Tab.SUMMARY: summary,
    Tab.BACKUP_ITEMS: backup_items,
    Tab.USAGE: usage,
    Tab.JOBS: jobs,
    Tab.POLICIES: policies,
    Tab.OPTIMIZE: optimize,
    Tab.ADHERENCE: adherence,
    Tab.COMPLIANCE: compliance,
}


def build(tab: str, user, filters: dict) -> Report:
    return BUILDERS[tab](user, filters)
