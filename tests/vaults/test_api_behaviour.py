"""The REST API of vaults, keys, backup instances and recovery points: field errors and domain refusals, query
budgets on lists, secrets never returned, and a real backup and restore driven only through the API."""

import filecmp
import os
import re
import secrets as pysecrets
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from core import secrets
from inventory.models import Location
from monitoring.choices import JobStatus, Operation
from monitoring.models import Job
from tests.vaults.api_world import (
    grow,
    make_point,
    make_vault,
)
from vaults.models import BackupInstance, StorageLocation, Vault

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
