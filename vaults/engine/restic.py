"""The restic driver: the only code in Backup Center that runs restic.

Every call runs one restic process with ``--json``, reads its stdout and stderr line by line (never
buffering a whole backup's output), maps restic's exit codes to :class:`ResticError` codes and keeps
secrets out of process arguments, logs and exception text:

* the repository password reaches restic only through ``RESTIC_PASSWORD_FILE`` pointing at a 0600
  temporary file that exists for the lifetime of one process;
* the repository URL (which may carry credentials, e.g. ``rest:https://user:pw@host/``) travels in
  ``RESTIC_REPOSITORY``, backend credentials in the ``env`` given to :class:`ResticRepository`;
* every message that leaves this module is scrubbed of the password, the password file path, URL
  credentials and secret-looking environment values.

Locks: backups and restores take shared restic locks; ``forget``/``prune``/``check`` take exclusive
ones and must be serialised per repository by the caller (:func:`vaults.engine.locks.repository_lock`).
A worker that crashed mid-run leaves a stale lock behind; restic ignores stale locks for shared
operations but exclusive ones refuse to start, so the worker calls :meth:`ResticRepository.unlock`
(stale locks only) when it starts up and before retrying an operation that failed with
``lock_failed`` — the driver already does the latter once on its own.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import os
import re
import selectors
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import IO, Any, Literal
from urllib.parse import urlsplit

logger = logging.getLogger(__name__)

PROJECT_ROOT = Path(__file__).resolve().parents[2]
MIN_VERSION = (0, 17, 0)
DEFAULT_RETRY_LOCK = "2m"
PROGRESS_INTERVAL = 0.5  # at most ~2 progress callbacks per second
CANCEL_POLL_INTERVAL = 0.25
CANCEL_GRACE_SECONDS = 10.0
STDERR_TAIL_LINES = 20
MAX_WARNINGS = 500
MAX_LINE_BYTES = 16 * 1024 * 1024
SNAPSHOT_ID_RE = re.compile(r"^[0-9a-f]{64}$")
_SECRET_ENV_RE = re.compile(r"SECRET|PASSWORD|PASSWD|TOKEN|KEY|CREDENTIAL|AUTH", re.IGNORECASE)
_STORAGE_ERROR_RE = re.compile(
    r"permission denied|no space left on device|read-only file system|disk quota exceeded|"
    r"input/output error|not a directory|connection refused|no such host|i/o timeout|network is unreachable",
    re.IGNORECASE,
)

ProgressCallback = Callable[["Progress"], None]
CancelCheck = Callable[[], bool]
OverwritePolicy = Literal["always", "if-changed", "if-newer", "never"]


class EngineError(Exception):
    """Base class of the errors the backup engine reports to jobs.

    ``code`` is a stable machine-readable identifier stored on the Job; ``message`` is actionable text for
    the operator and never contains secrets.
    """

    default_code = "engine_error"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        self.code = code or self.default_code
        self.message = message
        super().__init__(message)

    def __str__(self) -> str:
        return self.message


class ResticError(EngineError):
    """A restic command failed; ``exit_code`` and a scrubbed ``stderr_tail`` help diagnosis."""

    default_code = "restic_failed"

    def __init__(self, code: str, message: str, *, exit_code: int | None = None, stderr_tail: str = "") -> None:
        super().__init__(message, code=code)
        self.exit_code = exit_code
        self.stderr_tail = stderr_tail


class ResticCancelled(ResticError):
    """The job was cancelled while restic ran; restic was interrupted and no result exists."""

    def __init__(self, message: str = "The operation was cancelled.", *, exit_code: int | None = None) -> None:
        super().__init__("cancelled", message, exit_code=exit_code)


@dataclasses.dataclass(frozen=True)
class Progress:
    """One restic ``status`` message (backup or restore)."""

    percent_done: float = 0.0
    total_files: int = 0
    files_done: int = 0
    total_bytes: int = 0
    bytes_done: int = 0
    seconds_elapsed: int = 0
    seconds_remaining: int | None = None


@dataclasses.dataclass(frozen=True)
class ItemWarning:
    """A non-fatal restic ``error`` message, e.g. a source file that could not be read."""

    message: str
    item: str | None = None
    during: str | None = None

    def __str__(self) -> str:
        return f"{self.item}: {self.message}" if self.item else self.message


@dataclasses.dataclass
class BackupSummary:
    """restic's backup ``summary`` plus the warnings collected on the way (exit code 3 ⇒ warnings)."""

    snapshot_id: str
    files_new: int = 0
    files_changed: int = 0
    files_unmodified: int = 0
    dirs_new: int = 0
    dirs_changed: int = 0
    dirs_unmodified: int = 0
    data_added: int = 0
    data_added_packed: int = 0
    total_files_processed: int = 0
    total_bytes_processed: int = 0
    total_duration: float = 0.0
    warnings: list[ItemWarning] = dataclasses.field(default_factory=list)

    @property
    def completed_with_warnings(self) -> bool:
        """True when the snapshot was saved but some items could not be read."""
        return bool(self.warnings)


