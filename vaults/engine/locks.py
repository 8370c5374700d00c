"""Host-local locks that serialise exclusive repository maintenance (forget, prune, check).

restic itself refuses to run an exclusive command while another holds a lock; waiting here first turns
"lock failed" errors into a queue. The interface is one context manager so a Redis lock can replace the
fcntl implementation when workers on several hosts share a repository.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import os
import time
from collections.abc import Iterator
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]
POLL_INTERVAL = 0.1


class LockTimeout(TimeoutError):
    """The lock stayed held by someone else for longer than the timeout."""

    code = "maintenance_lock_timeout"

    def __init__(self, repo_key: str, timeout: float) -> None:
        self.message = (
            f"Another maintenance operation on this repository is still running after {timeout:g} s; try again later."
        )
        self.repo_key = repo_key
        super().__init__(self.message)


def lock_dir() -> Path:
    """Directory of the lock files: env ``BACKUPCENTER_LOCK_DIR``, default ``<project>/var/locks``."""
    return Path(os.environ.get("BACKUPCENTER_LOCK_DIR") or PROJECT_ROOT / "var" / "locks")


def lock_path(repo_key: str) -> Path:
    """The lock file of one repository (named by a hash, so URLs never appear in file names)."""
    digest = hashlib.sha256(repo_key.encode("utf-8")).hexdigest()[:32]
    return lock_dir() / f"repo-{digest}.lock"


@contextlib.contextmanager
def repository_lock(repo_key: str, timeout: float) -> Iterator[None]:
    """Hold the exclusive maintenance lock of ``repo_key`` on this host, waiting up to ``timeout`` seconds.

    The lock is released when the block exits or when the holding process dies (the kernel drops fcntl
    locks with the file descriptor), so a crashed worker never leaves it behind.
    """
    path = lock_path(repo_key)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        deadline = time.monotonic() + max(timeout, 0.0)
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError as exc:
                if exc.errno not in (errno.EAGAIN, errno.EACCES):
                    raise
                if time.monotonic() >= deadline:
                    raise LockTimeout(repo_key, timeout) from None
                time.sleep(POLL_INTERVAL)
        try:
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()}\n".encode())
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
