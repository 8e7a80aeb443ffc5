"""The EventBridge schedule evaluator: AWS's cron dialect, and whether the audit runs at least once every 24 hours."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from typing import Optional

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rootkey_pack.schedule import Cron, ScheduleError, next_run, parse, run_gap_problem

NOW = datetime(2026, 12, 1, 21, 45, tzinfo=timezone.utc)  # a Tuesday


@pytest.mark.parametrize(("expression", "after", "expected"), [
    ("cron(0 12 ? * 1 *)", NOW, datetime(2026, 12, 6, 12, 0)),  # 1 is Sunday
    ("cron(0 12 ? * 7 *)", NOW, datetime(2026, 12, 5, 12, 0)),  # 7 is Saturday
    ("cron(0 12 ? * L *)", NOW, datetime(2026, 12, 5, 12, 0)),  # L alone is the last day of the week, Saturday
    ("cron(0 12 ? * 2L *)", NOW, datetime(2026, 12, 28, 12, 0)),  # last Monday
    ("cron(0 12 ? * MON#1 *)", NOW, datetime(2026, 12, 7, 12, 0)),  # the first Monday of December 2026
    ("cron(0 12 1W * ? *)", datetime(2027, 4, 30, tzinfo=timezone.utc), datetime(2027, 5, 3, 12, 0)),  # 1 May 2027 is a Saturday
    ("cron(0 12 31W * ? *)", datetime(2027, 10, 1, tzinfo=timezone.utc), datetime(2027, 10, 29, 12, 0)),  # 31 Oct 2027 is a Sunday
    ("cron(0 12 LW * ? *)", datetime(2027, 1, 1, tzinfo=timezone.utc), datetime(2027, 1, 29, 12, 0)),  # 31 Jan 2027 is a Sunday
    ("cron(0 12 31 * ? *)", datetime(2027, 1, 31, 13, tzinfo=timezone.utc), datetime(2027, 3, 31, 12, 0)),
    ("cron(5/20 21 * * ? *)", NOW, datetime(2026, 12, 2, 21, 5)),  # strictly after: 21:45 itself is not next
    ("cron(0 9-17/4 * * ? *)", NOW, datetime(2026, 12, 2, 9, 0)),
    ("cron(0 0 1 FEB,jan ? 2028)", NOW, datetime(2028, 1, 1, 0, 0)),
    ("cron(0 0 * * ? 2020)", NOW, None),
])
def test_next_run_follows_aws_cron_semantics(expression: str, after: datetime, expected: Optional[datetime]) -> None:
    cron = parse(expression)
    assert isinstance(cron, Cron)
    assert next_run(cron, after) == (expected.replace(tzinfo=timezone.utc) if expected else None)


@pytest.mark.parametrize(("expression", "message"), [
    ("cron(0 3 * * ? 2026-2025)", "the year field has the wrapping range '2026-2025', which the pack does not evaluate"),
    ("cron(0 3 * * ? 2200)", "the year field has 2200, outside 1970-2199"),
    ("cron(0 3 ? * 1,L *)", "the day-of-week field mixes 'L' with other values, which EventBridge rejects"),
    ("cron(0 3 ? * 8L *)", "the day-of-week field has '8L', expected a number from 1 to 7 or a name like SUN"),
    ("cron(0 3 * * ? */0)", "the year field has step '0', expected a positive number"),
    ("cron(0 3 ? * FOO *)", "the day-of-week field has 'FOO', expected a number from 1 to 7 or a name like SUN"),
    ("rate(5 weeks)", "it is neither rate(<n> <minute(s)|hour(s)|day(s)>) nor cron(<6 fields>)"),
    ("", "it is neither rate(<n> <minute(s)|hour(s)|day(s)>) nor cron(<6 fields>)"),
    (None, "the schedule expression is not a string"),
])
def test_parse_bad_expression_raises_schedule_error(expression: object, message: str) -> None:
    with pytest.raises(ScheduleError) as info:
        parse(expression)
    assert str(info.value) == message


_field = st.one_of(st.just("*"), st.integers(0, 7).map(str), st.tuples(st.integers(0, 5), st.integers(1, 9)).map(lambda t: f"{t[0]}/{t[1]}"),
                   st.tuples(st.integers(0, 4), st.integers(5, 9)).map(lambda t: f"{t[0]}-{t[1]}"), st.lists(st.integers(0, 9), min_size=1, max_size=3).map(lambda xs: ",".join(map(str, xs))))
_days = st.one_of(
    st.tuples(st.sampled_from(["*", "1", "15", "L", "LW", "1W", "31", "28-31", "*/2", "1-7/3"]), st.just("?")),
    st.tuples(st.just("?"), st.sampled_from(["*", "1", "2-6", "3#2", "6L", "L", "SUN", "MON-FRI", "1,4,7"])),
)
_crons = st.builds(lambda m, h, days, year: f"cron({m} {h} {days[0]} * {days[1]} {year})",
                   _field.map(lambda f: f.replace("9", "59")), _field.map(lambda f: f.replace("9", "23")), _days,
                   st.sampled_from(["*", "2026", "2027", "2026-2199", "2020", "*/2"]))


def _brute_force_passes(cron: Cron, now: datetime, horizon: timedelta) -> bool:
    """Every minute up to the horizon and a day past it: the gaps between runs, the long way."""
    runs = []
    moment = now.replace(second=0, microsecond=0) + timedelta(minutes=1)
    end = now + horizon + timedelta(days=1, minutes=1)
    day: Optional[date] = None
    matches = False
    while moment <= end:
        if moment.date() != day:
            day = moment.date()
            matches = cron.day_matches(day)
        if matches and moment.hour in cron.hours and moment.minute in cron.minutes:
            runs.append(moment)
        moment += timedelta(minutes=1) if matches else timedelta(days=1) - timedelta(hours=moment.hour, minutes=moment.minute)
    previous = now
    for run in runs:
        if run - previous > timedelta(hours=24):
            return False
        if run > now + horizon:
            return True
        previous = run
    return False


@given(_crons, st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2026, 12, 31)))
@settings(max_examples=120, deadline=None)
def test_run_gap_problem_agrees_with_minute_by_minute_brute_force(expression: str, now: datetime) -> None:
    now = now.replace(tzinfo=timezone.utc)
    horizon = timedelta(days=9)
    cron = parse(expression)
    assert isinstance(cron, Cron)
    assert (run_gap_problem(expression, now, horizon) is None) == _brute_force_passes(cron, now, horizon)


@given(st.one_of(st.text(max_size=40), st.builds(lambda fields: "cron(" + " ".join(fields) + ")",
                                                 st.lists(st.text(alphabet="0123456789*?,-/LW#ABCDEFJMNOSTU", max_size=5), max_size=7))))
@settings(max_examples=300)
def test_run_gap_problem_any_text_returns_verdict_or_schedule_error(expression: str) -> None:
    try:
        result = run_gap_problem(expression, NOW)
    except ScheduleError as exc:
        assert str(exc)
        return
    assert result is None or (isinstance(result, str) and result)
