"""Multi-user authorization in a real browser: alice is stopped from disabling soft delete on a guarded vault, asks for
access, sam approves, alice succeeds, and the activity log tells the whole story."""

import re

import pytest

from tests.conftest import build_estate
from tests.e2e.test_inventory_browser import sign_in
from tests.vaults.security_world import let_alice_read_guards, make_guard, make_vault_row
from vaults import services
from vaults.models import AccessRequest, Vault


@pytest.fixture
def guarded(transactional_db):
    """The cast, committed: sam's Resource Guard in rg-dev and alice's vault `vault-payroll` in rg-prod linked to it."""
    estate = build_estate()
    let_alice_read_guards(estate)
    guard = make_guard(estate)
    vault = make_vault_row(estate, name="vault-payroll")
    services.vault_link_guard(actor=estate.alice, vault=vault, guard=guard)
    return estate, vault


def sign_out(page) -> None:
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_load_state()


def disable_soft_delete(page, vault) -> None:
    page.goto(f"/vaults/{vault.pk}/")
    page.get_by_role("link", name="Settings").click()
    page.wait_for_url(f"**/vaults/{vault.pk}/edit/")
    page.get_by_label("Soft delete", exact=True).select_option("disabled")
    page.get_by_role("button", name="Save").click()
    page.wait_for_load_state()


@pytest.mark.django_db(transaction=True)
def test_alice_needs_sams_approval_to_disable_soft_delete_and_the_activity_log_shows_every_step(
    guarded, page, screenshot, live_server
):
    """GIVEN alice (contributor on prod) and her vault guarded by sam's Resource Guard
    WHEN alice disables soft delete in the vault settings
    THEN she is stopped with a message naming the guard;
    WHEN she requests access for that operation, and sam (security admin) approves it
    THEN alice disables soft delete; the request is used; the activity log shows access_requested,
    access_approved, access_used and the soft_delete_disabled security event."""
    estate, vault = guarded
    sign_in(page, "alice")
    disable_soft_delete(page, vault)
    assert page.url.endswith(f"/vaults/{vault.pk}/edit/"), "the refused form is shown again"
    assert page.get_by_text(re.compile("is protected by Resource Guard guard-contoso")).is_visible()
    screenshot("1-refused")
    assert Vault.objects.get(pk=vault.pk).soft_delete_state == "enabled"

    page.goto(f"/vaults/{vault.pk}/")
    page.get_by_role("link", name="Request access").click()
    page.wait_for_url(f"**/vaults/{vault.pk}/request-access/")
    assert page.get_by_text("Ask the security team in #sec-approvals.").is_visible()
    page.get_by_label("Operation").select_option("disable_soft_delete")
    page.get_by_label("Justification").fill("CHG-1234: archive vault, soft delete moves to the archive tier")
    page.get_by_label("Duration (hours)").fill("2")
    screenshot("2-request")
    page.get_by_role("button", name="Save").click()
    page.wait_for_url(re.compile(r".*/vaults/access-requests/\d+/$"))
    request = AccessRequest.objects.get()
    assert request.status == "pending"
    assert page.get_by_text("Pending", exact=True).first.is_visible()
    sign_out(page)

    sign_in(page, "sam")
    page.goto("/vaults/access-requests/?to_approve=true")
    page.get_by_role("link", name=f"#{request.pk}").click()
    page.wait_for_url(f"**/vaults/access-requests/{request.pk}/")
    page.get_by_label("Note").fill("Approved for CHG-1234")
    screenshot("3-to-approve")
    page.get_by_role("button", name="Approve").click()
    page.wait_for_load_state()
    assert page.get_by_text(f"Request #{request.pk} approved.").is_visible()
    request.refresh_from_db()
    assert request.status == "approved" and request.approver == estate.sam
    screenshot("4-approved")
    sign_out(page)

    sign_in(page, "alice")
    disable_soft_delete(page, vault)
    page.wait_for_url(f"**/vaults/{vault.pk}/")
    assert page.get_by_text("Saved vault vault-payroll").is_visible()
    assert Vault.objects.get(pk=vault.pk).soft_delete_state == "disabled"
    request.refresh_from_db()
    assert request.status == "used"
    screenshot("5-disabled")

    page.goto("/core/activity/")
    text = page.locator("main").inner_text()
    for action in ("access_requested", "access_approved", "access_used", "security:soft_delete_disabled"):
        assert action in text, action
    screenshot("6-activity")
