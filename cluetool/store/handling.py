"""Handling in the store: units, assignments, events, obligations, the transfer ledger
(DESIGN §7, §8), and the obligation engine that the import and ``cluetool.handling``
share.

Every SQL statement about those tables lives here. Functions take a ``Store`` (autocommit
reads) or a ``Tx``; those that change data take a ``Tx`` and leave the audit entry to the
caller, except the two engine functions below, which write their own entries in the
caller's transaction.

The engine (this module rather than ``cluetool.handling`` because the import, which may
not import ``cluetool.handling``, needs it inside its own transaction):

- ``DeadlineContext`` is what computing a due date needs: the deadline rules, the
  working-day calendar (``rules/calendar.toml`` over chinese-calendar), the platform's
  time zone, and the hash of all of that (``rules_hash``).
- ``materialise_import_obligations`` stores the obligations whose trigger is
  ``received`` or ``imported`` for the reports of one import. Intake is never blocked by
  the calendar: a year it does not know is counted as Mon–Fri and the obligation is
  stored with ``provisional = 1``, to be recomputed once the year is known.
- ``ensure_rules_current`` notices that the rules in force changed (deadline rules,
  calendar overrides, the chinese-calendar data, the time zone) and recomputes every
  open obligation in the caller's transaction, with one ``rules.changed`` audit entry
  holding the old and new hashes. ``met`` and ``met_late`` stay as they were judged.

Where the hash in force is kept: the schema (v1) has no table for settings, so the
audit log is the record (the latest ``rules.changed`` entry) and a one-line file in the
home's ``state/`` dir, ``deadline-rules``, caches ``<seq> <hash>`` of that entry. The
file is written inside the write transaction (under the store's write lock), so it
always names the newest entry any writer made; it is trusted only if the audit entry at
that ``seq`` really is a ``rules.changed`` entry with that hash, so a rolled-back
transaction or a store restored from a backup falls back to scanning the audit log.
"""

from __future__ import annotations

import functools
import hashlib
import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import chinese_calendar
import msgspec

from cluetool.config import Home
from cluetool.errors import CalendarError, InputError, StateError
from cluetool.formats.canonical import dumps as canonical_dumps
from cluetool.model.store import ReportRow
from cluetool.rules.calendar import Period, WorkCalendar, YearOverride, due_date, load_calendar_overrides, local_date
from cluetool.rules.deadlines import DeadlineRule, EventFact, load_deadline_rules
from cluetool.rules.deadlines import rules_hash as _rules_hash
from cluetool.rules.facts import ClueFacts, evaluate
from cluetool.rules.from_report import facts_from_json
from cluetool.rules.units import Unit
from cluetool.store.audit import append_entry, format_time

if TYPE_CHECKING:
    from cluetool.store.db import Store, Tx

    Db = Store | Tx

__all__ = [
    "ClueRecord",
    "DeadlineContext",
    "EventRecord",
    "LedgerRecord",
    "NewEvent",
    "NewObligation",
    "ObligationRecord",
    "OpenObligation",
    "advance_stage",
    "advance_stage_from_events",
    "meet_on_assignment",
    "cancel_obligations",
    "confirm_duplicate",
    "count_obligations",
    "deadline_context",
    "ensure_rules_current",
    "events_of",
    "get_clue",
    "home_timezone",
    "import_deadline_context",
    "insert_events",
    "insert_obligations",
    "ledger_events",
    "mark_met",
    "materialise_import_obligations",
    "next_event_id",
    "open_obligations_of",
    "parse_time",
    "query_obligations",
    "specs_for",
    "sync_units",
    "stored_facts",
    "unassigned_clues",
    "upsert_assignment",
    "upsert_assignments",
]

RULES_ACTION = "rules.changed"
STATE_FILE = "deadline-rules"
ENGINE_ACTOR = "cluetool"

# The public stage only moves forward (DESIGN §10).
_STAGE_RANK = {"received": 0, "assigned": 1, "under_verification": 2, "closed": 3}


@functools.lru_cache(maxsize=4096)
def _fmt(at: datetime) -> str:
    # Bulk writes stamp thousands of rows with the same few instants; strftime is slow.
    return format_time(at)


def parse_time(text: str) -> datetime:
    """A stored RFC 3339 UTC timestamp (``...Z``) as an aware datetime."""
    return datetime.fromisoformat(text)


# =========================================================================== records


class ClueRecord(msgspec.Struct, frozen=True, kw_only=True):
    """A clue as handling sees it: the report's indexed facts plus its current holder."""

    submission_id: str
    kind: str
    stage: str
    received_at: datetime
    imported_at: datetime
    report_json: bytes
    unit: str | None = None
    assigned_at: datetime | None = None


