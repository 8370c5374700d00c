"""Integration tests of the files datasource: restore targets, conflicts, escapes and verification."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError

from tests.vaults.test_engine import copy_repository, make_tree, tree_manifest
from vaults.datasources import DatasourceError, discover_host_paths, get_module
from vaults.engine.restic import ResticRepository

pytestmark = pytest.mark.integration


@pytest.fixture
def repo(tmp_path: Path, tmp_path_factory: pytest.TempPathFactory) -> ResticRepository:
    return copy_repository(tmp_path, tmp_path_factory)


files = get_module("files")


@pytest.fixture
def backed_up(tmp_path: Path, repo: ResticRepository) -> tuple[Path, str, dict]:
    src = tmp_path / "src"
    src.mkdir()
    make_tree(src, big=False)
    connection = files.validate_connection({"paths": [str(src)], "excludes": ["*.tmp"]})
    (src / "scratch.tmp").write_text("excluded")
    result = files.backup(repo, connection, None, tags=["instance:7"])
    return src, result.snapshot_id, connection


def test_validate_connection_requires_absolute_existing_paths(tmp_path: Path) -> None:
    with pytest.raises(ValidationError) as caught:
        files.validate_connection({"paths": ["relative/path", str(tmp_path / "missing"), "/a/../b"]})
    assert len(caught.value.message_dict["paths"]) == 3
    with pytest.raises(ValidationError):
        files.validate_connection({"paths": []})
    cleaned = files.validate_connection({"paths": [str(tmp_path) + "/"], "excludes": "*.log\n\n*.tmp"})
    assert cleaned == {"paths": [str(tmp_path)], "excludes": ["*.log", "*.tmp"]}
    assert files.secret_fields == ()


def test_discover_host_paths_lists_subfolders_and_rejects_missing_roots(tmp_path: Path) -> None:
    (tmp_path / "b").mkdir()
    (tmp_path / "a").mkdir()
    (tmp_path / "file").write_text("x")
    assert discover_host_paths([str(tmp_path)]) == [
        {"name": "a", "path": str(tmp_path / "a")},
        {"name": "b", "path": str(tmp_path / "b")},
    ]
    with pytest.raises(ValidationError):
        discover_host_paths([str(tmp_path / "nope")])


def test_restore_to_an_alternate_folder_is_verified_byte_for_byte(
    tmp_path: Path, repo: ResticRepository, backed_up: tuple[Path, str, dict]
) -> None:
    src, snapshot_id, connection = backed_up
    target = tmp_path / "alt"
    result = files.restore(repo, snapshot_id, connection, {"location": "alternate", "path": str(target)})
    restored_root = target / str(src).lstrip("/")
    expected = tree_manifest(src)
    del expected["scratch.tmp"]
    assert tree_manifest(restored_root) == expected
    verification = files.verify(repo, snapshot_id, connection, result)
    assert verification.ok, verification.problems
    assert verification.checked >= len(expected)

    (restored_root / "docs" / "readme.md").write_text("tampered")
    tampered = files.verify(repo, snapshot_id, connection, result)
    assert not tampered.ok and any("readme.md" in p for p in tampered.problems)


def test_item_level_restore_brings_back_only_the_chosen_paths(
    tmp_path: Path, repo: ResticRepository, backed_up: tuple[Path, str, dict]
) -> None:
    src, snapshot_id, connection = backed_up
    target = tmp_path / "items"
    chosen = [f"{src}/docs/deep", f"{src}/docs/readme.md"]
    result = files.restore(
        repo, snapshot_id, connection, {"location": "alternate", "path": str(target), "include": chosen}
    )
    root = target / str(src).lstrip("/")
    assert (root / "docs" / "deep" / "deeper" / "data.bin").read_bytes() == (
        src / "docs" / "deep" / "deeper" / "data.bin"
    ).read_bytes()
    assert (root / "docs" / "readme.md").exists()
    assert not (root / "docs" / "run.sh").exists()
    assert not (root / "empty-folder").exists()
    assert files.verify(repo, snapshot_id, connection, result).ok
    with pytest.raises(ValidationError):
        files.restore(
            repo, snapshot_id, connection, {"location": "alternate", "path": str(target), "include": ["/etc"]}
        )


def test_original_location_restore_with_conflict_policies(
    repo: ResticRepository, backed_up: tuple[Path, str, dict]
) -> None:
    """GIVEN files changed after the backup WHEN restoring to the original location
    THEN fail refuses before restic runs, skip keeps existing files and overwrite brings the backup back."""
    src, snapshot_id, connection = backed_up
    readme = src / "docs" / "readme.md"
    original = readme.read_bytes()
    readme.write_text("edited after the backup")
    (src / "unicode-Ünïcødé 文件" / "résumé ✓.txt").unlink()

    with pytest.raises(DatasourceError) as caught:
        files.restore(repo, snapshot_id, connection, {"location": "original"})
    assert caught.value.code == "restore_conflict"
    assert readme.read_text() == "edited after the backup"

    skipped = files.restore(repo, snapshot_id, connection, {"location": "original", "conflict": "skip"})
    assert readme.read_text() == "edited after the backup"
    assert (src / "unicode-Ünïcødé 文件" / "résumé ✓.txt").read_text(encoding="utf-8") == "naïve café\n"
    assert files.verify(repo, snapshot_id, connection, skipped).ok

    overwritten = files.restore(repo, snapshot_id, connection, {"location": "original", "conflict": "overwrite"})
    assert readme.read_bytes() == original
    assert files.verify(repo, snapshot_id, connection, overwritten).ok


def test_restores_never_escape_the_target_folder(
    tmp_path: Path, repo: ResticRepository, backed_up: tuple[Path, str, dict]
) -> None:
    src, snapshot_id, connection = backed_up
    for bad in ("relative/target", f"{tmp_path}/alt/../../etc", ""):
        with pytest.raises(ValidationError):
            files.restore(repo, snapshot_id, connection, {"location": "alternate", "path": bad})
    with pytest.raises(ValidationError):
        files.restore(
            repo,
            snapshot_id,
            connection,
            {"location": "alternate", "path": str(tmp_path / "alt"), "include": [f"{src}/../etc/passwd"]},
        )

    # an existing symlink inside the target pointing elsewhere would make restic write outside it
    target = tmp_path / "trap"
    outside = tmp_path / "outside"
    outside.mkdir()
    first_component = str(src).lstrip("/").split("/")[0]
    target.mkdir()
    os.symlink(outside, target / first_component)
    with pytest.raises(DatasourceError) as caught:
        files.restore(repo, snapshot_id, connection, {"location": "alternate", "path": str(target)})
    assert caught.value.code == "path_escape"
    assert list(outside.iterdir()) == []


def test_a_selection_outside_the_datasource_is_refused(
    tmp_path: Path, repo: ResticRepository, backed_up: tuple[Path, str, dict]
) -> None:
    _, _, connection = backed_up
    with pytest.raises(ValidationError):
        files.backup(repo, connection, {"paths": [str(tmp_path)]}, tags=["t"])