@dataclasses.dataclass
class RestoreSummary:
    """restic's restore ``summary``."""

    total_files: int = 0
    files_restored: int = 0
    files_skipped: int = 0
    files_deleted: int = 0
    total_bytes: int = 0
    bytes_restored: int = 0
    bytes_skipped: int = 0
    seconds_elapsed: int = 0
    warnings: list[ItemWarning] = dataclasses.field(default_factory=list)


@dataclasses.dataclass(frozen=True)
class Snapshot:
    """One snapshot as listed by ``restic snapshots --json``; ``id`` is the full 64-hex id."""

    id: str
    time: datetime
    paths: tuple[str, ...]
    tags: tuple[str, ...]
    hostname: str
    username: str = ""
    tree: str = ""
    parent: str | None = None
    program_version: str = ""
    summary: Mapping[str, Any] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class Node:
    """One entry of a snapshot (``restic ls``); ``mode`` holds the Unix permission bits only."""

    path: str
    name: str
    type: str  # file, dir, symlink, fifo, socket, dev, chardev, irregular
    size: int
    mode: int
    mtime: datetime | None
    link_target: str | None = None
    uid: int = 0
    gid: int = 0


@dataclasses.dataclass(frozen=True)
class CheckResult:
    """Outcome of ``restic check``."""

    ok: bool
    num_errors: int
    suggest_repair_index: bool = False
    suggest_prune: bool = False
    messages: tuple[str, ...] = ()


@dataclasses.dataclass(frozen=True)
class RepositoryStats:
    """``restic stats --mode raw-data``: bytes the repository stores."""

    total_size: int
    total_uncompressed_size: int
    compression_ratio: float
    total_blob_count: int
    snapshots_count: int


# ---------------------------------------------------------------------------------------------------------------------
# binary and version


def restic_binary() -> str:
    """Path of the restic executable: env ``RESTIC_BINARY``, else ``<project>/.tools/bin/restic``, else PATH."""
    configured = os.environ.get("RESTIC_BINARY")
    if configured:
        return configured
    bundled = PROJECT_ROOT / ".tools" / "bin" / "restic"
    if bundled.is_file() and os.access(bundled, os.X_OK):
        return str(bundled)
    return shutil.which("restic") or "restic"


@lru_cache(maxsize=8)
def _version_of(binary: str) -> tuple[int, int, int]:
    try:
        completed = subprocess.run(
            [binary, "version"], check=False, capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL
        )
    except FileNotFoundError as exc:
        raise ResticError(
            "restic_not_found",
            f"restic was not found at {binary!r}. Install restic 0.17 or newer (the setup script puts it in "
            ".tools/bin) or set RESTIC_BINARY.",
        ) from exc
    match = re.search(r"restic (\d+)\.(\d+)\.(\d+)", completed.stdout)
    if completed.returncode != 0 or not match:
        raise ResticError(
            "restic_not_found",
            f"Could not determine the restic version from {binary!r}; is it a restic executable?",
            exit_code=completed.returncode,
        )
    return int(match[1]), int(match[2]), int(match[3])


def check_version(binary: str | None = None) -> tuple[int, int, int]:
    """Return restic's version; raise ``restic_too_old`` for anything older than 0.17 (result cached)."""
    binary = binary or restic_binary()
    version = _version_of(binary)
    if version < MIN_VERSION:
        found = ".".join(map(str, version))
        raise ResticError(
            "restic_too_old",
            f"restic {found} at {binary} is too old: Backup Center needs restic 0.17 or newer (0.18 is pinned). "
            "Run the project setup script to install it into .tools/bin or set RESTIC_BINARY.",
        )
    return version


# ---------------------------------------------------------------------------------------------------------------------
# parsing helpers


def _parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    # restic prints nanoseconds; Python keeps microseconds.
    match = re.match(r"^(.*T\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-]\d\d:\d\d)$", value)
    if not match:
        return None
    fraction = (match[2] or "")[:7]
    zone = "+00:00" if match[3] == "Z" else match[3]
    return datetime.fromisoformat(f"{match[1]}{fraction}{zone}")


def _unix_mode(go_mode: int) -> int:
    """Convert a Go ``os.FileMode`` (as printed by restic) to Unix permission bits."""
    mode = go_mode & 0o777
    if go_mode & (1 << 23):
        mode |= 0o4000
    if go_mode & (1 << 22):
        mode |= 0o2000
    if go_mode & (1 << 20):
        mode |= 0o1000
    return mode


