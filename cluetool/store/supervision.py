"""The store's side of supervision (issue 23): the callback sample's eligible set, the
draws, and the aggregations behind ``stats``.

Plain SQL (no SQLite functions beyond ``substr``, ``count``, ``min``, ``CASE``), each
query served by an index of schema version 7 (``cluetool/store/migrations.py``), so that
the same statements run on another backend (the obligation counts, in
``cluetool.store.obligation_stats``, also have SQLite-only statements, chosen for
speed, that give the same answers). Times are the stored RFC 3339 UTC strings,
compared as strings; local months and dates are turned into UTC bounds by the caller.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import msgspec

from cluetool.errors import StateError
from cluetool.model.store import ReportRow
from cluetool.store.audit_entries import format_time
from cluetool.store.handling import stored_facts
from cluetool.store.obligation_stats import obligation_states, overdue_rows

if TYPE_CHECKING:
    from cluetool.store.db import Store, Tx

    Db = Store | Tx

__all__ = [
    "DrawRow",
    "not_contacted_rows",
    "callback_eligible",
    "code_counts",
    "drawn_clues",
    "draws_of_month",
    "insert_draw",
    "insert_report_codes",
    "month_counts",
    "obligation_states",
    "overdue_rows",
    "received_span",
    "unassigned_rows",
]


class DrawRow(msgspec.Struct, frozen=True, kw_only=True):
    """A stored callback draw: its month, when, the audit entry that records it, and the
    canonical JSON of the draw file."""

    id: int
    month: str
    drawn_at: str
    audit_seq: int
    draw: bytes


class _Codes(msgspec.Struct):
    industries: list[str] = []
    targets: list[str] = []


_codes_decoder = msgspec.json.Decoder(_Codes)


def insert_report_codes(tx: Tx, ids: Sequence[int], reports: Sequence[ReportRow]) -> None:
    """Store the crime-target and industry codes of newly inserted reports (the same
    facts the rules see), with their receipt times copied, for ``stats``."""
    rows: list[tuple[int, str, str, str]] = []
    for rid, r in zip(ids, reports, strict=True):
        if r.facts is not None:
            codes = _codes_decoder.decode(r.facts)
            targets, industries = codes.targets, codes.industries
        else:  # rows built without facts (tests, tools): derived if the bytes allow
            try:
                facts = stored_facts(r.submission_id, None, r.report_json)
            except StateError:
                continue
            targets, industries = list(facts.targets), list(facts.industries)
        if not targets and not industries:
            continue
        at = _utc_text(r)
        rows += [(rid, "target", code, at) for code in dict.fromkeys(targets)]
        rows += [(rid, "industry", code, at) for code in dict.fromkeys(industries)]
    tx.executemany("INSERT INTO report_codes (report_id, dim, code, received_at) VALUES (?, ?, ?, ?)", rows)


def _utc_text(r: ReportRow) -> str:
    return format_time(r.received_at)


# -- the callback sample -------------------------------------------------------------------


def callback_eligible(db: Db, start: str, end: str) -> list[str]:
    """Submission ids of the reports received in ``[start, end)`` (UTC text) whose
    reporter left a real name or a contact, from the partial index ``reports_callback``."""
    cur = db.execute(
        "SELECT submission_id FROM reports"
        " WHERE received_at >= ? AND received_at < ? AND (real_name = 1 OR reporter_has_contact = 1)",
        (start, end),
    )
    return [row[0] for row in cur.fetchall()]


def drawn_clues(db: Db, submission_ids: Sequence[str]) -> dict[str, tuple[str | None, bytes]]:
    """``submission_id -> (current unit, report bytes)`` of the drawn clues (a few)."""
    out: dict[str, tuple[str | None, bytes]] = {}
    for sid in submission_ids:
        row = db.execute(
            "SELECT a.unit, r.report_json FROM reports r LEFT JOIN assignments a ON a.report_id = r.id"
            " WHERE r.submission_id = ?",
            (sid,),
        ).fetchone()
        if row is not None:
            out[sid] = (row[0], bytes(row[1]))
    return out


def draws_of_month(db: Db, month: str) -> list[DrawRow]:
    """The stored draws of ``month`` (``YYYY-MM``), oldest first."""
    cur = db.execute(
        "SELECT id, month, drawn_at, audit_seq, draw FROM sample_draws WHERE month = ? ORDER BY id", (month,)
    )
    return [DrawRow(id=r[0], month=r[1], drawn_at=r[2], audit_seq=r[3], draw=bytes(r[4])) for r in cur.fetchall()]


def insert_draw(tx: Tx, *, month: str, drawn_at: str, audit_seq: int, draw: bytes) -> int:
    """Store a draw (in the transaction of its audit entry); returns its id."""
    cur = tx.execute(
        "INSERT INTO sample_draws (month, drawn_at, audit_seq, draw) VALUES (?, ?, ?, ?)",
        (month, drawn_at, audit_seq, draw),
    )
    return int(cur.lastrowid or 0)


# -- statistics ----------------------------------------------------------------------------


def received_span(db: Db, before: str) -> tuple[str, str] | None:
    """The first and last receipt time (UTC text) of the reports received before ``before``."""
    # Two subqueries: each is one probe of ``reports_received`` (one min() and one max()
    # in the same SELECT would read the whole range).
    row = db.execute("SELECT (SELECT min(received_at) FROM reports WHERE received_at < ?1),"
                     " (SELECT max(received_at) FROM reports WHERE received_at < ?1)", (before,)).fetchone()
    return None if row is None or row[0] is None else (row[0], row[1])


_PROVINCE = "substr(coalesce({t}region, ''), 1, 2)"


def _months_values(months: Sequence[tuple[str, str, str]]) -> tuple[str, list[Any]]:
    # A VALUES list of (month, lo, hi): standard SQL, and each month one index range.
    values = ", ".join("(?, ?, ?)" for _ in months)
    return f"months (m, lo, hi) AS (VALUES {values})", [x for m in months for x in m]


def _range_counts(db: Db, months: Sequence[tuple[str, str, str]], *, table: str, first: str,
                  second: str) -> list[tuple[str, str, str, int]]:
    """``(month, first, second, count)`` of the rows of ``table`` received in each month,
    for each ``(first, second)`` pair present, with zero counts left out.

    The pairs are found by a loose index scan (a recursive CTE that asks the index for
    the next value: one probe per pair, not a pass over the rows), and each (pair,
    month) is counted as one range of an index on ``(first, second, received_at)``
    (schema version 8): no row is sorted, none outside the months is read."""
    if not months:
        return []
    cte, params = _months_values(months)
    two = second.replace("{t}", "x.")
    cur = db.execute(
        f"WITH RECURSIVE {cte},"
        f" f1 (a) AS (SELECT min({first}) FROM {table}"
        f"  UNION ALL SELECT (SELECT min(x.{first}) FROM {table} x WHERE x.{first} > f1.a) FROM f1 WHERE f1.a IS NOT NULL),"
        f" f2 (a, b) AS (SELECT f1.a, (SELECT min({two}) FROM {table} x WHERE x.{first} = f1.a) FROM f1"
        "   WHERE f1.a IS NOT NULL"
        f"  UNION ALL SELECT f2.a, (SELECT min({two}) FROM {table} x WHERE x.{first} = f2.a AND {two} > f2.b)"
        "   FROM f2 WHERE f2.b IS NOT NULL)"
        f" SELECT months.m, f2.a, f2.b, (SELECT count(*) FROM {table} x WHERE x.{first} = f2.a AND {two} = f2.b"
        "   AND x.received_at >= months.lo AND x.received_at < months.hi)"
        " FROM f2, months WHERE f2.b IS NOT NULL",
        params,
    )
    return [(r[0], r[1], r[2], int(r[3])) for r in cur.fetchall() if r[3]]


def month_counts(db: Db, months: Sequence[tuple[str, str, str]]) -> list[tuple[str, str, str, int]]:
    """``(month, kind, region prefix of 2 digits, count)`` of the reports received in
    each month ``(label, lo, hi)`` (UTC bounds), from the index ``reports_kind_province``."""
    return _range_counts(db, months, table="reports", first="kind", second=_PROVINCE)


def code_counts(db: Db, months: Sequence[tuple[str, str, str]]) -> list[tuple[str, str, str, int]]:
    """``(month, dim, code, count)``: reports per crime target and per industry, from the
    index ``report_codes_code``."""
    return _range_counts(db, months, table="report_codes", first="dim", second="{t}code")


def _had(event: str) -> str:
    # One probe of ``events_report_event`` (schema version 8), no event row read.
    return (f"EXISTS (SELECT 1 FROM events e WHERE e.report_id = r.id AND e.event = '{event}'"
            " AND e.at < ?1)")


def _not_had(alias: str, event: str) -> str:
    # An anti-join: with ``WHERE alias.report_id IS NULL``, the reports without such an
    # event, one probe of ``events_report_event`` each. SQLite runs it inline, cheaper
    # than a NOT EXISTS subquery; PostgreSQL plans it as the anti-join it is.
    return (f" LEFT JOIN events {alias} ON {alias}.report_id = r.id AND {alias}.event = '{event}'"
            f" AND {alias}.at < ?1")


_PROVINCE_R = "substr(coalesce(r.region, ''), 1, 2)"


def unassigned_rows(db: Db, *, cutoff: str, lo: str, hi: str) -> list[tuple[str, int]]:
    """``(region prefix, count)`` of the clues received in ``[lo, hi)`` (UTC text,
    ``hi`` at most ``cutoff``) with neither an assigned nor a closed event before
    ``cutoff``: a range of the index ``reports_received`` with an anti-join probe of
    ``events_report_event`` per report (and a second for the few unassigned).

    The backlog's ``unassigned``; the caller cuts the receipt times into ranges (each
    within one age bucket), which two connections may count at once."""
    cur = db.execute(
        f"SELECT {_PROVINCE_R}, count(*) FROM reports r{_not_had('a', 'assigned')}{_not_had('c', 'closed')}"
        " WHERE r.received_at >= ?2 AND r.received_at < ?3 AND a.report_id IS NULL AND c.report_id IS NULL"
        " GROUP BY 1",
        (cutoff, lo, hi),
    )
    return [(row[0], int(row[1])) for row in cur.fetchall()]


def not_contacted_rows(db: Db, *, cutoff: str, lo: str, hi: str) -> list[tuple[str | None, str, int]]:
    """``(current unit, region prefix, count)`` of the clues received in ``[lo, hi)``
    whose reporter left a contact, assigned but neither contacted nor closed before
    ``cutoff``: a range of ``reports_received`` with one probe of ``events_report_event``
    per test. The backlog's ``assigned_not_contacted`` (the unit is the current holder)."""
    # ``reporter_has_contact <> 0`` (the column is 0 or 1) rather than ``= 1``: the latter
    # would let the planner read report rows through the partial index ``reports_callback``.
    cur = db.execute(
        f"SELECT s.unit, {_PROVINCE_R}, count(*) FROM reports r{_not_had('t', 'contacted')}{_not_had('c', 'closed')}"
        " LEFT JOIN assignments s ON s.report_id = r.id"
        " WHERE r.received_at >= ?2 AND r.received_at < ?3 AND r.reporter_has_contact <> 0"
        f" AND t.report_id IS NULL AND c.report_id IS NULL AND {_had('assigned')} GROUP BY 1, 2",
        (cutoff, lo, hi),
    )
    return [(row[0], row[1], int(row[2])) for row in cur.fetchall()]