class EventRecord(msgspec.Struct, frozen=True, kw_only=True):
    """One stored handling event."""

    id: int
    submission_id: str
    event: str
    at: datetime
    unit: str | None = None
    to_unit: str | None = None
    channel: str | None = None

    def fact(self) -> EventFact:
        return EventFact(name=self.event, at=self.at, to=self.to_unit, unit=self.unit)


class NewEvent(msgspec.Struct, frozen=True, kw_only=True):
    """An event to insert; ``id`` is allocated by the caller with ``next_event_id``."""

    id: int
    submission_id: str
    event: str
    at: datetime
    recorded_at: datetime
    unit: str | None = None
    to_unit: str | None = None
    channel: str | None = None
    note: str | None = None
    report_id: int | None = None  # as NewObligation.report_id


class NewObligation(msgspec.Struct, frozen=True, kw_only=True):
    """An obligation to store; ``report_id``, when the caller read it with the clue (it
    must be that report's), saves looking it up by ``submission_id``."""

    submission_id: str
    rule_id: str
    due: date
    provisional: bool
    created_at: datetime
    unit: str | None = None
    trigger_event_id: int | None = None
    report_id: int | None = None


class OpenObligation(msgspec.Struct, frozen=True, kw_only=True):
    """A stored open obligation with the instant of its trigger."""

    id: int
    submission_id: str
    rule_id: str
    unit: str | None
    due: date
    provisional: bool
    trigger_event_id: int | None
    trigger_event: str | None
    trigger_at: datetime | None  # the trigger event's time; None for received / imported


class ObligationRecord(msgspec.Struct, frozen=True, kw_only=True):
    """One row of the deadline report; ``state`` is judged as of the query's date."""

    id: int
    clue: str
    rule: str
    unit: str | None
    due: str
    state: str
    provisional: bool
    met_at: str | None = None
    flag: str = ""


class LedgerRecord(msgspec.Struct, frozen=True, kw_only=True):
    """A hand-over of a clue between units (an assignment or a transfer)."""

    event_id: int
    clue: str
    event: str
    at: str
    from_unit: str | None
    to_unit: str | None
    direction: str | None = None


# =========================================================================== units


def sync_units(tx: Tx, units: Mapping[str, Unit], *, now: datetime) -> list[str]:
    """Make the ``units`` table hold ``units`` (from units.toml); the ids added or changed.

    Units no longer in the file stay in the table: events refer to them.
    """
    have = {r[0]: (r[1], r[2], r[3]) for r in tx.execute("SELECT id, name, type, region FROM units")}
    changed = [u for u in units.values() if have.get(u.id) != (u.name, u.type, u.region)]
    if changed:
        at = _fmt(now)
        tx.executemany(
            "INSERT INTO units (id, name, type, region, updated_at) VALUES (?, ?, ?, ?, ?)"
            " ON CONFLICT (id) DO UPDATE SET name = excluded.name, type = excluded.type,"
            " region = excluded.region, updated_at = excluded.updated_at",
            ((u.id, u.name, u.type, u.region, at) for u in changed),
        )
    return [u.id for u in changed]


# =========================================================================== clues


_CLUE_SQL = (
    "SELECT r.submission_id, r.kind, s.stage, r.received_at, r.imported_at, r.report_json,"
    " a.unit, a.assigned_at FROM reports r JOIN report_stages s ON s.report_id = r.id"
    " LEFT JOIN assignments a ON a.report_id = r.id"
)


def get_clue(db: Db, submission_id: str) -> ClueRecord | None:
    """The clue with this (full) submission id, or None."""
    row = db.execute(_CLUE_SQL + " WHERE r.era IN (SELECT era FROM report_eras) AND r.submission_id = ?", (submission_id,)).fetchone()
    if row is None:
        return None
    return ClueRecord(
        submission_id=row[0],
        kind=row[1],
        stage=row[2],
        received_at=parse_time(row[3]),
        imported_at=parse_time(row[4]),
        report_json=bytes(row[5]),
        unit=row[6],
        assigned_at=None if row[7] is None else parse_time(row[7]),
    )


_facts_decoder = msgspec.json.Decoder(ClueFacts)


def stored_facts(submission_id: str, facts: bytes | None, report_json: bytes | None) -> ClueFacts:
    """The clue's facts: as stored at import, else derived from the report's bytes.

    Raises:
        StateError: neither can be read (a damaged store).
    """
    try:
        if facts is not None:
            return _facts_decoder.decode(facts)
        assert report_json is not None
        return facts_from_json(bytes(report_json))
    except (msgspec.DecodeError, msgspec.ValidationError, ValueError):
        raise StateError(f"the facts of report {submission_id} cannot be read: the store is damaged",
                         hint="run: cluetool store check") from None


