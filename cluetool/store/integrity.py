"""``store check`` and ``store check --repair``: the database's own soundness, evidence
that must never silently change, and leftovers nothing else removes (issue 16).

- ``check_store``: SQLite's integrity and foreign-key checks, the modes of the database
  files, stored text that is not UTF-8, every report against its audit entry (below),
  and every blob against its hash.

- Every stored report is re-hashed: its bytes against the row's ``report_sha256``, and
  that against the ``report.import`` audit entry written in the import's transaction
  (the audit tree, checked by ``audit verify``, vouches for the entry). A byte changed in
  ``report_json``, with or without its hash, is named.
- ``--repair`` removes temporary blob files whose writer has ended and blobs no row
  references (orphans), under the store's write lock, which an import holds while it
  writes its blobs (``cluetool.ingest``): a blob of an import in progress is never
  taken for an orphan.
"""

from __future__ import annotations

import hashlib
import sqlite3
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from cluetool.errors import StateError
from cluetool.model.store import StoreCheckReport, StoreProblem
from cluetool.sqlerrors import translate
from cluetool.store.queries import iter_attachment_hashes

if TYPE_CHECKING:
    from cluetool.store.db import Store, Tx

    Db = Store | Tx

_IMPORT_ENTRIES = """
    SELECT json_extract(CAST(entry AS TEXT), '$.object') AS submission_id,
           json_extract(CAST(entry AS TEXT), '$.details.report_sha256') AS sha256
    FROM audit_log
    WHERE json_extract(CAST(entry AS TEXT), '$.action') = 'report.import'
"""
# Each a single pass with index look-ups (a LEFT JOIN on the entries would rescan them
# for every report): the entries whose hash differs from their report's row, and the
# reports no entry names.
_AUDIT_MISMATCH = f"""
SELECT a.submission_id, a.sha256, r.report_sha256
FROM ({_IMPORT_ENTRIES}) AS a JOIN reports AS r ON r.submission_id = a.submission_id
WHERE a.sha256 IS NULL OR a.sha256 <> r.report_sha256
"""
_AUDIT_MISSING = f"""
SELECT submission_id FROM reports
WHERE submission_id NOT IN (SELECT submission_id FROM ({_IMPORT_ENTRIES}) AS e WHERE submission_id IS NOT NULL)
"""
# Held reports (issue 15): the bytes of one not discarded, against its row and its
# report.held audit entry (found by held_id).
_HELD = "SELECT id, submission_id, report_sha256, report_json, state FROM held_reports ORDER BY id"
_HELD_ENTRIES = """
SELECT json_extract(CAST(entry AS TEXT), '$.details.held_id'), json_extract(CAST(entry AS TEXT), '$.details.report_sha256')
FROM audit_log WHERE json_extract(CAST(entry AS TEXT), '$.action') = 'report.held'
"""


def check_store(store: Store) -> StoreCheckReport:
    """Check the database (integrity, foreign keys, file modes, text), every report
    against its audit entry, and every blob.

    Raises:
        StateError: the database cannot be read at all.
    """
    problems: list[StoreProblem] = []
    try:
        # The PostgreSQL store checks its own (cluetool.store.pgstore).
        own = getattr(store, "database_problems", None)
        problems += own() if own is not None else _database_problems(store)
        problems += text_problems(store)
        problems += list(report_problems(store))
        problems += list(store.blobs.check(iter_attachment_hashes(store)))
    except sqlite3.Error as exc:
        raise translate(exc, store.path) or StateError(f'cannot check store "{store.path}": {exc}') from None
    ok = not any(p.severity == "error" for p in problems)
    return StoreCheckReport(ok=ok, problems=problems)


def _database_problems(store: Store) -> list[StoreProblem]:
    problems: list[StoreProblem] = []
    for (message,) in store.execute("PRAGMA integrity_check"):
        if message != "ok":
            problems.append(
                StoreProblem(code="store.integrity", severity="error", object=str(store.path), message=message)
            )
    for table, rowid, parent, _fkid in store.execute("PRAGMA foreign_key_check"):
        problems.append(
            StoreProblem(
                code="store.foreign_key",
                severity="error",
                object=f"{table}:{rowid}" if rowid is not None else table,
                message=f"row refers to a missing row of {parent}",
            )
        )
    for suffix in ("", "-wal", "-shm"):
        f = Path(f"{store.path}{suffix}")
        try:
            mode = stat.S_IMODE(f.stat().st_mode)
        except FileNotFoundError:
            continue
        if mode & 0o077:
            problems.append(
                StoreProblem(
                    code="store.permissions",
                    severity="error",
                    object=str(f),
                    message=f"mode {mode:04o} grants access to others; expected 0600",
                )
            )
    return problems


