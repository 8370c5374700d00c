"""Running restic: one process per call, with the password in a 0600 file, a scrubbed environment, its own
process group, stdout/stderr streamed as JSON lines and cancellation by signal.

:class:`ResticRunner` is the base of :class:`vaults.engine.restic.repository.ResticRepository`: it holds the
repository's address and secrets and knows how to start, stream and stop restic; the repository class adds
the restic operations.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import os
import re
import selectors
import signal
import subprocess
import tempfile
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import IO, Any
from urllib.parse import urlsplit

from vaults.engine.restic.binary import check_version, restic_binary
from vaults.engine.restic.errors import ResticCancelled, ResticError, error_for_run
from vaults.engine.restic.types import CancelCheck, ItemWarning, Progress, ProgressCallback

logger = logging.getLogger(__name__)

DEFAULT_RETRY_LOCK = "2m"
PROGRESS_INTERVAL = 0.5  # at most ~2 progress callbacks per second
CANCEL_POLL_INTERVAL = 0.25
CANCEL_GRACE_SECONDS = 10.0
STDERR_TAIL_LINES = 20
MAX_WARNINGS = 500
MAX_LINE_BYTES = 16 * 1024 * 1024
_SECRET_ENV_RE = re.compile(r"SECRET|PASSWORD|PASSWD|TOKEN|KEY|CREDENTIAL|AUTH", re.IGNORECASE)


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


def _loads(line: str) -> dict[str, Any] | None:
    line = line.strip()
    if not line.startswith("{"):
        return None
    try:
        value = json.loads(line)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


class ResticRunner:
    """Starts, streams and stops restic processes for one repository (see :class:`ResticRepository`)."""

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
        return error_for_run(run, operation)
