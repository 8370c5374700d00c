"""Customer-managed keys and secrets: a disabled key stops backups with a clear error until it is enabled again,
rotation re-wraps repository passwords, and the repository password never leaves the keyring-sealed column
(jobs, change log, restic's process arguments)."""

from __future__ import annotations

import os
import threading
import time

import pytest

from core import secrets
from core.models import ChangeRecord
from monitoring.choices import JobStatus, Operation
from monitoring.models import Job
from tests.vaults.conftest import make_tree, restic_snapshot_ids
from vaults.choices import Encryption
from vaults.models import RecoveryPoint

pytestmark = [pytest.mark.integration, pytest.mark.django_db]


@pytest.fixture
def cmk_vault(estate, alice, make_vault):
    from vaults.services import key_create

    key = key_create(actor=alice, resource_group=estate.rg_prod, name=f"cmk-{os.urandom(3).hex()}")
    return key, make_vault(encryption=Encryption.CUSTOMER_MANAGED, encryption_key=key)


def test_a_disabled_key_fails_backups_with_key_disabled_until_it_is_enabled_again(
    cmk_vault, data_dir, protect, run_backup, alice
):
    """GIVEN a vault encrypted with a customer-managed key and one successful backup
    WHEN the key is disabled and a backup runs, then the key is enabled and a backup runs
    THEN the first fails with key_disabled and a message naming the key and how to fix it, without a recovery
    point; the second completes."""
    from vaults.services import key_set_enabled

    key, vault = cmk_vault
    protected = protect("files", {"paths": [str(make_tree(data_dir / "share"))]}, vault=vault)
    assert run_backup(protected.instance).status == JobStatus.COMPLETED

    key_set_enabled(actor=alice, key=key, enabled=False)
    refused = run_backup(protected.instance)

    assert refused.status == JobStatus.FAILED
    assert refused.error_code == "key_disabled"
    assert key.keyring_id() in refused.message and "Enable it" in refused.message
    assert not RecoveryPoint.objects.filter(job=refused).exists()

    key_set_enabled(actor=alice, key=key, enabled=True)
    again = run_backup(protected.instance)
    assert again.status == JobStatus.COMPLETED, again.message
    assert RecoveryPoint.objects.filter(instance=protected.instance).count() == 2


def test_rotating_a_key_rewraps_the_repository_password_and_backups_and_restores_keep_working(
    cmk_vault, data_dir, restore_root, protect, run_backup, run_restore, alice
):
    """GIVEN a customer-managed-key vault with a recovery point
    WHEN the key is rotated and its first version is then disabled in the keyring
    THEN the rotation job completes having re-wrapped the password under version 2 (same password), a new backup
    completes, and the point taken before the rotation still restores."""
    from vaults.services import key_rotate

    key, vault = cmk_vault
    protected = protect("files", {"paths": [str(make_tree(data_dir / "share"))]}, vault=vault)
    before = RecoveryPoint.objects.get(job=run_backup(protected.instance))
    storage = vault.primary
    password = secrets.unseal(storage.sealed_password)
    assert secrets.sealed_key_id(storage.sealed_password) == key.keyring_id(1)

    rotation = key_rotate(actor=alice, key=key)

    assert rotation.status == JobStatus.COMPLETED and "re-wrapped 1" in rotation.message
    storage.refresh_from_db()
    key.refresh_from_db()
    assert key.current_version == 2
    assert secrets.sealed_key_id(storage.sealed_password) == key.keyring_id(2)
    assert secrets.unseal(storage.sealed_password) == password
    secrets.set_key_enabled(key.keyring_id(1), False)  # nothing may still depend on the old version

    after = run_backup(protected.instance)
    assert after.status == JobStatus.COMPLETED, after.message
    restore = run_restore(protected.instance, before, {"location": "alternate", "path": str(restore_root)})
    assert restore.status == JobStatus.COMPLETED, restore.message
    assert restic_snapshot_ids(vault) == {before.snapshot_id, RecoveryPoint.objects.get(job=after).snapshot_id}


