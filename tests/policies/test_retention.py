"""Tests for the retention calculator (policies/retention.py): validation, GFS selection and expiry instants."""

from __future__ import annotations

import dataclasses
import random
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from policies.retention import (
    WEEKS_OF_MONTH,
    Point,
    RetentionRules,
    expiry_for,
    select,
    validate_retention,
)

BERLIN = ZoneInfo("Europe/Berlin")
REASONS = {"newest", "instant-restore", "on-demand", "daily", "weekly", "monthly", "yearly"}
SUNDAY = 6


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def daily_points(first: date, last: date, at: time, zone: ZoneInfo) -> list[Point]:
    """One scheduled point per local day at wall time ``at``; the id is the ISO date."""
    points = []
    day = first
    while day <= last:
        points.append(Point(day.isoformat(), datetime.combine(day, at, tzinfo=zone).astimezone(UTC)))
        day += timedelta(days=1)
    return points


def kept_dates(points: list[Point], rules: RetentionRules, now: datetime) -> list[str]:
    return sorted(str(i) for i in select(points, rules, now).keep)


# --- validation -------------------------------------------------------------------------------------------------


def test_a_full_gfs_policy_with_ten_years_of_yearly_points_is_valid() -> None:
    rules = RetentionRules(
        daily_count=30,
        weekly_count=12,
        weekly_weekday=SUNDAY,
        monthly_count=120,
        monthly_day=0,
        yearly_count=10,
        yearly_month=12,
        yearly_day=0,
        instant_restore_days=7,
        timezone="Europe/Berlin",
    )
    assert validate_retention(rules) == {}


def test_the_reference_maximums_are_accepted() -> None:
    rules = RetentionRules(
        daily_count=9999,
        weekly_count=5163,
        weekly_weekday=0,
        monthly_count=1188,
        monthly_weekday=4,
        monthly_week="last",
        yearly_count=99,
        yearly_month=1,
        yearly_weekday=0,
        yearly_week="first",
        instant_restore_days=30,
    )
    assert validate_retention(rules) == {}


@pytest.mark.parametrize(
    ("rules", "field", "fragment"),
    [
        (RetentionRules(), "__all__", "at least one"),
        (RetentionRules(instant_restore_days=5), "__all__", "at least one"),
        (RetentionRules(daily_count=10000), "daily_count", "between 7 and 9999 days"),
        (RetentionRules(daily_count=6), "daily_count", "between 7 and 9999 days"),
        (RetentionRules(daily_count=-1), "daily_count", "between 7 and 9999 days"),
        (RetentionRules(weekly_count=5164, weekly_weekday=0), "weekly_count", "between 4 and 5163 weeks"),
        (RetentionRules(monthly_count=1189, monthly_day=1), "monthly_count", "between 3 and 1188 months"),
        (RetentionRules(yearly_count=100, yearly_month=1, yearly_day=1), "yearly_count", "between 1 and 99 years"),
        (RetentionRules(daily_count=7, instant_restore_days=31), "instant_restore_days", "0 to 30 days"),
        (RetentionRules(weekly_count=4), "weekly_weekday", "weekday whose backup"),
        (RetentionRules(weekly_count=4, weekly_weekday=7), "weekly_weekday", "weekday whose backup"),
        (RetentionRules(monthly_count=3, monthly_day=31), "monthly_day", "'last day'"),
        (RetentionRules(monthly_count=3), "monthly_day", "Choose a day of the month or a weekday"),
        (
            RetentionRules(monthly_count=3, monthly_day=1, monthly_weekday=0, monthly_week="first"),
            "monthly_day",
            "not both",
        ),
        (RetentionRules(monthly_count=3, monthly_weekday=0), "monthly_week", "first, second, third, fourth or last"),
        (RetentionRules(monthly_count=3, monthly_week="fifth", monthly_weekday=0), "monthly_week", "fourth or last"),
        (RetentionRules(monthly_count=3, monthly_week="last"), "monthly_weekday", "Monday to Sunday"),
        (RetentionRules(yearly_count=1, yearly_day=1), "yearly_month", "month whose backup"),
        (RetentionRules(yearly_count=1, yearly_month=2, yearly_day=29), "yearly_day", "'last day'"),
        (RetentionRules(daily_count=7, timezone="Europe/Atlantis"), "timezone", "Unknown time zone"),
    ],
)
def test_it_reports_each_invalid_field_with_a_clear_message(rules: RetentionRules, field: str, fragment: str) -> None:
    errors = validate_retention(rules)
    assert field in errors, errors
    assert any(fragment in message for message in errors[field]), errors


