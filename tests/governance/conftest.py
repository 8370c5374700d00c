"""Fixtures of the governance tests: crafted estates built fast through the models (vaults without repositories),
assignments made through the service, and a reader of one assignment's results."""

from __future__ import annotations

import itertools
from collections.abc import Callable

import pytest

_names = itertools.count()
DAILY = {"frequency": "daily", "times": ["02:00"], "timezone": "UTC"}


@pytest.fixture
def admin(estate):
    return estate.users["admin"]


@pytest.fixture
def make_vault(estate) -> Callable:
    from vaults.models import Vault

    def make(rg=None, location=None, **fields):
        return Vault.objects.create(
            resource_group=rg or estate.rg_prod,
            location=location or estate.west,
            name=fields.pop("name", f"vault-{next(_names)}"),
            **fields,
        )

    return make


@pytest.fixture
def make_policy() -> Callable:
    from policies.models import BackupPolicy

    def make(vault, kind="files", schedule=None, retention=None, name=None):
        return BackupPolicy.objects.create(
            vault=vault,
            name=name or f"policy-{next(_names)}",
            datasource_kind=kind,
            schedule=schedule or DAILY,
            retention=retention or {"daily_count": 30, "timezone": "UTC"},
        )

    return make


@pytest.fixture
def make_datasource(estate) -> Callable:
    from inventory.models import Datasource

    def make(rg=None, location=None, kind="files", tags=None, exists=True, name=None):
        return Datasource.objects.create(
            resource_group=rg or estate.rg_prod,
            location=location or estate.west,
            kind=kind,
            name=name or f"ds-{next(_names)}",
            connection={"paths": ["/tmp"]},
            tags=tags or {},
            exists=exists,
        )

    return make


@pytest.fixture
def protect(make_policy) -> Callable:
    from vaults.models import BackupInstance

    def make(datasource, vault, state="protected", policy=None):
        return BackupInstance.objects.create(
            datasource=datasource,
            vault=vault,
            policy=policy or make_policy(vault, kind=datasource.kind),
            protection_state=state,
        )

    return make


@pytest.fixture
def assign(admin) -> Callable:
    """`assign(key, scope, **fields)` → an assignment made by the administrator and evaluated at once."""
    from policies.governance.evaluation import evaluate
    from policies.governance.services import assignment_create

    def make(definition_key, scope, evaluate_now=True, **fields):
        assignment = assignment_create(actor=admin, scope=scope, definition_key=definition_key, **fields)
        if evaluate_now:
            evaluate([assignment])
        return assignment

    return make


def states(assignment) -> dict[str, tuple[str, str]]:
    """name → (state, reason) of an assignment's current results."""
    return {r.resource_name: (r.state, r.reason) for r in assignment.results.all()}
