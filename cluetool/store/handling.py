"""Handling in the store: units, assignments, events, obligations, the transfer ledger
(cluetool/store/migrations.py, cluetool/data/rules/), and the obligation engine that the import and ``cluetool.handling``
share.

Every SQL statement about those tables lives here. Functions take a ``Store`` (autocommit
reads) or a ``Tx``; those that change data take a ``Tx`` and leave the audit entry to the
caller, except the two engine functions below, which write their own entries in the
caller's transaction.

The deadline engine that computes obligations lives in ``cluetool.handling.obligations``;
this module only stores and reads their rows.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

import msgspec

from cluetool.errors import StateError
from cluetool.rules.deadlines import EventFact
from cluetool.rules.facts import ClueFacts
from cluetool.rules.from_report import facts_from_json
from cluetool.rules.units import Unit
from cluetool.store.audit_entries import format_time

if TYPE_CHECKING:
    from cluetool.store.db import Store, Tx

    Db = Store | Tx

__all__ = [
    "ClueRecord",
    "DueChange",
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
    "events_of",
    "get_clue",
    "insert_events",
    "insert_obligations",
    "iter_recomputable",
    "latest_entry_with_prefix",
    "ledger_events",
    "mark_met",
    "next_event_id",
    "open_obligations_of",
    "parse_time",
    "provisional_years",
    "query_obligations",
    "sync_units",
    "stored_facts",
    "unassigned_clues",
    "upsert_assignment",
    "upsert_assignments",
]

# The public stage only moves forward (cluetool/model/querycode.py).
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
    must be that report's), saves looking it up by ``submission_id``. A due date counted
    across a year no calendar source knows names those years in ``unknown_years`` (it
    is then provisional)."""

    submission_id: str
    rule_id: str
    due: date
    created_at: datetime
    unknown_years: tuple[int, ...] = ()
    unit: str | None = None
    trigger_event_id: int | None = None
    report_id: int | None = None


class OpenObligation(msgspec.Struct, frozen=True, kw_only=True):
    """A stored obligation (open, or met while provisional) with the instant of its trigger."""

    id: int
    submission_id: str
    rule_id: str
    unit: str | None
    due: date
    provisional: bool
    trigger_event_id: int | None
    trigger_event: str | None
    trigger_at: datetime | None  # the trigger event's time; None for received / imported
    unknown_years: tuple[int, ...] = ()
    state: str = "open"


class DueChange(msgspec.Struct, frozen=True, kw_only=True):
    """A recomputed due date: the obligation, its old and new due date, and the years
    the new one still depends on (empty: firm)."""

    id: int
    old_due: date
    due: date
    unknown_years: tuple[int, ...] = ()


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
    unknown_years: list[int] = msgspec.field(default_factory=list)

    def cell(self, column: str, value: Any) -> Any:
        """The table shows a provisional due date with the years it waits for."""
        if column == "due" and self.unknown_years:
            return f"{value} (provisional: {', '.join(map(str, self.unknown_years))} schedule unknown)"
        return value


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
    row = db.execute(_CLUE_SQL + " WHERE r.submission_id = ?", (submission_id,)).fetchone()
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
        "UPDATE report_stages SET stage = ? WHERE report_id = (SELECT id FROM reports WHERE submission_id = ?)"
        f" AND stage IN ({marks})",
        ((stage, sid, *lower) for sid in submission_ids),
    )


# =========================================================================== events, assignments


def next_event_id(tx: Tx) -> int:
    """The first free event id (allocate ids in a write transaction only). On
    PostgreSQL the ids are numbered under the audit lock, which the transaction takes
    for its audit entries anyway (one lock, so no lock-order deadlock)."""
    tx.lock("audit")
    row = tx.execute("SELECT max(id) FROM events").fetchone()
    return 1 if row[0] is None else int(row[0]) + 1


