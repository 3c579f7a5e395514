"""``assign``: route unassigned clues by the assignment rules, or assign one by hand
(cluetool/data/rules/). Every assignment is an ``assigned`` event (so it appears in both units'
transfer ledgers), an ``assignments`` row, an audit entry, the public stage
``assigned``, and the obligations the ``assigned`` trigger starts, all in one
transaction.
"""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple

import msgspec

from cluetool.config import Home
from cluetool.errors import InputError
from cluetool.handling import context as c
from cluetool.home import open_store
from cluetool.handling import obligations as ob
from cluetool.handling.progress import apply_event
from cluetool.keys.audit_secret import audit_secret, keyed_text
from cluetool.rules.calendar import DueDate, local_date
from cluetool.rules.deadlines import DeadlineRule
from cluetool.rules.facts import ClueFacts
from cluetool.rules.from_report import facts_from_json
from cluetool.store import handling as h
from cluetool.store.audit_entries import NewEntry, append_entries, append_entry
from cluetool.store.stateimages import IMAGE_KEY, changed_images, images_of_reports, report_id_of

ASSIGN_SCHEMA = "cluetool.assign/1"


class AssignResult(msgspec.Struct, frozen=True, kw_only=True):
    """One clue's outcome: ``assigned``, ``would_assign`` (dry run), ``reassigned`` or
    ``unmatched`` (no rule matched; the clue stays unassigned)."""

    clue: str
    status: str
    unit: str | None = None
    rule: str | None = None
    previous_unit: str | None = None
    kind: str | None = None
    region: str | None = None
    event_id: int | None = None
    obligations: int = 0


class AssignReport(msgspec.Struct, kw_only=True):
    """The outcome of an ``assign`` run; ``ok`` is false when a clue stayed unmatched."""

    ok: bool
    dry_run: bool
    assigned: int
    unmatched: int
    results: list[AssignResult]
    schema: str = ASSIGN_SCHEMA


def assign_by_rules(
    home: Home, *, now: datetime, dry_run: bool = False, strict_calendar: bool = False, wait: float = 10.0
) -> AssignReport:
    """Apply ``rules/assignment.toml`` (first match wins) to every unassigned clue.

    Unmatched clues are listed and stay unassigned (``ok`` false). With ``dry_run``
    nothing is written and the results say ``would_assign``; the duties each assignment
    would start are worked out too, so a dry run fails (exit 4) where the real run would.

    Raises:
        InputError: a malformed rule file (file, line and field named).
        CalendarError: a due date needs a year the calendar does not know (with
            ``strict_calendar``); nothing is assigned.
        StateError, BusyError: the store is unusable or stays locked.
    """
    now = c.utc(now)
    loaded = c.load(home, strict=strict_calendar)
    rules, rules_sha = c.load_home_assignment(home, loaded.units)
    results: list[AssignResult] = []
    with open_store(home, wait=wait) as store:
        if dry_run:
            with store.read() as tx:
                for _, sid, facts in h.unassigned_clues(tx):
                    rule = rules.match(facts)
                    # The real run's due dates, so that --strict-calendar fails here as there.
                    specs = ob.specs_for(loaded.ctx, facts, "assigned", now, handler=loaded.units[rule.unit]) if rule else []
                    results.append(_result(sid, facts.kind, facts.region, rule.unit if rule else None,
                                           rule.id if rule else None, "would_assign", obligations=len(specs)))
            return _report(results, dry_run=True)
        with store.write() as tx:
            c.sync(tx, loaded.units, now=now)
            ob.ensure_rules_current(tx, loaded.ctx, home=home, now=now, actor=c.ACTOR, units=loaded.units)
            first_id = next_id = h.next_event_id(tx)
            events: list[h.NewEvent] = []
            rows = []
            matched: list[_Match] = []
            for report_id, sid, facts in h.unassigned_clues(tx):
                rule = rules.match(facts)
                if rule is None:
                    results.append(_result(sid, facts.kind, facts.region, None, None, "unmatched"))
                    continue
                ev = h.NewEvent(id=next_id, submission_id=sid, event="assigned", at=now, recorded_at=now,
                                to_unit=rule.unit, report_id=report_id)
                next_id += 1
                events.append(ev)
                rows.append((report_id, sid, rule.unit, now, rule.id, None, ev.id))
                matched.append(_Match(report_id, sid, facts, rule.unit, rule.id, ev.id))
            before = images_of_reports(tx, [m.report_id for m in matched])  # for the entries' obligation images
            h.insert_events(tx, events)
            h.upsert_assignments(tx, rows)
            h.advance_stage_from_events(tx, first_id, "assigned", "assigned")
            # A duty with done_by = "assigned" has no --to, count or distinct-unit
            # condition, so this assignment meets it (cf. rules.deadlines.completed_at).
            met_rules = [r.id for r in loaded.ctx.rules if r.done_by == "assigned"]
            h.meet_on_assignment(tx, first_id, met_rules, at=now, local_day=local_date(now, loaded.ctx.tz))
            new, entries, done = _consequences(matched, loaded, now=now, rules_sha=rules_sha)
            h.insert_obligations(tx, new)
            after = images_of_reports(tx, [m.report_id for m in matched])
            entries = [msgspec.structs.replace(e, details={**e.details, IMAGE_KEY: changed_images(
                before.get(m.report_id, {}), after.get(m.report_id, {}))}) for e, m in zip(entries, matched, strict=True)]
            append_entries(tx, entries)  # one clue.assign entry per clue, in one statement
            results += done
    return _report(results, dry_run=False)


class _Match(NamedTuple):
    report_id: int
    sid: str
    facts: ClueFacts
    unit: str
    rule: str
    event_id: int


