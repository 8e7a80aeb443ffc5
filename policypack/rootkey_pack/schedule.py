"""When an EventBridge schedule expression fires, to prove the root access-key audit really runs (Prowler
iam_no_root_access_key, CIS AWS 1.4, Security Hub IAM.4: a report nobody generates finds nothing).

EventBridge rules take `rate(<n> <unit>)` or `cron(<minutes> <hours> <day-of-month> <month> <day-of-week> <year>)`,
evaluated in UTC. The cron dialect is AWS's own (Quartz-like, six fields): day-of-week 1-7 is SUN-SAT, one of
day-of-month and day-of-week must be `?`, `L` is the last day of the month (or `nL` the last weekday n of the
month), `nW` the weekday nearest day n, `n#k` the k-th weekday n, years run 1970-2199. The general-purpose cron
libraries on the package index implement the five-field Unix dialect (day-of-week 0-6 from Sunday, no year, no `?`),
so the pack evaluates AWS's dialect itself and refuses, as an error, any form it does not know.

The audit must run at least once in every 24 hours from now on: a schedule whose next run is more than a day away
(a past year, only in 2199, only on 29 February), that leaves a longer gap, or that stops within the coming year
fails.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from functools import cache
from datetime import date, datetime, timedelta, timezone
from typing import Optional

from .text import ascii_int

MAX_GAP = timedelta(hours=24)
# A year and a month more than a day, so a yearly pattern and a schedule that stops within the year both show.
HORIZON = timedelta(days=400)
LAST_YEAR = 2199
FIRST_YEAR = 1970

_RATE_RE = re.compile(r"rate\(([0-9]+) (minute|minutes|hour|hours|day|days)\)", re.ASCII)
_CRON_RE = re.compile(r"cron\(([^()]*)\)", re.ASCII)
_UNIT = {"minute": 60, "hour": 3600, "day": 86400}
_MONTHS = {name: i + 1 for i, name in enumerate(("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"))}
_DAYS = {name: i + 1 for i, name in enumerate(("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"))}


class ScheduleError(ValueError):
    """An expression EventBridge rejects or the pack cannot evaluate; the message says which part and why."""


@dataclass(frozen=True)
class Rate:
    seconds: int


@dataclass(frozen=True)
class Cron:
    minutes: tuple[int, ...]
    hours: tuple[int, ...]
    day_of_month: Optional[str]  # None when '?'
    months: frozenset[int]
    day_of_week: Optional[str]  # None when '?'
    years: frozenset[int]

    def day_matches(self, day: date) -> bool:
        if day.year not in self.years or day.month not in self.months:
            return False
        if self.day_of_month is not None:
            return any(_dom_item_matches(item, day) for item in self.day_of_month.split(","))
        assert self.day_of_week is not None
        return any(_dow_item_matches(item, day) for item in self.day_of_week.split(","))


def _number(text: str, names: dict[str, int], field: str, low: int, high: int) -> int:
    value = names.get(text.upper()) if names else None
    if value is None:
        value = ascii_int(text)
        if value is None:
            raise ScheduleError(f"the {field} field has {text!r}, expected a number from {low} to {high}"
                                + (f" or a name like {next(iter(names))}" if names else ""))
    if not low <= value <= high:
        raise ScheduleError(f"the {field} field has {value}, outside {low}-{high}")
    return value


def _values(text: str, field: str, low: int, high: int, names: dict[str, int] = {}) -> frozenset[int]:  # noqa: B006
    """The values of a field built from numbers, names, ranges a-b, steps x/n and lists."""
    out: set[int] = set()
    for item in text.split(","):
        base, slash, step_text = item.partition("/")
        step = 1
        if slash:
            parsed = ascii_int(step_text)
            if parsed is None or parsed < 1:
                raise ScheduleError(f"the {field} field has step {step_text!r}, expected a positive number")
            step = parsed
        if base == "*":
            start, end = low, high
        elif "-" in base:
            first, _, last = base.partition("-")
            start, end = _number(first, names, field, low, high), _number(last, names, field, low, high)
            if start > end:
                raise ScheduleError(f"the {field} field has the wrapping range {base!r}, which the pack does not evaluate")
        else:
            start = _number(base, names, field, low, high)
            end = high if slash else start
        out.update(range(start, end + 1, step))
    return frozenset(out)


def _aws_weekday(day: date) -> int:
    return (day.weekday() + 1) % 7 + 1  # Monday is 0 in Python, 2 in AWS (SUN=1 ... SAT=7)


def _days_in_month(day: date) -> int:
    return calendar.monthrange(day.year, day.month)[1]


def _nearest_weekday(day: date, target: int) -> Optional[int]:
    last = _days_in_month(day)
    if target > last:
        return None
    weekday = date(day.year, day.month, target).weekday()
    if weekday == 5:  # Saturday: the Friday before, unless that leaves the month
        return target + 2 if target == 1 else target - 1
    if weekday == 6:  # Sunday: the Monday after, unless that leaves the month
        return target - 2 if target == last else target + 1
    return target


def _dom_item_matches(item: str, day: date) -> bool:
    last = _days_in_month(day)
    if item == "L":
        return day.day == last
    if item == "LW":
        return day.day == max(d for d in range(last - 2, last + 1) if date(day.year, day.month, d).weekday() < 5)
    if item.endswith("W"):
        return _nearest_weekday(day, int(item[:-1])) == day.day
    return day.day in _day_values(item, "day-of-month")


def _dow_item_matches(item: str, day: date) -> bool:
    weekday = _aws_weekday(day)
    if item == "L":
        return weekday == 7
    if item.endswith("L"):
        return weekday == _number(item[:-1], _DAYS, "day-of-week", 1, 7) and day.day + 7 > _days_in_month(day)
    if "#" in item:
        which, _, nth = item.partition("#")
        return weekday == _number(which, _DAYS, "day-of-week", 1, 7) and (day.day - 1) // 7 + 1 == int(nth)
    return weekday in _day_values(item, "day-of-week")


_DOM_SPECIAL = re.compile(r"L|LW|([1-9]|[12][0-9]|3[01])W", re.ASCII)
_DOW_SPECIAL = re.compile(r"L|[1-7A-Za-z]{1,3}L|[1-7A-Za-z]{1,3}#[1-5]", re.ASCII)


def _check_days(text: str, field: str) -> str:
    special = _DOM_SPECIAL if field == "day-of-month" else _DOW_SPECIAL
    items = text.split(",")
    for item in items:
        if special.fullmatch(item):
            if len(items) > 1:
                raise ScheduleError(f"the {field} field mixes {item!r} with other values, which EventBridge rejects")
            if field == "day-of-week":
                _number(item.rstrip("L").partition("#")[0] or "7", _DAYS, field, 1, 7)
        else:
            # Anything else must be numbers, names, ranges and steps: an unknown L, W or # form is refused here.
            _day_values(item, field)
    return text


@cache
def _day_values(item: str, field: str) -> frozenset[int]:
    if field == "day-of-month":
        return _values(item, field, 1, 31)
    return _values(item, field, 1, 7, _DAYS)


def parse(expression: object) -> Rate | Cron:
    if not isinstance(expression, str):
        raise ScheduleError("the schedule expression is not a string")
    rate = _RATE_RE.fullmatch(expression)
    if rate:
        value, unit = int(rate.group(1)), rate.group(2)
        if value < 1:
            raise ScheduleError("a rate must be a positive number")
        if (value == 1) != (not unit.endswith("s")):
            raise ScheduleError("EventBridge wants the singular unit for 1 and the plural otherwise")
        return Rate(value * _UNIT[unit.rstrip("s")])
    cron = _CRON_RE.fullmatch(expression)
    if not cron:
        raise ScheduleError("it is neither rate(<n> <minute(s)|hour(s)|day(s)>) nor cron(<6 fields>)")
    fields = cron.group(1).split()
    if len(fields) != 6:
        raise ScheduleError(f"cron() takes six fields (minutes hours day-of-month month day-of-week year), got {len(fields)}")
    minutes, hours, dom, month, dow, year = fields
    if (dom == "?") == (dow == "?"):
        raise ScheduleError("cron() needs ? in exactly one of day-of-month and day-of-week")
    return Cron(
        minutes=tuple(sorted(_values(minutes, "minutes", 0, 59))),
        hours=tuple(sorted(_values(hours, "hours", 0, 23))),
        day_of_month=None if dom == "?" else _check_days(dom, "day-of-month"),
        months=_values(month, "month", 1, 12, _MONTHS),
        day_of_week=None if dow == "?" else _check_days(dow, "day-of-week"),
        years=_values(year, "year", FIRST_YEAR, LAST_YEAR),
    )


def _first_and_last(cron: Cron, day: date, after: Optional[datetime]) -> Optional[tuple[datetime, datetime]]:
    """The day's first run (strictly after `after` when given) and its last run; None when it has none."""
    start = datetime(day.year, day.month, day.day, tzinfo=timezone.utc)
    last = start + timedelta(hours=cron.hours[-1], minutes=cron.minutes[-1])
    if after is None:
        return start + timedelta(hours=cron.hours[0], minutes=cron.minutes[0]), last
    for hour in cron.hours:
        for minute in cron.minutes:
            moment = start + timedelta(hours=hour, minutes=minute)
            if moment > after:
                return moment, last
    return None


