"""Finding the restic executable and checking that it is new enough."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from functools import lru_cache
from pathlib import Path

from vaults.engine.restic.errors import ResticError

PROJECT_ROOT = Path(__file__).resolve().parents[3]
MIN_VERSION = (0, 17, 0)


def restic_binary() -> str:
    """Path of the restic executable: env ``RESTIC_BINARY``, else ``<project>/.tools/bin/restic``, else PATH."""
    configured = os.environ.get("RESTIC_BINARY")
    if configured:
        return configured
    bundled = PROJECT_ROOT / ".tools" / "bin" / "restic"
    if bundled.is_file() and os.access(bundled, os.X_OK):
        return str(bundled)
    return shutil.which("restic") or "restic"


@lru_cache(maxsize=8)
def _version_of(binary: str) -> tuple[int, int, int]:
    try:
        completed = subprocess.run(
            [binary, "version"], check=False, capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL
        )
    except FileNotFoundError as exc:
        raise ResticError(
            "restic_not_found",
            f"restic was not found at {binary!r}. Install restic 0.17 or newer (the setup script puts it in "
            ".tools/bin) or set RESTIC_BINARY.",
        ) from exc
    match = re.search(r"restic (\d+)\.(\d+)\.(\d+)", completed.stdout)
    if completed.returncode != 0 or not match:
        raise ResticError(
            "restic_not_found",
            f"Could not determine the restic version from {binary!r}; is it a restic executable?",
            exit_code=completed.returncode,
        )
    return int(match[1]), int(match[2]), int(match[3])


def check_version(binary: str | None = None) -> tuple[int, int, int]:
    """Return restic's version; raise ``restic_too_old`` for anything older than 0.17 (result cached)."""
    binary = binary or restic_binary()
    version = _version_of(binary)
    if version < MIN_VERSION:
        found = ".".join(map(str, version))
        raise ResticError(
            "restic_too_old",
            f"restic {found} at {binary} is too old: Backup Center needs restic 0.17 or newer (0.18 is pinned). "
            "Run the project setup script to install it into .tools/bin or set RESTIC_BINARY.",
        )
    return version
