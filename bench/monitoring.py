"""Benchmark: Overview, Jobs page and the 30-day Metrics query with 1,000,000 jobs and 2,000,000 health events.

Creates a throw-away PostgreSQL database (default ``bc_bench_monitoring`` on 127.0.0.1:5432), migrates it, seeds it
with ``manage.py seed_monitoring`` (COPY), then measures server time in-process with Django's test client (the full
request: middleware, permission scoping, queries, template rendering) for an administrator (sees everything) and a
contributor on one of four subscriptions. Prints a markdown table of p50/p95 per case.

Run from the repository root:  .venv/bin/python bench/monitoring.py [--jobs N] [--events N] [--runs R] [--keep]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DB_NAME = "bc_bench_monitoring"
PG = "postgres://postgres@127.0.0.1:5432"
FAILED_24H = "/monitoring/jobs/?operation=backup&status=failed&range=24h"


def setup_django(fresh: bool) -> None:
    import psycopg

    if fresh:
        with psycopg.connect(f"{PG}/postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{DB_NAME}"')
    os.environ["DATABASE_URL"] = f"{PG}/{DB_NAME}"
    os.environ["BACKUPCENTER_VAR_DIR"] = tempfile.mkdtemp(prefix="bc-bench-")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backupcenter.settings")
    import django

    django.setup()
    from django.conf import settings

    settings.ALLOWED_HOSTS = ["*"]
    if fresh:
        from django.core.management import call_command

        call_command("migrate", verbosity=0)


def timed(fn, runs: int) -> tuple[float, float, int]:
    from django.db import connection, reset_queries
    from django.test.utils import CaptureQueriesContext

    fn()  # warm-up: connection, template loading, plan cache
    samples = []
    queries = 0
    for _ in range(runs):
        reset_queries()
        with CaptureQueriesContext(connection) as ctx:
            start = time.perf_counter()
            fn()
            samples.append((time.perf_counter() - start) * 1000)
        queries = len(ctx.captured_queries)
    samples.sort()
    p95 = samples[min(len(samples) - 1, int(round(0.95 * (len(samples) - 1))))]
    return statistics.median(samples), p95, queries


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=1_000_000)
    parser.add_argument("--events", type=int, default=2_000_000)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--keep", action="store_true", help="reuse an already seeded database")
    args = parser.parse_args()

    setup_django(fresh=not args.keep)
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client

    from core.permissions import SystemActor
    from inventory.models import Subscription
    from inventory.services import role_assignment_create
    from monitoring.models import HealthEvent, Job
    from monitoring.selectors import metric_series

    if not args.keep:
        start = time.perf_counter()
        call_command("seed_monitoring", jobs=args.jobs, events=args.events)
        print(f"seeded in {time.perf_counter() - start:.0f} s", file=sys.stderr)
    User = get_user_model()
    admin, _ = User.objects.get_or_create(username="bench-admin", defaults={"is_superuser": True, "is_staff": True})
    contributor, created = User.objects.get_or_create(username="bench-contributor")
    if created:
        role_assignment_create(
            actor=SystemActor("bench"), role="contributor", scope=Subscription.objects.order_by("pk").first(),
            user=contributor,
        )  # fmt: skip
    clients = {}
    for user in (admin, contributor):
        client = Client()
        client.force_login(user)
        clients[user.username] = client

    def page(client, url):
        def run():
            response = client.get(url)
            assert response.status_code == 200, (url, response.status_code)

        return run

    cases = []
    for who, client in clients.items():
        role = "admin" if who == "bench-admin" else "contributor (1 of 4 subscriptions)"
        cases += [
            (f"Overview — {role}", page(client, "/")),
            (f"Overview 14-day health chart — {role}", page(client, "/monitoring/overview/health-chart/")),
            (f"Jobs page, any time — {role}", page(client, "/monitoring/jobs/")),
            (f"Jobs page, failed backups 24 h — {role}", page(client, FAILED_24H)),
            (f"Jobs page, last 30 days, page 20 — {role}", page(client, "/monitoring/jobs/?range=30d&page=20")),
        ]
    for who, user in (("admin", admin), ("contributor", contributor)):
        for split in ("", "health_status", "vault"):
            label = f"Metrics query 30 days, daily{', split by ' + split if split else ''} — {who}"
            cases.append(
                (
                    label,
                    lambda u=user, s=split: metric_series(u, {}, metric="backup_health", days=30, hours=24, split_by=s),
                )
            )
        chart = page(clients[user.username], "/monitoring/metrics/chart/?range=30d&granularity=1h")
        cases.append((f"Metrics page chart 30 days, hourly — {who}", chart))

    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        version = cursor.fetchone()[0]
    print(
        f"\n{Job.objects.count():,} jobs, {HealthEvent.objects.count():,} health events over 90 days; {args.runs} runs "
        f"per case after one warm-up; Python {platform.python_version()}, PostgreSQL {version}, {os.cpu_count()} CPUs, "
        f"load average {os.getloadavg()[0]:.1f}.\n"
    )
    print("| case | queries | p50 | p95 |\n|---|---:|---:|---:|")
    for label, fn in cases:
        p50, p95, queries = timed(fn, args.runs)
        print(f"| {label} | {queries} | {p50:.0f} ms | {p95:.0f} ms |", flush=True)


if __name__ == "__main__":
    main()
