"""Settings from the environment: each reader names the variable it refuses, and the secret key is made once."""

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from backupcenter.env import ConfigError, env_bool, env_int, env_list, env_str, env_url, secret_key

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("raw", ["maybe", "2", "ja"])
def test_a_bad_boolean_names_the_variable(monkeypatch, raw):
    monkeypatch.setenv("BC_FLAG", raw)
    with pytest.raises(ConfigError, match=f"BC_FLAG must be true or false, not '{raw}'"):
        env_bool("BC_FLAG", False)


@pytest.mark.parametrize(("raw", "value"), [("1", True), ("YES", True), (" on ", True), ("off", False), ("", True)])
def test_booleans_accept_the_usual_words_and_empty_means_default(monkeypatch, raw, value):
    monkeypatch.setenv("BC_FLAG", raw)
    assert env_bool("BC_FLAG", True) is value


def test_a_non_integer_names_the_variable(monkeypatch):
    monkeypatch.setenv("BC_PORT", "25a")
    with pytest.raises(ConfigError, match="BC_PORT must be a whole number, not '25a'"):
        env_int("BC_PORT", 25)


@pytest.mark.parametrize("raw", ["0", "70000"])
def test_an_integer_out_of_range_names_the_variable_and_the_range(monkeypatch, raw):
    monkeypatch.setenv("BC_PORT", raw)
    with pytest.raises(ConfigError, match=f"BC_PORT must be between 1 and 65535, not {raw}"):
        env_int("BC_PORT", 25, minimum=1, maximum=65535)


def test_integers_lists_and_strings_read_their_values_or_defaults(monkeypatch):
    monkeypatch.setenv("BC_N", "42")
    monkeypatch.setenv("BC_HOSTS", " a.example , ,b.example ")
    monkeypatch.delenv("BC_MISSING", raising=False)
    assert env_int("BC_N", 1) == 42
    assert env_list("BC_HOSTS", []) == ["a.example", "b.example"]
    assert env_list("BC_MISSING", ["x"]) == ["x"]
    assert env_str("BC_MISSING", "d") == "d"


@pytest.mark.parametrize("raw", ["mysql://u@h/db", "localhost:5432/db"])
def test_a_database_url_with_a_bad_scheme_names_the_variable(monkeypatch, raw):
    monkeypatch.setenv("DATABASE_URL", raw)
    with pytest.raises(ConfigError, match="DATABASE_URL must be a URL with one of the schemes postgres"):
        env_url("DATABASE_URL", "sqlite:///x", schemes={"sqlite", "postgres"})


def test_a_short_secret_key_from_the_environment_is_refused(monkeypatch, tmp_path):
    monkeypatch.setenv("BC_SECRET", "too-short")
    with pytest.raises(ConfigError, match="BC_SECRET must be at least 32 characters"):
        secret_key("BC_SECRET", tmp_path)


def test_the_secret_key_is_generated_once_into_the_var_dir_with_mode_0600_and_reused(monkeypatch, tmp_path):
    """GIVEN no DJANGO_SECRET_KEY and an empty var dir
    WHEN the key is read twice
    THEN the first read writes var/secret_key (0600) and the second returns the same key."""
    monkeypatch.delenv("BC_SECRET", raising=False)
    var = tmp_path / "var"
    first = secret_key("BC_SECRET", var)
    path = var / "secret_key"
    assert len(first) >= 50 and path.read_text() == first
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert secret_key("BC_SECRET", var) == first
    monkeypatch.setenv("BC_SECRET", "k" * 40)
    assert secret_key("BC_SECRET", var) == "k" * 40


def _load_settings(tmp_path, **env) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "DJANGO_SECRET_KEY")}
    environment.update(BACKUPCENTER_VAR_DIR=str(tmp_path / "var"), **env)
    return subprocess.run(
        [sys.executable, "-c", "import backupcenter.settings as s; print(s.DATABASES['default']['ENGINE'])"],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_settings_stop_start_up_with_a_message_naming_the_bad_variable(tmp_path):
    result = _load_settings(tmp_path, DATABASE_URL="mysql://root@db/backup")
    assert result.returncode != 0
    assert "ConfigError: DATABASE_URL must be a URL with one of the schemes" in result.stderr
    result = _load_settings(tmp_path, EMAIL_PORT="twenty-five")
    assert "ConfigError: EMAIL_PORT must be a whole number" in result.stderr


def test_settings_use_sqlite_in_the_var_dir_by_default_and_postgres_when_given(tmp_path):
    default = _load_settings(tmp_path)
    assert default.returncode == 0, default.stderr
    assert default.stdout.strip() == "django.db.backends.sqlite3"
    assert (tmp_path / "var" / "secret_key").exists()
    pg = _load_settings(tmp_path, DATABASE_URL="postgres://postgres@127.0.0.1:5432/test")
    assert pg.stdout.strip() == "django.db.backends.postgresql"
