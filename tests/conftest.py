"""Shared fixtures: a throw-away var dir, eager Celery, and the fixed cast of the test suite.

The estate (see `Estate`): tenants contoso (subscriptions prod = "subscription A" and dev) and fabrikam (main), one
resource group per subscription, two paired locations, a files datasource and a host connector over real folders in
every resource group. Personas: alice (contributor on prod), bob (reader on prod), charlie (no role), sam (security
admin on tenant contoso), oscar (owner on prod), admin (superuser).
"""

import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

# pytest-django imports the settings before this file is read, so the environment is set for child processes and
# the settings derived from the var dir are pointed at the temporary one below.
_VAR_DIR = Path(tempfile.mkdtemp(prefix="backupcenter-tests-"))
os.environ["BACKUPCENTER_VAR_DIR"] = str(_VAR_DIR)
os.environ["BACKUPCENTER_DEMO_DATA"] = str(_VAR_DIR / "demo-data")
os.environ["CELERY_TASK_ALWAYS_EAGER"] = "true"

import pytest  # noqa: E402
from django.conf import settings  # noqa: E402

settings.VAR_DIR = _VAR_DIR
settings.BACKUPCENTER_KEYRING = _VAR_DIR / "keyring.json"
settings.BACKUPCENTER_VAULT_ROOT = _VAR_DIR / "vaults"
settings.BACKUPCENTER_DEMO_DATA = _VAR_DIR / "demo-data"
settings.STATIC_ROOT = _VAR_DIR / "staticfiles"
settings.STATIC_ROOT.mkdir()
settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
settings.CELERY_TASK_ALWAYS_EAGER = True
settings.CELERY_TASK_EAGER_PROPAGATES = True

from backupcenter.celery import app as celery_app  # noqa: E402

celery_app.conf.task_always_eager = True
celery_app.conf.task_eager_propagates = True

from tests.factories import PASSWORD, UserFactory, real_folder  # noqa: E402

PERSONAS = ("alice", "bob", "charlie", "sam", "oscar", "admin")


def pytest_unconfigure(config):
    shutil.rmtree(_VAR_DIR, ignore_errors=True)


@dataclass
class Estate:
    """The fixed cast. `inside[key]` are objects under subscription prod (alice's and bob's scope); `outside[key]`
    the matching objects in tenant fabrikam, which only the administrator may see."""

    users: dict = field(default_factory=dict)
    inside: dict = field(default_factory=dict)
    outside: dict = field(default_factory=dict)
    extra: dict = field(default_factory=dict)

    def __getattr__(self, name):
        for bucket in ("users", "extra"):
            values = self.__dict__.get(bucket, {})
            if name in values:
                return values[name]
        raise AttributeError(name)


