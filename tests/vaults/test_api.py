"""The REST API of vaults, keys, backup instances and recovery points: a permission matrix over every endpoint and
action, field errors and domain refusals, query budgets on lists, secrets never returned, and a real backup and
restore driven only through the API."""

import filecmp
import os
import re
import secrets as pysecrets
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import resolve, reverse
from django.utils import timezone

from core import secrets
from core.models import ChangeRecord
from core.permissions import SystemActor
from inventory.models import Datasource, Location
from monitoring.choices import JobStatus, Operation
from monitoring.models import Job
from monitoring.services import job_create
from tests.matrix import PERSONAS, REFUSED, Row, check_api, named_routes
from vaults.choices import ProtectionState
from vaults.models import BackupInstance, EncryptionKey, RecoveryPoint, StorageLocation, Vault
from vaults.services import instance_create

# Expected outcomes ---------------------------------------------------------------------------------------------------
A_LIST = {"anon": 401, "charlie": 200, "bob": 200, "alice": 200, "admin": 200}
A_DETAIL = {"anon": 401, "charlie": 404, "bob": 200, "alice": 200, "alice_out": 404, "admin": 200}
A_CHANGE = {"anon": 401, "charlie": 404, "bob": 403, "alice": 200, "alice_out": 404, "admin": 200}
A_CREATE = {"anon": 401, "charlie": REFUSED, "bob": REFUSED, "alice": 201, "alice_out": REFUSED, "admin": 201}


def answers(column: dict, code: int) -> dict:
    """The column of an action that answers `code` where the gate lets the caller through."""
    return {p: (code if v == 200 else v) for p, v in column.items()}


# The estate of vaults ------------------------------------------------------------------------------------------------


def make_vault(resource_group, location, name: str, **fields) -> Vault:
    """A vault row with a sealed repository password, without initialising a repository (fast; for reads and
    for operations that only queue work)."""
    vault = Vault(resource_group=resource_group, location=location, name=name, **fields)
    vault.save()
    StorageLocation.objects.create(
        vault=vault,
        url=str(Path(settings.BACKUPCENTER_VAULT_ROOT) / f"{name}-{uuid.uuid4().hex}"),
        sealed_password=secrets.seal(pysecrets.token_hex(32)),
        region=location.name,
    )
    return vault


def make_datasource(resource_group, location, name: str) -> Datasource:
    folder = Path(settings.VAR_DIR) / "api-data" / uuid.uuid4().hex
    folder.mkdir(parents=True)
    (folder / "a.txt").write_text("a\n")
    return Datasource.objects.create(
        resource_group=resource_group, location=location, kind="files", name=name, connection={"paths": [str(folder)]}
    )


def make_point(instance: BackupInstance, **fields) -> RecoveryPoint:
    values = {"snapshot_id": pysecrets.token_hex(32), "created": timezone.now(), "size": 100, "data_added": 40}
    return RecoveryPoint.objects.create(instance=instance, **{**values, **fields})


def add_vaults(estate, restore_root: Path) -> None:
    """Per side (inside = rg-prod, outside = rg-fab): a key, a vault, a protected instance with a recovery point, a
    stopped instance, a queued restore job and a spare datasource to protect."""
    from vaults.services import key_create

    system = SystemActor("test-setup")
    for where, group, ds in (("inside", estate.rg_prod, estate.ds_prod), ("outside", estate.rg_fab, estate.ds_fab)):
        bucket = getattr(estate, where)
        key = key_create(actor=system, resource_group=group, name=f"key-{where}")
        vault = make_vault(group, estate.west, f"vault-{where}")
        instance = instance_create(actor=system, datasource=ds, vault=vault)
        stopped_ds = make_datasource(group, estate.west, f"stopped-{where}")
        stopped = instance_create(actor=system, datasource=stopped_ds, vault=vault)
        BackupInstance.objects.filter(pk=stopped.pk).update(protection_state=ProtectionState.STOPPED_RETAIN_DATA)
        point = make_point(instance)
        job = job_create(
            actor=system, operation=Operation.RESTORE, scope=instance, instance=instance, subject=f"restore {where}"
        )
        bucket.update(
            encryptionkey=key,
            vault=vault,
            backupinstance=instance,
            stoppedinstance=stopped,
            recoverypoint=point,
            stoppedpoint=make_point(stopped),
            job=job,
            spare_datasource=make_datasource(group, estate.west, f"spare-{where}"),
        )
    estate.extra["restore_root"] = restore_root


