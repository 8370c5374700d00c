"""Inventory services: refusals leave nothing behind, every change is logged with its actor, secrets never reach the
change log, and discovery (host folders and a real PostgreSQL server) adds and marks datasources."""

import json
import secrets
from pathlib import Path

import psycopg
import pytest
from django.core.exceptions import ValidationError

from core.exceptions import DomainError, PermissionDenied
from core.models import ChangeRecord
from core.roles import Role
from inventory import services
from inventory.models import Connector, Datasource, ResourceGroup, RoleAssignment, Subscription, Tenant
from tests.factories import real_folder

PG = {"host": "127.0.0.1", "port": 5432, "user": "postgres"}
MODELS = (Tenant, Subscription, ResourceGroup, Connector, Datasource, RoleAssignment, ChangeRecord)


def counts() -> dict:
    return {model.__name__: model.objects.count() for model in MODELS}


def files_kwargs(estate, **overrides):
    return {
        "resource_group": estate.rg_prod,
        "location": estate.west,
        "kind": "files",
        "name": "share-new",
        "connection": {"paths": [real_folder()]},
        **overrides,
    }


def postgres_connection(password: str) -> dict:
    return {"host": "127.0.0.1", "port": 5432, "dbname": "shop", "user": "app", "password": password}


# Bad input: a clear error and nothing half-saved ---------------------------------------------------------------------

REFUSALS = {
    "an invalid tenant name": (
        lambda e, a: services.tenant_create(actor=a, name="no spaces allowed!"),
        ValidationError,
        "name",
    ),
    "an invalid resource group name": (
        lambda e, a: services.resource_group_create(actor=a, subscription=e.prod, name="-leading-dash"),
        ValidationError,
        "name",
    ),
    "an unknown datasource kind": (
        lambda e, a: services.datasource_create(actor=a, **files_kwargs(e, kind="tape")),
        ValidationError,
        "kind",
    ),
    "an unsupported datasource kind (mysql)": (
        lambda e, a: services.datasource_create(
            actor=a, **files_kwargs(e, kind="mysql", connection={"host": "db", "dbname": "x", "user": "u"})
        ),
        ValidationError,
        "kind",
    ),
    "a connection that is not an object": (
        lambda e, a: services.datasource_create(actor=a, **files_kwargs(e, connection=["/srv"])),
        ValidationError,
        "connection",
    ),
    "a relative files path": (
        lambda e, a: services.datasource_create(actor=a, **files_kwargs(e, connection={"paths": ["srv/data"]})),
        ValidationError,
        "paths",
    ),
    "a files path that does not exist": (
        lambda e, a: services.datasource_create(
            actor=a, **files_kwargs(e, connection={"paths": ["/nonexistent/bc-test-path"]})
        ),
        ValidationError,
        "paths",
    ),
    "a PostgreSQL connection with a bad port and no host": (
        lambda e, a: services.datasource_create(
            actor=a,
            **files_kwargs(e, kind="postgresql", connection={"port": "five", "dbname": "x", "user": "u"}),
        ),
        ValidationError,
        "port",
    ),
    "tags that are not text": (
        lambda e, a: services.datasource_create(actor=a, **files_kwargs(e, tags={"env": 1})),
        ValidationError,
        "tags",
    ),
    "a PostgreSQL server that cannot be reached (port 1)": (
        lambda e, a: services.connector_create(
            actor=a,
            resource_group=e.rg_prod,
            location=e.west,
            name="pg-down",
            kind="postgresql_server",
            settings={**PG, "port": 1, "password": "s3cret-unreachable"},
        ),
        ValidationError,
        "__all__",
    ),
    "a host root that does not exist": (
        lambda e, a: services.connector_create(
            actor=a,
            resource_group=e.rg_prod,
            location=e.west,
            name="host-missing",
            kind="host",
            settings={"root_paths": ["/nonexistent/bc-test-root"]},
        ),
        ValidationError,
        "root_paths",
    ),
    "an unknown connector kind": (
        lambda e, a: services.connector_create(
            actor=a, resource_group=e.rg_prod, location=e.west, name="c", kind="ftp", settings={}
        ),
        ValidationError,
        "kind",
    ),
    "a duplicate subscription name in a tenant": (
        lambda e, a: services.subscription_create(actor=a, tenant=e.contoso, name="prod"),
        ValidationError,
        "__all__",
    ),
    "a duplicate datasource name in a resource group": (
        lambda e, a: services.datasource_create(actor=a, **files_kwargs(e, name="share-prod")),
        ValidationError,
        "__all__",
    ),
    "a duplicate role assignment": (
        lambda e, a: services.role_assignment_create(actor=a, role=Role.READER, scope=e.prod, user=e.bob),
        ValidationError,
        "role",
    ),
    "an unknown role": (
        lambda e, a: services.role_assignment_create(actor=a, role="god", scope=e.prod, user=e.charlie),
        ValidationError,
        "role",
    ),
    "a role assignment for both a user and a group": (
        lambda e, a: services.role_assignment_create(actor=a, role=Role.READER, scope=e.prod),
        ValidationError,
        "user",
    ),
    "deleting a tenant that still has subscriptions": (
        lambda e, a: services.tenant_delete(actor=a, tenant=e.contoso),
        DomainError,
        None,
    ),
    "deleting a resource group that still holds datasources": (
        lambda e, a: services.resource_group_delete(actor=a, resource_group=e.rg_prod),
        DomainError,
        None,
    ),
}


