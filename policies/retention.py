"""Retention calculator: which recovery points a policy keeps (grandfather-father-son, Azure Backup semantics).

Pure functions (standard library only) shared by the retention task, which expires what is not kept, and by
the policy editor's preview. Everything is evaluated on local days of the rules' time zone. A local day ``D``
is the interval from the first instant of ``D`` to the first instant of the next day (the first instant is
found with the schedule module's DST rule, so days that start inside a DST gap still have one).

Which backup represents a day: the **last scheduled backup of the local day** (latest ``created``). Hourly
policies therefore keep one point per day through the daily/weekly/monthly/yearly rules and the rest only
through instant restore. On-demand points (``on_demand_retain_until`` set) never represent a day.

Rules (a count of 0 switches the rule off); a point is kept by a rule while today is before the rule's end:

* ``daily`` - the day's point, while today < day + ``daily_count`` days (so ``daily_count`` days including
  today are covered, e.g. 30 means today and the 29 days before).
* ``weekly`` - the point of a day whose weekday is ``weekly_weekday``, while today < day + ``weekly_count``
  weeks.
* ``monthly`` - the point of the month's qualifying day, while today < day + ``monthly_count`` calendar months.
  The qualifying day is ``monthly_day`` (1-28), the month's last day (``monthly_day=0``), or the
  ``monthly_week`` (first...fourth, last) ``monthly_weekday`` of the month.
* ``yearly`` - the point of the qualifying day in ``yearly_month`` (chosen like the monthly day), while
  today < day + ``yearly_count`` years.
* ``instant-restore`` - every point (scheduled or on-demand) younger than ``instant_restore_days`` * 24 h.
* ``on-demand`` - an on-demand point while now < ``on_demand_retain_until``; no other GFS rule applies to it.
* ``newest`` - the newest point (latest ``created``) is never expired, so a protected item always keeps one.

Missing backups: as in Azure Backup, a weekly/monthly/yearly rule keeps only a backup taken on the exact
qualifying day. If that day has no scheduled backup (failed run, downtime), the period has no weekly/monthly/
yearly point; no backup from a neighbouring day is promoted.

Day numbers follow the reference portal: 1-28 or "last". February 29 cannot be chosen; "last day of
February" keeps 29 February in leap years and 28 February otherwise. Adding months or years to a day that
does not exist in the target month (31 January + 1 month, 29 February + 1 year) lands on that month's last
day.
"""

from __future__ import annotations

import calendar
from collections.abc import Hashable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from policies.schedule import get_zone, local_to_utc

REASON_NEWEST = "newest"
REASON_INSTANT_RESTORE = "instant-restore"
REASON_ON_DEMAND = "on-demand"
REASON_DAILY = "daily"
REASON_WEEKLY = "weekly"
REASON_MONTHLY = "monthly"
REASON_YEARLY = "yearly"

WEEKS_OF_MONTH = ("first", "second", "third", "fourth", "last")
LAST_DAY = 0

# Ranges from the reference (Azure Backup support matrix, also used by the portal for VM policies).
DAILY_RANGE = (7, 9999)  # days
WEEKLY_RANGE = (4, 5163)  # weeks
MONTHLY_RANGE = (3, 1188)  # months
YEARLY_RANGE = (1, 99)  # years
INSTANT_RESTORE_RANGE = (0, 30)  # days; 0 = no instant-restore tier
DAY_OF_MONTH_RANGE = (1, 28)


@dataclass(frozen=True)
class RetentionRules:
    """How long a policy keeps its recovery points; see the module docstring for the exact semantics.

    Monthly and yearly rules are either day-based (``*_day``: 1-28, or 0 for the month's last day) or
    week-based (``*_weekday`` 0=Monday..6 plus ``*_week`` in ``WEEKS_OF_MONTH``), never both.
    """

    daily_count: int = 0
    weekly_count: int = 0
    weekly_weekday: int | None = None
    monthly_count: int = 0
    monthly_day: int | None = None
    monthly_weekday: int | None = None
    monthly_week: str | None = None
    yearly_count: int = 0
    yearly_month: int | None = None
    yearly_day: int | None = None
    yearly_weekday: int | None = None
    yearly_week: str | None = None
    instant_restore_days: int = 0
    timezone: str = "UTC"


