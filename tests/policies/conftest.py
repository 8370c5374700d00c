"""Fixtures of the policy, dispatcher and retention tests: a vault in rg-prod (alice's scope) over a real restic
repository, policies built through the services, and instances protecting real folders."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import pytest

HOURLY = {"frequency": "hourly", "interval_hours": 4, "window_start": "00:00", "window_hours": 24, "timezone": "UTC"}
DAILY = {"frequency": "daily", "times": ["02:00"], "timezone": "UTC"}
KEEP_30_DAYS = {"daily_count": 30}


@pytest.fixture
def alice(estate):
    return estate.users["alice"]


def _vault(estate, alice):
    from vaults.services import vault_create

    return vault_create(
        actor=alice, resource_group=estate.rg_prod, location=estate.west, name=f"vault-{uuid.uuid4().hex[:8]}"
    )


@pytest.fixture
def vault(estate, alice, monkeypatch):
    """A vault made by the service, without running `restic init` (these tests never touch its repository)."""
    from vaults.engine import ResticRepository

    with monkeypatch.context() as patch:
        patch.setattr(ResticRepository, "init", lambda self: "")
        return _vault(estate, alice)


@pytest.fixture
def real_vault(estate, alice):
    """A vault over a freshly initialised restic repository."""
    return _vault(estate, alice)


@pytest.fixture
def make_policy(alice, vault) -> Callable:
    """`make_policy(schedule=..., retention=..., kind="files", name=None, vault=None)` through policy_create."""
    from policies.services import policy_create

    def make(schedule=None, retention=None, *, kind="files", name=None, vault_=None, tiering=None):
        return policy_create(
            actor=alice,
            vault=vault_ or vault,
            name=name or f"policy-{uuid.uuid4().hex[:6]}",
            datasource_kind=kind,
            schedule=schedule or DAILY,
            retention=retention or KEEP_30_DAYS,
            tiering=tiering,
        )

    return make


@pytest.fixture
def protect(estate, alice, vault) -> Callable:
    """`protect(policy, host="local", vault_=None)` → a BackupInstance of a new files datasource over a real folder."""
    from inventory.services import datasource_create
    from tests.factories import real_folder
    from vaults.services import instance_create

    def make(policy, *, host: str = "local", vault_=None):
        datasource = datasource_create(
            actor=alice,
            resource_group=estate.rg_prod,
            location=estate.west,
            kind="files",
            name=f"files-{uuid.uuid4().hex[:8]}",
            connection={"paths": [real_folder()]},
            host=host,
        )
        return instance_create(actor=alice, datasource=datasource, vault=vault_ or policy.vault, policy=policy)

    return make


@pytest.fixture
def no_enqueue(monkeypatch):
    """Record the tasks the dispatcher would publish instead of running them (Celery is eager in tests)."""
    published: list[tuple[int, str, str]] = []
    monkeypatch.setattr("policies.dispatcher._enqueue", lambda rows: published.extend(rows))
    return published
