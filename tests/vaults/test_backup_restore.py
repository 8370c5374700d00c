"""Backups and restores end to end: services queue the job, the Celery task runs it with real restic, and what is
restored is compared byte for byte with what was backed up (files, PostgreSQL, SQLite)."""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from monitoring.choices import JobStatus, Operation
from monitoring.models import Job
from tests.vaults.conftest import BIG_FILE_BYTES, make_tree, psql, restic_snapshot_ids, tree_manifest
from vaults.models import RecoveryPoint

pytestmark = [pytest.mark.integration, pytest.mark.django_db]

PROJECT = Path(__file__).resolve().parents[2]


def _point(job: Job) -> RecoveryPoint:
    return RecoveryPoint.objects.get(job=job)


def test_a_files_tree_restores_to_an_alternate_folder_exactly_as_it_was_at_the_first_point(
    data_dir, restore_root, protect, run_backup, run_restore
):
    """GIVEN a tree with nested and empty folders, unicode names, empty files, symlinks, modes and a 52 MB file
    WHEN it is backed up, changed, backed up again and the first point is restored to an alternate folder
    THEN the second point added little data, and every byte, mode and symlink target of the restored tree equals
    the tree as it was at the first backup."""
    source = make_tree(data_dir / "share", big=True)
    first_state = tree_manifest(source)
    protected = protect("files", {"paths": [str(source)]})

    first = run_backup(protected.instance)
    assert first.status == JobStatus.COMPLETED, first.message
    point1 = _point(first)
    assert point1.file_count == 8 and point1.size >= BIG_FILE_BYTES
    assert len(point1.snapshot_id) == 64

    (source / "docs" / "readme.md").write_text("# changed\n")
    (source / "new file ✓.txt").write_text("new\n")
    (source / "docs" / "empty.txt").unlink()
    (source / "docs" / "run.sh").chmod(0o700)
    second = run_backup(protected.instance)
    assert second.status == JobStatus.COMPLETED, second.message
    point2 = _point(second)
    assert point2.snapshot_id != point1.snapshot_id
    assert point2.data_added < 1024 * 1024, "an unchanged 52 MB file must not be stored again"

    restore = run_restore(protected.instance, point1, {"location": "alternate", "path": str(restore_root)})
    assert restore.status == JobStatus.COMPLETED, (restore.message, restore.log)
    assert restore.params["result"]["verified_items"] >= len(first_state)
    restored = restore_root / str(source).lstrip("/")
    assert tree_manifest(restored) == first_state
    assert restic_snapshot_ids(protected.vault) == {point1.snapshot_id, point2.snapshot_id}


def test_one_file_can_be_restored_alone_and_the_conflict_policy_decides_what_happens_to_existing_files(
    data_dir, restore_root, protect, run_backup, run_restore
):
    """GIVEN a backed-up tree whose files were then changed at the original location
    WHEN one file is restored alone to an alternate folder, then the tree is restored to the original location
    with conflict policy fail, skip and overwrite
    THEN the item-level restore writes only that file; fail refuses before writing anything, skip keeps the
    changed files and restores the missing one, overwrite brings back the backed-up content."""
    source = make_tree(data_dir / "share")
    original = tree_manifest(source)
    readme = source / "docs" / "readme.md"
    protected = protect("files", {"paths": [str(source)]})
    point = _point(run_backup(protected.instance))

    item = run_restore(
        protected.instance, point, {"location": "alternate", "path": str(restore_root), "include": [str(readme)]}
    )
    assert item.status == JobStatus.COMPLETED, item.message
    written = [p for p in restore_root.rglob("*") if p.is_file()]
    assert written == [restore_root / str(readme).lstrip("/")]
    assert written[0].read_text() == "# hello\n"

    readme.write_text("# edited after the backup\n")
    (source / "docs" / "deep" / "deeper" / "data.bin").unlink()

    failed = run_restore(protected.instance, point, {"location": "original", "conflict": "fail"})
    assert failed.status == JobStatus.FAILED
    assert failed.error_code == "restore_conflict"
    assert "already exist" in failed.message and "overwrite" in failed.message
    assert readme.read_text() == "# edited after the backup\n"
    assert not (source / "docs" / "deep" / "deeper" / "data.bin").exists()

    skipped = run_restore(protected.instance, point, {"location": "original", "conflict": "skip"})
    assert skipped.status == JobStatus.COMPLETED, (skipped.message, skipped.log)
    assert readme.read_text() == "# edited after the backup\n"
    assert (source / "docs" / "deep" / "deeper" / "data.bin").exists()
    assert str(readme) in skipped.params["result"]["skipped_existing"]

    overwritten = run_restore(protected.instance, point, {"location": "original", "conflict": "overwrite"})
    assert overwritten.status == JobStatus.COMPLETED, (overwritten.message, overwritten.log)
    assert tree_manifest(source) == original


