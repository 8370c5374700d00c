"""Governance and Compliance pages, the governance API and the Protectable datasources banner: who may assign,
what each persona sees, and that no other tenant's assignment or result shows."""

import pytest

from policies.governance.models import PolicyAssignment

pytestmark = pytest.mark.django_db


@pytest.fixture
def audited(estate, assign):
    """backup_enabled on prod (oscar's scope) and on fabrikam, evaluated."""
    inside = assign("backup_enabled", estate.prod, name="prod must back up")
    outside = assign("backup_enabled", estate.fabrikam, name="fabrikam must back up")
    return inside, outside


@pytest.mark.parametrize("persona", ["alice", "bob", "oscar"])
def test_governance_and_compliance_pages_show_only_the_callers_scope(audited, client_for, persona):
    inside, outside = audited
    client = client_for(persona)
    for url in ("/governance/", "/compliance/", "/compliance/resources/", f"/governance/assignments/{inside.pk}/"):
        body = client.get(url).content.decode()
        assert "fabrikam must back up" not in body and "share-fab" not in body, url
    assert "prod must back up" in client.get("/governance/").content.decode()
    compliance = client.get("/compliance/").content.decode()
    assert 'id="overall-percent">0.0%' in compliance
    assert client.get(f"/governance/assignments/{outside.pk}/").status_code == 404


def test_an_owner_assigns_through_the_page_and_a_contributor_cannot(estate, client_for):
    data = {
        "scope": f"subscription:{estate.prod.pk}",
        "name": "prod vaults keep soft delete",
        "effect": "audit",
        "param_always_on_only": "on",
    }
    refused = client_for("alice").post("/governance/assign/soft_delete_enabled/", data)
    assert refused.status_code == 200 and "permission" in refused.content.decode()
    assert client_for("oscar").post("/governance/assign/soft_delete_enabled/", data).status_code == 302
    assignment = PolicyAssignment.objects.get()
    assert assignment.parameters == {"always_on_only": True} and assignment.scope_level == "subscription"


def test_the_api_lists_definitions_and_creates_evaluates_and_lists_compliance(estate, api_for, audited):
    api = api_for("oscar")
    definitions = api.get("/api/policies/definitions/").json()
    assert len(definitions) == 10
    assert api.get("/api/policies/definitions/vault_cmk/").json()["effects"] == ["audit", "deny", "disabled"]
    created = api.post(
        "/api/policies/assignments/",
        {
            "definition_key": "disallowed_redundancy",
            "scope_type": "subscription",
            "scope_id": estate.prod.pk,
            "parameters": {"redundancies": ["GRS", "ZRS"]},
        },
        format="json",
    )
    assert created.status_code == 201, created.content
    assert created.json()["effect"] == "deny"
    bad = api.post(
        "/api/policies/assignments/",
        {"definition_key": "mua_enabled", "scope_type": "subscription", "scope_id": estate.prod.pk, "effect": "deny"},
        format="json",
    )
    assert bad.status_code == 400 and "effect" in bad.json()
    assert api.post(f"/api/policies/assignments/{created.json()['id']}/evaluate/").status_code == 202
    names = {a["name"] for a in api_for("bob").get("/api/policies/assignments/").json()["results"]}
    assert "fabrikam must back up" not in names and "prod must back up" in names
    results = api_for("bob").get("/api/policies/compliance/?state=non_compliant").json()["results"]
    assert {r["resource_name"] for r in results} == {"share-prod"}
    assert (
        api_for("bob")
        .post(
            "/api/policies/assignments/",
            {"definition_key": "mua_enabled", "scope_type": "subscription", "scope_id": estate.prod.pk},
            format="json",
        )
        .status_code
        == 403
    )


def test_protectable_datasources_show_what_assignments_require(estate, audited, client_for, make_datasource):
    make_datasource(name="not-required", rg=estate.rg_dev, location=estate.north)
    client = client_for("admin")
    page = client.get("/inventory/protectable/").content.decode()
    assert 'id="governance-banner"' in page and "<strong>1</strong>" not in page
    only = client.get("/inventory/protectable/?required=1").content.decode()
    assert "share-prod" in only and "share-fab" in only and "not-required" not in only
    assert 'id="governance-banner"' not in client_for("charlie").get("/inventory/protectable/").content.decode()
