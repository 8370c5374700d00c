"""Benchmark: the dispatcher tick with N protected instances due in the same minute, on PostgreSQL.

Creates a throw-away database (default ``bc_bench_dispatcher`` on 127.0.0.1:5432), migrates it, inserts N instances
(rows written directly: this measures the dispatcher, not the setup) under one every-4-hours policy spread over 10
host queues, then times one ``dispatch_due`` call from the tick to N queued jobs, including publishing the N Celery
tasks to Redis (a scratch Redis database whose queues are deleted afterwards). Prints a markdown table.

Run from the repository root:  .venv/bin/python bench/dispatcher.py [--instances N] [--runs R]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DB_NAME = "bc_bench_dispatcher"
PG = "postgres://postgres@127.0.0.1:5432"
BROKER = "redis://127.0.0.1:6379/15"
HOSTS = 10
TICK = datetime(2026, 3, 2, 8, 0, 10, tzinfo=UTC)


def setup_django() -> None:
    import psycopg

    with psycopg.connect(f"{PG}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{DB_NAME}"')
    os.environ["DATABASE_URL"] = f"{PG}/{DB_NAME}"
    os.environ["CELERY_BROKER_URL"] = BROKER
    os.environ["BACKUPCENTER_VAR_DIR"] = tempfile.mkdtemp(prefix="bc-bench-")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backupcenter.settings")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def build_estate(count: int) -> None:
    from core.permissions import SystemActor
    from inventory import services as inventory
    from inventory.models import Datasource
    from policies.services import policy_create
    from vaults.models import BackupInstance, StorageLocation, Vault

    actor = SystemActor("bench")
    west = inventory.location_create(actor=actor, name="west-europe", display_name="West Europe")
    tenant = inventory.tenant_create(actor=actor, name="bench")
    sub = inventory.subscription_create(actor=actor, tenant=tenant, name="bench")
    rg = inventory.resource_group_create(actor=actor, subscription=sub, name="rg-bench")
    vaults = []
    for i in range(10):
        vault = Vault(resource_group=rg, location=west, name=f"vault-{i}")
        vault.save()
        StorageLocation.objects.create(vault=vault, url=f"/nonexistent/{i}", sealed_password="-")
        vaults.append(vault)
    policies = [
        policy_create(
            actor=actor,
            vault=vault,
            name="every-4-hours",
            datasource_kind="files",
            schedule={"frequency": "hourly", "interval_hours": 4, "window_start": "00:00", "window_hours": 24},
            retention={"daily_count": 30},
        )
        for vault in vaults
    ]
    keys = {"tenant_id": tenant.pk, "subscription_id": sub.pk, "resource_group_id": rg.pk}
    datasources = Datasource.objects.bulk_create(
        [
            Datasource(
                location=west,
                name=f"ds-{i}",
                kind="files",
                host=f"bench-{i % HOSTS}",
                connection={"paths": ["/srv"]},
                **keys,
            )
            for i in range(count)
        ],
        batch_size=2000,
    )
    instances = BackupInstance.objects.bulk_create(
        [
            BackupInstance(datasource=ds, vault=vaults[i % 10], policy=policies[i % 10], **keys)
            for i, ds in enumerate(datasources)
        ],
        batch_size=2000,
    )
    BackupInstance.objects.filter(pk__in=[i.pk for i in instances]).update(created=TICK - timedelta(hours=5))


def reset_jobs() -> None:
    from monitoring.models import Job
    from policies.models import ScheduleCursor

    Job.objects.all().delete()
    ScheduleCursor.objects.all().delete()


def purge_broker() -> None:
    import redis

    client = redis.Redis.from_url(BROKER)
    for i in range(HOSTS):
        client.delete(f"host.bench-{i}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instances", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()

    setup_django()
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from monitoring.models import Job
    from policies.dispatcher import dispatch_due

    build_estate(args.instances)
    import policies.dispatcher as dispatcher

    publish = dispatcher._enqueue
    rows: dict[str, list] = {"db": [], "total": []}
    queries: list[int] = []
    for _ in range(args.runs):
        for mode in ("db", "total"):
            reset_jobs()
            purge_broker()
            # "db": tick → every job row committed as queued (publishing switched off); "total": plus publishing.
            dispatcher._enqueue = publish if mode == "total" else (lambda batch: None)
            with CaptureQueriesContext(connection) as captured:
                began = time.perf_counter()
                result = dispatch_due(TICK)
                rows[mode].append(time.perf_counter() - began)
            queries.append(len(captured.captured_queries))
            jobs = Job.objects.filter(status="queued").count()
            assert jobs == args.instances == len(result.job_ids), (jobs, len(result.job_ids))
    dispatcher._enqueue = publish
    purge_broker()
    version = connection.cursor().connection.info.server_version
    print(
        f"`dispatch_due` with {args.instances:,} instances due in the same minute (10 vaults, {HOSTS} host queues), "
        f"{args.runs} runs, Python {platform.python_version()}, PostgreSQL {version // 10000}.{version % 100}, "
        f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}.\n"
    )
    print("| step | instances | queued jobs | queries | median | min | max |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    labels = {"db": "tick → jobs committed as queued", "total": "… and every task published to Redis"}
    for mode, timings in rows.items():
        print(
            f"| {labels[mode]} | {args.instances:,} | {jobs:,} | {int(statistics.median(queries))} "
            f"| {statistics.median(timings):.2f} s | {min(timings):.2f} s | {max(timings):.2f} s |"
        )
    connection.close()
    import psycopg

    with psycopg.connect(f"{PG}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')


if __name__ == "__main__":
    main()
