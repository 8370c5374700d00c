"""The alerts, health-events, alert-rules and action-groups API, and the Prometheus endpoint."""

from datetime import timedelta

import pytest
from django.utils import timezone

from monitoring.alerts import security_alert_raise
from monitoring.choices import HealthStatus
from monitoring.models import Alert
from tests.monitoring.test_rules import event
from tests.monitoring.test_views import vault_row

pytestmark = pytest.mark.django_db


@pytest.fixture
def vaults(estate):
    return vault_row(estate.rg_prod, estate.west, "v-in"), vault_row(estate.rg_fab, estate.west, "v-out")


def test_alerts_are_listed_in_scope_and_acknowledged_and_closed_by_an_operator_only(api_for, vaults):
    inside = security_alert_raise(kind="mua_removed", vault=vaults[0], message="guard removed")
    outside = security_alert_raise(kind="mua_removed", vault=vaults[1], message="guard removed")
    listed = api_for("bob").get("/api/monitoring/alerts/?severity=sev0").json()
    assert [row["id"] for row in listed["results"]] == [inside.pk]
    assert listed["results"][0]["alert_type"] == "security"
    assert api_for("bob").post(f"/api/monitoring/alerts/{inside.pk}/acknowledge/").status_code == 403
    assert api_for("alice").post(f"/api/monitoring/alerts/{outside.pk}/acknowledge/").status_code == 404
    assert api_for("alice").post(f"/api/monitoring/alerts/{inside.pk}/acknowledge/").json()["state"] == "acknowledged"
    assert api_for("alice").post(f"/api/monitoring/alerts/{inside.pk}/close/").json()["state"] == "closed"
    assert Alert.objects.get(pk=inside.pk).state_changed_by == "alice"


def test_health_events_aggregate_by_day_and_dimension(api_for, vaults):
    now = timezone.now()
    event(vaults[0], HealthStatus.HEALTHY, now - timedelta(days=1))
    event(vaults[0], HealthStatus.HEALTHY, now)
    event(vaults[0], HealthStatus.TRANSIENT_UNHEALTHY, now)
    event(vaults[1], HealthStatus.HEALTHY, now)
    rows = api_for("alice").get("/api/monitoring/health-events/aggregate/?dimension=health_status&range=7d").json()
    assert sorted((r["health_status"], r["count"]) for r in rows) == [
        ("healthy", 1),
        ("healthy", 1),
        ("transient_unhealthy", 1),
    ]


def test_rules_from_templates_and_action_groups_with_a_write_only_secret(api_for, estate, webhook_receiver, settings):
    alice = api_for("alice")
    rule = alice.post(
        "/api/monitoring/alert-rules/from-template/", {"subscription": estate.prod.pk, "template": "failed_job"}
    )
    assert rule.status_code == 201 and rule.json()["split"] == "instance"
    group = alice.post(
        "/api/monitoring/action-groups/",
        {
            "subscription": estate.prod.pk,
            "name": "hook",
            "webhook_url": webhook_receiver.url,
            "webhook_secret": "s3cret",
        },
        format="json",
    )
    assert group.status_code == 201, group.json()
    assert "webhook_secret" not in group.json()
    assert api_for("bob").post(f"/api/monitoring/action-groups/{group.json()['id']}/test/").status_code == 403
    tested = alice.post(f"/api/monitoring/action-groups/{group.json()['id']}/test/")
    assert tested.status_code == 202
    assert api_for("charlie").get(f"/api/monitoring/action-groups/{group.json()['id']}/").status_code == 404


def test_prometheus_metrics_need_the_bearer_token(client, settings, vaults):
    security_alert_raise(kind="purge_complete", vault=vaults[0], message="purged")
    settings.METRICS_BEARER_TOKEN = ""
    assert client.get("/metrics").status_code == 404
    settings.METRICS_BEARER_TOKEN = "scrape-token"
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 401
    body = client.get("/metrics", HTTP_AUTHORIZATION="Bearer scrape-token").content.decode()
    assert 'backupcenter_open_alerts{category="security",severity="sev0"} 1.0' in body
    assert "backupcenter_broker_up" in body