@dataclass(frozen=True)
class Point:
    """A recovery point as retention sees it. ``id`` must be hashable and comparable with the other ids."""

    id: Hashable
    created: datetime
    on_demand_retain_until: datetime | None = None


@dataclass(frozen=True)
class RetentionDecision:
    """Outcome of ``select``: the kept ids with their reasons, and the ids to expire (oldest first)."""

    keep: dict[Hashable, list[str]] = field(default_factory=dict)
    expire: list[Hashable] = field(default_factory=list)


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_range(errors: dict[str, list[str]], name: str, value: object, bounds: tuple[int, int], unit: str) -> None:
    low, high = bounds
    if not _is_int(value) or not (value == 0 or low <= value <= high):
        errors.setdefault(name, []).append(f"Keep between {low} and {high} {unit}, or 0 to switch the rule off.")


def _check_day_rule(errors: dict[str, list[str]], prefix: str, day: object, weekday: object, week: object) -> None:
    """Validate the 'which day of the month' part of a monthly or yearly rule."""
    day_based = day is not None
    week_based = weekday is not None or week is not None
    if day_based and week_based:
        errors.setdefault(f"{prefix}_day", []).append(
            "Choose either a day of the month or a weekday of the month, not both."
        )
        return
    if not day_based and not week_based:
        errors.setdefault(f"{prefix}_day", []).append("Choose a day of the month or a weekday of the month.")
        return
    if day_based:
        low, high = DAY_OF_MONTH_RANGE
        if not _is_int(day) or not (day == LAST_DAY or low <= day <= high):
            errors.setdefault(f"{prefix}_day", []).append(
                f"Choose a day from {low} to {high}, or 'last day' for days that some months do not have (29, 30, 31)."
            )
        return
    if not _is_int(weekday) or not 0 <= weekday <= 6:
        errors.setdefault(f"{prefix}_weekday", []).append("Choose a weekday from Monday to Sunday.")
    if week not in WEEKS_OF_MONTH:
        errors.setdefault(f"{prefix}_week", []).append("Choose first, second, third, fourth or last.")


def validate_retention(r: RetentionRules) -> dict[str, list[str]]:
    """Check retention rules; return user-facing error messages keyed by field name (empty dict = valid).

    ``__all__`` holds errors that belong to no single field.
    """
    errors: dict[str, list[str]] = {}
    if get_zone(r.timezone) is None:
        errors["timezone"] = [f"Unknown time zone {r.timezone!r}; use an IANA name such as 'Europe/Berlin'."]
    _check_range(errors, "daily_count", r.daily_count, DAILY_RANGE, "days")
    _check_range(errors, "weekly_count", r.weekly_count, WEEKLY_RANGE, "weeks")
    _check_range(errors, "monthly_count", r.monthly_count, MONTHLY_RANGE, "months")
    _check_range(errors, "yearly_count", r.yearly_count, YEARLY_RANGE, "years")
    low, high = INSTANT_RESTORE_RANGE
    if not _is_int(r.instant_restore_days) or not low <= r.instant_restore_days <= high:
        errors.setdefault("instant_restore_days", []).append(f"Keep instant-restore snapshots {low} to {high} days.")

    counts = (r.daily_count, r.weekly_count, r.monthly_count, r.yearly_count)
    if all(_is_int(c) and c == 0 for c in counts):
        errors.setdefault("__all__", []).append("Switch on at least one of the daily, weekly, monthly or yearly rules.")

    weekly_on = _is_int(r.weekly_count) and r.weekly_count > 0
    if weekly_on and (not _is_int(r.weekly_weekday) or not 0 <= r.weekly_weekday <= 6):
        errors.setdefault("weekly_weekday", []).append("Choose the weekday whose backup is kept weekly.")
    if _is_int(r.monthly_count) and r.monthly_count > 0:
        _check_day_rule(errors, "monthly", r.monthly_day, r.monthly_weekday, r.monthly_week)
    if _is_int(r.yearly_count) and r.yearly_count > 0:
        if not _is_int(r.yearly_month) or not 1 <= r.yearly_month <= 12:
            errors.setdefault("yearly_month", []).append("Choose the month whose backup is kept yearly.")
        _check_day_rule(errors, "yearly", r.yearly_day, r.yearly_weekday, r.yearly_week)
    return errors


