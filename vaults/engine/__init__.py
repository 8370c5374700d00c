"""Backup engine: the restic driver and the locks around repository maintenance."""

from vaults.engine.locks import LockTimeout, repository_lock
from vaults.engine.restic import (
    BackupSummary,
    EngineError,
    ItemWarning,
    Node,
    Progress,
    ResticCancelled,
    ResticError,
    ResticRepository,
    RestoreSummary,
    Snapshot,
    check_version,
    restic_binary,
)

__all__ = [
    "BackupSummary",
    "EngineError",
    "ItemWarning",
    "LockTimeout",
    "Node",
    "Progress",
    "ResticCancelled",
    "ResticError",
    "ResticRepository",
    "RestoreSummary",
    "Snapshot",
    "check_version",
    "repository_lock",
    "restic_binary",
]
