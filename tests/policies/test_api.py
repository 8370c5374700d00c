"""/api/policies/backup-policies/: CRUD through the services, 400 with field errors, previews, scope."""

from __future__ import annotations

import pytest

from policies.models import BackupPolicy
from tests.policies.conftest import DAILY, HOURLY, KEEP_30_DAYS
from tests.policies.test_services import BAD_INPUT

URL = "/api/policies/backup-policies/"


@pytest.fixture
def alice_api(api_for):
    return api_for("alice")


def body(vault, **changes):
    return {
        "vault": vault.pk,
        "name": "api-policy",
        "datasource_kind": "files",
        "schedule": HOURLY,
        "retention": {"daily_count": 30, "weekly_count": 12, "weekly_weekday": 6},
        **changes,
    }


def test_alice_creates_reads_updates_and_deletes_a_policy(alice_api, vault):
    created = alice_api.post(URL, body(vault), format="json")
    assert created.status_code == 201, created.data
    assert created.data["schedule"]["interval_hours"] == 4 and created.data["vault"]["id"] == vault.pk
    assert "timezone" not in created.data["retention"] and created.data["tiering"] == {"mode": "do_not_tier"}
    detail = f"{URL}{created.data['id']}/"
    patched = alice_api.patch(detail, {"retention": {"daily_count": 60}}, format="json")
    assert patched.status_code == 200 and patched.data["retention"] == {"daily_count": 60}
    assert alice_api.get(URL).data["count"] == 1
    assert alice_api.delete(detail).status_code == 204


@pytest.mark.parametrize(("schedule", "retention", "kind", "key"), BAD_INPUT)
def test_bad_input_is_a_400_with_the_field_error(alice_api, vault, schedule, retention, kind, key):
    response = alice_api.post(
        URL, body(vault, schedule=schedule, retention=retention, datasource_kind=kind), format="json"
    )
    assert response.status_code == 400 and key in response.data, response.data
    assert not BackupPolicy.objects.exists()


def test_deleting_a_policy_in_use_is_a_400_naming_the_instances(alice_api, make_policy, protect):
    policy = make_policy()
    instance = protect(policy)
    response = alice_api.delete(f"{URL}{policy.pk}/")
    assert response.status_code == 400 and instance.datasource.name in response.data["instances"][0]


def test_readers_read_and_outsiders_see_nothing(api_for, make_policy, vault):
    policy = make_policy()
    bob = api_for("bob")
    assert bob.get(f"{URL}{policy.pk}/").status_code == 200
    assert bob.post(URL, body(vault), format="json").status_code == 400  # no vault bob may change
    assert bob.delete(f"{URL}{policy.pk}/").status_code == 403
    assert api_for("charlie").get(f"{URL}{policy.pk}/").status_code == 404
    assert api_for("anon").get(URL).status_code in (401, 403)


def test_preview_schedule_returns_the_next_runs_in_zone_and_utc(alice_api):
    schedule = {**DAILY, "times": ["02:30"], "timezone": "Europe/Berlin"}
    response = alice_api.post(f"{URL}preview-schedule/", {"schedule": schedule, "count": 3}, format="json")
    assert response.status_code == 200 and len(response.data["runs"]) == 3
    assert all("T02:30:00+0" in run["local"] for run in response.data["runs"])
    bad = alice_api.post(f"{URL}preview-schedule/", {"schedule": {**HOURLY, "interval_hours": 3}}, format="json")
    assert bad.status_code == 400 and "schedule.interval_hours" in bad.data


def test_preview_retention_counts_what_a_simulated_year_keeps(alice_api):
    response = alice_api.post(f"{URL}preview-retention/", {"schedule": DAILY, "retention": KEEP_30_DAYS}, format="json")
    assert response.status_code == 200
    assert response.data["simulated_backups"] == 365 and response.data["kept"] == 30
    bad = alice_api.post(
        f"{URL}preview-retention/", {"schedule": DAILY, "retention": {"daily_count": 0}}, format="json"
    )
    assert bad.status_code == 400 and "retention.__all__" in bad.data