def unassigned_clues(db: Db) -> Iterator[tuple[int, str, ClueFacts]]:
    """``(report id, submission_id, facts)`` of every clue with no handling unit that is
    not closed, in import order (report id; no sort of the whole backlog), streamed."""
    cur = db.execute(
        "SELECT r.id, r.submission_id, r.facts, CASE WHEN r.facts IS NULL THEN r.report_json END"
        " FROM report_stages s JOIN reports r ON r.id = s.report_id"
        " WHERE s.stage <> 'closed'"
        " AND NOT EXISTS (SELECT 1 FROM assignments a WHERE a.report_id = r.id)"
        " ORDER BY s.report_id"
    )
    cur.arraysize = 2048
    try:
        while rows := cur.fetchmany():
            for report_id, sid, facts, raw in rows:
                yield report_id, sid, stored_facts(sid, facts, raw)
    finally:
        cur.close()


def advance_stage_from_events(tx: Tx, first_event_id: int, event: str, stage: str) -> None:
    """Move forward to ``stage`` every report with an ``event`` event of id >= ``first_event_id``
    (one statement for a bulk run that allocated its event ids from ``first_event_id``)."""
    rank = _STAGE_RANK[stage]
    lower = [s for s, r in _STAGE_RANK.items() if r < rank]
    marks = ",".join("?" * len(lower))
    tx.execute(
        f"UPDATE report_stages SET stage = ? WHERE stage IN ({marks}) AND report_id IN"
        " (SELECT report_id FROM events WHERE id >= ? AND event = ?)",
        (stage, *lower, first_event_id, event),
    )


def meet_on_assignment(tx: Tx, first_event_id: int, rule_ids: Sequence[str], *, at: datetime, local_day: date) -> int:
    """Meet, at ``at``, the open obligations under ``rule_ids`` of every clue whose current
    assignment is an event of id >= ``first_event_id`` (a bulk ``assign`` run); for duties
    with no ``--to``, count or distinct-unit condition (``done_by = "assigned"``). ``met``
    if ``local_day`` is on or before the due date, else ``met_late``. The number met."""
    if not rule_ids:
        return 0
    marks = ",".join("?" * len(rule_ids))
    cur = tx.execute(
        "UPDATE obligations SET state = CASE WHEN due_date >= ? THEN 'met' ELSE 'met_late' END, met_at = ?,"
        " met_event_id = (SELECT a.event_id FROM assignments a WHERE a.report_id = obligations.report_id)"
        f" WHERE state = 'open' AND rule_id IN ({marks}) AND report_id IN"
        " (SELECT report_id FROM assignments WHERE event_id >= ?)",
        (local_day.isoformat(), _fmt(at), *rule_ids, first_event_id),
    )
    return cur.rowcount


def advance_stage(tx: Tx, submission_ids: Iterable[str], stage: str) -> None:
    """Move the public stage of these reports forward to ``stage`` (never backward)."""
    rank = _STAGE_RANK[stage]
    lower = [s for s, r in _STAGE_RANK.items() if r < rank]
    marks = ",".join("?" * len(lower))
    tx.executemany(
        "UPDATE report_stages SET stage = ? WHERE report_id = (SELECT id FROM reports WHERE era IN (SELECT era FROM report_eras) AND submission_id = ?)"
        f" AND stage IN ({marks})",
        ((stage, sid, *lower) for sid in submission_ids),
    )


# =========================================================================== events, assignments


def next_event_id(tx: Tx) -> int:
    """The first free event id (allocate ids in a write transaction only)."""
    row = tx.execute("SELECT max(id) FROM events").fetchone()
    return 1 if row[0] is None else int(row[0]) + 1


def insert_events(tx: Tx, events: Iterable[NewEvent]) -> None:
    tx.executemany(
        "INSERT INTO events (id, report_id, submission_id, event, at, unit, to_unit, channel, note, recorded_at)"
        " VALUES (?1, coalesce(?10, (SELECT id FROM reports WHERE era IN (SELECT era FROM report_eras) AND submission_id = ?2)),"
        " ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        (
            (e.id, e.submission_id, e.event, _fmt(e.at), e.unit, e.to_unit, e.channel, e.note,
             _fmt(e.recorded_at), e.report_id)
            for e in events
        ),
    )


def events_of(db: Db, submission_id: str) -> list[EventRecord]:
    """The clue's events in time order (then id)."""
    rows = db.execute(
        "SELECT id, submission_id, event, at, unit, to_unit, channel FROM events"
        " WHERE report_id = (SELECT id FROM reports WHERE era IN (SELECT era FROM report_eras) AND submission_id = ?) ORDER BY at, id",
        (submission_id,),
    )
    return [
        EventRecord(id=r[0], submission_id=r[1], event=r[2], at=parse_time(r[3]), unit=r[4], to_unit=r[5], channel=r[6])
        for r in rows
    ]


