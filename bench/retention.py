"""Benchmark: GFS retention selection over 100,000 recovery points.

Generates hourly points over ~11.4 years (plus one on-demand point a week) in Europe/Berlin, then times
``policies.retention.select`` with a full daily/weekly/monthly/yearly policy and prints a markdown table.

Run from the repository root:  .venv/bin/python bench/retention.py [--points N] [--runs R]
"""

from __future__ import annotations

import argparse
import platform
import random
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from policies.retention import Point, RetentionRules, select  # noqa: E402

RULES = RetentionRules(
    daily_count=30,
    weekly_count=12,
    weekly_weekday=6,
    monthly_count=12,
    monthly_day=0,
    yearly_count=10,
    yearly_month=12,
    yearly_day=0,
    instant_restore_days=7,
    timezone="Europe/Berlin",
)


def make_points(count: int) -> tuple[list[Point], datetime]:
    """``count`` hourly points ending now, shuffled so the benchmark includes the sort; every 168th is on-demand."""
    start = datetime(2014, 1, 1, tzinfo=UTC)
    points = []
    for i in range(count):
        created = start + timedelta(hours=i, minutes=7)
        retain = created + timedelta(days=90) if i % 168 == 0 else None
        points.append(Point(i, created, retain))
    random.Random(42).shuffle(points)
    return points, start + timedelta(hours=count)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()

    points, now = make_points(args.points)
    timings = []
    decision = None
    for _ in range(args.runs):
        began = time.perf_counter()
        decision = select(points, RULES, now)
        timings.append(time.perf_counter() - began)
    assert decision is not None

    span_years = (now - min(p.created for p in points)).days / 365.25
    print(
        f"`select` over hourly points spanning {span_years:.1f} years, {args.runs} runs, Python "
        f"{platform.python_version()}, {platform.machine()}, {RULES.timezone}; rules: daily 30, weekly 12 (Sunday), "
        "monthly 12 (last day), yearly 10 (31 December), instant restore 7 days."
    )
    print()
    print("| points | kept | expired | median | min | max |")
    print("|---:|---:|---:|---:|---:|---:|")
    print(
        f"| {args.points:,} | {len(decision.keep):,} | {len(decision.expire):,} "
        f"| {statistics.median(timings) * 1000:.0f} ms | {min(timings) * 1000:.0f} ms | {max(timings) * 1000:.0f} ms |"
    )


if __name__ == "__main__":
    main()
