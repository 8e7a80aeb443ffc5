"""EventBridge schedule semantics: the longest gap between runs, which sets the audit's missing-data alarm."""

from __future__ import annotations

from datetime import date

import pytest

from components.schedule import ScheduleError, longest_gap

# A Tuesday; every case is computed over 28 years from here.
START = date(2026, 12, 1)
H, D = 3600, 86400


@pytest.mark.parametrize(
    ("expression", "seconds"),
    [
        ("rate(1 minute)", 60),
        ("rate(5 minutes)", 300),
        ("rate(12 hours)", 12 * H),
        ("rate(1 day)", D),
        ("cron(15 */2 * * ? *)", 2 * H),
        ("cron(0 12 * * ? *)", D),
        # 23:00 then 02:00: the gap crosses midnight.
        ("cron(0 2,23 * * ? *)", 21 * H),
        # Friday 22:00 -> Monday 00:00.
        ("cron(0 */2 ? * MON-FRI *)", 2 * D + 2 * H),
        # Day-of-week numbers are EventBridge's: 2-6 is MON-FRI, 1 is SUN.
        ("cron(0 */2 ? * 2-6 *)", 2 * D + 2 * H),
        ("cron(0 0 ? * 1 *)", 7 * D),
        ("cron(0 0 ? * SUN,WED *)", 4 * D),
        # Last day of the month: 28 Feb -> 31 Mar is the widest step.
        ("cron(0 0 L * ? *)", 31 * D),
        # First Monday of the month: up to 5 weeks apart.
        ("cron(0 9 ? * 2#1 *)", 35 * D),
        ("cron(0 0 ? * 6L *)", 35 * D),
        ("cron(0 0 1 JAN,JUL ? *)", 184 * D),
        ("cron(0/30 8-17 ? * 2-6 *)", 2 * D + 14 * H + 30 * 60),
    ],
)
def test_schedule_longest_gap_eventbridge_semantics(expression: str, seconds: int) -> None:
    assert longest_gap(expression, start=START).seconds == seconds


def test_schedule_year_field_ending_reports_last_day() -> None:
    gap = longest_gap("cron(0 0,12 * * ? 2026-2027)", start=START)
    assert (gap.seconds, gap.ends) == (12 * H, date(2027, 12, 31))


def test_schedule_nearest_weekday_stays_in_month() -> None:
    # 1W when the 1st is a Saturday runs Monday the 3rd, never Friday of the month before.
    from components.schedule import _nearest_weekday

    assert _nearest_weekday(2022, 10, 1) == date(2022, 10, 3)
    assert _nearest_weekday(2022, 7, 31) == date(2022, 7, 29)
    assert _nearest_weekday(2023, 2, 30) is None


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("cron(0 12 * * * *)", "cron() needs ? in exactly one of day-of-month and day-of-week"),
        ("cron(0 12 ? * 0 *)", "cron() day-of-week field has 0, outside 1-7"),
        ("cron(0 24 * * ? *)", "cron() hours field has 24, outside 0-23"),
        ("cron(0 1 ? * MON#6 *)", "cron() day-of-week field has 6, outside 1-5"),
        ("cron(0 1 * FOO ? *)", "cron() month field has 'FOO', not a number from 1 to 12 or one of JAN, FEB, MAR, "
                                "APR, MAY, JUN, JUL, AUG, SEP, OCT, NOV, DEC"),
        ("cron(0 1 L * ? 1969)", "cron() year field has 1969, outside 1970-2199"),
        ("cron(0 1 * * ? 2020)", "cron() never runs from 2026-12-01 on"),
        ("cron(*/0 1 * * ? *)", "cron() minutes field has step '0'; expected a whole number from 1"),
        ("cron(0 5-1 * * ? *)", "cron() hours field has range '5-1' running backwards"),
        ("rate(0 minutes)", "must be an EventBridge schedule expression: rate(<n> <minute(s)|hour(s)|day(s)>) or "
                            "cron(<6 fields>)"),
    ],
)
def test_schedule_invalid_expression_refused(expression: str, message: str) -> None:
    with pytest.raises(ScheduleError) as err:
        longest_gap(expression, start=START)
    assert str(err.value) == message