@pytest.mark.parametrize("case", list(REFUSALS))
def test_services_refuse_bad_input_with_a_clear_error_and_save_nothing(estate, case):
    call, error, field = REFUSALS[case]
    before = counts()
    with pytest.raises(error) as raised:
        call(estate, estate.admin)
    if field is not None:
        assert field in raised.value.message_dict, raised.value.message_dict
        assert all(message.strip() for message in raised.value.messages)
    assert counts() == before


PERMISSION_REFUSALS = {
    "a reader edits a datasource": (
        "bob",
        lambda e, a: services.datasource_update(actor=a, datasource=e.ds_prod, tags={"x": "y"}),
    ),
    "a contributor edits a datasource outside her subscription": (
        "alice",
        lambda e, a: services.datasource_update(actor=a, datasource=e.ds_dev, tags={"x": "y"}),
    ),
    "a contributor creates a subscription": (
        "alice",
        lambda e, a: services.subscription_create(actor=a, tenant=e.contoso, name="qa"),
    ),
    "a contributor creates a tenant": ("alice", lambda e, a: services.tenant_create(actor=a, name="newco")),
    "a contributor adds a location": ("alice", lambda e, a: services.location_create(actor=a, name="south")),
    "a contributor assigns a role": (
        "alice",
        lambda e, a: services.role_assignment_create(actor=a, role="reader", scope=e.prod, user=e.charlie),
    ),
    "an owner assigns a role at a scope she does not own": (
        "oscar",
        lambda e, a: services.role_assignment_create(actor=a, role="reader", scope=e.dev, user=e.charlie),
    ),
    "an owner removes an assignment outside her scope": (
        "oscar",
        lambda e, a: services.role_assignment_delete(actor=a, assignment=e.grants["sam"]),
    ),
    "a security admin creates a resource group": (
        "sam",
        lambda e, a: services.resource_group_create(actor=a, subscription=e.prod, name="rg-sam"),
    ),
    "a user without a role deletes a datasource": (
        "charlie",
        lambda e, a: services.datasource_delete(actor=a, datasource=e.ds_prod),
    ),
    "nobody at all": (None, lambda e, a: services.datasource_delete(actor=a, datasource=e.ds_prod)),
}


@pytest.mark.parametrize("case", list(PERMISSION_REFUSALS))
def test_services_refuse_actors_without_the_role_and_save_nothing(estate, case):
    persona, call = PERMISSION_REFUSALS[case]
    before = counts()
    with pytest.raises(PermissionDenied):
        call(estate, estate.users[persona] if persona else None)
    assert counts() == before


def test_an_owner_assigns_roles_inside_her_subscription_and_the_grant_takes_effect_at_once(estate):
    """GIVEN oscar, owner of prod, and charlie who sees nothing
    WHEN oscar makes charlie a reader of prod
    THEN charlie sees prod's datasources in the same request cycle (the grant cache is cleared)."""
    charlie = estate.charlie
    assert not Datasource.objects.for_user(charlie).exists()
    services.role_assignment_create(actor=estate.oscar, role=Role.READER, scope=estate.prod, user=charlie)
    assert list(Datasource.objects.for_user(charlie)) == [estate.ds_prod]


# The change log ------------------------------------------------------------------------------------------------------


def _last(action: str, obj) -> ChangeRecord:
    return ChangeRecord.objects.filter(action=action, object_type=obj._meta.label_lower, object_id=str(obj.pk)).latest(
        "id"
    )


