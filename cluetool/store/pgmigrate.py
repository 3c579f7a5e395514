"""``cluetool store migrate-to postgresql://...``: copy a home's SQLite store into an
empty PostgreSQL database and prove the copy (issue 22).

The SQLite store is opened read-only and read in one snapshot; it is never written. The
copy is one PostgreSQL transaction: the schema, then every table in foreign-key order
through ``COPY`` (rows streamed in chunks: memory stays bounded for millions of
reports), then the id sequences moved past the copied ids. Before the commit, the copy
is proved: every table has as many rows on both sides, and the Merkle root of the audit
log, recomputed from the entries' bytes on each side, is the same. A difference rolls
everything back (nothing is left in the database).

Blobs: by default they are not copied: the attachments' rows are, and the blob files
stay in the home's ``blobs/`` directory, which the PostgreSQL store uses too. With
``blobs_in_db`` the blob of every attachment is copied, in the same transaction, from its
file into the store's blob tables (``cluetool.store.blobtable``; each file is hashed
while it is copied and must match its name and the attachment's size), and the copy is
proved by reading every blob back from the tables and hashing it again. Orphan files
(no attachment names them) are not copied.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path

import msgspec

from cluetool.errors import InputError, StateError
from cluetool.formats.merkle import RootAccumulator
from cluetool.store.audit_entries import leaf_hash
from cluetool.store.db import Store
from cluetool.store.queries import iter_attachment_hashes

# Parents before children (foreign keys); the audit log and checkpoints last.
TABLES = (
    "sources", "batches", "attachments", "units", "reports", "report_stages", "report_attachments",
    "report_codes", "fingerprints", "duplicates", "events", "assignments", "obligations", "held_reports",
    "held_attachments", "audit_log", "checkpoints", "sample_draws",
)
_ORDER = {"report_attachments": "report_id, file", "fingerprints": "value, report_id",
          "duplicates": "submission_id, duplicate_of", "held_attachments": "held_id, sha256",
          "sources": "source", "attachments": "sha256", "units": "id", "audit_log": "seq",
          "report_stages": "report_id", "assignments": "report_id", "report_codes": "report_id, dim, code"}
_IDENTITY = ("batches", "checkpoints", "held_reports", "obligations", "sample_draws")
_SEQUENCES = ("reports",)
_CHUNK = 2000


class TableCount(msgspec.Struct, frozen=True, kw_only=True):
    table: str
    rows: int


class MigrateReport(msgspec.Struct, kw_only=True):
    """What ``store migrate-to`` copied and how it proved the copy."""

    target: str
    tables: list[TableCount]
    audit_entries: int
    audit_root: str
    blobs_in_db: bool = False
    # With blobs_in_db: the blobs copied into the tables and their bytes, each re-hashed
    # from the tables after the copy.
    blobs: int = 0
    blob_bytes: int = 0
    schema: str = "cluetool.store-migrate/1"


def _columns(src: sqlite3.Connection | Store, table: str) -> list[str]:
    return [r[1] for r in src.execute(f"PRAGMA table_info({table})").fetchall()]


def _pg_types(dst: Store, table: str) -> dict[str, str]:
    return dict(dst.execute(
        "SELECT column_name, data_type FROM information_schema.columns"
        " WHERE table_schema = current_schema() AND table_name = ?", (table,)).fetchall())


def _rows(src: Store, table: str, cols: list[str], types: dict[str, str]) -> Iterator[list[tuple]]:
    # SQLite keeps a value's own type whatever the column's: each is read as the type
    # PostgreSQL's column has (bytes for bytea, text for text), as the store reads it.
    order = _ORDER.get(table, "id")
    exprs = [f"CAST({c} AS BLOB)" if types.get(c) == "bytea" else f"CAST({c} AS TEXT)" if types.get(c) == "text" else c
             for c in cols]
    cur = src.execute(f"SELECT {', '.join(exprs)} FROM {table} ORDER BY {order}")
    try:
        while rows := cur.fetchmany(_CHUNK):
            yield rows
    finally:
        cur.close()


def _sqlite_root(src: Store) -> tuple[int, bytes]:
    acc = RootAccumulator()
    cur = src.execute("SELECT seq, CAST(entry AS BLOB) FROM audit_log ORDER BY seq")
    try:
        while rows := cur.fetchmany(_CHUNK):
            for seq, entry in rows:
                if seq != acc.size:
                    raise StateError(f"the SQLite audit log has a gap at seq {acc.size}",
                                     hint="run: cluetool audit verify")
                acc.append(leaf_hash(bytes(entry)))
    finally:
        cur.close()
    return acc.size, acc.root()


def _pg_root(raw: object) -> tuple[int, bytes]:
    acc = RootAccumulator()
    with raw.cursor(name="cluetool_migrate_root") as cur:  # type: ignore[attr-defined]
        cur.itersize = _CHUNK
        cur.execute("SELECT seq, entry FROM audit_log ORDER BY seq")
        for seq, entry in cur:
            if seq != acc.size:
                raise StateError(f"the copied audit log has a gap at seq {acc.size}")
            acc.append(leaf_hash(bytes(entry)))
    return acc.size, acc.root()


def _copy_blobs(src: Store, dst: Store, progress: Callable[[str, int], None] | None) -> tuple[int, int]:
    """Every attachment's blob from its file into ``dst``'s tables (in its open write
    transaction), then every one read back and re-hashed; ``(blobs, bytes)``."""
    count = total = 0
    for sha256, size in iter_attachment_hashes(src):
        with src.blobs.open(sha256) as f:
            try:
                _sha, got = dst.blobs.put(f, expected_sha256=sha256)
            except InputError:
                raise StateError(f'blob {sha256} in "{src.blobs.name(sha256)}" does not match its name; nothing was kept',
                                 hint="run: cluetool store check") from None
        if got != size:
            raise StateError(f"blob {sha256} has {got} bytes, its attachment {size}; nothing was kept",
                             hint="run: cluetool store check")
        count += 1
        total += got
        if progress is not None:
            progress("blobs", count)
    problems = [p for p in dst.blobs.check(iter_attachment_hashes(dst)) if p.severity == "error"]
    if problems:
        raise StateError(f"the copied blob {problems[0].object} does not prove equal ({problems[0].message}); nothing was kept")
    return count, total


def migrate_to(src: Store, url: str, *, blobs_dir: Path, password: str | None = None,
               progress: Callable[[str, int], None] | None = None, blobs_in_db: bool = False) -> MigrateReport:
    """Copy the SQLite store ``src`` into the empty PostgreSQL database at ``url`` (with
    ``blobs_in_db``, its blobs into the database's tables too).

    Raises:
        StateError: the database is not empty, cannot be reached or written, or the
            copy does not prove equal (then nothing of it is kept).
    """
    from cluetool.store.pgstore import PgStore, display

    dst = PgStore.connect_empty(url, blobs_dir=blobs_dir, password=password, blobs_in_db=blobs_in_db)
    try:
        raw = dst._conn.raw
        counts: list[TableCount] = []
        with src.read(), dst.write() as tx:
            dst.install_schema(tx, blobs_in_db=blobs_in_db)
            for table in TABLES:
                cols = _columns(src, table)
                types = _pg_types(dst, table)
                missing = [c for c in cols if c not in types]
                if missing:
                    raise StateError(f"the SQLite store's table {table} has columns the PostgreSQL schema lacks: "
                                     + ", ".join(missing), hint="migrate the SQLite store to the latest schema first")
                copied = 0
                with raw.cursor().copy(f"COPY {table} ({', '.join(cols)}) FROM STDIN") as copy:
                    for rows in _rows(src, table, cols, types):
                        for row in rows:
                            copy.write_row(row)
                        copied += len(rows)
                        if progress is not None:
                            progress(table, copied)
                have = src.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
                got = tx.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
                if not have == got == copied:
                    raise StateError(f"the copy of table {table} has {got} rows, the SQLite store {have}; nothing was kept")
                counts.append(TableCount(table=table, rows=got))
            for table in _IDENTITY:
                tx.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), coalesce(max(id), 0) + 1, false)"
                           f" FROM {table}")
            for table in _SEQUENCES:
                tx.execute(f"SELECT setval('{table}_id_seq', coalesce(max(id), 0) + 1, false) FROM {table}")
            blobs, blob_bytes = _copy_blobs(src, dst, progress) if blobs_in_db else (0, 0)
            n_src, root_src = _sqlite_root(src)
            n_dst, root_dst = _pg_root(raw)
            if (n_src, root_src) != (n_dst, root_dst):
                raise StateError(
                    f"the copied audit log ({n_dst} entries, root {root_dst.hex()}) differs from the SQLite "
                    f"store's ({n_src} entries, root {root_src.hex()}); nothing was kept")
        return MigrateReport(target=display(url), tables=counts, audit_entries=n_src, audit_root=root_src.hex(),
                             blobs_in_db=blobs_in_db, blobs=blobs, blob_bytes=blob_bytes)
    finally:
        dst.close()
