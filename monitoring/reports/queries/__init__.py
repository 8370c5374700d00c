"""The report tabs as data: each builder takes the user and the filters and returns a `Report` of tables (columns
+ a row iterator, so exports stream) and figures. Every queryset starts from `for_user`, so a report never holds
a row its reader could not open; aggregates are computed by the database, grouped, never per row."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from monitoring.reports.choices import Tab
from monitoring.reports.queries.activity import backup_items, jobs, summary, usage
from monitoring.reports.queries.base import SCOPE_FILTERS, Column, Report, Table, parse_filters
from monitoring.reports.queries.rules import adherence, compliance, optimize, policies

__all__ = ["BUILDERS", "SCOPE_FILTERS", "Column", "Report", "Table", "build", "parse_filters"]


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
