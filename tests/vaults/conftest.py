"""Fixtures of the backup and restore integration tests: a vault over a real restic repository, datasources over
real folders and databases, and helpers that run a job the way a worker does.

The cast (alice, rg-prod, west-europe, ...) comes from tests/conftest.py; here alice (contributor on subscription
prod) creates vaults and protects datasources in rg-prod.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import shutil
import stat
import subprocess
import tempfile
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.conf import settings

BIG_FILE_BYTES = 52 * 1024 * 1024 + 4321
PG_DSN = {"host": "127.0.0.1", "port": 5432, "user": "postgres"}


# -- trees on disk ----------------------------------------------------------------------------------------------------


def write_random(path: Path, size: int) -> None:
    with open(path, "wb") as handle:
        remaining = size
        while remaining:
            chunk = min(remaining, 4 * 1024 * 1024)
            handle.write(os.urandom(chunk))
            remaining -= chunk


def make_tree(root: Path, *, big: bool = False) -> Path:
    """Nested folders, unicode names, empty files and folders, symlinks, modes and optionally a >50 MB file."""
    (root / "docs" / "deep" / "deeper").mkdir(parents=True)
    (root / "empty-folder").mkdir()
    (root / "unicode-Ünïcødé 文件").mkdir()
    (root / "unicode-Ünïcødé 文件" / "résumé ✓.txt").write_text("naïve café\n", encoding="utf-8")
    (root / "docs" / "readme.md").write_text("# hello\n")
    (root / "docs" / "deep" / "deeper" / "data.bin").write_bytes(os.urandom(70_000))
    (root / "docs" / "empty.txt").write_bytes(b"")
    script = root / "docs" / "run.sh"
    script.write_text("#!/bin/sh\necho hi\n")
    script.chmod(0o750)
    private = root / "docs" / "private.key"
    private.write_text("not really a key\n")
    private.chmod(0o600)
    (root / "docs" / "group-writable.txt").write_text("shared\n")
    (root / "docs" / "group-writable.txt").chmod(0o664)
    (root / "docs" / "link-to-readme").symlink_to("readme.md")
    (root / "docs" / "link-to-dir").symlink_to("deep/deeper")
    (root / "docs" / "absolute-link").symlink_to("/etc/hostname")
    (root / "docs" / "dangling").symlink_to("does-not-exist")
    if big:
        write_random(root / "big.bin", BIG_FILE_BYTES)
    return root


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(1024 * 1024):
            digest.update(chunk)
    return digest.hexdigest()


def tree_manifest(root: Path) -> dict[str, tuple]:
    """Every entry below root: type, permission bits, and content hash (files) or target (symlinks)."""
    manifest: dict[str, tuple] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = Path(dirpath) / name
            rel = str(path.relative_to(root))
            st = os.lstat(path)
            if stat.S_ISLNK(st.st_mode):
                manifest[rel] = ("symlink", os.readlink(path))
            elif stat.S_ISDIR(st.st_mode):
                manifest[rel] = ("dir", stat.S_IMODE(st.st_mode))
            else:
                manifest[rel] = ("file", stat.S_IMODE(st.st_mode), st.st_size, sha256_of(path))
    return manifest


# -- restic --------------------------------------------------------------------------------------------------------


def repository_of(vault):
    from vaults.services import repository_for

    return repository_for(vault.primary)


def restic_snapshot_ids(vault) -> set[str]:
    """Snapshot ids as restic itself lists them (a separate `restic snapshots --json` run)."""
    return {snap.id for snap in repository_of(vault).snapshots()}


# -- the product path ------------------------------------------------------------------------------------------


@dataclass
class Protected:
    vault: object
    datasource: object
    instance: object


@pytest.fixture
def data_dir(estate) -> Path:
    """A fresh folder for source data under the test session's var dir."""
    root = Path(settings.VAR_DIR) / "it-data"
    root.mkdir(parents=True, exist_ok=True)
    path = Path(tempfile.mkdtemp(prefix="src-", dir=root))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def restore_root(settings) -> Path:
    """The one folder restores may write to in these tests (BACKUPCENTER_RESTORE_ROOTS)."""
    root = Path(settings.VAR_DIR) / "restores" / uuid.uuid4().hex[:8]
    root.mkdir(parents=True)
    settings.BACKUPCENTER_RESTORE_ROOTS = [str(root)]
    yield root
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def alice(estate):
    return estate.users["alice"]


