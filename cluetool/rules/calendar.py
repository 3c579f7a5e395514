"""The working-day calendar and deadline-period counting (docs/calendar.md).

A day's status comes, in order, from the operator's override file (``rules/calendar.toml``,
full-year schedules as published by the State Council), then from ``chinese-calendar``,
and otherwise is an error (``CalendarError``, exit 4) unless the caller explicitly asked
to assume Mon–Fri, in which case every result that depends on that guess is marked
provisional (domain.md §3.2: never fall back silently).

Counting (domain.md §3.2, after 民法典 arts. 201 and 203): dates are local dates in the
platform's time zone; the trigger day is not counted; a calendar-day period that ends on
a rest day moves to the next working day. Pure computation: no store, no I/O except
reading the override file in ``load_calendar_overrides``.
"""

from __future__ import annotations

import functools
import tomllib
from collections.abc import Mapping
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import chinese_calendar
import msgspec

from cluetool.errors import CalendarError, InputError, StateError

__all__ = [
    "DEFAULT_TIMEZONE",
    "UNKNOWN_YEAR_HINT",
    "DueDate",
    "NamedHoliday",
    "Period",
    "WorkCalendar",
    "YearOverride",
    "add_calendar_days",
    "add_working_days",
    "due_date",
    "load_calendar_overrides",
    "local_date",
    "parse_year_entry",
    "year_entry_toml",
]

DEFAULT_TIMEZONE = "Asia/Shanghai"

# A notice for year Y+1 has more than once made a Saturday in late December of year Y a
# working day (2001-12-29/30, 2005-12-31, 2006-12-30/31, 2011-12-31, 2018-12-29;
# domain.md §3.2), so those days are only firm once Y+1's schedule is known.
_LATE_DECEMBER_FIRST_DAY = 18  # the last two weeks: Dec 18..31

UNKNOWN_YEAR_HINT = (
    "add the year's published schedule to rules/calendar.toml with `cluetool calendar add YEAR --from FILE` "
    "(or upgrade chinese-calendar); without --strict-calendar such due dates are provisional (Mon-Fri)"
)

_ONE_DAY = timedelta(days=1)


def _chinese_calendar_years() -> range:
    # chinese-calendar supports exactly the years between its first and last listed
    # holiday (the same bounds its own _validate_date uses before raising
    # NotImplementedError).
    keys = chinese_calendar.holidays.keys()
    return range(min(keys).year, max(keys).year + 1)


_CC_YEARS = _chinese_calendar_years()


def chinese_calendar_years() -> range:
    """The years the installed chinese-calendar package knows (``--version`` shows the last)."""
    return _CC_YEARS


@functools.lru_cache(maxsize=16384)
def _cc_is_workday(d: date) -> bool | None:
    # None for a year chinese-calendar does not know. The cache matters: the package
    # scans all its holidays on every call to find its supported range.
    try:
        return bool(chinese_calendar.is_workday(d))
    except NotImplementedError:
        return None


