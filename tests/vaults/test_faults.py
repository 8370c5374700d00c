"""Faults during backups and restores, each provoked for real: missing sources, unreadable files, a failing dump
command, storage that cannot hold a repository, restore targets outside the restore folders, concurrent backups,
cancellation and a worker killed mid-backup. Every job must end in a terminal state with an actionable message,
and no failed run may leave a recovery point or a snapshot behind."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction

from core.exceptions import DomainError
from monitoring.choices import JobStatus, Operation
from monitoring.models import Job
from tests.vaults.conftest import make_tree, repository_of, restic_snapshot_ids
from vaults.models import RecoveryPoint, Vault

pytestmark = pytest.mark.integration

PROJECT = Path(__file__).resolve().parents[2]


def _backup_jobs(instance):
    return Job.objects.filter(instance=instance, operation=Operation.BACKUP)


def _restic_children(parent_pid: int) -> list[int]:
    """Pids of restic processes whose parent is `parent_pid` (restic runs in its own session)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
            with open(f"/proc/{entry}/cmdline", "rb") as handle:
                argv0 = handle.read().split(b"\0")[0]
        except OSError:
            continue
        if int(fields[1]) == parent_pid and argv0.endswith(b"restic"):
            found.append(int(entry))
    return found


@pytest.fixture
def queue_only(monkeypatch):
    """Backups asked through the service are queued for a worker but not run in this process (the tests run
    them in a thread or another process the way a worker would). Returns the ids of queued jobs."""
    from vaults import tasks

    queued: list[int] = []
    monkeypatch.setattr(tasks.run_backup, "apply_async", lambda args, **options: queued.append(args[0]))
    return queued


