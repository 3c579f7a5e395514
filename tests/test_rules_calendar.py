"""Working-day calendar and deadline counting (docs/calendar.md).

Every expected date is a literal, hand-counted against the State Council schedules as
chinese-calendar 1.11 encodes them (checked with chinese_calendar.get_holiday_detail):

- 2025 National Day + Mid-autumn: rest 10-01..10-08; make-up workdays Sun 09-28, Sat 10-11.
- 2026 Spring Festival: rest Sun 02-15..Mon 02-23; make-up workdays Sat 02-14, Sat 02-28.
- 2026 May Day: rest Fri 05-01..Tue 05-05; make-up workday Sat 05-09.
- 2026 Mid-autumn: rest Fri 09-25..Sun 09-27; National Day: rest Thu 10-01..Wed 10-07;
  make-up workdays Sun 09-20, Sat 10-10.

Year 2099 stands for "a year chinese-calendar does not know" (2027 is unknown to 1.11 as
well, but a later release will add it; 2099 keeps these tests independent of upgrades).
Nothing here reads the current date.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import chinese_calendar
import msgspec
import pytest
from freezegun import freeze_time
from hypothesis import given, settings
from hypothesis import strategies as st

from cluetool.errors import CalendarError, ExitCode, InputError
from cluetool.rules.calendar import (
    DueDate,
    Period,
    WorkCalendar,
    YearOverride,
    add_calendar_days,
    add_working_days,
    due_date,
    load_calendar_overrides,
    local_date,
)

CAL = WorkCalendar()
UTC = timezone.utc


# A made-up schedule for 2099 (the mechanics under test, not a real notice): New Year
# rest Thu 01-01..Sat 01-03 with make-up workday Sun 01-04; a Friday holiday 2099-05-01.
OVERRIDE_2099 = """\
[[year]]
year = 2099
source = "test schedule for 2099 (not a real notice)"
holidays = ["2099-01-01", "2099-01-02", 2099-01-03, "2099-05-01"]
workdays = [2099-01-04]
"""


def _write(tmp_path: Path, text: str | bytes) -> Path:
    path = tmp_path / "calendar.toml"
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


# --- local dates -------------------------------------------------------------------------


def test_local_date_utc_evening_is_next_beijing_date() -> None:
    # 18:00 UTC = 02:00 next day in Beijing (UTC+8).
    assert local_date(datetime(2026, 1, 30, 18, 0, tzinfo=UTC), "Asia/Shanghai") == date(2026, 1, 31)


def test_local_date_default_zone_is_shanghai() -> None:
    assert local_date(datetime(2026, 1, 30, 15, 59, 59, tzinfo=UTC)) == date(2026, 1, 30)
    assert local_date(datetime(2026, 1, 30, 16, 0, tzinfo=UTC)) == date(2026, 1, 31)


def test_local_date_zoneinfo_object_accepted() -> None:
    assert local_date(datetime(2026, 1, 30, 18, 0, tzinfo=UTC), ZoneInfo("UTC")) == date(2026, 1, 30)


def test_local_date_naive_datetime_raises_valueerror() -> None:
    with pytest.raises(ValueError, match="aware"):
        local_date(datetime(2026, 1, 30, 18, 0), "Asia/Shanghai")


def test_local_date_unknown_zone_raises_inputerror() -> None:
    with pytest.raises(InputError, match='unknown time zone "Mars/Olympus"'):
        local_date(datetime(2026, 1, 30, 18, 0, tzinfo=UTC), "Mars/Olympus")


def test_due_date_utc_evening_trigger_counts_from_beijing_date() -> None:
    trigger = datetime(2026, 1, 30, 18, 0, tzinfo=UTC)  # Beijing: Sat 2026-01-31 02:00
    result = due_date(CAL, trigger, Period(days=5, unit="working"))
    # Day 0 = Sat 01-31 (not counted); Sun 02-01 rest. Mon 02-02=1, Tue 02-03=2,
    # Wed 02-04=3, Thu 02-05=4, Fri 02-06=5.
    assert result == DueDate(due=date(2026, 2, 6), provisional=False)
    # Calendar days show the shift: 01-31 + 7 = Sat 02-07, Sun 02-08 rest, so Mon 02-09;
    # counted from the UTC date it would be 01-30 + 7 = Fri 02-06.
    week = Period(days=7, unit="calendar")
    assert due_date(CAL, trigger, week) == DueDate(due=date(2026, 2, 9), provisional=False)
    assert due_date(CAL, trigger, week, "UTC") == DueDate(due=date(2026, 2, 6), provisional=False)


def test_due_date_thursday_evening_utc_is_friday_in_beijing() -> None:
    trigger = datetime(2026, 1, 29, 18, 0, tzinfo=UTC)  # Beijing: Fri 2026-01-30 02:00
    five = Period(days=5, unit="working")
    # From Fri 01-30: Sat/Sun rest, Mon 02-02=1, Tue=2, Wed=3, Thu=4, Fri 02-06=5.
    assert due_date(CAL, trigger, five).due == date(2026, 2, 6)
    # From the UTC date Thu 01-29: Fri 01-30=1, Mon 02-02=2, Tue=3, Wed=4, Thu 02-05=5.
    assert due_date(CAL, trigger, five, "UTC").due == date(2026, 2, 5)


def test_due_date_calendar_period_uses_local_date() -> None:
    trigger = datetime(2025, 8, 31, 20, 0, tzinfo=UTC)  # Beijing: Mon 2025-09-01 04:00
    result = due_date(CAL, trigger, Period(days=30, unit="calendar"), "Asia/Shanghai")
    # 09-01 + 30 = Wed 10-01 (National Day); rest 10-01..10-08; next working day Thu 10-09.
    assert result == DueDate(due=date(2025, 10, 9), provisional=False)


# --- working days across the published schedules ------------------------------------------

WORKING_CASES = [
    # (start, n, expected, hand count)
    pytest.param(
        date(2026, 2, 12), 5, date(2026, 2, 26),
        # Fri 02-13=1, Sat 02-14 (make-up)=2, 02-15..02-23 rest, Tue 02-24=3, Wed 02-25=4, Thu 02-26=5.
        id="spring-festival-2026-across",
    ),
    pytest.param(
        date(2026, 2, 24), 5, date(2026, 3, 2),
        # Wed 02-25=1, Thu 02-26=2, Fri 02-27=3, Sat 02-28 (make-up)=4, Sun 03-01 rest, Mon 03-02=5.
        id="spring-festival-2026-after-makeup-saturday",
    ),
    pytest.param(
        date(2026, 2, 15), 1, date(2026, 2, 24),
        # Start Sun 02-15 (holiday, not counted); 02-16..02-23 rest; Tue 02-24=1.
        id="spring-festival-2026-start-in-holiday",
    ),
    pytest.param(
        date(2025, 9, 30), 5, date(2025, 10, 14),
        # 10-01..10-08 rest, Thu 10-09=1, Fri 10-10=2, Sat 10-11 (make-up)=3, Sun 10-12 rest,
        # Mon 10-13=4, Tue 10-14=5.
        id="national-day-2025-makeup-saturday",
    ),
    pytest.param(
        date(2025, 9, 26), 5, date(2025, 10, 10),
        # Sat 09-27 rest, Sun 09-28 (make-up)=1, Mon 09-29=2, Tue 09-30=3, 10-01..10-08 rest,
        # Thu 10-09=4, Fri 10-10=5.
        id="national-day-2025-makeup-sunday",
    ),
    pytest.param(
        date(2026, 9, 18), 5, date(2026, 9, 24),
        # Sat 09-19 rest, Sun 09-20 (make-up)=1, Mon 09-21=2, Tue 09-22=3, Wed 09-23=4, Thu 09-24=5.
        id="national-day-2026-makeup-sunday",
    ),
    pytest.param(
        date(2026, 9, 24), 5, date(2026, 10, 9),
        # 09-25..09-27 rest (Mid-autumn), Mon 09-28=1, Tue 09-29=2, Wed 09-30=3,
        # 10-01..10-07 rest, Thu 10-08=4, Fri 10-09=5.
        id="national-day-2026-midautumn-and-national-day",
    ),
    pytest.param(
        date(2026, 9, 30), 5, date(2026, 10, 13),
        # 10-01..10-07 rest, Thu 10-08=1, Fri 10-09=2, Sat 10-10 (make-up)=3, Sun 10-11 rest,
        # Mon 10-12=4, Tue 10-13=5.
        id="national-day-2026-makeup-saturday",
    ),
    pytest.param(
        date(2026, 4, 30), 5, date(2026, 5, 11),
        # 05-01..05-05 rest, Wed 05-06=1, Thu 05-07=2, Fri 05-08=3, Sat 05-09 (make-up)=4,
        # Sun 05-10 rest, Mon 05-11=5.
        id="may-day-2026-makeup-saturday",
    ),
    pytest.param(
        date(2025, 10, 12), 5, date(2025, 10, 17),
        # Start Sun 10-12 (rest, not counted). Mon 10-13=1, Tue=2, Wed=3, Thu=4, Fri 10-17=5.
        id="rest-day-trigger",
    ),
]


@pytest.mark.parametrize(("start", "n", "expected"), WORKING_CASES)
def test_add_working_days_published_schedule_matches_hand_count(start: date, n: int, expected: date) -> None:
    assert add_working_days(CAL, start, n) == DueDate(due=expected, provisional=False)


def test_add_working_days_rest_day_start_differs_from_find_workday() -> None:
    # domain.md §3.2: find_workday counts the next workday after a rest day as day 0.
    assert chinese_calendar.find_workday(5, date(2025, 10, 12)) == date(2025, 10, 20)
    assert add_working_days(CAL, date(2025, 10, 12), 5).due == date(2025, 10, 17)


def test_workcalendar_makeup_saturday_is_workday() -> None:
    assert CAL.is_workday(date(2025, 10, 11)) is True  # Sat, National Day make-up
    assert CAL.is_workday(date(2025, 10, 8)) is False  # Wed, National Day rest
    assert CAL.is_workday(date(2025, 10, 18)) is False  # ordinary Sat


def test_workcalendar_datetime_argument_raises_typeerror() -> None:
    with pytest.raises(TypeError, match="local_date"):
        CAL.is_workday(datetime(2025, 10, 11, 12, 0, tzinfo=UTC))


@pytest.mark.parametrize("n", [0, -1])
def test_add_working_days_nonpositive_n_raises_valueerror(n: int) -> None:
    with pytest.raises(ValueError, match="positive"):
        add_working_days(CAL, date(2025, 10, 12), n)


def test_results_do_not_depend_on_today() -> None:
    with freeze_time("2031-07-01T00:00:00Z"):
        late = add_working_days(WorkCalendar(), date(2026, 2, 12), 5)
    with freeze_time("2019-03-01T00:00:00Z"):
        early = add_working_days(WorkCalendar(), date(2026, 2, 12), 5)
    # Hand count as in spring-festival-2026-across.
    assert late == early == DueDate(due=date(2026, 2, 26), provisional=False)


# --- calendar days -----------------------------------------------------------------------

CALENDAR_CASES = [
    pytest.param(
        date(2025, 9, 1), date(2025, 10, 9),
        # 09-01 + 30 = Wed 10-01 (National Day); 10-01..10-08 rest; Thu 10-09.
        id="ends-on-holiday-moves",
    ),
    pytest.param(
        date(2026, 1, 16), date(2026, 2, 24),
        # 01-16 + 30 = Sun 02-15 (Spring Festival); 02-15..02-23 rest; Tue 02-24.
        id="ends-in-spring-festival-moves",
    ),
    pytest.param(
        date(2025, 10, 2), date(2025, 11, 3),
        # 10-02 + 30 = Sat 11-01 (weekend); Sun 11-02 rest; Mon 11-03.
        id="ends-on-weekend-moves",
    ),
    pytest.param(
        date(2025, 9, 11), date(2025, 10, 11),
        # 09-11 + 30 = Sat 10-11, a make-up working day: it stays.
        id="ends-on-makeup-saturday-stays",
    ),
    pytest.param(
        date(2026, 4, 9), date(2026, 5, 9),
        # 04-09 + 30 = Sat 05-09, May Day make-up working day: it stays.
        id="ends-on-may-day-makeup-saturday-stays",
    ),
    pytest.param(
        date(2026, 3, 2), date(2026, 4, 1),
        # 03-02 + 30 = Wed 04-01, an ordinary working day.
        id="ends-on-workday-stays",
    ),
]


@pytest.mark.parametrize(("start", "expected"), CALENDAR_CASES)
def test_add_calendar_days_30_days_matches_hand_count(start: date, expected: date) -> None:
    assert add_calendar_days(CAL, start, 30) == DueDate(due=expected, provisional=False)


# --- unknown years, overrides, assumed weekdays ------------------------------------------


def test_workcalendar_unknown_year_raises_calendar_error_naming_year() -> None:
    with pytest.raises(CalendarError) as info:
        add_working_days(WorkCalendar(), date(2099, 3, 2), 5)
    err = info.value
    assert str(err) == "working-day calendar for 2099 is unknown"
    assert err.exit_code == ExitCode.CALENDAR
    assert err.hint is not None
    assert "chinese-calendar" in err.hint
    assert "calendar.toml" in err.hint
    assert "cluetool calendar add" in err.hint


def test_workcalendar_2027_unknown_to_installed_package_unless_published() -> None:
    # chinese-calendar 1.11 stops at 2026; once a release adds 2027 the year is known
    # and must count, so both outcomes are checked against the package's own range.
    cal = WorkCalendar()
    if 2027 in cal.known_years:
        assert isinstance(cal.is_workday(date(2027, 3, 1)), bool)
    else:
        with pytest.raises(CalendarError, match="for 2027 is unknown"):
            cal.is_workday(date(2027, 3, 1))


def test_workcalendar_override_year_honours_holidays_and_makeup_workdays(tmp_path: Path) -> None:
    cal = WorkCalendar(load_calendar_overrides(_write(tmp_path, OVERRIDE_2099)))
    assert 2099 in cal.known_years
    assert cal.is_workday(date(2099, 1, 2)) is False  # Fri, listed holiday
    assert cal.is_workday(date(2099, 1, 4)) is True  # Sun, listed make-up workday
    assert cal.is_workday(date(2099, 1, 10)) is False  # ordinary Sat
    assert cal.is_workday(date(2099, 1, 5)) is True  # ordinary Mon
    # Start Wed 2098-12-31 (not counted, so 2098 need not be known). Thu 01-01, Fri 01-02,
    # Sat 01-03 rest (holidays), Sun 01-04 (make-up)=1, Mon 01-05=2, Tue 01-06=3.
    assert add_working_days(cal, date(2098, 12, 31), 3) == DueDate(due=date(2099, 1, 6), provisional=False)
    # 2099-04-01 + 30 = Fri 05-01 (listed holiday); Sat 05-02, Sun 05-03 rest; Mon 05-04.
    assert add_calendar_days(cal, date(2099, 4, 1), 30) == DueDate(due=date(2099, 5, 4), provisional=False)
    assert cal.source(2099) == "override: test schedule for 2099 (not a real notice)"


def test_workcalendar_override_wins_over_chinese_calendar() -> None:
    # An operator correction for a year the package knows replaces that whole year.
    override = {2025: YearOverride(year=2025, source="test correction", holidays=(date(2025, 1, 1),))}
    cal = WorkCalendar(override)
    assert cal.is_workday(date(2025, 10, 1)) is True  # Wed; not a holiday in the override
    assert cal.is_workday(date(2025, 10, 11)) is False  # Sat; no make-up day in the override
    assert CAL.is_workday(date(2025, 10, 1)) is False  # the package's own answer


def test_workcalendar_assume_weekdays_counts_mon_to_fri_provisionally() -> None:
    cal = WorkCalendar(assume_weekdays=True)
    # Start Wed 2098-12-31. Assumed Mon–Fri: Thu 01-01=1, Fri 01-02=2, Sat/Sun rest, Mon 01-05=3.
    result = add_working_days(cal, date(2098, 12, 31), 3)
    assert result == DueDate(due=date(2099, 1, 5), provisional=True, unknown_years=(2099,))
    assert cal.is_provisional(date(2099, 1, 5)) is True
    assert cal.source(2099) == "assumed Mon-Fri (calendar for 2099 unknown)"


def test_workcalendar_assume_weekdays_leaves_known_years_firm() -> None:
    cal = WorkCalendar(assume_weekdays=True)
    # Same hand count as national-day-2025-makeup-saturday.
    assert add_working_days(cal, date(2025, 9, 30), 5) == DueDate(due=date(2025, 10, 14), provisional=False)


def test_workcalendar_late_december_of_last_known_year_is_provisional(tmp_path: Path) -> None:
    # 2099 is known (override), 2100 is not: its notice could still make a late-December
    # 2099 Saturday a working day (domain.md §3.2).
    cal = WorkCalendar(load_calendar_overrides(_write(tmp_path, OVERRIDE_2099)))
    assert cal.is_provisional(date(2099, 12, 17)) is False
    assert cal.provisional_years(date(2099, 12, 18)) == (2100,)
    # Start Wed 2099-12-16: Thu 12-17=1, Fri 12-18=2 (in the last two weeks).
    assert add_working_days(cal, date(2099, 12, 16), 2) == DueDate(
        due=date(2099, 12, 18), provisional=True, unknown_years=(2100,)
    )
    # Start Tue 2099-12-15: Wed 12-16=1, Thu 12-17=2; the window stops before 12-18.
    assert add_working_days(cal, date(2099, 12, 15), 2) == DueDate(due=date(2099, 12, 17), provisional=False)
    # Calendar days: 2099-11-24 + 30 = Thu 12-24, a working day in the uncertain fortnight.
    assert add_calendar_days(cal, date(2099, 11, 24), 30) == DueDate(
        due=date(2099, 12, 24), provisional=True, unknown_years=(2100,)
    )


def test_workcalendar_late_december_firm_once_next_year_known(tmp_path: Path) -> None:
    text = OVERRIDE_2099 + '[[year]]\nyear = 2100\nsource = "test 2100"\nholidays = ["2100-01-01"]\n'
    cal = WorkCalendar(load_calendar_overrides(_write(tmp_path, text)))
    assert cal.provisional_years(date(2099, 12, 24)) == ()


def test_workcalendar_late_december_of_package_last_year_is_provisional() -> None:
    last = max(chinese_calendar.holidays).year  # the last year the package knows
    assert CAL.is_provisional(date(last, 12, 31)) is True
    assert CAL.provisional_years(date(last, 12, 18)) == (last + 1,)
    assert CAL.is_provisional(date(last, 12, 17)) is False
    assert CAL.is_provisional(date(last - 1, 12, 31)) is False


def test_workcalendar_override_key_mismatch_raises_valueerror() -> None:
    ov = YearOverride(year=2099, source="x", holidays=(date(2099, 1, 1),))
    with pytest.raises(ValueError, match="keyed 2098"):
        WorkCalendar({2098: ov})


def test_workcalendar_override_date_outside_year_raises_valueerror() -> None:
    ov = YearOverride(year=2099, source="x", holidays=(date(2098, 12, 31),))
    with pytest.raises(ValueError, match="2098-12-31 is not in 2099"):
        WorkCalendar({2099: ov})


# --- the override file -------------------------------------------------------------------


def test_load_calendar_overrides_valid_file_parses_both_date_spellings(tmp_path: Path) -> None:
    overrides = load_calendar_overrides(_write(tmp_path, OVERRIDE_2099))
    assert overrides == {
        2099: YearOverride(
            year=2099,
            source="test schedule for 2099 (not a real notice)",
            holidays=(date(2099, 1, 1), date(2099, 1, 2), date(2099, 1, 3), date(2099, 5, 1)),
            workdays=(date(2099, 1, 4),),
        )
    }


def test_load_calendar_overrides_missing_file_is_empty(tmp_path: Path) -> None:
    assert load_calendar_overrides(tmp_path / "calendar.toml") == {}


def _entry(**fields: str) -> str:
    base = {
        "year": "2099",
        "source": '"test"',
        "holidays": '["2099-01-01"]',
        "workdays": '["2099-01-04"]',
    }
    base.update(fields)
    lines = ["[[year]]"] + [f"{k} = {v}" for k, v in base.items() if v != "OMIT"]
    return "\n".join(lines) + "\n"


MALFORMED = [
    pytest.param(b"[[year]\nyear = 2099\n", "cannot read calendar overrides", id="not-toml"),
    pytest.param(b"\xff\xfe[[year]]\n", "not UTF-8", id="not-utf8"),
    pytest.param(_entry(holidays='["2099-13-01"]'), "year[0].holidays[0]:", id="bad-date"),
    pytest.param(_entry(holidays="[2099-01-01T00:00:00]"), "year[0].holidays[0]:", id="datetime-not-date"),
    pytest.param(_entry(holidays="[]"), "year[0] (year = 2099): holiday: no holiday is listed", id="no-holidays"),
    pytest.param(_entry(holidays='"2099-01-01"'), "year[0].holidays:", id="holidays-not-list"),
    pytest.param(_entry(year='"2099"'), "year[0].year:", id="year-not-int"),
    pytest.param(_entry(year="OMIT"), "missing required field `year`", id="year-missing"),
    pytest.param(_entry(source="OMIT"), "missing required field `source`", id="source-missing"),
    pytest.param(_entry(source='""'), "year[0].source:", id="source-empty"),
    pytest.param(_entry(holydays='["2099-01-01"]'), "unknown field `holydays`", id="unknown-field"),
    pytest.param("[[years]]\nyear = 2099\n", "unknown field `years`", id="unknown-table"),
    pytest.param("[year]\nyear = 2099\n", "year: expected `array`", id="year-not-array"),
    pytest.param(
        _entry(holidays='["2098-12-31"]'),
        "year[0] (year = 2099): holidays: 2098-12-31 is not in 2099",
        id="holiday-wrong-year",
    ),
    pytest.param(
        _entry(workdays='["2100-01-03"]'),
        "year[0] (year = 2099): workdays: 2100-01-03 is not in 2099",
        id="workday-wrong-year",
    ),
    pytest.param(
        _entry(holidays='["2099-01-04"]'),
        "year[0] (year = 2099): 2099-01-04 is in both holidays and workdays",
        id="date-in-both-lists",
    ),
    pytest.param(
        _entry(holidays='["2099-01-01", "2099-01-01"]'),
        "year[0] (year = 2099): holidays: 2099-01-01 is listed twice",
        id="date-listed-twice",
    ),
    pytest.param(
        _entry(workdays='["2099-01-05"]'),
        "year[0] (year = 2099): workdays: 2099-01-05 is a weekday",
        id="makeup-workday-on-weekday",
    ),
    pytest.param(
        _entry() + _entry(),
        "year[1] (year = 2099): year 2099 is listed twice",
        id="year-listed-twice",
    ),
]


@pytest.mark.parametrize(("text", "expected"), MALFORMED)
def test_load_calendar_overrides_malformed_raises_inputerror_naming_file_and_field(
    tmp_path: Path, text: str | bytes, expected: str
) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(InputError) as info:
        load_calendar_overrides(path)
    message = str(info.value)
    assert f'"{path}"' in message
    assert expected in message
    assert "\n" not in message
    assert info.value.exit_code == ExitCode.USAGE


# --- period spec -------------------------------------------------------------------------


def test_period_from_rule_data_converts() -> None:
    assert msgspec.convert({"days": 5, "unit": "working"}, Period) == Period(days=5, unit="working")


@pytest.mark.parametrize(
    "data",
    [{"days": 5, "unit": "weeks"}, {"days": 0, "unit": "calendar"}, {"days": 5}, {"days": 5, "unit": "working", "x": 1}],
    ids=["bad-unit", "zero-days", "no-unit", "unknown-field"],
)
def test_period_invalid_rule_data_rejected(data: dict[str, object]) -> None:
    with pytest.raises(msgspec.ValidationError):
        msgspec.convert(data, Period)


# --- properties over the published years ------------------------------------------------

KNOWN_STARTS = st.dates(min_value=date(2019, 1, 1), max_value=date(2026, 10, 31))


@settings(max_examples=300, deadline=None)
@given(start=KNOWN_STARTS, n=st.integers(min_value=1, max_value=20))
def test_add_working_days_property_exactly_n_workdays_in_window(start: date, n: int) -> None:
    result = add_working_days(CAL, start, n)
    assert result.due > start
    assert chinese_calendar.is_workday(result.due)
    # chinese-calendar's get_workdays(a, b) lists the working days in [a, b]: an oracle
    # independent of the counting loop.
    assert len(chinese_calendar.get_workdays(start + timedelta(days=1), result.due)) == n
    assert result.provisional is False  # the window ends before 2026-12-18


@settings(max_examples=300, deadline=None)
@given(start=KNOWN_STARTS, n=st.integers(min_value=1, max_value=31))
def test_add_calendar_days_property_first_workday_on_or_after_end(start: date, n: int) -> None:
    result = add_calendar_days(CAL, start, n)
    end = start + timedelta(days=n)
    assert result.due >= end
    assert chinese_calendar.is_workday(result.due)
    d = end
    while d < result.due:
        assert not chinese_calendar.is_workday(d)
        d += timedelta(days=1)
