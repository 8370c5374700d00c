"""Files and folders on the worker's host.

Connection: ``{"paths": [absolute existing paths], "excludes": [restic exclude patterns]}``. A backup
instance's selection may narrow ``paths`` (each must lie inside a connection path) and add excludes.

Restore target: ``{"location": "original" | "alternate", "path": <folder for alternate>,
"include": [snapshot paths for item-level restore], "conflict": "fail" | "skip" | "overwrite"}``.
restic restores absolute paths below the target, so an alternate restore of ``/srv/www/index.html``
into ``/restore`` writes ``/restore/srv/www/index.html``. Nothing is written outside the target: paths
with ``..`` are refused and existing symlinks that would lead out of the target are detected before
restic runs. The default conflict policy ``fail`` refuses to start when any file already exists.
"""

from __future__ import annotations

import hashlib
import os
import stat
import tarfile
from collections.abc import Mapping, Sequence
from typing import IO, Any

from django.core.exceptions import ValidationError

from vaults.datasources.base import (
    BackupResult,
    Datasource,
    DatasourceError,
    RestoreResult,
    VerifyResult,
    clean_absolute_path,
    is_within,
)
from vaults.engine.restic import (
    CancelCheck,
    Node,
    ProgressCallback,
    ResticCancelled,
    ResticRepository,
    validate_snapshot_id,
)

CONFLICT_POLICIES = {"overwrite": "always", "skip": "never", "fail": "never"}
MAX_LISTED_PROBLEMS = 50
CHUNK = 1024 * 1024


def _sha256_of(stream: IO[bytes]) -> tuple[int, str]:
    digest = hashlib.sha256()
    size = 0
    while chunk := stream.read(CHUNK):
        digest.update(chunk)
        size += len(chunk)
    return size, digest.hexdigest()


def _dest(target: str, snapshot_path: str) -> str:
    return os.path.join(target, snapshot_path.lstrip("/")) if target != "/" else snapshot_path


