"""Notifications through real receivers on loopback: SMTP (aiosmtpd) and a webhook HTTP server."""

from datetime import timedelta

import pytest
from django.utils import timezone

from monitoring.adapters.webhook import SIGNATURE_HEADER, TIMESTAMP_HEADER, verify
from monitoring.alerts import security_alert_raise
from monitoring.choices import DeliveryStatus, ProcessingAction
from monitoring.models import Delivery
from monitoring.notifications import action_group_create, action_group_secret, action_group_test, processing_rule_create

pytestmark = pytest.mark.django_db


@pytest.fixture
def vault(estate):
    from tests.monitoring.test_views import vault_row

    return vault_row(estate.rg_prod, estate.west, "v1")


def route_all(estate, group):
    return processing_rule_create(
        actor=estate.users["alice"],
        subscription=estate.prod,
        name="everything to ops",
        action=ProcessingAction.ADD_ACTION_GROUPS,
        action_groups=[group],
    )


def test_a_security_alert_is_emailed_through_a_real_smtp_server(
    estate, vault, smtp_server, django_capture_on_commit_callbacks
):
    group = action_group_create(
        actor=estate.users["alice"], subscription=estate.prod, name="ops", emails=["ops@example.org"]
    )
    route_all(estate, group)

    with django_capture_on_commit_callbacks(execute=True):
        security_alert_raise(kind="soft_delete_disabled", vault=vault, message="alice disabled soft delete")

    assert len(smtp_server) == 1
    message = smtp_server[0]
    assert message["to"] == ["ops@example.org"]
    assert "Soft delete disabled for vault" in message["data"] and "alice disabled soft delete" in message["data"]
    delivery = Delivery.objects.get()
    assert delivery.status == DeliveryStatus.SUCCEEDED and delivery.attempts == 1


def test_a_webhook_arrives_signed_with_the_groups_secret(
    estate, vault, webhook_receiver, django_capture_on_commit_callbacks
):
    group = action_group_create(
        actor=estate.users["alice"], subscription=estate.prod, name="hook", webhook_url=webhook_receiver.url
    )
    route_all(estate, group)

    with django_capture_on_commit_callbacks(execute=True):
        alert = security_alert_raise(kind="mua_removed", vault=vault, message="guard unlinked")

    request = webhook_receiver.requests[0]
    secret = action_group_secret(group)
    headers = request["headers"]
    assert verify(secret, headers[TIMESTAMP_HEADER.lower()], request["body"], headers[SIGNATURE_HEADER.lower()])
    assert not verify(
        "another secret", headers[TIMESTAMP_HEADER.lower()], request["body"], headers[SIGNATURE_HEADER.lower()]
    )
    assert request["json"]["alert"]["id"] == alert.pk and request["json"]["alert"]["severity"] == "sev0"
    assert Delivery.objects.get().response_code == 200


def test_a_receiver_failing_twice_then_succeeding_shows_the_retries_in_the_delivery_log(
    estate, webhook_receiver, settings, django_capture_on_commit_callbacks
):
    settings.NOTIFY_RETRY_BASE_SECONDS = 0
    webhook_receiver.script = [503, 500]
    group = action_group_create(
        actor=estate.users["alice"], subscription=estate.prod, name="flaky", webhook_url=webhook_receiver.url
    )

    with django_capture_on_commit_callbacks(execute=True):
        action_group_test(actor=estate.users["alice"], action_group=group)

    delivery = Delivery.objects.get()
    assert delivery.status == DeliveryStatus.SUCCEEDED
    assert [(e["attempt"], e["ok"], e["response_code"]) for e in delivery.attempt_log] == [
        (1, False, 503),
        (2, False, 500),
        (3, True, 200),
    ]
    assert len(webhook_receiver.requests) == 3 and webhook_receiver.requests[0]["json"]["test"] is True


def test_retries_back_off_exponentially_and_give_up_after_the_groups_attempts(estate, settings):
    from monitoring.notifications import delivery_attempt

    settings.NOTIFY_RETRY_BASE_SECONDS = 10
    group = action_group_create(
        actor=estate.users["alice"],
        subscription=estate.prod,
        name="dead",
        webhook_url="http://127.0.0.1:9/nothing-listens",
        max_attempts=2,
        timeout_seconds=1,
    )
    action_group_test(actor=estate.users["alice"], action_group=group)
    delivery = Delivery.objects.get()

    first = delivery_attempt(delivery.pk)
    assert first.status == DeliveryStatus.PENDING
    assert timedelta(seconds=9) < first.next_attempt_at - timezone.now() <= timedelta(seconds=10)
    assert delivery_attempt(delivery.pk) is None  # not due yet
    Delivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())
    assert delivery_attempt(delivery.pk).status == DeliveryStatus.FAILED


def test_a_maintenance_window_suppresses_notifications_but_records_them(
    estate, vault, webhook_receiver, django_capture_on_commit_callbacks
):
    group = action_group_create(
        actor=estate.users["alice"], subscription=estate.prod, name="hook", webhook_url=webhook_receiver.url
    )
    route_all(estate, group)
    now = timezone.now()
    processing_rule_create(
        actor=estate.users["alice"],
        subscription=estate.prod,
        name="patch night",
        action=ProcessingAction.SUPPRESS,
        starts_at=now - timedelta(hours=1),
        ends_at=now + timedelta(hours=1),
    )

    with django_capture_on_commit_callbacks(execute=True):
        security_alert_raise(kind="purge_complete", vault=vault, message="purged")

    assert webhook_receiver.requests == []
    assert Delivery.objects.get().status == DeliveryStatus.SUPPRESSED