@pytest.fixture
def isolated_keyring(settings, tmp_path):
    """A keyring of this test only: key ids restart with the database, and `cmk-1-v1` of an earlier test (perhaps
    disabled) must not stand in for this test's key 1."""
    settings.BACKUPCENTER_KEYRING = tmp_path / "keyring.json"
    return settings.BACKUPCENTER_KEYRING


@pytest.fixture
def api_estate(isolated_keyring, estate, settings, tmp_path):
    """The fixed cast plus vaults on both sides; restores may write only below tmp_path/restores."""
    root = tmp_path / "restores"
    root.mkdir()
    settings.BACKUPCENTER_RESTORE_ROOTS = [str(root)]
    add_vaults(estate, root)
    return estate


# The matrix ----------------------------------------------------------------------------------------------------------


def detail_marker(route: str, key: str):
    """A list shows an object when its detail URL is in the body (nested briefs point at other routes)."""
    return lambda e, where: reverse(route, args=[getattr(e, where)[key].pk]) + '"'


def side(e, where):
    return e.outside if where == "outside" else e.inside


def restore_payload(e, where):
    return {
        "recovery_point": side(e, where)["recoverypoint"].pk,
        "target": {"location": "alternate", "path": str(e.restore_root / f"to-{uuid.uuid4().hex[:6]}")},
    }


def longer_policy(e, where):
    """A files policy in the side's vault that keeps more than the default one (moving to it needs no approval)."""
    from policies.services import policy_create

    return policy_create(
        actor=SystemActor("test-setup"),
        vault=side(e, where)["vault"],
        name=f"keep-90-{uuid.uuid4().hex[:6]}",
        datasource_kind="files",
        schedule={"frequency": "daily", "times": ["02:00"], "timezone": "UTC"},
        retention={"daily_count": 90},
    )


APIS: dict[str, Row] = {
    "api:vaults:api-root": Row(expect={"GET": A_LIST}),
    "api:vaults:vault-list": Row(
        expect={"GET": A_LIST, "POST": A_CREATE},
        payload=lambda e, w: {
            "resource_group": (e.rg_fab if w == "outside" else e.rg_prod).pk,
            "location": e.west.pk,
            "name": "vault-new",
        },
        marker=detail_marker("api:vaults:vault-detail", "vault"),
    ),
    "api:vaults:vault-detail": Row(
        target="vault",
        # A vault that protects items refuses deletion (409 vault_not_empty); test_api deletes an empty one.
        expect={"GET": A_DETAIL, "PATCH": A_CHANGE, "DELETE": answers(A_CHANGE, 409)},
        payload=lambda e, w: {"soft_delete_days": 30},
    ),
    "api:vaults:encryptionkey-list": Row(
        expect={"GET": A_LIST, "POST": A_CREATE},
        payload=lambda e, w: {"resource_group": (e.rg_fab if w == "outside" else e.rg_prod).pk, "name": "key-new"},
        marker=detail_marker("api:vaults:encryptionkey-detail", "encryptionkey"),
    ),
    "api:vaults:encryptionkey-detail": Row(target="encryptionkey", expect={"GET": A_DETAIL}),
    "api:vaults:encryptionkey-rotate": Row(target="encryptionkey", expect={"POST": answers(A_CHANGE, 201)}),
    "api:vaults:encryptionkey-enable": Row(target="encryptionkey", expect={"POST": A_CHANGE}),
    "api:vaults:encryptionkey-disable": Row(target="encryptionkey", expect={"POST": A_CHANGE}),
    "api:vaults:backupinstance-list": Row(
        expect={"GET": A_LIST, "POST": A_CREATE},
        payload=lambda e, w: {"datasource": side(e, w)["spare_datasource"].pk, "vault": side(e, w)["vault"].pk},
        marker=detail_marker("api:vaults:backupinstance-detail", "backupinstance"),
    ),
    "api:vaults:backupinstance-detail": Row(target="backupinstance", expect={"GET": A_DETAIL}),
    "api:vaults:backupinstance-backup": Row(target="backupinstance", expect={"POST": answers(A_CHANGE, 201)}),
    "api:vaults:backupinstance-restore": Row(
        target="backupinstance", expect={"POST": answers(A_CHANGE, 201)}, payload=restore_payload
    ),
    "api:vaults:backupinstance-change-policy": Row(
        target="backupinstance", expect={"POST": A_CHANGE}, payload=lambda e, w: {"policy": longer_policy(e, w).pk}
    ),
    "api:vaults:backupinstance-stop-protection": Row(target="backupinstance", expect={"POST": A_CHANGE}),
    "api:vaults:backupinstance-resume-protection": Row(target="stoppedinstance", expect={"POST": A_CHANGE}),
    "api:vaults:recoverypoint-list": Row(
        expect={"GET": A_LIST}, marker=detail_marker("api:vaults:recoverypoint-detail", "recoverypoint")
    ),
    "api:vaults:recoverypoint-detail": Row(target="recoverypoint", expect={"GET": A_DETAIL}),
}