def upsert_assignments(
    tx: Tx, rows: Iterable[tuple[int | None, str, str, datetime, str | None, str | None, int]]
) -> None:
    """``(report_id, submission_id, unit, assigned_at, rule_id, reason, event_id)``: the
    current holder; ``report_id`` None looks it up (else it must be that report's)."""
    tx.executemany(
        "INSERT INTO assignments (report_id, submission_id, unit, assigned_at, rule_id, reason, event_id)"
        " VALUES (coalesce(?1, (SELECT id FROM reports WHERE era IN (SELECT era FROM report_eras) AND submission_id = ?2)), ?2, ?3, ?4, ?5, ?6, ?7)"
        " ON CONFLICT (report_id) DO UPDATE SET unit = excluded.unit,"
        " assigned_at = excluded.assigned_at, rule_id = excluded.rule_id, reason = excluded.reason,"
        " event_id = excluded.event_id",
        ((rid, sid, unit, _fmt(at), rule, reason, eid) for rid, sid, unit, at, rule, reason, eid in rows),
    )


def upsert_assignment(
    tx: Tx, submission_id: str, unit: str, at: datetime, *, rule_id: str | None, reason: str | None, event_id: int
) -> None:
    upsert_assignments(tx, [(None, submission_id, unit, at, rule_id, reason, event_id)])


def confirm_duplicate(tx: Tx, submission_id: str, duplicate_of: str, *, at: datetime) -> bool:
    """Mark the pair as a confirmed duplicate; True if a found link existed (either way
    round), False if the link is new (recorded as found by hand)."""
    when = _fmt(at)
    cur = tx.execute(
        "UPDATE duplicates SET state = 'confirmed', decided_at = ?"
        " WHERE (submission_id = ? AND duplicate_of = ?) OR (submission_id = ? AND duplicate_of = ?)",
        (when, submission_id, duplicate_of, duplicate_of, submission_id),
    )
    if cur.rowcount:
        return True
    tx.execute(
        "INSERT INTO duplicates (submission_id, duplicate_of, reason, state, found_at, decided_at)"
        " VALUES (?, ?, 'recorded by hand', 'confirmed', ?, ?)",
        (submission_id, duplicate_of, when, when),
    )
    return False


# =========================================================================== obligations


def insert_obligations(tx: Tx, rows: Iterable[NewObligation]) -> int:
    """Store new (open) obligations; the number stored."""
    n = 0

    def gen() -> Iterator[tuple[Any, ...]]:
        nonlocal n
        for o in rows:
            n += 1
            yield (o.submission_id, o.rule_id, o.trigger_event_id, o.unit, o.due.isoformat(), int(o.provisional),
                   _fmt(o.created_at), o.report_id)

    tx.executemany(
        "INSERT INTO obligations (report_id, submission_id, rule_id, trigger_event_id, unit, due_date,"
        " provisional, state, created_at) VALUES (coalesce(?8, (SELECT id FROM reports WHERE era IN (SELECT era FROM report_eras) AND submission_id = ?1)),"
        " ?1, ?2, ?3, ?4, ?5, ?6, 'open', ?7)",
        gen(),
    )
    return n


_OPEN_SQL = (
    "SELECT o.id, o.submission_id, o.rule_id, o.unit, o.due_date, o.provisional, o.trigger_event_id,"
    " e.event, e.at FROM obligations o LEFT JOIN events e ON e.id = o.trigger_event_id"
)


def _open(row: tuple[Any, ...]) -> OpenObligation:
    return OpenObligation(
        id=row[0], submission_id=row[1], rule_id=row[2], unit=row[3], due=date.fromisoformat(row[4]),
        provisional=bool(row[5]), trigger_event_id=row[6], trigger_event=row[7],
        trigger_at=None if row[8] is None else parse_time(row[8]),
    )


def open_obligations_of(db: Db, submission_id: str) -> list[OpenObligation]:
    """The clue's open obligations, oldest first."""
    rows = db.execute(
        _OPEN_SQL + " WHERE o.report_id = (SELECT id FROM reports WHERE era IN (SELECT era FROM report_eras) AND submission_id = ?) AND o.state = 'open'"
        " ORDER BY o.id",
        (submission_id,),
    )
    return [_open(r) for r in rows]


