"""Policy services: validation through the calculators, updates, retention cuts, deletion, auto-protection."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from core.exceptions import PermissionDenied
from core.models import ChangeRecord
from policies import services
from tests.policies.conftest import DAILY, HOURLY, KEEP_30_DAYS

# (schedule, retention, kind, expected error key) — the bad-input list, shared with the form and API tests.
BAD_INPUT = [
    pytest.param({**HOURLY, "interval_hours": 5}, KEEP_30_DAYS, "files", "schedule.interval_hours", id="interval"),
    pytest.param(
        {**HOURLY, "interval_hours": 8, "window_hours": 4},
        KEEP_30_DAYS,
        "files",
        "schedule.window_hours",
        id="window-shorter-than-interval",
    ),
    pytest.param({**HOURLY, "window_hours": 25}, KEEP_30_DAYS, "files", "schedule.window_hours", id="window-over-24h"),
    pytest.param(
        {**DAILY, "times": ["01:00", "02:00", "03:00", "04:00", "05:00", "06:00", "07:00"]},
        KEEP_30_DAYS,
        "files",
        "schedule.times",
        id="too-many-daily-runs",
    ),
    pytest.param(DAILY, {"daily_count": 10000}, "files", "retention.daily_count", id="daily-count-out-of-range"),
    pytest.param(
        DAILY,
        {"weekly_count": 3, "weekly_weekday": 6},
        "files",
        "retention.weekly_count",
        id="weekly-count-out-of-range",
    ),
    pytest.param(DAILY, {"daily_count": 0}, "files", "retention.__all__", id="all-counts-zero"),
    pytest.param({**DAILY, "timezone": "Mars/Olympus"}, KEEP_30_DAYS, "files", "schedule.timezone", id="timezone"),
    pytest.param(
        {"frequency": "weekly", "times": ["02:00"], "weekdays": [], "timezone": "UTC"},
        KEEP_30_DAYS,
        "files",
        "schedule.weekdays",
        id="weekly-without-weekday",
    ),
    pytest.param(
        DAILY,
        {"daily_count": 30, "weekly_count": 4},
        "files",
        "retention.weekly_weekday",
        id="weekly-rule-without-weekday",
    ),
    pytest.param({**DAILY, "times": ["25:00"]}, KEEP_30_DAYS, "files", "schedule.times", id="bad-time"),
]


@pytest.mark.parametrize(("schedule", "retention", "kind", "key"), BAD_INPUT)
def test_it_refuses_bad_policies_with_a_field_error(alice, vault, schedule, retention, kind, key):
    with pytest.raises(ValidationError) as info:
        services.policy_create(
            actor=alice, vault=vault, name="bad", datasource_kind=kind, schedule=schedule, retention=retention
        )
    assert key in info.value.message_dict


def test_seven_daily_runs_are_fine_for_a_database_but_not_for_a_file_share(alice, vault):
    seven = {**DAILY, "times": [f"0{h}:00" for h in range(1, 8)]}
    policy = services.policy_create(
        actor=alice, vault=vault, name="pg", datasource_kind="postgresql", schedule=seven, retention=KEEP_30_DAYS
    )
    assert policy.schedule["times"][-1] == "07:00"


def test_it_stores_the_calculators_fields_and_ten_year_retention_is_expressible(alice, vault):
    policy = services.policy_create(
        actor=alice,
        vault=vault,
        name="ten-years",
        datasource_kind="files",
        schedule={**HOURLY, "timezone": "Europe/Berlin", "times": ["ignored"]} | {"window_start": "08:00"},
        retention={
            "daily_count": 30,
            "yearly_count": 10,
            "yearly_month": 12,
            "yearly_day": 0,
            "instant_restore_days": 5,
        },
        tiering={"mode": "tier_after", "after_days": 120},
    )
    assert policy.schedule == {
        "frequency": "hourly",
        "timezone": "Europe/Berlin",
        "interval_hours": 4,
        "window_hours": 24,
        "window_start": "08:00",
    }
    assert policy.retention_rules().timezone == "Europe/Berlin"
    assert policy.retention_rules().yearly_count == 10
    assert policy.schedule_obj().window_start.hour == 8
    assert policy.tiering == {"mode": "tier_after", "after_days": 120}


def test_it_refuses_a_tiering_rule_out_of_range(alice, vault):
    with pytest.raises(ValidationError) as info:
        services.policy_create(
            actor=alice,
            vault=vault,
            name="t",
            datasource_kind="files",
            schedule=DAILY,
            retention=KEEP_30_DAYS,
            tiering={"mode": "tier_after", "after_days": 5},
        )
    assert "tiering.after_days" in info.value.message_dict


def test_a_reader_cannot_create_a_policy(estate, vault):
    with pytest.raises(PermissionDenied):
        services.policy_create(
            actor=estate.users["bob"],
            vault=vault,
            name="x",
            datasource_kind="files",
            schedule=DAILY,
            retention=KEEP_30_DAYS,
        )


def test_names_are_unique_per_vault(alice, vault, make_policy):
    make_policy(name="same")
    with pytest.raises(ValidationError) as info:
        make_policy(name="same")
    assert "name" in info.value.message_dict


def test_shortening_retention_is_recorded_as_a_security_relevant_change(alice, make_policy):
    policy = make_policy(retention={"daily_count": 30, "weekly_count": 12, "weekly_weekday": 6})
    services.policy_update(
        actor=alice, policy=policy, retention={"daily_count": 30, "weekly_count": 12, "weekly_weekday": 6}
    )
    assert not ChangeRecord.objects.filter(action="retention_shortened").exists()
    services.policy_update(actor=alice, policy=policy, retention={"daily_count": 7})
    record = ChangeRecord.objects.get(action="retention_shortened")
    assert record.object_id == str(policy.pk)
    assert "daily 30 → 7" in record.message and "weekly 12 → off" in record.message
    assert record.actor_name == "alice"


def test_lengthening_retention_or_changing_the_schedule_is_not_a_cut(alice, make_policy):
    policy = make_policy()
    services.policy_update(actor=alice, policy=policy, retention={"daily_count": 60}, schedule=HOURLY)
    assert not ChangeRecord.objects.filter(action="retention_shortened").exists()
    policy.refresh_from_db()
    assert policy.schedule["frequency"] == "hourly"


def test_the_vault_and_kind_of_a_policy_cannot_change(alice, make_policy):
    policy = make_policy()
    with pytest.raises(ValidationError) as info:
        services.policy_update(actor=alice, policy=policy, datasource_kind="postgresql")
    assert "datasource_kind" in info.value.message_dict


def test_deleting_a_policy_in_use_is_refused_and_names_the_instances(alice, make_policy, protect):
    policy = make_policy()
    instance = protect(policy)
    with pytest.raises(ValidationError) as info:
        services.policy_delete(actor=alice, policy=policy)
    assert instance.datasource.name in info.value.message_dict["instances"][0]
    unused = make_policy()
    services.policy_delete(actor=alice, policy=unused)
    assert ChangeRecord.objects.filter(action="delete", object_repr=unused.name).exists()
