"""Monitoring pages: everything renders for the cast, readers see but cannot change, out of scope is a 404."""

import pytest
from django.urls import reverse

from monitoring.alerts import security_alert_raise
from monitoring.choices import AlertState
from monitoring.models import Alert

pytestmark = pytest.mark.django_db


def vault_row(rg, location, name):
    """A vault row without its restic repository: these tests only need something to raise alerts on."""
    from vaults.models import Vault

    return Vault.objects.create(
        tenant_id=rg.tenant_id, subscription_id=rg.subscription_id, resource_group=rg, location=location, name=name
    )


@pytest.fixture
def vaults(estate):
    return vault_row(estate.rg_prod, estate.west, "v-in"), vault_row(estate.rg_fab, estate.west, "v-out")


@pytest.fixture
def alerts(vaults):
    inside, outside = vaults
    return (
        security_alert_raise(kind="soft_delete_disabled", vault=inside, message="soft delete off"),
        security_alert_raise(kind="soft_delete_disabled", vault=outside, message="soft delete off"),
    )


PAGES = [
    "overview",
    "monitoring:alert_list",
    "monitoring:alert_settings",
    "monitoring:healthevent_list",
    "monitoring:metrics",
    "monitoring:metrics_chart",
    "monitoring:overview_health_chart",
    "monitoring:metricalertrule_list",
    "monitoring:metricalertrule_add",
    "monitoring:actiongroup_list",
    "monitoring:actiongroup_add",
    "monitoring:alertprocessingrule_list",
    "monitoring:alertprocessingrule_add",
    "monitoring:job_list",
]


def test_every_monitoring_page_renders_for_alice_and_bob_and_sends_anonymous_users_to_sign_in(client_for, alerts):
    for persona in ("alice", "bob"):
        client = client_for(persona)
        assert {name: client.get(reverse(name)).status_code for name in PAGES} == dict.fromkeys(PAGES, 200)
    anonymous = client_for("anon")
    assert {name: anonymous.get(reverse(name)).status_code for name in PAGES} == dict.fromkeys(PAGES, 302)


def test_the_alert_list_shows_only_alerts_in_scope(client_for, alerts):
    inside, outside = alerts
    page = client_for("bob").get(reverse("monitoring:alert_list")).content.decode()
    assert f"#{inside.pk}" in page and f'href="/monitoring/alerts/{outside.pk}/"' not in page


def test_an_alert_out_of_scope_is_a_404(client_for, alerts):
    _, outside = alerts
    assert client_for("alice").get(reverse("monitoring:alert_detail", args=[outside.pk])).status_code == 404
    response = client_for("alice").post(reverse("monitoring:alert_state", args=[outside.pk]), {"state": "closed"})
    assert response.status_code == 404


def test_a_reader_sees_an_alert_but_cannot_acknowledge_it(client_for, alerts):
    inside, _ = alerts
    bob = client_for("bob")
    page = bob.get(reverse("monitoring:alert_detail", args=[inside.pk])).content.decode()
    assert "soft delete off" in page and "Acknowledge</button>" not in page
    bob.post(reverse("monitoring:alert_state", args=[inside.pk]), {"state": "acknowledged"})
    bob.post(reverse("monitoring:alert_bulk"), {"state": "closed", "select": [inside.pk]})
    assert Alert.objects.get(pk=inside.pk).state == AlertState.NEW


def test_alice_acknowledges_then_closes_alerts_in_bulk_and_out_of_scope_ids_are_ignored(client_for, alerts, vaults):
    inside, outside = alerts
    second = security_alert_raise(kind="mua_removed", vault=vaults[0], message="guard removed")
    alice = client_for("alice")
    alice.post(
        reverse("monitoring:alert_bulk"), {"state": "acknowledged", "select": [inside.pk, second.pk, outside.pk]}
    )
    assert set(Alert.objects.values_list("pk", "state")) == {
        (inside.pk, AlertState.ACKNOWLEDGED),
        (second.pk, AlertState.ACKNOWLEDGED),
        (outside.pk, AlertState.NEW),
    }
    alice.post(reverse("monitoring:alert_bulk"), {"state": "closed", "select": [inside.pk]})
    assert Alert.objects.get(pk=inside.pk).state == AlertState.CLOSED


def test_a_closed_alert_cannot_be_acknowledged_again(estate, alerts):
    from core.exceptions import DomainError
    from monitoring.alerts import alert_set_state

    inside, _ = alerts
    alert_set_state(actor=estate.users["alice"], alert=inside, state=AlertState.CLOSED)
    with pytest.raises(DomainError):
        alert_set_state(actor=estate.users["alice"], alert=inside, state=AlertState.ACKNOWLEDGED)


def test_a_repeated_security_event_counts_an_occurrence_on_the_open_alert(vaults):
    first = security_alert_raise(kind="backup_data_deleted", vault=vaults[0], message="deleted once")
    again = security_alert_raise(kind="backup_data_deleted", vault=vaults[0], message="deleted again")
    assert first.pk == again.pk and Alert.objects.get(pk=first.pk).occurrences == 2


def test_alice_creates_a_rule_from_a_template_and_an_action_group_through_the_pages(client_for, estate):
    alice = client_for("alice")
    response = alice.post(
        reverse("monitoring:metricalertrule_template"), {"subscription": estate.prod.pk, "template": "no_backup_24h"}
    )
    assert response.status_code == 302
    response = alice.post(
        reverse("monitoring:actiongroup_add"),
        {
            "subscription": estate.prod.pk,
            "name": "ops",
            "emails": "ops@example.org\nlead@example.org",
            "timeout_seconds": 5,
            "max_attempts": 3,
            "enabled": "on",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    from monitoring.models import ActionGroup, MetricAlertRule

    assert MetricAlertRule.objects.get().name == "No backup ran for an item in 24 h"
    assert ActionGroup.objects.get().emails == ["ops@example.org", "lead@example.org"]


def test_bob_cannot_create_rules_in_his_reader_scope(client_for, estate):
    response = client_for("bob").post(
        reverse("monitoring:metricalertrule_template"), {"subscription": estate.prod.pk, "template": "no_backup_24h"}
    )
    assert response.status_code == 302
    from monitoring.models import MetricAlertRule

    assert not MetricAlertRule.objects.exists()


def test_the_overview_counts_failed_backups_and_links_to_the_filtered_jobs(client_for, estate, vaults):
    from monitoring.choices import JobStatus, Operation
    from monitoring.services import job_create

    job_create(actor=estate.users["alice"], operation=Operation.BACKUP, scope=vaults[0], status=JobStatus.FAILED)
    page = client_for("alice").get(reverse("overview")).content.decode()
    assert (
        'data-tile="jobs-backup-failed" href="/monitoring/jobs/?operation=backup&status=failed&range=24h">1</a>' in page
    )
    jobs = client_for("alice").get("/monitoring/jobs/?operation=backup&status=failed&range=24h").content.decode()
    assert "Failed" in jobs