@pytest.fixture
def make_vault(estate, alice) -> Callable:
    """`make_vault(**options)` → a vault in rg-prod / west-europe with a freshly initialised restic repository."""
    from vaults.services import vault_create

    def make(name: str | None = None, **options):
        return vault_create(
            actor=alice,
            resource_group=estate.rg_prod,
            location=estate.west,
            name=name or f"vault-{uuid.uuid4().hex[:8]}",
            **options,
        )

    return make


@pytest.fixture
def protect(estate, alice, make_vault) -> Callable:
    """`protect(kind, connection, vault=None, host="local")` → Protected(vault, datasource, instance)."""
    from inventory.services import datasource_create
    from vaults.services import instance_create

    def make(kind: str, connection: dict, *, vault=None, host: str = "local", selection=None) -> Protected:
        vault = vault or make_vault()
        datasource = datasource_create(
            actor=alice,
            resource_group=estate.rg_prod,
            location=estate.west,
            kind=kind,
            name=f"{kind}-{uuid.uuid4().hex[:8]}",
            connection=connection,
            host=host,
        )
        instance = instance_create(actor=alice, datasource=datasource, vault=vault, selection=selection)
        return Protected(vault=vault, datasource=datasource, instance=instance)

    return make


@pytest.fixture
def run_backup(alice, django_capture_on_commit_callbacks) -> Callable:
    """Queue a backup through the service and let the (eager) Celery task run it, as the worker would."""
    from vaults.services import instance_backup_now

    def run(instance, actor=None):
        with django_capture_on_commit_callbacks(execute=True):
            job = instance_backup_now(actor=actor or alice, instance=instance)
        job.refresh_from_db()
        return job

    return run


@pytest.fixture
def run_restore(alice, django_capture_on_commit_callbacks) -> Callable:
    """Queue a restore through the service and let the (eager) Celery task run it."""
    from vaults.services import instance_restore

    def run(instance, point, target: dict, actor=None):
        with django_capture_on_commit_callbacks(execute=True):
            job = instance_restore(actor=actor or alice, instance=instance, recovery_point=point, target=target)
        job.refresh_from_db()
        return job

    return run


# -- PostgreSQL sources ------------------------------------------------------------------------------------------


def pg_available() -> bool:
    try:
        import psycopg

        with psycopg.connect(dbname="postgres", connect_timeout=3, **PG_DSN):
            return True
    except Exception:
        return False


def pg_admin(sql: str, *params) -> None:
    import psycopg

    with psycopg.connect(dbname="postgres", autocommit=True, **PG_DSN) as conn:
        conn.execute(sql, params or None)


@pytest.fixture
def pg_databases():
    """Names handed out here (bc_it_<role>_<random>) are dropped at the end of the test."""
    if not pg_available():
        pytest.skip("PostgreSQL is not reachable at 127.0.0.1:5432")
    names: list[str] = []

    def name(role: str) -> str:
        value = f"bc_it_{role}_{secrets.token_hex(4)}"
        names.append(value)
        return value

    yield name
    for value in names:
        pg_admin(f'DROP DATABASE IF EXISTS "{value}" WITH (FORCE)')


def psql(dbname: str, sql: str) -> str:
    return subprocess.run(
        ["psql", "-h", PG_DSN["host"], "-U", PG_DSN["user"], "-d", dbname, "-XAtq", "-v", "ON_ERROR_STOP=1", "-c", sql],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
