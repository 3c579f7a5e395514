"""What an event does to a clue's obligations (cluetool/data/rules/): it may meet open ones (its
name is their ``done_by``) and start new ones (its name is their ``when``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

import msgspec

from cluetool.handling import obligations as ob
from cluetool.rules.deadlines import EventFact, completed_at
from cluetool.rules.facts import ClueFacts
from cluetool.rules.units import Unit
from cluetool.store import Tx
from cluetool.store import handling as h


class CreatedObligation(msgspec.Struct, frozen=True, kw_only=True):
    """A duty an event started: its rule, due date (local) and whether it is provisional."""

    rule: str
    due: str
    provisional: bool
    unit: str | None = None
    unknown_years: list[int] = msgspec.field(default_factory=list)


class MetObligation(msgspec.Struct, frozen=True, kw_only=True):
    """A duty an event met: its rule, due date and ``met`` or ``met_late``."""

    rule: str
    due: str
    state: str


def trigger_time(o: h.OpenObligation, when: str, received_at: datetime, imported_at: datetime) -> datetime:
    if when == "received":
        return received_at
    if when == "imported":
        return imported_at
    return o.trigger_at if o.trigger_at is not None else imported_at


def apply_event(
    tx: Tx,
    ctx: ob.DeadlineContext,
    units: Mapping[str, Unit],
    *,
    clue: h.ClueRecord,
    facts: ClueFacts,
    event: h.NewEvent,
    history: Sequence[EventFact],
    owner: str | None,
    now: datetime,
) -> tuple[list[MetObligation], list[CreatedObligation]]:
    """Meet and start the obligations of ``clue`` that ``event`` (already inserted) concerns.

    ``history`` is every event of the clue including this one; ``owner`` is the unit that
    owes the duties this event starts (the clue's holder after the event).

    Raises:
        CalendarError: a new due date needs an unknown year (with ``strict_calendar``).
    """
    by_id = ctx.by_id
    met: list[MetObligation] = []
    updates = []
    for o in h.open_obligations_of(tx, clue.submission_id):
        rule = by_id.get(o.rule_id)
        if rule is None or rule.done_by != event.event:
            continue
        since = trigger_time(o, rule.when, clue.received_at, clue.imported_at)
        done = completed_at(rule, history, since, units)
        if done is None:
            continue
        state = ob.judge_met(o.due, done, ctx.tz)
        updates.append((o.id, state, done, event.id if done == event.at else None))
        met.append(MetObligation(rule=rule.id, due=o.due.isoformat(), state=state))
    h.mark_met(tx, updates)
    handler = units.get(owner) if owner else None
    created: list[CreatedObligation] = []
    new: list[h.NewObligation] = []
    for rule, due in ob.specs_for(ctx, facts, event.event, event.at, handler=handler):
        new.append(h.NewObligation(submission_id=clue.submission_id, rule_id=rule.id, due=due.due,
                                   unknown_years=due.unknown_years, created_at=now, unit=owner,
                                   trigger_event_id=event.id))
        created.append(CreatedObligation(rule=rule.id, due=due.due.isoformat(), provisional=due.provisional,
                                         unit=owner, unknown_years=list(due.unknown_years)))
    h.insert_obligations(tx, new)
    return met, created