def _wait_for(predicate, timeout: float = 60.0, interval: float = 0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {predicate}")


def _big_tree(root: Path) -> Path:
    """A tree restic needs minutes for: some small files and a 64 GiB sparse disk image (no disk space used, but
    restic reads, chunks and hashes every byte of it)."""
    make_tree(root)
    with open(root / "disk.img", "wb") as handle:
        handle.truncate(64 * 1024**3)
    return root


# -- sources -----------------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_backup_of_a_missing_folder_fails_with_source_missing_and_records_nothing(data_dir, protect, run_backup):
    """GIVEN a protected folder that was deleted after protection was configured
    WHEN a backup runs
    THEN the job fails with code source_missing and a message naming the path and what to do, no recovery point
    is recorded, restic holds no snapshot, and the instance shows a protection error."""
    share = make_tree(data_dir / "share")
    protected = protect("files", {"paths": [str(share)]})
    shutil.rmtree(share)

    job = run_backup(protected.instance)

    assert job.status == JobStatus.FAILED
    assert job.error_code == "source_missing"
    assert str(share) in job.message and "does not exist" in job.message and "selection" in job.message
    assert job.ended is not None
    assert not RecoveryPoint.objects.filter(instance=protected.instance).exists()
    assert restic_snapshot_ids(protected.vault) == set()
    protected.instance.refresh_from_db()
    assert protected.instance.protection_state == "protection_error"
    assert protected.instance.health == "unhealthy"


@pytest.fixture
def unreadable_file(data_dir):
    """A regular file in the tree whose every read fails with EIO, as on a failing disk.

    Tests run as root, so permissions cannot make a file unreadable. Instead the file is a bind mount of
    /proc/<pid>/mem of a sleeping child: reading it at offset 0 fails with "input/output error" for any user.
    """
    share = make_tree(data_dir / "share")
    broken = share / "docs" / "bad-sector.bin"
    broken.write_bytes(b"placeholder")
    sleeper = subprocess.Popen(["sleep", "600"])
    mounted = subprocess.run(["mount", "--bind", f"/proc/{sleeper.pid}/mem", str(broken)], capture_output=True)
    if mounted.returncode != 0:
        sleeper.kill()
        pytest.skip(f"cannot bind-mount a failing file here (needs CAP_SYS_ADMIN): {mounted.stderr.decode().strip()}")
    try:
        with pytest.raises(OSError):
            broken.read_bytes()
        yield share, broken
    finally:
        subprocess.run(["umount", str(broken)], check=False)
        sleeper.kill()
        sleeper.wait()


@pytest.mark.django_db
def test_a_file_that_cannot_be_read_makes_the_backup_complete_with_a_warning_naming_it(
    unreadable_file, protect, run_backup
):
    """GIVEN a tree in which one file fails every read with an I/O error
    WHEN a backup runs
    THEN the job completes with warnings, the warnings name the file, and the recovery point holds the rest."""
    share, broken = unreadable_file
    protected = protect("files", {"paths": [str(share)]})

    job = run_backup(protected.instance)

    assert job.status == JobStatus.COMPLETED_WITH_WARNINGS, (job.message, job.log)
    assert any(str(broken) in warning for warning in job.warnings), job.warnings
    assert "could not be read" in job.message
    point = RecoveryPoint.objects.get(job=job)
    assert restic_snapshot_ids(protected.vault) == {point.snapshot_id}
    paths = {node.path for node in repository_of(protected.vault).ls(point.snapshot_id)}
    assert str(share / "docs" / "readme.md") in paths


@pytest.mark.django_db
def test_a_failing_pg_dump_fails_the_backup_and_leaves_no_snapshot(pg_databases, protect, run_backup):
    """GIVEN a PostgreSQL datasource whose database does not exist (dropped after it was protected)
    WHEN a backup runs
    THEN the job fails with dump_failed and pg_dump's reason, no recovery point exists, and `restic snapshots`
    lists no new snapshot (restic saw the dump command fail; nothing slipped through)."""
    missing = pg_databases("gone")
    protected = protect(
        "postgresql", {"host": "127.0.0.1", "port": 5432, "user": "postgres", "dbname": missing, "sslmode": "disable"}
    )
    before = restic_snapshot_ids(protected.vault)

    job = run_backup(protected.instance)

    assert job.status == JobStatus.FAILED, job.message
    assert job.error_code == "dump_failed"
    assert f"pg_dump of database {missing} failed" in job.message
    assert "does not exist" in job.message
    assert not RecoveryPoint.objects.filter(instance=protected.instance).exists()
    assert restic_snapshot_ids(protected.vault) == before == set()


# -- storage -----------------------------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("where", ["under_a_file", "read_only_filesystem"])
def test_a_vault_whose_storage_cannot_hold_a_repository_is_not_created(where, data_dir, estate, alice, settings):
    """GIVEN a storage path that cannot hold a repository (below a regular file, or on a read-only file system)
    WHEN the vault is created
    THEN vault_create raises a DomainError explaining it, no vault or storage row is left, and a failed
    create_vault job records the attempt."""
    from vaults.services import vault_create

    if where == "under_a_file":
        settings.BACKUPCENTER_VAULT_ROOT = data_dir
        blocker = data_dir / "a-file"
        blocker.write_text("not a folder\n")
        url = str(blocker / "repo")
    else:
        settings.BACKUPCENTER_VAULT_ROOT = "/proc"
        url = "/proc/backupcenter-repo"  # procfs refuses new entries for everyone, root included

    with pytest.raises(DomainError) as caught:
        vault_create(actor=alice, resource_group=estate.rg_prod, location=estate.west, name="broken", storage_url=url)

    assert "could not be created" in caught.value.message
    assert caught.value.code in {"storage_unavailable", "restic_failed"}
    assert not Vault.objects.filter(name="broken").exists()
    failed = Job.objects.get(operation=Operation.CREATE_VAULT, subject="vault broken")
    assert failed.status == JobStatus.FAILED
    assert failed.error_code and failed.ended is not None
    assert "could not be created" in failed.message


@pytest.mark.django_db
def test_a_restore_outside_the_restore_folders_is_refused_before_any_job_runs(
    data_dir, restore_root, protect, run_backup, alice
):
    """GIVEN a recovery point of a files share
    WHEN a restore to an alternate folder outside BACKUPCENTER_RESTORE_ROOTS (or escaping one with ..) is asked
    THEN the service raises ValidationError on the path and no restore job exists."""
    from vaults.services import instance_restore

    protected = protect("files", {"paths": [str(make_tree(data_dir / "share"))]})
    point = RecoveryPoint.objects.get(job=run_backup(protected.instance))

    for path in ("/etc", str(data_dir / "elsewhere"), f"{restore_root}/../../escape"):
        with pytest.raises(ValidationError) as caught:
            instance_restore(
                actor=alice,
                instance=protected.instance,
                recovery_point=point,
                target={"location": "alternate", "path": path},
            )
        assert "path" in caught.value.message_dict
    assert not Job.objects.filter(operation=Operation.RESTORE).exists()
    assert not (data_dir / "elsewhere").exists()


# -- concurrency -------------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_second_backup_while_one_is_queued_is_refused_with_backup_in_progress(data_dir, protect, alice):
    """GIVEN a backup job that is queued (its task has not run yet)
    WHEN another backup of the same instance is asked
    THEN the service raises DomainError backup_in_progress naming the queued job, and only one job exists."""
    from vaults.services import instance_backup_now

    protected = protect("files", {"paths": [str(make_tree(data_dir / "share"))]})
    queued = instance_backup_now(actor=alice, instance=protected.instance)  # on_commit never fires: stays queued

    with pytest.raises(DomainError) as caught:
        instance_backup_now(actor=alice, instance=protected.instance)

    assert caught.value.code == "backup_in_progress"
    assert f"job #{queued.pk}" in caught.value.message
    assert list(_backup_jobs(protected.instance).values_list("pk", "status")) == [(queued.pk, JobStatus.QUEUED)]


@pytest.mark.django_db(transaction=True)
def test_the_database_refuses_two_active_backups_of_one_instance_even_from_two_concurrent_writers(data_dir, protect):
    """GIVEN a protected instance and two writers that bypass the service and insert a queued backup job each,
    in two transactions open at the same time
    WHEN both commit
    THEN exactly one insert succeeds and the other gets an IntegrityError from the unique constraint."""
    from core.permissions import SystemActor
    from monitoring.services import job_create

    protected = protect("files", {"paths": [str(make_tree(data_dir / "share"))]})
    instance = protected.instance
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def writer():
        try:
            with transaction.atomic():
                barrier.wait(timeout=10)
                job_create(
                    actor=SystemActor("dispatcher"), operation=Operation.BACKUP, scope=instance, instance=instance
                )
                time.sleep(0.5)  # hold the transaction open while the other writer inserts
            outcomes.append("inserted")
        except IntegrityError:
            outcomes.append("integrity_error")
        finally:
            if threading.current_thread() is not threading.main_thread():
                connection.close()

    if connection.vendor == "sqlite":
        # SQLite serialises writers itself (BEGIN IMMEDIATE) and its in-memory test database cannot be shared
        # between threads, so the two transactions run one after the other on one connection.
        barrier = threading.Barrier(1)
        writer()
        writer()
    else:
        threads = [threading.Thread(target=writer) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)

    assert sorted(outcomes) == ["inserted", "integrity_error"]
    assert _backup_jobs(instance).filter(status=JobStatus.QUEUED).count() == 1


# -- cancellation and lost workers --------------------------------------------------------------------------------

needs_postgresql = pytest.mark.skipif(
    not os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://")),
    reason="a worker in another thread or process must see the test database: run with DATABASE_URL=postgres://... "
    "(the SQLite test database lives in memory; shared between threads it fails with 'database table is locked')",
)


@needs_postgresql
@pytest.mark.django_db(transaction=True)
def test_cancelling_a_running_backup_stops_restic_records_nothing_and_the_next_backup_succeeds(
    data_dir, protect, alice, queue_only
):
    """GIVEN a backup of a tree with a 64 GiB sparse image running in a worker thread (restic is reading)
    WHEN the job is cancelled
    THEN restic stops, the job ends cancelled, no recovery point or snapshot exists, no lock is left, and the
    next backup of the instance completes."""
    from monitoring.services import job_cancel
    from vaults.runner import execute_backup
    from vaults.services import instance_backup_now

    share = _big_tree(data_dir / "big")
    protected = protect("files", {"paths": [str(share)]})
    job = instance_backup_now(actor=alice, instance=protected.instance)
    assert queue_only == [job.pk]
    worker = threading.Thread(target=lambda: (execute_backup(job.pk), connection.close()))
    started = time.monotonic()
    worker.start()
    _wait_for(lambda: _restic_children(os.getpid()))
    _wait_for(lambda: Job.objects.get(pk=job.pk).bytes_done > 0, timeout=30)

    job_cancel(actor=alice, job=Job.objects.get(pk=job.pk))
    worker.join(timeout=60)
    elapsed = time.monotonic() - started

    job.refresh_from_db()
    assert job.status == JobStatus.CANCELLED, (job.status, job.message, elapsed)
    assert "Cancelled" in job.message
    assert not _restic_children(os.getpid())
    assert not RecoveryPoint.objects.filter(instance=protected.instance).exists()
    assert restic_snapshot_ids(protected.vault) == set()
    assert repository_of(protected.vault).list_locks() == []

    (share / "disk.img").unlink()  # keep the next run short
    again = instance_backup_now(actor=alice, instance=protected.instance)
    again = execute_backup(again.pk)
    assert again.status == JobStatus.COMPLETED, again.message
    assert restic_snapshot_ids(protected.vault) == {RecoveryPoint.objects.get(job=again).snapshot_id}


def _database_url_for_children() -> str:
    """A DATABASE_URL naming the test database this test process uses (PostgreSQL only)."""
    params = connection.settings_dict
    return f"postgres://{params['USER']}@{params['HOST'] or '127.0.0.1'}:{params['PORT'] or 5432}/{params['NAME']}"


def _child_env(**extra) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        DATABASE_URL=_database_url_for_children(),
        BACKUPCENTER_VAR_DIR=str(settings.VAR_DIR),
        BACKUPCENTER_KEYRING=str(settings.BACKUPCENTER_KEYRING),
        BACKUPCENTER_VAULT_ROOT=str(settings.BACKUPCENTER_VAULT_ROOT),
        CELERY_TASK_ALWAYS_EAGER="false",
        PYTHONUNBUFFERED="1",
        **extra,
    )
    return env


