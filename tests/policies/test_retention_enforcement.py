"""Retention enforcement against real restic: the dispatcher and a real backup at each due time of a simulated day,
then weeks later the surviving points match the retention calculator and `restic snapshots`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from core.models import ChangeRecord
from monitoring.choices import JobStatus
from policies import services
from policies.dispatcher import dispatch_due
from policies.enforcement import as_point, enforce_retention
from policies.retention import select
from tests.policies.conftest import HOURLY
from vaults.choices import PointState
from vaults.models import RecoveryPoint
from vaults.runner import execute_backup

pytestmark = pytest.mark.integration

SUNDAY = datetime(2026, 3, 1, tzinfo=UTC)
RULES = {"daily_count": 7, "weekly_count": 4, "weekly_weekday": 6, "instant_restore_days": 1}


def restic_ids(vault) -> set[str]:
    from vaults.services import repository_for

    return {snap.id for snap in repository_for(vault.primary).snapshots()}


def available(instance) -> list[RecoveryPoint]:
    return list(RecoveryPoint.objects.filter(instance=instance, state=PointState.AVAILABLE).order_by("created"))


def expected_survivors(instance, rules, now) -> set[str]:
    rows = RecoveryPoint.objects.filter(instance=instance).exclude(state=PointState.DELETED)
    points = {row["id"]: row for row in rows.values("id", "created", "on_demand", "retain_until", "snapshot_id")}
    decision = select([as_point(row) for row in points.values()], rules, now)
    return {points[pk]["snapshot_id"] for pk in decision.keep}


def test_scheduled_backups_of_a_day_then_retention_weeks_later_match_the_calculator_and_restic(
    make_policy, protect, real_vault
):
    """GIVEN an every-4-hours policy (keep 7 daily, 4 weekly on Sunday, 1 day instant restore) on a Sunday
    WHEN the dispatcher and a real worker run at each due time of that day, and retention runs the next day,
    two weeks later and eight weeks later
    THEN after each run the available points are exactly what `retention.select` keeps, restic holds exactly
    their snapshots, and the newest point is never removed."""
    policy = make_policy(schedule=HOURLY, retention=RULES, vault_=real_vault)
    with time_machine.travel(SUNDAY - timedelta(minutes=10), tick=False):
        instance = protect(policy)
    for hour in range(0, 24, 4):
        with time_machine.travel(SUNDAY + timedelta(hours=hour, seconds=30), tick=False):
            job_ids = dispatch_due().job_ids
            assert len(job_ids) == 1
            job = execute_backup(job_ids[0])
            assert job.status == JobStatus.COMPLETED, job.message
    points = available(instance)
    assert len(points) == 6 and restic_ids(real_vault) == {p.snapshot_id for p in points}
    newest = points[-1]
    rules = policy.retention_rules()

    for moment, survivors in [
        (SUNDAY + timedelta(days=1, hours=10), 3),  # instant restore keeps 12:00-20:00; daily keeps 20:00
        (SUNDAY + timedelta(days=15), 1),  # weekly (Sunday) keeps the last point of the day
        (SUNDAY + timedelta(weeks=8), 1),  # every rule has lapsed; the newest point stays
    ]:
        expected = expected_survivors(instance, rules, moment)
        with time_machine.travel(moment, tick=False):
            run = enforce_retention()
        assert run.failed_vaults == []
        kept = {p.snapshot_id for p in available(instance)}
        assert kept == expected and len(kept) == survivors
        assert restic_ids(real_vault) == kept
        assert newest.snapshot_id in kept
    newest.refresh_from_db()
    assert newest.expires_at is None  # kept only as the newest point
    assert RecoveryPoint.objects.filter(instance=instance, state=PointState.DELETED).count() == 5
    assert ChangeRecord.objects.filter(action="retention_expired").exists()


def test_shortening_retention_soft_deletes_what_the_new_rules_drop_and_keeps_the_data(
    alice, make_policy, protect, real_vault
):
    """GIVEN daily points kept 30 days in a vault with soft delete WHEN retention is cut to 7 days
    THEN the points older than 7 days are soft deleted at once (restic untouched), and the cut is recorded."""
    policy = make_policy(schedule={"frequency": "daily", "times": ["02:00"], "timezone": "UTC"}, vault_=real_vault)
    with time_machine.travel(SUNDAY - timedelta(minutes=10), tick=False):
        instance = protect(policy)
    for day in range(10):
        with time_machine.travel(SUNDAY + timedelta(days=day, hours=2, seconds=5), tick=False):
            (job_id,) = dispatch_due().job_ids
            execute_backup(job_id)
    now = SUNDAY + timedelta(days=9, hours=12)
    with time_machine.travel(now, tick=False):
        enforce_retention()
        assert len(available(instance)) == 10
        services.policy_update(actor=alice, policy=policy, retention={"daily_count": 7})
    soft = RecoveryPoint.objects.filter(instance=instance, state=PointState.SOFT_DELETED)
    assert soft.count() == 3 and all(p.purge_after > now for p in soft)
    assert len(restic_ids(real_vault)) == 10  # nothing left the repository
    assert ChangeRecord.objects.filter(action="retention_shortened", object_id=str(policy.pk)).exists()