def iter_all_open(db: Db) -> Iterator[tuple[OpenObligation, datetime, datetime, bytes]]:
    """Every open obligation with its report's received_at, imported_at and bytes,
    grouped by clue (for recomputation after a rule change)."""
    cur = db.execute(
        _OPEN_SQL.replace(" FROM obligations o", ", r.received_at, r.imported_at, r.report_json FROM obligations o")
        + " JOIN reports r ON r.id = o.report_id WHERE o.state = 'open' ORDER BY o.submission_id, o.id"
    )
    cur.arraysize = 2048
    try:
        while rows := cur.fetchmany():
            for r in rows:
                yield _open(r[:9]), parse_time(r[9]), parse_time(r[10]), bytes(r[11])
    finally:
        cur.close()


def mark_met(tx: Tx, updates: Iterable[tuple[int, str, datetime, int | None]]) -> None:
    """``(obligation id, met | met_late, met_at, met_event_id)`` for open obligations."""
    tx.executemany(
        "UPDATE obligations SET state = ?, met_at = ?, met_event_id = ? WHERE id = ? AND state = 'open'",
        ((state, _fmt(at), eid, oid) for oid, state, at, eid in updates),
    )


def cancel_obligations(tx: Tx, ids: Iterable[int]) -> None:
    """Open obligations that no longer apply (their rule is gone, the clue moved)."""
    tx.executemany("UPDATE obligations SET state = 'cancelled' WHERE id = ? AND state = 'open'", ((i,) for i in ids))


def update_due(tx: Tx, rows: Iterable[tuple[int, date, bool]]) -> None:
    """``(obligation id, due, provisional)`` for open obligations."""
    tx.executemany(
        "UPDATE obligations SET due_date = ?, provisional = ? WHERE id = ? AND state = 'open'",
        ((d.isoformat(), int(p), oid) for oid, d, p in rows),
    )


def _filters(unit: str | None, rule: str | None) -> tuple[str, list[Any]]:
    sql, params = "", []
    if unit is not None:
        sql += " AND unit = ?"
        params.append(unit)
    if rule is not None:
        sql += " AND rule_id = ?"
        params.append(rule)
    return sql, params


def _state_ranges(state: str, as_of: date, soon: date) -> tuple[str, list[Any]]:
    # Stored: open | met | met_late | cancelled. Judged (DESIGN §8): an open obligation
    # is overdue once the as-of date is past its due date, due_soon within --soon days.
    if state == "overdue":
        return "state = 'open' AND due_date < ?", [as_of.isoformat()]
    if state == "due_soon":
        return "state = 'open' AND due_date >= ? AND due_date <= ?", [as_of.isoformat(), soon.isoformat()]
    if state == "open":
        return "state = 'open' AND due_date > ?", [soon.isoformat()]
    if state in ("met", "met_late"):
        return "state = ?", [state]
    raise ValueError(f"unknown obligation state {state!r}")


def query_obligations(
    db: Db, *, as_of: date, soon_days: int, states: Sequence[str], unit: str | None = None, rule: str | None = None
) -> list[ObligationRecord]:
    """Obligations in ``states`` as judged on ``as_of``, by due date (then id)."""
    soon = as_of + timedelta(days=soon_days)
    extra, extra_params = _filters(unit, rule)
    out: list[ObligationRecord] = []
    for state in states:
        where, params = _state_ranges(state, as_of, soon)
        rows = db.execute(
            "SELECT id, submission_id, rule_id, unit, due_date, provisional, met_at FROM obligations"
            f" WHERE {where}{extra} ORDER BY due_date, id",
            (*params, *extra_params),
        )
        out += [
            ObligationRecord(
                id=r[0], clue=r[1], rule=r[2], unit=r[3], due=r[4], state=state, provisional=bool(r[5]),
                met_at=r[6], flag="PROVISIONAL" if r[5] else "",
            )
            for r in rows
        ]
    if len(states) > 1:
        out.sort(key=lambda o: (o.due, o.id))
    return out


def count_obligations(
    db: Db, *, as_of: date, soon_days: int, state: str, unit: str | None = None, rule: str | None = None
) -> int:
    """How many obligations are in ``state`` as judged on ``as_of``."""
    soon = as_of + timedelta(days=soon_days)
    where, params = _state_ranges(state, as_of, soon)
    extra, extra_params = _filters(unit, rule)
    row = db.execute(f"SELECT count(*) FROM obligations WHERE {where}{extra}", (*params, *extra_params)).fetchone()
    return int(row[0])


# =========================================================================== ledger


