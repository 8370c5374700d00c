"""Backup overhead: a plain `restic backup` against the same backup through Backup Center's path.

The product path is what a worker does for "Backup now": vault_create (outside the timing) + instance_create,
then instance_backup_now → the Celery task (eager here) → vaults.runner.execute_backup, which unwraps the
password, runs restic through the engine with live progress written to the Job, and records the recovery point.
The plain path runs the same restic binary with the same flags and environment the engine uses, on a fresh
repository. Both back up the running interpreter's standard library folder (~50k files).

Runs on a throw-away SQLite database under a temporary BACKUPCENTER_VAR_DIR; nothing of the project's var/ is
touched. Usage:

    .venv/bin/python bench/backup_overhead.py [--runs 3] [--source PATH]
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def setup_django(var_dir: Path) -> None:
    os.environ["BACKUPCENTER_VAR_DIR"] = str(var_dir)
    os.environ["DATABASE_URL"] = f"sqlite:///{var_dir / 'bench.sqlite3'}"
    os.environ["BACKUPCENTER_RESTORE_ROOTS"] = str(var_dir / "restores")
    os.environ["CELERY_TASK_ALWAYS_EAGER"] = "true"
    os.environ["LOG_LEVEL"] = "WARNING"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backupcenter.settings")
    for key in ("BACKUPCENTER_KEYRING", "BACKUPCENTER_VAULT_ROOT", "BACKUPCENTER_LOCK_DIR", "BACKUPCENTER_STAGING_DIR"):
        os.environ.pop(key, None)
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def tree_size(path: str) -> tuple[int, int]:
    files = size = 0
    for dirpath, _, filenames in os.walk(path):
        for name in filenames:
            files += 1
            size += os.lstat(os.path.join(dirpath, name)).st_size
    return files, size


class Plain:
    """restic exactly as the engine runs it: same binary, global flags, tags, environment and a 0600 password file."""

    def __init__(self, work: Path, source: str) -> None:
        from vaults.engine.restic import ResticRepository

        self.work, self.source = work, source
        self.password_file = work / "password"
        self.password_file.write_text(os.urandom(32).hex())
        self.password_file.chmod(0o600)
        self.cache = work / "cache"
        self.count = 0
        self.engine = ResticRepository(str(work / "unused"), "unused", cache_dir=str(self.cache))

    def _run(self, repo: Path, *args: str) -> None:
        env = {key: value for key, value in os.environ.items() if not key.startswith("RESTIC_")}
        env.update(RESTIC_REPOSITORY=str(repo), RESTIC_PASSWORD_FILE=str(self.password_file), RESTIC_PROGRESS_FPS="2")
        cmd = self.engine.command(*args)
        subprocess.run(cmd, env=env, check=True, capture_output=True, cwd="/")

    def new_repository(self) -> Path:
        self.count += 1
        repo = self.work / f"repo-{self.count}"
        self._run(repo, "init")
        return repo

    def backup(self, repo: Path) -> None:
        self._run(repo, "backup", "--tag", "bc-instance-1", "--tag", "bc-job-1", "--", self.source)

    def restore(self, repo: Path, target: Path) -> None:
        self._run(repo, "restore", "latest", "--target", str(target), "--overwrite", "always")


class Product:
    """Backup Center's path: services + the worker's runner."""

    def __init__(self, source: str) -> None:
        from core.permissions import SystemActor
        from inventory import services as inventory

        self.source = source
        self.actor = SystemActor("bench")
        self.location = inventory.location_create(actor=self.actor, name="bench-region", display_name="Bench")
        tenant = inventory.tenant_create(actor=self.actor, name="bench")
        subscription = inventory.subscription_create(actor=self.actor, tenant=tenant, name="bench")
        self.rg = inventory.resource_group_create(actor=self.actor, subscription=subscription, name="rg-bench")
        self.count = 0

    def new_instance(self):
        from inventory.services import datasource_create
        from vaults.services import instance_create, vault_create

        self.count += 1
        vault = vault_create(actor=self.actor, resource_group=self.rg, location=self.location, name=f"v{self.count}")
        datasource = datasource_create(
            actor=self.actor,
            resource_group=self.rg,
            location=self.location,
            kind="files",
            name=f"stdlib-{self.count}",
            connection={"paths": [self.source]},
        )
        return instance_create(actor=self.actor, datasource=datasource, vault=vault)

    def backup(self, instance):
        from vaults.services import instance_backup_now

        job = instance_backup_now(actor=self.actor, instance=instance)  # eager: runs execute_backup now
        job.refresh_from_db()
        if job.status != "completed":
            raise SystemExit(f"product backup ended {job.status}: {job.message}")
        return job

    def restore(self, instance, target: Path):
        from vaults.models import RecoveryPoint
        from vaults.services import instance_restore

        point = RecoveryPoint.objects.filter(instance=instance).latest("created")
        job = instance_restore(
            actor=self.actor,
            instance=instance,
            recovery_point=point,
            target={"location": "alternate", "path": str(target)},
        )
        job.refresh_from_db()
        if job.status != "completed":
            raise SystemExit(f"product restore ended {job.status}: {job.message}")
        return job


def timed(fn, *args) -> float:
    started = time.perf_counter()
    fn(*args)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--source", default=sysconfig.get_paths()["stdlib"])
    options = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="bc-bench-"))
    try:
        setup_django(work / "var")
        from vaults.engine.restic import check_version, restic_binary

        version = ".".join(map(str, check_version()))
        files, size = tree_size(options.source)
        print(f"source {options.source}: {files} files, {size / 1e6:.0f} MB; restic {version} ({restic_binary()})")
        (work / "plain").mkdir()
        plain, product = Plain(work / "plain", options.source), Product(options.source)
        plain.backup(plain.new_repository())  # warm the page cache so the first timed run is not penalised

        results: dict[str, list[float]] = {
            k: [] for k in ("plain first", "product first", "plain rerun", "product rerun")
        }
        repos, instances = [], []
        for run in range(options.runs):  # interleaved so drift on the machine hits both paths alike
            repos.append(plain.new_repository())
            instances.append(product.new_instance())
            results["plain first"].append(timed(plain.backup, repos[-1]))
            results["product first"].append(timed(product.backup, instances[-1]))
            results["plain rerun"].append(timed(plain.backup, repos[-1]))
            results["product rerun"].append(timed(product.backup, instances[-1]))
            print(f"run {run + 1}: " + ", ".join(f"{k} {v[-1]:.2f} s" for k, v in results.items()), flush=True)

        restore_plain = timed(plain.restore, repos[0], work / "var" / "restores" / "plain")
        restore_product = timed(product.restore, instances[0], work / "var" / "restores" / "product")

        median = {k: statistics.median(v) for k, v in results.items()}
        print()
        machine = f"Python {platform.python_version()}, {platform.machine()}, {os.cpu_count()} CPUs"
        print(f"{options.runs} runs each, median; {machine}")
        print()
        print("| backup | plain restic | Backup Center | ratio | target |")
        print("|---|---:|---:|---:|---:|")
        for kind, target in (("first", 1.05), ("rerun", 1.10)):
            p, b = median[f"plain {kind}"], median[f"product {kind}"]
            label = "first (fresh repository)" if kind == "first" else "unchanged re-run"
            print(f"| {label} | {p:.2f} s | {b:.2f} s | {b / p:.3f}× | ≤ {target:.2f}× |")
        print()
        print("| full restore | time | throughput |")
        print("|---|---:|---:|")
        print(f"| plain `restic restore` | {restore_plain:.2f} s | {size / 1e6 / restore_plain:.0f} MB/s |")
        print(
            f"| Backup Center restore job (restore + verify) | {restore_product:.2f} s | "
            f"{size / 1e6 / restore_product:.0f} MB/s |"
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