def _consequences(
    matched: list[_Match], loaded: c.Loaded, *, now: datetime, rules_sha: str,
) -> tuple[list[h.NewObligation], list[NewEntry], list[AssignResult]]:
    """The obligations that the ``assigned`` trigger starts, the ``clue.assign`` audit
    entries and the results of a bulk assignment."""
    new: list[h.NewObligation] = []
    entries: list[NewEntry] = []
    results: list[AssignResult] = []
    # The duties an assignment starts depend on the facts, not on which clue it is
    # (same trigger time for the whole run), so they are worked out once per distinct
    # facts and unit.
    memo: dict[tuple[object, ...], list[tuple[DeadlineRule, DueDate]]] = {}
    for m in matched:
        f = m.facts
        key = (f.kind, f.region, f.industries, f.targets, f.umbrella, f.organ_types, f.has_contact, f.real_name, m.unit)
        specs = memo.get(key)
        if specs is None:
            specs = memo[key] = ob.specs_for(loaded.ctx, f, "assigned", now, handler=loaded.units[m.unit])
        new += [h.NewObligation(submission_id=m.sid, rule_id=r.id, due=due.due, unknown_years=due.unknown_years,
                                created_at=now, unit=m.unit, trigger_event_id=m.event_id, report_id=m.report_id)
                for r, due in specs]
        entries.append(NewEntry(at=now, actor=c.ACTOR, action="clue.assign", object=f"report:{m.sid}",
                                details={"event_id": m.event_id, "unit": m.unit, "rule": m.rule,
                                         "assignment_rules_sha256": rules_sha}))
        results.append(_result(m.sid, f.kind, f.region, m.unit, m.rule, "assigned",
                               event_id=m.event_id, obligations=len(specs)))
    return new, entries, results


def _result(sid: str, kind: str, region: str, unit: str | None, rule: str | None, status: str, *,
            event_id: int | None = None, obligations: int = 0) -> AssignResult:
    if unit is None:
        status = "unmatched"
    return AssignResult(clue=sid, status=status, unit=unit, rule=rule, kind=kind, region=region,
                        event_id=event_id, obligations=obligations)


def _report(results: list[AssignResult], *, dry_run: bool) -> AssignReport:
    unmatched = sum(1 for r in results if r.status == "unmatched")
    results.sort(key=lambda r: (r.status != "unmatched", r.clue))
    return AssignReport(ok=unmatched == 0, dry_run=dry_run, assigned=len(results) - unmatched,
                        unmatched=unmatched, results=results)


def assign_by_hand(
    home: Home, clue: str, unit: str, *, reason: str, now: datetime, strict_calendar: bool = False,
    wait: float = 10.0,
) -> AssignReport:
    """Assign one clue to ``unit``; reassigning records the previous unit.

    A reassignment cancels the open duties the previous assignment started and starts
    them afresh for the new unit (its receipt of the clue is the new trigger).

    Raises:
        InputError: unknown or ambiguous clue, unknown unit, empty reason, a closed
            clue, or the clue is already with that unit.
        CalendarError: a due date needs an unknown year (with ``strict_calendar``).
    """
    now = c.utc(now)
    if not reason.strip():
        raise InputError("assigning by hand needs a --reason")
    loaded = c.load(home, strict=strict_calendar)
    target = c.require_unit(loaded.units, unit, "UNIT")
    secret = audit_secret(home)
    with open_store(home, wait=wait) as store, store.write() as tx:
        sid = c.resolve(tx, clue)
        c.sync(tx, loaded.units, now=now)
        ob.ensure_rules_current(tx, loaded.ctx, home=home, now=now, actor=c.ACTOR, units=loaded.units)
        record = h.get_clue(tx, sid)
        assert record is not None
        report_id = report_id_of(tx, sid)
        before = images_of_reports(tx, [report_id]).get(report_id, {}) if report_id is not None else {}
        if record.stage == "closed":
            raise InputError(f"cannot assign clue {sid}: it is closed")
        if record.unit == target.id:
            raise InputError(f"clue {sid} is already assigned to {target.id}")
        previous = record.unit
        if previous is not None:
            # The previous holder's receipt no longer counts: its open duties go.
            h.cancel_obligations(tx, [o.id for o in h.open_obligations_of(tx, sid) if o.trigger_event == "assigned"])
        ev = h.NewEvent(id=h.next_event_id(tx), submission_id=sid, event="assigned", at=now, recorded_at=now,
                        unit=previous, to_unit=target.id, note=reason)
        h.insert_events(tx, [ev])
        h.upsert_assignment(tx, sid, target.id, now, rule_id=None, reason=reason, event_id=ev.id)
        h.advance_stage(tx, [sid], "assigned")
        facts = facts_from_json(record.report_json)
        history = [e.fact() for e in h.events_of(tx, sid)]
        _, created = apply_event(tx, loaded.ctx, loaded.units, clue=record, facts=facts, event=ev, history=history,
                                 owner=target.id, now=now)
        append_entry(tx, at=now, actor=c.ACTOR, action="clue.assign", object=f"report:{sid}",
                     details={"event_id": ev.id, "unit": target.id, "previous_unit": previous, "rule": None,
                              "reason_hmac_sha256": keyed_text(secret, reason),
                              IMAGE_KEY: changed_images(before, images_of_reports(tx, [report_id]).get(report_id, {}))
                              if report_id is not None else []})
    result = AssignResult(clue=sid, status="reassigned" if previous else "assigned", unit=target.id,
                          previous_unit=previous, kind=facts.kind, region=facts.region, event_id=ev.id,
                          obligations=len(created))
    return AssignReport(ok=True, dry_run=False, assigned=1, unmatched=0, results=[result])