# --- calendar helpers -------------------------------------------------------------------------------------------


def _add_months(day: date, months: int) -> date:
    """``day`` plus ``months`` calendar months, clamped to the target month's last day."""
    year, month0 = divmod(day.month - 1 + months, 12)
    year += day.year
    if year > date.max.year:
        return date.max
    last = calendar.monthrange(year, month0 + 1)[1]
    return date(year, month0 + 1, min(day.day, last))


def _add_days(day: date, days: int) -> date:
    try:
        return day + timedelta(days=days)
    except OverflowError:
        return date.max


def _is_qualifying_day(day: date, day_of_month: int | None, weekday: int | None, week: str | None) -> bool:
    """True when ``day`` is the month's chosen day (day-based) or chosen weekday occurrence (week-based)."""
    month_length = calendar.monthrange(day.year, day.month)[1]
    if day_of_month is not None:
        return day.day == (month_length if day_of_month == LAST_DAY else day_of_month)
    if day.weekday() != weekday:
        return False
    if week == "last":
        return day.day + 7 > month_length
    return (day.day - 1) // 7 == WEEKS_OF_MONTH.index(week)


class _LocalDays:
    """Maps instants to local days of one zone, caching the first instant of each day (as a POSIX timestamp)."""

    def __init__(self, zone: ZoneInfo) -> None:
        self.zone = zone
        self._starts: dict[date, float] = {}

    def start(self, day: date) -> float:
        """Timestamp of the first instant of local ``day``."""
        ts = self._starts.get(day)
        if ts is None:
            ts = local_to_utc(datetime.combine(day, time(0)), self.zone).timestamp()
            self._starts[day] = ts
        return ts

    def day_of(self, ts: float) -> date:
        """The local day containing timestamp ``ts`` (by day starts, so it is monotone in ``ts``)."""
        day = datetime.fromtimestamp(ts, self.zone).date()
        while ts < self.start(day):
            day -= timedelta(days=1)
        while ts >= self.start(day + timedelta(days=1)):
            day += timedelta(days=1)
        return day


def _rule_ends(day: date, r: RetentionRules) -> list[tuple[str, date]]:
    """For the representative point of local ``day``: each applicable GFS rule and the day it stops keeping it."""
    ends: list[tuple[str, date]] = []
    if r.daily_count:
        ends.append((REASON_DAILY, _add_days(day, r.daily_count)))
    if r.weekly_count and day.weekday() == r.weekly_weekday:
        ends.append((REASON_WEEKLY, _add_days(day, 7 * r.weekly_count)))
    if r.monthly_count and _is_qualifying_day(day, r.monthly_day, r.monthly_weekday, r.monthly_week):
        ends.append((REASON_MONTHLY, _add_months(day, r.monthly_count)))
    if (
        r.yearly_count
        and day.month == r.yearly_month
        and _is_qualifying_day(day, r.yearly_day, r.yearly_weekday, r.yearly_week)
    ):
        ends.append((REASON_YEARLY, _add_months(day, 12 * r.yearly_count)))
    return ends


def _checked(rules: RetentionRules) -> ZoneInfo:
    errors = validate_retention(rules)
    if errors:
        raise ValueError(f"invalid retention rules: {errors}")
    zone = get_zone(rules.timezone)
    assert zone is not None  # validated above
    return zone


def _timestamp(value: datetime, name: str) -> float:
    if value.tzinfo is None:
        raise ValueError(f"{name} must be timezone-aware")
    return value.timestamp()


# --- public API -------------------------------------------------------------------------------------------------