def matrix_cells(table: dict[str, Row]):
    for name, row in table.items():
        for method, column in row.expect.items():
            if not isinstance(column, dict):
                continue
            for persona in PERSONAS:
                if persona in column:
                    yield pytest.param(name, method, persona, id=f"{name}-{method}-{persona}")


def run_cell(estate, api_for, table: dict[str, Row], name: str, method: str, persona: str) -> None:
    """One (route, method, persona) cell: the status the matrix expects, nothing logged when refused, and lists
    that show the inside object to those in scope and the fabrikam object only to the administrator."""
    row = table[name]
    user = "alice" if persona == "alice_out" else persona
    where = "outside" if persona == "alice_out" else "inside"
    client = api_for(user)
    url = reverse(name, args=[side(estate, where)[row.target].pk]) if row.target else reverse(name)
    data = row.payload(estate, where) if row.payload else {}
    before = ChangeRecord.objects.count()
    response = getattr(client, method.lower())(url, data, format="json") if method != "GET" else client.get(url)
    check_api(response, row.expect[method][persona], before, ChangeRecord.objects.count())
    if method == "GET" and row.marker and response.status_code == 200:
        content = response.content.decode().replace(" ", "")
        assert (row.marker(estate, "inside") in content) == (persona in ("bob", "alice", "admin")), "inside object"
        assert (row.marker(estate, "outside") in content) == (persona == "admin"), "fabrikam object"


MINE = {"vault", "encryptionkey", "backupinstance", "recoverypoint"}


def built_here(name: str) -> bool:
    """Whether a route serves an endpoint or action of `vaults.api.views` (others, such as the security actions of
    `vaults.api.security`, have their own matrix)."""
    basename, _, suffix = name.removeprefix("api:vaults:").partition("-")
    if name == "api:vaults:api-root" or (basename in MINE and suffix in ("list", "detail")):
        return True
    if basename not in MINE:
        return False
    view = resolve(reverse(name, args=[1])).func
    handler = getattr(view.cls, next(iter(view.actions.values())))
    return handler.__module__ == "vaults.api.views"


def test_every_vaults_api_route_has_a_row_in_the_matrix():
    routes = named_routes({"api:vaults"}, root_names=False)
    missing = {name for name in routes if built_here(name)} - set(APIS)
    assert not missing, f"add these routes to the permission matrix: {sorted(missing)}"
    assert not set(APIS) - routes, f"the matrix names routes that no longer exist: {sorted(set(APIS) - routes)}"


@pytest.mark.parametrize(("name", "method", "persona"), list(matrix_cells(APIS)))
def test_vaults_api_answers_each_persona_as_the_matrix_says(api_estate, api_for, name, method, persona):
    run_cell(api_estate, api_for, APIS, name, method, persona)


def test_keys_and_instances_cannot_be_edited_or_deleted_through_the_api(api_estate, api_for):
    client = api_for("alice")
    for route, key in (
        ("api:vaults:encryptionkey-detail", "encryptionkey"),
        ("api:vaults:backupinstance-detail", "backupinstance"),
    ):
        url = reverse(route, args=[api_estate.inside[key].pk])
        assert client.patch(url, {"name": "x"}, format="json").status_code == 405
        assert client.delete(url).status_code == 405


# Vaults --------------------------------------------------------------------------------------------------------------


