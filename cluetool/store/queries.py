"""The store's query interface: every SQL statement about sources, batches, reports,
attachments and fingerprints lives here (cluetool/store/migrations.py).

Functions take a ``Store`` (autocommit reads) or a ``Tx`` (inside ``store.write()`` or
``store.read()``); the ones that change data take a ``Tx`` only. They speak in the
Structs of ``cluetool.model.store``, never in rows or SQL types, so that another backend
(PostgreSQL, psycopg 3) can offer the same functions. Audit entries are not written
here: the caller writes one with ``cluetool.store.audit_entries.append_entry`` in the same
``Tx`` as the change.

Bulk paths (``insert_reports``, ``find_reports_by_fingerprints``) use ``executemany``
and chunked ``IN`` lists over the connection's prepared-statement cache, for imports of
tens of thousands of reports per transaction.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from cluetool.errors import InputError, StateError
from cluetool.model.store import (
    DuplicateLink,
    BatchRecord,
    FingerprintMatch,
    ReportRow,
    ReportStage,
    SourceState,
)
from cluetool.store.audit_entries import format_time
from cluetool.store.supervision import insert_report_codes

if TYPE_CHECKING:
    from cluetool.store.db import Store, Tx

    Db = Store | Tx

MIN_PREFIX = 8
_CHUNK = 500  # host parameters per IN list; far below SQLite's limit (32766 since 3.32)
_MAX_CANDIDATES = 10

# -- sources -------------------------------------------------------------------------------

_SOURCE_COLS = "source, last_sequence, last_manifest_sha256, updated_at"


def _source(row: tuple) -> SourceState:
    return SourceState(source=row[0], last_sequence=row[1], last_manifest_sha256=row[2], updated_at=row[3])


def get_source_state(db: Db, source: str) -> SourceState | None:
    """The chain state of ``source``, or ``None`` before its first batch."""
    row = db.execute(f"SELECT {_SOURCE_COLS} FROM sources WHERE source = ?", (source,)).fetchone()
    return None if row is None else _source(row)


def list_source_states(db: Db) -> list[SourceState]:
    """The chain state of every source, by name."""
    return [_source(r) for r in db.execute(f"SELECT {_SOURCE_COLS} FROM sources ORDER BY source")]


def set_source_state(
    tx: Tx, *, source: str, last_sequence: int, last_manifest_sha256: str, updated_at: datetime
) -> SourceState:
    """Record that ``source``'s chain now ends at ``last_sequence`` / ``last_manifest_sha256``.

    The caller checks the chain (no replay, gap or fork) before calling.
    """
    state = SourceState(
        source=source,
        last_sequence=last_sequence,
        last_manifest_sha256=last_manifest_sha256,
        updated_at=format_time(updated_at),
    )
    tx.execute(
        "INSERT INTO sources (source, last_sequence, last_manifest_sha256, updated_at)"
        " VALUES (?, ?, ?, ?)"
        " ON CONFLICT (source) DO UPDATE SET last_sequence = excluded.last_sequence,"
        " last_manifest_sha256 = excluded.last_manifest_sha256, updated_at = excluded.updated_at",
        (state.source, state.last_sequence, state.last_manifest_sha256, state.updated_at),
    )
    return state


# -- batches -------------------------------------------------------------------------------

_BATCH_COLS = (
    "id, source, sequence, manifest_sha256, previous_sha256, payload_sha256, signer,"
    " created_at, imported_at, reports, attachments, allow_gap_reason"
)


def _batch(row: tuple) -> BatchRecord:
    return BatchRecord(
        id=row[0],
        source=row[1],
        sequence=row[2],
        manifest_sha256=row[3],
        previous_sha256=row[4],
        payload_sha256=row[5],
        signer=row[6],
        created_at=row[7],
        imported_at=row[8],
        reports=row[9],
        attachments=row[10],
        allow_gap_reason=row[11],
    )


def get_batch_by_manifest(db: Db, manifest_sha256: str) -> BatchRecord | None:
    """The imported batch whose ``manifest.json`` has this sha256, if any."""
    row = db.execute(
        f"SELECT {_BATCH_COLS} FROM batches WHERE manifest_sha256 = ?", (manifest_sha256,)
    ).fetchone()
    return None if row is None else _batch(row)


def get_batch_by_sequence(db: Db, source: str, sequence: int) -> BatchRecord | None:
    """The imported batch ``sequence`` of ``source``, if any."""
    row = db.execute(
        f"SELECT {_BATCH_COLS} FROM batches WHERE source = ? AND sequence = ?", (source, sequence)
    ).fetchone()
    return None if row is None else _batch(row)


def insert_batch(
    tx: Tx,
    *,
    source: str,
    sequence: int,
    manifest_sha256: str,
    previous_sha256: str,
    payload_sha256: str,
    signer: str,
    created_at: str,
    imported_at: datetime,
    reports: int,
    attachments: int,
    allow_gap_reason: str | None = None,
) -> BatchRecord:
    """Add a batch to the receive ledger. ``created_at`` is the manifest's, verbatim.

    Raises:
        InputError: a batch with this manifest, or this source and sequence, is
            already in the ledger.
    """
    imported = format_time(imported_at)
    try:
        cur = tx.execute(
            "INSERT INTO batches (source, sequence, manifest_sha256, previous_sha256,"
            " payload_sha256, signer, created_at, imported_at, reports, attachments,"
            " allow_gap_reason) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                source,
                sequence,
                manifest_sha256,
                previous_sha256,
                payload_sha256,
                signer,
                created_at,
                imported,
                reports,
                attachments,
                allow_gap_reason,
            ),
        )
    except sqlite3.IntegrityError:
        raise InputError(
            f"batch {source} sequence {sequence} (manifest {manifest_sha256}) is already in the store"
        ) from None
    return BatchRecord(
        id=int(cur.lastrowid or 0),
        source=source,
        sequence=sequence,
        manifest_sha256=manifest_sha256,
        previous_sha256=previous_sha256,
        payload_sha256=payload_sha256,
        signer=signer,
        created_at=created_at,
        imported_at=imported,
        reports=reports,
        attachments=attachments,
        allow_gap_reason=allow_gap_reason,
    )


# -- reports -------------------------------------------------------------------------------


class ReportsStored(InputError):
    """Reports with these submission ids are already in the store (``stored``), or other
    reports of the store already use these reports' query codes (``codes_used``: the
    submission ids of this call's reports whose code is taken)."""

    def __init__(self, message: str, stored: set[str], codes_used: set[str] | None = None) -> None:
        super().__init__(message)
        self.stored = stored
        self.codes_used = codes_used or set()