def test_select_refuses_invalid_rules_naive_datetimes_and_duplicate_ids() -> None:
    rules = RetentionRules(daily_count=7)
    with pytest.raises(ValueError, match="invalid retention rules"):
        select([], RetentionRules(), utc(2024, 1, 1))
    with pytest.raises(ValueError, match="aware"):
        select([Point(1, datetime(2024, 1, 1))], rules, utc(2024, 1, 1))
    with pytest.raises(ValueError, match="aware"):
        select([], rules, datetime(2024, 1, 1))
    with pytest.raises(ValueError, match="duplicate"):
        select([Point(1, utc(2024, 1, 1)), Point(1, utc(2024, 1, 2))], rules, utc(2024, 1, 3))


def test_no_points_give_an_empty_decision() -> None:
    decision = select([], RetentionRules(daily_count=7), utc(2024, 1, 1))
    assert decision.keep == {} and decision.expire == []


# --- named examples ---------------------------------------------------------------------------------------------


def test_a_year_of_daily_backups_keeps_exactly_the_expected_49_points() -> None:
    """GIVEN one backup a day at 02:30 Berlin time through 2024 (a leap year)
    WHEN daily 30 / weekly 12 (Sunday) / monthly 12 (last day) / yearly 10 (31 December) is applied on
    31 December 2024 at 12:00
    THEN 30 daily + 8 further Sundays + 11 further month ends survive (31 December is daily, monthly and yearly)."""
    points = daily_points(date(2024, 1, 1), date(2024, 12, 31), time(2, 30), BERLIN)
    rules = RetentionRules(
        daily_count=30,
        weekly_count=12,
        weekly_weekday=SUNDAY,
        monthly_count=12,
        monthly_day=0,
        yearly_count=10,
        yearly_month=12,
        yearly_day=0,
        timezone="Europe/Berlin",
    )
    decision = select(points, rules, datetime(2024, 12, 31, 12, tzinfo=BERLIN))

    daily = {(date(2024, 12, 31) - timedelta(days=n)).isoformat() for n in range(30)}  # 2 Dec .. 31 Dec
    sundays = {(date(2024, 12, 29) - timedelta(weeks=n)).isoformat() for n in range(12)}  # 13 Oct .. 29 Dec
    month_ends = {
        "2024-01-31", "2024-02-29", "2024-03-31", "2024-04-30", "2024-05-31", "2024-06-30",
        "2024-07-31", "2024-08-31", "2024-09-30", "2024-10-31", "2024-11-30", "2024-12-31",
    }  # fmt: skip
    assert set(decision.keep) == daily | sundays | month_ends
    assert len(decision.keep) == 49
    assert len(decision.expire) == 366 - 49
    assert decision.keep["2024-12-31"] == ["daily", "monthly", "yearly", "newest"]  # a Tuesday
    assert decision.keep["2024-10-13"] == ["weekly"]
    assert decision.keep["2024-02-29"] == ["monthly"]
    assert decision.expire[0] == "2024-01-01"


def test_a_ten_year_yearly_rule_keeps_one_point_for_each_of_the_last_ten_years() -> None:
    points = daily_points(date(2013, 1, 1), date(2024, 6, 15), time(1), ZoneInfo("UTC"))
    rules = RetentionRules(yearly_count=10, yearly_month=1, yearly_day=1)
    kept = kept_dates(points, rules, utc(2024, 6, 15, 12))
    assert kept == [f"{year}-01-01" for year in range(2015, 2025)] + ["2024-06-15"]


def test_a_yearly_point_lives_exactly_until_the_same_day_ten_years_later() -> None:
    rules = RetentionRules(yearly_count=10, yearly_month=1, yearly_day=1)
    point = Point("p", utc(2014, 1, 1, 1))
    newer = Point("n", utc(2030, 1, 2))
    assert "p" in select([point, newer], rules, utc(2023, 12, 31, 23, 59)).keep
    assert select([point, newer], rules, utc(2024, 1, 1)).expire == ["p"]
    assert expiry_for(point, rules, utc(2020, 1, 1)) == utc(2024, 1, 1)


def test_last_day_of_month_means_the_30th_in_april_and_the_29th_in_a_leap_february() -> None:
    points = daily_points(date(2024, 2, 1), date(2024, 4, 30), time(3), ZoneInfo("UTC"))
    rules = RetentionRules(monthly_count=3, monthly_day=0)
    assert kept_dates(points, rules, utc(2024, 4, 30, 12)) == ["2024-02-29", "2024-03-31", "2024-04-30"]