class NamedHoliday(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """One holiday of a published schedule: its name and every rest day it gives."""

    name: Annotated[str, msgspec.Meta(min_length=1)]
    days: Annotated[tuple[date, ...], msgspec.Meta(min_length=1)]


class YearOverride(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """One year's published schedule from ``rules/calendar.toml``.

    Rest days (any weekday) are listed by holiday in ``holiday`` (``[[year.holiday]]``
    tables with a ``name`` and ``days``; what ``calendar add`` writes) or, in older
    entries, as one flat ``holidays`` list; ``workdays`` are the adjusted make-up working
    days (调休, always a Saturday or Sunday). Every other Mon–Fri is a working day.
    """

    year: int
    source: Annotated[str, msgspec.Meta(min_length=1)]
    holidays: tuple[date, ...] = ()
    holiday: tuple[NamedHoliday, ...] = ()
    workdays: tuple[date, ...] = ()

    @property
    def rest_days(self) -> tuple[date, ...]:
        """Every rest day of the entry, flat list and named holidays together."""
        return self.holidays + tuple(d for h in self.holiday for d in h.days)


class _OverrideFile(msgspec.Struct, forbid_unknown_fields=True):
    year: list[YearOverride] = msgspec.field(default_factory=list)


def _override_problem(ov: YearOverride) -> str | None:
    """The first thing wrong with a year entry, as ``field: what``; None if it is sound."""
    if not ov.rest_days:
        return "holiday: no holiday is listed"
    named = [(f"holiday[{i}] ({h.name})", h.days) for i, h in enumerate(ov.holiday)]
    rest: set[date] = set()
    for field, days in (("holidays", ov.holidays), *named, ("workdays", ov.workdays)):
        seen: set[date] = rest if field != "workdays" else set()
        for d in days:
            if d.year != ov.year:
                return f"{field}: {d.isoformat()} is not in {ov.year}"
            if d in seen:
                return f"{field}: {d.isoformat()} is listed twice"
            seen.add(d)
    for d in ov.workdays:
        # A weekday is a working day anyway unless it is a holiday; a weekday here is a
        # typo for the make-up Saturday or Sunday.
        if d.weekday() < 5:
            return f"workdays: {d.isoformat()} is a weekday; make-up workdays fall on a Saturday or Sunday"
    both = sorted(set(ov.rest_days) & set(ov.workdays))
    if both:
        return f"{both[0].isoformat()} is in both holidays and workdays"
    return None


def load_calendar_overrides(path: Path) -> dict[int, YearOverride]:
    """Read ``rules/calendar.toml``: year → the operator's copy of that year's schedule.

    A missing file means no overrides (an empty dict).

    Raises:
        InputError: not TOML, or an entry is malformed (the message names file and field).
        StateError: the file exists but cannot be read.
    """
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise StateError(f'cannot read calendar overrides "{path}": {exc.strerror}') from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise InputError(f'cannot read calendar overrides "{path}": not UTF-8') from None
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f'cannot read calendar overrides "{path}": {exc}') from None
    try:
        parsed = msgspec.convert(_plain(data), _OverrideFile)
    except msgspec.ValidationError as exc:
        raise InputError(f'invalid calendar overrides "{path}": {_describe_validation(exc)}') from None
    result: dict[int, YearOverride] = {}
    for index, ov in enumerate(parsed.year):
        where = f"year[{index}] (year = {ov.year})"
        if ov.year in result:
            raise InputError(f'invalid calendar overrides "{path}": {where}: year {ov.year} is listed twice')
        problem = _override_problem(ov)
        if problem is not None:
            raise InputError(f'invalid calendar overrides "{path}": {where}: {problem}')
        result[ov.year] = ov
    return result


def parse_year_entry(raw: bytes, where: str, year: int) -> YearOverride:
    """One year's schedule as ``calendar add --from FILE`` takes it: the fields of one
    ``[[year]]`` entry at the top level of the file (or one ``[[year]]`` table), every
    holiday by name in ``[[holiday]]`` tables.

    Raises:
        InputError: not UTF-8 TOML, not one entry for ``year``, a date outside the year,
            a make-up day on a weekday, a holiday without a name (file and field named).
    """
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise InputError(f'cannot read calendar entry "{where}": not UTF-8') from None
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f'cannot read calendar entry "{where}": not TOML: {exc}') from None
    if isinstance(data.get("year"), list):
        if len(data) != 1 or len(data["year"]) != 1:
            raise InputError(f'invalid calendar entry "{where}": year: give exactly one year entry')
        data = data["year"][0]
    try:
        ov = msgspec.convert(_plain(data), YearOverride)
    except msgspec.ValidationError as exc:
        raise InputError(f'invalid calendar entry "{where}": {_describe_validation(exc)}') from None
    if ov.year != year:
        raise InputError(f'invalid calendar entry "{where}": year: the entry is for {ov.year}, not {year}')
    if ov.holidays:
        raise InputError(f'invalid calendar entry "{where}": holidays: list each holiday by name'
                         ' ([[holiday]] tables with name and days)')
    problem = _override_problem(ov)
    if problem is not None:
        raise InputError(f'invalid calendar entry "{where}": {problem}')
    return ov


def _toml_string(text: str) -> str:
    # A TOML basic string is a JSON string without the escapes TOML lacks (\/ is not
    # produced by the encoder; non-ASCII is written as is).
    return msgspec.json.encode(text).decode("utf-8")


def year_entry_toml(ov: YearOverride) -> str:
    """``ov`` as the ``[[year]]`` table that ``rules/calendar.toml`` holds."""
    def dates(days: tuple[date, ...]) -> str:
        return "[" + ", ".join(d.isoformat() for d in sorted(days)) + "]"

    lines = ["[[year]]", f"year = {ov.year}", f"source = {_toml_string(ov.source)}"]
    if ov.holidays:
        lines.append(f"holidays = {dates(ov.holidays)}")
    lines.append(f"workdays = {dates(ov.workdays)}")
    for h in ov.holiday:
        lines += ["", "[[year.holiday]]", f"name = {_toml_string(h.name)}", f"days = {dates(h.days)}"]
    return "\n".join(lines) + "\n"