# The permission matrix -----------------------------------------------------------------------------------------------

A_LIST = {"anon": 401, "charlie": 200, "bob": 200, "alice": 200, "oscar": 200, "sam": 200, "admin": 200}
A_DETAIL = {**A_LIST, "charlie": 404, "alice_out": 404}
A_CHANGE = {**A_DETAIL, "bob": 403, "sam": 403}
# A new policy names a vault the caller may change (else a field error).
A_CREATE = {p: 400 for p in A_DETAIL} | {"anon": 401, "alice": 201, "oscar": 201, "admin": 201}
# The previews compute from the body alone: anyone signed in.
A_PREVIEW = A_LIST
MATRIX_PERSONAS = ("anon", "charlie", "bob", "alice", "alice_out", "oscar", "sam", "admin")


def _policy_body(e, where):
    return body((e.outside if where == "outside" else e.inside)["vault"], name=f"api-{where}")


MATRIX = {
    "api:policies:api-root": {"GET": A_LIST},
    "api:policies:backuppolicy-list": {"GET": A_LIST, "POST": A_CREATE},
    "api:policies:backuppolicy-detail": {
        "GET": A_DETAIL,
        "PATCH": A_CHANGE,
        "DELETE": {**A_CHANGE, "alice": 204, "oscar": 204, "admin": 204},
    },
    "api:policies:backuppolicy-preview-schedule": {"POST": A_PREVIEW},
    "api:policies:backuppolicy-preview-retention": {"POST": A_PREVIEW},
}
MATRIX_PAYLOADS = {
    "api:policies:backuppolicy-list": _policy_body,
    "api:policies:backuppolicy-detail": lambda e, where: {"retention": {"daily_count": 60}},
    "api:policies:backuppolicy-preview-schedule": lambda e, where: {"schedule": DAILY, "count": 3},
    "api:policies:backuppolicy-preview-retention": lambda e, where: {"schedule": DAILY, "retention": KEEP_30_DAYS},
}


def test_every_backup_policies_api_route_has_a_row_in_the_matrix():
    from tests.matrix import named_routes

    routes = named_routes({"api:policies"}, root_names=False)
    assert routes == set(MATRIX), f"missing: {sorted(routes - set(MATRIX))}; stale: {sorted(set(MATRIX) - routes)}"


def _matrix_cells():
    for name, methods in MATRIX.items():
        for method, column in methods.items():
            for persona in MATRIX_PERSONAS:
                if persona in column:
                    yield pytest.param(name, method, persona, id=f"{name}-{method}-{persona}")


@pytest.mark.parametrize(("name", "method", "persona"), list(_matrix_cells()))
def test_backup_policies_api_answers_each_persona_as_the_matrix_says(estate, api_for, name, method, persona):
    from django.urls import reverse

    from core.models import ChangeRecord
    from tests.inventory.test_permission_matrix import add_policies
    from tests.matrix import check_api

    add_policies(estate)
    user = "alice" if persona == "alice_out" else persona
    where = "outside" if persona == "alice_out" else "inside"
    url = reverse(name, args=[getattr(estate, where)["policy"].pk]) if name.endswith("-detail") else reverse(name)
    payload = MATRIX_PAYLOADS.get(name)
    data = payload(estate, where) if payload else {}
    client = api_for(user)
    before = ChangeRecord.objects.count()
    response = client.get(url) if method == "GET" else getattr(client, method.lower())(url, data, format="json")
    check_api(response, MATRIX[name][method][persona], before, ChangeRecord.objects.count())
    if method in ("POST", "PATCH", "DELETE") and response.status_code in (200, 201, 204) and "preview" not in name:
        assert ChangeRecord.objects.count() > before, "a write that went through must be in the change log"
    if name == "api:policies:backuppolicy-list" and method == "GET":
        ids = {row["id"] for row in response.data["results"]} if response.status_code == 200 else set()
        assert (estate.inside["policy"].pk in ids) == (persona in ("bob", "alice", "oscar", "sam", "admin"))
        assert (estate.outside["policy"].pk in ids) == (persona == "admin")
