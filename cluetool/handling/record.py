"""``record CLUE EVENT``: a handling event, checked against what already happened to the
clue (cluetool/data/rules/).

Refused, with a one-line reason (exit 2), and nothing stored:

- any event but ``feedback`` on a closed clue;
- ``closed`` unless every rule with ``before = "closed"`` is met by then (shipped: two
  ``reviewed`` events by distinct units). A clue recorded as a ``duplicate`` of another
  may be closed without reviews: it is the other clue that is verified;
- ``notified`` with no ``filed`` event at or before it;
- ``transferred`` on an unassigned clue, to the unit that holds it, or ``--unit`` other
  than the holder (a transfer leaves from the holder);
- an event before the report was received or imported, or after ``now``; an event by a
  unit before the clue was first assigned;
- ``duplicate --of`` the clue itself; the options an event needs or does not take.

An accepted event is stored, moves the public stage (``assigned``, ``verified`` /
``reviewed`` → ``under_verification``, ``closed`` → ``closed``), meets and starts
obligations, confirms a duplicate link, and writes one ``event.record`` audit entry:
ids, units and the HMAC-SHA-256 of the note under the home's audit secret
(``cluetool.keys.audit_secret``), never the note.
"""

from __future__ import annotations

from datetime import datetime, timezone

import msgspec

from cluetool.config import Home
from cluetool.errors import InputError
from cluetool.handling import context as c
from cluetool.home import open_store
from cluetool.handling import obligations as ob
from cluetool.handling.progress import CreatedObligation, MetObligation, apply_event
from cluetool.keys.audit_secret import audit_secret, keyed_text
from cluetool.rules.deadlines import EVENTS, EventFact, completed_at
from cluetool.rules.from_report import facts_from_json
from cluetool.store import handling as h
from cluetool.store.audit_entries import append_entry, format_time
from cluetool.store.stateimages import IMAGE_KEY, changed_images, images_of_reports, report_id_of

RECORD_SCHEMA = "cluetool.record/1"
CHANNELS = ("phone", "sms", "in_person")

# An event that cannot come before another (the "notified before filed").
_REQUIRES = {"notified": "filed"}
# The public stage an event moves the report to.
_STAGE = {"verified": "under_verification", "reviewed": "under_verification", "closed": "closed"}
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


class RecordedEvent(msgspec.Struct, kw_only=True):
    """A stored event and what it did: the stage after it, duties met and started."""

    event_id: int
    clue: str
    event: str
    at: str
    unit: str | None
    to_unit: str | None = None
    channel: str | None = None
    of: str | None = None
    stage: str
    met: list[MetObligation]
    created: list[CreatedObligation]
    schema: str = RECORD_SCHEMA


def _refuse(sid: str, event: str, why: str, hint: str | None = None) -> InputError:
    return InputError(f"cannot record {event} on clue {sid}: {why}", hint=hint)


def _first_assigned(record: h.ClueRecord, past: list[h.EventRecord]) -> datetime | None:
    # The first ``assigned`` (or transfer) event; the holder's assignment time if the
    # store has no such event (a transfer moves the assignment time, not the first one).
    times = [e.at for e in past if e.event in ("assigned", "transferred")]
    if record.assigned_at is not None:
        times.append(record.assigned_at)
    return min(times, default=None)


def _check_options(event: str, *, to: str | None, unit: str | None, channel: str | None, of: str | None) -> None:
    if event not in EVENTS:
        raise InputError(f'unknown event "{event}"; use one of {", ".join(EVENTS)}')
    needs = {"transferred": "to", "notified": "to", "reviewed": "unit", "duplicate": "of", "contacted": "channel"}
    given = {"to": to, "unit": unit, "channel": channel, "of": of}
    need = needs.get(event)
    if need is not None and not given[need]:
        raise InputError(f"{event} needs --{need}")
    for opt in ("to", "channel", "of"):
        if given[opt] is not None and need != opt:
            raise InputError(f"--{opt} does not apply to {event}")
    if channel is not None and channel not in CHANNELS:
        raise InputError(f'--channel: "{channel}" is not one of {", ".join(CHANNELS)}')