def _progress_from(message: Mapping[str, Any]) -> Progress:
    files_done = message.get("files_done")
    if files_done is None:  # restore reports restored + skipped separately
        files_done = int(message.get("files_restored", 0)) + int(message.get("files_skipped", 0))
    bytes_done = message.get("bytes_done")
    if bytes_done is None:
        bytes_done = int(message.get("bytes_restored", 0)) + int(message.get("bytes_skipped", 0))
    remaining = message.get("seconds_remaining")
    return Progress(
        percent_done=float(message.get("percent_done", 0.0)),
        total_files=int(message.get("total_files", 0)),
        files_done=int(files_done),
        total_bytes=int(message.get("total_bytes", 0)),
        bytes_done=int(bytes_done),
        seconds_elapsed=int(message.get("seconds_elapsed", 0)),
        seconds_remaining=int(remaining) if remaining is not None else None,
    )


def _fields(cls: type, message: Mapping[str, Any]) -> dict[str, Any]:
    names = {f.name for f in dataclasses.fields(cls)} - {"warnings"}
    return {key: value for key, value in message.items() if key in names}


def _snapshot_from(data: Mapping[str, Any]) -> Snapshot:
    return Snapshot(
        id=data["id"],
        time=_parse_time(data.get("time")) or datetime.min,
        paths=tuple(data.get("paths") or ()),
        tags=tuple(data.get("tags") or ()),
        hostname=data.get("hostname", ""),
        username=data.get("username", ""),
        tree=data.get("tree", ""),
        parent=data.get("parent"),
        program_version=data.get("program_version", ""),
        summary=data.get("summary") or {},
    )


def validate_snapshot_id(snapshot_id: str) -> str:
    """Return the id if it is a full 64-hex restic snapshot id, else raise ``ValueError``."""
    if not isinstance(snapshot_id, str) or not SNAPSHOT_ID_RE.match(snapshot_id):
        raise ValueError("Snapshot ids must be full 64-character hexadecimal restic ids.")
    return snapshot_id


class _Throttle:
    """Forward progress to a callback at most once per ``interval`` seconds."""

    def __init__(self, callback: ProgressCallback | None, interval: float = PROGRESS_INTERVAL) -> None:
        self.callback = callback
        self.interval = interval
        self.last = 0.0

    def __call__(self, progress: Progress) -> None:
        if self.callback is None:
            return
        now = time.monotonic()
        if now - self.last >= self.interval:
            self.last = now
            self.callback(progress)


@dataclasses.dataclass
class _Run:
    """What one restic process reported."""

    exit_code: int
    stderr_tail: list[str]
    exit_message: str | None
    warnings: list[ItemWarning]
    warnings_dropped: int = 0


# ---------------------------------------------------------------------------------------------------------------------
# the repository


