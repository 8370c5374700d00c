"""Health events and job alerts from real backups run by the worker path (vaults.runner + restic)."""

import shutil

import pytest

from monitoring.choices import AlertCategory, HealthStatus, MonitorCondition, Severity
from monitoring.models import Alert, HealthEvent, HealthEventRollup

pytestmark = pytest.mark.django_db


def test_a_failed_backup_of_a_missing_folder_raises_a_job_alert_and_a_degraded_health_event(protected, backup_job):
    """GIVEN a protected files datasource whose folder was deleted
    WHEN the worker runs its backup
    THEN the job fails, a Sev1 backup failure alert names the instance, and the health event is degraded."""
    shutil.rmtree(protected.folder)

    job = backup_job(protected.instance)

    assert job.status == "failed"
    event = HealthEvent.objects.get(job=job)
    assert event.health_status == HealthStatus.TRANSIENT_DEGRADED
    assert event.error_code == "source_missing"
    alert = Alert.objects.get(rule_key="job.backup_failure")
    assert alert.severity == Severity.SEV1 and alert.category == AlertCategory.JOB
    assert alert.instance_id == protected.instance.pk and alert.vault_id == protected.vault.pk
    assert "no longer exists" in alert.recommended_action
    assert HealthEventRollup.objects.get().count == 1


def test_the_same_error_again_makes_the_health_event_persistent_and_counts_an_occurrence(protected, backup_job):
    shutil.rmtree(protected.folder)
    backup_job(protected.instance)
    backup_job(protected.instance)

    statuses = list(HealthEvent.objects.order_by("timestamp", "id").values_list("health_status", flat=True))
    assert statuses == [HealthStatus.TRANSIENT_DEGRADED, HealthStatus.PERSISTENT_DEGRADED]
    alert = Alert.objects.get(rule_key="job.backup_failure")
    assert alert.occurrences == 2


def test_a_successful_backup_is_healthy_and_resolves_the_failure_alert(protected, backup_job):
    moved = protected.folder.with_name(protected.folder.name + "-away")
    protected.folder.rename(moved)
    backup_job(protected.instance)
    moved.rename(protected.folder)

    job = backup_job(protected.instance)

    assert job.status == "completed"
    assert HealthEvent.objects.get(job=job).health_status == HealthStatus.HEALTHY
    assert Alert.objects.get().monitor_condition == MonitorCondition.RESOLVED


def test_job_alerts_switched_off_for_the_vault_raise_no_alert_but_still_a_health_event(protected, backup_job, estate):
    from monitoring.alerts import vault_alert_settings_update

    vault_alert_settings_update(actor=estate.users["alice"], vault=protected.vault, job_failure_alerts=False)
    shutil.rmtree(protected.folder)

    backup_job(protected.instance)

    assert not Alert.objects.exists()
    assert HealthEvent.objects.count() == 1
