"""Seed a PostgreSQL database with monitoring volume for the benchmark: an estate of vaults and instances, then
jobs and Backup/Restore Health Events streamed in with COPY, the hourly rollup rebuilt, and the tables analysed.

Rows are written directly (not through the services): this measures reading monitoring data, not writing it.
Refuses to run on SQLite and on a database that already holds jobs unless --force is given.
"""

import random
from datetime import UTC, datetime, timedelta

from django.core.management.base import BaseCommand, CommandError
from django.db import connection

from monitoring.choices import HealthStatus, JobStatus, Operation
from monitoring.health import health_rollup_rebuild
from monitoring.models import HealthEvent, Job

STATUS_WEIGHTS = [
    (JobStatus.COMPLETED, 90),
    (JobStatus.COMPLETED_WITH_WARNINGS, 4),
    (JobStatus.FAILED, 5),
    (JobStatus.CANCELLED, 1),
]
HEALTH_WEIGHTS = [
    (HealthStatus.HEALTHY, 92),
    (HealthStatus.TRANSIENT_UNHEALTHY, 2),
    (HealthStatus.PERSISTENT_UNHEALTHY, 1),
    (HealthStatus.TRANSIENT_DEGRADED, 3),
    (HealthStatus.PERSISTENT_DEGRADED, 2),
]
KINDS = ["files", "postgresql", "sqlite"]


def _weighted(pairs):
    values = [v for v, _ in pairs]
    weights = [w for _, w in pairs]
    return lambda rng: rng.choices(values, weights)[0]


