"""The yearly calendar step: ``calendar show``, ``calendar check``, ``calendar add``,
and the notice that next year's schedule is missing (docs/calendar.md).

The State Council publishes next year's holiday schedule in November or December, and
chinese-calendar follows later. Until one of them knows a year, due dates reaching into
it are provisional (counted Mon–Fri); ``calendar add`` puts the published schedule into
``rules/calendar.toml`` and recomputes every provisional obligation at once.
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import chinese_calendar
import msgspec

from cluetool.config import Home, write_private_file
from cluetool.errors import InputError, StateError
from cluetool.handling import context as c
from cluetool.home import open_store
from cluetool.handling import obligations as ob
from cluetool.rules.calendar import (
    WorkCalendar,
    YearOverride,
    load_calendar_overrides,
    local_date,
    parse_year_entry,
    year_entry_toml,
)
from cluetool.store.audit_entries import append_entry

__all__ = [
    "CalendarAdded",
    "CalendarCheck",
    "CalendarDay",
    "CalendarShow",
    "KnownYear",
    "calendar_add",
    "calendar_check",
    "calendar_notice",
    "calendar_show",
]

NOTICE_MONTH = 11  # from 1 November on, a missing next year is worth a warning


class CalendarDay(msgspec.Struct, frozen=True, kw_only=True):
    """A day that differs from the plain Mon–Fri rule: a rest day or a make-up working day."""

    date: str
    kind: str  # rest | workday
    name: str | None
    weekday: str


class CalendarShow(msgspec.Struct, kw_only=True):
    """The rest days and make-up working days cluetool uses for one year, and their source."""

    year: int
    known: bool
    source: str
    days: list[CalendarDay]
    schema: str = "cluetool.calendar.show/1"


class KnownYear(msgspec.Struct, frozen=True, kw_only=True):
    year: int
    source: str


class CalendarCheck(msgspec.Struct, kw_only=True):
    """The years with a known schedule; ``ok`` is false when the year after ``as_of`` is unknown."""

    as_of: str
    next_year: int
    ok: bool
    years: list[KnownYear]
    schema: str = "cluetool.calendar.check/1"


class CalendarAdded(msgspec.Struct, kw_only=True):
    """A year added to ``rules/calendar.toml``, and what the recomputation changed."""

    year: int
    source: str
    rest_days: int
    workdays: int
    recomputed: int
    schema: str = "cluetool.calendar.add/1"


_WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def _calendar(home: Home) -> tuple[WorkCalendar, dict[int, YearOverride]]:
    overrides = load_calendar_overrides(home.rules_dir / "calendar.toml")
    return WorkCalendar(overrides), overrides


def calendar_show(home: Home, year: int) -> CalendarShow:
    """What cluetool will use for ``year``: rest days and make-up working days by name.

    Raises:
        InputError, StateError: a malformed or unreadable ``rules/calendar.toml``.
    """
    cal, overrides = _calendar(home)
    days: list[CalendarDay] = []
    if year in overrides:
        ov = overrides[year]
        named = {d: h.name for h in ov.holiday for d in h.days}
        rest = [(d, named.get(d)) for d in ov.rest_days]
        work = [(d, None) for d in ov.workdays]
    elif year in cal.known_years:
        rest = [(d, str(n)) for d, n in chinese_calendar.holidays.items() if d.year == year]
        work = [(d, str(n)) for d, n in chinese_calendar.workdays.items() if d.year == year]
    else:
        return CalendarShow(year=year, known=False, source="unknown", days=[])
    days = [CalendarDay(date=d.isoformat(), kind="rest", name=n, weekday=_WEEKDAYS[d.weekday()]) for d, n in rest]
    days += [CalendarDay(date=d.isoformat(), kind="workday", name=n, weekday=_WEEKDAYS[d.weekday()]) for d, n in work]
    days.sort(key=lambda d: d.date)
    return CalendarShow(year=year, known=True, source=cal.source(year), days=days)


def calendar_check(home: Home, *, as_of: date) -> CalendarCheck:
    """The known years, and whether the year after ``as_of`` is among them.

    Raises:
        InputError, StateError: a malformed or unreadable ``rules/calendar.toml``.
    """
    cal, _ = _calendar(home)
    years = [KnownYear(year=y, source=cal.source(y)) for y in sorted(cal.known_years)]
    nxt = as_of.year + 1
    return CalendarCheck(as_of=as_of.isoformat(), next_year=nxt, ok=nxt in cal.known_years, years=years)


def calendar_notice(home: Home, at: datetime) -> str | None:
    """The warning for commands that count deadlines: from 1 November on (local date of
    ``at``), next year's schedule is not known yet. None when there is nothing to say.

    A home whose rules cannot be read gets no notice here (the command itself reports that).
    """
    try:
        day = local_date(c.utc(at), ob.home_timezone(home))
        cal, _ = _calendar(home)
    except (InputError, StateError):
        return None
    nxt = day.year + 1
    if day.month < NOTICE_MONTH or nxt in cal.known_years:
        return None
    return (f"the {nxt} working-day calendar is not known yet, so due dates reaching into {nxt} are provisional "
            f"(counted Mon-Fri); once the State Council publishes it, run `cluetool calendar add {nxt} --from FILE` "
            "(docs/calendar.md) or upgrade chinese-calendar")


def calendar_add(home: Home, year: int, source_file: Path, *, now: datetime, wait: float = 10.0) -> CalendarAdded:
    """Validate one year's published schedule from ``source_file`` and add it to
    ``rules/calendar.toml`` atomically, with a ``calendar.added`` audit entry; in the same
    transaction every provisional obligation is recomputed (``rules.changed``).

    Raises:
        InputError: the file cannot be read, is not TOML, or its entry is wrong (file and
            field named); the year is already in ``rules/calendar.toml``.
        StateError, BusyError: the store is unusable or stays locked.
    """
    now = c.utc(now)
    try:
        raw = source_file.read_bytes()
    except OSError as exc:
        raise InputError(f'cannot read calendar entry "{source_file}": {exc.strerror}') from None
    entry = parse_year_entry(raw, str(source_file), year)
    target = home.rules_dir / "calendar.toml"
    try:
        old_text = target.read_bytes() if target.exists() else b""
    except OSError as exc:
        raise StateError(f'cannot read "{target}": {exc.strerror}') from None
    overrides = load_calendar_overrides(target)
    if year in overrides:
        raise InputError(f'{target}: {year} is already listed ({overrides[year].source})',
                         hint="edit rules/calendar.toml by hand to correct an entry")
    new_text = old_text.rstrip(b"\n") + (b"\n\n" if old_text.strip() else b"") + year_entry_toml(entry).encode("utf-8")
    new_overrides = {**overrides, year: entry}
    ctx = ob.deadline_context(home, overrides=new_overrides)
    existed = target.exists()
    wrote = False
    try:
        with open_store(home, wait=wait) as store, store.write() as tx:
            append_entry(tx, at=now, actor=c.ACTOR, action="calendar.added", object=f"calendar:{year}",
                         details={"year": year, "source": entry.source, "rest_days": len(entry.rest_days),
                                  "workdays": len(entry.workdays), "calendar_sha256": ctx.calendar_sha256})
            touched = ob.ensure_rules_current(tx, ctx, home=home, now=now, actor=c.ACTOR) or 0
            # The file goes in place just before the commit; should the commit fail, the
            # old file is put back, so the store and rules/calendar.toml agree.
            write_private_file(target, new_text, mode=0o600)
            wrote = True
    except BaseException:
        if wrote:
            if existed:
                write_private_file(target, old_text, mode=0o600)
            else:
                target.unlink(missing_ok=True)
        raise
    return CalendarAdded(year=year, source=entry.source, rest_days=len(entry.rest_days),
                         workdays=len(entry.workdays), recomputed=touched)

