"""The REST API of monitoring: the permission matrix over jobs, alerts, health events, metric alert rules and action
groups (lists, details, writes and actions), an operator's column, cancel refusing ended jobs, filters, a fixed
number of queries per list, and params that never hold secrets."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from core import secrets
from core.permissions import SystemActor
from core.roles import Role
from monitoring.alerts import security_alert_raise
from monitoring.choices import HealthStatus, JobStatus, Operation
from monitoring.models import Job
from monitoring.notifications import action_group_create
from monitoring.rules import TEMPLATES, metric_rule_create
from monitoring.services import job_finish
from tests.matrix import REFUSED, Row, named_routes
from tests.monitoring.test_rules import event
from tests.vaults.api_world import (
    A_CHANGE,
    A_CREATE,
    A_DETAIL,
    A_LIST,
    answers,
    detail_marker,
    grow,
    matrix_cells,
    run_cell,
    side,
)
from vaults.models import StorageLocation


def subscription(e, where):
    return e.main if where == "outside" else e.prod


def rule_payload(e, where):
    return {"subscription": subscription(e, where).pk, **TEMPLATES["failed_job"], "name": "new rule"}


def group_payload(e, where):
    return {"subscription": subscription(e, where).pk, "name": "new group", "emails": ["ops@example.com"]}


# from-template looks the subscription up among those the caller can see (400 otherwise); the service then needs the
# change role on it (403 for a reader).
FROM_TEMPLATE = {"anon": 401, "charlie": 400, "bob": 403, "alice": 201, "alice_out": 400, "admin": 201}

APIS: dict[str, Row] = {
    "api:monitoring:api-root": Row(expect={"GET": A_LIST}),
    "api:monitoring:job-list": Row(expect={"GET": A_LIST}, marker=detail_marker("api:monitoring:job-detail", "job")),
    "api:monitoring:job-detail": Row(target="job", expect={"GET": A_DETAIL}),
    "api:monitoring:job-cancel": Row(target="job", expect={"POST": A_CHANGE}),
    # Alerts: read in scope; acknowledge and close need the operate role.
    "api:monitoring:alert-list": Row(
        expect={"GET": A_LIST}, marker=detail_marker("api:monitoring:alert-detail", "alert")
    ),
    "api:monitoring:alert-detail": Row(target="alert", expect={"GET": A_DETAIL}),
    "api:monitoring:alert-acknowledge": Row(target="alert", expect={"POST": A_CHANGE}),
    "api:monitoring:alert-close": Row(target="alert", expect={"POST": A_CHANGE}),
    # Health events: read only, aggregate included.
    "api:monitoring:healthevent-list": Row(
        expect={"GET": A_LIST}, marker=detail_marker("api:monitoring:healthevent-detail", "healthevent")
    ),
    "api:monitoring:healthevent-detail": Row(target="healthevent", expect={"GET": A_DETAIL}),
    "api:monitoring:healthevent-aggregate": Row(expect={"GET": A_LIST}),
    # Metric alert rules and action groups: created, changed and deleted with the change role on the subscription.
    "api:monitoring:metricalertrule-list": Row(
        expect={"GET": A_LIST, "POST": A_CREATE},
        payload=rule_payload,
        marker=detail_marker("api:monitoring:metricalertrule-detail", "metricalertrule"),
    ),
    "api:monitoring:metricalertrule-detail": Row(
        target="metricalertrule",
        expect={"GET": A_DETAIL, "PATCH": A_CHANGE, "DELETE": answers(A_CHANGE, 204)},
        payload=lambda e, w: {"threshold": 3},
    ),
    "api:monitoring:metricalertrule-from-template": Row(
        expect={"POST": FROM_TEMPLATE},
        payload=lambda e, w: {"subscription": subscription(e, w).pk, "template": "failed_job"},
    ),
    "api:monitoring:actiongroup-list": Row(
        expect={"GET": A_LIST, "POST": A_CREATE},
        payload=group_payload,
        marker=detail_marker("api:monitoring:actiongroup-detail", "actiongroup"),
    ),
    "api:monitoring:actiongroup-detail": Row(
        target="actiongroup",
        expect={"GET": A_DETAIL, "PATCH": A_CHANGE, "DELETE": answers(A_CHANGE, 204)},
        payload=lambda e, w: {"max_attempts": 2},
    ),
    # Sending a test notification is an operation (operate role); its deliveries are read like the group.
    "api:monitoring:actiongroup-test": Row(target="actiongroup", expect={"POST": answers(A_CHANGE, 202)}),
    "api:monitoring:actiongroup-deliveries": Row(target="actiongroup", expect={"GET": A_DETAIL}),
}


@pytest.fixture
def monitoring_estate(api_estate):  # noqa: F811
    """The API estate plus, per side, a security alert and a health event on the side's vault, a metric alert rule
    and an email action group in the side's subscription."""
    system = SystemActor("test-setup")
    for where in ("inside", "outside"):
        bucket = side(api_estate, where)
        vault = bucket["vault"]
        bucket["alert"] = security_alert_raise(kind="mua_removed", vault=vault, message=f"guard removed {where}")
        bucket["healthevent"] = event(vault, HealthStatus.PERSISTENT_UNHEALTHY, timezone.now())
        bucket["metricalertrule"] = metric_rule_create(
            actor=system, subscription=subscription(api_estate, where), **TEMPLATES["consecutive_failures"]
        )
        bucket["actiongroup"] = action_group_create(
            actor=system, subscription=subscription(api_estate, where), name="ops", emails=["ops@example.com"]
        )
    return api_estate