class Command(BaseCommand):
    help = "Seed jobs and health events (PostgreSQL, COPY) for bench/monitoring.py."

    def add_arguments(self, parser):
        parser.add_argument("--jobs", type=int, default=1_000_000)
        parser.add_argument("--events", type=int, default=2_000_000)
        parser.add_argument("--instances", type=int, default=1000)
        parser.add_argument("--vaults", type=int, default=20)
        parser.add_argument("--days", type=int, default=90)
        parser.add_argument("--force", action="store_true")

    def handle(self, *args, **options):
        if connection.vendor != "postgresql":
            raise CommandError("seed_monitoring streams rows with COPY and needs PostgreSQL (DATABASE_URL).")
        if Job.objects.exists() and not options["force"]:
            raise CommandError("This database already holds jobs; use a throw-away database or --force.")
        rng = random.Random(7)
        now = datetime.now(UTC)
        instances = self._estate(options["instances"], options["vaults"])
        self.stdout.write(f"estate: {len(instances)} instances in {options['vaults']} vaults")
        self._copy_jobs(rng, instances, options["jobs"], now, options["days"])
        self._copy_events(rng, instances, options["events"], now, options["days"])
        rows = health_rollup_rebuild()
        with connection.cursor() as cursor:
            for model in (Job, HealthEvent):
                cursor.execute(f"VACUUM ANALYZE {model._meta.db_table}")  # index-only scans need the visibility map
        self.stdout.write(f"rollup rows: {rows}")

    def _estate(self, count: int, vault_count: int) -> list:
        from core.permissions import SystemActor
        from inventory import services as inventory
        from inventory.models import Datasource
        from policies.services import policy_create
        from vaults.models import BackupInstance, StorageLocation, Vault

        actor = SystemActor("seed")
        west = inventory.location_create(actor=actor, name="west-europe", display_name="West Europe")
        groups = []
        for t in range(2):
            tenant = inventory.tenant_create(actor=actor, name=f"tenant-{t}")
            for s in range(2):
                sub = inventory.subscription_create(actor=actor, tenant=tenant, name=f"sub-{t}-{s}")
                groups.append(inventory.resource_group_create(actor=actor, subscription=sub, name=f"rg-{t}-{s}"))
        vaults, policies = [], {}
        for i in range(vault_count):
            vault = Vault(resource_group=groups[i % len(groups)], location=west, name=f"vault-{i}")
            vault.save()
            StorageLocation.objects.create(vault=vault, url=f"/nonexistent/{i}", sealed_password="-")
            vaults.append(vault)
            for kind in KINDS:
                policies[(vault.pk, kind)] = policy_create(
                    actor=actor,
                    vault=vault,
                    name=f"daily-{kind}",
                    datasource_kind=kind,
                    schedule={"frequency": "daily", "times": ["02:00"]},
                    retention={"daily_count": 30},
                )
        datasources, pairs = [], []
        for i in range(count):
            vault = vaults[i % vault_count]
            kind = KINDS[i % len(KINDS)]
            keys = {"tenant_id": vault.tenant_id, "subscription_id": vault.subscription_id}
            datasources.append(
                Datasource(
                    resource_group_id=vault.resource_group_id,
                    location=west,
                    name=f"ds-{i}",
                    kind=kind,
                    connection={"paths": ["/srv"]},
                    exists=i % 97 != 0,
                    **keys,
                )
            )
            pairs.append((vault, kind))
        datasources = Datasource.objects.bulk_create(datasources, batch_size=2000)
        instances = BackupInstance.objects.bulk_create(
            [
                BackupInstance(
                    datasource=ds,
                    vault=vault,
                    policy=policies[(vault.pk, kind)],
                    tenant_id=vault.tenant_id,
                    subscription_id=vault.subscription_id,
                    resource_group_id=vault.resource_group_id,
                    protection_state="protected" if i % 50 else "soft_deleted",
                )
                for i, (ds, (vault, kind)) in enumerate(zip(datasources, pairs, strict=True))
            ],
            batch_size=2000,
        )
        return [(inst, inst.vault, ds) for inst, ds in zip(instances, datasources, strict=True)]

    def _copy(self, table: str, columns: list[str], rows) -> None:
        with connection.cursor() as cursor:
            raw = cursor.cursor
            with raw.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)

    def _copy_jobs(self, rng, instances, count: int, now, days: int) -> None:
        status_of = _weighted(STATUS_WEIGHTS)
        span = days * 86400

        def rows():
            for n in range(count):
                instance, vault, ds = instances[n % len(instances)]
                created = now - timedelta(seconds=rng.random() * span)
                operation = Operation.BACKUP if n % 20 else Operation.RESTORE
                status = status_of(rng)
                ended = created + timedelta(seconds=rng.randint(5, 900))
                failed = status == JobStatus.FAILED
                yield (
                    operation,
                    status,
                    vault.tenant_id,
                    vault.subscription_id,
                    vault.resource_group_id,
                    vault.pk,
                    instance.pk,
                    ds.pk,
                    ds.kind,
                    ds.name,
                    "{}",
                    "seed",
                    "",
                    "",
                    1,
                    False,
                    created,
                    created,
                    ended,
                    ended,
                    100.0 if not failed else 40.0,
                    10,
                    10,
                    1 << 20,
                    1 << 20,
                    None,
                    1 << 16,
                    "restic_failed" if failed else "",
                    "seeded",
                    "[]",
                    "",
                )

        columns = [
            "operation", "status", "tenant_id", "subscription_id", "resource_group_id", "vault_id", "instance_id",
            "datasource_id", "datasource_kind", "subject", "params", "actor_name", "queue", "celery_task_id",
            "attempt", "cancel_requested", "created", "started", "ended", "heartbeat", "percent", "files_done",
            "total_files", "bytes_done", "total_bytes", "seconds_remaining", "bytes_added", "error_code", "message",
            "warnings", "log",
        ]  # fmt: skip
        self._copy(Job._meta.db_table, columns, rows())
        self.stdout.write(f"jobs: {count}")

    def _copy_events(self, rng, instances, count: int, now, days: int) -> None:
        status_of = _weighted(HEALTH_WEIGHTS)
        span = days * 86400

        def rows():
            for n in range(count):
                instance, vault, ds = instances[n % len(instances)]
                status = status_of(rng)
                metric = "backup_health" if n % 25 else "restore_health"
                code = "" if status == HealthStatus.HEALTHY else ("source_missing" if "degraded" in status else "x")
                yield (
                    metric,
                    status,
                    now - timedelta(seconds=rng.random() * span),
                    vault.tenant_id,
                    vault.subscription_id,
                    vault.resource_group_id,
                    vault.pk,
                    instance.pk,
                    ds.pk,
                    ds.kind,
                    ds.name,
                    code,
                    None,
                )

        columns = [
            "metric", "health_status", "timestamp", "tenant_id", "subscription_id", "resource_group_id", "vault_id",
            "instance_id", "datasource_id", "datasource_kind", "instance_name", "error_code", "job_id",
        ]  # fmt: skip
        self._copy(HealthEvent._meta.db_table, columns, rows())
        self.stdout.write(f"health events: {count}")
