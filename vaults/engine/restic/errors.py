"""Errors the restic driver raises, and the mapping from restic's exit codes to stable error codes.

Every message built here is actionable operator text; callers scrub secrets from the stderr tail before it
reaches :func:`error_for_run`.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from vaults.engine.restic.process import _Run

_STORAGE_ERROR_RE = re.compile(
    r"permission denied|no space left on device|read-only file system|disk quota exceeded|"
    r"input/output error|not a directory|connection refused|no such host|i/o timeout|network is unreachable",
    re.IGNORECASE,
)


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


def error_for_run(run: _Run, operation: str) -> ResticError:
    """The :class:`ResticError` for a restic process that failed while running ``operation``."""
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
