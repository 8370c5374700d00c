"""Secrets at rest: seal/unseal round trip, a keyring file of mode 0600, and clear errors for disabled, missing or
mismatched keys."""

import json
import stat

import pytest
from django.conf import settings

from core import secrets
from core.secrets import KeyUnavailable, seal, unseal


@pytest.fixture
def keyring(tmp_path):
    """A fresh keyring file for one test."""
    path = tmp_path / "keyring.json"
    old = settings.BACKUPCENTER_KEYRING
    settings.BACKUPCENTER_KEYRING = path
    yield path
    settings.BACKUPCENTER_KEYRING = old


def test_a_sealed_value_round_trips_and_hides_its_plaintext(keyring):
    token = seal("s3cret-pg-password")
    assert token.startswith("bc1$platform$") and "s3cret" not in token
    assert unseal(token) == "s3cret-pg-password"
    assert seal("same") != seal("same"), "every seal uses a fresh nonce"


def test_the_keyring_is_created_on_first_use_with_mode_0600(keyring):
    assert not keyring.exists()
    seal("x")
    assert stat.S_IMODE(keyring.stat().st_mode) == 0o600
    assert list(json.loads(keyring.read_text())["keys"]) == ["platform"]


def test_a_value_sealed_under_a_named_key_names_it(keyring):
    secrets.create_key("tenant-contoso")
    token = seal("hello", "tenant-contoso")
    assert secrets.sealed_key_id(token) == "tenant-contoso"
    assert unseal(token) == "hello"


def test_a_disabled_key_refuses_to_seal_or_unseal_and_says_how_to_fix_it(keyring):
    secrets.create_key("cmk")
    token = seal("hello", "cmk")
    secrets.set_key_enabled("cmk", False)
    with pytest.raises(KeyUnavailable, match="disabled") as raised:
        unseal(token)
    assert raised.value.code == "key_disabled"
    with pytest.raises(KeyUnavailable):
        seal("more", "cmk")
    secrets.set_key_enabled("cmk", True)
    assert unseal(token) == "hello"


def test_a_missing_key_is_a_clear_error_naming_the_keyring(keyring):
    with pytest.raises(KeyUnavailable, match="missing from the keyring") as raised:
        seal("hello", "never-created")
    assert raised.value.code == "key_missing"
    with pytest.raises(KeyUnavailable) as raised:
        secrets.set_key_enabled("never-created", False)
    assert raised.value.code == "key_missing"


def test_a_replaced_keyring_cannot_open_old_secrets(keyring):
    token = seal("hello")
    keyring.unlink()
    with pytest.raises(KeyUnavailable) as raised:
        unseal(token)  # a new platform key is created, and it does not match
    assert raised.value.code == "key_mismatch"


@pytest.mark.parametrize("token", ["garbage", "bc2$platform$AAAA"])
def test_a_malformed_secret_is_reported_as_such(keyring, token):
    with pytest.raises(KeyUnavailable) as raised:
        unseal(token)
    assert raised.value.code == "secret_malformed"