def record_event(
    home: Home,
    clue: str,
    event: str,
    *,
    now: datetime,
    at: datetime | None = None,
    unit: str | None = None,
    to: str | None = None,
    channel: str | None = None,
    of: str | None = None,
    note: str | None = None,
    strict_calendar: bool = False,
    wait: float = 10.0,
) -> RecordedEvent:
    """Record ``event`` on the clue named by ``clue`` (a submission id or a unique prefix
    of at least 8 characters) at ``at`` (default ``now``).

    ``unit`` is the unit acting (default: the clue's holder); ``to`` the receiving unit
    of ``transferred`` / ``notified``; ``channel`` how ``contacted`` reached the reporter;
    ``of`` the earlier clue a ``duplicate`` repeats.

    Raises:
        InputError: an impossible sequence (see the module docstring), an unknown,
            ambiguous or too short clue, an unknown unit, a wrong option.
        CalendarError: a duty this event starts needs a year the calendar does not know
            (with ``strict_calendar``).
    """
    now = c.utc(now)
    at = now if at is None else c.utc(at)
    _check_options(event, to=to, unit=unit, channel=channel, of=of)
    loaded = c.load(home, strict=strict_calendar)
    secret = audit_secret(home) if note is not None else b""
    for opt, value in (("--unit", unit), ("--to", to)):
        if value is not None:
            c.require_unit(loaded.units, value, opt)
    with open_store(home, wait=wait) as store, store.write() as tx:
        sid = c.resolve(tx, clue)
        other = c.resolve(tx, of) if of is not None else None
        c.sync(tx, loaded.units, now=now)
        ob.ensure_rules_current(tx, loaded.ctx, home=home, now=now, actor=c.ACTOR, units=loaded.units)
        record = h.get_clue(tx, sid)
        assert record is not None
        report_id = report_id_of(tx, sid)
        before = images_of_reports(tx, [report_id]).get(report_id, {}) if report_id is not None else {}
        past = h.events_of(tx, sid)
        actor_unit = unit if unit is not None else record.unit
        _check_sequence(sid, event, at, now, record, past, loaded, actor_unit=actor_unit, to=to, other=other)
        ev = h.NewEvent(id=h.next_event_id(tx), submission_id=sid, event=event, at=at, recorded_at=now,
                        unit=actor_unit, to_unit=to, channel=channel, note=note)
        h.insert_events(tx, [ev])
        owner = record.unit
        if event == "transferred":
            assert to is not None
            h.upsert_assignment(tx, sid, to, at, rule_id=None, reason=None, event_id=ev.id)
            owner = to
        if event == "duplicate":
            assert other is not None
            h.confirm_duplicate(tx, sid, other, at=now)
        if event in _STAGE:
            h.advance_stage(tx, [sid], _STAGE[event])
        history = [e.fact() for e in past] + [EventFact(name=event, at=at, to=to, unit=actor_unit)]
        facts = facts_from_json(record.report_json)
        met, created = apply_event(tx, loaded.ctx, loaded.units, clue=record, facts=facts, event=ev,
                                   history=history, owner=owner if event == "transferred" else actor_unit,
                                   now=now)
        append_entry(tx, at=now, actor=c.ACTOR, action="event.record", object=f"report:{sid}", details={
            "event_id": ev.id, "event": event, "event_at": format_time(at), "unit": actor_unit, "to_unit": to,
            "channel": channel, "duplicate_of": other,
            "note_hmac_sha256": keyed_text(secret, note) if note is not None else None,
            IMAGE_KEY: changed_images(before, images_of_reports(tx, [report_id]).get(report_id, {}))
            if report_id is not None else [],
        })
        stage = h.get_clue(tx, sid).stage  # type: ignore[union-attr]
    return RecordedEvent(event_id=ev.id, clue=sid, event=event, at=format_time(at), unit=actor_unit, to_unit=to,
                         channel=channel, of=other, stage=stage, met=met, created=created)


def _check_sequence(
    sid: str, event: str, at: datetime, now: datetime, record: h.ClueRecord, past: list[h.EventRecord],
    loaded: c.Loaded, *, actor_unit: str | None, to: str | None, other: str | None,
) -> None:
    if at > now:
        raise _refuse(sid, event, f"--at {format_time(at)} is in the future")
    if at < record.received_at:
        raise _refuse(sid, event, f"--at {format_time(at)} is before the report was received")
    if at < record.imported_at:
        raise _refuse(sid, event, f"--at {format_time(at)} is before the clue was imported "
                      f"({format_time(record.imported_at)})", hint="give an --at at or after the import")
    assigned = _first_assigned(record, past)
    if actor_unit is not None and assigned is not None and at < assigned:
        raise _refuse(sid, event, f"--at {format_time(at)} is before the clue was first assigned "
                      f"({format_time(assigned)})", hint="give an --at at or after the assignment")
    if record.stage == "closed" and event != "feedback":
        raise _refuse(sid, event, "the clue is closed; only feedback may follow")
    names = {e.event for e in past if e.at <= at}
    need = _REQUIRES.get(event)
    if need is not None and need not in names:
        raise _refuse(sid, event, f"no {need} event at or before {format_time(at)}")
    if event == "transferred":
        if record.unit is None:
            raise _refuse(sid, event, "the clue is not assigned to any unit yet; use assign")
        if to == record.unit:
            raise _refuse(sid, event, f"the clue is already with {to}")
        if actor_unit != record.unit:
            raise _refuse(sid, event, f"the clue is held by {record.unit}, not {actor_unit}")
    if event == "duplicate" and other == sid:
        raise _refuse(sid, event, "a clue cannot duplicate itself")
    if event == "closed" and "duplicate" not in names:
        _check_before(sid, event, at, record, past, loaded)


def _check_before(sid: str, event: str, at: datetime, record: h.ClueRecord, past: list[h.EventRecord],
                  loaded: c.Loaded) -> None:
    # Duties that must be met before this event (``before = "closed"``): counted from the
    # obligation's trigger when there is one, else over the clue's whole history.
    history = [e.fact() for e in past if e.at <= at]
    for rule in loaded.ctx.rules:
        if rule.before != event:
            continue
        since = _EPOCH
        trig = [e for e in past if e.event == rule.when and e.at <= at]
        if rule.when in ("received", "imported"):
            since = record.received_at if rule.when == "received" else record.imported_at
        elif trig:
            since = trig[0].at
        if completed_at(rule, history, since, loaded.units) is None:
            what = f"{rule.done_count} {rule.done_by} event{'s' if rule.done_count > 1 else ''}"
            if rule.distinct == "unit":
                what += " by distinct units"
            raise _refuse(sid, event, f"rule {rule.id} needs {what} first")
