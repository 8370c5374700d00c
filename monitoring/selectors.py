"""Read-side queries of monitoring: Overview tile counts and metric series, always through `for_user`."""

from collections import defaultdict
from datetime import datetime, timedelta

from django.db.models import Count, F, Sum
from django.db.models.functions import TruncDay, TruncHour
from django.utils import timezone

from monitoring.choices import OPEN_ALERT_STATES, AlertCategory, HealthStatus, JobStatus, Operation
from monitoring.models import Alert, HealthEvent, HealthEventRollup, Job

# The scope bar's keys and where each lives on monitoring rows.
SCOPE_PATHS = {
    "tenant": "tenant",
    "subscription": "subscription",
    "resource_group": "resource_group",
    "location": "vault__location",
    "datasource_kind": "datasource_kind",
}


def scoped(queryset, scope: dict, paths: dict | None = None):
    """Apply the scope bar's selections ({key: [values]}) to a queryset."""
    paths = paths or SCOPE_PATHS
    for key, values in scope.items():
        if values and paths.get(key):
            queryset = queryset.filter(**{f"{paths[key]}__in": values})
    return queryset


def job_tile(user, scope: dict, now: datetime | None = None) -> dict:
    """Backup and restore jobs created in the last 24 hours, by operation and status."""
    since = (now or timezone.now()) - timedelta(hours=24)
    rows = (
        scoped(Job.objects.for_user(user), scope)
        .filter(created__gte=since, operation__in=[Operation.BACKUP, Operation.RESTORE])
        .values_list("operation", "status")
        .annotate(n=Count("id"))
        .order_by()
    )
    counts = {op: {status: 0 for status in JobStatus.values} for op in (Operation.BACKUP, Operation.RESTORE)}
    for operation, status, n in rows:
        counts[operation][status] = n
    return counts


def alert_tile(user, scope: dict, now: datetime | None = None) -> dict:
    """Open alerts fired in the last 24 hours by severity, split security/configured and datasource/global."""
    since = (now or timezone.now()) - timedelta(hours=24)
    rows = (
        scoped(Alert.objects.for_user(user), scope)
        .filter(state__in=OPEN_ALERT_STATES, last_fired__gte=since)
        .values_list("category", "severity", "instance_id")
    )
    tile: dict = {"total": 0, "security": defaultdict(int), "configured": defaultdict(int)}
    tile.update(datasource=0, global_=0)
    for category, severity, instance_id in rows:
        kind = "security" if category == AlertCategory.SECURITY else "configured"
        tile[kind][severity] += 1
        tile["total"] += 1
        tile["datasource" if instance_id else "global_"] += 1
    tile["security"], tile["configured"] = dict(tile["security"]), dict(tile["configured"])
    return tile


def health_by_day(user, scope: dict, metric: str, days: int = 14, now: datetime | None = None) -> list[tuple]:
    """[(day, health status, count)] over the last `days` days, from the hourly rollup."""
    start = ((now or timezone.now()) - timedelta(days=days - 1)).replace(hour=0, minute=0, second=0, microsecond=0)
    rows = (
        scoped(HealthEventRollup.objects.for_user(user), scope, {**SCOPE_PATHS, "location": "vault__location"})
        .filter(metric=metric, bucket__gte=start)
        .annotate(day=TruncDay("bucket"))
        .values_list("day", "health_status")
        .annotate(n=Sum("count"))
        .order_by("day")
    )
    return [(day, status, n) for day, status, n in rows]


def _bucket(moment: datetime, hours: int) -> datetime:
    if hours >= 24:
        return moment.replace(hour=0, minute=0, second=0, microsecond=0)
    return moment.replace(hour=moment.hour - moment.hour % hours, minute=0, second=0, microsecond=0)


def metric_series(
    user,
    scope: dict,
    *,
    metric: str,
    days: int,
    hours: int,
    split_by: str = "",
    statuses: list[str] | None = None,
    now: datetime | None = None,
) -> list[tuple]:
    """[(bucket start, series name, count)] for the Metrics chart.

    Every split but the instance reads the hourly rollup (a 30-day range is ~720 rows per dimension combination);
    the instance split reads the events themselves, limited to the ten busiest instances.
    """
    now = now or timezone.now()
    start = _bucket(now - timedelta(days=days), hours)
    if split_by == "instance":
        events = scoped(HealthEvent.objects.for_user(user), scope).filter(metric=metric, timestamp__gte=start)
        if statuses:
            events = events.filter(health_status__in=statuses)
        top = list(
            events.values_list("instance_id", flat=True)
            .annotate(n=Count("id"))
            .order_by("-n")
            .values_list("instance_id", flat=True)[:10]
        )
        rows = (
            events.filter(instance_id__in=top)
            .annotate(hour=TruncDay("timestamp") if hours >= 24 else TruncHour("timestamp"))
            .values_list("hour", "instance_name")
            .annotate(n=Count("id"))
            .order_by()
        )
    else:
        rollup = scoped(HealthEventRollup.objects.for_user(user), scope).filter(metric=metric, bucket__gte=start)
        if statuses:
            rollup = rollup.filter(health_status__in=statuses)
        series_field = {"vault": "vault__name", "health_status": "health_status", "datasource_kind": "datasource_kind"}
        field = series_field.get(split_by)
        bucket = TruncDay("bucket") if hours >= 24 else F("bucket")
        rows = (
            rollup.annotate(b=bucket).values_list("b", field) if field else rollup.annotate(b=bucket).values_list("b")
        )
        rows = rows.annotate(n=Sum("count")).order_by()
        if not field:
            rows = [(b, "All", n) for b, n in rows]
    totals: dict = defaultdict(int)
    for moment, series, n in rows:
        label = HealthStatus(series).label if split_by == "health_status" and series else (series or "—")
        totals[(_bucket(moment, hours), label)] += n
    return sorted((b, s, n) for (b, s), n in totals.items())