# The real ``date`` class, kept where a test clock (freezegun, which swaps module
# attributes named like it) does not reach.
_REAL_DATE: tuple[type[date]] = (date,)


def _plain(value: Any) -> Any:
    # TOML dates as the exact ``date`` type msgspec checks for: under a test clock
    # (freezegun) tomllib makes instances of a ``date`` subclass.
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    real = _REAL_DATE[0]
    if isinstance(value, real) and type(value) is not real and not isinstance(value, datetime):
        return real(value.year, value.month, value.day)
    return value


def _describe_validation(exc: msgspec.ValidationError) -> str:
    # msgspec says "Expected `date`, got `int` - at `$.year[0].holidays[2]`"; turn that
    # into "year[0].holidays[2]: expected `date`, got `int`" so the field comes first.
    text = str(exc)
    what, sep, where = text.partition(" - at `")
    what = what[:1].lower() + what[1:]
    if not sep:
        return what
    field = where.rstrip("`").removeprefix("$").removeprefix(".")
    return f"{field}: {what}" if field else what


class WorkCalendar:
    """Which local dates are working days: override file, then chinese-calendar.

    Args:
        override: year → the operator's copy of that year's published schedule; it wins
            over chinese-calendar for that whole year.
        assume_weekdays: for a year neither source knows, treat Mon–Fri as working days
            instead of raising; every such decision is provisional.

    Raises:
        ValueError: an override entry is inconsistent (wrong year, date in both lists…).
    """

    def __init__(self, override: Mapping[int, YearOverride] | None = None, *, assume_weekdays: bool = False) -> None:
        self._rest: dict[int, frozenset[date]] = {}
        self._work: dict[int, frozenset[date]] = {}
        self._sources: dict[int, str] = {}
        for year, ov in (override or {}).items():
            if ov.year != year:
                raise ValueError(f"calendar override keyed {year} is for year {ov.year}")
            problem = _override_problem(ov)
            if problem is not None:
                raise ValueError(f"calendar override for {year}: {problem}")
            self._rest[year] = frozenset(ov.rest_days)
            self._work[year] = frozenset(ov.workdays)
            self._sources[year] = ov.source
        self.assume_weekdays = assume_weekdays
        self._known = frozenset(self._rest) | frozenset(_CC_YEARS)

    @property
    def known_years(self) -> frozenset[int]:
        """Years with a published schedule (from the override file or chinese-calendar)."""
        return self._known

    def source(self, year: int) -> str:
        """Where the schedule for ``year`` comes from, for audit and display.

        Raises:
            CalendarError: the year is unknown and weekdays are not assumed.
        """
        if year in self._sources:
            return f"override: {self._sources[year]}"
        if year in _CC_YEARS:
            return f"chinese-calendar {getattr(chinese_calendar, '__version__', '?')}"
        if self.assume_weekdays:
            return f"assumed Mon-Fri (calendar for {year} unknown)"
        raise _unknown_year(year)

    def is_workday(self, d: date) -> bool:
        """True if ``d`` (a local date) is a working day.

        Raises:
            CalendarError: the year is unknown and weekdays are not assumed.
        """
        return self._decide(d)[0]

    def provisional_years(self, d: date) -> tuple[int, ...]:
        """Years whose unknown schedule the decision for ``d`` depends on; () when firm.

        That is ``d.year`` when Mon–Fri was assumed for it, and ``d.year + 1`` when ``d``
        is in the last two weeks of December and next year's notice is not in yet.

        Raises:
            CalendarError: the year is unknown and weekdays are not assumed.
        """
        return self._decide(d)[1]

    def is_provisional(self, d: date) -> bool:
        """True if the status of ``d`` could change once a missing schedule is published.

        Raises:
            CalendarError: the year is unknown and weekdays are not assumed.
        """
        return bool(self._decide(d)[1])

    def _decide(self, d: date) -> tuple[bool, tuple[int, ...]]:
        if isinstance(d, datetime):
            # A datetime here is almost always a UTC instant; the caller must convert it to
            # the platform's local date first (local_date), or deadlines shift by a day.
            raise TypeError("WorkCalendar takes a local date, not a datetime; use local_date()")
        year = d.year
        unknown: tuple[int, ...] = ()
        rest = self._rest.get(year)
        if rest is not None:
            workday = d in self._work[year] or (d.weekday() < 5 and d not in rest)
        else:
            cc = _cc_is_workday(d)
            if cc is not None:
                workday = cc
            elif self.assume_weekdays:
                workday = d.weekday() < 5
                unknown = (year,)
            else:
                raise _unknown_year(year)
        if d.month == 12 and d.day >= _LATE_DECEMBER_FIRST_DAY and year + 1 not in self._known:
            unknown = (*unknown, year + 1)
        return workday, unknown