def test_every_inventory_service_writes_a_change_record_with_actor_before_and_after(estate):
    """GIVEN the administrator
    WHEN she creates, updates and deletes one object of each inventory kind through the services
    THEN each step leaves a change record naming her, with `after` on create, both on update, `before` on delete."""
    admin = estate.admin
    tenant = services.tenant_create(actor=admin, name="newco")
    sub = services.subscription_create(actor=admin, tenant=tenant, name="s1")
    rg = services.resource_group_create(actor=admin, subscription=sub, name="rg1")
    location = services.location_create(actor=admin, name="south-europe")
    ds = services.datasource_create(actor=admin, **files_kwargs(estate, resource_group=rg, location=location))
    conn = services.connector_create(
        actor=admin,
        resource_group=rg,
        location=location,
        name="h1",
        kind="host",
        settings={"root_paths": [real_folder()]},
    )
    grant = services.role_assignment_create(actor=admin, role=Role.READER, scope=rg, user=estate.charlie)
    created = [tenant, sub, rg, location, ds, conn, grant]
    for obj in created:
        record = _last("create", obj)
        assert (record.actor, record.actor_name, record.before) == (admin, "admin", None)
        assert record.after["id"] == obj.pk

    updates = [
        (services.tenant_update, {"tenant": tenant, "description": "changed"}, "description"),
        (services.subscription_update, {"subscription": sub, "name": "s2"}, "name"),
        (services.resource_group_update, {"resource_group": rg, "name": "rg2"}, "name"),
        (services.location_update, {"location": location, "display_name": "South"}, "display_name"),
        (services.datasource_update, {"datasource": ds, "tags": {"env": "qa"}}, "tags"),
        (services.connector_update, {"connector": conn, "name": "h2"}, "name"),
    ]
    for service, kwargs, changed in updates:
        obj = service(actor=admin, **kwargs)
        record = _last("update", obj)
        assert record.actor == admin
        assert record.before[changed] != record.after[changed], service.__name__

    created_keys = [(obj._meta.label_lower, obj.pk) for obj in created]
    services.role_assignment_delete(actor=admin, assignment=grant)
    services.connector_delete(actor=admin, connector=conn)
    services.datasource_delete(actor=admin, datasource=ds)
    services.resource_group_delete(actor=admin, resource_group=rg)
    services.subscription_delete(actor=admin, subscription=sub)
    services.tenant_delete(actor=admin, tenant=tenant)
    services.location_delete(actor=admin, location=location)
    for label, pk in created_keys:
        record = ChangeRecord.objects.get(action="delete", object_type=label, object_id=str(pk))
        assert record.actor == admin and record.before["id"] == pk and record.after is None


def test_a_change_by_a_contributor_is_recorded_under_her_scope_so_her_reader_colleague_sees_it(estate):
    services.datasource_update(actor=estate.alice, datasource=estate.ds_prod, tags={"owner": "alice"})
    record = _last("update", estate.ds_prod)
    assert (record.actor_name, record.tenant, record.subscription) == ("alice", estate.contoso, estate.prod)
    assert record in ChangeRecord.objects.for_user(estate.bob)
    assert record not in ChangeRecord.objects.for_user(estate.charlie)


def test_a_connection_password_never_appears_in_any_change_record(estate):
    """GIVEN a PostgreSQL datasource and connector created and updated with passwords
    WHEN every change record is serialised to JSON
    THEN neither password appears, the stored rows hold them only sealed, and the worker still gets them back."""
    first, second, connector_password = (f"s3cret-{secrets.token_hex(6)}" for _ in range(3))
    ds = services.datasource_create(
        actor=estate.alice,
        **files_kwargs(estate, kind="postgresql", name="shop", connection=postgres_connection(first)),
    )
    ds = services.datasource_update(
        actor=estate.alice, datasource=ds, connection={"password": second}, tags={"rotated": "yes"}
    )
    conn = services.connector_create(
        actor=estate.alice,
        resource_group=estate.rg_prod,
        location=estate.west,
        name="pg-main",
        kind="postgresql_server",
        settings={**PG, "password": connector_password},
    )
    services.connector_update(actor=estate.alice, connector=conn, settings={"exclude": ["postgres"]})
    services.datasource_delete(actor=estate.alice, datasource=ds)

    log = json.dumps(list(ChangeRecord.objects.values()), default=str)
    for password in (first, second, connector_password):
        assert password not in log
        for row in (Datasource.objects.values(), Connector.objects.values()):
            assert password not in json.dumps(list(row), default=str)
    assert "********" in log
    assert services.connector_settings(Connector.objects.get(pk=conn.pk))["password"] == connector_password


def test_a_datasource_update_without_a_password_keeps_the_stored_one(estate):
    ds = services.datasource_create(
        actor=estate.admin,
        **files_kwargs(estate, kind="postgresql", name="shop", connection=postgres_connection("pw-1")),
    )
    services.datasource_update(actor=estate.admin, datasource=ds, connection={"dbname": "shop2", "password": ""})
    full = services.datasource_connection(Datasource.objects.get(pk=ds.pk))
    assert (full["dbname"], full["password"]) == ("shop2", "pw-1")


