"""The restic operations on one repository: lifecycle, backup, browsing, restore and maintenance."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import os
import subprocess
import threading
import time
from collections import deque
from collections.abc import Iterator, Mapping, Sequence
from typing import IO, Any, Literal

from vaults.engine.restic.errors import ResticCancelled, ResticError
from vaults.engine.restic.process import STDERR_TAIL_LINES, ResticRunner, _loads, _Run, _Throttle
from vaults.engine.restic.types import (
    BackupSummary,
    CancelCheck,
    CheckResult,
    ItemWarning,
    Node,
    OverwritePolicy,
    ProgressCallback,
    RepositoryStats,
    RestoreSummary,
    Snapshot,
    _checked_tags,
    _fields,
    _parse_time,
    _progress_from,
    _snapshot_from,
    _tag_flags,
    _unix_mode,
    validate_snapshot_id,
)

logger = logging.getLogger(__name__)


class ResticRepository(ResticRunner):
    """One restic repository, addressed by URL and opened with its password.

    ``env`` carries backend credentials (``AWS_ACCESS_KEY_ID``, ``AZURE_ACCOUNT_KEY``, …). ``cache_dir``
    enables restic's local cache; without it every command runs with ``--no-cache``. ``retry_lock`` is
    passed as ``--retry-lock`` (``None`` disables it).
    """

    # -- checked runs -------------------------------------------------------------------------------------------------

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
