"""The restic driver: the only code in Backup Center that runs restic.

Split by sub-domain: :mod:`.errors` (errors and exit-code mapping), :mod:`.types` (results and parsing of
restic's JSON), :mod:`.binary` (finding and version-checking restic), :mod:`.process` (running one restic
process) and :mod:`.repository` (:class:`ResticRepository`, the operations). Import from this package.

Every call runs one restic process with ``--json``, reads its stdout and stderr line by line (never
buffering a whole backup's output), maps restic's exit codes to :class:`ResticError` codes and keeps
secrets out of process arguments, logs and exception text:

* the repository password reaches restic only through ``RESTIC_PASSWORD_FILE`` pointing at a 0600
  temporary file that exists for the lifetime of one process;
* the repository URL (which may carry credentials, e.g. ``rest:https://user:pw@host/``) travels in
  ``RESTIC_REPOSITORY``, backend credentials in the ``env`` given to :class:`ResticRepository`;
* every message that leaves this package is scrubbed of the password, the password file path, URL
  credentials and secret-looking environment values.

Locks: backups and restores take shared restic locks; ``forget``/``prune``/``check`` take exclusive
ones and must be serialised per repository by the caller (:func:`vaults.engine.locks.repository_lock`).
A worker that crashed mid-run leaves a stale lock behind; restic ignores stale locks for shared
operations but exclusive ones refuse to start, so the worker calls :meth:`ResticRepository.unlock`
(stale locks only) when it starts up and before retrying an operation that failed with
``lock_failed`` — the driver already does the latter once on its own.
"""

from __future__ import annotations

from vaults.engine.restic.binary import (
    MIN_VERSION,
    PROJECT_ROOT,
    check_version,
    restic_binary,
)
from vaults.engine.restic.errors import (
    EngineError,
    ResticCancelled,
    ResticError,
    error_for_run,
)
from vaults.engine.restic.process import (
    CANCEL_GRACE_SECONDS,
    CANCEL_POLL_INTERVAL,
    DEFAULT_RETRY_LOCK,
    MAX_LINE_BYTES,
    MAX_WARNINGS,
    PROGRESS_INTERVAL,
    STDERR_TAIL_LINES,
    ResticRunner,
)
from vaults.engine.restic.repository import (
    ResticRepository,
)
from vaults.engine.restic.types import (
    SNAPSHOT_ID_RE,
    BackupSummary,
    CancelCheck,
    CheckResult,
    ItemWarning,
    Node,
    OverwritePolicy,
    Progress,
    ProgressCallback,
    RepositoryStats,
    RestoreSummary,
    Snapshot,
    validate_snapshot_id,
)

__all__ = [
    "BackupSummary",
    "CANCEL_GRACE_SECONDS",
    "CANCEL_POLL_INTERVAL",
    "CancelCheck",
    "CheckResult",
    "DEFAULT_RETRY_LOCK",
    "EngineError",
    "ItemWarning",
    "MAX_LINE_BYTES",
    "MAX_WARNINGS",
    "MIN_VERSION",
    "Node",
    "OverwritePolicy",
    "PROGRESS_INTERVAL",
    "PROJECT_ROOT",
    "Progress",
    "ProgressCallback",
    "RepositoryStats",
    "ResticCancelled",
    "ResticError",
    "ResticRepository",
    "ResticRunner",
    "RestoreSummary",
    "SNAPSHOT_ID_RE",
    "STDERR_TAIL_LINES",
    "Snapshot",
    "check_version",
    "error_for_run",
    "restic_binary",
    "validate_snapshot_id",
]