def test_day_31_cannot_be_chosen_because_most_months_would_have_no_monthly_point() -> None:
    errors = validate_retention(RetentionRules(monthly_count=12, monthly_day=31))
    assert errors == {
        "monthly_day": ["Choose a day from 1 to 28, or 'last day' for days that some months do not have (29, 30, 31)."]
    }


def test_a_yearly_rule_on_the_last_day_of_february_keeps_the_28th_in_common_years_and_the_29th_in_leap_years() -> None:
    points = daily_points(date(2023, 1, 1), date(2025, 12, 31), time(3), ZoneInfo("UTC"))
    rules = RetentionRules(yearly_count=5, yearly_month=2, yearly_day=0)
    assert kept_dates(points, rules, utc(2025, 12, 31, 12)) == [
        "2023-02-28",
        "2024-02-29",
        "2025-02-28",
        "2025-12-31",  # newest
    ]


def test_a_leap_day_yearly_point_expires_on_28_february_when_the_end_year_is_common() -> None:
    rules = RetentionRules(yearly_count=1, yearly_month=2, yearly_day=0)
    assert expiry_for(Point("p", utc(2024, 2, 29, 3)), rules, utc(2024, 3, 1)) == utc(2025, 2, 28)


def test_a_missing_backup_on_the_qualifying_day_leaves_that_month_without_a_monthly_point() -> None:
    points = [p for p in daily_points(date(2024, 1, 1), date(2024, 3, 31), time(3), ZoneInfo("UTC"))]
    points = [p for p in points if p.id != "2024-02-15"]  # the run on 15 February failed
    rules = RetentionRules(monthly_count=6, monthly_day=15)
    assert kept_dates(points, rules, utc(2024, 3, 31, 12)) == ["2024-01-15", "2024-03-15", "2024-03-31"]


def test_week_based_monthly_rules_keep_the_first_sunday_and_the_last_friday() -> None:
    points = daily_points(date(2024, 1, 1), date(2024, 3, 31), time(3), ZoneInfo("UTC"))
    first_sunday = RetentionRules(monthly_count=3, monthly_weekday=SUNDAY, monthly_week="first")
    assert kept_dates(points, first_sunday, utc(2024, 3, 31, 12)) == [
        "2024-01-07",
        "2024-02-04",
        "2024-03-03",
        "2024-03-31",
    ]
    last_friday = RetentionRules(monthly_count=3, monthly_weekday=4, monthly_week="last")
    assert kept_dates(points, last_friday, utc(2024, 3, 31, 12)) == [
        "2024-01-26",
        "2024-02-23",
        "2024-03-29",
        "2024-03-31",
    ]


def test_daily_counts_today_and_the_days_before_it_in_the_rules_time_zone() -> None:
    """A point at 23:30 UTC belongs to the next local day in Berlin, which decides whether it is still kept."""
    rules = RetentionRules(daily_count=7, timezone="Europe/Berlin")
    now = datetime(2024, 1, 10, 12, tzinfo=BERLIN)
    points = [
        Point("4 Jan 12:00", datetime(2024, 1, 4, 12, tzinfo=BERLIN)),  # today - 6: kept
        Point("3 Jan 23:30Z", utc(2024, 1, 3, 23, 30)),  # 4 Jan 00:30 in Berlin: kept, but not the day's last
        Point("3 Jan 22:30Z", utc(2024, 1, 3, 22, 30)),  # 3 Jan 23:30 in Berlin, today - 7: expired
        Point("10 Jan", datetime(2024, 1, 10, 3, tzinfo=BERLIN)),
    ]
    decision = select(points, rules, now)
    assert set(decision.keep) == {"4 Jan 12:00", "10 Jan"}
    assert decision.expire == ["3 Jan 22:30Z", "3 Jan 23:30Z"]


def test_an_hourly_policy_keeps_the_last_backup_of_each_day_plus_instant_restore_snapshots() -> None:
    start = utc(2024, 1, 1)
    points = [Point(i, start + timedelta(hours=4 * i)) for i in range(6 * 20)]  # 20 days, six a day
    rules = RetentionRules(daily_count=7, instant_restore_days=2)
    now = utc(2024, 1, 20, 23)
    decision = select(points, rules, now)
    last_of_day = {i for i in range(120) if i % 6 == 5}
    daily = {i for i in last_of_day if points[i].created.date() >= date(2024, 1, 14)}
    instant = {i for i in range(120) if points[i].created > now - timedelta(days=2)}
    assert set(decision.keep) == daily | instant
    assert decision.keep[119] == ["instant-restore", "daily", "newest"]
    assert decision.keep[6 * 13 + 5] == ["daily"]  # 14 January, 20:00
    assert 6 * 13 + 4 in decision.expire  # 14 January, 16:00


