"""The API of Resource Guards, access requests, guard links, soft delete and undelete: who may call what, the whole
request flow through the API only, and bad input answered with a clear error that changes nothing."""

import pytest

from core.models import ChangeRecord
from tests.vaults.security_world import guarded_vault, let_alice_read_guards, make_guard, make_vault_row
from vaults.choices import MANDATORY_OPERATIONS, AccessRequestStatus, PointState, ProtectionState
from vaults.models import AccessRequest, BackupInstance, RecoveryPoint, ResourceGuard, Vault

GUARDS = "/api/vaults/resource-guards/"
REQUESTS = "/api/vaults/access-requests/"


@pytest.fixture
def guard(estate):
    let_alice_read_guards(estate)
    return make_guard(estate)


@pytest.fixture
def world(estate, guard):
    return guarded_vault(estate, guard)


def ask(api_for, vault, operation="disable_soft_delete", **extra):
    body = {"vault": vault.pk, "operation": operation, "justification": "CHG-42", "duration_hours": 2, **extra}
    return api_for("alice").post(REQUESTS, body, format="json")


def test_a_guard_created_with_no_operations_still_lists_and_protects_the_mandatory_two(estate, api_for):
    """GIVEN sam, security admin on tenant contoso
    WHEN he creates a guard through the API with an empty operation list, then updates it to an empty list again
    THEN the response lists exactly the mandatory operations, and the guard protects them."""
    body = {
        "resource_group": estate.rg_dev.pk,
        "location": estate.west.pk,
        "name": "guard-empty",
        "description": "Ask sam.",
        "protected_operations": [],
    }
    created = api_for("sam").post(GUARDS, body, format="json")
    assert created.status_code == 201, created.content
    assert set(created.json()["protected_operations"]) == set(MANDATORY_OPERATIONS)
    assert set(created.json()["mandatory_operations"]) == set(MANDATORY_OPERATIONS)
    url = f"{GUARDS}{created.json()['id']}/"
    updated = api_for("sam").patch(url, {"protected_operations": []}, format="json")
    assert updated.status_code == 200, updated.content
    guard = ResourceGuard.objects.get(pk=created.json()["id"])
    assert all(guard.guards(op) for op in MANDATORY_OPERATIONS)
    assert not guard.guards("restore")
    no_ops = {k: v for k, v in body.items() if k != "protected_operations"}
    defaults = api_for("sam").post(GUARDS, {**no_ops, "name": "guard-defaults"}, format="json").json()
    assert "restore" not in defaults["protected_operations"], "restore is off by default"
    assert "stop_protection_delete_data" in defaults["protected_operations"]
    assert set(MANDATORY_OPERATIONS) <= set(defaults["protected_operations"])


@pytest.mark.parametrize(
    "persona, create, update",
    [("anon", 401, 401), ("charlie", 400, 404), ("bob", 400, 404), ("alice", 400, 403), ("sam", 201, 200)],
)
def test_only_security_admins_of_the_scope_create_and_change_guards(persona, create, update, estate, guard, api_for):
    """GIVEN sam's guard in rg-dev (alice and bob hold reader there or nothing)
    WHEN each persona creates a guard in rg-dev and changes sam's guard
    THEN only sam may; others get 401 (anonymous), 400 (a resource group they cannot manage guards in), 403 (can see
    the guard, may not change it) or 404 (cannot see it), and nothing changes."""
    body = {"resource_group": estate.rg_dev.pk, "location": estate.west.pk, "name": f"g-{persona}"}
    assert api_for(persona).post(GUARDS, body, format="json").status_code == create
    response = api_for(persona).patch(f"{GUARDS}{guard.pk}/", {"description": "changed"}, format="json")
    assert response.status_code == update
    assert ResourceGuard.objects.get(pk=guard.pk).description != "changed" or persona == "sam"


def test_the_whole_access_request_flow_through_the_api(estate, world, api_for):
    """GIVEN a vault guarded by sam's guard
    WHEN alice disables soft delete through the API, is refused, asks for access, sam approves and alice retries
    THEN the refusal is a 403 mua_required; the request goes pending → approved → used; soft delete is off; the
    activity log holds access_requested, access_approved, access_used and the security event."""
    url = f"/api/vaults/vaults/{world.vault.pk}/"
    refused = api_for("alice").patch(url, {"soft_delete_state": "disabled"}, format="json")
    assert refused.status_code == 403
    assert refused.json()["code"] == "mua_required"
    assert "Ask the security team" in refused.json()["detail"], "the guard's description tells how to ask"

    created = ask(api_for, world.vault)
    assert created.status_code == 201, created.content
    request = created.json()
    assert request["status"] == "pending" and request["requester"]["username"] == "alice"
    assert request["guard"]["display"] == "guard-contoso"
    assert api_for("sam").get(f"{REQUESTS}?status=pending").json()["count"] == 1

    approved = api_for("sam").post(f"{REQUESTS}{request['id']}/approve/", {"note": "ok for CHG-42"}, format="json")
    assert approved.status_code == 200, approved.content
    assert approved.json()["status"] == "approved" and approved.json()["approver"]["username"] == "sam"
    assert approved.json()["valid_until"]

    done = api_for("alice").patch(url, {"soft_delete_state": "disabled"}, format="json")
    assert done.status_code == 200, done.content
    assert done.json()["soft_delete_state"] == "disabled"
    assert api_for("alice").get(f"{REQUESTS}{request['id']}/").json()["status"] == "used"
    actions = set(ChangeRecord.objects.filter(object_id=world.vault.pk).values_list("action", flat=True))
    assert {"access_requested", "access_approved", "access_used", "security:soft_delete_disabled"} <= actions


