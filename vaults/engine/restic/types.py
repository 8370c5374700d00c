"""What the restic driver returns: progress, summaries, snapshots and nodes, built from restic's JSON."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import Any, Literal

SNAPSHOT_ID_RE = re.compile(r"^[0-9a-f]{64}$")

ProgressCallback = Callable[["Progress"], None]
CancelCheck = Callable[[], bool]
OverwritePolicy = Literal["always", "if-changed", "if-newer", "never"]


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


def validate_snapshot_id(snapshot_id: str) -> str:
    """Return the id if it is a full 64-hex restic snapshot id, else raise ``ValueError``."""
    if not isinstance(snapshot_id, str) or not SNAPSHOT_ID_RE.match(snapshot_id):
        raise ValueError("Snapshot ids must be full 64-character hexadecimal restic ids.")
    return snapshot_id


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


# ---------------------------------------------------------------------------------------------------------------------
# parsing restic's JSON


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