def _watch_restic_argv(stop: threading.Event, seen: list[bytes]) -> None:
    """Collect the command line of every restic process this test process starts, while it runs."""
    me = os.getpid()
    while not stop.is_set():
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open(f"/proc/{entry}/stat") as handle:
                    parent = int(handle.read().rsplit(")", 1)[1].split()[1])
                if parent != me:
                    continue
                with open(f"/proc/{entry}/cmdline", "rb") as handle:
                    argv = handle.read()
                with open(f"/proc/{entry}/environ", "rb") as handle:
                    environ = handle.read()
            except OSError:
                continue
            if argv.split(b"\0")[0].endswith(b"restic") and argv not in seen:
                seen.append(argv)
                seen.append(environ)
        time.sleep(0.005)


def test_the_repository_password_appears_in_no_job_change_record_or_restic_command_line(
    data_dir, restore_root, protect, run_backup, run_restore, pg_databases
):
    """GIVEN a files share and a PostgreSQL database (with a connection password) protected in one vault
    WHEN they are backed up, one backup fails, and points are restored, while /proc is scanned for restic processes
    THEN neither the repository password nor the database password appears in any job's message, log, warnings or
    params, in any change record, or in any restic process's arguments or environment (restic gets a password
    file path)."""
    share = make_tree(data_dir / "share")
    files = protect("files", {"paths": [str(share)]})
    storage = files.vault.primary
    password = secrets.unseal(storage.sealed_password)
    db_password = "pg-Secret-" + os.urandom(6).hex()
    source = pg_databases("src")
    from tests.vaults.conftest import psql

    psql("postgres", f'CREATE DATABASE "{source}"')
    psql(source, "CREATE TABLE t AS SELECT g AS id FROM generate_series(1, 100) g")
    database = protect(
        "postgresql",
        {"host": "127.0.0.1", "port": 5432, "user": "postgres", "dbname": source, "password": db_password},
        vault=files.vault,
    )

    stop, seen = threading.Event(), []
    watcher = threading.Thread(target=_watch_restic_argv, args=(stop, seen), daemon=True)
    watcher.start()
    try:
        point = RecoveryPoint.objects.get(job=run_backup(files.instance))
        db_point = RecoveryPoint.objects.get(job=run_backup(database.instance))
        (share / "docs" / "readme.md").unlink()
        assert run_restore(files.instance, point, {"location": "alternate", "path": str(restore_root)}).status == (
            JobStatus.COMPLETED
        )
        assert run_restore(database.instance, db_point, {"mode": "files", "path": str(restore_root)}).status == (
            JobStatus.COMPLETED
        )
        os.rename(share, data_dir / "moved")
        assert run_backup(files.instance).status == JobStatus.FAILED
    finally:
        stop.set()
        watcher.join(timeout=5)

    argvs = seen[0::2]
    assert any(b"\0backup\0" in argv for argv in argvs) and any(b"\0restore\0" in argv for argv in argvs)
    for blob in seen:
        assert password.encode() not in blob
        assert db_password.encode() not in blob
    assert all(b"RESTIC_PASSWORD=" not in environ for environ in seen[1::2])
    assert all(b"RESTIC_PASSWORD_FILE=" in environ for environ in seen[1::2])

    jobs = list(Job.objects.all())
    assert {Operation.BACKUP, Operation.RESTORE, Operation.CREATE_VAULT} <= {job.operation for job in jobs}
    for job in jobs:
        text = f"{job.message}\n{job.log}\n{job.warnings}\n{job.params}\n{job.subject}"
        assert password not in text and db_password not in text
    for record in ChangeRecord.objects.all():
        text = f"{record.message}\n{record.before}\n{record.after}\n{record.object_repr}"
        assert password not in text and db_password not in text
