"""Reads for the policy pages: the live previews, computed by the same calculators the dispatcher and the
retention task use."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from policies.retention import Point, RetentionDecision, RetentionRules, select
from policies.schedule import Schedule, get_zone, next_runs, runs_between

SIMULATED_DAYS = 365


@dataclass(frozen=True)
class RunPreview:
    local: datetime
    utc: datetime


@dataclass(frozen=True)
class RetentionPreview:
    """A simulated year of scheduled backups and what the rules keep of it at `now`."""

    now: datetime
    points: list[Point]
    decision: RetentionDecision

    @property
    def kept(self) -> int:
        return len(self.decision.keep)

    def count_by_reason(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for reasons in self.decision.keep.values():
            for reason in reasons:
                counts[reason] = counts.get(reason, 0) + 1
        return counts


def schedule_preview(schedule: Schedule, now: datetime, count: int = 10) -> list[RunPreview]:
    """The next `count` runs, in the schedule's zone and in UTC."""
    zone = get_zone(schedule.timezone)
    return [RunPreview(run.astimezone(zone), run) for run in next_runs(schedule, now, count)]


def retention_preview(schedule: Schedule, rules: RetentionRules, now: datetime) -> RetentionPreview:
    """Backups at every scheduled run of the past year, and the calculator's decision over them."""
    runs = runs_between(schedule, now - timedelta(days=SIMULATED_DAYS), now)
    points = [Point(i, run) for i, run in enumerate(runs)]
    return RetentionPreview(now=now, points=points, decision=select(points, rules, now))
