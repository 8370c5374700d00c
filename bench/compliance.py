"""Benchmark: compliance evaluation of 100,000 datasources × 10 assignments, and a 100,000-row XLSX export's memory.

Creates a throw-away PostgreSQL database (default ``bc_bench_compliance`` on 127.0.0.1:5432), migrates it and fills
it with bulk inserts (not timed): 2 tenants × 2 subscriptions × 2 resource groups, 20 vaults, 20 policies,
100,000 files datasources (half tagged ``backup=gold``), 60,000 of them protected, one recovery point per instance
(a third of them stale), 100,000 backup jobs and a restore drill for every fifth instance. Ten assignments at tenant
scope cover every definition kind (datasource, instance, vault, policy). It then times:

* a cold evaluation (no earlier results: every row inserted, every row's first history entry written);
* a warm evaluation (same states: upserts keep ``state_since``, no history rows);
* a 100,000-row XLSX export of the Jobs tab in a child process, whose peak RSS is reported.

Run from the repository root:  .venv/bin/python bench/compliance.py [--datasources N] [--runs R] [--keep]
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DB_NAME = "bc_bench_compliance"
PG = "postgres://postgres@127.0.0.1:5432"


def setup_django(fresh: bool) -> None:
    if fresh:
        import psycopg

        with psycopg.connect(f"{PG}/postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{DB_NAME}"')
    os.environ["DATABASE_URL"] = f"{PG}/{DB_NAME}"
    os.environ.setdefault("BACKUPCENTER_VAR_DIR", tempfile.mkdtemp(prefix="bc-bench-"))
    os.environ["CELERY_TASK_ALWAYS_EAGER"] = "true"
    os.environ["LOG_LEVEL"] = "WARNING"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backupcenter.settings")
    import django

    django.setup()
    if fresh:
        from django.core.management import call_command

        call_command("migrate", verbosity=0)


def seed(datasources: int) -> None:
    from django.db.models.signals import post_delete, post_save
    from django.utils import timezone

    from core.permissions import SystemActor
    from inventory import services as inventory
    from inventory.models import Datasource
    from monitoring.models import Job
    from policies.models import BackupPolicy
    from vaults.models import BackupInstance, RecoveryPoint, Vault

    # Seeding writes rows directly; the debounced-evaluation receivers are for interactive changes.
    for signal in (post_save, post_delete):
        signal.receivers = []
    actor = SystemActor("bench")
    west = inventory.location_create(actor=actor, name="west-europe")
    now = timezone.now()
    groups = []
    for t in range(2):
        tenant = inventory.tenant_create(actor=actor, name=f"tenant-{t}")
        for s in range(2):
            sub = inventory.subscription_create(actor=actor, tenant=tenant, name=f"sub-{t}-{s}")
            for r in range(2):
                groups.append(inventory.resource_group_create(actor=actor, subscription=sub, name=f"rg-{t}-{s}-{r}"))
    vaults, policies = [], []
    for i in range(20):
        rg = groups[i % len(groups)]
        vault = Vault.objects.create(
            resource_group=rg,
            location=west,
            name=f"vault-{i}",
            redundancy=("LRS", "ZRS", "GRS")[i % 3],
            soft_delete_state=("enabled", "always_on")[i % 2],
            immutability=("disabled", "locked")[i % 2],
        )
        vaults.append(vault)
        policies.append(
            BackupPolicy.objects.create(
                vault=vault,
                name=f"policy-{i}",
                datasource_kind="files",
                schedule={"frequency": "daily", "times": ["02:00"], "timezone": "UTC"},
                retention={"daily_count": (14, 30, 400)[i % 3], "timezone": "UTC"},
            )
        )
    rows = []
    for n in range(datasources):
        rg = groups[n % len(groups)]
        rows.append(
            Datasource(
                tenant_id=rg.tenant_id,
                subscription_id=rg.subscription_id,
                resource_group=rg,
                location=west,
                name=f"share-{n:06d}",
                kind="files",
                connection={"paths": [f"/srv/share-{n}"]},
                tags={"backup": "gold"} if n % 2 else {},
            )
        )
    Datasource.objects.bulk_create(rows, batch_size=5000)
    by_rg = {v.resource_group_id: (v, p) for v, p in zip(vaults, policies, strict=True)}
    instances = []
    for ds in Datasource.objects.order_by("pk")[: int(datasources * 0.6)].iterator(chunk_size=5000):
        vault, policy = by_rg[ds.resource_group_id]
        instances.append(
            BackupInstance(
                tenant_id=vault.tenant_id,
                subscription_id=vault.subscription_id,
                resource_group_id=vault.resource_group_id,
                vault=vault,
                datasource=ds,
                policy=policy,
                created=now - timedelta(days=60),
            )
        )
    BackupInstance.objects.bulk_create(instances, batch_size=5000)
    BackupInstance.objects.update(created=now - timedelta(days=60))
    points, jobs = [], []
    for k, inst in enumerate(BackupInstance.objects.order_by("pk").iterator(chunk_size=5000)):
        points.append(
            RecoveryPoint(
                tenant_id=inst.tenant_id,
                subscription_id=inst.subscription_id,
                resource_group_id=inst.resource_group_id,
                vault_id=inst.vault_id,
                instance=inst,
                snapshot_id=f"{k:064x}",
                created=now - timedelta(hours=(3 if k % 3 else 50)),
                size=10_000 + k,
                data_added=1_000 + k,
            )
        )
        if k % 5 == 0:
            jobs.append(_job(inst, "restore", now - timedelta(days=k % 40)))
    RecoveryPoint.objects.bulk_create(points, batch_size=5000)
    first = BackupInstance.objects.order_by("pk").first()
    for k in range(100_000):
        jobs.append(_job(first, "backup", now - timedelta(minutes=k), failed=k % 10 == 0))
    Job.objects.bulk_create(jobs, batch_size=5000)
    from django.db import connection

    # Fresh statistics, as autovacuum would gather after a load this size; without them the planner guesses.
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")


def _job(instance, operation, ended, failed=False):
    from monitoring.models import Job

    return Job(
        operation=operation,
        status="failed" if failed else "completed",
        tenant_id=instance.tenant_id,
        subscription_id=instance.subscription_id,
        resource_group_id=instance.resource_group_id,
        vault_id=instance.vault_id,
        instance=instance,
        datasource_kind="files",
        subject=f"instance {instance.pk}",
        error_code="source_unreadable" if failed else "",
        started=ended - timedelta(minutes=5),
        ended=ended,
        bytes_done=123_456,
    )


def assignments() -> list:
    from django.contrib.auth import get_user_model

    from inventory.models import Tenant
    from policies.governance.models import ComplianceResult, PolicyAssignment
    from policies.governance.services import assignment_create
    from policies.models import BackupPolicy

    ComplianceResult.objects.all().delete()
    PolicyAssignment.objects.all().delete()
    admin, _ = get_user_model().objects.get_or_create(username="bench-admin", defaults={"is_superuser": True})
    t0, t1 = Tenant.objects.order_by("name")
    gold = BackupPolicy.objects.filter(tenant=t0).order_by("pk").first()
    specs = [
        (t0, "backup_enabled", {}, "audit_if_not_exists"),
        (t1, "backup_enabled", {}, "audit_if_not_exists"),
        (t0, "configure_backup_tagged", {"policy": gold.pk, "tag_name": "backup", "tag_values": ["gold"]}, ""),
        (t0, "last_recovery_point_age", {"max_age_hours": 24}, ""),
        (t1, "restore_drill", {"days": 30}, ""),
        (t0, "soft_delete_enabled", {}, ""),
        (t0, "immutability_enabled", {}, ""),
        (t1, "vault_cmk", {}, "deny"),
        (t1, "disallowed_redundancy", {"redundancies": ["GRS"]}, ""),
        (t0, "policy_min_retention_frequency", {"min_retention_days": 30}, ""),
    ]
    made = []
    for tenant, key, params, effect in specs:
        kwargs = {"effect": effect} if effect else {}
        made.append(assignment_create(actor=admin, scope=tenant, definition_key=key, parameters=params, **kwargs))
    return made


def evaluate_once() -> tuple[float, int, int]:
    from policies.governance.evaluation import evaluate
    from policies.governance.models import ComplianceChange, ComplianceResult

    start = time.perf_counter()
    evaluate()
    elapsed = time.perf_counter() - start
    return elapsed, ComplianceResult.objects.count(), ComplianceChange.objects.count()


def peak_rss_mb() -> float:
    """This process's peak resident set (VmHWM). Unlike ru_maxrss it is not inherited from the forking parent."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def xlsx_child(path: str) -> None:
    """Runs in a child process: export the Jobs tab (100,000 rows + tables) to XLSX; print rows and peak RSS."""
    setup_django(fresh=False)
    from django.contrib.auth import get_user_model

    from monitoring.reports import exporters, queries

    admin = get_user_model().objects.get(username="bench-admin")
    report = queries.build("jobs", admin, queries.parse_filters({"days": "3660"}))
    start = time.perf_counter()
    with open(path, "wb") as handle:
        exporters.write_xlsx(report, handle, user=admin)
    elapsed = time.perf_counter() - start
    rows = report.tables[0].row_count()
    peak_mb = peak_rss_mb()
    print(f"{rows} {elapsed:.2f} {peak_mb:.0f} {os.path.getsize(path) / 1e6:.1f}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--datasources", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--keep", action="store_true", help="reuse the seeded database")
    parser.add_argument("--xlsx-child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.xlsx_child:
        xlsx_child(args.xlsx_child)
        return
    setup_django(fresh=not args.keep)
    from django.db import connection

    if not args.keep:
        started = time.perf_counter()
        seed(args.datasources)
        print(f"seeded in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    cold, warm = [], []
    results = changes = 0
    for _ in range(args.runs):
        assignments()
        seconds, results, changes = evaluate_once()
        cold.append(seconds)
        seconds, results, _ = evaluate_once()
        warm.append(seconds)
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        version = cursor.fetchone()[0].split()[0]
    out = Path(tempfile.mkdtemp(prefix="bc-bench-xlsx-")) / "jobs.xlsx"
    child = subprocess.run(
        [sys.executable, __file__, "--xlsx-child", str(out)], capture_output=True, text=True, check=True, env=os.environ
    )
    rows, seconds, peak, size = child.stdout.split()
    print(
        f"\n{args.datasources:,} datasources × 10 assignments, {args.runs} runs, Python {platform.python_version()}, "
        f"PostgreSQL {version}, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}\n"
    )
    print("| evaluation | results | history rows | median | min | max |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, values in (("cold (first evaluation)", cold), ("warm (states unchanged)", warm)):
        print(
            f"| {name} | {results:,} | {changes:,} | {statistics.median(values):.2f} s | {min(values):.2f} s | "
            f"{max(values):.2f} s |"
        )
    print("\n| export | rows | time | peak RSS of the process | file |")
    print("|---|---:|---:|---:|---:|")
    print(
        f"| Jobs tab → XLSX (write-only, streamed) | {int(rows):,} | {float(seconds):.1f} s | {peak} MB | {size} MB |"
    )


if __name__ == "__main__":
    main()