def ledger_events(
    db: Db, *, unit: str | None, direction: str | None, start: datetime | None, end: datetime | None
) -> list[LedgerRecord]:
    """Assignments and transfers (both ends), optionally of one unit and one direction,
    with ``start <= at < end``, in time order."""
    where = ["event IN ('assigned', 'transferred')"]
    params: list[Any] = []
    if unit is not None:
        if direction == "in":
            where.append("to_unit = ?")
            params.append(unit)
        elif direction == "out":
            where.append("unit = ?")
            params.append(unit)
        else:
            where.append("(unit = ? OR to_unit = ?)")
            params += [unit, unit]
    if start is not None:
        where.append("at >= ?")
        params.append(_fmt(start))
    if end is not None:
        where.append("at < ?")
        params.append(_fmt(end))
    rows = db.execute(
        "SELECT id, submission_id, event, at, unit, to_unit FROM events WHERE "
        + " AND ".join(where)
        + " ORDER BY at, id",
        params,
    )
    out = []
    for r in rows:
        d = None
        if unit is not None:
            d = "in" if r[5] == unit else "out"
        out.append(LedgerRecord(event_id=r[0], clue=r[1], event=r[2], at=r[3], from_unit=r[4], to_unit=r[5], direction=d))
    return out


# =========================================================================== the engine


@dataclass
class DeadlineContext:
    """Deadline rules, working-day calendar and time zone: what a due date needs.

    ``rules_hash`` covers all of them (and chinese-calendar's version and years), so a
    change to any is noticed by ``ensure_rules_current``.
    """

    rules: tuple[DeadlineRule, ...]
    calendar: WorkCalendar
    tz: ZoneInfo
    rules_hash: str
    deadline_rules_sha256: str
    calendar_sha256: str
    state_file: Path
    overrides: Mapping[int, YearOverride] = field(default_factory=dict)
    _due: dict[tuple[date, int, str, bool], tuple[date, bool]] = field(default_factory=dict, repr=False)

    @property
    def by_id(self) -> dict[str, DeadlineRule]:
        return {r.id: r for r in self.rules}

    def assumed(self) -> DeadlineContext:
        """The same context counting unknown years as Mon–Fri (results provisional)."""
        if self.calendar.assume_weekdays:
            return self
        return DeadlineContext(
            rules=self.rules, calendar=WorkCalendar(self.overrides, assume_weekdays=True), tz=self.tz,
            rules_hash=self.rules_hash, deadline_rules_sha256=self.deadline_rules_sha256,
            calendar_sha256=self.calendar_sha256, state_file=self.state_file, overrides=self.overrides,
        )

    def due(self, trigger_at: datetime, period: Period) -> tuple[date, bool]:
        """(due date, provisional) for a duty triggered at ``trigger_at``; memoised per
        local date, since a run computes the same few periods for many clues.

        Raises:
            CalendarError: a needed year is unknown (and weekdays are not assumed).
        """
        start = local_date(trigger_at, self.tz)
        key = (start, period.days, period.unit, self.calendar.assume_weekdays)
        hit = self._due.get(key)
        if hit is None:
            # due_date counts from the trigger's local date; pass that date's local
            # midnight so the memo key and the computation agree.
            d = due_date(self.calendar, datetime.combine(start, datetime.min.time(), self.tz), period, self.tz)
            hit = (d.due, d.provisional)
            self._due[key] = hit
        return hit


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InputError(f'unknown time zone "{name}" in config.toml', hint='use an IANA name such as "Asia/Shanghai"') from None


def home_timezone(home: Home) -> ZoneInfo:
    """The platform's time zone from the home's config.toml.

    Raises:
        InputError: not a known IANA time zone, or a malformed config.
    """
    return _zone(home.config().timezone)


def deadline_context(home: Home, *, assume_weekdays: bool = False) -> DeadlineContext:
    """Load ``rules/deadlines.toml``, ``rules/calendar.toml`` and the time zone of a home.

    Raises:
        InputError: a malformed rule file (file, line and field named) or time zone.
        StateError: a rule file cannot be read.
    """
    rules = tuple(load_deadline_rules(home.rules_dir / "deadlines.toml"))
    overrides = load_calendar_overrides(home.rules_dir / "calendar.toml")
    tz_name = home.config().timezone
    tz = _zone(tz_name)
    d_hash = _rules_hash(rules)
    c_hash = hashlib.sha256(
        canonical_dumps([
            {"year": ov.year, "source": ov.source, "holidays": sorted(d.isoformat() for d in ov.holidays),
             "workdays": sorted(d.isoformat() for d in ov.workdays)}
            for ov in (overrides[y] for y in sorted(overrides))
        ])
    ).hexdigest()
    cc = WorkCalendar()
    years = sorted(cc.known_years)
    whole = hashlib.sha256(
        canonical_dumps(
            {
                "deadlines": d_hash,
                "calendar": c_hash,
                "chinese_calendar": [getattr(chinese_calendar, "__version__", "?"), years[0], years[-1]],
                "timezone": tz_name,
            }
        )
    ).hexdigest()
    return DeadlineContext(
        rules=rules, calendar=WorkCalendar(overrides, assume_weekdays=assume_weekdays), tz=tz, rules_hash=whole,
        deadline_rules_sha256=d_hash, calendar_sha256=c_hash, state_file=home.state_dir / STATE_FILE,
        overrides=overrides,
    )