def vault_payload(estate, **fields) -> dict:
    return {"resource_group": estate.rg_prod.pk, "location": estate.west.pk, "name": "vault-x", **fields}


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"soft_delete_days": 5}, "soft_delete_days"),
        ({"encryption": "customer_managed"}, "encryption_key"),
        ({"cross_region_restore": True}, "cross_region_restore"),
        ({"immutability": "locked"}, "immutability"),
        ({"redundancy": "XYZ"}, "redundancy"),
    ],
    ids=["soft-delete-5-days", "cmk-without-key", "crr-without-grs", "locked", "bad"],
)
def test_it_refuses_invalid_vault_settings_with_field_errors(api_estate, api_for, fields, field):
    response = api_for("alice").post(reverse("api:vaults:vault-list"), vault_payload(api_estate, **fields), "json")
    assert response.status_code == 400, response.content
    assert field in response.json()
    assert not Vault.objects.filter(name="vault-x").exists()


def test_it_refuses_geo_redundancy_in_a_location_without_a_paired_region(api_estate, api_for):
    lonely = Location.objects.create(name="lonely-region", display_name="Lonely")
    payload = vault_payload(api_estate, location=lonely.pk, redundancy="GRS")
    response = api_for("alice").post(reverse("api:vaults:vault-list"), payload, format="json")
    assert response.status_code == 400
    assert "no paired region" in response.json()["redundancy"][0]
    payload["redundancy"] = "LRS"
    assert api_for("alice").post(reverse("api:vaults:vault-list"), payload, format="json").status_code == 201


