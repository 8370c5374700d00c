"""Integration tests of the PostgreSQL datasource against the local server (trust auth)."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from django.core.exceptions import ValidationError
from psycopg import sql

from tests.vaults.test_engine import copy_repository
from vaults.datasources import DatasourceError, discover_postgresql_databases, get_module
from vaults.engine.restic import ResticRepository

pytestmark = pytest.mark.integration

pg = get_module("postgresql")
SERVER = {"host": "127.0.0.1", "port": 5432, "user": "postgres", "password": "", "sslmode": "disable"}


def _admin() -> psycopg.Connection:
    return psycopg.connect(**{**SERVER, "password": None}, dbname="test", autocommit=True, connect_timeout=3)


@pytest.fixture
def repo(tmp_path: Path, tmp_path_factory: pytest.TempPathFactory) -> ResticRepository:
    return copy_repository(tmp_path, tmp_path_factory)


@pytest.fixture
def databases() -> Iterator[list[str]]:
    """Names created by a test (bc_test_*), dropped afterwards."""
    try:
        _admin().close()
    except psycopg.OperationalError:
        pytest.skip("PostgreSQL is not running on 127.0.0.1:5432")
    names: list[str] = []
    yield names
    with _admin() as conn:
        for name in names:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def _fingerprint(dbname: str) -> dict[str, tuple[int, str]]:
    """Row count and md5 of the ordered rows of every table."""
    result = {}
    with psycopg.connect(**{**SERVER, "password": None}, dbname=dbname) as conn:
        tables = conn.execute(
            "SELECT schemaname, tablename FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema')"
        ).fetchall()
        for schema, table in tables:
            ident = sql.Identifier(schema, table)
            count, digest = conn.execute(
                sql.SQL(
                    "SELECT count(*), md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), '')) FROM {} t"
                ).format(ident)
            ).fetchone()
            result[f"{schema}.{table}"] = (count, digest)
    return result


def _make_source(name: str) -> None:
    with _admin() as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    with psycopg.connect(**{**SERVER, "password": None}, dbname=name, autocommit=True) as conn:
        conn.execute("CREATE TABLE customers (id serial PRIMARY KEY, name text NOT NULL, joined date)")
        conn.execute("CREATE TABLE orders (id bigserial PRIMARY KEY, customer int REFERENCES customers, total numeric)")
        conn.execute("CREATE SCHEMA audit")
        conn.execute("CREATE TABLE audit.events (id int, payload jsonb, at timestamptz DEFAULT now())")
        conn.execute("CREATE TABLE empty_table (x int)")
        conn.execute(
            "INSERT INTO customers (name, joined) SELECT 'customer ' || g || ' ✓', date '2020-01-01' + g "
            "FROM generate_series(1, 500) g"
        )
        conn.execute(
            "INSERT INTO orders (customer, total) SELECT 1 + g % 500, g * 1.25 FROM generate_series(1, 5000) g"
        )
        conn.execute(
            "INSERT INTO audit.events (id, payload) SELECT g, jsonb_build_object('n', g) FROM generate_series(1, 300) g"
        )


def test_validate_connection_checks_fields_and_marks_the_password_secret() -> None:
    cleaned = pg.validate_connection({**SERVER, "dbname": "app", "port": "5433", "password": "s3cret"})
    assert cleaned["port"] == 5433 and cleaned["password"] == "s3cret"
    assert pg.secret_fields == ("password",)
    assert "password" not in pg.redact(cleaned)
    with pytest.raises(ValidationError) as caught:
        pg.validate_connection({"host": "", "port": 70000, "dbname": "host=evil", "user": "", "sslmode": "nope"})
    assert set(caught.value.message_dict) == {"host", "port", "dbname", "user", "sslmode"}


def test_discovery_lists_databases_without_templates(databases: list[str]) -> None:
    found = discover_postgresql_databases(SERVER)
    assert "test" in found and "template0" not in found and "template1" not in found
    secret = "never-shown-" + secrets.token_hex(4)
    with pytest.raises(ValidationError) as caught:
        discover_postgresql_databases({**SERVER, "port": 1, "password": secret})
    message = " ".join(caught.value.messages)
    assert "127.0.0.1:1" in message and secret not in message


def test_postgresql_round_trip_into_a_new_database(repo: ResticRepository, databases: list[str]) -> None:
    """GIVEN a database with several tables WHEN it is backed up and restored into a new database
    THEN every table has the same rows (count and md5 of the ordered rows) and verification passes."""
    source = f"bc_test_src_{secrets.token_hex(3)}"
    restored_name = f"bc_test_restored_{secrets.token_hex(3)}"
    databases += [source, restored_name]
    _make_source(source)
    connection = pg.validate_connection({**SERVER, "dbname": source})

    backup = pg.backup(repo, connection, None, tags=["instance:5"])
    argv = " ".join(repo.last_command)
    assert "pg_dump -Fc --no-password -d " + source in argv and "PGPASS" not in argv
    (snapshot,) = repo.snapshots()
    assert snapshot.id == backup.snapshot_id and snapshot.paths == (f"/{source}.dump",)

    result = pg.restore(repo, backup.snapshot_id, connection, {"mode": "new_database", "dbname": restored_name})
    assert result.location == restored_name
    assert _fingerprint(restored_name) == _fingerprint(source)
    assert len(_fingerprint(source)) == 4
    verification = pg.verify(repo, backup.snapshot_id, connection, result)
    assert verification.ok, verification.problems
    assert verification.details["tables_found"] == 4

    with pytest.raises(ValidationError):
        pg.restore(repo, backup.snapshot_id, connection, {"mode": "new_database", "dbname": restored_name})


def test_restore_over_the_original_needs_confirmation(repo: ResticRepository, databases: list[str]) -> None:
    source = f"bc_test_src_{secrets.token_hex(3)}"
    databases.append(source)
    _make_source(source)
    connection = pg.validate_connection({**SERVER, "dbname": source})
    backup = pg.backup(repo, connection, None, tags=["t"])
    before = _fingerprint(source)
    with psycopg.connect(**{**SERVER, "password": None}, dbname=source, autocommit=True) as conn:
        conn.execute("DELETE FROM orders WHERE id > 100")
        conn.execute("CREATE TABLE added_later (x int)")
    with pytest.raises(ValidationError):
        pg.restore(repo, backup.snapshot_id, connection, {"mode": "original"})
    result = pg.restore(repo, backup.snapshot_id, connection, {"mode": "original", "confirm_overwrite": True})
    after = _fingerprint(source)
    del after["public.added_later"]  # --clean drops only what the dump contains
    assert after == before
    assert pg.verify(repo, backup.snapshot_id, connection, result).details["tables_expected"] == 4


def test_restore_as_files_writes_the_dump_into_a_folder(
    tmp_path: Path, repo: ResticRepository, databases: list[str]
) -> None:
    source = f"bc_test_src_{secrets.token_hex(3)}"
    databases.append(source)
    _make_source(source)
    connection = pg.validate_connection({**SERVER, "dbname": source})
    backup = pg.backup(repo, connection, None, tags=["t"])
    result = pg.restore(repo, backup.snapshot_id, connection, {"mode": "files", "path": str(tmp_path / "out")})
    assert Path(result.location) == tmp_path / "out" / f"{source}.dump"
    assert Path(result.location).read_bytes()[:5] == b"PGDMP"
    verification = pg.verify(repo, backup.snapshot_id, connection, result)
    assert verification.ok and verification.details["tables_in_archive"] == 4
    with pytest.raises(DatasourceError):
        pg.restore(repo, backup.snapshot_id, connection, {"mode": "files", "path": str(tmp_path / "out")})


def test_pg_dump_of_a_missing_database_fails_and_leaves_no_snapshot(
    repo: ResticRepository, databases: list[str]
) -> None:
    secret = "pw-" + secrets.token_hex(6)
    connection = pg.validate_connection({**SERVER, "dbname": "bc_test_does_not_exist", "password": secret})
    with pytest.raises(DatasourceError) as caught:
        pg.backup(repo, connection, None, tags=["job:1"])
    assert caught.value.code == "dump_failed"
    assert "bc_test_does_not_exist" in caught.value.message and "does not exist" in caught.value.message
    assert secret not in caught.value.message and secret not in " ".join(repo.last_command)
    assert repo.snapshots() == []