def next_run(cron: Cron, after: datetime) -> Optional[datetime]:
    """The first run strictly after `after`, searching to the end of 2199; None when there is none."""
    day = after.date()
    while day.year <= LAST_YEAR:
        if day.year not in cron.years:
            day = date(day.year + 1, 1, 1)
            continue
        if cron.day_matches(day):
            runs = _first_and_last(cron, day, after)
            if runs:
                return runs[0]
        day += timedelta(days=1)
    return None


def _shown(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%MZ")


def run_gap_problem(expression: object, now: datetime, horizon: timedelta = HORIZON) -> Optional[str]:
    """Why the schedule does not run at least once every 24 hours from `now` over the coming year; None when it does.

    Raises ScheduleError for an expression EventBridge rejects or the pack cannot evaluate.
    """
    parsed = parse(expression)
    if isinstance(parsed, Rate):
        if parsed.seconds > MAX_GAP.total_seconds():
            return f"runs only every {parsed.seconds // 3600} hours, so whole days pass without an audit"
        return None
    end = now + horizon
    previous = now
    day = now.date()
    while True:
        moment = datetime(day.year, day.month, day.day, tzinfo=timezone.utc)
        if moment > end:
            break
        if parsed.day_matches(day):
            runs = _first_and_last(parsed, day, now if day == now.date() else None)
            if runs:
                if runs[0] - previous > MAX_GAP:
                    break
                previous = runs[1]
        day += timedelta(days=1)
    if previous == now:
        following = next_run(parsed, now)
        if following is None:
            return "never fires again"
        return f"does not fire in the next 24 hours; its next run is {_shown(following)}"
    following = next_run(parsed, previous)
    if following is None:
        return f"stops firing after {_shown(previous)}"
    if following - previous > MAX_GAP:
        return f"leaves {_gap_text(following - previous)} without a run after {_shown(previous)}"
    return None


def _gap_text(gap: timedelta) -> str:
    hours = gap.total_seconds() / 3600
    return f"{hours:g} hours" if hours < 72 else f"{gap.days} days"
