"""Auto-protection of a PostgreSQL server: existing and newly discovered databases are protected by the product on
behalf of whoever set the intent; vanished ones keep their points and show as not found."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from core.models import ChangeRecord
from inventory.models import Connector, Datasource
from policies import services
from policies.models import AutoProtection
from tests.policies.conftest import DAILY
from vaults.models import BackupInstance


@pytest.fixture
def server(estate, alice, monkeypatch):
    """A PostgreSQL server connector whose discovery lists the names in `server.databases` (no server needed)."""
    from inventory.services import connector_create

    connector = connector_create(
        actor=alice,
        resource_group=estate.rg_prod,
        location=estate.west,
        name="pg-main",
        kind="postgresql_server",
        settings={"host": "127.0.0.1", "port": 5432, "user": "postgres"},
    )
    connector.databases = ["app", "billing", "scratch"]
    monkeypatch.setattr(
        "vaults.datasources.base.discover_postgresql_databases", lambda values: list(connector.databases)
    )
    return connector


@pytest.fixture
def pg_policy(make_policy):
    return make_policy(schedule=DAILY, kind="postgresql")


def discover(actor, connector):
    from inventory.services import connector_discover

    return connector_discover(actor=actor, connector=Connector.objects.get(pk=connector.pk))


def protected_names(connector) -> set[str]:
    return set(
        BackupInstance.objects.filter(datasource__connector=connector).values_list("datasource__name", flat=True)
    )


def test_discovery_protects_existing_and_new_databases_except_the_excluded_ones(
    alice, server, pg_policy, vault, django_capture_on_commit_callbacks
):
    """GIVEN a server with app, billing and scratch WHEN alice sets auto-protection excluding scratch
    THEN app and billing are protected at once; a database created later is protected by the next discovery,
    by the system actor on alice's behalf, recorded in the change log."""
    discover(alice, server)
    with django_capture_on_commit_callbacks(execute=True):
        intent = services.auto_protection_set(
            actor=alice, connector=server, vault=vault, policy=pg_policy, exclude="scratch\n"
        )
    assert intent.set_by == alice and intent.exclude == ["scratch"]
    assert protected_names(server) == {"app", "billing"}
    server.databases.append("reports")
    discover(alice, server)
    assert protected_names(server) == {"app", "billing", "reports"}
    instance = BackupInstance.objects.get(datasource__name="reports")
    assert instance.policy == pg_policy and instance.vault == vault
    record = ChangeRecord.objects.get(action="auto_protected", object_id=str(instance.pk))
    assert record.actor_name == "auto-protection (set by alice)" and "set by alice" in record.message


def test_a_vanished_database_stays_protected_as_not_found(alice, server, pg_policy, vault):
    discover(alice, server)
    services.auto_protection_set(actor=alice, connector=server, vault=vault, policy=pg_policy)
    services.auto_protection_apply(connector=server)
    server.databases.remove("billing")
    discover(alice, server)
    billing = Datasource.objects.get(name="billing")
    assert billing.exists is False
    assert BackupInstance.objects.filter(datasource=billing).exists()


def test_auto_protection_needs_a_postgresql_policy_of_the_vault_and_a_postgresql_server(
    alice, estate, server, make_policy, vault
):
    files_policy = make_policy()
    with pytest.raises(ValidationError) as info:
        services.auto_protection_set(actor=alice, connector=server, vault=vault, policy=files_policy)
    assert "policy" in info.value.message_dict
    with pytest.raises(ValidationError) as info:
        services.auto_protection_set(
            actor=alice, connector=estate.conn_prod, vault=vault, policy=make_policy(kind="postgresql")
        )
    assert "connector" in info.value.message_dict
    assert not AutoProtection.objects.exists()


def test_the_api_sets_reads_and_clears_auto_protection(api_for, server, pg_policy):
    url = f"/api/inventory/connectors/{server.pk}/auto-protection/"
    alice = api_for("alice")
    assert alice.get(url).data == {"enabled": False}
    response = alice.put(url, {"policy": pg_policy.pk, "exclude": ["scratch"]}, format="json")
    assert response.status_code == 200, response.data
    assert (
        response.data["enabled"]
        and response.data["set_by_name"] == "alice"
        and response.data["vault"]["id"] == pg_policy.vault_id
    )
    assert api_for("bob").put(url, {"policy": pg_policy.pk}, format="json").status_code in (400, 403)
    assert api_for("charlie").get(url).status_code == 404
    assert alice.delete(url).status_code == 204
    assert not AutoProtection.objects.exists()


def test_the_auto_protection_page_sets_the_intent(client_for, server, pg_policy):
    client = client_for("alice")
    page = client.get(f"/policies/auto-protection/{server.pk}/")
    assert page.status_code == 200 and pg_policy.name.encode() in page.content
    response = client.post(f"/policies/auto-protection/{server.pk}/", {"policy": pg_policy.pk, "exclude": "x"})
    assert response.status_code == 302
    assert AutoProtection.objects.get(connector=server).exclude == ["x"]