def test_it_creates_a_vault_with_a_customer_managed_key_and_never_returns_the_storage_credentials(
    api_estate, api_for, tmp_path
):
    """GIVEN alice's key WHEN she creates a vault with it, a repository path and backend credentials THEN the
    repository is initialised, the key is embedded in brief form and neither credentials nor password come back."""
    from django.conf import settings

    key = api_estate.inside["encryptionkey"]
    repo = Path(settings.BACKUPCENTER_VAULT_ROOT) / f"custom-{tmp_path.name}"
    env = {"AWS_SECRET_ACCESS_KEY": "s3cr3t-env-value-1234"}
    response = api_for("alice").post(
        reverse("api:vaults:vault-list"),
        vault_payload(
            api_estate, encryption="customer_managed", encryption_key=key.pk, storage_url=str(repo), storage_env=env
        ),
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["encryption_key"]["id"] == key.pk
    assert body["storage"] == str(repo)
    assert (repo / "config").exists()
    assert "storage_env" not in body and "storage_url" not in body
    storage = StorageLocation.objects.get(vault_id=body["id"])
    password = secrets.unseal(storage.sealed_password)
    assert secrets.sealed_key_id(storage.sealed_password) == key.keyring_id()
    detail = api_for("alice").get(body["url"]).content.decode()
    for secret in (password, "s3cr3t-env-value-1234", storage.sealed_password, storage.sealed_env):
        assert secret not in response.content.decode() and secret not in detail


def test_it_hides_credentials_inside_a_backend_url():
    from vaults.api.serializers import redact_repository

    assert (
        redact_repository("rest:https://user:pa55@backup.example:8000/repo") == "rest:https://backup.example:8000/repo"
    )
    assert redact_repository("/srv/vaults/contoso-1") == "/srv/vaults/contoso-1"


def test_it_refuses_a_key_the_user_cannot_see(api_estate, api_for):
    outside_key = api_estate.outside["encryptionkey"]
    response = api_for("alice").post(
        reverse("api:vaults:vault-list"),
        vault_payload(api_estate, encryption="customer_managed", encryption_key=outside_key.pk),
        format="json",
    )
    assert response.status_code == 400
    assert "encryption_key" in response.json()


def test_a_vault_keeps_its_resource_group_and_reports_field_errors_on_update(api_estate, api_for):
    vault = api_estate.inside["vault"]
    client = api_for("admin")
    url = reverse("api:vaults:vault-detail", args=[vault.pk])
    response = client.patch(url, {"resource_group": api_estate.rg_dev.pk, "soft_delete_days": 60}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["resource_group"]["id"] == api_estate.rg_prod.pk
    assert response.json()["soft_delete_days"] == 60
    # Protecting an item locks redundancy.
    response = client.patch(url, {"redundancy": "ZRS"}, format="json")
    assert response.status_code == 400 and "redundancy" in response.json()


def test_it_deletes_an_empty_vault_and_refuses_one_that_protects_items(api_estate, api_for):
    client = api_for("alice")
    empty = make_vault(api_estate.rg_prod, api_estate.west, "vault-empty")
    assert client.delete(reverse("api:vaults:vault-detail", args=[empty.pk])).status_code == 204
    assert not Vault.objects.filter(pk=empty.pk).exists()
    response = client.delete(reverse("api:vaults:vault-detail", args=[api_estate.inside["vault"].pk]))
    assert response.status_code == 409 and response.json()["code"] == "vault_not_empty"


def test_vault_usage_sums_bytes_added_by_tier_and_counts_instances_and_points(api_estate, api_for):
    vault, instance = api_estate.inside["vault"], api_estate.inside["backupinstance"]
    make_point(instance, data_added=1000, tier="archive")
    make_point(instance, data_added=7, state="deleted")
    usage = api_for("bob").get(reverse("api:vaults:vault-detail", args=[vault.pk])).json()["usage"]
    # Two points of 40 bytes exist already (one per instance); the deleted point no longer holds data.
    assert usage == {
        "bytes_standard": 80,
        "bytes_archive": 1000,
        "bytes_rehydrated": 0,
        "bytes_total": 1080,
        "instances": 2,
        "recovery_points": 3,
    }


def test_brief_mode_returns_only_id_url_and_display(api_estate, api_for):
    body = api_for("bob").get(reverse("api:vaults:vault-list") + "?brief=1").json()
    assert body["results"] == [
        {"id": api_estate.inside["vault"].pk, "url": body["results"][0]["url"], "display": "vault-inside"}
    ]


# Keys ----------------------------------------------------------------------------------------------------------------


def test_rotating_a_key_returns_its_job_and_a_disabled_key_refuses_rotation(api_estate, api_for):
    key = api_estate.inside["encryptionkey"]
    client = api_for("alice")
    response = client.post(reverse("api:vaults:encryptionkey-rotate", args=[key.pk]))
    assert response.status_code == 201
    assert response.json()["operation"] == Operation.ROTATE_KEY and response.json()["status"] == JobStatus.COMPLETED
    detail = client.get(reverse("api:vaults:encryptionkey-detail", args=[key.pk])).json()
    assert detail["current_version"] == 2
    response = client.post(reverse("api:vaults:encryptionkey-disable", args=[key.pk]))
    assert response.status_code == 200 and response.json()["enabled"] is False
    response = client.post(reverse("api:vaults:encryptionkey-rotate", args=[key.pk]))
    assert response.status_code == 409 and response.json()["code"] == "key_disabled"
    assert client.post(reverse("api:vaults:encryptionkey-enable", args=[key.pk])).json()["enabled"] is True


# Backup instances ----------------------------------------------------------------------------------------------------


def test_configuring_backup_returns_the_instance_with_its_datasource_kind_and_default_policy(api_estate, api_for):
    spare = api_estate.inside["spare_datasource"]
    response = api_for("alice").post(
        reverse("api:vaults:backupinstance-list"),
        {"datasource": spare.pk, "vault": api_estate.inside["vault"].pk, "selection": {"excludes": ["*.tmp"]}},
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["datasource"] == {
        "id": spare.pk,
        "url": body["datasource"]["url"],
        "display": spare.name,
        "kind": "files",
    }
    assert body["policy"]["display"] == "DailyPolicy-files"
    assert body["selection"] == {"excludes": ["*.tmp"]}
    assert body["protection_state"] == "protected" and body["latest_recovery_point"] is None


def test_a_second_instance_for_the_same_datasource_is_a_field_error(api_estate, api_for):
    response = api_for("alice").post(
        reverse("api:vaults:backupinstance-list"),
        {"datasource": api_estate.ds_prod.pk, "vault": api_estate.inside["vault"].pk},
        format="json",
    )
    assert response.status_code == 400 and "datasource" in response.json()


def test_instances_show_their_newest_available_recovery_point(api_estate, api_for):
    instance = api_estate.inside["backupinstance"]
    newest = make_point(instance)
    make_point(instance, state="soft_deleted", created=timezone.now() + timedelta(hours=1))
    body = api_for("bob").get(reverse("api:vaults:backupinstance-detail", args=[instance.pk])).json()
    assert body["latest_recovery_point"]["id"] == newest.pk
    assert body["latest_recovery_point"]["display"] == str(newest)


def test_a_second_backup_while_one_is_queued_is_a_conflict(api_estate, api_for):
    client = api_for("alice")
    url = reverse("api:vaults:backupinstance-backup", args=[api_estate.inside["backupinstance"].pk])
    first = client.post(url, {}, format="json")
    assert first.status_code == 201 and first.json()["status"] == JobStatus.QUEUED
    second = client.post(url, {}, format="json")
    assert second.status_code == 409
    assert second.json()["code"] == "backup_in_progress"
    assert f"#{first.json()['id']}" in second.json()["detail"]


def test_backup_takes_an_optional_retain_until_in_the_future(api_estate, api_for):
    client = api_for("alice")
    url = reverse("api:vaults:backupinstance-backup", args=[api_estate.inside["backupinstance"].pk])
    past = client.post(url, {"retain_until": "2001-01-01T00:00:00Z"}, format="json")
    assert past.status_code == 400 and "retain_until" in past.json()
    assert client.post(url, {"retain_until": "not a date"}, format="json").status_code == 400
    later = (timezone.now() + timedelta(days=30)).isoformat()
    response = client.post(url, {"retain_until": later}, format="json")
    assert response.status_code == 201 and response.json()["params"]["retain_until"]


def test_a_stopped_instance_refuses_backups_until_protection_resumes(api_estate, api_for):
    client = api_for("alice")
    instance = api_estate.inside["backupinstance"]
    response = client.post(reverse("api:vaults:backupinstance-stop-protection", args=[instance.pk]))
    assert response.status_code == 200 and response.json()["protection_state"] == "stopped_retain_data"
    again = client.post(reverse("api:vaults:backupinstance-stop-protection", args=[instance.pk]))
    assert again.status_code == 409 and again.json()["code"] == "already_stopped"
    backup = client.post(reverse("api:vaults:backupinstance-backup", args=[instance.pk]), {}, format="json")
    assert backup.status_code == 409 and backup.json()["code"] == "not_protected"
    response = client.post(reverse("api:vaults:backupinstance-resume-protection", args=[instance.pk]))
    assert response.status_code == 200 and response.json()["protection_state"] == "protected"


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        (
            lambda e: {
                "recovery_point": e.inside["recoverypoint"].pk,
                "target": {"location": "alternate", "path": "/tmp/x"},
            },
            "path",
        ),
        (
            lambda e: {
                "recovery_point": e.inside["recoverypoint"].pk,
                "target": {"location": "alternate", "path": str(e.restore_root / ".." / "escape")},
            },
            "path",
        ),
        (
            lambda e: {
                "recovery_point": e.inside["recoverypoint"].pk,
                "target": {"location": "original", "owner": "x"},
            },
            "target",
        ),
        (lambda e: {"recovery_point": e.inside["recoverypoint"].pk, "target": "alternate"}, "target"),
        (
            lambda e: {"recovery_point": e.inside["stoppedpoint"].pk, "target": {"location": "original"}},
            "recovery_point",
        ),
        (
            lambda e: {"recovery_point": e.outside["recoverypoint"].pk, "target": {"location": "original"}},
            "recovery_point",
        ),
        (lambda e: {"target": {"location": "original"}}, "recovery_point"),
    ],
    ids=[
        "outside-restore-roots",
        "dot-dot",
        "unknown-target-field",
        "target-not-object",
        "point-of-another-instance",
        "point-out-of-scope",
        "no-point",
    ],
)
def test_it_refuses_invalid_restores_with_field_errors(api_estate, api_for, payload, field):
    url = reverse("api:vaults:backupinstance-restore", args=[api_estate.inside["backupinstance"].pk])
    before = Job.objects.count()
    response = api_for("alice").post(url, payload(api_estate), format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()
    assert Job.objects.count() == before


# Recovery points -----------------------------------------------------------------------------------------------------


def test_recovery_points_filter_by_instance_and_state(api_estate, api_for):
    instance = api_estate.inside["backupinstance"]
    make_point(instance, state="soft_deleted")
    client = api_for("bob")
    url = reverse("api:vaults:recoverypoint-list")
    assert client.get(url, {"instance": instance.pk}).json()["count"] == 2
    body = client.get(url, {"instance": instance.pk, "state": "available"}).json()
    assert [p["id"] for p in body["results"]] == [api_estate.inside["recoverypoint"].pk]
    point = body["results"][0]
    assert point["instance"]["id"] == instance.pk and point["vault"]["display"] == "vault-inside"
    assert set(point) >= {"snapshot_id", "size", "data_added", "file_count", "tier", "on_demand", "expires_at"}


# Query budgets -------------------------------------------------------------------------------------------------------


def grow(estate, count: int) -> None:
    """`count` more vaults, instances (each with two points) and jobs in rg-prod."""
    system = SystemActor("test-setup")
    for _ in range(count):
        n = uuid.uuid4().hex[:6]
        vault = make_vault(estate.rg_prod, estate.west, f"vault-{n}")
        policy = estate.inside["backupinstance"].policy
        ds = make_datasource(estate.rg_prod, estate.west, f"ds-{n}")
        instance = BackupInstance.objects.create(
            datasource=ds, vault=estate.inside["vault"], policy=policy, protection_state=ProtectionState.PROTECTED
        )
        point = make_point(instance)
        make_point(instance)
        job_create(
            actor=system,
            operation=Operation.RESTORE,
            scope=instance,
            instance=instance,
            datasource=ds,
            recovery_point=point,
            subject=ds.name,
        )
        job_create(actor=system, operation=Operation.CREATE_VAULT, scope=vault, subject=vault.name)
        EncryptionKey.objects.create(resource_group=estate.rg_prod, name=f"key-{n}")


LISTS = [
    "api:vaults:vault-list",
    "api:vaults:encryptionkey-list",
    "api:vaults:backupinstance-list",
    "api:vaults:recoverypoint-list",
]


@pytest.mark.parametrize("route", LISTS)
def test_lists_run_a_fixed_number_of_queries_whatever_their_length(
    api_estate, api_for, route, django_assert_max_num_queries
):
    client = api_for("bob")
    url = reverse(route)
    counts = []
    for size in (2, 12):
        grow(api_estate, size)
        with CaptureQueriesContext(connection) as queries:
            response = client.get(url, {"limit": 100})
        assert response.status_code == 200
        counts.append(len(queries))
    assert counts[0] == counts[1], f"queries grow with the list: {counts}"
    with django_assert_max_num_queries(8):
        client.get(url, {"limit": 100})


# End to end: real restic through the API ------------------------------------------------------------------------------


def make_source_tree(root: Path) -> Path:
    (root / "docs" / "deep").mkdir(parents=True)
    (root / "docs" / "readme.md").write_text("# hello\n")
    (root / "docs" / "deep" / "data.bin").write_bytes(os.urandom(200_000))
    (root / "docs" / "empty.txt").write_bytes(b"")
    (root / "résumé ✓.txt").write_text("naïve café\n", encoding="utf-8")
    return root


def trees_equal(left: Path, right: Path) -> bool:
    comparison = filecmp.dircmp(left, right)
    if comparison.left_only or comparison.right_only or comparison.funny_files:
        return False
    _, mismatch, errors = filecmp.cmpfiles(left, right, comparison.common_files, shallow=False)
    if mismatch or errors:
        return False
    return all(trees_equal(left / d, right / d) for d in comparison.common_dirs)


@pytest.mark.integration
def test_a_backup_and_a_restore_through_the_api_bring_back_the_same_bytes(
    api_estate, api_for, settings, tmp_path, django_capture_on_commit_callbacks
):
    """GIVEN a vault over a new repository and a files datasource over a real tree, both created through the API
    WHEN alice backs up and restores to an alternate folder THEN both jobs complete, the recovery point names a restic
    snapshot, the restored files equal the source byte for byte, and no response carries the repository password."""
    settings.BACKUPCENTER_VAULT_ROOT = str(tmp_path / "vaults")
    source = make_source_tree(tmp_path / "source")
    client = api_for("alice")
    bodies: list[str] = []

    def call(method: str, url: str, data=None, status: int = 200) -> dict:
        response = getattr(client, method)(url, data, format="json") if method != "get" else client.get(url, data)
        assert response.status_code == status, response.content
        bodies.append(response.content.decode())
        return response.json()

    datasource = call(
        "post",
        reverse("api:inventory:datasource-list"),
        {
            "resource_group": api_estate.rg_prod.pk,
            "location": api_estate.west.pk,
            "name": "e2e-share",
            "kind": "files",
            "connection": {"paths": [str(source)]},
        },
        201,
    )
    vault = call("post", reverse("api:vaults:vault-list"), vault_payload(api_estate, name="vault-e2e"), 201)
    assert vault["storage"].startswith(str(tmp_path / "vaults"))
    instance = call(
        "post", reverse("api:vaults:backupinstance-list"), {"datasource": datasource["id"], "vault": vault["id"]}, 201
    )

    with django_capture_on_commit_callbacks(execute=True):
        job = call("post", reverse("api:vaults:backupinstance-backup", args=[instance["id"]]), {}, 201)
    job = call("get", job["url"])
    assert job["status"] == JobStatus.COMPLETED, job["message"]
    assert job["operation"] == "backup" and job["instance"]["id"] == instance["id"] and job["percent"] == 100

    points = call("get", reverse("api:vaults:recoverypoint-list"), {"instance": instance["id"]})["results"]
    assert len(points) == 1
    assert re.fullmatch(r"[0-9a-f]{64}", points[0]["snapshot_id"])
    assert points[0]["file_count"] == 4 and points[0]["on_demand"] is True
    detail = call("get", instance["url"])
    assert detail["health"] == "healthy" and detail["latest_recovery_point"]["id"] == points[0]["id"]
    usage = call("get", vault["url"])["usage"]
    assert usage["bytes_standard"] > 0 and usage["recovery_points"] == 1 and usage["instances"] == 1

    target = Path(settings.BACKUPCENTER_RESTORE_ROOTS[0]) / "alternate"
    with django_capture_on_commit_callbacks(execute=True):
        restore = call(
            "post",
            reverse("api:vaults:backupinstance-restore", args=[instance["id"]]),
            {
                "recovery_point": points[0]["id"],
                "target": {"location": "alternate", "path": str(target)},
            },
            201,
        )
    restore = call("get", restore["url"])
    assert restore["status"] == JobStatus.COMPLETED, restore["message"] + restore["log"]
    assert restore["recovery_point"]["id"] == points[0]["id"]
    assert trees_equal(source, target / str(source).lstrip("/"))

    call("get", reverse("api:monitoring:job-list"))
    call("get", reverse("api:vaults:vault-list"))
    call("get", reverse("api:vaults:backupinstance-list"))
    storage = StorageLocation.objects.get(vault_id=vault["id"])
    password = secrets.unseal(storage.sealed_password)
    assert not [body for body in bodies if password in body or storage.sealed_password in body]


@pytest.mark.integration
def test_no_response_carries_a_repository_or_database_password(
    api_estate, api_for, settings, tmp_path, django_capture_on_commit_callbacks
):
    """GIVEN a PostgreSQL datasource whose connection holds a password, protected in a vault WHEN its backup runs
    (and fails: nothing listens on the port) and every list and detail is read THEN neither that password nor any
    vault's repository password appears in a response."""
    settings.BACKUPCENTER_VAULT_ROOT = str(tmp_path / "vaults")
    db_password = "pg-" + pysecrets.token_hex(12)
    client = api_for("alice")
    datasource = client.post(
        reverse("api:inventory:datasource-list"),
        {
            "resource_group": api_estate.rg_prod.pk,
            "location": api_estate.west.pk,
            "name": "orders-db",
            "kind": "postgresql",
            "connection": {
                "host": "127.0.0.1",
                "port": 1,
                "dbname": "orders",
                "user": "backup",
                "password": db_password,
            },
        },
        format="json",
    ).json()
    vault = client.post(reverse("api:vaults:vault-list"), vault_payload(api_estate, name="vault-pg"), format="json")
    assert vault.status_code == 201, vault.content
    instance = client.post(
        reverse("api:vaults:backupinstance-list"),
        {"datasource": datasource["id"], "vault": vault.json()["id"]},
        format="json",
    ).json()
    with django_capture_on_commit_callbacks(execute=True):
        job = client.post(reverse("api:vaults:backupinstance-backup", args=[instance["id"]]), {}, format="json")
    assert job.status_code == 201
    assert Job.objects.get(pk=job.json()["id"]).status == JobStatus.FAILED

    passwords = {db_password} | {secrets.unseal(s.sealed_password) for s in StorageLocation.objects.all()}
    urls = [reverse(r) for r in LISTS] + [reverse("api:inventory:datasource-list"), reverse("api:monitoring:job-list")]
    for model, route in ((Vault, "vault"), (BackupInstance, "backupinstance"), (Job, None)):
        for pk in model.objects.values_list("pk", flat=True):
            urls.append(
                reverse(f"api:vaults:{route}-detail", args=[pk])
                if route
                else reverse("api:monitoring:job-detail", args=[pk])
            )
    for persona in ("alice", "bob", "admin"):
        reader = api_for(persona)
        for url in urls:
            body = reader.get(url, {"limit": 500}).content.decode()
            leaked = [p for p in passwords if p in body]
            assert not leaked, f"{persona} {url} returned a password"
