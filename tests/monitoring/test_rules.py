"""Metric alert rules: stateful firing and auto-resolve, stateless alerts, templates, concurrent evaluators."""

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from monitoring.choices import HealthMetric, HealthStatus, MonitorCondition, Operator
from monitoring.models import Alert, HealthEvent, MetricAlertRule
from monitoring.rules import (
    TEMPLATES,
    metric_rule_create,
    metric_rule_evaluate,
    metric_rule_from_template,
    metric_rules_evaluate,
)


@pytest.fixture
def vault(estate):
    from tests.monitoring.test_views import vault_row

    return vault_row(estate.rg_prod, estate.west, "v1")


def event(vault, status, when, kind="files"):
    return HealthEvent.objects.create(
        metric=HealthMetric.BACKUP,
        health_status=status,
        timestamp=when,
        tenant_id=vault.tenant_id,
        subscription_id=vault.subscription_id,
        resource_group_id=vault.resource_group_id,
        vault=vault,
        datasource_kind=kind,
        instance_name="share",
    )


def failures_rule(estate, **extra):
    return metric_rule_create(
        actor=estate.users["alice"],
        subscription=estate.prod,
        name="failures",
        health_statuses=[s for s in HealthStatus.values if s != "healthy"],
        operator=Operator.GT,
        threshold=0,
        window_minutes=60,
        frequency_minutes=5,
        **extra,
    )


@pytest.mark.django_db
def test_a_stateful_rule_fires_once_stays_fired_and_resolves_after_three_clean_evaluations(estate, vault):
    """GIVEN a failed backup inside the window
    WHEN the rule is evaluated repeatedly, then the failure leaves the window
    THEN one alert fires, stays fired while breached, and resolves on the third clean evaluation only."""
    rule = failures_rule(estate, stateful=True)
    now = timezone.now()
    event(vault, HealthStatus.TRANSIENT_UNHEALTHY, now - timedelta(minutes=10))

    assert len(metric_rule_evaluate(rule, now)) == 1
    assert metric_rule_evaluate(rule, now + timedelta(minutes=5)) == []
    assert Alert.objects.count() == 1

    later = now + timedelta(hours=2)
    for step in range(2):
        metric_rule_evaluate(rule, later + timedelta(minutes=5 * step))
        assert Alert.objects.get().monitor_condition == MonitorCondition.FIRED
    metric_rule_evaluate(rule, later + timedelta(minutes=10))
    alert = Alert.objects.get()
    assert alert.monitor_condition == MonitorCondition.RESOLVED and alert.clean_evaluations == 3


@pytest.mark.django_db
def test_a_breach_between_clean_evaluations_restarts_the_count(estate, vault):
    rule = failures_rule(estate, stateful=True)
    now = timezone.now()
    event(vault, HealthStatus.TRANSIENT_UNHEALTHY, now - timedelta(minutes=10))
    metric_rule_evaluate(rule, now)
    metric_rule_evaluate(rule, now + timedelta(hours=2))
    metric_rule_evaluate(rule, now + timedelta(hours=2, minutes=5))
    event(vault, HealthStatus.PERSISTENT_UNHEALTHY, now + timedelta(hours=2, minutes=8))
    metric_rule_evaluate(rule, now + timedelta(hours=2, minutes=10))
    assert Alert.objects.get().clean_evaluations == 0
    assert Alert.objects.get().monitor_condition == MonitorCondition.FIRED


@pytest.mark.django_db
def test_a_stateless_rule_raises_an_alert_on_every_breached_evaluation(estate, vault):
    rule = failures_rule(estate, stateful=False)
    now = timezone.now()
    event(vault, HealthStatus.TRANSIENT_DEGRADED, now - timedelta(minutes=1))
    metric_rule_evaluate(rule, now)
    metric_rule_evaluate(rule, now + timedelta(minutes=5))
    assert Alert.objects.count() == 2


@pytest.mark.django_db
def test_the_five_sample_templates_create_valid_rules_and_no_backup_in_24h_fires_per_instance(estate, vault):
    from inventory.services import datasource_create
    from tests.factories import real_folder
    from vaults.services import instance_create

    alice = estate.users["alice"]
    for key in TEMPLATES:
        metric_rule_from_template(actor=alice, subscription=estate.prod, template=key)
    assert MetricAlertRule.objects.count() == 5
    ds = datasource_create(
        actor=alice,
        resource_group=estate.rg_prod,
        location=estate.west,
        kind="files",
        name="quiet",
        connection={"paths": [real_folder()]},
    )
    instance = instance_create(actor=alice, datasource=ds, vault=vault)
    from vaults.models import BackupInstance

    BackupInstance.objects.filter(pk=instance.pk).update(protection_state="protected")
    rule = MetricAlertRule.objects.get(name=TEMPLATES["no_backup_24h"]["name"])

    fired = metric_rule_evaluate(rule)

    assert [a.instance_id for a in fired] == [instance.pk]


@pytest.mark.django_db(transaction=True)
def test_two_evaluators_at_once_fire_once(estate, vault):
    """GIVEN a due rule whose condition holds
    WHEN two evaluators run at the same moment in two threads (two database connections)
    THEN exactly one of them claims the rule and exactly one alert fires."""
    if connection.vendor != "postgresql":
        pytest.skip("concurrent claims need a server database (run with DATABASE_URL=postgres://...)")
    failures_rule(estate, stateful=False)
    event(vault, HealthStatus.TRANSIENT_UNHEALTHY, timezone.now() - timedelta(minutes=1))
    now = timezone.now()
    barrier = threading.Barrier(2)
    results = []

    def evaluator():
        from django.db import connections

        try:
            barrier.wait()
            results.append(metric_rules_evaluate(now))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=evaluator) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(results) == [0, 1]
    assert Alert.objects.count() == 1
