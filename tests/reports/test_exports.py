"""Every report tab opens and exports to CSV, XLSX and PDF; the files hold the rows, read back with csv, openpyxl
and pypdf; a reader gets only their scope (fabrikam's rows would make these tests fail); large exports run as a
job with a download link; the API serves the same files."""

import csv
import io
from datetime import timedelta

import pytest
from django.utils import timezone
from openpyxl import load_workbook
from pypdf import PdfReader

from monitoring.reports.choices import Tab

pytestmark = pytest.mark.django_db
SECRET = "fabrikam-only"  # appears in every fabrikam row: vault, datasource, policy, job subject, assignment
TABS = [t.value for t in Tab]


@pytest.fixture
def report_estate(estate):
    """Both tenants hold a vault, a policy, an instance with recovery points, jobs and compliance results."""
    from monitoring.models import Job
    from policies.governance.evaluation import evaluate
    from policies.governance.services import assignment_create
    from policies.models import BackupPolicy
    from vaults.models import BackupInstance, RecoveryPoint, Vault

    now = timezone.now()
    made = {}
    for where, rg, ds, name in (
        ("inside", estate.rg_prod, estate.ds_prod, "prod-vault"),
        ("outside", estate.rg_fab, estate.ds_fab, f"{SECRET}-vault"),
    ):
        vault = Vault.objects.create(resource_group=rg, location=estate.west, name=name)
        policy = BackupPolicy.objects.create(
            vault=vault,
            name=f"{SECRET}-policy" if where == "outside" else "prod-policy",
            datasource_kind="files",
            schedule={"frequency": "daily", "times": ["02:00"], "timezone": "UTC"},
            retention={"daily_count": 400, "timezone": "UTC"},
        )
        if where == "outside":
            ds.name = f"{SECRET}-share"
            ds.save()
        instance = BackupInstance.objects.create(datasource=ds, vault=vault, policy=policy)
        BackupInstance.objects.filter(pk=instance.pk).update(created=now - timedelta(days=200))
        for days in (1, 2, 150):
            RecoveryPoint.objects.create(
                instance=instance,
                snapshot_id=f"{where}{days}".ljust(64, "0"),
                created=now - timedelta(days=days),
                size=1000,
                data_added=100 * days,
            )
        for status in ("completed", "failed"):
            Job.objects.create(
                operation="backup",
                status=status,
                instance=instance,
                vault=vault,
                tenant_id=vault.tenant_id,
                subscription_id=vault.subscription_id,
                resource_group_id=vault.resource_group_id,
                datasource_kind="files",
                subject=ds.name,
                error_code="source_unreadable" if status == "failed" else "",
                started=now - timedelta(hours=3),
                ended=now - timedelta(hours=2),
            )
        made[where] = {"vault": vault, "policy": policy, "instance": instance}
    for tenant, name in ((estate.contoso, "contoso backups"), (estate.fabrikam, f"{SECRET} backups")):
        assignment_create(actor=estate.users["admin"], scope=tenant, definition_key="backup_enabled", name=name)
    evaluate()
    return made


@pytest.mark.parametrize("tab", TABS)
def test_every_tab_page_renders_for_a_reader_without_other_tenants(report_estate, client_for, tab):
    response = client_for("bob").get(f"/reports/{tab}/?days=400")
    assert response.status_code == 200
    assert SECRET not in response.content.decode()


@pytest.mark.parametrize("tab", TABS)
def test_csv_exports_hold_the_readers_rows_only(report_estate, client_for, tab):
    response = client_for("bob").get(f"/reports/{tab}/export.csv?days=400")
    assert response.status_code == 200
    text = b"".join(response.streaming_content).decode()
    rows = list(csv.reader(io.StringIO(text)))
    assert rows, "the CSV has a header at least"
    assert SECRET not in text
    if tab in ("backup_items", "jobs", "adherence"):
        assert any("share-prod" in cell for row in rows for cell in row)


@pytest.mark.parametrize("tab", TABS)
def test_xlsx_exports_have_a_header_sheet_typed_cells_and_no_foreign_rows(report_estate, client_for, tab):
    response = client_for("bob").get(f"/reports/{tab}/export.xlsx?days=400")
    assert response.status_code == 200
    book = load_workbook(io.BytesIO(response.content))
    assert book.sheetnames[0] == "Report"
    header = {row[0]: row[1] for row in book["Report"].iter_rows(values_only=True)}
    assert {"Report", "Scope", "Filters", "Generated (UTC)"} <= set(header)
    every = [v for sheet in book for row in sheet.iter_rows(values_only=True) for v in row if v is not None]
    assert not any(SECRET in str(v) for v in every)
    if tab == "backup_items":
        sheet = book["Backup items"]
        rows = list(sheet.iter_rows(values_only=True))
        assert rows[0][0] == "Backup item" and rows[1][0] == "share-prod"
        assert rows[1][10] == 3 and isinstance(rows[1][11], int), "recovery points and bytes are numbers"
        assert rows[1][9] is None or hasattr(rows[1][9], "year")


@pytest.mark.parametrize("tab", ["summary", "backup_items", "jobs", "compliance", "adherence"])
def test_pdf_exports_contain_the_rows_as_text(report_estate, client_for, tab):
    response = client_for("bob").get(f"/reports/{tab}/export.pdf?days=400")
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    text = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(response.content)).pages)
    assert "Backup report" in text
    assert SECRET not in text
    if tab in ("backup_items", "jobs", "adherence"):
        assert "share-prod" in text
    if tab == "compliance":
        assert "contoso backups" in text


def test_the_administrator_sees_both_tenants(report_estate, client_for):
    text = b"".join(client_for("admin").get("/reports/backup_items/export.csv").streaming_content).decode()
    assert "share-prod" in text and f"{SECRET}-share" in text


def test_the_api_serves_json_and_files_with_the_same_scope(report_estate, api_for):
    api = api_for("bob")
    data = api.get("/api/monitoring/reports/backup_items/").json()
    assert [row["datasource"] for row in data["tables"][0]["rows"]] == ["share-prod"]
    response = api.get("/api/monitoring/reports/jobs/?format=xlsx")
    assert response.status_code == 200
    book = load_workbook(io.BytesIO(response.content))
    assert SECRET not in str([c for s in book for r in s.iter_rows(values_only=True) for c in r])
    assert api_for("anon").get("/api/monitoring/reports/jobs/?format=csv").status_code in (401, 403)


def test_a_large_export_runs_as_a_job_with_progress_and_a_download(
    report_estate, client_for, settings, django_capture_on_commit_callbacks
):
    settings.BACKUPCENTER_EXPORT_SYNC_ROWS = 0
    client = client_for("bob")
    with django_capture_on_commit_callbacks(execute=True):
        response = client.get("/reports/backup_items/export.xlsx")
    assert response.status_code == 302 and "/reports/exports/" in response["Location"]
    page = client.get(response["Location"])
    assert "Completed" in page.content.decode()
    from monitoring.reports.models import ReportExport

    export = ReportExport.objects.get()
    assert export.job.status == "completed" and export.job.percent == 100
    download = client.get(f"/reports/exports/{export.pk}/download/")
    book = load_workbook(io.BytesIO(b"".join(download.streaming_content)))
    assert [r[0] for r in book["Backup items"].iter_rows(values_only=True)] == ["Backup item", "share-prod"]
    assert client_for("alice").get(f"/reports/exports/{export.pk}/download/").status_code == 404