def test_an_on_demand_point_is_kept_until_its_date_and_never_replaces_the_scheduled_point() -> None:
    scheduled = Point("scheduled", utc(2024, 5, 1, 2))
    on_demand = Point("on-demand", utc(2024, 5, 1, 18), on_demand_retain_until=utc(2024, 6, 1))
    newest = Point("newest", utc(2024, 5, 20, 2))
    rules = RetentionRules(daily_count=7, weekly_count=4, weekly_weekday=2)  # 1 May 2024 is a Wednesday
    decision = select([on_demand, scheduled, newest], rules, utc(2024, 5, 20, 12))
    assert decision.keep == {"scheduled": ["weekly"], "on-demand": ["on-demand"], "newest": ["daily", "newest"]}
    later = select([on_demand, scheduled, newest], rules, utc(2024, 6, 1))
    assert later.expire == ["scheduled", "on-demand"]
    assert expiry_for(on_demand, rules, utc(2024, 5, 20)) == utc(2024, 6, 1)


def test_the_newest_point_is_kept_after_backups_stopped_long_ago() -> None:
    points = daily_points(date(2020, 1, 1), date(2020, 1, 31), time(2), ZoneInfo("UTC"))
    decision = select(points, RetentionRules(daily_count=7), utc(2024, 1, 1))
    assert decision.keep == {"2020-01-31": ["newest"]}
    assert len(decision.expire) == 30


def test_expiry_is_the_start_of_the_local_day_after_the_daily_window() -> None:
    rules = RetentionRules(daily_count=30, timezone="Europe/Berlin", instant_restore_days=2)
    point = Point("p", datetime(2024, 3, 1, 2, 30, tzinfo=BERLIN))
    assert expiry_for(point, rules, utc(2024, 3, 1, 12)) == datetime(2024, 3, 31, 0, 0, tzinfo=BERLIN)
    assert expiry_for(point, rules, datetime(2024, 3, 31, 0, 0, tzinfo=BERLIN)) is None


def test_expiry_is_none_for_a_point_no_rule_keeps() -> None:
    rules = RetentionRules(weekly_count=4, weekly_weekday=SUNDAY)
    assert expiry_for(Point("monday", utc(2024, 1, 1, 3)), rules, utc(2024, 1, 1, 4)) is None
    assert expiry_for(Point("sunday", utc(2024, 1, 7, 3)), rules, utc(2024, 1, 7, 4)) == utc(2024, 2, 4)


def test_extending_retention_keeps_points_that_a_shorter_rule_would_expire() -> None:
    """Reference 2.9: extending retention re-marks existing points, reducing it prunes them at the next run."""
    points = daily_points(date(2024, 1, 1), date(2024, 3, 31), time(3), ZoneInfo("UTC"))
    now = utc(2024, 3, 31, 12)
    short = select(points, RetentionRules(daily_count=30), now)
    long = select(points, RetentionRules(daily_count=60), now)
    assert len(short.keep) == 30 and len(long.keep) == 60
    assert set(short.keep) < set(long.keep)


# --- properties -------------------------------------------------------------------------------------------------

