"""The handling API behind ``assign``, ``record``, ``deadlines`` and ``ledger`` (DESIGN §8).

Each function takes the home as a path (``None``: ``$CLUETOOL_HOME``) and the current
time as a parameter, opens the store, does one thing in one transaction, and returns a
msgspec Struct that the command renders. Time zone, rules and units come from the home.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from pathlib import Path

from cluetool.config import resolve_home
from cluetool.errors import InputError
from cluetool.handling.assign import (
    AssignReport,
    AssignResult,
    assign_by_hand,
    assign_by_rules,
)
from cluetool.handling.deadlines import DeadlineReport, deadline_report
from cluetool.handling.ledger import LedgerReport, transfer_ledger
from cluetool.handling.record import RecordedEvent, record_event

__all__ = [
    "AssignReport",
    "AssignResult",
    "DeadlineReport",
    "LedgerReport",
    "RecordedEvent",
    "assign",
    "deadlines",
    "ledger",
    "parse_date",
    "parse_time",
    "record",
]


def parse_date(value: date | str | None, option: str) -> date | None:
    """A local date given as ``YYYY-MM-DD`` (or already a date).

    Raises:
        InputError: not a date.
    """
    if value is None or isinstance(value, date):
        return value
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InputError(f'{option}: "{value}" is not a date (YYYY-MM-DD)') from None


def parse_time(value: datetime | str | None, option: str) -> datetime | None:
    """An instant given in RFC 3339 with an offset (or already a datetime).

    Raises:
        InputError: not a time, or no offset.
    """
    if value is None or isinstance(value, datetime):
        return value
    try:
        at = datetime.fromisoformat(value)
    except ValueError:
        raise InputError(f'{option}: "{value}" is not an RFC 3339 time', hint="e.g. 2026-03-02T09:00:00+08:00") from None
    if at.tzinfo is None:
        raise InputError(f'{option}: "{value}" has no time zone offset', hint="e.g. 2026-03-02T09:00:00+08:00")
    return at


def assign(
    home: Path | None,
    clue: str | None = None,
    unit: str | None = None,
    *,
    now: datetime,
    reason: str | None = None,
    dry_run: bool = False,
    strict_calendar: bool = False,
    wait: float = 10.0,
) -> AssignReport:
    """``assign``: by the rules (no CLUE), or ``CLUE UNIT --reason`` by hand.

    Raises:
        InputError: CLUE without UNIT, a reason or dry run that does not apply, and as
            ``assign_by_rules`` / ``assign_by_hand``.
        CalendarError, StateError, BusyError: as those.
    """
    h = resolve_home(home)
    if clue is None and unit is None:
        if reason is not None:
            raise InputError("--reason is for assigning one clue by hand: assign CLUE UNIT --reason TEXT")
        return assign_by_rules(h, now=now, dry_run=dry_run, strict_calendar=strict_calendar, wait=wait)
    if clue is None or unit is None:
        raise InputError("assigning by hand takes both CLUE and UNIT")
    if dry_run:
        raise InputError("--dry-run is for assigning by the rules (assign with no CLUE)")
    return assign_by_hand(h, clue, unit, reason=reason or "", now=now, strict_calendar=strict_calendar, wait=wait)


def record(
    home: Path | None,
    clue: str,
    event: str,
    *,
    now: datetime,
    at: datetime | str | None = None,
    unit: str | None = None,
    to: str | None = None,
    channel: str | None = None,
    of: str | None = None,
    note: str | None = None,
    strict_calendar: bool = False,
    wait: float = 10.0,
) -> RecordedEvent:
    """``record CLUE EVENT``; see ``cluetool.handling.record.record_event``."""
    return record_event(resolve_home(home), clue, event, now=now, at=parse_time(at, "--at"), unit=unit, to=to, channel=channel, of=of,
                        note=note, strict_calendar=strict_calendar, wait=wait)


def deadlines(
    home: Path | None,
    *,
    now: datetime,
    as_of: date | str | None = None,
    soon_days: int = 2,
    states: Sequence[str] = (),
    unit: str | None = None,
    rule: str | None = None,
    fail_on: str | None = None,
    strict_calendar: bool = False,
    wait: float = 10.0,
) -> DeadlineReport:
    """``deadlines``; see ``cluetool.handling.deadlines.deadline_report``."""
    return deadline_report(resolve_home(home), now=now, as_of=parse_date(as_of, "--as-of"), soon_days=soon_days, states=states, unit=unit,
                           rule=rule, fail_on=fail_on, strict_calendar=strict_calendar, wait=wait)


def ledger(
    home: Path | None,
    *,
    unit: str | None = None,
    direction: str | None = None,
    date_from: date | str | None = None,
    date_to: date | str | None = None,
    wait: float = 10.0,
) -> LedgerReport:
    """``ledger``; see ``cluetool.handling.ledger.transfer_ledger``."""
    return transfer_ledger(resolve_home(home), unit=unit, direction=direction, date_from=parse_date(date_from, "--from"),
                           date_to=parse_date(date_to, "--to"),
                           wait=wait)
