"""``ledger``: the transfer ledger of a unit, both ends, from the events (cluetool/data/rules/).

Every assignment and transfer is an event (``assigned``: ``unit`` is the previous holder
or empty, ``to_unit`` the new one; ``transferred``: from ``unit`` to ``to_unit``), so a
unit's outgoing ledger is the events with ``unit = U`` and its incoming ledger those with
``to_unit = U``: the two ends of one hand-over are the same row, and cannot disagree.
Dates are local dates in the platform's time zone, both ends inclusive.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

import msgspec

from cluetool.config import Home
from cluetool.errors import InputError
from cluetool.handling import context as c
from cluetool.home import open_store
from cluetool.handling import obligations as ob
from cluetool.store import handling as h

LEDGER_SCHEMA = "cluetool.ledger/1"


class LedgerReport(msgspec.Struct, kw_only=True):
    unit: str | None
    direction: str | None
    date_from: str | None
    date_to: str | None
    entries: list[h.LedgerRecord]
    schema: str = LEDGER_SCHEMA


def transfer_ledger(
    home: Home,
    *,
    unit: str | None = None,
    direction: str | None = None,
    date_from: date | None = None,
    date_to: date | None = None,
    wait: float = 10.0,
) -> LedgerReport:
    """Assignments and transfers, of ``unit`` in ``direction`` (``in``, ``out``, or both
    when None), between the local dates ``date_from`` and ``date_to`` inclusive.

    Raises:
        InputError: an unknown unit or direction, ``direction`` without ``unit``, or
            ``date_from`` after ``date_to``.
    """
    if direction not in (None, "in", "out"):
        raise InputError(f'--direction: "{direction}" is not in or out')
    if direction is not None and unit is None:
        raise InputError("--direction needs --unit")
    if date_from is not None and date_to is not None and date_from > date_to:
        raise InputError(f"--from {date_from.isoformat()} is after --to {date_to.isoformat()}")
    if unit is not None:
        c.require_unit(c.load_home_units(home), unit, "--unit")
    tz = ob.home_timezone(home) if (date_from or date_to) else None
    start = datetime.combine(date_from, time(), tz) if date_from and tz else None
    end = datetime.combine(date_to + timedelta(days=1), time(), tz) if date_to and tz else None
    with open_store(home, wait=wait) as store, store.read() as tx:
        entries = h.ledger_events(tx, unit=unit, direction=direction, start=start, end=end)
    return LedgerReport(unit=unit, direction=direction, date_from=date_from.isoformat() if date_from else None,
                        date_to=date_to.isoformat() if date_to else None, entries=entries)
