"""Backup schedule calculator: when a policy's backups run.

Pure functions (standard library only) shared by the dispatcher, which starts due backups, and by the live
preview in the policy editor, so both always agree on the same instants.

A schedule is written in local wall-clock time of the policy's time zone and evaluated there:

* ``daily``  - one run at each of ``times`` every local day.
* ``weekly`` - one run at each of ``times`` on each local day whose weekday is in ``weekdays`` (0 = Monday).
* ``hourly`` - a window that opens every local day at ``window_start`` and lasts ``window_hours``; runs at
  ``window_start``, ``window_start + interval_hours``, ... for as long as the offset from the window start is at
  most ``window_hours`` (the end of the window is included: 08:00 for 12 h every 4 h runs at 08, 12, 16 and
  20). A run exactly 24 h after the start is the next day's first run, not an extra one, so the portal default
  (08:00, every 4 h, 24 h) runs six times a day. Windows may cross midnight; their runs keep the wall-clock
  times ``window_start + k * interval_hours`` (they are not re-spaced by elapsed hours when the clocks change).

Daylight-saving rule (one rule for every frequency): a run due at local wall time ``W`` happens at the
earliest instant at which the local clock shows ``W`` or later. Consequences:

* spring forward - a wall time inside the gap does not exist; the run happens at the instant the clocks jump,
  i.e. at the first valid local time after the gap (a daily 02:30 in Europe/Berlin runs at 03:00 CEST on the
  last Sunday of March). Several configured times inside the same gap collapse into that single run.
* fall back - a wall time inside the repeated hour happens twice; the run happens once, at the first
  occurrence (``fold=0``, still on summer time).

So a daily schedule runs exactly once per configured time per local day, DST or not (except for the collapse
described above). All instants passed in and returned are timezone-aware; results are in UTC.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

FREQUENCIES = ("hourly", "daily", "weekly")
HOURLY_INTERVALS = (4, 6, 8, 12)
MAX_WINDOW_HOURS = 24

# A valid schedule runs at least once every 7 days; the extra day absorbs windows that cross midnight and
# runs moved by a DST gap.
_MAX_DAYS_BETWEEN_RUNS = 8


@dataclass(frozen=True)
class Schedule:
    """When a backup policy runs, in local time of ``timezone``.

    Fields that do not belong to ``frequency`` are ignored (``times`` for hourly, the window for daily and
    weekly, ``weekdays`` for daily), so an editor can keep them while the user switches frequency.
    """

    frequency: str
    times: tuple[time, ...] = ()
    weekdays: tuple[int, ...] = ()
    interval_hours: int = 4
    window_start: time = time(8, 0)
    window_hours: int = 24
    timezone: str = "UTC"


def get_zone(name: str) -> ZoneInfo | None:
    """Return the IANA zone called ``name``, or ``None`` when no such zone exists."""
    if not isinstance(name, str) or not name:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return None


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _time_errors(value: object, label: str) -> list[str]:
    if not isinstance(value, time):
        return [f"{label} must be a time of day."]
    if value.tzinfo is not None:
        return [f"{label} must be a local time without a time zone; the policy's time zone applies."]
    if value.second or value.microsecond:
        return [f"{label} must be on a whole minute."]
    return []


def _add(errors: dict[str, list[str]], field: str, message: str) -> None:
    errors.setdefault(field, []).append(message)


def validate_schedule(s: Schedule, max_runs_per_day: int | None = None) -> dict[str, list[str]]:
    """Check a schedule and return user-facing error messages keyed by field name (empty dict = valid).

    ``max_runs_per_day`` is the datasource's limit of scheduled runs per local day (file shares allow 6);
    ``None`` means no limit.
    """
    errors: dict[str, list[str]] = {}
    if get_zone(s.timezone) is None:
        _add(errors, "timezone", f"Unknown time zone {s.timezone!r}; use an IANA name such as 'Europe/Berlin'.")

    if s.frequency not in FREQUENCIES:
        _add(errors, "frequency", "Choose hourly, daily or weekly.")
        return errors

    if s.frequency == "hourly":
        interval_ok = _is_int(s.interval_hours) and s.interval_hours in HOURLY_INTERVALS
        if not interval_ok:
            _add(errors, "interval_hours", "Run every 4, 6, 8 or 12 hours.")
        for message in _time_errors(s.window_start, "The window start"):
            _add(errors, "window_start", message)
        if not _is_int(s.window_hours):
            _add(errors, "window_hours", "The window duration must be a whole number of hours.")
        elif s.window_hours > MAX_WINDOW_HOURS:
            _add(errors, "window_hours", "The window can last at most 24 hours.")
        elif interval_ok and s.window_hours < s.interval_hours:
            _add(
                errors,
                "window_hours",
                f"The window must last at least as long as the interval ({s.interval_hours} hours).",
            )
        elif s.window_hours < 1:
            _add(errors, "window_hours", "The window must last at least one hour.")
        if not errors and max_runs_per_day is not None:
            runs = runs_per_day(s)
            if runs > max_runs_per_day:
                _add(
                    errors,
                    "interval_hours",
                    f"This schedule runs {runs} times a day; at most {max_runs_per_day} scheduled backups a day "
                    "are allowed. Choose a longer interval or a shorter window.",
                )
        return errors

    # daily and weekly
    if not isinstance(s.times, tuple) or not s.times:
        _add(errors, "times", "Add at least one backup time.")
    else:
        for value in s.times:
            for message in _time_errors(value, f"Backup time {value}"):
                _add(errors, "times", message)
        if "times" not in errors:
            seen: set[time] = set()
            duplicates: set[time] = set()
            for t in s.times:
                (duplicates if t in seen else seen).add(t)
            for t in sorted(duplicates):
                _add(errors, "times", f"{t.strftime('%H:%M')} is listed more than once.")
            if max_runs_per_day is not None and len(seen) > max_runs_per_day:
                _add(
                    errors,
                    "times",
                    f"At most {max_runs_per_day} scheduled backups a day are allowed; {len(seen)} times are set.",
                )
    if s.frequency == "weekly":
        if not isinstance(s.weekdays, tuple) or not s.weekdays:
            _add(errors, "weekdays", "Choose at least one day of the week.")
        else:
            bad = [d for d in s.weekdays if not _is_int(d) or not 0 <= d <= 6]
            if bad:
                _add(errors, "weekdays", "Days of the week are numbered 0 (Monday) to 6 (Sunday).")
            elif len(set(s.weekdays)) != len(s.weekdays):
                _add(errors, "weekdays", "Each day of the week can be chosen only once.")
    return errors


def runs_per_day(s: Schedule) -> int:
    """Scheduled runs on a local day that has runs, away from DST changes.

    Daily: the number of distinct times. Weekly: the number of distinct times on each chosen weekday (other
    days have none). Hourly: the number of runs one window produces.
    """
    if s.frequency == "hourly":
        if s.interval_hours not in HOURLY_INTERVALS or not _is_int(s.window_hours) or s.window_hours < 0:
            raise ValueError("invalid hourly schedule: check interval_hours and window_hours")
        return min(s.window_hours // s.interval_hours, 24 // s.interval_hours - 1) + 1
    return len(set(s.times))


def _wall_times(s: Schedule, day: date) -> list[datetime]:
    """Naive local wall times of the runs that belong to ``day``, ascending (hourly runs may spill past it)."""
    if s.frequency == "hourly":
        start = datetime.combine(day, s.window_start)
        step = timedelta(hours=s.interval_hours)
        return [start + k * step for k in range(runs_per_day(s))]
    if s.frequency == "weekly" and day.weekday() not in s.weekdays:
        return []
    return [datetime.combine(day, t) for t in sorted(set(s.times))]


@lru_cache(maxsize=8192)
def local_to_utc(wall: datetime, zone: tzinfo) -> datetime:
    """Return the earliest instant (aware, UTC) at which the clock of ``zone`` shows ``wall`` or later.

    ``wall`` is naive. Ordinary times map to their single instant, times in a fall-back fold to their first
    occurrence, times in a spring-forward gap to the instant the clocks jump (the first valid time after the
    gap). This is the module's DST rule; retention uses it too, for the first instant of a local day.
    """
    first = wall.replace(tzinfo=zone, fold=0)
    second = wall.replace(tzinfo=zone, fold=1)
    off_first, off_second = first.utcoffset(), second.utcoffset()
    if off_first == off_second:
        return first.astimezone(UTC)
    candidate = first.astimezone(UTC)
    if candidate.astimezone(zone).replace(tzinfo=None) == wall:
        return candidate  # exists (maybe twice): fold=0 is the first occurrence
    # In a gap the clock jumps over ``wall`` somewhere between these two instants; find the jump to the second.
    lo = int((wall - off_second).replace(tzinfo=UTC).timestamp())  # clock still before ``wall``
    hi = int((wall - off_first).replace(tzinfo=UTC).timestamp()) + 1  # clock already past ``wall``
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if datetime.fromtimestamp(mid, zone).replace(tzinfo=None) >= wall:
            hi = mid
        else:
            lo = mid
    return datetime.fromtimestamp(hi, UTC)


def _checked_zone(s: Schedule) -> ZoneInfo:
    errors = validate_schedule(s)
    if errors:
        raise ValueError(f"invalid schedule: {errors}")
    zone = get_zone(s.timezone)
    assert zone is not None  # validated above
    return zone


def _as_utc(value: datetime, name: str) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware")
    return value.astimezone(UTC)


def _runs_from(s: Schedule, zone: ZoneInfo, first_day: date):
    """Yield the runs of the days from ``first_day`` on, ascending and without duplicates."""
    previous: datetime | None = None
    day = first_day
    while True:
        for wall in _wall_times(s, day):
            instant = local_to_utc(wall, zone)
            if instant != previous:
                yield instant
                previous = instant
        day += timedelta(days=1)


def next_runs(s: Schedule, after: datetime, count: int) -> list[datetime]:
    """Return the next ``count`` runs strictly after ``after`` (aware), as aware UTC datetimes, ascending.

    Raises ``ValueError`` for an invalid schedule or a naive ``after``.
    """
    zone = _checked_zone(s)
    after = _as_utc(after, "after")
    if count <= 0:
        return []
    # Start a day early: yesterday's hourly window may reach past midnight.
    first_day = after.astimezone(zone).date() - timedelta(days=1)
    result: list[datetime] = []
    for instant in _runs_from(s, zone, first_day):
        if instant > after:
            result.append(instant)
            if len(result) == count:
                break
    return result


def runs_between(s: Schedule, start: datetime, end: datetime) -> list[datetime]:
    """Return the runs ``r`` with ``start < r <= end`` (aware UTC, ascending).

    The interval is open at the start and closed at the end, matching ``next_runs`` (strictly after) and
    ``last_due`` (at or before), so consecutive windows never count a run twice.
    """
    zone = _checked_zone(s)
    start, end = _as_utc(start, "start"), _as_utc(end, "end")
    result: list[datetime] = []
    if end <= start:
        return result
    first_day = start.astimezone(zone).date() - timedelta(days=1)
    for instant in _runs_from(s, zone, first_day):
        if instant > end:
            break
        if instant > start:
            result.append(instant)
    return result


def last_due(s: Schedule, at: datetime) -> datetime | None:
    """Return the most recent run at or before ``at`` (aware UTC).

    The dispatcher compares it with the last run it started: after downtime it starts at most one catch-up
    run, for this instant, instead of one per missed run. A valid schedule always has a run within the last
    eight days; ``None`` is returned only if it has none.
    """
    at = _as_utc(at, "at")
    runs = runs_between(s, at - timedelta(days=_MAX_DAYS_BETWEEN_RUNS), at)
    return runs[-1] if runs else None
