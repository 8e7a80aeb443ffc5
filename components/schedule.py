"""EventBridge schedule expressions, parsed with EventBridge's semantics, and the longest gap between two runs.

Serves the audit (CIS 1.4 / Security Hub IAM.4 re-checked on a schedule): the "root keys active" alarm must learn
that the audit stopped, and it can only do so if its period covers the real longest gap between runs. A daily
cron, a weekday-only cron or a cron limited to some months all have different gaps; they are computed here, not
guessed.

EventBridge cron (Amazon EventBridge User Guide, "Schedule expressions for rules"): six fields,
`minutes hours day-of-month month day-of-week year`, always UTC; exactly one of day-of-month and day-of-week is
`?`; day-of-week 1-7 is SUN-SAT; `L` (last day of month / last <weekday>L of month), `W` (nearest weekday,
within the month), `#` (nth weekday of month), `/` steps, `-` ranges, `,` lists, `*` wildcards; years 1970-2199.
No pip package implements this dialect (croniter is Unix cron: five fields, day-of-week 0-6 from Sunday, OR
semantics between the two day fields), so it is written out here.
"""

from __future__ import annotations

import calendar
import functools
import re
from dataclasses import dataclass
from datetime import date, timedelta

# ASCII digits, whole-string matches, and few enough digits for int(): isdigit() takes superscripts that int()
# then refuses, \d takes other scripts' digits, and $ matches before a trailing newline.
_DIGITS = re.compile(r"[0-9]{1,9}", re.ASCII)
RATE_RE = re.compile(r"rate\((?P<value>[1-9][0-9]{0,8}) (?P<unit>minute|minutes|hour|hours|day|days)\)", re.ASCII)
CRON_RE = re.compile(r"cron\((?P<fields>[^()]+)\)", re.ASCII)
RATE_UNIT_SECONDS = {"minute": 60, "minutes": 60, "hour": 3600, "hours": 3600, "day": 86400, "days": 86400}