def insert_reports(
    tx: Tx, *, batch_id: int, imported_at: datetime, reports: Sequence[ReportRow], check_blobs: bool = True
) -> range:
    """Store the reports of one batch with their attachments (the blobs must already be
    in the blob store, or, with ``check_blobs=False``, be checked by the caller before
    the transaction commits) and fingerprints. Attachment rows are shared by content.

    Returns the report ids given, in the order of ``reports``.

    Raises:
        StateError: an attachment's blob is not in the blob store (with its size).
        ReportsStored: a report with one of these submission ids is already in the
            store (nothing of this call is then written).
        InputError: a report's query code is already used, the batch holds a
            submission id twice, or a report repeats an attachment file name.
    """
    if check_blobs:
        _require_blobs(tx, reports)
    imported = format_time(imported_at)
    # Uniqueness of submission ids and query codes is the UNIQUE constraints' (schema
    # v6): the rows are inserted, and only a refused insert is diagnosed. A savepoint so
    # that, on a conflict, the rows this call already inserted are undone before the
    # conflict is diagnosed (the caller's transaction then rolls back).
    tx.execute("SAVEPOINT insert_reports")
    # Ids in import order: the indexes on report ids (stages, fingerprints, obligations)
    # then grow at their end only. The write lock is held, so max(id) cannot move.
    first = tx.next_ids("reports", len(reports))
    try:
        tx.executemany(
            "INSERT INTO reports (id, submission_id, kind, received_at, imported_at, batch_id,"
            " report_sha256, query_code_sha256, region, reporter_has_contact, real_name,"
            " facts, report_json) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                (
                    first + i,
                    r.submission_id,
                    r.kind,
                    format_time(r.received_at),
                    imported,
                    batch_id,
                    r.report_sha256,
                    r.query_code_sha256,
                    r.region,
                    int(r.reporter_has_contact),
                    int(r.real_name),
                    r.facts,
                    r.report_json,
                )
                for i, r in enumerate(reports)
            ),
        )
    except sqlite3.IntegrityError as exc:
        tx.execute("ROLLBACK TO insert_reports")
        tx.execute("RELEASE insert_reports")
        raise _report_conflict(tx, reports, exc) from None
    tx.execute("RELEASE insert_reports")
    ids = range(first, first + len(reports))
    tx.executemany(
        "INSERT INTO attachments (sha256, size, type) VALUES (?, ?, ?) ON CONFLICT (sha256) DO NOTHING",
        ((a.sha256, a.size, a.type) for r in reports for a in r.attachments),
    )
    try:
        tx.executemany(
            "INSERT INTO report_attachments (report_id, submission_id, file, sha256, note) VALUES (?, ?, ?, ?, ?)",
            ((first + i, r.submission_id, a.file, a.sha256, a.note) for i, r in enumerate(reports) for a in r.attachments),
        )
    except sqlite3.IntegrityError:
        raise InputError("a report names the same attachment file twice") from None
    tx.executemany(
        "INSERT INTO report_stages (report_id, stage) VALUES (?, 'received')",
        ((first + i,) for i in range(len(reports))),
    )
    fingerprints = sorted({(first + i, f.value, f.kind) for i, r in enumerate(reports) for f in r.fingerprints})
    tx.executemany(
        "INSERT INTO fingerprints (value, report_id, kind) VALUES (?, ?, ?)"
        " ON CONFLICT (value, report_id) DO NOTHING",
        ((value, rid, kind) for rid, value, kind in fingerprints),
    )
    insert_report_codes(tx, ids, reports)  # for stats (issue 23)
    return ids


