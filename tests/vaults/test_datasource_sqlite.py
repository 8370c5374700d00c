"""Integration tests of the SQLite datasource."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError

from tests.vaults.test_engine import copy_repository
from vaults.datasources import DatasourceError, get_module
from vaults.datasources.sqlite import staged_path
from vaults.engine.restic import ResticRepository

pytestmark = pytest.mark.integration


@pytest.fixture
def repo(tmp_path: Path, tmp_path_factory: pytest.TempPathFactory) -> ResticRepository:
    return copy_repository(tmp_path, tmp_path_factory)


sqlite_ds = get_module("sqlite")


@pytest.fixture
def staging(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("BACKUPCENTER_STAGING_DIR", str(tmp_path / "staging"))
    monkeypatch.setenv("BACKUPCENTER_LOCK_DIR", str(tmp_path / "locks"))
    return tmp_path / "staging"


def _make_db(path: Path) -> None:
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT)")
    conn.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)")
    conn.executemany("INSERT INTO items (name) VALUES (?)", [(f"item {i} ✓",) for i in range(2000)])
    conn.commit()
    conn.close()


def _rows(path: Path) -> list[tuple]:
    conn = sqlite3.connect(path)
    try:
        return conn.execute("SELECT id, name FROM items ORDER BY id").fetchall()
    finally:
        conn.close()


def test_validate_connection_opens_the_file_read_only(tmp_path: Path) -> None:
    db = tmp_path / "app.sqlite3"
    _make_db(db)
    assert sqlite_ds.validate_connection({"path": str(db)}) == {"path": str(db)}
    not_sqlite = tmp_path / "text.txt"
    not_sqlite.write_text("hello, this is not a database" * 10)
    for bad in (str(not_sqlite), str(tmp_path / "missing.db"), "relative.db"):
        with pytest.raises(ValidationError):
            sqlite_ds.validate_connection({"path": bad})


def test_sqlite_round_trip_with_stable_snapshot_paths(tmp_path: Path, repo: ResticRepository, staging: Path) -> None:
    """GIVEN a live WAL-mode database backed up twice WHEN restored to a new path
    THEN the rows match, the integrity check passes and both snapshots share one path."""
    db = tmp_path / "app.sqlite3"
    _make_db(db)
    connection = sqlite_ds.validate_connection({"path": str(db)})
    holder = sqlite3.connect(db)  # an open connection with uncheckpointed WAL content
    holder.execute("INSERT INTO items (name) VALUES ('only in the wal')")
    holder.commit()
    first = sqlite_ds.backup(repo, connection, None, tags=["instance:3"])
    second = sqlite_ds.backup(repo, connection, None, tags=["instance:3"])
    holder.close()
    snapshots = repo.snapshots()
    assert [s.paths for s in snapshots] == [(str(staged_path(str(db))),)] * 2
    assert second.summary.data_added < first.summary.data_added

    target = tmp_path / "restored" / "copy.sqlite3"
    result = sqlite_ds.restore(repo, second.snapshot_id, connection, {"path": str(target)})
    assert _rows(target) == _rows(db)
    verification = sqlite_ds.verify(repo, second.snapshot_id, connection, result)
    assert verification.ok and verification.checked == 2

    with pytest.raises(DatasourceError) as caught:
        sqlite_ds.restore(repo, second.snapshot_id, connection, {})
    assert caught.value.code == "restore_conflict"
    conn = sqlite3.connect(db)
    conn.execute("DELETE FROM items")
    conn.commit()
    conn.close()
    sqlite_ds.restore(repo, second.snapshot_id, connection, {"overwrite": True})
    assert len(_rows(db)) == 2001