def specs_for(
    ctx: DeadlineContext,
    facts: ClueFacts,
    trigger: str,
    trigger_at: datetime,
    *,
    handler: Unit | None = None,
) -> list[tuple[DeadlineRule, date, bool]]:
    """``(rule, due, provisional)`` of every duty ``trigger`` creates for the clue.

    The same selection as ``cluetool.rules.deadlines.obligations_for`` (the rule's
    trigger, its predicate, and no ``done_to`` duty owed to the handler's own type),
    with due dates memoised in the context.

    Raises:
        CalendarError: a needed year is unknown (and weekdays are not assumed).
    """
    out = []
    for rule in ctx.rules:
        if rule.when != trigger or not evaluate(rule.applies, facts):
            continue
        if handler is not None and rule.done_to is not None and handler.type == rule.done_to:
            continue
        due, provisional = ctx.due(trigger_at, rule.within)
        out.append((rule, due, provisional))
    return out


def judge_met(due: date, met_at: datetime, tz: ZoneInfo) -> str:
    """``met`` if met on or before the due date (local), else ``met_late``."""
    return "met" if local_date(met_at, tz) <= due else "met_late"


def import_deadline_context(tx: Tx, *, home: Home, imported_at: datetime) -> DeadlineContext:
    """The context an import's obligations are computed with (unknown years counted as
    Mon–Fri, stored provisional), after bringing the store up to the rules in force
    (``ensure_rules_current``, which may write ``rules.changed`` in ``tx``).

    Raises:
        InputError: a malformed rule file (the import then stores nothing).
    """
    ctx = deadline_context(home, assume_weekdays=True)
    ensure_rules_current(tx, ctx, home=home, now=imported_at)
    return ctx


def materialise_import_obligations(
    tx: Tx, rows: Sequence[ReportRow], *, home: Home, imported_at: datetime, facts: Sequence[ClueFacts] | None = None,
    report_ids: Sequence[int] | None = None, ctx: DeadlineContext | None = None,
) -> int:
    """Store the ``received`` / ``imported`` obligations of freshly imported reports, in
    the import's transaction; the number stored.

    Never blocked by the calendar: unknown years are counted as Mon–Fri and the
    obligation is stored provisional. Also brings the store up to the rules in force
    (``ensure_rules_current``) first, so that old and new obligations agree.

    ``facts`` (one per row) saves decoding the reports again when the caller has them;
    ``report_ids`` (one per row, as ``insert_reports`` returned them) saves looking
    each report up by its submission id. ``ctx`` from ``import_deadline_context``
    lets an import store its obligations chunk by chunk with one context.

    Raises:
        InputError: a malformed rule file (the import then stores nothing).
    """
    if ctx is None:
        ctx = import_deadline_context(tx, home=home, imported_at=imported_at)
    if not any(r.when in ("received", "imported") for r in ctx.rules):
        return 0
    new: list[NewObligation] = []
    if facts is None:
        facts = [facts_from_json(row.report_json) for row in rows]
    ids: Sequence[int | None] = [None] * len(rows) if report_ids is None else report_ids
    for row, fact, report_id in zip(rows, facts, ids, strict=True):
        for trigger, at in (("received", row.received_at), ("imported", imported_at)):
            for rule, due, provisional in specs_for(ctx, fact, trigger, at):
                new.append(NewObligation(submission_id=row.submission_id, rule_id=rule.id, due=due,
                                         provisional=provisional, created_at=imported_at, report_id=report_id))
    return insert_obligations(tx, new)


# -- the rules in force ------------------------------------------------------------------


def _read_state(path: Path) -> tuple[int, str] | None:
    try:
        text = path.read_text(encoding="ascii").split()
        return int(text[0]), text[1]
    except (OSError, ValueError, IndexError, UnicodeDecodeError):
        return None


