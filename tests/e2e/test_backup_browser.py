"""Alice protects a real folder from the browser, runs Backup now, watches the job's progress bar reach
Completed (a real Celery worker consuming from Redis runs restic), and restores one file."""

import os
import re
from pathlib import Path

import pytest
from celery.contrib.testing.worker import start_worker

from backupcenter.celery import app as celery_app
from tests.conftest import PASSWORD, build_estate


@pytest.fixture
def real_worker(settings):
    """A real Celery worker (in this process, so it sees the test database) on a real Redis broker.

    On SQLite the in-memory test database cannot be shared with a worker thread, so jobs run eagerly when the
    page queues them; on PostgreSQL (CI) a worker consumes them from Redis while the page polls."""
    from django.db import connection

    if connection.vendor == "sqlite":
        yield
        return
    broker = os.environ.get("CELERY_BROKER_URL") or "redis://127.0.0.1:6379/0"
    previous = {"task_always_eager": celery_app.conf.task_always_eager, "broker_url": celery_app.conf.broker_url}
    settings.CELERY_TASK_ALWAYS_EAGER = False
    celery_app.conf.update(task_always_eager=False, broker_url=broker)
    _drop_producer_pool()
    with start_worker(
        celery_app, pool="solo", queues=["default", "host.local"], perform_ping_check=False, shutdown_timeout=30
    ):
        yield
    celery_app.conf.update(task_always_eager=previous["task_always_eager"], broker_url=previous["broker_url"])
    _drop_producer_pool()


def _drop_producer_pool() -> None:
    """Forget the broker connection pools made for the previous broker URL; the next publish opens new ones.

    They are not closed: kombu keeps producer pools per connection, and a closed pool would be handed out again."""
    celery_app._pool = None
    celery_app.amqp._producer_pool = None


@pytest.fixture
def protected_estate(transactional_db, settings, tmp_path):
    from core.permissions import SystemActor
    from vaults.services import vault_create

    settings.BACKUPCENTER_VAULT_ROOT = tmp_path / "vaults"
    settings.BACKUPCENTER_RESTORE_ROOTS = [str(tmp_path / "restores")]
    (tmp_path / "restores").mkdir()
    estate = build_estate()
    source = Path(estate.ds_prod.connection["paths"][0])
    (source / "docs").mkdir()
    (source / "docs" / "report.txt").write_text("quarterly report\n" * 1000)
    (source / "big.bin").write_bytes(os.urandom(3 * 1024 * 1024))
    vault = vault_create(actor=SystemActor(), resource_group=estate.rg_prod, location=estate.west, name="vault-prod")
    return estate, vault, source, tmp_path / "restores"


def sign_in(page, username: str) -> None:
    page.goto("/login/")
    page.get_by_label("User name").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r".*/$"))


def wait_for_job_end(page) -> str:
    status = page.locator("#job-progress .job-status")
    page.wait_for_function(
        "() => !['Queued', 'In progress'].includes(document.querySelector('#job-progress .job-status').innerText)",
        timeout=60_000,
    )
    return status.inner_text()


@pytest.mark.django_db(transaction=True)
def test_alice_backs_up_a_folder_from_the_browser_and_restores_one_file(
    protected_estate, real_worker, page, screenshot, live_server
):
    """GIVEN alice (contributor on prod), a real folder datasource share-prod and an empty vault in its region
    WHEN she uses + Backup (type → datasource → vault), presses Backup now, watches the job and then restores
    docs/report.txt alone into a restore folder
    THEN the progress bar reaches 100 % with status Completed, a recovery point is listed, and the restored file has
    the same bytes as the source while nothing else was restored."""
    estate, vault, source, restores = protected_estate
    sign_in(page, "alice")
    page.get_by_role("toolbar", name="Action center").get_by_role("link", name="Backup").click()
    page.wait_for_url("**/vaults/instances/add/")
    wizard = page.locator("#wizard")
    wizard.get_by_label("Datasource type").select_option("files")
    datasource = page.locator("#wizard").get_by_label("Datasource", exact=True)
    datasource.select_option(label=f"share-prod · rg-prod · {estate.west}")
    page.locator("#wizard").get_by_label("Vault").select_option(label="vault-prod")
    screenshot("configure")
    page.get_by_role("button", name="Enable backup").click()
    page.wait_for_url(re.compile(r".*/vaults/instances/\d+/$"))
    assert page.get_by_text("is now protected in vault-prod").is_visible()

    page.get_by_role("button", name="Backup now").click()
    page.wait_for_url(re.compile(r".*/monitoring/jobs/\d+/$"))
    assert wait_for_job_end(page) == "Completed"
    assert page.locator("#job-progress .progress-bar").inner_text().strip() == "100%"
    screenshot("backup-completed")

    page.get_by_role("link", name="share-prod").click()
    assert page.locator("table tbody tr[id^=rp-]").count() == 1
    page.get_by_role("link", name="Restore").first.click()
    page.get_by_label("Restore to").select_option("alternate")
    page.get_by_label("Target folder or file").fill(str(restores / "one"))
    page.get_by_label("Items to restore").fill(str(source / "docs" / "report.txt"))
    screenshot("restore-form")
    page.get_by_role("button", name="Restore").click()
    page.wait_for_url(re.compile(r".*/monitoring/jobs/\d+/$"))
    assert wait_for_job_end(page) == "Completed"
    screenshot("restore-completed")

    restored = restores / "one" / str(source).lstrip("/") / "docs" / "report.txt"
    assert restored.read_bytes() == (source / "docs" / "report.txt").read_bytes()
    assert not (restores / "one" / str(source).lstrip("/") / "big.bin").exists()
