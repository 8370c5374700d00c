"""Tests for the schedule calculator (policies/schedule.py): validation, next runs, DST behaviour."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from policies.schedule import (
    HOURLY_INTERVALS,
    Schedule,
    last_due,
    local_to_utc,
    next_runs,
    runs_between,
    runs_per_day,
    validate_schedule,
)

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def local_strings(runs: list[datetime], zone: ZoneInfo) -> list[str]:
    return [r.astimezone(zone).strftime("%Y-%m-%d %H:%M %Z") for r in runs]


def daily(*times: time, tz: str = "UTC") -> Schedule:
    return Schedule(frequency="daily", times=times, timezone=tz)


def hourly(start: time, hours: int, every: int, tz: str = "UTC") -> Schedule:
    return Schedule(frequency="hourly", interval_hours=every, window_start=start, window_hours=hours, timezone=tz)


# --- validation -------------------------------------------------------------------------------------------------


def test_a_portal_default_hourly_schedule_is_valid_for_file_shares() -> None:
    assert validate_schedule(hourly(time(8), 24, 4, "Europe/Berlin"), max_runs_per_day=6) == {}


def test_it_accepts_a_daily_and_a_weekly_schedule() -> None:
    assert validate_schedule(daily(time(2, 30), tz="America/New_York"), None) == {}
    weekly = Schedule(frequency="weekly", times=(time(22),), weekdays=(0, 3), timezone="UTC")
    assert validate_schedule(weekly, None) == {}


@pytest.mark.parametrize(
    ("schedule", "max_runs", "field", "fragment"),
    [
        (hourly(time(8), 24, 5), None, "interval_hours", "4, 6, 8 or 12"),
        (hourly(time(8), 3, 4), None, "window_hours", "at least as long as the interval"),
        (hourly(time(8), 25, 4), None, "window_hours", "at most 24 hours"),
        (hourly(time(8), 24, 4), 5, "interval_hours", "runs 6 times a day"),
        (hourly(time(8, 0, 30), 24, 4), None, "window_start", "whole minute"),
        (daily(*(time(h) for h in range(7))), 6, "times", "At most 6 scheduled backups"),
        (daily(time(1), time(1)), None, "times", "01:00 is listed more than once"),
        (daily(), None, "times", "at least one backup time"),
        (daily(time(1, 0, tzinfo=UTC)), None, "times", "without a time zone"),
        (daily(time(1), tz="Mars/Olympus_Mons"), None, "timezone", "Unknown time zone"),
        (daily(time(1), tz=""), None, "timezone", "Unknown time zone"),
        (Schedule(frequency="weekly", times=(time(1),)), None, "weekdays", "at least one day"),
        (Schedule(frequency="weekly", times=(time(1),), weekdays=(7,)), None, "weekdays", "0 (Monday) to 6"),
        (Schedule(frequency="weekly", times=(time(1),), weekdays=(2, 2)), None, "weekdays", "only once"),
        (Schedule(frequency="monthly", times=(time(1),)), None, "frequency", "hourly, daily or weekly"),
    ],
)
def test_it_reports_each_invalid_field_with_a_clear_message(
    schedule: Schedule, max_runs: int | None, field: str, fragment: str
) -> None:
    errors = validate_schedule(schedule, max_runs)
    assert field in errors, errors
    assert any(fragment in message for message in errors[field]), errors


def test_next_runs_refuses_an_invalid_schedule_and_a_naive_instant() -> None:
    with pytest.raises(ValueError, match="invalid schedule"):
        next_runs(hourly(time(8), 24, 5), utc(2024, 1, 1), 1)
    with pytest.raises(ValueError, match="aware"):
        next_runs(daily(time(1)), datetime(2024, 1, 1), 1)


@pytest.mark.parametrize(
    ("schedule", "expected"),
    [
        (daily(time(1), time(13)), 2),
        (Schedule(frequency="weekly", times=(time(1),), weekdays=(0, 4)), 1),
        (hourly(time(8), 24, 4), 6),
        (hourly(time(8), 12, 4), 4),
        (hourly(time(22), 8, 4), 3),
        (hourly(time(0), 24, 12), 2),
        (hourly(time(0), 12, 12), 2),
        (hourly(time(6), 6, 6), 2),
        (hourly(time(8), 23, 8), 3),
    ],
)
def test_runs_per_day_counts_window_runs_including_the_window_end(schedule: Schedule, expected: int) -> None:
    assert runs_per_day(schedule) == expected


# --- named examples ---------------------------------------------------------------------------------------------


def test_daily_0230_in_berlin_runs_once_at_0300_on_the_spring_forward_day() -> None:
    runs = next_runs(daily(time(2, 30), tz="Europe/Berlin"), utc(2024, 3, 29, 12), 3)
    assert runs == [utc(2024, 3, 30, 1, 30), utc(2024, 3, 31, 1, 0), utc(2024, 4, 1, 0, 30)]
    assert local_strings(runs, BERLIN) == ["2024-03-30 02:30 CET", "2024-03-31 03:00 CEST", "2024-04-01 02:30 CEST"]


def test_daily_0230_in_berlin_runs_once_at_the_first_occurrence_on_the_fall_back_day() -> None:
    runs = next_runs(daily(time(2, 30), tz="Europe/Berlin"), utc(2024, 10, 25, 12), 3)
    assert runs == [utc(2024, 10, 26, 0, 30), utc(2024, 10, 27, 0, 30), utc(2024, 10, 28, 1, 30)]
    assert local_strings(runs, BERLIN) == [
        "2024-10-26 02:30 CEST",
        "2024-10-27 02:30 CEST",
        "2024-10-28 02:30 CET",
    ]


def test_daily_0230_in_new_york_runs_once_at_0300_on_the_spring_forward_day() -> None:
    runs = next_runs(daily(time(2, 30), tz="America/New_York"), utc(2024, 3, 9), 3)
    assert runs == [utc(2024, 3, 9, 7, 30), utc(2024, 3, 10, 7, 0), utc(2024, 3, 11, 6, 30)]
    assert local_strings(runs, NEW_YORK) == ["2024-03-09 02:30 EST", "2024-03-10 03:00 EDT", "2024-03-11 02:30 EDT"]


def test_daily_0230_in_new_york_runs_once_on_the_fall_back_day() -> None:
    # New York repeats 01:00-01:59, so 02:30 exists exactly once (on standard time).
    runs = next_runs(daily(time(2, 30), tz="America/New_York"), utc(2024, 11, 2), 3)
    assert runs == [utc(2024, 11, 2, 6, 30), utc(2024, 11, 3, 7, 30), utc(2024, 11, 4, 7, 30)]


def test_a_time_in_new_yorks_repeated_hour_runs_once_at_its_first_occurrence() -> None:
    runs = runs_between(daily(time(1, 30), tz="America/New_York"), utc(2024, 11, 3), utc(2024, 11, 4))
    assert runs == [utc(2024, 11, 3, 5, 30)]
    assert local_strings(runs, NEW_YORK) == ["2024-11-03 01:30 EDT"]


def test_two_times_inside_the_gap_collapse_into_one_run_at_the_jump() -> None:
    schedule = daily(time(2), time(2, 30), tz="Europe/Berlin")
    runs = runs_between(schedule, utc(2024, 3, 30, 12), utc(2024, 4, 1, 12))
    assert local_strings(runs, BERLIN) == ["2024-03-31 03:00 CEST", "2024-04-01 02:00 CEST", "2024-04-01 02:30 CEST"]


def test_an_hourly_window_of_12_hours_every_4_hours_from_0800_runs_at_08_12_16_and_20() -> None:
    schedule = hourly(time(8), 12, 4, "Europe/Berlin")
    runs = runs_between(schedule, utc(2024, 1, 14, 23), utc(2024, 1, 15, 23))
    assert local_strings(runs, BERLIN) == [
        "2024-01-15 08:00 CET",
        "2024-01-15 12:00 CET",
        "2024-01-15 16:00 CET",
        "2024-01-15 20:00 CET",
    ]


def test_an_hourly_window_crossing_midnight_continues_on_the_next_local_day() -> None:
    # 22:00 for 8 h every 4 h: offsets 0, 4 and 8 h are inside the window (its end is included, as for
    # 08:00 + 12 h above), so the runs are 22:00, 02:00 and 06:00.
    schedule = hourly(time(22), 8, 4, "Europe/Berlin")
    runs = runs_between(schedule, utc(2024, 1, 15, 12), utc(2024, 1, 16, 12))
    assert local_strings(runs, BERLIN) == ["2024-01-15 22:00 CET", "2024-01-16 02:00 CET", "2024-01-16 06:00 CET"]


def test_a_window_shorter_than_two_intervals_crossing_midnight_runs_at_22_and_02() -> None:
    schedule = hourly(time(22), 7, 4, "Europe/Berlin")
    runs = runs_between(schedule, utc(2024, 1, 15, 12), utc(2024, 1, 16, 12))
    assert local_strings(runs, BERLIN) == ["2024-01-15 22:00 CET", "2024-01-16 02:00 CET"]


def test_a_24_hour_window_runs_six_times_a_day_without_repeating_the_start() -> None:
    schedule = hourly(time(8), 24, 4, "UTC")
    runs = runs_between(schedule, utc(2024, 1, 1, 7), utc(2024, 1, 2, 7))
    assert [r.hour for r in runs] == [8, 12, 16, 20, 0, 4]


def test_an_hourly_window_keeps_its_local_start_across_spring_forward_and_fall_back() -> None:
    schedule = hourly(time(8), 12, 4, "Europe/Berlin")
    runs = runs_between(schedule, utc(2024, 3, 30), utc(2024, 4, 1))
    assert local_strings(runs, BERLIN) == [
        "2024-03-30 08:00 CET",
        "2024-03-30 12:00 CET",
        "2024-03-30 16:00 CET",
        "2024-03-30 20:00 CET",
        "2024-03-31 08:00 CEST",
        "2024-03-31 12:00 CEST",
        "2024-03-31 16:00 CEST",
        "2024-03-31 20:00 CEST",
    ]
    autumn = runs_between(schedule, utc(2024, 10, 27), utc(2024, 10, 28))
    assert [r.astimezone(BERLIN).hour for r in autumn] == [8, 12, 16, 20]


def test_an_overnight_window_steps_by_wall_clock_through_the_spring_forward_night() -> None:
    # 22:00 every 4 h for 24 h: 22, 02, 06, 10, 14, 18 local; 02:00 does not exist on 31 March and moves to 03:00.
    schedule = hourly(time(22), 24, 4, "Europe/Berlin")
    runs = runs_between(schedule, utc(2024, 3, 30, 20), utc(2024, 3, 31, 17))
    assert local_strings(runs, BERLIN) == [
        "2024-03-30 22:00 CET",
        "2024-03-31 03:00 CEST",
        "2024-03-31 06:00 CEST",
        "2024-03-31 10:00 CEST",
        "2024-03-31 14:00 CEST",
        "2024-03-31 18:00 CEST",
    ]


def test_a_weekly_schedule_runs_only_on_its_weekdays() -> None:
    schedule = Schedule(frequency="weekly", times=(time(10),), weekdays=(0, 3), timezone="America/New_York")
    runs = next_runs(schedule, utc(2024, 7, 1), 4)  # 2024-07-01 is a Monday; 10:00 EDT is 14:00 UTC
    assert runs == [utc(2024, 7, 1, 14), utc(2024, 7, 4, 14), utc(2024, 7, 8, 14), utc(2024, 7, 11, 14)]


def test_next_runs_is_strictly_after_the_given_instant() -> None:
    schedule = daily(time(2, 30))
    assert next_runs(schedule, utc(2024, 1, 1, 2, 30), 1) == [utc(2024, 1, 2, 2, 30)]
    assert next_runs(schedule, utc(2024, 1, 1, 2, 29, 59), 1) == [utc(2024, 1, 1, 2, 30)]
    assert next_runs(schedule, utc(2024, 1, 1), 0) == []


def test_runs_between_excludes_the_start_and_includes_the_end() -> None:
    schedule = daily(time(2, 30))
    assert runs_between(schedule, utc(2024, 1, 1, 2, 30), utc(2024, 1, 2, 2, 30)) == [utc(2024, 1, 2, 2, 30)]
    assert runs_between(schedule, utc(2024, 1, 2), utc(2024, 1, 1)) == []


def test_last_due_gives_one_catch_up_instant_after_days_of_downtime() -> None:
    """GIVEN a daily 02:30 schedule and a dispatcher that was down from 1 to 5 January
    WHEN it asks at 5 January 10:00 what was due last
    THEN it gets only 5 January 02:30, not the four runs it missed."""
    schedule = daily(time(2, 30), tz="Europe/Berlin")
    assert last_due(schedule, utc(2024, 1, 5, 9)) == utc(2024, 1, 5, 1, 30)
    assert last_due(schedule, utc(2024, 1, 5, 1, 30)) == utc(2024, 1, 5, 1, 30)
    assert last_due(schedule, utc(2024, 1, 5, 1, 29)) == utc(2024, 1, 4, 1, 30)


def test_last_due_of_a_weekly_schedule_looks_back_a_whole_week() -> None:
    schedule = Schedule(frequency="weekly", times=(time(23, 30),), weekdays=(6,), timezone="UTC")
    assert last_due(schedule, utc(2024, 7, 6, 23)) == utc(2024, 6, 30, 23, 30)


@pytest.mark.parametrize("tz", ["Europe/Berlin", "America/New_York", "Australia/Lord_Howe"])
def test_a_single_daily_time_runs_exactly_once_on_every_local_day_of_a_year(tz: str) -> None:
    zone = ZoneInfo(tz)
    first, last = date(2024, 1, 1), date(2024, 12, 31)
    start = local_to_utc(datetime.combine(first, time(0)), zone) - timedelta(microseconds=1)  # start is excluded
    end = local_to_utc(datetime.combine(last + timedelta(days=1), time(0)), zone) - timedelta(microseconds=1)
    for minutes in range(0, 24 * 60, 30):
        runs = runs_between(daily(time(minutes // 60, minutes % 60), tz=tz), start, end)
        per_day = Counter(r.astimezone(zone).date() for r in runs)
        assert len(per_day) == 366 and set(per_day.values()) == {1}, (tz, minutes)


def test_local_to_utc_maps_a_day_that_starts_in_a_gap_to_the_jump() -> None:
    # Santiago springs forward at local midnight: 2024-09-08 00:00 does not exist, the day starts at 01:00.
    santiago = ZoneInfo("America/Santiago")
    start = local_to_utc(datetime(2024, 9, 8), santiago)
    assert start.astimezone(santiago).strftime("%Y-%m-%d %H:%M") == "2024-09-08 01:00"


# --- properties -------------------------------------------------------------------------------------------------

ZONES = [
    "UTC",
    "Europe/Berlin",
    "America/New_York",
    "Australia/Lord_Howe",  # 30-minute DST
    "America/Santiago",  # DST at midnight
    "Pacific/Apia",  # skipped a whole day in 2011
    "America/Havana",
    "Asia/Kolkata",
    "Pacific/Chatham",
]

wall_times = st.builds(time, st.integers(0, 23), st.integers(0, 59))
instants = st.datetimes(min_value=datetime(2005, 1, 1), max_value=datetime(2035, 12, 31), timezones=st.just(UTC))


@st.composite
def schedules(draw: st.DrawFn) -> Schedule:
    tz = draw(st.sampled_from(ZONES))
    frequency = draw(st.sampled_from(["hourly", "daily", "weekly"]))
    if frequency == "hourly":
        every = draw(st.sampled_from(HOURLY_INTERVALS))
        return hourly(draw(wall_times), draw(st.integers(every, 24)), every, tz)
    times = tuple(draw(st.lists(wall_times, min_size=1, max_size=4, unique=True)))
    if frequency == "daily":
        return daily(*times, tz=tz)
    weekdays = tuple(draw(st.lists(st.integers(0, 6), min_size=1, max_size=7, unique=True)))
    return Schedule(frequency="weekly", times=times, weekdays=weekdays, timezone=tz)


def configured_walls(s: Schedule) -> set[time]:
    if s.frequency == "hourly":
        start = datetime.combine(date(2000, 1, 1), s.window_start)
        return {(start + timedelta(hours=k * s.interval_hours)).time() for k in range(runs_per_day(s))}
    return set(s.times)


def is_jump_over_a_configured_time(run: datetime, s: Schedule, zone: ZoneInfo) -> bool:
    """True when ``run`` is the instant the clocks jump forward and a configured wall time lies in the gap."""
    before = (run - timedelta(seconds=1)).astimezone(zone).replace(tzinfo=None) + timedelta(seconds=1)
    after = run.astimezone(zone).replace(tzinfo=None)
    if after <= before:
        return False
    candidates = {datetime.combine(before.date() + timedelta(days=d), t) for d in (0, 1) for t in configured_walls(s)}
    return any(before <= c < after for c in candidates)


def has_offset_change(zone: ZoneInfo, day: date) -> bool:
    """True when the UTC offset changes anywhere from the day before ``day`` to the day after it."""
    start = datetime.combine(day - timedelta(days=1), time(0), tzinfo=zone).astimezone(UTC)
    offsets = {(start + timedelta(minutes=30 * i)).astimezone(zone).utcoffset() for i in range(3 * 48 + 2)}
    return len(offsets) > 1


@settings(max_examples=300, deadline=None)
@given(schedules(), instants, st.integers(1, 40))
def test_next_runs_are_increasing_after_the_instant_and_at_configured_wall_times(
    s: Schedule, after: datetime, count: int
) -> None:
    zone = ZoneInfo(s.timezone)
    runs = next_runs(s, after, count)
    assert len(runs) == count
    assert all(r.tzinfo is UTC for r in runs)
    assert runs[0] > after
    assert all(a < b for a, b in zip(runs, runs[1:], strict=False))
    walls = configured_walls(s)
    for run in runs:
        local = run.astimezone(zone)
        if local.time().replace(fold=0) in walls:
            if s.frequency == "weekly":
                assert local.weekday() in s.weekdays
        else:
            assert is_jump_over_a_configured_time(run, s, zone), (run, local)


@settings(max_examples=200, deadline=None)
@given(schedules(), instants)
def test_each_local_day_away_from_dst_changes_has_the_configured_number_of_runs(s: Schedule, after: datetime) -> None:
    zone = ZoneInfo(s.timezone)
    runs = runs_between(s, after, after + timedelta(days=10))
    per_day = Counter(r.astimezone(zone).date() for r in runs)
    first = after.astimezone(zone).date()
    for offset in range(1, 9):  # whole local days inside the range
        day = first + timedelta(days=offset)
        if has_offset_change(zone, day):
            continue
        expected = runs_per_day(s)
        if s.frequency == "weekly" and day.weekday() not in s.weekdays:
            expected = 0
        assert per_day[day] == expected, (day, sorted(r for r in runs if r.astimezone(zone).date() == day))


@settings(max_examples=200, deadline=None)
@given(schedules(), instants, st.integers(0, 24 * 20))
def test_runs_between_agrees_with_next_runs(s: Schedule, start: datetime, hours: int) -> None:
    end = start + timedelta(hours=hours, minutes=17)
    between = runs_between(s, start, end)
    following = next_runs(s, start, len(between) + 1)
    assert following[: len(between)] == between
    assert following[-1] > end


@settings(max_examples=200, deadline=None)
@given(schedules(), instants)
def test_last_due_is_the_latest_run_at_or_before_the_instant(s: Schedule, at: datetime) -> None:
    due = last_due(s, at)
    assert due is not None
    assert due <= at
    assert next_runs(s, due, 1)[0] > at
    assert next_runs(s, due - timedelta(microseconds=1), 1) == [due]