def _require_blobs(tx: Tx, reports: Sequence[ReportRow]) -> None:
    # A blob is written before the transaction that references it commits,
    # so a committed reference always has its bytes.
    seen: set[str] = set()
    for r in reports:
        for a in r.attachments:
            if a.sha256 in seen:
                continue
            seen.add(a.sha256)
            if tx.store.blobs.size(a.sha256) != a.size:
                raise StateError(
                    f"attachment {a.sha256} of report {r.submission_id} is not in the blob store",
                    hint="put attachment blobs before the transaction that references them",
                )


def _report_conflict(tx: Tx, reports: Sequence[ReportRow], exc: sqlite3.IntegrityError) -> InputError:
    ids = [r.submission_id for r in reports]
    present = existing_submission_ids(tx, ids)
    if present:
        first = min(present)
        return ReportsStored(f"report {first} is already in the store ({len(present)} in all)", present)
    if len(set(ids)) != len(ids):
        return InputError("the batch holds the same submission id twice")
    codes = {r.query_code_sha256: r.submission_id for r in reports if r.query_code_sha256}
    taken = _stored(tx, "query_code_sha256", codes)
    if taken:  # by a report stored since the caller looked (another importer, PostgreSQL)
        used = {codes[c] for c in taken}
        return ReportsStored(f"report {min(used)}: its query code is already used by another report "
                             f"({len(used)} in all)", set(), used)
    if "query_code_sha256" in str(exc):
        return InputError("a report's query code is already used by another report")
    return InputError(f"cannot store the reports: {exc}")


def existing_submission_ids(db: Db, submission_ids: Iterable[str]) -> set[str]:
    """Those of ``submission_ids`` that are already in the store."""
    return _stored(db, "submission_id", submission_ids)


def _stored(db: Db, column: str, values: Iterable[str]) -> set[str]:
    # Those of ``values`` stored in ``reports.column`` (a UNIQUE key).
    found: set[str] = set()
    for chunk in _chunks(values):
        marks = ",".join("?" * len(chunk))
        found.update(
            r[0] for r in db.execute(f"SELECT {column} FROM reports WHERE {column} IN ({marks})", chunk)
        )
    return found


def report_by_query_code_sha256(db: Db, query_code_sha256: str) -> ReportStage | None:
    """The public stage of the report with this query-code hash (cluetool/model/querycode.py), if any."""
    row = db.execute(
        "SELECT s.stage FROM reports r JOIN report_stages s ON s.report_id = r.id"
        " WHERE r.query_code_sha256 = ?",
        (query_code_sha256,),
    ).fetchone()
    return None if row is None else ReportStage(stage=row[0])


def find_reports_by_fingerprints(db: Db, values: Iterable[str]) -> list[FingerprintMatch]:
    """Every stored report carrying one of the fingerprint ``values``, ordered by value
    then submission id."""
    matches: list[FingerprintMatch] = []
    wanted = set(values)
    for chunk in _chunks(sorted(wanted)):
        marks = ",".join("?" * len(chunk))
        matches += [
            FingerprintMatch(submission_id=r[0], kind=r[1], value=r[2])
            for r in db.execute(
                "SELECT r.submission_id, f.kind, f.value FROM fingerprints f JOIN reports r ON r.id = f.report_id"
                f" WHERE f.value IN ({marks}) ORDER BY f.value, r.submission_id, f.kind",
                chunk,
            )
        ]
    return matches