MONTHS = {name: i for i, name in enumerate(
    ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"), start=1)}
WEEKDAYS = {name: i for i, name in enumerate(("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"), start=1)}
YEAR_MIN, YEAR_MAX = 1970, 2199
# 28 years cover every combination of weekday and leap year (the Gregorian cycle only differs at 2100).
HORIZON_YEARS = 28


class ScheduleError(ValueError):
    """The expression is not a valid EventBridge schedule; the message says what is wrong."""


def _number(token: str, names: dict[str, int], low: int, high: int, field: str) -> int:
    upper = token.upper()
    if upper in names:
        return names[upper]
    if not _DIGITS.fullmatch(token):
        raise ScheduleError(f"cron() {field} field has {token!r}, not a number from {low} to {high}"
                            + (f" or one of {', '.join(names)}" if names else ""))
    value = int(token)
    if not low <= value <= high:
        raise ScheduleError(f"cron() {field} field has {value}, outside {low}-{high}")
    return value


def _values(spec: str, low: int, high: int, field: str, names: dict[str, int] | None = None) -> frozenset[int]:
    """A field of plain values: lists of `*`, `n`, `a-b`, each optionally `/step`."""
    names = names or {}
    out: set[int] = set()
    for part in spec.split(","):
        if not part:
            raise ScheduleError(f"cron() {field} field has an empty list item")
        base, slash, step_text = part.partition("/")
        step = 1
        if slash:
            if not _DIGITS.fullmatch(step_text) or int(step_text) == 0:
                raise ScheduleError(f"cron() {field} field has step {step_text!r}; expected a whole number from 1")
            step = int(step_text)
        if base == "*":
            start, end = low, high
        elif "-" in base:
            first, _, last = base.partition("-")
            start, end = _number(first, names, low, high, field), _number(last, names, low, high, field)
            if start > end:
                raise ScheduleError(f"cron() {field} field has range {base!r} running backwards")
        else:
            start = _number(base, names, low, high, field)
            end = high if step_text else start
        out.update(range(start, end + 1, step))
    return frozenset(out)


@dataclass(frozen=True)
class _DayOfMonth:
    days: frozenset[int] = frozenset()
    last: bool = False
    # Nearest weekday (Mon-Fri) to this day, never crossing into another month.
    weekday_of: int | None = None
    last_weekday: bool = False

    def matches(self, day: date) -> bool:
        days_in_month = calendar.monthrange(day.year, day.month)[1]
        if self.last:
            return day.day == days_in_month
        if self.last_weekday:
            last = date(day.year, day.month, days_in_month)
            while last.weekday() >= 5:
                last -= timedelta(days=1)
            return day == last
        if self.weekday_of is not None:
            return day == _nearest_weekday(day.year, day.month, self.weekday_of)
        return day.day in self.days


def _nearest_weekday(year: int, month: int, wanted: int) -> date | None:
    days_in_month = calendar.monthrange(year, month)[1]
    if wanted > days_in_month:
        return None
    target = date(year, month, wanted)
    if target.weekday() == 5:  # Saturday: Friday before, unless that leaves the month
        return target - timedelta(days=1) if wanted > 1 else target + timedelta(days=2)
    if target.weekday() == 6:  # Sunday: Monday after, unless that leaves the month
        return target + timedelta(days=1) if wanted < days_in_month else target - timedelta(days=2)
    return target


def _parse_day_of_month(spec: str) -> _DayOfMonth:
    upper = spec.upper()
    if upper == "L":
        return _DayOfMonth(last=True)
    if upper == "LW":
        return _DayOfMonth(last_weekday=True)
    if upper.endswith("W"):
        return _DayOfMonth(weekday_of=_number(upper[:-1], {}, 1, 31, "day-of-month"))
    if "L" in upper or "W" in upper:
        raise ScheduleError(f"cron() day-of-month field has {spec!r}; L, LW and <day>W stand alone")
    return _DayOfMonth(days=_values(spec, 1, 31, "day-of-month"))


def _eb_weekday(day: date) -> int:
    # EventBridge numbers SUN=1 .. SAT=7; Python numbers MON=0 .. SUN=6.
    return (day.weekday() + 1) % 7 + 1


@dataclass(frozen=True)
class _DayOfWeek:
    days: frozenset[int] = frozenset()
    # (weekday, n): the nth such weekday of the month.
    nth: tuple[int, int] | None = None
    # The last such weekday of the month.
    last_of: int | None = None

    def matches(self, day: date) -> bool:
        weekday = _eb_weekday(day)
        if self.nth is not None:
            return weekday == self.nth[0] and (day.day - 1) // 7 + 1 == self.nth[1]
        if self.last_of is not None:
            return weekday == self.last_of and day.day + 7 > calendar.monthrange(day.year, day.month)[1]
        return weekday in self.days


def _parse_day_of_week(spec: str) -> _DayOfWeek:
    upper = spec.upper()
    if "#" in upper:
        weekday, _, nth = upper.partition("#")
        n = _number(nth, {}, 1, 5, "day-of-week")
        return _DayOfWeek(nth=(_number(weekday, WEEKDAYS, 1, 7, "day-of-week"), n))
    if upper == "L":
        return _DayOfWeek(days=frozenset({7}))
    if upper.endswith("L"):
        return _DayOfWeek(last_of=_number(upper[:-1], WEEKDAYS, 1, 7, "day-of-week"))
    return _DayOfWeek(days=_values(spec, 1, 7, "day-of-week", WEEKDAYS))


@dataclass(frozen=True)
class Cron:
    minutes: frozenset[int]
    hours: frozenset[int]
    day_of_month: _DayOfMonth | None
    months: frozenset[int]
    day_of_week: _DayOfWeek | None
    years: frozenset[int]

    def runs_on(self, day: date) -> bool:
        if day.year not in self.years or day.month not in self.months:
            return False
        if self.day_of_month is not None:
            return self.day_of_month.matches(day)
        assert self.day_of_week is not None
        return self.day_of_week.matches(day)

    def minutes_of_day(self) -> list[int]:
        return sorted(h * 60 + m for h in self.hours for m in self.minutes)


def parse_cron(fields: str) -> Cron:
    parts = fields.split(" ")
    if len(parts) != 6 or not all(parts):
        raise ScheduleError(
            "cron() takes six space-separated fields: minutes hours day-of-month month day-of-week year")
    minutes, hours, dom, month, dow, year = parts
    if (dom == "?") == (dow == "?"):
        raise ScheduleError("cron() needs ? in exactly one of day-of-month and day-of-week")
    for name, spec in (("minutes", minutes), ("hours", hours), ("month", month), ("year", year)):
        if "?" in spec or "L" in spec.upper().replace("JUL", "") or "#" in spec:
            raise ScheduleError(f"cron() {name} field has {spec!r}; ? L W # are only for the day fields")
    return Cron(
        minutes=_values(minutes, 0, 59, "minutes"),
        hours=_values(hours, 0, 23, "hours"),
        day_of_month=None if dom == "?" else _parse_day_of_month(dom),
        months=_values(month, 1, 12, "month", MONTHS),
        day_of_week=None if dow == "?" else _parse_day_of_week(dow),
        years=_values(year, YEAR_MIN, YEAR_MAX, "year"),
    )


@dataclass(frozen=True)
class Gap:
    """The longest time between two consecutive runs from `start` over the horizon, in seconds.

    `ends` is the last day it runs when runs stop inside the horizon (a year field in the past or near future)."""

    seconds: int
    ends: date | None = None


def longest_gap(expression: str, *, start: date | None = None) -> Gap:
    """Longest gap between runs of a rate() or cron() schedule, or ScheduleError.

    A cron's times of day are the same every day it runs, so the gap is the larger of the widest step within a
    day and the widest step between consecutive run days (the last run of one to the first run of the next).
    """
    rate = RATE_RE.fullmatch(expression)
    if rate:
        value, unit = int(rate["value"]), rate["unit"]
        if (value == 1) != (unit in ("minute", "hour", "day")):
            raise ScheduleError(
                "rate() uses a singular unit for 1 and a plural unit otherwise, e.g. rate(1 hour), rate(2 hours)")
        return Gap(value * RATE_UNIT_SECONDS[unit])
    match = CRON_RE.fullmatch(expression)
    if not match:
        raise ScheduleError(
            "must be an EventBridge schedule expression: rate(<n> <minute(s)|hour(s)|day(s)>) or cron(<6 fields>)")
    return _cron_gap(match["fields"], start or date.today())


@functools.lru_cache(maxsize=64)
def _cron_gap(fields: str, first_day: date) -> Gap:
    # Cached: the config check and the alarm period ask for the same schedule, and a walk over 28 years of days
    # costs about 0.1 s.
    cron = parse_cron(fields)
    times = cron.minutes_of_day()
    within_day = max((b - a for a, b in zip(times, times[1:])), default=0)
    end_day = date(min(first_day.year + HORIZON_YEARS, YEAR_MAX), 12, 31)
    run_days: list[date] = []
    day = first_day
    while day <= end_day:
        if cron.runs_on(day):
            run_days.append(day)
        day += timedelta(days=1)
    if not run_days:
        raise ScheduleError(f"cron() never runs from {first_day.isoformat()} on")
    across = max(((b - a).days * 1440 - times[-1] + times[0] for a, b in zip(run_days, run_days[1:])), default=0)
    # One run day a year or less: nothing to compare inside the horizon, so the gap is at least the horizon.
    if len(run_days) == 1:
        across = (end_day - first_day).days * 1440
    # The wait for the first run counts too: cron(0 * * * ? 2040-2199) runs hourly, from 2040, and the audit's
    # alarm would wait in INSUFFICIENT_DATA, which notifies nobody, until then.
    lead = (run_days[0] - first_day).days * 1440 + times[0] if run_days[0] > first_day else 0
    gap = max(within_day, across, lead)
    ends = run_days[-1] if (end_day - run_days[-1]).days * 1440 > gap else None
    return Gap(gap * 60, ends)


def describe_seconds(seconds: int) -> str:
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    parts = [f"{n} {unit}{'s' if n != 1 else ''}" for n, unit in ((days, "day"), (hours, "hour"), (minutes, "minute"))
             if n]
    return " ".join(parts) or "0 minutes"
