"""The REST API of jobs: the permission matrix over list, detail and cancel, cancel refusing ended jobs, filters, a
fixed number of queries per list, and params that never hold secrets."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from core import secrets
from monitoring.choices import JobStatus, Operation
from monitoring.models import Job
from monitoring.services import job_finish
from tests.matrix import Row, named_routes
from tests.vaults.test_api import (  # noqa: F401 - fixtures
    A_CHANGE,
    A_DETAIL,
    A_LIST,
    api_estate,
    detail_marker,
    grow,
    isolated_keyring,
    matrix_cells,
    run_cell,
)
from vaults.models import StorageLocation

APIS: dict[str, Row] = {
    "api:monitoring:api-root": Row(expect={"GET": A_LIST}),
    "api:monitoring:job-list": Row(expect={"GET": A_LIST}, marker=detail_marker("api:monitoring:job-detail", "job")),
    "api:monitoring:job-detail": Row(target="job", expect={"GET": A_DETAIL}),
    "api:monitoring:job-cancel": Row(target="job", expect={"POST": A_CHANGE}),
}


def test_every_monitoring_api_route_has_a_row_in_the_matrix():
    routes = named_routes({"api:monitoring"}, root_names=False)
    assert routes == set(APIS), f"missing: {sorted(routes - set(APIS))}; stale: {sorted(set(APIS) - routes)}"


@pytest.mark.parametrize(("name", "method", "persona"), list(matrix_cells(APIS)))
def test_monitoring_api_answers_each_persona_as_the_matrix_says(api_estate, api_for, name, method, persona):  # noqa: F811
    run_cell(api_estate, api_for, APIS, name, method, persona)


def test_cancelling_a_queued_job_ends_it_and_cancelling_again_is_a_conflict(api_estate, api_for):  # noqa: F811
    job = api_estate.inside["job"]
    client = api_for("alice")
    url = reverse("api:monitoring:job-cancel", args=[job.pk])
    response = client.post(url)
    assert response.status_code == 200
    assert response.json()["status"] == JobStatus.CANCELLED and response.json()["ended"]
    again = client.post(url)
    assert again.status_code == 409
    assert again.json()["code"] == "job_ended"


def test_cancelling_a_running_job_asks_it_to_stop(api_estate, api_for):  # noqa: F811
    job = api_estate.inside["job"]
    Job.objects.filter(pk=job.pk).update(status=JobStatus.IN_PROGRESS)
    response = api_for("alice").post(reverse("api:monitoring:job-cancel", args=[job.pk]))
    assert response.status_code == 200 and response.json()["status"] == JobStatus.IN_PROGRESS
    assert Job.objects.get(pk=job.pk).cancel_requested


def test_a_job_shows_its_progress_and_related_objects_in_brief_form(api_estate, api_for):  # noqa: F811
    job = api_estate.inside["job"]
    instance = api_estate.inside["backupinstance"]
    Job.objects.filter(pk=job.pk).update(status=JobStatus.IN_PROGRESS, bytes_done=1000, total_bytes=4000)
    job_finish(job, status=JobStatus.COMPLETED, message="Restored.")
    body = api_for("bob").get(reverse("api:monitoring:job-detail", args=[job.pk])).json()
    assert body["operation"] == Operation.RESTORE and body["status"] == JobStatus.COMPLETED
    assert body["instance"] == {
        "id": instance.pk,
        "url": f"http://testserver{reverse('api:vaults:backupinstance-detail', args=[instance.pk])}",
        "display": str(instance),
    }
    assert body["vault"]["id"] == instance.vault_id and body["percent"] == 100 and body["message"] == "Restored."
    assert body["actor_name"] == "test-setup"
    expected = {
        "created",
        "started",
        "ended",
        "files_done",
        "total_files",
        "bytes_done",
        "total_bytes",
        "seconds_remaining",
        "throughput",
        "bytes_added",
        "error_code",
        "warnings",
        "log",
        "params",
        "subject",
        "datasource_kind",
        "datasource",
        "recovery_point",
    }
    assert expected <= set(body)


def test_jobs_filter_by_status_operation_and_instance(api_estate, api_for):  # noqa: F811
    client = api_for("alice")
    instance = api_estate.inside["backupinstance"]
    backup = client.post(reverse("api:vaults:backupinstance-backup", args=[instance.pk]), {}, format="json").json()
    url = reverse("api:monitoring:job-list")
    queued = client.get(url, {"status": "queued", "operation": "backup"}).json()["results"]
    assert [j["id"] for j in queued] == [backup["id"]]
    by_instance = client.get(url, {"instance": instance.pk}).json()["results"]
    assert {j["operation"] for j in by_instance} == {"backup", "restore", "configure_backup"}
    assert client.get(url, {"instance": api_estate.outside["backupinstance"].pk}).json()["count"] == 0


def test_the_job_list_runs_a_fixed_number_of_queries_whatever_its_length(
    api_estate,  # noqa: F811
    api_for,
    django_assert_max_num_queries,
):
    client = api_for("bob")
    counts = []
    for size in (2, 12):
        grow(api_estate, size)
        with CaptureQueriesContext(connection) as queries:
            body = client.get(reverse("api:monitoring:job-list"), {"limit": 200}).json()
        counts.append(len(queries))
    assert body["count"] > 25
    assert counts[0] == counts[1], f"queries grow with the list: {counts}"
    with django_assert_max_num_queries(6):
        client.get(reverse("api:monitoring:job-list"), {"limit": 200})


def test_job_params_never_hold_a_repository_password(api_estate, api_for):  # noqa: F811
    """GIVEN queued backups and restores of both vaults WHEN every job is read THEN no repository password or
    sealed value is in a job, and params hold only operation options."""
    client = api_for("admin")
    for where in ("inside", "outside"):
        side = getattr(api_estate, where)
        client.post(reverse("api:vaults:backupinstance-backup", args=[side["backupinstance"].pk]), {}, format="json")
        client.post(
            reverse("api:vaults:backupinstance-restore", args=[side["backupinstance"].pk]),
            {
                "recovery_point": side["recoverypoint"].pk,
                "target": {"location": "alternate", "path": str(api_estate.restore_root / where)},
            },
            format="json",
        )
    storages = list(StorageLocation.objects.all())
    forbidden = [secrets.unseal(s.sealed_password) for s in storages] + [s.sealed_password for s in storages]
    body = client.get(reverse("api:monitoring:job-list"), {"limit": 500}).content.decode()
    assert not [value for value in forbidden if value in body]
    for job in client.get(reverse("api:monitoring:job-list"), {"limit": 500}).json()["results"]:
        assert set(job["params"]) <= {"on_demand", "retain_until", "target", "result"}, job["params"]
