"""Policy pages: list, + Policy chooser, the editor (field errors), live previews, detail and delete."""

from __future__ import annotations

import pytest
from django.urls import reverse

from policies.models import BackupPolicy

VALID = {
    "datasource_kind": "files",
    "name": "every-4-hours",
    "frequency": "hourly",
    "timezone": "Europe/Berlin",
    "times": "02:00",
    "interval_hours": "4",
    "window_start": "08:00",
    "window_hours": "12",
    "instant_restore_days": "2",
    "daily_count": "30",
    "weekly_count": "12",
    "weekly_weekday": "6",
    "monthly_count": "0",
    "monthly_basis": "day",
    "yearly_count": "10",
    "yearly_month": "12",
    "yearly_basis": "week",
    "yearly_week": "last",
    "yearly_weekday": "6",
    "tiering_mode": "do_not_tier",
}

# The bad-input list as form posts: (changes, field that shows the error).
BAD_FORM = [
    pytest.param({"interval_hours": "5"}, "interval_hours", id="interval"),
    pytest.param({"interval_hours": "8", "window_hours": "4"}, "window_hours", id="window-shorter-than-interval"),
    pytest.param({"window_hours": "25"}, "window_hours", id="window-over-24h"),
    pytest.param({"frequency": "daily", "times": "1:00,2:00,3:00,4:00,5:00,6:00,7:00"}, "times", id="too-many-runs"),
    pytest.param({"daily_count": "10000"}, "daily_count", id="count-out-of-range"),
    pytest.param({"daily_count": "0", "weekly_count": "0", "yearly_count": "0"}, None, id="all-zero"),
    pytest.param({"timezone": "Nowhere/Atlantis"}, "timezone", id="timezone"),
    pytest.param({"frequency": "weekly", "times": "02:00"}, "weekdays", id="weekly-without-weekday"),
    pytest.param({"weekly_weekday": ""}, "weekly_weekday", id="weekly-rule-without-weekday"),
]


@pytest.fixture
def alice_client(client_for):
    return client_for("alice")


def test_the_nav_and_list_show_policies_in_scope_only(alice_client, client_for, make_policy):
    policy = make_policy(name="nightly")
    page = alice_client.get(reverse("policies:policy_list"))
    assert page.status_code == 200 and b"nightly" in page.content
    assert reverse("policies:policy_list").encode() in page.content  # the nav link
    assert b"nightly" not in client_for("charlie").get(reverse("policies:policy_list")).content
    assert client_for("charlie").get(policy.get_absolute_url()).status_code == 404


def test_plus_policy_goes_from_datasource_type_to_vault_to_editor(alice_client, vault):
    start = alice_client.get(reverse("action_center", args=["policy"]), follow=True)
    assert b"?kind=files" in start.content
    vaults = alice_client.get(reverse("policies:policy_add") + "?kind=files")
    assert f"vault={vault.pk}".encode() in vaults.content
    editor = alice_client.get(reverse("policies:policy_add") + f"?kind=files&vault={vault.pk}")
    assert b'id="policy-form"' in editor.content and b"preview/schedule" in editor.content


def test_the_editor_creates_a_policy(alice_client, vault):
    response = alice_client.post(reverse("policies:policy_add"), {**VALID, "vault": vault.pk})
    policy = BackupPolicy.objects.get(name="every-4-hours")
    assert response.status_code == 302 and response["Location"] == policy.get_absolute_url()
    assert policy.schedule == {
        "frequency": "hourly",
        "timezone": "Europe/Berlin",
        "interval_hours": 4,
        "window_hours": 12,
        "window_start": "08:00",
    }
    assert policy.retention["yearly_week"] == "last" and "yearly_day" not in policy.retention
    detail = alice_client.get(policy.get_absolute_url())
    assert b"Every 4 h from 08:00 for 12 h" in detail.content and b"schedule-runs" in detail.content


@pytest.mark.parametrize(("changes", "field"), BAD_FORM)
def test_the_editor_shows_a_field_error_for_bad_input(alice_client, vault, changes, field):
    response = alice_client.post(reverse("policies:policy_add"), {**VALID, "vault": vault.pk, **changes})
    assert response.status_code == 200 and not BackupPolicy.objects.exists()
    form = response.context["form"]
    errors = form.errors.get(field) if field else form.non_field_errors()
    assert errors, form.errors


def test_the_schedule_preview_lists_ten_runs_in_the_zone_and_utc(alice_client):
    response = alice_client.post(reverse("policies:preview_schedule"), VALID)
    html = response.content.decode()
    assert html.count("<tr>") == 11 and "Europe/Berlin" in html  # header + 10 runs
    assert "08:00" in html and ("07:00" in html or "06:00" in html)  # local 08:00 is 07:00/06:00 UTC


def test_the_previews_show_field_errors_instead_of_results(alice_client):
    response = alice_client.post(reverse("policies:preview_schedule"), {**VALID, "interval_hours": "5"})
    assert b"Run every 4, 6, 8 or 12 hours." in response.content
    response = alice_client.post(reverse("policies:preview_retention"), {**VALID, "daily_count": "3"})
    assert b"Keep between 7 and 9999 days" in response.content


def test_the_retention_preview_draws_a_plotly_timeline_of_a_simulated_year(alice_client):
    response = alice_client.post(reverse("policies:preview_retention"), VALID)
    html = response.content.decode()
    assert "Plotly.newPlot" in html and "of 1460 backups" in html  # 08, 12, 16 and 20 h, 365 days
    assert "cdn" not in html.lower()


def test_plotly_js_is_served_from_the_wheel(alice_client):
    from django.contrib.staticfiles import finders

    assert finders.find("plotly/plotly.min.js")


def test_deleting_a_policy_in_use_is_refused_and_names_the_instances(alice_client, make_policy, protect):
    policy = make_policy()
    instance = protect(policy)
    response = alice_client.post(reverse("policies:policy_delete", args=[policy.pk]), follow=True)
    assert instance.datasource.name.encode() in response.content
    assert BackupPolicy.objects.filter(pk=policy.pk).exists()
    unused = make_policy()
    alice_client.post(reverse("policies:policy_delete", args=[unused.pk]))
    assert not BackupPolicy.objects.filter(pk=unused.pk).exists()


def test_a_reader_cannot_open_the_editor_of_a_policy(client_for, make_policy):
    policy = make_policy()
    assert client_for("bob").get(reverse("policies:policy_edit", args=[policy.pk])).status_code == 403


def test_the_policy_list_runs_a_fixed_number_of_queries_whatever_its_length(
    alice_client, make_policy, protect, django_assert_max_num_queries
):
    """GIVEN 2 policies (one protecting an instance), then 27 more
    WHEN alice opens the policy list each time
    THEN both pages run the same number of queries, within the budget."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    protect(make_policy(name="first"))
    make_policy(name="second")
    counts = []
    for more in (0, 27):
        for n in range(more):
            make_policy(name=f"more-{n:02d}")
        with CaptureQueriesContext(connection) as queries:
            page = alice_client.get(reverse("policies:policy_list"))
        assert page.status_code == 200
        counts.append(len(queries))
    assert b"more-20" in page.content  # a full first page of 25 rows
    assert counts[0] == counts[1], f"queries grow with the list: {counts}"
    # session, user, grants, the count, the page of rows, and the filter form's four choice lists (each read twice)
    with django_assert_max_num_queries(13):
        alice_client.get(reverse("policies:policy_list"))