def test_every_monitoring_api_route_has_a_row_in_the_matrix():
    routes = named_routes({"api:monitoring"}, root_names=False)
    assert routes == set(APIS), f"missing: {sorted(routes - set(APIS))}; stale: {sorted(set(APIS) - routes)}"


@pytest.mark.parametrize(("name", "method", "persona"), list(matrix_cells(APIS)))
def test_monitoring_api_answers_each_persona_as_the_matrix_says(monitoring_estate, api_for, name, method, persona):
    run_cell(monitoring_estate, api_for, APIS, name, method, persona)


# What an operator (operate role on prod, no change role) may do: everything a reader may, plus the operations.
OPERATOR = {
    ("api:monitoring:alert-acknowledge", "POST"): 200,
    ("api:monitoring:alert-close", "POST"): 200,
    ("api:monitoring:actiongroup-test", "POST"): 202,
    ("api:monitoring:job-cancel", "POST"): 200,
    ("api:monitoring:metricalertrule-list", "POST"): REFUSED,
    ("api:monitoring:metricalertrule-detail", "PATCH"): 403,
    ("api:monitoring:metricalertrule-detail", "DELETE"): 403,
    ("api:monitoring:metricalertrule-from-template", "POST"): 403,
    ("api:monitoring:actiongroup-list", "POST"): REFUSED,
    ("api:monitoring:actiongroup-detail", "PATCH"): 403,
    ("api:monitoring:actiongroup-detail", "DELETE"): 403,
}


@pytest.mark.parametrize(
    ("name", "method"),
    [(name, method) for name, row in APIS.items() for method in row.expect],
    ids=[f"{name}-{method}" for name, row in APIS.items() for method in row.expect],
)
def test_an_operator_runs_monitoring_operations_but_changes_no_configuration(monitoring_estate, api_for, name, method):
    """GIVEN oliver, backup operator on prod
    WHEN he calls each monitoring endpoint on the prod objects
    THEN he reads what a reader reads, acknowledges and closes alerts, cancels jobs and sends test notifications,
    and is refused every change of alert rules and action groups."""
    from inventory.services import role_assignment_create
    from tests.factories import UserFactory

    oliver = UserFactory(username="oliver")
    role_assignment_create(
        actor=SystemActor("test-setup"), role=Role.OPERATOR, scope=monitoring_estate.prod, user=oliver
    )
    monitoring_estate.users["oliver"] = oliver
    row = APIS[name]
    expected = OPERATOR.get((name, method), row.expect[method]["bob"])
    table = {name: Row(target=row.target, expect={method: {"oliver": expected}}, payload=row.payload)}
    run_cell(monitoring_estate, api_for, table, name, method, "oliver")


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
