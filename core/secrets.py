"""Secrets at rest: values sealed with AES-256-GCM under a key from the keyring file.

The keyring lives outside the database (settings.BACKUPCENTER_KEYRING, mode 0600) so a copy of the
database alone reveals no connection password or repository password. Keys have ids; a sealed value
names the key that sealed it, so keys can be added, rotated and disabled.
"""

import base64
import json
import os
import secrets as pysecrets
import threading
from datetime import UTC, datetime
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings

PLATFORM_KEY_ID = "platform"
_lock = threading.Lock()


class KeyUnavailable(Exception):
    """The key that sealed a value is missing or disabled; the message says which and what to do."""

    def __init__(self, message: str, *, code: str = "key_unavailable") -> None:
        super().__init__(message)
        self.message = message
        self.code = code


def _path() -> Path:
    return Path(settings.BACKUPCENTER_KEYRING)


def _read() -> dict:
    path = _path()
    if not path.exists():
        return {"keys": {}}
    return json.loads(path.read_text())


def _write(data: dict) -> None:
    path = _path()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(data, handle, indent=1)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


def create_key(key_id: str) -> None:
    """Add a new random 256-bit key under `key_id` (no-op when it exists)."""
    with _lock:
        data = _read()
        if key_id not in data["keys"]:
            data["keys"][key_id] = {
                "material": base64.b64encode(AESGCM.generate_key(bit_length=256)).decode(),
                "created": datetime.now(UTC).isoformat(),
                "enabled": True,
            }
            _write(data)


def set_key_enabled(key_id: str, enabled: bool) -> None:
    with _lock:
        data = _read()
        if key_id not in data["keys"]:
            raise KeyUnavailable(f"Key {key_id!r} is not in the keyring.", code="key_missing")
        data["keys"][key_id]["enabled"] = enabled
        _write(data)


def key_exists(key_id: str) -> bool:
    return key_id in _read()["keys"]


def _material(key_id: str) -> bytes:
    entry = _read()["keys"].get(key_id)
    if entry is None:
        if key_id == PLATFORM_KEY_ID:
            create_key(PLATFORM_KEY_ID)
            entry = _read()["keys"][PLATFORM_KEY_ID]
        else:
            raise KeyUnavailable(
                f"Key {key_id!r} is missing from the keyring at {_path()}. Restore the keyring file from its backup.",
                code="key_missing",
            )
    if not entry.get("enabled", True):
        raise KeyUnavailable(
            f"Key {key_id!r} is disabled. Enable it on the Keys page (or choose another key) and retry.",
            code="key_disabled",
        )
    return base64.b64decode(entry["material"])


def seal(plaintext: str, key_id: str = PLATFORM_KEY_ID) -> str:
    """Encrypt `plaintext` under `key_id`; the result is safe to store in the database."""
    nonce = pysecrets.token_bytes(12)
    ciphertext = AESGCM(_material(key_id)).encrypt(nonce, plaintext.encode(), key_id.encode())
    return f"bc1${key_id}${base64.b64encode(nonce + ciphertext).decode()}"


def unseal(token: str) -> str:
    """Decrypt a value made by `seal`; raises KeyUnavailable when its key is missing or disabled."""
    try:
        version, key_id, payload = token.split("$", 2)
    except ValueError:
        raise KeyUnavailable("A stored secret is malformed.", code="secret_malformed") from None
    if version != "bc1":
        raise KeyUnavailable("A stored secret has an unknown format.", code="secret_malformed")
    raw = base64.b64decode(payload)
    try:
        return AESGCM(_material(key_id)).decrypt(raw[:12], raw[12:], key_id.encode()).decode()
    except InvalidTag:
        raise KeyUnavailable(
            f"Key {key_id!r} does not open this secret: the keyring does not match the database.",
            code="key_mismatch",
        ) from None


def sealed_key_id(token: str) -> str:
    return token.split("$", 2)[1]
