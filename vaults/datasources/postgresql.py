"""One PostgreSQL database, backed up as a ``pg_dump -Fc`` stream that restic reads from the command.

Connection: ``{"host", "port", "dbname", "user", "password" (secret), "sslmode"}``. The password reaches
pg_dump/pg_restore only through a 0600 ``PGPASSFILE``; host, port, user and database travel in ``PG*``
environment variables, so nothing secret is ever in a process's arguments.

Restore target: ``{"mode": "new_database", "dbname": optional name}`` (default
``<db>_restored_<UTC timestamp>``), ``{"mode": "original", "confirm_overwrite": True}`` (``pg_restore
--clean --if-exists`` over the source database) or ``{"mode": "files", "path": folder, "overwrite":
bool}`` (the dump file written into a folder).
"""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import tempfile
import threading
from collections import deque
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime
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
from vaults.engine.restic import (
    CancelCheck,
    ProgressCallback,
    ResticCancelled,
    ResticError,
    ResticRepository,
    validate_snapshot_id,
)

SSL_MODES = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")
IDENTIFIER_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_$-]{0,62}$")
# "TABLE <schema> <name>" entries only: the archive also lists one "TABLE DATA <schema> <name>" per table.
TOC_TABLE_RE = re.compile(r"^\d+; \d+ \d+ TABLE (?!DATA )\S+ ")
POLL_INTERVAL = 0.25


def dump_filename(dbname: str) -> str:
    """Name of the dump inside the snapshot (stable, so restic de-duplicates across runs)."""
    return f"{dbname}.dump"


def _escape_passfile(value: str) -> str:
    return value.replace("\\", "\\\\").replace(":", "\\:")


@contextlib.contextmanager
def pg_environment(connection: Mapping[str, Any], dbname: str | None = None) -> Iterator[dict[str, str]]:
    """``PG*`` variables for libpq tools, with the password in a 0600 passfile that lives for the block."""
    env = {
        "PGHOST": str(connection.get("host") or "localhost"),
        "PGPORT": str(connection.get("port") or 5432),
        "PGDATABASE": dbname or str(connection["dbname"]),
        "PGSSLMODE": str(connection.get("sslmode") or "prefer"),
        "PGCONNECT_TIMEOUT": "10",
        "PGAPPNAME": "backupcenter",
    }
    if connection.get("user"):
        env["PGUSER"] = str(connection["user"])
    password = connection.get("password")
    if not password:
        env["PGPASSFILE"] = os.devnull
        yield env
        return
    fd, path = tempfile.mkstemp(prefix="bc-pgpass-")
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(f"*:*:*:*:{_escape_passfile(str(password))}\n")
        env["PGPASSFILE"] = path
        yield env
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)


def _psycopg_connect(connection: Mapping[str, Any], dbname: str) -> Any:
    import psycopg

    return psycopg.connect(
        host=connection.get("host") or "localhost",
        port=int(connection.get("port") or 5432),
        user=connection.get("user") or None,
        password=connection.get("password") or None,
        dbname=dbname,
        sslmode=connection.get("sslmode") or "prefer",
        connect_timeout=10,
        autocommit=True,
    )


def _scrub(text: str, connection: Mapping[str, Any]) -> str:
    password = connection.get("password")
    return text.replace(str(password), "***") if password else text


def count_tables(connection: Mapping[str, Any], dbname: str) -> int:
    """Number of ordinary and partitioned tables outside the system schemas."""
    with _psycopg_connect(connection, dbname) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema') "
            "AND n.nspname NOT LIKE 'pg_toast%'"
        ).fetchone()
    return int(row[0])


class _Child:
    """A libpq tool whose stderr is drained in the background (keeps the last lines)."""

    def __init__(self, argv: Sequence[str], env: Mapping[str, str], stdin: Any = None, stdout: Any = None) -> None:
        self.tail: deque[str] = deque(maxlen=20)
        full_env = {k: v for k, v in os.environ.items() if not k.startswith(("PG", "RESTIC_"))}
        full_env.update(env)
        self.proc = subprocess.Popen(
            list(argv),
            stdin=stdin if stdin is not None else subprocess.DEVNULL,
            stdout=stdout if stdout is not None else subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            env=full_env,
            start_new_session=True,
        )
        self._reader = threading.Thread(target=self._drain, daemon=True)
        self._reader.start()

    def _drain(self) -> None:
        assert self.proc.stderr is not None
        for raw in self.proc.stderr:
            self.tail.append(raw.decode("utf-8", "replace").rstrip())

    def wait(self, cancel: CancelCheck | None = None) -> int:
        while True:
            try:
                code = self.proc.wait(timeout=POLL_INTERVAL)
                break
            except subprocess.TimeoutExpired:
                if cancel is not None and cancel():
                    self.kill()
                    raise ResticCancelled() from None
        self._reader.join(timeout=10)
        return code

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, 15)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=10)
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, 9)
            self.proc.wait()