def _unknown_year(year: int) -> CalendarError:
    return CalendarError(f"working-day calendar for {year} is unknown", hint=UNKNOWN_YEAR_HINT)


class DueDate(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A computed deadline (a local date: the last day on which the duty is met in time).

    ``provisional`` is true when the result depends on a schedule that is not published
    yet; ``unknown_years`` names those years (show as "PROVISIONAL (calendar for YYYY
    unknown)", and recompute once they are known).
    """

    due: date
    provisional: bool
    unknown_years: tuple[int, ...] = ()


def _result(due: date, unknown: set[int]) -> DueDate:
    return DueDate(due=due, provisional=bool(unknown), unknown_years=tuple(sorted(unknown)))


def _check_days(n: int) -> None:
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"a period must be a positive whole number of days, not {n!r}")


def add_working_days(cal: WorkCalendar, start: date, n: int) -> DueDate:
    """The ``n``th working day after ``start`` (the trigger day itself is not counted).

    Counts one day at a time; ``chinese_calendar.find_workday`` is not used because it is
    off by one when the start is a rest day (domain.md §3.2).

    Raises:
        CalendarError: a day in the window falls in an unknown year (and weekdays are not assumed).
        ValueError: ``n`` is not a positive integer.
    """
    _check_days(n)
    unknown: set[int] = set()
    d = start
    counted = 0
    while counted < n:
        d += _ONE_DAY
        workday, years = cal._decide(d)
        unknown.update(years)
        if workday:
            counted += 1
    return _result(d, unknown)


def add_calendar_days(cal: WorkCalendar, start: date, n: int) -> DueDate:
    """``start + n`` days, moved on to the next working day if that is a rest day.

    A rest day is a weekend or holiday per the calendar; a make-up working Saturday is
    not one (民法典 art. 203 as applied in domain.md §3.2). Only the last day's status (and
    the days it moves across) matters, so only those can make the result provisional.

    Raises:
        CalendarError: the last day falls in an unknown year (and weekdays are not assumed).
        ValueError: ``n`` is not a positive integer.
    """
    _check_days(n)
    unknown: set[int] = set()
    d = start + timedelta(days=n)
    while True:
        workday, years = cal._decide(d)
        unknown.update(years)
        if workday:
            return _result(d, unknown)
        d += _ONE_DAY


def _zone(tz: str | ZoneInfo) -> ZoneInfo:
    if isinstance(tz, ZoneInfo):
        return tz
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise InputError(f'unknown time zone "{tz}"', hint='use an IANA name such as "Asia/Shanghai"') from None


def local_date(at: datetime, tz: str | ZoneInfo = DEFAULT_TIMEZONE) -> date:
    """The calendar date of the instant ``at`` in the platform's time zone.

    Raises:
        ValueError: ``at`` is naive (no time zone), so the instant is ambiguous.
        InputError: ``tz`` is not a known IANA time zone.
    """
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError("a trigger time must be time-zone aware")
    return at.astimezone(_zone(tz)).date()


class Period(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A deadline period from the rule data: ``within = { days = 5, unit = "working" }``."""

    days: Annotated[int, msgspec.Meta(ge=1)]
    unit: Literal["working", "calendar"]


def due_date(cal: WorkCalendar, trigger_at: datetime, period: Period, tz: str | ZoneInfo = DEFAULT_TIMEZONE) -> DueDate:
    """The deadline for a duty triggered at ``trigger_at`` with ``period`` to meet it.

    The trigger's local date (in ``tz``) is day 0 and is not counted (docs/calendar.md).

    Raises:
        CalendarError: a needed year is unknown (and weekdays are not assumed).
        ValueError: ``trigger_at`` is naive.
        InputError: ``tz`` is not a known time zone.
    """
    start = local_date(trigger_at, tz)
    if period.unit == "working":
        return add_working_days(cal, start, period.days)
    return add_calendar_days(cal, start, period.days)


# Resolve the Structs' annotations now, at import: msgspec resolves them on first use
# and keeps the result, and a first use under a test clock (freezegun swaps ``date`` in
# every module) would otherwise tie them to the fake class.
msgspec.convert({"year": [{"year": 2000, "source": "-", "holiday": [{"name": "-", "days": ["2000-01-01"]}]}]}, _OverrideFile)
