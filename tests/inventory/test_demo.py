"""The demo estate: idempotent, two tenants and three subscriptions over real data."""

from io import StringIO
from pathlib import Path

import pytest

from core.models import ChangeRecord
from inventory import demo
from inventory.models import Connector, Datasource, Location, ResourceGroup, RoleAssignment, Subscription, Tenant

MODELS = (Tenant, Subscription, ResourceGroup, Location, Connector, Datasource, RoleAssignment, ChangeRecord)


def counts() -> dict:
    return {model.__name__: model.objects.count() for model in MODELS}


@pytest.fixture
def no_demo_postgres(monkeypatch):
    """Keep the demo off the shared PostgreSQL server: nothing answers on port 1."""
    monkeypatch.setenv("DEMO_PGPORT", "1")


def test_the_demo_seed_is_idempotent_and_builds_the_estate_over_real_files(db, no_demo_postgres, settings, tmp_path):
    """GIVEN an empty database and an empty demo data folder
    WHEN the seed runs twice
    THEN the second run adds nothing, and the estate has 2 tenants, 3 subscriptions, paired regions, the personas
    and datasources whose paths and files exist on disk."""
    settings.BACKUPCENTER_DEMO_DATA = tmp_path / "demo-data"
    out = StringIO()
    first_result = demo.seed(stdout=out)
    first = counts()
    second_result = demo.seed(stdout=StringIO())
    assert counts() == first
    assert first_result["files_written"] == 3000 and second_result["files_written"] == 0
    assert "No PostgreSQL server answered" in out.getvalue()

    assert (first["Tenant"], first["Subscription"], first["ResourceGroup"], first["Location"]) == (2, 3, 5, 4)
    assert set(Tenant.objects.values_list("name", flat=True)) == {"contoso", "fabrikam"}
    west = Location.objects.get(name="west-europe")
    assert west.paired_region.name == "north-europe" and west.paired_region.paired_region == west

    root = tmp_path / "demo-data"
    files = Datasource.objects.filter(kind="files")
    assert set(files.values_list("name", flat=True)) == {"documents", "photos", "projects"}
    for ds in files:
        assert all(Path(p).is_dir() and any(Path(p).rglob("file-*")) for p in ds.connection["paths"])
    assert sum(1 for _ in (root / "files").rglob("file-*")) == 3000
    sqlite = Datasource.objects.get(kind="sqlite")
    assert Path(sqlite.connection["path"]).is_file() and sqlite.tenant.name == "fabrikam"

    roles = {(a.user.username, a.role, str(a.scope_object)) for a in RoleAssignment.objects.all()}
    assert ("alice", "contributor", "prod") in roles and ("bob", "reader", "prod") in roles
    assert ("sam", "security_admin", "contoso") in roles
    assert (Path(settings.VAR_DIR) / "demo-password").stat().st_mode & 0o777 == 0o600


def test_the_seed_demo_command_reports_ready(db, no_demo_postgres):
    from django.core.management import call_command

    out = StringIO()
    call_command("seed_demo", stdout=out)
    assert "Demo estate ready." in out.getvalue()
