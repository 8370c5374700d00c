"""Alice in a real browser: + Policy → files → vault → the editor; the two live previews follow her typing (HTMX),
a bad interval shows its error in the preview, and saving creates the policy."""

import re

import pytest

from tests.conftest import PASSWORD, build_estate


@pytest.fixture
def committed_vault(transactional_db, monkeypatch):
    from vaults.engine import ResticRepository
    from vaults.services import vault_create

    estate = build_estate()
    monkeypatch.setattr(ResticRepository, "init", lambda self: "")  # the editor never touches the repository
    vault = vault_create(actor=estate.alice, resource_group=estate.rg_prod, location=estate.west, name="vault-e2e")
    return vault


def sign_in(page, username: str) -> None:
    page.goto("/login/")
    page.get_by_label("User name").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r".*/$"))


@pytest.mark.django_db(transaction=True)
def test_alice_builds_an_hourly_policy_watching_both_previews(committed_vault, page, screenshot):
    from policies.models import BackupPolicy

    sign_in(page, "alice")
    page.get_by_role("link", name="Backup policies").click()
    page.wait_for_url(re.compile(r".*/policies/.*"))
    page.goto("/action-center/policy/")
    page.get_by_role("link", name="Files").click()
    page.get_by_role("link", name=re.compile("vault-e2e")).click()
    page.wait_for_selector("#schedule-runs")
    assert page.locator("#schedule-runs tbody tr").count() == 10
    page.wait_for_selector("#retention-preview .js-plotly-plot")  # plotly.js from our static files drew it

    page.get_by_label("Name").fill("every-4-hours")
    page.get_by_label("Frequency").select_option("hourly")
    page.get_by_label("Time zone").fill("Europe/Berlin")
    page.get_by_label("Window duration (hours)").fill("12")
    # The preview follows the typing: wait until it shows the 12-hour window in Berlin time.
    page.wait_for_function(
        """() => {
            const head = document.querySelector('#schedule-runs thead');
            const cells = [...document.querySelectorAll('#schedule-runs tbody tr td:nth-child(2)')];
            return head && head.innerText.includes('Europe/Berlin') && cells.length === 10 &&
                cells.every(td => ['08:00', '12:00', '16:00', '20:00'].includes(td.innerText.split(' ')[2]));
        }"""
    )
    page.get_by_label("Weekly points (weeks)").fill("12")
    page.get_by_label("Weekly point taken on").select_option(label="Sunday")
    page.wait_for_selector("#retention-summary:has-text('weekly')")
    screenshot("previews")

    page.get_by_label("Every (hours)").select_option("6")
    page.get_by_label("Window duration (hours)").fill("3")
    page.wait_for_selector("#schedule-preview .bc-preview-errors")
    assert "at least as long as the interval" in page.locator("#schedule-preview").inner_text()
    screenshot("error")

    page.get_by_label("Window duration (hours)").fill("12")
    page.wait_for_selector("#schedule-runs")
    page.get_by_role("button", name="Save policy").click()
    page.wait_for_url(re.compile(r".*/policies/\d+/$"))
    policy = BackupPolicy.objects.get(name="every-4-hours")
    assert policy.schedule["interval_hours"] == 6 and policy.retention["weekly_weekday"] == 6
    assert "Every 6 h from 08:00 for 12 h (Europe/Berlin)" in page.content()