class FilesDatasource(Datasource):
    """Back up and restore folders and files with restic."""

    kind = "files"
    secret_fields = ()

    def validate_connection(self, connection: Mapping[str, Any]) -> dict[str, Any]:
        """Require a non-empty list of absolute, existing ``paths``; ``excludes`` is an optional pattern list."""
        paths = connection.get("paths")
        if isinstance(paths, str):
            paths = [paths]
        if not isinstance(paths, list | tuple) or not paths:
            raise ValidationError({"paths": "Choose at least one folder or file."})
        errors: list[str] = []
        cleaned: list[str] = []
        for raw in paths:
            try:
                path = clean_absolute_path(raw, "paths")
            except ValidationError as exc:
                errors.extend(exc.message_dict["paths"])
                continue
            if not os.path.exists(path):
                errors.append(f"{path} does not exist on this host.")
            elif path not in cleaned:
                cleaned.append(path)
        excludes = connection.get("excludes") or []
        if isinstance(excludes, str):
            excludes = [line for line in excludes.splitlines() if line.strip()]
        field_errors: dict[str, Any] = {}
        if errors:
            field_errors["paths"] = errors
        if not isinstance(excludes, list | tuple) or not all(
            isinstance(p, str) and p.strip() and "\n" not in p for p in excludes
        ):
            field_errors["excludes"] = "Excludes are a list of non-empty patterns, one per line."
        if field_errors:
            raise ValidationError(field_errors)
        return {"paths": cleaned, "excludes": [p.strip() for p in excludes]}

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
        """Back up the connection's paths, or the selection's subset of them, with all excludes applied."""
        selection = selection or {}
        roots = [os.path.normpath(p) for p in connection["paths"]]
        paths = list(selection.get("paths") or roots)
        for path in paths:
            clean_absolute_path(path, "paths")
            if not any(is_within(os.path.normpath(path), root) for root in roots):
                raise ValidationError({"paths": f"{path} is not inside the datasource's folders."})
        excludes = [*connection.get("excludes", ()), *selection.get("excludes", ())]
        summary = repo.backup(
            [os.path.normpath(p) for p in paths], tags=tags, excludes=excludes, on_progress=on_progress, cancel=cancel
        )
        return BackupResult(
            snapshot_id=summary.snapshot_id,
            summary=summary,
            warnings=[str(w) for w in summary.warnings],
            details={"paths": paths, "excludes": excludes},
        )

    # -- restore -------------------------------------------------------------------------------------------------------

    def _clean_target(self, connection: Mapping[str, Any], target: Mapping[str, Any]) -> tuple[str, list[str], str]:
        location = target.get("location") or "original"
        if location not in ("original", "alternate"):
            raise ValidationError({"location": "Choose the original location or an alternate folder."})
        root = "/" if location == "original" else clean_absolute_path(target.get("path"), "path")
        conflict = target.get("conflict") or "fail"
        if conflict not in CONFLICT_POLICIES:
            raise ValidationError({"conflict": "Choose overwrite, skip existing or fail."})
        include = target.get("include") or []
        if isinstance(include, str):
            include = [include]
        cleaned = []
        for raw in include:
            path = clean_absolute_path(raw, "include")
            if path == "/":
                continue
            cleaned.append(path)
        return root, cleaned, conflict

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
        """Restore the recovery point (or chosen items) after checking conflicts and path escapes."""
        validate_snapshot_id(snapshot_id)
        root, include, conflict = self._clean_target(connection, target)
        nodes = repo.ls(snapshot_id)
        known = {node.path: node for node in nodes}
        missing = [path for path in include if path not in known]
        if missing:
            raise ValidationError({"include": [f"{path} is not in this recovery point." for path in missing]})
        selected = [n for n in nodes if not include or any(is_within(n.path, inc) for inc in include)]

        if root != "/":
            os.makedirs(root, exist_ok=True)
        real_root = os.path.realpath(root)
        if root != "/":
            self._refuse_escapes(real_root, selected)

        existing = [
            node.path for node in selected if node.type != "dir" and os.path.lexists(_dest(real_root, node.path))
        ]
        if existing and conflict == "fail":
            sample = ", ".join(existing[:5])
            raise DatasourceError(
                f"{len(existing)} item(s) already exist at the restore target ({sample}). Choose 'overwrite' or "
                "'skip existing', or restore to an empty folder.",
                code="restore_conflict",
            )
        summary = repo.restore(
            snapshot_id,
            real_root,
            include=include,
            overwrite=CONFLICT_POLICIES[conflict],  # type: ignore[arg-type]
            on_progress=on_progress,
            cancel=cancel,
        )
        return RestoreResult(
            snapshot_id=snapshot_id,
            location=real_root,
            files_restored=summary.files_restored,
            bytes_restored=summary.bytes_restored,
            warnings=[str(w) for w in summary.warnings],
            details={
                "target": real_root,
                "include": [{"path": p, "type": known[p].type} for p in include],
                "conflict": conflict,
                "skipped_existing": sorted(existing) if conflict == "skip" else [],
                "files_skipped": summary.files_skipped,
            },
        )

    @staticmethod
    def _refuse_escapes(real_root: str, nodes: Sequence[Node]) -> None:
        """Refuse when an existing directory or symlink inside the target would lead restic outside it."""
        checked: dict[str, bool] = {}
        for node in nodes:
            if ".." in node.path.split("/"):
                raise DatasourceError(f"The recovery point holds an unsafe path {node.path}.", code="path_escape")
            dest = _dest(real_root, node.path)
            parent = os.path.dirname(dest)
            ok = checked.get(parent)
            if ok is None:
                ok = checked[parent] = is_within(os.path.realpath(parent), real_root)
            if ok and node.type != "symlink" and os.path.islink(dest):
                ok = is_within(os.path.realpath(dest), real_root)
            if not ok:
                raise DatasourceError(
                    f"Restoring {node.path} would write outside {real_root} through an existing symbolic link. "
                    "Remove the link or choose an empty folder.",
                    code="path_escape",
                )

    # -- verify --------------------------------------------------------------------------------------------------------

    def verify(
        self,
        repo: ResticRepository,
        snapshot_id: str,
        connection: Mapping[str, Any],
        restored: RestoreResult,
        *,
        cancel: CancelCheck | None = None,
    ) -> VerifyResult:
        """Compare size, SHA-256, mode and link target of every restored item with the recovery point.

        The recovery point is streamed once as a tar from ``restic dump`` (a single file is dumped raw), so
        memory stays flat whatever the size of the tree. Files skipped because they already existed are
        not compared.
        """
        root = restored.details["target"]
        skipped = set(restored.details.get("skipped_existing") or ())
        items = restored.details.get("include") or [{"path": "/", "type": "dir"}]
        problems: list[str] = []
        checked = 0

        def problem(text: str) -> None:
            if len(problems) < MAX_LISTED_PROBLEMS:
                problems.append(text)

        total_problems = 0
        for item in items:
            if item["type"] != "dir":
                if item["path"] in skipped:
                    continue
                dest = _dest(root, item["path"])
                checked += 1
                if item["type"] == "file":
                    with repo.dump(snapshot_id, item["path"]) as stream:
                        expected = _sha256_of(stream)
                    if not os.path.isfile(dest) or os.path.islink(dest):
                        total_problems += 1
                        problem(f"{item['path']}: missing after restore")
                    else:
                        with open(dest, "rb") as handle:
                            actual = _sha256_of(handle)
                        if actual != expected:
                            total_problems += 1
                            problem(f"{item['path']}: content differs from the recovery point")
                elif not os.path.lexists(dest):
                    total_problems += 1
                    problem(f"{item['path']}: missing after restore")
                continue
            with repo.dump(snapshot_id, item["path"], archive="tar") as stream:
                with tarfile.open(fileobj=stream, mode="r|") as archive:
                    for member in archive:
                        if cancel is not None and checked % 256 == 0 and cancel():
                            raise ResticCancelled()
                        path = "/" + member.name.strip("/")
                        if path in skipped:
                            continue
                        checked += 1
                        found = self._compare(member, archive, _dest(root, path))
                        if found:
                            total_problems += 1
                            problem(f"{path}: {found}")
                while stream.read(CHUNK):  # tar padding after the end marker: let restic finish writing
                    pass
        return VerifyResult(
            ok=total_problems == 0,
            checked=checked,
            problems=problems,
            details={"problems_total": total_problems},
        )

    @staticmethod
    def _compare(member: tarfile.TarInfo, archive: tarfile.TarFile, dest: str) -> str | None:
        try:
            st = os.lstat(dest)
        except FileNotFoundError:
            return "missing after restore"
        if member.issym():
            if not stat.S_ISLNK(st.st_mode):
                return "not a symbolic link"
            return None if os.readlink(dest) == member.linkname else "symbolic link target differs"
        if member.isdir():
            return None if stat.S_ISDIR(st.st_mode) else "not a folder"
        if member.isfile():
            if not stat.S_ISREG(st.st_mode):
                return "not a regular file"
            if st.st_size != member.size:
                return f"size {st.st_size} differs from {member.size}"
            if stat.S_IMODE(st.st_mode) != member.mode & 0o7777:
                return f"mode {oct(stat.S_IMODE(st.st_mode))} differs from {oct(member.mode & 0o7777)}"
            source = archive.extractfile(member)
            assert source is not None
            _, expected = _sha256_of(source)
            with open(dest, "rb") as handle:
                _, actual = _sha256_of(handle)
            return None if actual == expected else "content differs from the recovery point"
        return None


DATASOURCE = FilesDatasource()
