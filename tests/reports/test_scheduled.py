"""A scheduled report arrives, with its attachment, at a real SMTP server on loopback (aiosmtpd); it holds only
the rows its owner may see; a due report is sent once even when beat ticks twice."""

import email
import io
import socket
from datetime import timedelta

import pytest
from aiosmtpd.controller import Controller
from django.utils import timezone
from openpyxl import load_workbook

from tests.reports.test_exports import SECRET, report_estate  # noqa: F401 - the fixture

pytestmark = pytest.mark.django_db


class Inbox:
    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
        self.messages.append((envelope.rcpt_tos, email.message_from_bytes(envelope.content)))
        return "250 OK"


@pytest.fixture
def smtp(settings):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", port
    settings.EMAIL_USE_TLS, settings.EMAIL_HOST_USER, settings.EMAIL_HOST_PASSWORD = False, "", ""
    yield inbox
    controller.stop()


def test_a_scheduled_xlsx_report_is_mailed_through_smtp_with_only_the_owners_rows(report_estate, estate, smtp):  # noqa: F811
    from monitoring.reports.models import ScheduledReport
    from monitoring.reports.services import scheduled_report_create, send_due_reports

    schedule = scheduled_report_create(
        actor=estate.users["bob"],
        scope=estate.prod,
        name="Weekly items",
        tab="backup_items",
        format="xlsx",
        frequency="weekly",
        recipients="auditor@example.com, cfo@example.com",
    )
    assert send_due_reports() == 1
    assert send_due_reports() == 0, "claimed: not sent again before its next run"
    [(recipients, message)] = smtp.messages
    assert sorted(recipients) == ["auditor@example.com", "cfo@example.com"]
    assert message["Subject"] == "Backup report: Weekly items"
    [attachment] = [part for part in message.walk() if part.get_filename()]
    assert attachment.get_filename().endswith(".xlsx")
    book = load_workbook(io.BytesIO(attachment.get_payload(decode=True)))
    names = [row[0] for row in book["Backup items"].iter_rows(values_only=True)]
    assert names == ["Backup item", "share-prod"]
    assert SECRET not in str([c for s in book for r in s.iter_rows(values_only=True) for c in r])
    schedule.refresh_from_db()
    assert schedule.last_status == "sent"
    assert schedule.next_run_at > timezone.now() + timedelta(days=6)
    assert ScheduledReport.objects.count() == 1


def test_the_schedule_page_creates_a_report_and_refuses_bad_addresses(report_estate, estate, client_for):  # noqa: F811
    client = client_for("bob")
    data = {
        "name": "daily",
        "scope": f"subscription:{estate.prod.pk}",
        "tab": "jobs",
        "format": "csv",
        "frequency": "daily",
        "recipients": "not-an-address",
        "days": 7,
    }
    assert "is not an email address" in client.post("/reports/schedules/", data).content.decode()
    data["recipients"] = "ops@example.com"
    assert client.post("/reports/schedules/", data).status_code == 302
    assert "ops@example.com" in client.get("/reports/schedules/").content.decode()
    assert "ops@example.com" not in client_for("charlie").get("/reports/schedules/").content.decode()