def report_problems(db: Db) -> Iterator[StoreProblem]:
    """``report.changed`` (bytes differ from ``report_sha256``), ``report.audit_mismatch``
    (the row's hash differs from its import's audit entry), ``report.audit_missing``."""
    cur = db.execute("SELECT submission_id, report_sha256, report_json FROM reports ORDER BY id")
    cur.arraysize = 256
    try:
        while rows := cur.fetchmany():
            for submission_id, row_sha, data in rows:
                actual = hashlib.sha256(bytes(data)).hexdigest()
                if actual != row_sha:
                    yield StoreProblem(
                        code="report.changed", severity="error", object=submission_id,
                        message=f"report_json has sha256 {actual}, its row says {row_sha}: changed after import",
                    )
    finally:
        cur.close()
    for submission_id, audit_sha, row_sha in db.execute(_AUDIT_MISMATCH).fetchall():
        yield StoreProblem(
            code="report.audit_mismatch", severity="error", object=submission_id,
            message=f"the import's audit entry says sha256 {audit_sha}, the row says {row_sha}: changed after import",
        )
    for (submission_id,) in db.execute(_AUDIT_MISSING).fetchall():
        yield StoreProblem(
            code="report.audit_missing", severity="error", object=submission_id,
            message="no report.import audit entry records this report",
        )
    if "held_reports" not in getattr(db, "store", db).table_names():
        return
    held = db.execute(_HELD).fetchall()
    # held_id as an integer whichever backend's json_extract read it (PostgreSQL's gives text).
    entries = {_int(k): v for k, v in db.execute(_HELD_ENTRIES).fetchall()} if held else {}
    for held_id, submission_id, row_sha, data, state in held:
        audit_sha = entries.get(held_id)
        obj = f"held/{held_id} ({submission_id})"
        if state != "discarded":
            actual = hashlib.sha256(bytes(data)).hexdigest()
            if actual != row_sha:
                yield StoreProblem(code="report.changed", severity="error", object=obj,
                                   message=f"held report_json has sha256 {actual}, its row says {row_sha}: changed after import")
        if audit_sha is None:
            yield StoreProblem(code="report.audit_missing", severity="error", object=obj,
                               message="no report.held audit entry records this held report")
        elif audit_sha != row_sha:
            yield StoreProblem(code="report.audit_mismatch", severity="error", object=obj,
                               message=f"the import's audit entry says sha256 {audit_sha}, the row says {row_sha}: changed after import")


def _int(value: object) -> int | None:
    try:
        return int(value)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        return None


def text_problems(store: Store) -> list[StoreProblem]:
    """``store.text_damaged``: stored text that is not UTF-8 (a damaged page; SQLite's
    integrity check does not look at text encodings). Every table is read in full.
    PostgreSQL checks the encoding of every text value it stores: nothing to do there."""
    if store.backend != "sqlite":
        return []
    conn = store._conn
    bad: dict[str, int] = {}
    table = [""]

    def decode(data: bytes) -> str:
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            bad[table[0]] = bad.get(table[0], 0) + 1
            return ""

    names = store.table_names()
    old = conn.text_factory
    conn.text_factory = decode
    try:
        for name in names:
            table[0] = name
            cur = conn.execute(f'SELECT * FROM "{name}"')
            while cur.fetchmany(1024):
                pass
    finally:
        conn.text_factory = old
    return [StoreProblem(code="store.text_damaged", severity="error", object=name,
                         message=f"{n} stored text value(s) are not valid UTF-8: damaged pages; restore the store from a backup")
            for name, n in sorted(bad.items())]


def repair(store: Store) -> list[str]:
    """Remove stale temporary blob files and orphan blobs; the paths removed.

    Raises:
        BusyError: another process holds the write lock longer than the store's wait.
        StateError: the store or blob directory cannot be written.
    """
    with store.write() as tx:
        removed = store.blobs.remove_stale_temps()
        # Listed first: the blob store may read and delete on the same connection.
        orphans = list(store.blobs.unreferenced(sha for sha, _size in iter_attachment_hashes(tx)))
        for sha in orphans:
            if store.blobs.remove(sha):
                removed.append(store.blobs.name(sha))
    return removed


__all__ = ["report_problems", "repair", "text_problems"]
