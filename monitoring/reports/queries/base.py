"""Shared pieces of the report tabs: the table/report shapes, filter parsing and the scoped base querysets."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.utils import timezone

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