class PostgreSQLDatasource(Datasource):
    """Back up one database with pg_dump through restic; restore with pg_restore."""

    kind = "postgresql"
    secret_fields = ("password",)

    def validate_connection(self, connection: Mapping[str, Any]) -> dict[str, Any]:
        """Check the fields (without connecting: the server may be reachable only from the worker's host)."""
        errors: dict[str, str] = {}
        host = str(connection.get("host") or "").strip()
        if not host or any(ch.isspace() for ch in host):
            errors["host"] = "Enter the server's host name, IP address or socket folder."
        try:
            port = int(connection.get("port") or 5432)
            if not 0 < port < 65536:
                raise ValueError
        except (TypeError, ValueError):
            errors["port"] = "Enter a port between 1 and 65535."
            port = 0
        dbname = str(connection.get("dbname") or "").strip()
        if not dbname or "=" in dbname or "://" in dbname or len(dbname) > 63:
            errors["dbname"] = "Enter a database name (at most 63 characters, no '=' or URL)."
        user = str(connection.get("user") or "").strip()
        if not user:
            errors["user"] = "Enter the user pg_dump connects as."
        sslmode = connection.get("sslmode") or "prefer"
        if sslmode not in SSL_MODES:
            errors["sslmode"] = f"Choose one of {', '.join(SSL_MODES)}."
        password = connection.get("password") or ""
        if not isinstance(password, str) or "\n" in password:
            errors["password"] = "The password must be a single line of text."
        if errors:
            raise ValidationError(errors)
        return {"host": host, "port": port, "dbname": dbname, "user": user, "password": password, "sslmode": sslmode}

    # -- backup --------------------------------------------------------------------------------------------------------

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
        """Run ``pg_dump -Fc`` under restic; a failing pg_dump raises and leaves no snapshot."""
        dbname = connection["dbname"]
        with pg_environment(connection) as env:
            try:
                summary = repo.backup_from_command(
                    ["pg_dump", "-Fc", "--no-password", "-d", dbname],
                    stdin_filename=dump_filename(dbname),
                    tags=tags,
                    env=env,
                    on_progress=on_progress,
                    cancel=cancel,
                )
            except ResticError as error:
                if error.code == "source_command_failed":
                    raise DatasourceError(
                        _scrub(f"pg_dump of database {dbname} failed: {error.message.split(': ', 1)[-1]}", connection),
                        code="dump_failed",
                    ) from None
                raise
        return BackupResult(
            snapshot_id=summary.snapshot_id,
            summary=summary,
            warnings=[str(w) for w in summary.warnings],
            details={"dbname": dbname, "file": "/" + dump_filename(dbname)},
        )

    # -- restore -------------------------------------------------------------------------------------------------------

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
        """Restore into a new database, over the original (confirmed) or as a dump file in a folder."""
        validate_snapshot_id(snapshot_id)
        source_db = connection["dbname"]
        dump_path = "/" + dump_filename(target.get("source_dbname") or source_db)
        mode = target.get("mode") or "new_database"
        if mode == "files":
            return self._restore_as_file(repo, snapshot_id, dump_path, target, cancel)
        if mode == "original":
            if target.get("confirm_overwrite") is not True:
                raise ValidationError(
                    {"confirm_overwrite": f"Confirm that database {source_db} will be overwritten by the restore."}
                )
            dbname, clean = source_db, True
        elif mode == "new_database":
            stamp = datetime.now(UTC).strftime("%Y%m%d%H%M%S")
            dbname = target.get("dbname") or f"{source_db[:40]}_restored_{stamp}"
            if not IDENTIFIER_RE.match(dbname):
                raise ValidationError({"dbname": "Use letters, digits and underscores (at most 63 characters)."})
            clean = False
            self._create_database(connection, dbname)
        else:
            raise ValidationError({"mode": "Choose a new database, the original database or restore as files."})

        argv = ["pg_restore", "--no-owner", "--no-password", "-d", dbname]
        if clean:
            argv[1:1] = ["--clean", "--if-exists"]
        try:
            with pg_environment(connection, dbname) as env, repo.dump(snapshot_id, dump_path) as stream:
                child = _Child(argv, env, stdin=stream)
                stream.close()  # pg_restore holds its own copy of the pipe
                try:
                    exit_code = child.wait(cancel)
                except BaseException:
                    child.kill()
                    raise
                if exit_code != 0:  # raised inside the block so it wins over restic's broken pipe
                    detail = _scrub("; ".join(list(child.tail)[-3:]), connection)
                    raise DatasourceError(
                        f"pg_restore into {dbname} failed (exit code {exit_code}): {detail}", code="restore_failed"
                    )
        except BaseException:
            if mode == "new_database":
                self._drop_database(connection, dbname)
            raise
        return RestoreResult(
            snapshot_id=snapshot_id,
            location=dbname,
            details={"mode": mode, "dbname": dbname, "pg_restore_exit_code": exit_code, "dump_path": dump_path},
        )

    def _restore_as_file(
        self,
        repo: ResticRepository,
        snapshot_id: str,
        dump_path: str,
        target: Mapping[str, Any],
        cancel: CancelCheck | None,
    ) -> RestoreResult:
        folder = clean_absolute_path(target.get("path"), "path")
        os.makedirs(folder, exist_ok=True)
        dest = os.path.join(folder, os.path.basename(dump_path))
        if os.path.lexists(dest) and not target.get("overwrite"):
            raise DatasourceError(
                f"{dest} already exists; allow overwriting or choose another folder.", code="restore_conflict"
            )
        partial = dest + ".partial"
        try:
            with open(partial, "wb") as handle:
                repo.dump_to(snapshot_id, dump_path, handle, cancel=cancel)
            os.replace(partial, dest)
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(partial)
        return RestoreResult(
            snapshot_id=snapshot_id,
            location=dest,
            files_restored=1,
            bytes_restored=os.path.getsize(dest),
            details={"mode": "files", "path": dest, "dump_path": dump_path},
        )

    def _create_database(self, connection: Mapping[str, Any], dbname: str) -> None:
        from psycopg import errors, sql

        try:
            with _psycopg_connect(connection, connection["dbname"]) as conn:
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(dbname)))
        except errors.DuplicateDatabase:
            raise ValidationError({"dbname": f"A database named {dbname} already exists."}) from None
        except Exception as exc:
            raise DatasourceError(
                _scrub(f"Could not create database {dbname}: {exc}", connection), code="restore_failed"
            ) from None

    def _drop_database(self, connection: Mapping[str, Any], dbname: str) -> None:
        from psycopg import sql

        with contextlib.suppress(Exception), _psycopg_connect(connection, connection["dbname"]) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(dbname)))

    # -- verify --------------------------------------------------------------------------------------------------------

    def _toc_tables(self, repo: ResticRepository, snapshot_id: str, dump_path: str, env: Mapping[str, str]) -> int:
        """Tables listed in the archive's table of contents (read from the head of the dump stream)."""
        lines: list[str] = []
        exit_code: int | None = None
        with contextlib.suppress(ResticError):
            # pg_restore -l stops reading after the TOC, so restic may then fail on a closed pipe: expected.
            with repo.dump(snapshot_id, dump_path) as stream:
                child = _Child(["pg_restore", "-l"], env, stdin=stream, stdout=subprocess.PIPE)
                stream.close()
                assert child.proc.stdout is not None
                lines = [line.decode("utf-8", "replace") for line in child.proc.stdout]
                exit_code = child.wait()
        if exit_code != 0:
            raise DatasourceError("The dump's table of contents could not be read.", code="verify_failed")
        return sum(1 for line in lines if TOC_TABLE_RE.match(line))

    def verify(
        self,
        repo: ResticRepository,
        snapshot_id: str,
        connection: Mapping[str, Any],
        restored: RestoreResult,
        *,
        cancel: CancelCheck | None = None,
    ) -> VerifyResult:
        """pg_restore's exit status plus the restored table count against the dump's table of contents.

        A restore as files checks that the dump file is a readable archive.
        """
        details = restored.details
        if details.get("mode") == "files":
            with contextlib.ExitStack() as stack:
                handle = stack.enter_context(open(details["path"], "rb"))
                child = _Child(["pg_restore", "-l"], {}, stdin=handle, stdout=subprocess.PIPE)
                assert child.proc.stdout is not None
                tables = sum(1 for line in child.proc.stdout if TOC_TABLE_RE.match(line.decode("utf-8", "replace")))
                code = child.wait(cancel)
            problems = [] if code == 0 else ["The restored file is not a readable pg_dump archive."]
            return VerifyResult(ok=code == 0, checked=1, problems=problems, details={"tables_in_archive": tables})
        problems = []
        if details.get("pg_restore_exit_code") != 0:
            problems.append(f"pg_restore exited with {details.get('pg_restore_exit_code')}.")
        with pg_environment(connection, details["dbname"]) as env:
            expected = self._toc_tables(repo, snapshot_id, details["dump_path"], env)
        found = count_tables(connection, details["dbname"])
        if found != expected:
            problems.append(f"{found} tables restored, the recovery point holds {expected}.")
        return VerifyResult(
            ok=not problems,
            checked=found,
            problems=problems,
            details={"tables_expected": expected, "tables_found": found, "dbname": details["dbname"]},
        )


DATASOURCE = PostgreSQLDatasource()

__all__ = ["DATASOURCE", "PostgreSQLDatasource", "count_tables", "dump_filename", "pg_environment"]