def build_estate() -> Estate:
    from core.permissions import SystemActor
    from core.roles import Role
    from inventory import services

    actor = SystemActor("test-setup")
    estate = Estate()
    west = services.location_create(actor=actor, name="west-europe", display_name="West Europe", zones=["1", "2"])
    north = services.location_create(actor=actor, name="north-europe", display_name="North Europe", paired_region=west)
    contoso = services.tenant_create(actor=actor, name="contoso", description="Contoso Ltd")
    fabrikam = services.tenant_create(actor=actor, name="fabrikam")
    prod = services.subscription_create(actor=actor, tenant=contoso, name="prod")
    dev = services.subscription_create(actor=actor, tenant=contoso, name="dev")
    main = services.subscription_create(actor=actor, tenant=fabrikam, name="main")
    rg_prod = services.resource_group_create(actor=actor, subscription=prod, name="rg-prod")
    rg_dev = services.resource_group_create(actor=actor, subscription=dev, name="rg-dev")
    rg_fab = services.resource_group_create(actor=actor, subscription=main, name="rg-fab")

    def files(rg, name, location):
        return services.datasource_create(
            actor=actor,
            resource_group=rg,
            location=location,
            kind="files",
            name=name,
            connection={"paths": [real_folder()]},
            tags={"env": rg.subscription.name},
        )

    def connector(rg, name):
        return services.connector_create(
            actor=actor,
            resource_group=rg,
            location=west,
            name=name,
            kind="host",
            settings={"root_paths": [real_folder()]},
        )

    ds_prod, ds_dev, ds_fab = (
        files(rg_prod, "share-prod", west),
        files(rg_dev, "share-dev", north),
        files(rg_fab, "share-fab", west),
    )
    conn_prod, conn_fab = connector(rg_prod, "host-prod"), connector(rg_fab, "host-fab")

    users = {name: UserFactory(username=name) for name in PERSONAS if name != "admin"}
    users["admin"] = UserFactory(username="admin", is_superuser=True, is_staff=True)
    outsider = UserFactory(username="fiona")
    grants = {}
    for name, role, scope in [
        ("alice", Role.CONTRIBUTOR, prod),
        ("bob", Role.READER, prod),
        ("sam", Role.SECURITY_ADMIN, contoso),
        ("oscar", Role.OWNER, prod),
    ]:
        grants[name] = services.role_assignment_create(actor=actor, role=role, scope=scope, user=users[name])
    fab_grant = services.role_assignment_create(actor=actor, role=Role.READER, scope=main, user=outsider)

    estate.users = users
    estate.inside = {
        "tenant": contoso,
        "subscription": prod,
        "resourcegroup": rg_prod,
        "location": west,
        "connector": conn_prod,
        "datasource": ds_prod,
        "roleassignment": grants["bob"],
    }
    estate.outside = {
        "tenant": fabrikam,
        "subscription": main,
        "resourcegroup": rg_fab,
        "connector": conn_fab,
        "datasource": ds_fab,
        "roleassignment": fab_grant,
    }
    estate.extra = {
        "west": west,
        "north": north,
        "contoso": contoso,
        "fabrikam": fabrikam,
        "prod": prod,
        "dev": dev,
        "main": main,
        "rg_prod": rg_prod,
        "rg_dev": rg_dev,
        "rg_fab": rg_fab,
        "ds_prod": ds_prod,
        "ds_dev": ds_dev,
        "ds_fab": ds_fab,
        "conn_prod": conn_prod,
        "conn_fab": conn_fab,
        "fiona": outsider,
        "grants": grants,
    }
    return estate


@pytest.fixture
def estate(db) -> Estate:
    return build_estate()


@pytest.fixture
def system_actor():
    from core.permissions import SystemActor

    return SystemActor("test")


@pytest.fixture
def client_for(client, estate):
    """`client_for("alice")` → a test client signed in as that persona (None/"anon" → anonymous)."""
    from django.test import Client

    def make(persona):
        c = Client()
        if persona not in (None, "anon"):
            c.force_login(estate.users[persona])
        return c

    return make


@pytest.fixture
def api_for(estate):
    """`api_for("bob")` → a DRF APIClient authenticated with the persona's token (anonymous for "anon")."""
    from rest_framework.authtoken.models import Token
    from rest_framework.test import APIClient

    def make(persona):
        c = APIClient()
        if persona not in (None, "anon"):
            token, _ = Token.objects.get_or_create(user=estate.users[persona])
            c.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
        return c

    return make


__all__ = ["PASSWORD", "Estate", "build_estate"]


@pytest.fixture
def isolated_keyring(settings, tmp_path):
    """A keyring of this test only: key ids restart with the database, and `cmk-1-v1` of an earlier test (perhaps
    disabled) must not stand in for this test's key 1."""
    settings.BACKUPCENTER_KEYRING = tmp_path / "keyring.json"
    return settings.BACKUPCENTER_KEYRING


@pytest.fixture
def api_estate(isolated_keyring, estate, settings, tmp_path):
    """The fixed cast plus vaults on both sides; restores may write only below tmp_path/restores."""
    root = tmp_path / "restores"
    root.mkdir()
    settings.BACKUPCENTER_RESTORE_ROOTS = [str(root)]
    from tests.vaults.api_world import add_vaults

    add_vaults(estate, root)
    return estate