def test_who_sees_and_decides_access_requests(estate, world, api_for):
    """GIVEN alice's pending request on sam's guard
    WHEN each persona lists it, and tries to approve it
    THEN alice and sam (and the administrator) see it; bob, oscar and charlie get 404; alice, who may see it, gets
    403; oscar, owner of the vault but not security admin, cannot (404); sam can."""
    request_id = ask(api_for, world.vault).json()["id"]
    for persona, visible in [("alice", 1), ("sam", 1), ("admin", 1), ("bob", 0), ("oscar", 0), ("charlie", 0)]:
        assert api_for(persona).get(REQUESTS).json()["count"] == visible, persona
    for persona in ("bob", "oscar", "charlie"):
        assert api_for(persona).post(f"{REQUESTS}{request_id}/approve/").status_code == 404, persona
    assert api_for("alice").post(f"{REQUESTS}{request_id}/approve/").status_code == 403, "alice is no approver"
    assert api_for("anon").post(f"{REQUESTS}{request_id}/approve/").status_code == 401
    assert AccessRequest.objects.get(pk=request_id).status == AccessRequestStatus.PENDING
    denied = api_for("sam").post(f"{REQUESTS}{request_id}/deny/", {"note": "no change ticket"}, format="json")
    assert denied.status_code == 200 and denied.json()["status"] == "denied"
    assert denied.json()["decision_note"] == "no change ticket"
    again = api_for("sam").post(f"{REQUESTS}{request_id}/approve/")
    assert again.status_code == 409 and again.json()["code"] == "already_decided"


def test_a_security_admin_cannot_approve_his_own_request(estate, world, api_for):
    """GIVEN sam, security admin of the guard, asking for access himself
    WHEN sam approves his own request
    THEN 409 self_approval: another security admin must decide; the request stays pending."""
    body = {"vault": world.vault.pk, "operation": "remove_mua", "justification": "mine", "duration_hours": 1}
    request_id = api_for("sam").post(REQUESTS, body, format="json").json()["id"]
    own = api_for("sam").post(f"{REQUESTS}{request_id}/approve/")
    assert own.status_code == 409 and own.json()["code"] == "self_approval"
    assert AccessRequest.objects.get(pk=request_id).status == AccessRequestStatus.PENDING


def test_a_security_admin_of_another_guard_cannot_decide(estate, world, api_for):
    """GIVEN alice's request on sam's guard, and fiona, security admin only in tenant fabrikam
    WHEN fiona approves it
    THEN 404: she cannot see it; the request stays pending."""
    from core.permissions import SystemActor
    from inventory import services as inventory_services

    inventory_services.role_assignment_create(
        actor=SystemActor("test"), role="security_admin", scope=estate.fabrikam, user=estate.fiona
    )
    from rest_framework.authtoken.models import Token
    from rest_framework.test import APIClient

    request_id = ask(api_for, world.vault).json()["id"]
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=estate.fiona).key}")
    assert client.post(f"{REQUESTS}{request_id}/approve/").status_code == 404
    assert AccessRequest.objects.get(pk=request_id).status == AccessRequestStatus.PENDING


@pytest.mark.parametrize(
    "body, field",
    [
        ({"duration_hours": 9}, "duration_hours"),
        ({"duration_hours": 0}, "duration_hours"),
        ({"operation": "restore"}, "operation"),  # the guard of this test does not protect restore
        ({"operation": "format_disk"}, "operation"),
        ({"justification": "  "}, "justification"),
    ],
)
def test_a_bad_access_request_is_refused_with_the_field_named(body, field, estate, api_for):
    """GIVEN a vault whose guard protects only the mandatory operations and stopping with delete data
    WHEN alice asks for more than 8 hours, no time, an operation the guard does not protect, an unknown one, or
    gives no reason
    THEN 400 names the field and no request exists."""
    let_alice_read_guards(estate)
    guard = make_guard(estate, ["stop_protection_delete_data"])
    world = guarded_vault(estate, guard)
    response = ask(api_for, world.vault, **body)
    assert response.status_code == 400, response.content
    assert field in response.json()
    assert not AccessRequest.objects.exists()


def test_asking_for_access_on_a_vault_without_guard_is_refused(estate, api_for):
    vault = make_vault_row(estate)
    response = ask(api_for, vault)
    assert response.status_code == 409 and response.json()["code"] == "no_guard"