def insert_duplicates(tx: Tx, links: Sequence[DuplicateLink], *, found_at: datetime) -> None:
    """Record possible duplicates (open); a pair already recorded is left as it is."""
    found = format_time(found_at)
    tx.executemany(
        "INSERT OR IGNORE INTO duplicates (submission_id, duplicate_of, reason, state, found_at)"
        " VALUES (?, ?, ?, 'open', ?)",
        ((d.submission_id, d.duplicate_of, d.reason, found) for d in links),
    )


def list_duplicates(db: Db, *, state: str | None = "open") -> list[DuplicateLink]:
    """Duplicate candidates, oldest first (all states when ``state`` is None)."""
    sql = "SELECT submission_id, duplicate_of, reason, state, found_at FROM duplicates"
    params: tuple[str, ...] = ()
    if state is not None:
        sql += " WHERE state = ?"
        params = (state,)
    rows = db.execute(sql + " ORDER BY found_at, submission_id, duplicate_of", params)
    return [DuplicateLink(submission_id=r[0], duplicate_of=r[1], reason=r[2], state=r[3], found_at=r[4]) for r in rows]


def resolve_clue_prefix(db: Db, prefix: str) -> str:
    """The submission id that ``prefix`` (at least 8 characters) names uniquely.

    Raises:
        InputError: the prefix is too short, matches no clue, or matches several (the
            message lists them).
    """
    prefix = prefix.strip()
    if len(prefix) < MIN_PREFIX:
        raise InputError(f'clue "{prefix}" is too short: give at least {MIN_PREFIX} characters of its id')
    # A range scan in the UNIQUE index: ids >= prefix and < prefix with its last
    # character incremented are exactly the ids that start with prefix.
    upper = prefix[:-1] + chr(min(ord(prefix[-1]) + 1, 0x10FFFF))
    rows = db.execute(
        "SELECT submission_id FROM reports WHERE submission_id >= ? AND submission_id < ?"
        " ORDER BY submission_id LIMIT ?",
        (prefix, upper, _MAX_CANDIDATES + 1),
    ).fetchall()
    ids = [r[0] for r in rows if r[0].startswith(prefix)]
    if not ids:
        raise InputError(f'no clue "{prefix}" in the store')
    if len(ids) > 1:
        listed = ", ".join(ids[:_MAX_CANDIDATES])
        more = " and more" if len(ids) > _MAX_CANDIDATES else ""
        raise InputError(f'clue "{prefix}" is ambiguous: it matches {listed}{more}', hint="give more characters")
    return ids[0]


# -- attachments ---------------------------------------------------------------------------


def iter_attachment_hashes(db: Db) -> Iterator[tuple[str, int]]:
    """``(sha256, size)`` of every attachment, in ascending sha256 order, streamed."""
    cur = db.execute("SELECT sha256, size FROM attachments ORDER BY sha256")
    cur.arraysize = 4096
    try:
        while rows := cur.fetchmany():
            yield from rows
    finally:
        cur.close()


def attachment_referenced(db: Db, sha256: str) -> bool:
    """Whether any stored row names the attachment ``sha256`` (its blob must stay)."""
    return db.execute("SELECT 1 FROM attachments WHERE sha256 = ?", (sha256,)).fetchone() is not None


def _chunks(items: Iterable[str]) -> Iterator[list[str]]:
    chunk: list[str] = []
    for item in items:
        chunk.append(item)
        if len(chunk) == _CHUNK:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


# -- the status feed (issue 23) -----------------------------------------------------------


def iter_code_stages(db: Db) -> Iterator[tuple[str, str]]:
    """(query-code hash, public stage) of every report, in no particular order (the feed
    sorts them); one pass over ``reports`` and ``report_stages``."""
    return iter(db.execute(
        "SELECT r.query_code_sha256, s.stage FROM reports r JOIN report_stages s ON s.report_id = r.id"
    ))


def list_imported_batches(db: Db) -> list[tuple[str, int, str]]:
    """(source, sequence, manifest hash) of every imported batch, by source and sequence."""
    return [(r[0], int(r[1]), r[2]) for r in db.execute(
        "SELECT source, sequence, manifest_sha256 FROM batches ORDER BY source, sequence"
    )]