def insert_events(tx: Tx, events: Iterable[NewEvent]) -> None:
    tx.executemany(
        "INSERT INTO events (id, report_id, submission_id, event, at, unit, to_unit, channel, note, recorded_at)"
        " VALUES (?1, coalesce(?10, (SELECT id FROM reports WHERE submission_id = ?2)),"
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
        " WHERE report_id = (SELECT id FROM reports WHERE submission_id = ?) ORDER BY at, id",
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
        " VALUES (coalesce(?1, (SELECT id FROM reports WHERE submission_id = ?2)), ?2, ?3, ?4, ?5, ?6, ?7)"
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
            yield (o.submission_id, o.rule_id, o.trigger_event_id, o.unit, o.due.isoformat(), int(bool(o.unknown_years)),
                   _fmt(o.created_at), o.report_id, years_text(o.unknown_years) if o.unknown_years else "")

    tx.executemany(
        "INSERT INTO obligations (report_id, submission_id, rule_id, trigger_event_id, unit, due_date,"
        " provisional, state, created_at, unknown_years) VALUES (coalesce(?8, (SELECT id FROM reports WHERE submission_id = ?1)),"
        " ?1, ?2, ?3, ?4, ?5, ?6, 'open', ?7, ?9)",
        gen(),
    )
    return n


def years_text(years: Iterable[int]) -> str:
    """How ``unknown_years`` is stored: ``"2027"``, ``"2027,2028"``; ``""`` when firm."""
    return ",".join(str(y) for y in sorted(years))


def years_of(text: str | None) -> tuple[int, ...]:
    return tuple(int(y) for y in text.split(",")) if text else ()


_OPEN_SQL = (
    "SELECT o.id, o.submission_id, o.rule_id, o.unit, o.due_date, o.provisional, o.trigger_event_id,"
    " e.event, e.at, o.unknown_years, o.state FROM obligations o LEFT JOIN events e ON e.id = o.trigger_event_id"
)


def _open(row: tuple[Any, ...]) -> OpenObligation:
    return OpenObligation(
        id=row[0], submission_id=row[1], rule_id=row[2], unit=row[3], due=date.fromisoformat(row[4]),
        provisional=bool(row[5]), trigger_event_id=row[6], trigger_event=row[7],
        trigger_at=None if row[8] is None else parse_time(row[8]), unknown_years=years_of(row[9]), state=row[10],
    )


def open_obligations_of(db: Db, submission_id: str) -> list[OpenObligation]:
    """The clue's open obligations, oldest first."""
    rows = db.execute(
        _OPEN_SQL + " WHERE o.report_id = (SELECT id FROM reports WHERE submission_id = ?) AND o.state = 'open'"
        " ORDER BY o.id",
        (submission_id,),
    )
    return [_open(r) for r in rows]


def iter_recomputable(db: Db) -> Iterator[tuple[OpenObligation, datetime, datetime, bytes]]:
    """Every open obligation, and every provisional one already met, with its report's
    received_at, imported_at and bytes, grouped by clue (for recomputation after a rule
    or calendar change)."""
    cur = db.execute(
        _OPEN_SQL.replace(" FROM obligations o", ", r.received_at, r.imported_at, r.report_json FROM obligations o")
        + " JOIN reports r ON r.id = o.report_id WHERE o.state = 'open'"
        " OR (o.provisional = 1 AND o.state IN ('met', 'met_late')) ORDER BY o.submission_id, o.id"
    )
    cur.arraysize = 2048
    try:
        while rows := cur.fetchmany():
            for r in rows:
                yield _open(r[:11]), parse_time(r[11]), parse_time(r[12]), bytes(r[13])
    finally:
        cur.close()


def latest_entry_with_prefix(db: Db, prefix: bytes) -> bytes | None:
    """The newest audit entry whose canonical bytes start with ``prefix``."""
    row = db.execute(
        "SELECT entry FROM audit_log WHERE substr(entry, 1, ?) = ? ORDER BY seq DESC LIMIT 1", (len(prefix), prefix)
    ).fetchone()
    return None if row is None else bytes(row[0])


def provisional_years(db: Db) -> list[int]:
    """The unknown years that unmet provisional obligations wait for."""
    years: set[int] = set()
    for (text,) in db.execute("SELECT DISTINCT unknown_years FROM obligations WHERE state = 'open' AND provisional = 1"):
        years.update(years_of(text))
    return sorted(years)


def mark_met(tx: Tx, updates: Iterable[tuple[int, str, datetime, int | None]]) -> None:
    """``(obligation id, met | met_late, met_at, met_event_id)`` for open obligations."""
    tx.executemany(
        "UPDATE obligations SET state = ?, met_at = ?, met_event_id = ? WHERE id = ? AND state = 'open'",
        ((state, _fmt(at), eid, oid) for oid, state, at, eid in updates),
    )


def cancel_obligations(tx: Tx, ids: Iterable[int]) -> None:
    """Open obligations that no longer apply (their rule is gone, the clue moved)."""
    tx.executemany("UPDATE obligations SET state = 'cancelled' WHERE id = ? AND state = 'open'", ((i,) for i in ids))


def update_due(tx: Tx, changes: Iterable[DueChange]) -> None:
    """Recomputed due dates of open obligations and of provisional ones already met (the
    state, ``met`` or ``met_late``, is never changed here)."""
    tx.executemany(
        "UPDATE obligations SET due_date = ?, provisional = ?, unknown_years = ? WHERE id = ?"
        " AND (state = 'open' OR (provisional = 1 AND state IN ('met', 'met_late')))",
        ((c.due.isoformat(), int(bool(c.unknown_years)), years_text(c.unknown_years), c.id) for c in changes),
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
    # Stored: open | met | met_late | cancelled. Judged (cluetool/data/rules/): an open obligation
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
            "SELECT id, submission_id, rule_id, unit, due_date, provisional, met_at, unknown_years FROM obligations"
            f" WHERE {where}{extra} ORDER BY due_date, id",
            (*params, *extra_params),
        )
        out += [
            ObligationRecord(
                id=r[0], clue=r[1], rule=r[2], unit=r[3], due=r[4], state=state, provisional=bool(r[5]),
                met_at=r[6], flag="PROVISIONAL" if r[5] else "", unknown_years=list(years_of(r[7])),
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
