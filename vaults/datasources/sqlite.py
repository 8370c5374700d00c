"""One SQLite database file, copied consistently with SQLite's online backup API before restic reads it.

Connection: ``{"path": absolute path of an existing SQLite file}``. The copy is staged at a stable path
(``<staging>/<hash of the source path>/<file name>``, staging from env ``BACKUPCENTER_STAGING_DIR``,
default ``<project>/var/staging/sqlite``) so consecutive snapshots share paths and restic finds the parent.

Restore target: ``{"path": absolute file path (default: the original), "overwrite": bool}``; an
existing file is replaced only with ``overwrite``. The restored copy is checked with
``PRAGMA integrity_check`` before it is moved into place.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import sqlite3
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError

from vaults.datasources.base import (
    BackupResult,
    Datasource,
    DatasourceError,
    RestoreResult,
    VerifyResult,
    clean_absolute_path,
)
from vaults.engine.locks import repository_lock
from vaults.engine.restic import CancelCheck, ProgressCallback, ResticRepository, validate_snapshot_id

PROJECT_ROOT = Path(__file__).resolve().parents[2]
STAGING_LOCK_TIMEOUT = 600.0


def staging_dir() -> Path:
    """Root of the stable staging folders."""
    return Path(os.environ.get("BACKUPCENTER_STAGING_DIR") or PROJECT_ROOT / "var" / "staging" / "sqlite")


def staged_path(source: str) -> Path:
    """Stable staging path of one source database."""
    digest = hashlib.sha256(source.encode("utf-8")).hexdigest()[:16]
    return staging_dir() / digest / os.path.basename(source)


def _open_readonly(path: str) -> sqlite3.Connection:
    return sqlite3.connect(f"{Path(path).as_uri()}?mode=ro", uri=True)


def inspect_database(path: str) -> tuple[str, int]:
    """``PRAGMA integrity_check`` result and number of tables of a SQLite file (opened read-only)."""
    conn = _open_readonly(path)
    try:
        rows = conn.execute("PRAGMA integrity_check").fetchall()
        integrity = "; ".join(str(row[0]) for row in rows)
        tables = conn.execute("SELECT count(*) FROM sqlite_master WHERE type = 'table'").fetchone()[0]
    finally:
        conn.close()
    return integrity, int(tables)


class SQLiteDatasource(Datasource):
    """Back up and restore one SQLite database file."""

    kind = "sqlite"
    secret_fields = ()

    def validate_connection(self, connection: Mapping[str, Any]) -> dict[str, Any]:
        """Require an absolute path to an existing file that SQLite opens read-only."""
        path = clean_absolute_path(connection.get("path"), "path")
        if not os.path.isfile(path):
            raise ValidationError({"path": f"{path} does not exist or is not a file."})
        try:
            conn = _open_readonly(path)
            try:
                conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
            finally:
                conn.close()
        except sqlite3.Error as exc:
            raise ValidationError({"path": f"{path} is not a readable SQLite database ({exc})."}) from None
        return {"path": path}

    def backup(
        self,
        repo: ResticRepository,
        connection: Mapping[str, Any],
        selection: Mapping[str, Any] | None,
        *,
        tags: Sequence[str],
        on_progress: ProgressCallback | None = None,
        cancel: CancelCheck | None = None,
    ) -> BackupResult:
        """Copy the database with the online backup API into the staging path, then back that file up."""
        source = connection["path"]
        if not os.path.isfile(source):
            raise DatasourceError(f"The database file {source} does not exist.", code="source_missing")
        staged = staged_path(source)
        with repository_lock(f"sqlite-staging:{staged}", STAGING_LOCK_TIMEOUT):
            staged.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            with contextlib.suppress(FileNotFoundError):
                staged.unlink()
            try:
                src = _open_readonly(source)
                dst = sqlite3.connect(staged)
                try:
                    src.backup(dst)
                finally:
                    dst.close()
                    src.close()
            except sqlite3.Error as exc:
                raise DatasourceError(f"Could not copy {source}: {exc}", code="dump_failed") from None
            try:
                summary = repo.backup([str(staged)], tags=tags, on_progress=on_progress, cancel=cancel)
            finally:
                with contextlib.suppress(FileNotFoundError):
                    staged.unlink()
        return BackupResult(
            snapshot_id=summary.snapshot_id,
            summary=summary,
            warnings=[str(w) for w in summary.warnings],
            details={"path": source, "snapshot_path": str(staged)},
        )

    def restore(
        self,
        repo: ResticRepository,
        snapshot_id: str,
        connection: Mapping[str, Any],
        target: Mapping[str, Any],
        *,
        on_progress: ProgressCallback | None = None,
        cancel: CancelCheck | None = None,
    ) -> RestoreResult:
        """Write the database to ``target["path"]`` (default: the original) after an integrity check."""
        validate_snapshot_id(snapshot_id)
        dest = clean_absolute_path(target.get("path") or connection["path"], "path")
        if os.path.lexists(dest) and not target.get("overwrite"):
            raise DatasourceError(
                f"{dest} already exists; allow overwriting or choose another path.", code="restore_conflict"
            )
        snapshot_path = target.get("snapshot_path") or str(staged_path(connection["path"]))
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        partial = f"{dest}.restoring"
        try:
            with open(partial, "wb") as handle:
                repo.dump_to(snapshot_id, snapshot_path, handle, cancel=cancel)
            integrity, tables = inspect_database(partial)
            if integrity != "ok":
                raise DatasourceError(
                    f"The restored database failed its integrity check: {integrity[:200]}", code="verify_failed"
                )
            for suffix in ("-wal", "-shm", "-journal"):  # a stale journal would corrupt the restored file
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(dest + suffix)
            os.replace(partial, dest)
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(partial)
        return RestoreResult(
            snapshot_id=snapshot_id,
            location=dest,
            files_restored=1,
            bytes_restored=os.path.getsize(dest),
            details={"path": dest, "snapshot_path": snapshot_path, "tables": tables},
        )

    def verify(
        self,
        repo: ResticRepository,
        snapshot_id: str,
        connection: Mapping[str, Any],
        restored: RestoreResult,
        *,
        cancel: CancelCheck | None = None,
    ) -> VerifyResult:
        """``PRAGMA integrity_check`` and table count of the restored file."""
        path = restored.details["path"]
        try:
            integrity, tables = inspect_database(path)
        except sqlite3.Error as exc:
            return VerifyResult(ok=False, checked=0, problems=[f"{path} cannot be opened: {exc}"])
        problems = [] if integrity == "ok" else [f"integrity_check: {integrity[:500]}"]
        expected = restored.details.get("tables")
        if expected is not None and expected != tables:
            problems.append(f"{tables} tables found, {expected} expected.")
        return VerifyResult(ok=not problems, checked=tables, problems=problems, details={"tables": tables})


DATASOURCE = SQLiteDatasource()