@needs_postgresql
@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_mid_backup_leaves_a_job_the_reaper_fails_with_worker_lost_and_the_next_backup_runs(
    data_dir, protect, alice, queue_only, time_machine
):
    """GIVEN a backup running in a separate worker process (vaults.runner.execute_backup), restic reading a big tree
    WHEN the worker process is SIGKILLed
    THEN the job stays in progress; once its heartbeat is older than five minutes the reaper task marks it failed
    with worker_lost and an actionable message and clears stale repository locks; no recovery point and no
    snapshot exist for it; and the next backup completes."""
    from vaults.runner import execute_backup
    from vaults.services import instance_backup_now
    from vaults.tasks import reap_stale_jobs

    share = _big_tree(data_dir / "big")
    protected = protect("files", {"paths": [str(share)]})
    job = instance_backup_now(actor=alice, instance=protected.instance)
    worker = subprocess.Popen(
        [
            sys.executable,
            "manage.py",
            "shell",
            "-c",
            f"from vaults.runner import execute_backup; execute_backup({job.pk})",
        ],
        cwd=PROJECT,
        env=_child_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        _wait_for(lambda: _restic_children(worker.pid) or worker.poll() is not None)
        assert worker.poll() is None, worker.stdout.read().decode()
        _wait_for(lambda: Job.objects.get(pk=job.pk).bytes_done > 0, timeout=30)
        restic_pids = _restic_children(worker.pid)
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=10)
        # restic must not outlive its worker: a snapshot it finished alone would have no recovery point.
        # (it dies on the next progress line it cannot write; wait until it is reaped, not just a zombie)
        _wait_for(lambda: not any(os.path.exists(f"/proc/{pid}") for pid in restic_pids), timeout=30)
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()

    job.refresh_from_db()
    assert job.status == JobStatus.IN_PROGRESS
    repo = repository_of(protected.vault)
    assert len(repo.list_locks()) == 1  # the dead restic's lock is still in the repository
    assert reap_stale_jobs() == []  # heartbeat still fresh: nothing to reap yet

    time_machine.move_to(job.heartbeat + timedelta(minutes=6))
    assert reap_stale_jobs() == [job.pk]
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED
    assert job.error_code == "worker_lost"
    assert "start the operation again" in job.message
    assert repo.list_locks() == []
    assert not RecoveryPoint.objects.filter(instance=protected.instance).exists()
    assert restic_snapshot_ids(protected.vault) == set()

    time_machine.move_to(job.ended + timedelta(seconds=1), tick=True)
    (share / "disk.img").unlink()  # keep the next run short
    again = execute_backup(instance_backup_now(actor=alice, instance=protected.instance).pk)
    assert again.status == JobStatus.COMPLETED, again.message
    assert repo.check().ok  # check takes an exclusive lock: nothing stale is in the way
    assert repo.list_locks() == []


@pytest.mark.django_db
def test_a_vault_cannot_be_pointed_at_a_folder_outside_the_vault_root_or_at_another_vaults_repository(
    estate, alice, tmp_path, settings
):
    """GIVEN a vault root and an existing vault inside it
    WHEN alice creates vaults whose storage is outside the root, inside the other vault's repository, or the same
    folder again
    THEN each is refused with a field error on storage_url and no vault or job row is added."""
    from django.core.exceptions import ValidationError

    from vaults.services import vault_create

    settings.BACKUPCENTER_VAULT_ROOT = tmp_path / "vaults"
    first = vault_create(actor=alice, resource_group=estate.rg_prod, location=estate.west, name="first")
    taken = first.primary.url
    jobs = Job.objects.count()
    for url in (str(tmp_path / "elsewhere"), taken, f"{taken}/nested", "relative/path"):
        with pytest.raises(ValidationError) as caught:
            vault_create(
                actor=alice, resource_group=estate.rg_prod, location=estate.west, name="second", storage_url=url
            )
        assert "storage_url" in caught.value.message_dict
    assert not Vault.objects.filter(name="second").exists()
    assert Job.objects.count() == jobs
