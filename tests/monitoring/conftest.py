"""Fixtures of the monitoring tests: a protected files datasource over a real folder and a real restic vault, a
way to run a backup exactly as the worker does (vaults.runner), and loopback SMTP and HTTP receivers."""

from __future__ import annotations

import json
import shutil
import socket
import tempfile
import threading
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from django.conf import settings


@dataclass
class Protected:
    vault: object
    datasource: object
    instance: object
    folder: Path


@pytest.fixture
def protected(estate) -> Protected:
    """A files datasource over a real folder, protected in a new vault with a real restic repository."""
    from inventory.services import datasource_create
    from vaults.services import instance_create, vault_create

    alice = estate.users["alice"]
    root = Path(settings.VAR_DIR) / "monitoring-data"
    root.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix="src-", dir=root))
    (folder / "report.txt").write_text("quarterly numbers\n")
    vault = vault_create(
        actor=alice, resource_group=estate.rg_prod, location=estate.west, name=f"vault-{uuid.uuid4().hex[:8]}"
    )
    datasource = datasource_create(
        actor=alice,
        resource_group=estate.rg_prod,
        location=estate.west,
        kind="files",
        name=f"share-{uuid.uuid4().hex[:6]}",
        connection={"paths": [str(folder)]},
    )
    instance = instance_create(actor=alice, datasource=datasource, vault=vault)
    yield Protected(vault=vault, datasource=datasource, instance=instance, folder=folder)
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def backup_job(estate):
    """`backup_job(instance)` → a queued backup job run by vaults.runner.execute_backup, as a worker runs it."""
    from monitoring.choices import Operation
    from monitoring.services import job_create
    from vaults.runner import execute_backup

    def run(instance):
        job = job_create(
            actor=estate.users["alice"],
            operation=Operation.BACKUP,
            scope=instance,
            subject=str(instance.datasource),
            instance=instance,
            datasource=instance.datasource,
            datasource_kind=instance.datasource.kind,
        )
        return execute_backup(job.pk)

    return run


@dataclass
class Receiver:
    """A loopback HTTP server recording every request; `script` lists the status codes to answer in order."""

    url: str
    requests: list = field(default_factory=list)
    script: list = field(default_factory=list)


@pytest.fixture
def webhook_receiver():
    received = Receiver(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            received.requests.append(
                {"headers": {k.lower(): v for k, v in self.headers.items()}, "body": body, "json": json.loads(body)}
            )
            status = received.script.pop(0) if received.script else 200
            self.send_response(status)
            self.end_headers()
            self.wfile.write(b"ok" if status < 400 else b"try again")

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    received.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    yield received
    server.shutdown()
    server.server_close()


@pytest.fixture
def smtp_server(settings):
    """A real SMTP server (aiosmtpd) on loopback; Django's SMTP backend is pointed at it."""
    from aiosmtpd.controller import Controller

    messages: list = []

    class Handler:
        async def handle_DATA(self, server, session, envelope):
            messages.append(
                {"from": envelope.mail_from, "to": list(envelope.rcpt_tos), "data": envelope.content.decode()}
            )
            return "250 OK"

    with socket.socket() as probe:  # aiosmtpd checks readiness by connecting, so it needs a concrete port
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(Handler(), hostname="127.0.0.1", port=port)
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = port
    settings.EMAIL_USE_TLS = False
    yield messages
    controller.stop()
