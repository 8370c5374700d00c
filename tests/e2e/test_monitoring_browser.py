"""Alice in a real browser: Overview's failed-backups number → the filtered Jobs list → the alert → acknowledged."""

import re

import pytest

from tests.conftest import build_estate
from tests.e2e.test_inventory_browser import sign_in


@pytest.fixture
def failed_backup(transactional_db):
    from monitoring.alerts import job_alert_raise
    from monitoring.choices import JobStatus, Operation
    from monitoring.services import job_create
    from tests.monitoring.test_views import vault_row

    estate = build_estate()
    vault = vault_row(estate.rg_prod, estate.west, "vault-payroll")
    job = job_create(
        actor=estate.users["alice"],
        operation=Operation.BACKUP,
        scope=vault,
        subject="payroll-share",
        status=JobStatus.FAILED,
        error_code="source_missing",
        message="restic backup failed (exit code 1): Fatal: all source directories/files do not exist",
    )
    job_create(actor=estate.users["alice"], operation=Operation.BACKUP, scope=vault, subject="hr-share",
               status=JobStatus.COMPLETED)  # fmt: skip
    alert = job_alert_raise(job, "source_missing")
    return estate, job, alert


@pytest.mark.django_db(transaction=True)
def test_alice_drills_from_the_overview_tile_to_the_failed_job_and_acknowledges_its_alert(
    failed_backup, page, screenshot
):
    """GIVEN one failed and one completed backup in alice's scope, and the failed one's Sev1 alert
    WHEN she clicks the failed-backups number on Overview, then opens Alerts and acknowledges the alert
    THEN the jobs list shows only the failed job, and the alert's state becomes Acknowledged."""
    _, job, alert = failed_backup
    sign_in(page, "alice")
    tile = page.locator('[data-tile="jobs-backup-failed"]')
    assert tile.inner_text() == "1"
    assert page.locator('[data-tile="alerts-configured-sev1"]').inner_text() == "1"
    page.locator("#metric-chart").wait_for()
    screenshot("overview")

    tile.click()
    page.wait_for_url(re.compile(r".*/monitoring/jobs/\?operation=backup&status=failed&range=24h"))
    rows = page.locator("#table-container tbody tr")
    assert rows.count() == 1 and "payroll-share" in rows.first.inner_text()
    screenshot("failed-jobs")

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Alerts").click()
    page.wait_for_url("**/monitoring/alerts/")
    page.get_by_role("link", name="Backup failure").click()
    page.wait_for_url(f"**/monitoring/alerts/{alert.pk}/")
    assert "no longer exists" in page.locator("main").inner_text()
    page.get_by_role("button", name="Acknowledge").click()
    page.wait_for_url(f"**/monitoring/alerts/{alert.pk}/")
    assert page.locator(".alert-state").inner_text() == "Acknowledged"
    screenshot("acknowledged")
