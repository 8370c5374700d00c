"""The interface every datasource kind implements, plus discovery helpers.

A datasource module knows how to validate a connection, turn it into data restic can read (paths or a
dump command), restore a recovery point to a target and verify the result. It never touches Django
models: the worker task passes plain dicts in and stores the returned results.
"""

from __future__ import annotations

import abc
import dataclasses
import importlib
import os
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from django.core.exceptions import ValidationError

from vaults.engine.restic import BackupSummary, CancelCheck, EngineError, ProgressCallback, ResticRepository

KINDS: dict[str, str] = {
    "files": "vaults.datasources.files",
    "postgresql": "vaults.datasources.postgresql",
    "sqlite": "vaults.datasources.sqlite",
}


class DatasourceError(EngineError):
    """A datasource operation failed for a reason outside restic (conflict, path escape, dump tool error)."""

    default_code = "datasource_failed"


@dataclasses.dataclass
class BackupResult:
    """What a backup produced: the restic summary and the warnings to show on the job."""

    snapshot_id: str
    summary: BackupSummary
    warnings: list[str] = dataclasses.field(default_factory=list)
    details: dict[str, Any] = dataclasses.field(default_factory=dict)

    @property
    def completed_with_warnings(self) -> bool:
        """True when the recovery point exists but some items were skipped."""
        return bool(self.warnings)


@dataclasses.dataclass
class RestoreResult:
    """Where data was restored to and how; ``details`` is JSON-friendly and shown on the restore job."""

    snapshot_id: str
    location: str
    files_restored: int = 0
    bytes_restored: int = 0
    warnings: list[str] = dataclasses.field(default_factory=list)
    details: dict[str, Any] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass
class VerifyResult:
    """Outcome of checking restored data against the recovery point."""

    ok: bool
    checked: int = 0
    problems: list[str] = dataclasses.field(default_factory=list)
    details: dict[str, Any] = dataclasses.field(default_factory=dict)


class Datasource(abc.ABC):
    """One datasource kind (``files``, ``postgresql``, ``sqlite`` …)."""

    kind: ClassVar[str]
    secret_fields: ClassVar[tuple[str, ...]] = ()

    @abc.abstractmethod
    def validate_connection(self, connection: Mapping[str, Any]) -> dict[str, Any]:
        """Return the cleaned connection or raise ``ValidationError`` with a dict of field errors."""

    @abc.abstractmethod
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
        """Back the datasource up into ``repo`` as one snapshot tagged ``tags``."""

    @abc.abstractmethod
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
        """Restore ``snapshot_id`` as described by ``target`` (kind-specific keys)."""

    @abc.abstractmethod
    def verify(
        self,
        repo: ResticRepository,
        snapshot_id: str,
        connection: Mapping[str, Any],
        restored: RestoreResult,
        *,
        cancel: CancelCheck | None = None,
    ) -> VerifyResult:
        """Check what :meth:`restore` wrote against the recovery point."""

    def redact(self, connection: Mapping[str, Any]) -> dict[str, Any]:
        """The connection with every secret field removed, safe to show or log."""
        return {key: value for key, value in connection.items() if key not in self.secret_fields}


def get_module(kind: str) -> Datasource:
    """The datasource implementation for ``kind``; ``KeyError`` for unknown kinds."""
    if kind not in KINDS:
        raise KeyError(f"Unknown datasource kind {kind!r}.")
    module = importlib.import_module(KINDS[kind])
    return module.DATASOURCE


# ---------------------------------------------------------------------------------------------------------------------
# shared validation helpers


def clean_absolute_path(value: Any, field: str) -> str:
    """A normalised absolute path without ``..`` components, or ``ValidationError`` on ``field``."""
    if not isinstance(value, str) or not value.strip():
        raise ValidationError({field: "Enter an absolute path."})
    if "\x00" in value or "\n" in value:
        raise ValidationError({field: "The path contains invalid characters."})
    if not os.path.isabs(value):
        raise ValidationError({field: f"{value} is not an absolute path."})
    if ".." in value.split("/"):
        raise ValidationError({field: f"{value} must not contain '..'."})
    return os.path.normpath(value)


def is_within(path: str, root: str) -> bool:
    """True when ``path`` equals ``root`` or lies below it (both already resolved)."""
    root = root.rstrip("/") or "/"
    return path == root or path.startswith(root if root == "/" else root + "/")


# ---------------------------------------------------------------------------------------------------------------------
# discovery


def discover_host_paths(root_paths: Sequence[str]) -> list[dict[str, str]]:
    """Immediate subdirectories of each root as ``{"name", "path"}``; a missing root raises ``ValidationError``."""
    found: list[dict[str, str]] = []
    missing: list[str] = []
    for raw in root_paths:
        root = clean_absolute_path(raw, "root_paths")
        if not os.path.isdir(root):
            missing.append(root)
            continue
        with os.scandir(root) as entries:
            for entry in sorted(entries, key=lambda e: e.name):
                if entry.is_dir(follow_symlinks=False):
                    found.append({"name": entry.name, "path": os.path.join(root, entry.name)})
    if missing:
        raise ValidationError({"root_paths": [f"{path} does not exist or is not a folder." for path in missing]})
    return found


def discover_postgresql_databases(dsn_parts: Mapping[str, Any]) -> list[str]:
    """Names of the non-template databases a PostgreSQL server lets ``user`` connect to.

    ``dsn_parts`` holds host, port, user, password, optionally dbname (default ``postgres``) and sslmode.
    An unreachable server or rejected login raises ``ValidationError`` whose message never contains the
    password.
    """
    import psycopg

    password = str(dsn_parts.get("password") or "")
    host = dsn_parts.get("host") or "localhost"
    port = int(dsn_parts.get("port") or 5432)
    user = dsn_parts.get("user") or ""
    try:
        with psycopg.connect(
            host=host,
            port=port,
            user=user or None,
            password=password or None,
            dbname=dsn_parts.get("dbname") or "postgres",
            sslmode=dsn_parts.get("sslmode") or "prefer",
            connect_timeout=int(dsn_parts.get("connect_timeout") or 5),
            autocommit=True,
        ) as conn:
            rows = conn.execute(
                "SELECT datname FROM pg_database WHERE NOT datistemplate AND datallowconn ORDER BY datname"
            ).fetchall()
    except psycopg.Error as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        if password:
            reason = reason.replace(password, "***")
        raise ValidationError(
            {
                "__all__": f"Could not connect to the PostgreSQL server {host}:{port} as {user or 'the default user'}: "
                f"{reason}"
            }
        ) from None
    return [row[0] for row in rows]
