"""Reports an import could not store beside the others, and held for a person to settle
(issue 15): a report whose submission id, or query-code hash, is already used by a
different stored report. A byte-identical re-sent report is not held: it is skipped.

``held_reports`` keeps the report's bytes, where it came from and why it is held;
``held_attachments`` keeps its attachments referenced (so their blobs are not orphans).
A person settles a held report with ``keep-both`` (it stays in the store beside the
report it collides with, as evidence, never removed) or ``discard`` (its bytes are
erased, its hash kept; its attachments no longer referenced).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING

import msgspec

from cluetool.errors import InputError
from cluetool.model.store import ReportRow
from cluetool.store.audit_entries import format_time
from cluetool.store.queries import _chunks

if TYPE_CHECKING:
    from cluetool.store.db import Db, Tx

REASONS = {
    "submission_id.collision": "the submission id is already stored with different content",
    "query_code.collision": "the query code is already used by another report",
}


class HeldReport(msgspec.Struct, kw_only=True):
    """One held report (``report_json`` left out: it is content)."""

    id: int
    submission_id: str
    report_sha256: str
    batch: str
    held_at: str
    reason: str
    collides_with: str
    state: str
    resolved_at: str | None = None
    message: str = ""


class Sorted(msgspec.Struct, kw_only=True):
    """A chunk of checked reports sorted out against the store."""

    new: list[ReportRow]
    resent: list[ReportRow]
    held: list[tuple[ReportRow, str, str]]  # (row, reason code, colliding submission id)


def sort_out(tx: Tx, rows: Sequence[ReportRow], codes_in_batch: dict[str, str]) -> Sorted:
    """Which of ``rows`` are new, re-sent byte for byte (already stored or held with the
    same bytes), or collide with a different report (stored, held, or earlier in this
    batch: ``codes_in_batch`` maps the query codes taken so far in the batch to their
    submission ids, and is updated)."""
    out = Sorted(new=[], resent=[], held=[])
    if not rows:
        return out
    stored = _pairs(tx, "SELECT submission_id, report_sha256 FROM reports WHERE submission_id IN ({marks})",
                    [r.submission_id for r in rows])
    held_all = _held_pairs(tx, [r.submission_id for r in rows])
    codes = _pairs(tx, "SELECT query_code_sha256, submission_id FROM reports WHERE query_code_sha256 IN ({marks})",
                   [r.query_code_sha256 for r in rows])
    for r in rows:
        if stored.get(r.submission_id) == r.report_sha256 or (r.submission_id, r.report_sha256) in held_all:
            out.resent.append(r)
        elif r.submission_id in stored:
            out.held.append((r, "submission_id.collision", r.submission_id))
        elif r.query_code_sha256 in codes or r.query_code_sha256 in codes_in_batch:
            other = codes.get(r.query_code_sha256) or codes_in_batch[r.query_code_sha256]
            out.held.append((r, "query_code.collision", other))
        else:
            codes_in_batch[r.query_code_sha256] = r.submission_id
            out.new.append(r)
    return out


def _pairs(db: Db, sql: str, keys: list[str]) -> dict[str, str]:
    found: dict[str, str] = {}
    for chunk in _chunks(keys):
        q = sql.format(marks=",".join("?" * len(chunk)))
        found.update((a, b) for a, b in db.execute(q, chunk))
    return found


def _held_pairs(db: Db, sids: list[str]) -> set[tuple[str, str]]:
    found: set[tuple[str, str]] = set()
    for chunk in _chunks(sids):
        marks = ",".join("?" * len(chunk))
        found.update((a, b) for a, b in db.execute(
            f"SELECT submission_id, report_sha256 FROM held_reports WHERE submission_id IN ({marks})", chunk))
    return found


def insert_held(tx: Tx, *, batch_id: int, held_at: datetime, held: Sequence[tuple[ReportRow, str, str]]) -> list[int]:
    """Store held reports (their blobs must be in the blob store); their ids."""
    ids = []
    when = format_time(held_at)
    for row, reason, other in held:
        cur = tx.execute(
            "INSERT INTO held_reports (submission_id, query_code_sha256, report_sha256, batch_id, held_at, reason,"
            " collides_with, report_json) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (row.submission_id, row.query_code_sha256, row.report_sha256, batch_id, when, reason, other, row.report_json),
        )
        hid = int(cur.lastrowid or 0)
        ids.append(hid)
        tx.executemany(
            "INSERT INTO attachments (sha256, size, type) VALUES (?, ?, ?) ON CONFLICT (sha256) DO NOTHING",
            ((a.sha256, a.size, a.type) for a in row.attachments),
        )
        tx.executemany(
            "INSERT INTO held_attachments (held_id, sha256) VALUES (?, ?) ON CONFLICT DO NOTHING",
            ((hid, a.sha256) for a in row.attachments),
        )
    return ids


_COLS = ("h.id, h.submission_id, h.report_sha256, b.source || '-' || printf('%08d', b.sequence) || '.clue',"
         " h.held_at, h.reason, h.collides_with, h.state, h.resolved_at")


def _held(row: tuple) -> HeldReport:  # type: ignore[type-arg]
    h = HeldReport(id=row[0], submission_id=row[1], report_sha256=row[2], batch=row[3], held_at=row[4],
                   reason=row[5], collides_with=row[6], state=row[7], resolved_at=row[8])
    h.message = f"{REASONS.get(h.reason, h.reason)} ({h.collides_with})"
    return h


def list_held(db: Db, *, all_states: bool = False) -> list[HeldReport]:
    """Held reports in the order they were held (only those still held, unless ``all_states``)."""
    where = "" if all_states else "WHERE h.state = 'held'"
    return [_held(r) for r in db.execute(f"SELECT {_COLS} FROM held_reports h JOIN batches b ON b.id = h.batch_id {where} ORDER BY h.id")]


def get_held(db: Db, held_id: int) -> HeldReport | None:
    row = db.execute(f"SELECT {_COLS} FROM held_reports h JOIN batches b ON b.id = h.batch_id WHERE h.id = ?", (held_id,)).fetchone()
    return None if row is None else _held(row)


def resolve_held(tx: Tx, held_id: int, *, keep: bool, reason: str, at: datetime) -> HeldReport:
    """Settle a held report: kept beside the other, or discarded (bytes erased).

    Raises:
        InputError: no such held report, or it is settled already.
    """
    h = get_held(tx, held_id)
    if h is None:
        raise InputError(f"no held report {held_id}", hint="list them with: cluetool held list")
    if h.state != "held":
        raise InputError(f"held report {held_id} was settled already ({h.state} at {h.resolved_at})")
    when = format_time(at)
    if keep:
        tx.execute("UPDATE held_reports SET state = 'kept', resolved_at = ?, resolution_reason = ? WHERE id = ?",
                   (when, reason, held_id))
    else:
        shas = [r[0] for r in tx.execute("SELECT sha256 FROM held_attachments WHERE held_id = ?", (held_id,))]
        tx.execute("DELETE FROM held_attachments WHERE held_id = ?", (held_id,))
        # The empty bytes as a parameter: x'' is a blob in SQLite, a bit string in PostgreSQL.
        tx.execute("UPDATE held_reports SET state = 'discarded', resolved_at = ?, resolution_reason = ?, report_json = ?"
                   " WHERE id = ?", (when, reason, b"", held_id))
        # An attachment nothing references any more leaves the table; its blob is then an
        # orphan, which ``store check`` reports and a repair removes.
        for sha in shas:
            tx.execute(
                "DELETE FROM attachments WHERE sha256 = ? AND NOT EXISTS (SELECT 1 FROM report_attachments WHERE sha256 = ?)"
                " AND NOT EXISTS (SELECT 1 FROM held_attachments WHERE sha256 = ?)", (sha, sha, sha))
    out = get_held(tx, held_id)
    assert out is not None
    return out


__all__ = ["HeldReport", "Sorted", "sort_out", "insert_held", "list_held", "get_held", "resolve_held", "REASONS"]
