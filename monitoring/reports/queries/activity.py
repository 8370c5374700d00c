"""Report tabs about what was protected and what ran: Summary, Backup items, Usage, Jobs."""

from __future__ import annotations

from collections import defaultdict

from django.db.models import Count, Q, Sum
from django.db.models.functions import Coalesce, TruncDate

from monitoring.reports import charts
from monitoring.reports.choices import Tab
from monitoring.reports.queries.base import (
    SUCCESS,
    Column,
    Report,
    Table,
    _instances,
    _jobs,
    _points,
    _qs_table,
    _since,
)

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