def test_a_postgresql_database_restores_into_a_new_database_with_identical_rows_and_as_a_dump_file(
    pg_databases, restore_root, protect, run_backup, run_restore
):
    """GIVEN a PostgreSQL database with several tables and rows
    WHEN it is backed up, restored into a new database and restored as files
    THEN the new database has the same row count and the same md5 of every table's ordered rows, and the dump
    file is an archive pg_restore --list accepts."""
    source = pg_databases("src")
    restored = pg_databases("dst")
    psql("postgres", f'CREATE DATABASE "{source}"')
    psql(
        source,
        "CREATE TABLE customers (id serial PRIMARY KEY, name text NOT NULL, email text UNIQUE);"
        "CREATE TABLE orders (id bigserial PRIMARY KEY, customer_id int REFERENCES customers(id), "
        "  total numeric(12,2), placed timestamptz, note text);"
        "CREATE TABLE blobs (id int PRIMARY KEY, payload bytea);"
        "CREATE TABLE empty_table (id int);"
        "INSERT INTO customers (name, email) SELECT 'Ünïcødé ' || g, 'c' || g || '@example.com' "
        "  FROM generate_series(1, 2000) g;"
        "INSERT INTO orders (customer_id, total, placed, note) SELECT 1 + g % 2000, g * 1.25, "
        "  '2024-01-01'::timestamptz + g * interval '1 minute', repeat('x', g % 50) FROM generate_series(1, 20000) g;"
        "INSERT INTO blobs SELECT g, decode(md5(g::text) || md5((g * 7)::text), 'hex') FROM generate_series(1, 500) g;",
    )
    tables = ["customers", "orders", "blobs", "empty_table"]

    def fingerprint(dbname: str) -> dict[str, tuple[str, str]]:
        return {
            table: (
                psql(dbname, f"SELECT count(*) FROM {table}"),
                psql(dbname, f"SELECT md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), '')) FROM {table} t"),
            )
            for table in tables
        }

    expected = fingerprint(source)
    protected = protect("postgresql", {"dbname": source, "password": "", "sslmode": "disable", **_pg_conn()})
    job = run_backup(protected.instance)
    assert job.status == JobStatus.COMPLETED, (job.message, job.log)
    point = _point(job)

    into_new = run_restore(protected.instance, point, {"mode": "new_database", "dbname": restored})
    assert into_new.status == JobStatus.COMPLETED, (into_new.message, into_new.log)
    assert fingerprint(restored) == expected
    assert into_new.params["result"]["verified_items"] == len(tables)

    as_files = run_restore(protected.instance, point, {"mode": "files", "path": str(restore_root)})
    assert as_files.status == JobStatus.COMPLETED, (as_files.message, as_files.log)
    dump = restore_root / f"{source}.dump"
    listing = subprocess.run(["pg_restore", "--list", str(dump)], check=True, capture_output=True, text=True).stdout
    for table in tables:
        assert f"TABLE public {table} " in listing


def _pg_conn() -> dict:
    return {"host": "127.0.0.1", "port": 5432, "user": "postgres"}


def test_a_sqlite_database_restores_to_a_new_file_with_the_same_rows(
    data_dir, restore_root, protect, run_backup, run_restore
):
    """GIVEN a SQLite database with two tables (one written in WAL mode and still open)
    WHEN it is backed up and restored to a new path inside the restore folder
    THEN the restored file passes the integrity check and has the same row counts and rows."""
    path = data_dir / "app.sqlite3"
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT)")
    conn.execute("CREATE TABLE events (id INTEGER PRIMARY KEY, user_id INTEGER, payload BLOB)")
    conn.executemany("INSERT INTO users (name) VALUES (?)", [(f"user ✓ {i}",) for i in range(1000)])
    conn.executemany(
        "INSERT INTO events (user_id, payload) VALUES (?, ?)", [(i % 1000, os.urandom(64)) for i in range(5000)]
    )
    conn.commit()
    expected = {t: conn.execute(f"SELECT * FROM {t} ORDER BY id").fetchall() for t in ("users", "events")}

    protected = protect("sqlite", {"path": str(path)})
    job = run_backup(protected.instance)
    conn.close()
    assert job.status == JobStatus.COMPLETED, (job.message, job.log)

    target = restore_root / "copy" / "app.sqlite3"
    restore = run_restore(protected.instance, _point(job), {"path": str(target)})
    assert restore.status == JobStatus.COMPLETED, (restore.message, restore.log)
    copy = sqlite3.connect(target)
    try:
        assert copy.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        for table, rows in expected.items():
            assert copy.execute(f"SELECT count(*) FROM {table}").fetchone()[0] == len(rows)
            assert copy.execute(f"SELECT * FROM {table} ORDER BY id").fetchall() == rows
    finally:
        copy.close()


