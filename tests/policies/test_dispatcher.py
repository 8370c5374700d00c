"""The dispatcher: due instances get exactly one queued backup each, on their host queue, within the limits."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.db import IntegrityError, connection, transaction

from monitoring.choices import JobStatus, Operation
from monitoring.models import Job
from policies.dispatcher import dispatch_due
from policies.models import ScheduleCursor
from tests.policies.conftest import HOURLY
from vaults.choices import ProtectionState
from vaults.models import BackupInstance

DAY = datetime(2026, 3, 2, tzinfo=UTC)  # a Monday


def finish_all() -> None:
    Job.objects.filter(status__in=[JobStatus.QUEUED, JobStatus.IN_PROGRESS]).update(status=JobStatus.COMPLETED)


@pytest.fixture
def hourly(make_policy):
    return make_policy(schedule=HOURLY)


@pytest.fixture
def created_before(protect):
    """`created_before(policy, n, **kw)`: n instances created just before DAY (so DAY 00:00 is their first run)."""

    def make(policy, n=1, **kwargs):
        with time_machine.travel(DAY - timedelta(minutes=5), tick=False):
            return [protect(policy, **kwargs) for _ in range(n)]

    return make


def test_it_queues_one_backup_per_due_instance_on_the_datasource_host_queue(
    hourly, created_before, no_enqueue, django_capture_on_commit_callbacks
):
    a, b = created_before(hourly, 1)[0], created_before(hourly, 1, host="db1")[0]
    with django_capture_on_commit_callbacks(execute=True):
        result = dispatch_due(DAY + timedelta(seconds=20))
    jobs = {job.instance_id: job for job in Job.objects.filter(operation=Operation.BACKUP)}
    assert set(jobs) == {a.pk, b.pk} and sorted(result.job_ids) == sorted(j.pk for j in jobs.values())
    assert jobs[b.pk].queue == "host.db1" and jobs[a.pk].queue == "host.local"
    assert jobs[a.pk].status == JobStatus.QUEUED and jobs[a.pk].actor_name == "scheduler"
    assert jobs[a.pk].params == {"on_demand": False, "retain_until": None, "scheduled_for": DAY.isoformat()}
    assert jobs[a.pk].tenant_id == a.tenant_id and jobs[a.pk].vault_id == a.vault_id
    assert sorted(q for _, _, q in no_enqueue) == ["host.db1", "host.local"]
    assert ScheduleCursor.objects.get(instance=a).last_scheduled_run == DAY
    # The same minute again, even with the jobs finished: nothing new is due.
    finish_all()
    assert dispatch_due(DAY + timedelta(seconds=50)).job_ids == []


def test_a_new_instance_waits_for_its_next_scheduled_run(hourly, protect, no_enqueue):
    with time_machine.travel(DAY + timedelta(hours=1), tick=False):
        instance = protect(hourly)
    assert dispatch_due(DAY + timedelta(hours=2)).job_ids == []
    assert len(dispatch_due(DAY + timedelta(hours=4, seconds=5)).job_ids) == 1
    assert Job.objects.get(operation=Operation.BACKUP).instance_id == instance.pk


def test_after_downtime_each_instance_gets_one_catch_up_backup_not_a_storm(hourly, created_before, no_enqueue):
    """GIVEN instances backed up at 00:00 and a dispatcher that then stops for two and a half days
    WHEN it comes back at 10:17 on the third day
    THEN each instance gets exactly one backup, for the most recent run (08:00), and nothing more that minute."""
    instances = created_before(hourly, 3)
    assert len(dispatch_due(DAY + timedelta(seconds=1)).job_ids) == 3
    finish_all()
    back = DAY + timedelta(days=2, hours=10, minutes=17)
    with time_machine.travel(back, tick=False):
        result = dispatch_due()
    assert len(result.job_ids) == 3
    assert {j.params["scheduled_for"] for j in Job.objects.filter(pk__in=result.job_ids)} == {
        (DAY + timedelta(days=2, hours=8)).isoformat()
    }
    finish_all()
    assert dispatch_due(back + timedelta(seconds=30)).job_ids == []
    assert len(dispatch_due(DAY + timedelta(days=2, hours=12)).job_ids) == len(instances)


def test_stopped_and_soft_deleted_instances_are_never_dispatched(alice, hourly, created_before, no_enqueue):
    from vaults.services import instance_stop_protection

    active, stopped, deleted = created_before(hourly, 3)
    instance_stop_protection(actor=alice, instance=stopped)
    BackupInstance.objects.filter(pk=deleted.pk).update(protection_state=ProtectionState.SOFT_DELETED)
    result = dispatch_due(DAY + timedelta(hours=4))
    assert list(Job.objects.filter(pk__in=result.job_ids).values_list("instance_id", flat=True)) == [active.pk]


def test_an_instance_with_a_backup_already_running_is_left_alone(alice, hourly, created_before, no_enqueue):
    from vaults.services import instance_backup_now

    busy, idle = created_before(hourly, 2)
    with transaction.atomic():
        instance_backup_now(actor=alice, instance=busy)
    result = dispatch_due(DAY + timedelta(minutes=1))
    assert [Job.objects.get(pk=pk).instance_id for pk in result.job_ids] == [idle.pk]


def test_the_per_vault_limit_defers_the_excess_to_later_ticks(settings, hourly, created_before, no_enqueue):
    settings.BACKUPCENTER_MAX_BACKUPS_PER_VAULT = 2
    created_before(hourly, 5)
    first = dispatch_due(DAY + timedelta(seconds=5))
    assert (len(first.job_ids), first.deferred) == (2, 3)
    assert dispatch_due(DAY + timedelta(minutes=1)).job_ids == []  # the two are still active
    finish_all()
    assert len(dispatch_due(DAY + timedelta(minutes=2)).job_ids) == 2
    finish_all()
    assert len(dispatch_due(DAY + timedelta(minutes=3)).job_ids) == 1
    assert Job.objects.filter(operation=Operation.BACKUP).count() == 5


def test_the_per_host_limit_holds_for_each_host_queue(settings, hourly, created_before, no_enqueue):
    settings.BACKUPCENTER_MAX_BACKUPS_PER_HOST = 1
    created_before(hourly, 3, host="web1")
    created_before(hourly, 2, host="db1")
    result = dispatch_due(DAY + timedelta(seconds=5))
    queues = sorted(Job.objects.filter(pk__in=result.job_ids).values_list("queue", flat=True))
    assert queues == ["host.db1", "host.web1"] and result.deferred == 3


def test_the_database_refuses_a_second_active_backup_of_an_instance(hourly, created_before, no_enqueue):
    instance = created_before(hourly, 1)[0]
    dispatch_due(DAY + timedelta(seconds=5))
    with pytest.raises(IntegrityError), transaction.atomic():
        Job.objects.create(operation=Operation.BACKUP, status=JobStatus.QUEUED, instance=instance)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="concurrent dispatchers need PostgreSQL")
@pytest.mark.django_db(transaction=True)
def test_two_dispatchers_in_the_same_minute_never_create_two_active_jobs_for_one_instance(
    hourly, created_before, no_enqueue
):
    """GIVEN 40 due instances WHEN two dispatchers run at the same instant in two threads (two connections)
    THEN every instance has exactly one queued backup and the two dispatchers split the work without overlap."""
    instances = created_before(hourly, 40)
    now = DAY + timedelta(seconds=3)
    barrier = threading.Barrier(2)
    results, errors = [], []

    def run():
        try:
            barrier.wait()
            results.append(dispatch_due(now, batch_size=7))
        except Exception as error:  # surfaced by the assertion below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    first, second = (set(r.job_ids) for r in results)
    assert not first & second and len(first | second) == 40
    per_instance = Job.objects.filter(operation=Operation.BACKUP, status=JobStatus.QUEUED).values_list(
        "instance_id", flat=True
    )
    assert sorted(per_instance) == sorted(i.pk for i in instances)