def _write_state(path: Path, seq: int, digest: str) -> None:
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as f:
        f.write(f"{seq} {digest}\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def _rules_entry(raw: bytes) -> str | None:
    """The ``new`` hash of a ``rules.changed`` entry, or None for any other entry."""
    try:
        doc = msgspec.json.decode(raw)
    except msgspec.DecodeError:
        return None
    if not isinstance(doc, dict) or doc.get("action") != RULES_ACTION:
        return None
    new = (doc.get("details") or {}).get("new")
    return new if isinstance(new, str) else None


_ENTRY_PREFIX = b'{"action":"' + RULES_ACTION.encode() + b'"'


def recorded_rules_hash(db: Db, state_file: Path) -> str | None:
    """The hash of the rules the store's obligations were last computed under (None
    before the first ``rules.changed`` entry). See the module docstring."""
    cached = _read_state(state_file)
    if cached is not None:
        row = db.execute("SELECT entry FROM audit_log WHERE seq = ?", (cached[0],)).fetchone()
        if row is not None and _rules_entry(bytes(row[0])) == cached[1]:
            # The cache names the newest rules entry any writer made (it is written under
            # the write lock), and this store holds that entry: it is the one in force.
            return cached[1]
    # Canonical JSON sorts keys, so every rules entry starts with the same bytes.
    row = db.execute(
        "SELECT entry FROM audit_log WHERE substr(entry, 1, ?) = ? ORDER BY seq DESC LIMIT 1",
        (len(_ENTRY_PREFIX), _ENTRY_PREFIX),
    ).fetchone()
    return None if row is None else _rules_entry(bytes(row[0]))


def rules_current(db: Db, ctx: DeadlineContext) -> bool:
    """True if the store's obligations were computed under ``ctx``'s rules."""
    return recorded_rules_hash(db, ctx.state_file) == ctx.rules_hash


def ensure_rules_current(
    tx: Tx, ctx: DeadlineContext, *, home: Home, now: datetime, actor: str = ENGINE_ACTOR,
    units: Mapping[str, Unit] | None = None,
) -> int | None:
    """Recompute open obligations if the rules in force changed; None if they did not,
    else the number of obligations touched. Writes ``rules.changed`` (old and new hashes)
    in ``tx``.

    Per open obligation: its rule gone, its trigger no longer the rule's, its predicate
    no longer true, or a ``done_to`` duty now owed to its own holder's type: cancelled.
    Otherwise the due date is counted again from the same trigger. A year the calendar
    does not know raises unless ``ctx`` assumes weekdays or the obligation was already
    provisional (then it stays provisional).

    Raises:
        CalendarError: see above (the transaction then rolls back).
        InputError: units.toml is malformed (only read when a rule has ``done_to``).
    """
    old = recorded_rules_hash(tx, ctx.state_file)
    if old == ctx.rules_hash:
        return None
    touched = 0
    cancelled = 0
    if old is not None:
        if units is None and any(r.done_to is not None for r in ctx.rules):
            from cluetool.rules.units import load_units

            units = load_units(home.rules_dir / "units.toml")
        touched, cancelled = _recompute_open(tx, ctx, units or {})
    entry = append_entry(
        tx, at=now, actor=actor, action=RULES_ACTION, object="rules:deadlines",
        details={
            "old": old, "new": ctx.rules_hash, "deadline_rules_sha256": ctx.deadline_rules_sha256,
            "calendar_sha256": ctx.calendar_sha256, "recomputed": touched, "cancelled": cancelled,
        },
    )
    _write_state(ctx.state_file, entry.seq, ctx.rules_hash)
    return touched


def _recompute_open(tx: Tx, ctx: DeadlineContext, units: Mapping[str, Unit]) -> tuple[int, int]:
    by_id = ctx.by_id
    assumed = ctx.assumed()
    cancel: list[int] = []
    updates: list[tuple[int, date, bool]] = []
    facts_cache: tuple[str, ClueFacts] | None = None
    for ob, received_at, imported_at, raw in list(iter_all_open(tx)):
        rule = by_id.get(ob.rule_id)
        if rule is None:
            cancel.append(ob.id)
            continue
        if rule.when == "received":
            at: datetime | None = received_at
        elif rule.when == "imported":
            at = imported_at
        else:
            at = ob.trigger_at if ob.trigger_event == rule.when else None
        if at is None:
            cancel.append(ob.id)
            continue
        if facts_cache is None or facts_cache[0] != ob.submission_id:
            facts_cache = (ob.submission_id, facts_from_json(raw))
        if not evaluate(rule.applies, facts_cache[1]):
            cancel.append(ob.id)
            continue
        holder = units.get(ob.unit) if ob.unit else None
        if holder is not None and rule.done_to is not None and holder.type == rule.done_to:
            cancel.append(ob.id)
            continue
        try:
            due, provisional = ctx.due(at, rule.within)
        except CalendarError:
            if not ob.provisional:
                raise
            due, provisional = assumed.due(at, rule.within)
        if (due, provisional) != (ob.due, ob.provisional):
            updates.append((ob.id, due, provisional))
    cancel_obligations(tx, cancel)
    update_due(tx, updates)
    return len(updates) + len(cancel), len(cancel)