# Zones whose local date never runs backwards across midnight, so the test can group days with astimezone().
ZONES = ["UTC", "Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "Asia/Kolkata", "Pacific/Chatham"]
SPAN_START = datetime(2020, 1, 1)
SPAN_END = datetime(2024, 12, 31)


@st.composite
def day_rule(draw: st.DrawFn, prefix: str) -> dict[str, object]:
    if draw(st.booleans()):
        return {f"{prefix}_day": draw(st.integers(0, 28))}
    return {f"{prefix}_weekday": draw(st.integers(0, 6)), f"{prefix}_week": draw(st.sampled_from(WEEKS_OF_MONTH))}


@st.composite
def rules_strategy(draw: st.DrawFn) -> RetentionRules:
    fields: dict[str, object] = {
        "timezone": draw(st.sampled_from(ZONES)),
        "daily_count": draw(st.one_of(st.just(0), st.integers(7, 60))),
        "weekly_count": draw(st.one_of(st.just(0), st.integers(4, 30))),
        "weekly_weekday": draw(st.integers(0, 6)),
        "monthly_count": draw(st.one_of(st.just(0), st.integers(3, 30))),
        "yearly_count": draw(st.one_of(st.just(0), st.integers(1, 4))),
        "yearly_month": draw(st.integers(1, 12)),
        "instant_restore_days": draw(st.integers(0, 30)),
    }
    fields.update(draw(day_rule("monthly")))
    fields.update(draw(day_rule("yearly")))
    rules = RetentionRules(**fields)  # type: ignore[arg-type]
    assume(rules.daily_count or rules.weekly_count or rules.monthly_count or rules.yearly_count)
    return rules


instants = st.datetimes(min_value=SPAN_START, max_value=SPAN_END, timezones=st.just(UTC))


@st.composite
def points_strategy(draw: st.DrawFn) -> list[Point]:
    # A small pool of instants makes ties on ``created`` and several points per day common.
    pool = draw(st.lists(instants, min_size=1, max_size=40))
    points = []
    for i in range(draw(st.integers(0, 60))):
        created = draw(st.sampled_from(pool))
        retain = None
        if draw(st.integers(0, 9)) == 0:
            retain = created + timedelta(days=draw(st.integers(0, 400)), hours=draw(st.integers(0, 23)))
        points.append(Point(i, created, retain))
    return points


@settings(max_examples=300, deadline=None)
@given(points_strategy(), rules_strategy(), instants)
def test_every_point_is_either_kept_with_a_reason_or_expired_and_the_newest_is_kept(
    points: list[Point], rules: RetentionRules, now: datetime
) -> None:
    decision = select(points, rules, now)
    ids = {p.id for p in points}
    assert set(decision.keep) | set(decision.expire) == ids
    assert not set(decision.keep) & set(decision.expire)
    assert len(decision.expire) == len(set(decision.expire))
    assert all(reasons and set(reasons) <= REASONS for reasons in decision.keep.values())
    if points:
        newest = max(points, key=lambda p: (p.created, p.id))
        assert "newest" in decision.keep[newest.id]


@settings(max_examples=200, deadline=None)
@given(points_strategy(), rules_strategy(), instants, st.randoms(use_true_random=False))
def test_the_decision_does_not_depend_on_the_order_of_the_points(
    points: list[Point], rules: RetentionRules, now: datetime, rnd: random.Random
) -> None:
    shuffled = list(points)
    rnd.shuffle(shuffled)
    assert select(points, rules, now) == select(shuffled, rules, now)


@settings(max_examples=300, deadline=None)
@given(
    points_strategy(),
    rules_strategy(),
    instants,
    st.sampled_from(["daily_count", "weekly_count", "monthly_count", "yearly_count"]),
    st.integers(1, 50),
)
def test_raising_a_count_never_expires_more(
    points: list[Point], rules: RetentionRules, now: datetime, count_field: str, extra: int
) -> None:
    current = getattr(rules, count_field)
    minimum = {"daily_count": 7, "weekly_count": 4, "monthly_count": 3, "yearly_count": 1}[count_field]
    raised = dataclasses.replace(rules, **{count_field: max(current + extra, minimum)})
    assert validate_retention(raised) == {}
    before, after = select(points, rules, now), select(points, raised, now)
    assert set(before.keep) <= set(after.keep)
    assert set(after.expire) <= set(before.expire)


def _represents_its_day(point: Point, points: list[Point], zone: ZoneInfo) -> bool:
    if point.on_demand_retain_until is not None:
        return True
    day = point.created.astimezone(zone).date()
    same_day = [p for p in points if p.on_demand_retain_until is None and p.created.astimezone(zone).date() == day]
    return max(same_day, key=lambda p: (p.created, p.id)) is point


@settings(max_examples=200, deadline=None)
@given(points_strategy(), rules_strategy(), instants)
def test_expiry_for_is_the_instant_from_which_select_stops_keeping_the_point_by_a_rule(
    points: list[Point], rules: RetentionRules, now: datetime
) -> None:
    zone = ZoneInfo(rules.timezone)
    decision = select(points, rules, now)
    for point in points:
        if not _represents_its_day(point, points, zone):
            continue
        by_rule = set(decision.keep.get(point.id, [])) - {"newest"}
        end = expiry_for(point, rules, now)
        assert (end is not None) == bool(by_rule), (point, by_rule, end)
        if end is not None:
            assert end > now
            assert set(select(points, rules, end).keep.get(point.id, [])) <= {"newest"}
            assert set(select(points, rules, end - timedelta(microseconds=1)).keep.get(point.id, [])) - {"newest"}