def select(points: Iterable[Point], rules: RetentionRules, now: datetime) -> RetentionDecision:
    """Decide which points to keep at ``now`` (aware) and which to expire; see the module docstring.

    The result does not depend on the order of ``points``. Every input id is in exactly one of ``keep`` and
    ``expire``; every kept id has at least one reason. Raises ``ValueError`` for invalid rules, naive
    datetimes or duplicate ids.
    """
    zone = _checked(rules)
    now_ts = _timestamp(now, "now")
    # Instant restore compares datetimes (exact); the timestamp bound only skips the comparison for old points.
    ir_since = now - timedelta(days=rules.instant_restore_days) if rules.instant_restore_days else None
    ir_since_ts = ir_since.timestamp() - 1.0 if ir_since is not None else float("inf")

    # One sort; ties on ``created`` are broken by id so the input order never matters.
    entries = sorted(((_timestamp(p.created, "created"), p.id, p) for p in points), key=lambda e: (e[0], e[1]))
    if not entries:
        return RetentionDecision()

    keep: dict[Hashable, list[str]] = {}

    def add(point_id: Hashable, reason: str) -> None:
        reasons = keep.get(point_id)
        if reasons is None:
            keep[point_id] = [reason]
        elif reason not in reasons:
            reasons.append(reason)

    days = _LocalDays(zone)
    last_of_day: dict[date, Hashable] = {}
    day: date | None = None
    next_day_start = float("-inf")
    ids: set[Hashable] = set()
    for ts, point_id, point in entries:
        if point_id in ids:
            raise ValueError(f"duplicate point id {point_id!r}")
        ids.add(point_id)
        if ts > ir_since_ts and point.created > ir_since:
            add(point_id, REASON_INSTANT_RESTORE)
        if point.on_demand_retain_until is not None:
            _timestamp(point.on_demand_retain_until, "on_demand_retain_until")  # rejects naive values
            if now < point.on_demand_retain_until:
                add(point_id, REASON_ON_DEMAND)
            continue
        if ts >= next_day_start or day is None:
            day = days.day_of(ts)
            next_day_start = days.start(day + timedelta(days=1))
        last_of_day[day] = point_id  # ascending order: the last assignment is the day's last backup

    today = days.day_of(now_ts)
    for local_day, point_id in last_of_day.items():
        for reason, end in _rule_ends(local_day, rules):
            if today < end:
                add(point_id, reason)

    add(entries[-1][1], REASON_NEWEST)
    expire = [point_id for _, point_id, _ in entries if point_id not in keep]
    return RetentionDecision(keep=keep, expire=expire)


def expiry_for(point: Point, rules: RetentionRules, now: datetime) -> datetime | None:
    """Return the instant (aware UTC) from which no rule keeps ``point`` any more, or ``None`` if none keeps it now.

    Assumes ``point`` stays the last scheduled backup of its local day (true when no newer point of that day
    arrives; an earlier point of a day that already has a later one is covered only by instant restore and
    on-demand, which ``select`` reflects). The ``newest`` safeguard is not a rule and is ignored here.
    For every instant ``t``: ``select`` keeps such a point by a rule at ``t`` exactly when ``t`` is before the
    returned instant.
    """
    zone = _checked(rules)
    if now.tzinfo is None or point.created.tzinfo is None:
        raise ValueError("now and created must be timezone-aware")
    now_utc = now.astimezone(UTC)
    candidates: list[datetime] = []
    if rules.instant_restore_days:
        candidates.append(point.created.astimezone(UTC) + timedelta(days=rules.instant_restore_days))
    if point.on_demand_retain_until is not None:
        if point.on_demand_retain_until.tzinfo is None:
            raise ValueError("on_demand_retain_until must be timezone-aware")
        candidates.append(point.on_demand_retain_until.astimezone(UTC))
    else:
        days = _LocalDays(zone)
        local_day = days.day_of(point.created.timestamp())
        ends = [end for _, end in _rule_ends(local_day, rules)]
        if ends:
            candidates.append(datetime.fromtimestamp(days.start(max(ends)), UTC))
    if not candidates:
        return None
    end = max(candidates)
    return end if now_utc < end else None