# Discovery -----------------------------------------------------------------------------------------------------------


def test_host_discovery_adds_new_folders_and_marks_vanished_ones_not_found(estate, tmp_path):
    """GIVEN a host connector over a root with folders alpha and beta
    WHEN discovery runs, beta is removed, gamma appears and discovery runs again
    THEN alpha, beta and gamma are datasources, beta is marked not found and both runs are in the change log."""
    (tmp_path / "alpha").mkdir()
    (tmp_path / "beta").mkdir()
    (tmp_path / "a-file.txt").write_text("not a folder")
    conn = services.connector_create(
        actor=estate.alice,
        resource_group=estate.rg_prod,
        location=estate.west,
        name="fileserver",
        kind="host",
        settings={"root_paths": [str(tmp_path)]},
    )
    assert services.connector_discover(actor=estate.alice, connector=conn) == {"found": 2, "created": 2, "vanished": 0}
    found = {d.name: d for d in conn.datasources.all()}
    assert set(found) == {"alpha", "beta"}
    assert found["alpha"].connection["paths"] == [str(tmp_path / "alpha")]

    (tmp_path / "beta").rmdir()
    (tmp_path / "gamma").mkdir()
    assert services.connector_discover(actor=estate.alice, connector=conn) == {"found": 2, "created": 1, "vanished": 1}
    state = dict(conn.datasources.values_list("name", "exists"))
    assert state == {"alpha": True, "beta": False, "gamma": True}
    conn.refresh_from_db()
    assert conn.discovery_status == "ok" and "not found 1" in conn.discovery_message
    assert ChangeRecord.objects.filter(action="not_found", object_repr="beta").exists()
    assert ChangeRecord.objects.filter(action="discovered").count() == 3


def test_discovery_of_a_root_that_disappeared_marks_the_connector_failed_and_keeps_its_datasources(estate, tmp_path):
    root = tmp_path / "root"
    (root / "alpha").mkdir(parents=True)
    conn = services.connector_create(
        actor=estate.admin,
        resource_group=estate.rg_prod,
        location=estate.west,
        name="fs",
        kind="host",
        settings={"root_paths": [str(root)]},
    )
    services.connector_discover(actor=estate.admin, connector=conn)
    (root / "alpha").rmdir()
    root.rmdir()
    assert services.connector_discover(actor=estate.admin, connector=conn) == {"found": 0, "created": 0, "vanished": 0}
    conn.refresh_from_db()
    assert conn.discovery_status == "failed" and str(root) in conn.discovery_message
    assert list(conn.datasources.values_list("name", "exists")) == [("alpha", True)]


def test_a_reader_cannot_run_discovery(estate):
    with pytest.raises(PermissionDenied):
        services.connector_discover(actor=estate.bob, connector=estate.conn_prod)


@pytest.fixture
def scratch_database():
    name = f"bc_test_disc_{secrets.token_hex(4)}"
    with psycopg.connect(dbname="postgres", autocommit=True, **PG) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield name
    finally:
        with psycopg.connect(dbname="postgres", autocommit=True, **PG) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.mark.integration
def test_postgresql_discovery_finds_a_new_database_and_marks_it_not_found_once_dropped(estate, scratch_database):
    """GIVEN a PostgreSQL server connector on the real server and a fresh database bc_test_disc_<random>
    WHEN discovery runs, the database is dropped, and discovery runs again
    THEN the database becomes a postgresql datasource, then is marked not found; excluded databases never appear."""
    conn = services.connector_create(
        actor=estate.alice,
        resource_group=estate.rg_prod,
        location=estate.west,
        name="pg-local",
        kind="postgresql_server",
        settings={**PG, "exclude": ["postgres"]},
    )
    result = services.connector_discover(actor=estate.alice, connector=conn)
    assert result["created"] >= 1
    ds = conn.datasources.get(name=scratch_database)
    assert (ds.kind, ds.exists, ds.connection["dbname"]) == ("postgresql", True, scratch_database)
    assert not conn.datasources.filter(name="postgres").exists()

    with psycopg.connect(dbname="postgres", autocommit=True, **PG) as admin_conn:
        admin_conn.execute(f'DROP DATABASE "{scratch_database}" WITH (FORCE)')
    services.connector_discover(actor=estate.alice, connector=conn)
    ds.refresh_from_db()
    assert ds.exists is False


def test_the_casts_files_datasources_point_at_real_folders(estate):
    for ds in Datasource.objects.filter(kind="files"):
        assert all(Path(p).is_dir() for p in ds.connection["paths"])
