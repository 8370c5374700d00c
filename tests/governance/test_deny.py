"""Deny assignments refuse non-compliant vaults and backup policies in the services, so pages and the API refuse
them alike; outside the assignment's scope (or in an excluded child scope) the same change goes through."""

import pytest

from policies.governance.services import PolicyDenied
from vaults.models import Vault

pytestmark = pytest.mark.django_db


@pytest.fixture
def deny_platform_keys(estate, assign):
    return assign(
        "vault_cmk",
        estate.contoso,
        effect="deny",
        non_compliance_message="Contoso vaults must use a customer-managed key.",
        excluded_scopes=[{"level": "subscription", "id": estate.dev.pk}],
    )


def test_the_service_refuses_a_platform_key_vault_and_allows_it_in_the_excluded_scope(estate, deny_platform_keys):
    from vaults.services import vault_create

    alice, admin = estate.users["alice"], estate.users["admin"]
    with pytest.raises(PolicyDenied) as caught:
        vault_create(actor=alice, resource_group=estate.rg_prod, location=estate.west, name="plain")
    assert "Contoso vaults must use a customer-managed key." in caught.value.message
    assert caught.value.code == "denied_by_policy"
    assert not Vault.objects.filter(name="plain").exists()
    vault_create(actor=admin, resource_group=estate.rg_dev, location=estate.north, name="plain-dev")
    assert Vault.objects.filter(name="plain-dev").exists()


def test_the_vault_page_shows_the_denial_and_creates_nothing(estate, deny_platform_keys, client_for):
    response = client_for("alice").post(
        "/vaults/add/",
        {
            "resource_group": estate.rg_prod.pk,
            "location": estate.west.pk,
            "name": "page-vault",
            "redundancy": "LRS",
            "soft_delete_state": "enabled",
            "soft_delete_days": 14,
            "immutability": "disabled",
            "encryption": "platform",
        },
    )
    assert response.status_code == 200
    assert "Contoso vaults must use a customer-managed key." in response.content.decode()
    assert not Vault.objects.filter(name="page-vault").exists()


def test_the_api_answers_403_denied_by_policy(estate, deny_platform_keys, api_for):
    response = api_for("alice").post(
        "/api/vaults/vaults/",
        {"resource_group": estate.rg_prod.pk, "location": estate.west.pk, "name": "api-vault"},
        format="json",
    )
    assert response.status_code == 403, response.content
    assert response.json()["code"] == "denied_by_policy"
    assert not Vault.objects.filter(name="api-vault").exists()


def test_changing_a_vault_to_a_disallowed_redundancy_is_refused(estate, assign, make_vault):
    from vaults.services import vault_update

    vault = make_vault(location=estate.north)
    assign("disallowed_redundancy", estate.prod, parameters={"redundancies": ["GRS"]})
    with pytest.raises(PolicyDenied):
        vault_update(actor=estate.users["alice"], vault=vault, redundancy="GRS")
    vault.refresh_from_db()
    assert vault.redundancy == "LRS"
    vault_update(actor=estate.users["alice"], vault=vault, redundancy="ZRS")


def test_backup_policies_below_the_minimum_are_refused_on_create_and_update(estate, assign, make_vault, api_for):
    from policies.services import policy_create, policy_update

    vault = make_vault()
    alice = estate.users["alice"]
    assign("policy_min_retention_frequency", estate.rg_prod, effect="deny", parameters={"min_retention_days": 30})
    daily = {"frequency": "daily", "times": ["02:00"], "timezone": "UTC"}
    with pytest.raises(PolicyDenied) as caught:
        policy_create(
            actor=alice,
            vault=vault,
            name="short",
            datasource_kind="files",
            schedule=daily,
            retention={"daily_count": 7},
        )
    assert "keeps recovery points 7 days" in caught.value.message
    policy = policy_create(
        actor=alice, vault=vault, name="long", datasource_kind="files", schedule=daily, retention={"daily_count": 30}
    )
    with pytest.raises(PolicyDenied):
        policy_update(actor=alice, policy=policy, retention={"daily_count": 10})
    response = api_for("alice").patch(
        f"/api/policies/backup-policies/{policy.pk}/", {"retention": {"daily_count": 14}}, format="json"
    )
    assert response.status_code == 403 and response.json()["code"] == "denied_by_policy"
    policy.refresh_from_db()
    assert policy.retention["daily_count"] == 30