def test_linking_a_guard_in_another_location_is_refused_and_unlinking_needs_approval(estate, guard, api_for):
    """GIVEN an unguarded vault in west-europe, sam's guard in west-europe and another in north-europe
    WHEN alice links the north guard, then the west guard, then unlinks it
    THEN the north link is a 400 on `guard`; the west link works and shows in the vault; unlinking is a 403
    mua_required (removing MUA is always protected); the vault keeps its guard."""
    vault = make_vault_row(estate)
    north = make_guard(estate, name="guard-north", location=estate.north)
    url = f"/api/vaults/vaults/{vault.pk}/"
    wrong = api_for("alice").post(f"{url}link-guard/", {"guard": north.pk}, format="json")
    assert wrong.status_code == 400 and "guard" in wrong.json()
    assert Vault.objects.get(pk=vault.pk).resource_guard_id is None
    assert api_for("bob").post(f"{url}link-guard/", {"guard": guard.pk}, format="json").status_code in (400, 403)
    linked = api_for("alice").post(f"{url}link-guard/", {"guard": guard.pk}, format="json")
    assert linked.status_code == 200, linked.content
    assert linked.json()["resource_guard"]["id"] == guard.pk
    assert linked.json()["security_level"] == "good"
    again = api_for("alice").post(f"{url}link-guard/", {"guard": guard.pk}, format="json")
    assert again.status_code == 409 and again.json()["code"] == "already_linked"
    unlink = api_for("alice").post(f"{url}unlink-guard/")
    assert unlink.status_code == 403 and unlink.json()["code"] == "mua_required"
    assert Vault.objects.get(pk=vault.pk).resource_guard_id == guard.pk


def test_a_guard_alice_cannot_see_cannot_be_linked(estate, api_for):
    """GIVEN sam's guard in rg-dev and alice without any role on dev
    WHEN she links it to her vault
    THEN 400: the guard id is not one she may use; nothing changes."""
    guard = make_guard(estate)
    vault = make_vault_row(estate)
    response = api_for("alice").post(f"/api/vaults/vaults/{vault.pk}/link-guard/", {"guard": guard.pk}, format="json")
    assert response.status_code == 400
    assert Vault.objects.get(pk=vault.pk).resource_guard_id is None


def test_soft_delete_and_undelete_through_the_api(estate, api_for):
    """GIVEN an unguarded vault with soft delete on, a protected instance and a second recovery point
    WHEN alice deletes one point, undeletes it, stops protection with delete data, then undeletes the instance
    THEN the point is soft deleted with a purge date, then available; the instance is soft deleted with its points,
    then stopped with data retained and its points available; bob (reader) may do none of it."""
    from tests.vaults.security_world import make_protected

    vault = make_vault_row(estate, soft_delete_days=30)
    instance, point = make_protected(estate, vault)
    point_url = f"/api/vaults/recovery-points/{point.pk}/"
    assert api_for("bob").delete(point_url).status_code == 403
    deleted = api_for("alice").delete(point_url)
    assert deleted.status_code == 200, deleted.content
    assert deleted.json()["state"] == "soft_deleted" and deleted.json()["purge_after"]
    back = api_for("alice").post(f"{point_url}undelete/")
    assert back.status_code == 200 and back.json()["state"] == "available" and back.json()["purge_after"] is None

    instance_url = f"/api/vaults/backup-instances/{instance.pk}/"
    assert (
        api_for("bob").post(f"{instance_url}stop-protection/", {"delete_data": True}, format="json").status_code == 403
    )
    stopped = api_for("alice").post(f"{instance_url}stop-protection/", {"delete_data": True}, format="json")
    assert stopped.status_code == 200, stopped.content
    assert stopped.json()["protection_state"] == "soft_deleted"
    assert RecoveryPoint.objects.get(pk=point.pk).state == PointState.SOFT_DELETED
    assert api_for("bob").post(f"{instance_url}undelete/").status_code == 403
    undeleted = api_for("alice").post(f"{instance_url}undelete/")
    assert undeleted.status_code == 200
    assert undeleted.json()["protection_state"] == ProtectionState.STOPPED_RETAIN_DATA
    assert RecoveryPoint.objects.get(pk=point.pk).state == PointState.AVAILABLE
    twice = api_for("alice").post(f"{instance_url}undelete/")
    assert twice.status_code == 409 and twice.json()["code"] == "not_soft_deleted"
    assert BackupInstance.objects.get(pk=instance.pk).protection_state == ProtectionState.STOPPED_RETAIN_DATA


@pytest.mark.parametrize("days", [13, 181, 0])
def test_soft_delete_days_outside_14_to_180_are_refused_by_api_and_page(days, estate, api_for, client_for):
    vault = make_vault_row(estate)
    response = api_for("alice").patch(f"/api/vaults/vaults/{vault.pk}/", {"soft_delete_days": days}, format="json")
    assert response.status_code == 400 and "soft_delete_days" in response.json()
    from tests.vaults.test_security_matrix import vault_form

    page = client_for("alice").post(f"/vaults/{vault.pk}/edit/", vault_form(vault, soft_delete_days=days))
    assert page.status_code == 200
    assert Vault.objects.get(pk=vault.pk).soft_delete_days == 14
