"""``deadlines``: the obligations and their states as of a date (cluetool/data/rules/).

Obligations are stored when their trigger happens and updated when the completing event
is recorded, so this is an indexed query over ``obligations``: ``open`` obligations are
judged ``overdue`` (as-of date past the due date), ``due_soon`` (due within ``soon_days``)
or ``open`` by ranges of the ``(state, due_date)`` index; ``met`` and ``met_late`` are
stored as judged.

Before answering, the store is brought up to the rules in force
(``cluetool.store.handling.ensure_rules_current``): a changed rule file, calendar or
time zone recomputes the open obligations once, in one transaction with a
``rules.changed`` audit entry. Obligations stored provisional (counted Mon–Fri across a year no calendar source knows)
are listed as such, with the years they wait for (``unknown_years``). Only
``strict_calendar`` (``--strict-calendar``) turns an unknown year into exit 4: a
recomputation that needs one, or any unmet obligation still provisional.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime

import msgspec

from cluetool.config import Home
from cluetool.errors import CalendarError, InputError
from cluetool.handling import context as c
from cluetool.home import open_store
from cluetool.handling import obligations as ob
from cluetool.rules.calendar import UNKNOWN_YEAR_HINT, local_date
from cluetool.store import handling as h

DEADLINES_SCHEMA = "cluetool.deadlines/1"
STATES = ("overdue", "due_soon", "open", "met", "met_late")
UNMET = ("overdue", "due_soon", "open")
FAIL_STATES = ("overdue", "due_soon")


class DeadlineReport(msgspec.Struct, kw_only=True):
    """Obligations as of a date. ``counts`` are of the unmet states (under the same
    ``unit`` / ``rule`` filters); ``failed`` is true when ``fail_on`` was given and an
    obligation is in that state."""

    as_of: str
    soon_days: int
    counts: dict[str, int]
    provisional: int
    fail_on: str | None
    failed: bool
    obligations: list[h.ObligationRecord]
    schema: str = DEADLINES_SCHEMA


def deadline_report(
    home: Home,
    *,
    now: datetime,
    as_of: date | None = None,
    soon_days: int = 2,
    states: Sequence[str] = (),
    unit: str | None = None,
    rule: str | None = None,
    fail_on: str | None = None,
    strict_calendar: bool = False,
    wait: float = 10.0,
) -> DeadlineReport:
    """The obligations in ``states`` (default: every unmet one) as judged on ``as_of``
    (default: today's local date at ``now``).

    Raises:
        InputError: an unknown state, rule or unit; a negative ``soon_days``; a
            malformed rule file.
        CalendarError: with ``strict_calendar``: a recomputed due date needs an unknown
            year, or an unmet obligation is still provisional.
    """
    for s in states:
        if s not in STATES:
            raise InputError(f'--state: unknown state "{s}"; use one of {", ".join(STATES)}')
    if fail_on is not None and fail_on not in FAIL_STATES:
        raise InputError(f'--fail-on: "{fail_on}" is not one of {", ".join(FAIL_STATES)}')
    if soon_days < 0:
        raise InputError("--soon must not be negative")
    ctx = ob.deadline_context(home, strict=strict_calendar)
    if rule is not None and rule not in ctx.by_id:
        raise InputError(f'--rule: unknown rule "{rule}"', hint="rules are listed in rules/deadlines.toml")
    if unit is not None:
        c.require_unit(c.load_home_units(home), unit, "--unit")
    day = as_of if as_of is not None else local_date(c.utc(now), ctx.tz)
    wanted = tuple(dict.fromkeys(states)) or UNMET
    with open_store(home, wait=wait) as store:
        if not ob.rules_current(store, ctx):
            with store.write() as tx:
                ob.ensure_rules_current(tx, ctx, home=home, now=c.utc(now), actor=c.ACTOR)
        with store.read() as tx:
            if strict_calendar:
                waiting = h.provisional_years(tx)
                if waiting:
                    raise CalendarError(
                        f"unmet obligations have provisional due dates: the working-day calendar for "
                        f"{', '.join(map(str, waiting))} is unknown", hint=UNKNOWN_YEAR_HINT)
            rows = h.query_obligations(tx, as_of=day, soon_days=soon_days, states=wanted, unit=unit, rule=rule)
            counts = {
                s: sum(1 for r in rows if r.state == s) if s in wanted
                else h.count_obligations(tx, as_of=day, soon_days=soon_days, state=s, unit=unit, rule=rule)
                for s in UNMET
            }
    failed = fail_on is not None and counts[fail_on] > 0
    return DeadlineReport(as_of=day.isoformat(), soon_days=soon_days, counts=counts,
                          provisional=sum(1 for r in rows if r.provisional), fail_on=fail_on, failed=failed,
                          obligations=rows)