class ResticRepository:
    """One restic repository, addressed by URL and opened with its password.

    ``env`` carries backend credentials (``AWS_ACCESS_KEY_ID``, ``AZURE_ACCOUNT_KEY``, …). ``cache_dir``
    enables restic's local cache; without it every command runs with ``--no-cache``. ``retry_lock`` is
    passed as ``--retry-lock`` (``None`` disables it).
    """

    def __init__(
        self,
        url: str,
        password: str,
        env: dict[str, str] | None = None,
        cache_dir: str | None = None,
        *,
        retry_lock: str | None = DEFAULT_RETRY_LOCK,
        cancel_grace: float = CANCEL_GRACE_SECONDS,
    ) -> None:
        if not url:
            raise ValueError("A repository URL is required.")
        if not password:
            raise ValueError("A repository password is required.")
        self.url = url
        self._password = password
        self.env = dict(env or {})
        self.cache_dir = cache_dir
        self.retry_lock = retry_lock
        self.cancel_grace = cancel_grace
        self.last_command: list[str] = []  # argv of the most recent restic process (never holds secrets)
        self._current_password_file: str | None = None

    def __repr__(self) -> str:
        return f"ResticRepository({self._scrub(self.url)!r})"

    # -- secrets -------------------------------------------------------------------------------------------------------

    def _secrets(self) -> list[str]:
        secrets = [self._password]
        if self._current_password_file:
            secrets.append(self._current_password_file)
        parts = urlsplit(self.url.split(":", 1)[1] if self.url.startswith(("rest:", "s3:")) else self.url)
        if parts.password:
            secrets.append(parts.password)
        for key, value in self.env.items():
            if value and len(value) >= 4 and _SECRET_ENV_RE.search(key):
                secrets.append(value)
        return sorted((s for s in secrets if s), key=len, reverse=True)

    def _scrub(self, text: str, extra: Iterable[str] = ()) -> str:
        for secret in [*self._secrets(), *extra]:
            if secret:
                text = text.replace(secret, "***")
        return text

    @contextlib.contextmanager
    def _password_file(self) -> Iterator[str]:
        fd, path = tempfile.mkstemp(prefix="bc-restic-", suffix=".pw")
        try:
            os.fchmod(fd, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(self._password)
            self._current_password_file = path
            yield path
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)

    def _environment(self, password_file: str, extra_env: Mapping[str, str] | None) -> dict[str, str]:
        env = {key: value for key, value in os.environ.items() if not key.startswith("RESTIC_")}
        env.update(self.env)
        env.update(extra_env or {})
        env["RESTIC_REPOSITORY"] = self.url
        env["RESTIC_PASSWORD_FILE"] = password_file
        env["RESTIC_PROGRESS_FPS"] = "2"
        return env

    def _global_flags(self) -> list[str]:
        flags = ["--json"]
        flags += ["--cache-dir", self.cache_dir] if self.cache_dir else ["--no-cache"]
        if self.retry_lock:
            flags += ["--retry-lock", self.retry_lock]
        return flags

    def command(self, *args: str) -> list[str]:
        """The argv that runs ``restic <args>`` for this repository (contains no secret)."""
        return [restic_binary(), *self._global_flags(), *args]

    # -- process handling ----------------------------------------------------------------------------------------------

    def _spawn(
        self, args: Sequence[str], password_file: str, extra_env: Mapping[str, str] | None, stdout: Any
    ) -> subprocess.Popen[bytes]:
        check_version()
        cmd = self.command(*args)
        self.last_command = cmd
        logger.debug("running restic %s", args[0])
        return subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=stdout,
            stderr=subprocess.PIPE,
            env=self._environment(password_file, extra_env),
            start_new_session=True,  # own process group: a cancel signals restic and its children only
            cwd="/",
        )

    def _terminate(self, proc: subprocess.Popen[bytes]) -> None:
        """SIGINT (restic cleans up and removes its lock), then SIGTERM, then SIGKILL."""
        for sig, wait in ((signal.SIGINT, self.cancel_grace), (signal.SIGTERM, 5.0), (signal.SIGKILL, 5.0)):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, sig)
            try:
                proc.wait(timeout=wait)
                return
            except subprocess.TimeoutExpired:
                continue

    def _execute(
        self,
        args: Sequence[str],
        *,
        on_message: Callable[[dict[str, Any]], None] | None = None,
        on_text: Callable[[str], None] | None = None,
        stdout_sink: IO[bytes] | None = None,
        cancel: CancelCheck | None = None,
        extra_env: Mapping[str, str] | None = None,
    ) -> _Run:
        """Run restic, dispatching stdout JSON lines (or raw bytes to ``stdout_sink``) as they arrive."""
        stderr_tail: deque[str] = deque(maxlen=STDERR_TAIL_LINES)
        warnings: list[ItemWarning] = []
        dropped = 0
        exit_message: str | None = None

        def handle_stderr(line: str) -> None:
            nonlocal exit_message, dropped
            if not line.strip():
                return
            message = _loads(line)
            if message is None:
                stderr_tail.append(line)
                return
            kind = message.get("message_type")
            if kind == "exit_error":
                exit_message = str(message.get("message", "")).strip()
                stderr_tail.append(exit_message)
            elif kind == "error":
                error = message.get("error") or {}
                text = error.get("message", "") if isinstance(error, dict) else str(error)
                warning = ItemWarning(message=text, item=message.get("item"), during=message.get("during"))
                stderr_tail.append(str(warning))
                if len(warnings) < MAX_WARNINGS:
                    warnings.append(warning)
                else:
                    dropped += 1
            else:
                stderr_tail.append(line)

        def handle_stdout(line: str) -> None:
            if not line.strip():
                return
            message = _loads(line)
            if message is None:
                if on_text:
                    on_text(line)
                return
            if on_message:
                on_message(message)

        with self._password_file() as password_file:
            proc = self._spawn(args, password_file, extra_env, subprocess.PIPE)
            assert proc.stdout is not None and proc.stderr is not None
            selector = selectors.DefaultSelector()
            buffers: dict[int, bytearray] = {}
            handlers: dict[int, Callable[[str], None]] = {
                proc.stdout.fileno(): handle_stdout,
                proc.stderr.fileno(): handle_stderr,
            }
            for stream in (proc.stdout, proc.stderr):
                os.set_blocking(stream.fileno(), False)
                selector.register(stream, selectors.EVENT_READ)
                buffers[stream.fileno()] = bytearray()
            last_poll = 0.0
            try:
                while selector.get_map():
                    for key, _ in selector.select(timeout=CANCEL_POLL_INTERVAL):
                        fd = key.fd
                        try:
                            chunk = os.read(fd, 65536)
                        except BlockingIOError:
                            continue
                        if not chunk:
                            selector.unregister(key.fileobj)
                            if buffers[fd]:
                                handlers[fd](buffers[fd].decode("utf-8", "replace"))
                                buffers[fd].clear()
                            continue
                        if stdout_sink is not None and fd == proc.stdout.fileno():
                            stdout_sink.write(chunk)
                            continue
                        buffer = buffers[fd]
                        buffer += chunk
                        while (newline := buffer.find(b"\n")) >= 0:
                            line = bytes(buffer[:newline])
                            del buffer[: newline + 1]
                            handlers[fd](line.decode("utf-8", "replace"))
                        if len(buffer) > MAX_LINE_BYTES:  # a runaway line: keep memory bounded
                            buffer.clear()
                    now = time.monotonic()
                    if cancel is not None and now - last_poll >= CANCEL_POLL_INTERVAL:
                        last_poll = now
                        if cancel():
                            self._terminate(proc)
                            raise ResticCancelled(exit_code=proc.returncode)
                exit_code = proc.wait()
            except BaseException:
                if proc.poll() is None:
                    self._terminate(proc)
                raise
            finally:
                selector.close()
                proc.stdout.close()
                proc.stderr.close()
        return _Run(
            exit_code=exit_code,
            stderr_tail=[self._scrub(line) for line in stderr_tail],
            exit_message=self._scrub(exit_message) if exit_message else None,
            warnings=[dataclasses.replace(w, message=self._scrub(w.message)) for w in warnings],
            warnings_dropped=dropped,
        )

    def _error_for(self, run: _Run, operation: str) -> ResticError:
        tail = "\n".join(run.stderr_tail)
        detail = run.exit_message or (run.stderr_tail[-1] if run.stderr_tail else "no error output")
        code = run.exit_code
        if code == 10:
            return ResticError(
                "repository_missing",
                "No restic repository exists at this storage location. Check the storage location URL and "
                "credentials, or initialise the repository.",
                exit_code=code,
                stderr_tail=tail,
            )
        if code == 11:
            return ResticError(
                "lock_failed",
                f"The repository is locked by another operation and {operation} could not start. Wait for the "
                "running maintenance to finish; stale locks left by crashed jobs are removed with unlock.",
                exit_code=code,
                stderr_tail=tail,
            )
        if code == 12:
            return ResticError(
                "wrong_password",
                "The repository password was rejected. The vault's key may have been rotated without re-wrapping "
                "or the storage location points at another repository.",
                exit_code=code,
                stderr_tail=tail,
            )
        if run.exit_message and _STORAGE_ERROR_RE.search(run.exit_message):
            return ResticError(
                "storage_unavailable",
                f"The storage location cannot be used for {operation}: {detail}. Check that it exists, is "
                "writable and has free space.",
                exit_code=code,
                stderr_tail=tail,
            )
        return ResticError(
            "restic_failed", f"restic {operation} failed (exit code {code}): {detail}", exit_code=code, stderr_tail=tail
        )

    def _run_checked(
        self, args: Sequence[str], operation: str, *, retry_stale_lock: bool = True, **kwargs: Any
    ) -> _Run:
        run = self._execute(args, **kwargs)
        if run.exit_code == 11 and retry_stale_lock and self.unlock() > 0:
            # A crashed job's stale lock was in the way; it is gone now, so try once more.
            run = self._execute(args, **kwargs)
        if run.exit_code != 0:
            raise self._error_for(run, operation)
        return run

    def _json_document(self, args: Sequence[str], operation: str) -> Any:
        lines: list[str] = []

        def collect(message: dict[str, Any]) -> None:
            lines.append(json.dumps(message))

        chunks: list[str] = []
        self._run_checked(args, operation, on_message=collect, on_text=chunks.append)
        if lines:
            return json.loads(lines[-1]) if len(lines) == 1 else [json.loads(line) for line in lines]
        return json.loads("\n".join(chunks)) if chunks else None

    # -- repository lifecycle ------------------------------------------------------------------------------------------

    def init(self) -> str:
        """Create the repository; return its id. Raises ``repository_exists`` when one is already there."""
        created: dict[str, Any] = {}
        run = self._execute(["init"], on_message=created.update)
        if run.exit_code != 0:
            text = " ".join(run.stderr_tail)
            if "already exists" in text or "already initialized" in text:
                raise ResticError(
                    "repository_exists",
                    "A restic repository already exists at this storage location.",
                    exit_code=run.exit_code,
                    stderr_tail=text,
                )
            raise self._error_for(run, "init")
        return str(created.get("id", ""))

    def exists(self) -> bool:
        """True when a repository exists at the URL (``restic cat config``); other errors are raised."""
        run = self._execute(["cat", "config"])
        if run.exit_code == 10:
            return False
        if run.exit_code != 0:
            raise self._error_for(run, "cat config")
        return True

    # -- backup --------------------------------------------------------------------------------------------------------

    def backup(
        self,
        paths: Sequence[str],
        *,
        tags: Sequence[str],
        excludes: Sequence[str] = (),
        host: str | None = None,
        on_progress: ProgressCallback | None = None,
        cancel: CancelCheck | None = None,
    ) -> BackupSummary:
        """Back up absolute ``paths``; every path must exist (restic would silently skip a missing one)."""
        if not paths:
            raise ValueError("Nothing to back up: no paths given.")
        for path in paths:
            if not os.path.isabs(path):
                raise ValueError(f"Backup paths must be absolute: {path!r}")
            if not os.path.lexists(path):
                raise ResticError(
                    "source_missing",
                    f"The source path {path} does not exist. Fix the backup selection or restore the folder.",
                )
        args = ["backup", *_tag_flags(tags)]
        for pattern in excludes:
            args += ["--exclude", pattern]
        if host:
            args += ["--host", host]
        args += ["--", *paths]
        return self._backup(args, on_progress=on_progress, cancel=cancel)

    def backup_from_command(
        self,
        argv: Sequence[str],
        *,
        stdin_filename: str,
        tags: Sequence[str],
        env: Mapping[str, str] | None = None,
        on_progress: ProgressCallback | None = None,
        cancel: CancelCheck | None = None,
    ) -> BackupSummary:
        """Back up the stdout of ``argv`` as ``/<stdin_filename>`` (``--stdin-from-command``).

        restic sees the producer's exit status and refuses to save a snapshot when it fails; this method
        double-checks with ``snapshots`` and forgets any snapshot that slipped through, then raises
        ``source_command_failed`` with the producer's error output. ``env`` reaches the producer (and restic)
        through the environment, never the command line.
        """
        if not argv:
            raise ValueError("A producer command is required.")
        if not stdin_filename or "/" in stdin_filename.strip("/"):
            raise ValueError("stdin_filename must be a plain file name.")
        started = time.time()
        args = ["backup", "--stdin-from-command", "--stdin-filename", stdin_filename, *_tag_flags(tags), "--", *argv]
        try:
            return self._backup(args, on_progress=on_progress, cancel=cancel, extra_env=env)
        except ResticError as error:
            if isinstance(error, ResticCancelled) or error.code in {"repository_missing", "wrong_password"}:
                raise
            self._forget_leftovers(stdin_filename, tags, started)
            if "command failed" in error.stderr_tail or "subprocess" in error.stderr_tail:
                producer = [
                    line.removeprefix(f"subprocess {os.path.basename(argv[0])}: ")
                    for line in error.stderr_tail.splitlines()
                    if line.startswith("subprocess ")
                ]
                detail = "; ".join(producer[-3:]) or error.message
                raise ResticError(
                    "source_command_failed",
                    f"The dump command {os.path.basename(argv[0])} failed, no recovery point was created: {detail}",
                    exit_code=error.exit_code,
                    stderr_tail=error.stderr_tail,
                ) from None
            raise

    def _forget_leftovers(self, stdin_filename: str, tags: Sequence[str], started: float) -> None:
        expected = "/" + stdin_filename.strip("/")
        leftovers = [
            snap.id
            for snap in self.snapshots(tags=tags)
            if expected in snap.paths and snap.time.timestamp() >= started - 5
        ]
        if leftovers:
            logger.warning("forgetting %d snapshot(s) left by a failed dump command", len(leftovers))
            self.forget(leftovers)

    def _backup(
        self,
        args: Sequence[str],
        *,
        on_progress: ProgressCallback | None,
        cancel: CancelCheck | None,
        extra_env: Mapping[str, str] | None = None,
    ) -> BackupSummary:
        throttle = _Throttle(on_progress)
        summary: dict[str, Any] = {}

        def on_message(message: dict[str, Any]) -> None:
            kind = message.get("message_type")
            if kind == "status":
                throttle(_progress_from(message))
            elif kind == "summary":
                summary.update(message)

        run = self._execute(args, on_message=on_message, cancel=cancel, extra_env=extra_env)
        if run.exit_code == 11 and self.unlock() > 0:
            summary.clear()
            run = self._execute(args, on_message=on_message, cancel=cancel, extra_env=extra_env)
        if run.exit_code not in (0, 3):
            raise self._error_for(run, "backup")
        snapshot_id = summary.get("snapshot_id")
        if not snapshot_id:
            raise ResticError(
                "restic_failed",
                "restic finished without reporting a snapshot; no recovery point was created.",
                exit_code=run.exit_code,
                stderr_tail="\n".join(run.stderr_tail),
            )
        result = BackupSummary(**_fields(BackupSummary, summary))
        result.warnings = list(run.warnings)
        if run.exit_code == 3 and not result.warnings:
            result.warnings.append(ItemWarning(run.exit_message or "Some source data could not be read."))
        if run.warnings_dropped:
            result.warnings.append(ItemWarning(f"{run.warnings_dropped} further unreadable items were not listed."))
        return result

    # -- browsing ------------------------------------------------------------------------------------------------------

    def snapshots(self, tags: Sequence[str] | None = None) -> list[Snapshot]:
        """All snapshots, or those carrying every tag in ``tags``, oldest first."""
        args = ["snapshots"]
        if tags:
            args += ["--tag", ",".join(_checked_tags(tags))]
        data = self._json_document(args, "snapshots") or []
        if isinstance(data, dict):
            data = [data]
        snapshots = [_snapshot_from(item) for item in data]
        return sorted(snapshots, key=lambda snap: snap.time)

    def ls(self, snapshot_id: str, path: str | None = None) -> list[Node]:
        """Every node of a snapshot (or below ``path``), with symlink targets filled in."""
        validate_snapshot_id(snapshot_id)
        nodes: list[Node] = []

        def on_message(message: dict[str, Any]) -> None:
            if message.get("message_type", message.get("struct_type")) != "node":
                return
            nodes.append(
                Node(
                    path=message["path"],
                    name=message.get("name", ""),
                    type=message.get("type", ""),
                    size=int(message.get("size", 0)),
                    mode=_unix_mode(int(message.get("mode", 0))),
                    mtime=_parse_time(message.get("mtime")),
                    uid=int(message.get("uid", 0)),
                    gid=int(message.get("gid", 0)),
                )
            )

        args = ["ls", snapshot_id]
        if path:
            args.append(path)
        self._run_checked(args, "ls", on_message=on_message)
        link_dirs = sorted({os.path.dirname(node.path) for node in nodes if node.type == "symlink"})
        if not link_dirs:
            return nodes
        targets: dict[str, str] = {}
        for directory in link_dirs:  # ls --json has no link targets; the directory's tree object has them
            tree = self._json_document(["cat", "tree", f"{snapshot_id}:{directory}"], "cat tree") or {}
            for item in tree.get("nodes") or []:
                if item.get("type") == "symlink":
                    targets[os.path.join(directory, item["name"])] = item.get("linktarget", "")
        return [
            dataclasses.replace(node, link_target=targets.get(node.path)) if node.type == "symlink" else node
            for node in nodes
        ]

    # -- restore -------------------------------------------------------------------------------------------------------

    def restore(
        self,
        snapshot_id: str,
        target: str,
        *,
        include: Sequence[str] = (),
        on_progress: ProgressCallback | None = None,
        cancel: CancelCheck | None = None,
        overwrite: OverwritePolicy = "always",
    ) -> RestoreSummary:
        """Restore a snapshot (or the ``include``d paths) below ``target``, keeping modes, times and links."""
        validate_snapshot_id(snapshot_id)
        if overwrite not in ("always", "if-changed", "if-newer", "never"):
            raise ValueError(f"Unknown overwrite policy {overwrite!r}.")
        if not os.path.isabs(target):
            raise ValueError("The restore target must be an absolute path.")
        throttle = _Throttle(on_progress)
        summary: dict[str, Any] = {}

        def on_message(message: dict[str, Any]) -> None:
            kind = message.get("message_type")
            if kind == "status":
                throttle(_progress_from(message))
            elif kind == "summary":
                summary.update(message)

        args = ["restore", snapshot_id, "--target", target, "--overwrite", overwrite]
        for pattern in include:
            args += ["--include", pattern]
        run = self._run_checked(args, "restore", on_message=on_message, cancel=cancel)
        result = RestoreSummary(**_fields(RestoreSummary, summary))
        result.warnings = list(run.warnings)
        return result

    @contextlib.contextmanager
    def dump(self, snapshot_id: str, path: str, *, archive: Literal["tar", "zip"] | None = None) -> Iterator[IO[bytes]]:
        """Yield a binary stream of one file (or a tar/zip of a folder) from a snapshot.

        The stream is restic's stdout pipe, so it can be handed to another process as stdin. If the block
        raises, restic is stopped and the block's error wins; otherwise restic's own failure is raised on exit.
        """
        validate_snapshot_id(snapshot_id)
        args = ["dump", snapshot_id, path] + (["--archive", archive] if archive else [])
        with self._password_file() as password_file:
            proc = self._spawn(args, password_file, None, subprocess.PIPE)
            assert proc.stdout is not None and proc.stderr is not None
            tail: deque[str] = deque(maxlen=STDERR_TAIL_LINES)
            exit_message: list[str] = []

            def drain() -> None:
                assert proc.stderr is not None
                for raw in proc.stderr:
                    line = raw.decode("utf-8", "replace").rstrip("\n")
                    message = _loads(line)
                    if message and message.get("message_type") == "exit_error":
                        exit_message.append(str(message.get("message", "")))
                        line = exit_message[-1]
                    tail.append(line)

            reader = threading.Thread(target=drain, daemon=True)
            reader.start()
            try:
                yield proc.stdout
            except BaseException:
                if proc.poll() is None:
                    self._terminate(proc)
                raise
            else:
                proc.stdout.close()
                exit_code = proc.wait()
            finally:
                reader.join(timeout=30)
                with contextlib.suppress(Exception):
                    proc.stdout.close()
                proc.stderr.close()
            if exit_code != 0:
                run = _Run(
                    exit_code=exit_code,
                    stderr_tail=[self._scrub(line) for line in tail],
                    exit_message=self._scrub(exit_message[-1]) if exit_message else None,
                    warnings=[],
                )
                if run.exit_message is None and run.stderr_tail:
                    run.exit_message = run.stderr_tail[-1]
                raise self._error_for(run, "dump")

    def dump_to(self, snapshot_id: str, path: str, fileobj: IO[bytes], *, cancel: CancelCheck | None = None) -> None:
        """Write one file of a snapshot into ``fileobj`` (streaming, cancellable)."""
        validate_snapshot_id(snapshot_id)
        self._run_checked(["dump", snapshot_id, path], "dump", stdout_sink=fileobj, cancel=cancel)

    # -- maintenance (exclusive locks: serialise with locks.repository_lock) ---------------------------------------

    def forget(self, snapshot_ids: Sequence[str]) -> None:
        """Remove the given snapshots (data stays until :meth:`prune`)."""
        ids = [validate_snapshot_id(snapshot_id) for snapshot_id in snapshot_ids]
        if ids:
            self._run_checked(["forget", *ids], "forget")

    def prune(self, *, max_unused: str | None = None, cancel: CancelCheck | None = None) -> None:
        """Delete data no snapshot references any more."""
        args = ["prune"] + (["--max-unused", max_unused] if max_unused else [])
        self._run_checked(args, "prune", cancel=cancel)

    def check(self, *, read_data_subset: str | None = None, cancel: CancelCheck | None = None) -> CheckResult:
        """Verify the repository structure (and a subset of pack data when ``read_data_subset`` is given)."""
        args = ["check"] + (["--read-data-subset", read_data_subset] if read_data_subset else [])
        summary: dict[str, Any] = {}
        texts: list[str] = []

        def on_message(message: dict[str, Any]) -> None:
            if message.get("message_type") == "summary":
                summary.update(message)

        run = self._execute(args, on_message=on_message, on_text=texts.append, cancel=cancel)
        if run.exit_code == 11 and self.unlock() > 0:
            run = self._execute(args, on_message=on_message, on_text=texts.append, cancel=cancel)
        if run.exit_code not in (0, 1) or (run.exit_code == 1 and not summary):
            raise self._error_for(run, "check")
        num_errors = int(summary.get("num_errors", 0 if run.exit_code == 0 else 1))
        return CheckResult(
            ok=run.exit_code == 0 and num_errors == 0,
            num_errors=num_errors,
            suggest_repair_index=bool(summary.get("suggest_repair_index")),
            suggest_prune=bool(summary.get("suggest_prune")),
            messages=tuple(run.stderr_tail),
        )

    def unlock(self, remove_all: bool = False) -> int:
        """Remove stale locks (or every lock with ``remove_all`` — only when no restic runs anywhere).

        Returns how many locks were removed. The worker calls this at start-up for the repositories it
        serves, because a killed worker leaves its restic lock behind.
        """
        before = self.list_locks()
        self._execute(["unlock"] + (["--remove-all"] if remove_all else []))
        return len(before) - len(self.list_locks()) if before else 0

    def list_locks(self) -> list[str]:
        """Ids of the lock files currently in the repository."""
        ids: list[str] = []
        run = self._execute(["list", "locks", "--no-lock"], on_text=lambda line: ids.append(line.strip()))
        if run.exit_code != 0:
            raise self._error_for(run, "list locks")
        return [lock_id for lock_id in ids if lock_id]

    def stats(self) -> RepositoryStats:
        """Raw data the repository stores (``stats --mode raw-data``)."""
        data = self._json_document(["stats", "--mode", "raw-data"], "stats") or {}
        return RepositoryStats(
            total_size=int(data.get("total_size", 0)),
            total_uncompressed_size=int(data.get("total_uncompressed_size", 0)),
            compression_ratio=float(data.get("compression_ratio", 0.0)),
            total_blob_count=int(data.get("total_blob_count", 0)),
            snapshots_count=int(data.get("snapshots_count", 0)),
        )


def _loads(line: str) -> dict[str, Any] | None:
    line = line.strip()
    if not line.startswith("{"):
        return None
    try:
        value = json.loads(line)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _checked_tags(tags: Iterable[str]) -> list[str]:
    checked = []
    for tag in tags:
        if not tag or "," in tag or any(ch.isspace() for ch in tag):
            raise ValueError(f"Invalid snapshot tag {tag!r}: tags are non-empty and contain no commas or spaces.")
        checked.append(tag)
    return checked


def _tag_flags(tags: Iterable[str]) -> list[str]:
    flags: list[str] = []
    for tag in _checked_tags(tags):
        flags += ["--tag", tag]
    return flags
