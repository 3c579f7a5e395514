"""The store's side of supervision (issue 23): the callback sample's eligible set, the
draws, and the aggregations behind ``stats``.

Plain SQL (no SQLite functions beyond ``substr``, ``count``, ``min``, ``CASE``), each
query served by an index of schema version 7 (``cluetool/store/migrations.py``), so that
the same statements run on another backend. Times are the stored RFC 3339 UTC strings,
compared as strings; local months and dates are turned into UTC bounds by the caller.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

import msgspec

from cluetool.errors import StateError
from cluetool.model.store import ReportRow
from cluetool.store.audit_entries import format_time
from cluetool.store.handling import stored_facts

if TYPE_CHECKING:
    from cluetool.store.db import Store, Tx

    Db = Store | Tx

__all__ = [
    "DrawRow",
    "backlog_rows",
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
    row = db.execute("SELECT min(received_at), max(received_at) FROM reports WHERE received_at < ?",
                     (before,)).fetchone()
    return None if row is None or row[0] is None else (row[0], row[1])


def _months_cte(months: Sequence[tuple[str, str, str]]) -> tuple[str, list[Any]]:
    # A VALUES list of (month, lo, hi): standard SQL, and each month one index range.
    values = ", ".join("(?, ?, ?)" for _ in months)
    return f"WITH months (m, lo, hi) AS (VALUES {values})", [x for m in months for x in m]


def month_counts(db: Db, months: Sequence[tuple[str, str, str]]) -> list[tuple[str, str, str, int]]:
    """``(month, kind, region prefix of 2 digits, count)`` of the reports received in
    each month ``(label, lo, hi)`` (UTC bounds), from the index ``reports_received``."""
    if not months:
        return []
    cte, params = _months_cte(months)
    cur = db.execute(
        f"{cte} SELECT months.m, r.kind, substr(coalesce(r.region, ''), 1, 2), count(*)"
        " FROM months JOIN reports r ON r.received_at >= months.lo AND r.received_at < months.hi"
        " GROUP BY months.m, r.kind, substr(coalesce(r.region, ''), 1, 2)",
        params,
    )
    return [(r[0], r[1], r[2], int(r[3])) for r in cur.fetchall()]


def code_counts(db: Db, months: Sequence[tuple[str, str, str]]) -> list[tuple[str, str, str, int]]:
    """``(month, dim, code, count)``: reports per crime target and per industry."""
    if not months:
        return []
    cte, params = _months_cte(months)
    cur = db.execute(
        f"{cte} SELECT months.m, c.dim, c.code, count(*)"
        " FROM months JOIN report_codes c ON c.received_at >= months.lo AND c.received_at < months.hi"
        " GROUP BY months.m, c.dim, c.code",
        params,
    )
    return [(r[0], r[1], r[2], int(r[3])) for r in cur.fetchall()]


def backlog_rows(db: Db, *, cutoff: str, buckets: Sequence[str]) -> Iterator[tuple[str, str | None, str, int, int]]:
    """``(category, unit, region prefix, bucket index, count)`` of the open clues as of
    ``cutoff`` (UTC text, exclusive): ``unassigned`` (no assigned event before it) and
    ``assigned_not_contacted`` (assigned, the reporter left a contact, not contacted);
    closed clues are not backlog. ``buckets`` are the receipt-time lower bounds (UTC
    text, newest first) of the age buckets; bucket ``len(buckets)`` is the oldest.

    The unit is the clue's current holder.
    """
    case = " ".join(f"WHEN r.received_at >= ? THEN {i}" for i in range(len(buckets)))
    cur = db.execute(
        "WITH ev AS ("
        "  SELECT report_id,"
        "    max(CASE WHEN event = 'assigned' THEN 1 ELSE 0 END) AS assigned,"
        "    max(CASE WHEN event = 'contacted' THEN 1 ELSE 0 END) AS contacted,"
        "    max(CASE WHEN event = 'closed' THEN 1 ELSE 0 END) AS closed"
        "  FROM events WHERE event IN ('assigned', 'contacted', 'closed') AND at < ? GROUP BY report_id)"
        " SELECT CASE WHEN coalesce(ev.assigned, 0) = 0 THEN 'unassigned' ELSE 'assigned_not_contacted' END,"
        "   CASE WHEN coalesce(ev.assigned, 0) = 0 THEN NULL ELSE a.unit END,"
        "   substr(coalesce(r.region, ''), 1, 2),"
        f"   CASE {case} ELSE {len(buckets)} END, count(*)"
        " FROM reports r LEFT JOIN ev ON ev.report_id = r.id LEFT JOIN assignments a ON a.report_id = r.id"
        " WHERE r.received_at < ? AND coalesce(ev.closed, 0) = 0"
        "   AND (coalesce(ev.assigned, 0) = 0 OR (r.reporter_has_contact = 1 AND coalesce(ev.contacted, 0) = 0))"
        " GROUP BY 1, 2, 3, 4",
        (cutoff, *buckets, cutoff),
    )
    for row in cur:
        yield row[0], row[1], row[2], int(row[3]), int(row[4])


def obligation_states(db: Db, *, cutoff: str, as_of: str, soon: str) -> list[tuple[str | None, str, str, int]]:
    """``(unit, rule, state, count)`` of the obligations created before ``cutoff`` (UTC
    text), judged on the local date ``as_of``: one met at or after the cutoff counts as
    unmet then; ``overdue`` is unmet and due before ``as_of``, ``due_soon`` due by
    ``soon``, ``open`` later; ``met``, ``met_late`` and ``cancelled`` as stored. One pass
    over the index ``obligations_rule_unit`` (conditional counts, no sort)."""
    # Positional parameters only (the PostgreSQL adapter translates ``?``).
    unmet = "state <> 'cancelled' AND NOT (state IN ('met', 'met_late') AND met_at < ?)"
    cur = db.execute(
        "SELECT unit, rule_id,"
        f" count(CASE WHEN {unmet} AND due_date < ? THEN 1 END),"
        f" count(CASE WHEN {unmet} AND due_date >= ? AND due_date <= ? THEN 1 END),"
        f" count(CASE WHEN {unmet} AND due_date > ? THEN 1 END),"
        " count(CASE WHEN state = 'met' AND met_at < ? THEN 1 END),"
        " count(CASE WHEN state = 'met_late' AND met_at < ? THEN 1 END),"
        " count(CASE WHEN state = 'cancelled' THEN 1 END)"
        " FROM obligations WHERE created_at < ? GROUP BY rule_id, unit",
        (cutoff, as_of, cutoff, as_of, soon, cutoff, soon, cutoff, cutoff, cutoff),
    )
    states = ("overdue", "due_soon", "open", "met", "met_late", "cancelled")
    return [(r[0], r[1], state, int(n)) for r in cur.fetchall() for state, n in zip(states, r[2:]) if n]


def overdue_rows(db: Db, *, cutoff: str, as_of: str, buckets: Sequence[str],
                 met_later: bool) -> list[tuple[str | None, str, int, int]]:
    """``(unit, region prefix, bucket index, count)`` of the clues with an obligation
    overdue on ``as_of`` (unmet as of ``cutoff``, due before ``as_of``), each clue once
    per unit. ``met_later``: also look at obligations met at or after the cutoff (an
    as-of date in the past). Buckets as in ``backlog_rows``."""
    case = " ".join(f"WHEN r.received_at >= ? THEN {i}" for i in range(len(buckets)))
    late = (" UNION SELECT report_id, unit FROM obligations WHERE state IN ('met', 'met_late')"
            " AND due_date < ? AND met_at >= ? AND created_at < ?") if met_later else ""
    params: list[Any] = [as_of, cutoff] + ([as_of, cutoff, cutoff] if met_later else [])
    cur = db.execute(
        "WITH due AS (SELECT report_id, unit FROM obligations WHERE state = 'open' AND due_date < ?"
        f" AND created_at < ?{late})"
        " SELECT due.unit, substr(coalesce(r.region, ''), 1, 2),"
        f" CASE {case} ELSE {len(buckets)} END, count(*)"
        " FROM due JOIN reports r ON r.id = due.report_id GROUP BY 1, 2, 3",
        (*params, *buckets),
    )
    return [(r[0], r[1], int(r[2]), int(r[3])) for r in cur.fetchall()]