def test_every_recovery_point_of_a_vault_matches_a_restic_snapshot_and_back(data_dir, protect, run_backup, make_vault):
    """GIVEN a vault protecting a files share and a SQLite database, with successful and failed backups
    WHEN the recovery points are compared with `restic snapshots` of the vault's repository
    THEN the two sets of snapshot ids are equal (invariant 4)."""
    vault = make_vault()
    share = make_tree(data_dir / "share")
    files = protect("files", {"paths": [str(share)]}, vault=vault)
    db = data_dir / "one.sqlite3"
    sqlite3.connect(db).execute("CREATE TABLE t (x)").connection.commit()
    lite = protect("sqlite", {"path": str(db)}, vault=vault)
    assert run_backup(files.instance).status == JobStatus.COMPLETED
    assert run_backup(lite.instance).status == JobStatus.COMPLETED
    shutil.rmtree(share)
    assert run_backup(files.instance).status == JobStatus.FAILED
    assert run_backup(lite.instance).status == JobStatus.COMPLETED

    points = set(RecoveryPoint.objects.filter(vault=vault).values_list("snapshot_id", flat=True))
    assert len(points) == 3
    assert points == restic_snapshot_ids(vault)
    assert Job.objects.filter(vault=vault, operation=Operation.BACKUP).count() == 4


@pytest.mark.skipif(
    not os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://")),
    reason="the Celery worker runs in another process and must see the test database: run with "
    "DATABASE_URL=postgres://... (the SQLite test database lives in memory)",
)
@pytest.mark.django_db(transaction=True)
def test_a_real_celery_worker_consumes_the_backup_and_restore_from_redis(data_dir, restore_root, protect, alice):
    """GIVEN a Celery worker process (celery -A backupcenter worker -P solo) consuming the datasource's host queue
    from Redis, on the same database, var dir and keyring as this test
    WHEN a backup and then a restore are asked through the services (published to Redis, not run eagerly)
    THEN the worker runs both: the backup job completes with a recovery point whose snapshot restic lists, and the
    restore job writes the tree back identical to the source."""
    import redis
    from celery import current_app

    from vaults.services import instance_backup_now, instance_restore

    broker = os.environ.get("CELERY_BROKER_URL", "")
    try:
        redis.Redis.from_url(broker, socket_connect_timeout=2).ping()
    except Exception as error:
        pytest.skip(f"no Redis broker at CELERY_BROKER_URL={broker!r}: {error}")
    host = f"it{uuid.uuid4().hex[:10]}"  # a queue of its own: no other worker on this Redis takes the tasks
    share = make_tree(data_dir / "share")
    state = tree_manifest(share)
    protected = protect("files", {"paths": [str(share)]}, host=host)
    db = connection.settings_dict
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}",
        "BACKUPCENTER_VAR_DIR": str(settings.VAR_DIR),
        "BACKUPCENTER_KEYRING": str(settings.BACKUPCENTER_KEYRING),
        "BACKUPCENTER_VAULT_ROOT": str(settings.BACKUPCENTER_VAULT_ROOT),
        "BACKUPCENTER_RESTORE_ROOTS": str(restore_root),
        "CELERY_TASK_ALWAYS_EAGER": "false",
    }
    log = open(data_dir / "worker.log", "wb")  # noqa: SIM115 - closed in finally
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "backupcenter", "worker", "-Q", f"default,host.{host}", "-P", "solo",
         "-c", "1", "--without-heartbeat", "--without-gossip", "--without-mingle", "-n", f"{host}@%h", "-l", "INFO"],
        cwd=PROJECT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    app = current_app._get_current_object()
    eager, broker_url = app.conf.task_always_eager, app.conf.broker_url
    app.conf.task_always_eager, app.conf.broker_url = False, broker
    try:
        job = instance_backup_now(actor=alice, instance=protected.instance)
        assert job.queue == f"host.{host}"
        job = _wait_until_finished(job, worker, data_dir / "worker.log")
        assert job.status == JobStatus.COMPLETED, (job.message, job.log)
        assert job.attempt == 1 and job.started and job.ended
        point = _point(job)
        assert restic_snapshot_ids(protected.vault) == {point.snapshot_id}

        restore = instance_restore(
            actor=alice,
            instance=protected.instance,
            recovery_point=point,
            target={"location": "alternate", "path": str(restore_root)},
        )
        restore = _wait_until_finished(restore, worker, data_dir / "worker.log")
        assert restore.status == JobStatus.COMPLETED, (restore.message, restore.log)
        assert tree_manifest(restore_root / str(share).lstrip("/")) == state
    finally:
        app.conf.task_always_eager, app.conf.broker_url = eager, broker_url
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(timeout=20)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()
        log.close()


def _wait_until_finished(job: Job, worker: subprocess.Popen, log: Path, timeout: float = 90.0) -> Job:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job.refresh_from_db()
        if not job.is_active:
            return job
        if worker.poll() is not None:
            pytest.fail(f"the worker exited with {worker.returncode}:\n{log.read_text()[-3000:]}")
        time.sleep(0.2)
    pytest.fail(f"job #{job.pk} still {job.status} after {timeout} s; worker log:\n{log.read_text()[-3000:]}")
