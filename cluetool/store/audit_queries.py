"""SQL for the audit trail's readers and the checkpoints table (docs/audit.md).

``cluetool.store.audit_entries`` writes entries; this module holds the other queries
``cluetool.audit`` needs: checkpoint rows, leaf-hash range reads (for proofs, O(log n) of
them per proof), chunked streaming of raw rows (for ``audit verify``), and entry filters
(for ``audit log``). Nothing here checks hashes or signatures: that is ``cluetool.audit``.
"""

from __future__ import annotations

from collections.abc import Iterator

import msgspec

from cluetool.errors import StateError
from cluetool.model.store import AuditEntry
from cluetool.store.audit_entries import Db, stream_entries


CHUNK = 4096
# Read what is stored as bytes even if someone wrote TEXT (or a number) into the table:
# a tampered row must come out as a finding, not as a type error.
_ROW = "CAST(entry AS BLOB), CAST(leaf_hash AS BLOB)"
_CP = "id, CAST(size AS INTEGER), CAST(root AS BLOB), CAST(note AS TEXT), CAST(at AS TEXT)"


class CheckpointRow(msgspec.Struct, frozen=True, kw_only=True):
    """One row of ``checkpoints``: a signed tree head (``note`` is the C2SP signed note)."""

    id: int
    size: int
    root: bytes
    note: str
    at: str


def _row(r: tuple[int, int, bytes, str, str]) -> CheckpointRow:
    return CheckpointRow(id=r[0], size=r[1], root=bytes(r[2]), note=r[3], at=r[4])


def insert_checkpoint(tx: Db, *, size: int, root: bytes, note: str, at: str) -> CheckpointRow:
    """Store a signed checkpoint (append-only table)."""
    cur = tx.execute(
        "INSERT INTO checkpoints (size, root, note, at) VALUES (?, ?, ?, ?)", (size, root, note, at)
    )
    return CheckpointRow(id=int(cur.lastrowid or 0), size=size, root=root, note=note, at=at)


def list_checkpoints(db: Db) -> list[CheckpointRow]:
    """Every stored checkpoint, oldest first (by id: the order they were signed)."""
    rows = db.execute(f"SELECT {_CP} FROM checkpoints ORDER BY id").fetchall()
    return [_row(r) for r in rows]


def latest_checkpoint(db: Db) -> CheckpointRow | None:
    r = db.execute(f"SELECT {_CP} FROM checkpoints ORDER BY id DESC LIMIT 1").fetchone()
    return None if r is None else _row(r)


def checkpoint_with_size(db: Db, size: int) -> CheckpointRow | None:
    """The latest checkpoint of exactly ``size`` entries, if any."""
    r = db.execute(
        f"SELECT {_CP} FROM checkpoints WHERE size = ? ORDER BY id DESC LIMIT 1", (size,)
    ).fetchone()
    return None if r is None else _row(r)


def seq_bounds(db: Db) -> tuple[int, int] | None:
    """The smallest and largest stored ``seq`` (``None`` for an empty log): two lookups in
    the primary key, where ``count(*)`` reads every row."""
    lo, hi = db.execute("SELECT (SELECT min(seq) FROM audit_log), (SELECT max(seq) FROM audit_log)").fetchone()
    return None if hi is None else (int(lo), int(hi))


def leaf_hash_range(db: Db, start: int, count: int) -> bytes:
    """The stored leaf hashes of seq ``start`` .. ``start + count - 1``, concatenated.

    Raises:
        StateError: a seq in the range is missing (the log has a gap).
    """
    rows = db.execute(
        "SELECT CAST(leaf_hash AS BLOB) FROM audit_log WHERE seq >= ? AND seq < ? ORDER BY seq", (start, start + count)
    ).fetchall()
    if len(rows) != count:
        raise StateError(
            f"audit log has a gap between seq {start} and {start + count - 1}",
            hint="run: cluetool audit verify",
        )
    return b"".join(bytes(r[0]) for r in rows)


def iter_leaf_hash_blocks(db: Db, start: int, end: int, block: int) -> Iterator[bytes]:
    """Stored leaf hashes of seq ``start`` .. ``end - 1`` in blocks of ``block`` hashes,
    each concatenated (``start`` and ``end`` are multiples of ``block``). One statement.

    Raises:
        StateError: a seq in the range is missing.
    """
    cur = db.execute(
        "SELECT seq, CAST(leaf_hash AS BLOB) FROM audit_log WHERE seq >= ? AND seq < ? ORDER BY seq", (start, end)
    )
    cur.arraysize = block
    expected = start
    try:
        while expected < end:
            rows = cur.fetchmany()
            if len(rows) != block or rows[0][0] != expected or rows[-1][0] != expected + block - 1:
                raise StateError(
                    f"audit log has a gap between seq {expected} and {expected + block - 1}",
                    hint="run: cluetool audit verify",
                )
            yield b"".join([bytes(r[1]) for r in rows])
            expected += block
    finally:
        cur.close()


def iter_row_chunks(db: Db, start: int = 0, chunk: int = CHUNK) -> Iterator[list[tuple[int, bytes, bytes]]]:
    """Raw ``(seq, entry, leaf_hash)`` rows with ``seq >= start`` in seq order, ``chunk``
    rows at a time, from one statement (one snapshot). For ``audit verify``: no decoding
    or per-row objects here, so that millions of rows stream fast."""
    cur = db.execute(f"SELECT seq, {_ROW} FROM audit_log WHERE seq >= ? ORDER BY seq", (start,))
    cur.arraysize = chunk
    try:
        while True:
            rows = cur.fetchmany()
            if not rows:
                return
            yield rows
    finally:
        cur.close()


def get_entry(db: Db, seq: int) -> AuditEntry | None:
    r = db.execute(f"SELECT seq, {_ROW} FROM audit_log WHERE seq = ?", (seq,)).fetchone()
    return None if r is None else AuditEntry(seq=r[0], entry=bytes(r[1]), leaf_hash=bytes(r[2]))


def iter_entry_range(db: Db, start: int, end: int) -> Iterator[AuditEntry]:
    """Stored entries with ``start <= seq < end`` in seq order (streamed)."""
    cur = db.execute(
        f"SELECT seq, {_ROW} FROM audit_log WHERE seq >= ? AND seq < ? ORDER BY seq", (start, end)
    )
    yield from stream_entries(cur)


def _field(column: str) -> str:
    # A damaged entry (not JSON) must not abort the listing: it matches no filter.
    text = "CAST(entry AS TEXT)"
    return f"(CASE WHEN json_valid({text}) THEN json_extract({text}, '$.{column}') END)"


def _pattern(column: str, value: str, where: list[str], params: list[object]) -> None:
    # A trailing "*" asks for a prefix; GLOB is case-sensitive, like the values.
    expr = _field(column)
    if value.endswith("*"):
        prefix = value[:-1]
        where.append(f"substr({expr}, 1, ?) = ?")
        params += [len(prefix), prefix]
    else:
        where.append(f"{expr} = ?")
        params.append(value)


def find_entries(
    db: Db,
    *,
    object: str | None = None,
    action: str | None = None,
    actor: str | None = None,
    since: str | None = None,
    until: str | None = None,
    limit: int | None = None,
) -> Iterator[AuditEntry]:
    """Entries matching every given filter, in seq order. ``object``/``action``/``actor``
    match exactly, or as a prefix when they end in ``*``; ``since`` (inclusive) and
    ``until`` (exclusive) compare ``at`` strings (RFC 3339 UTC, microseconds, ``Z``)."""
    where: list[str] = []
    params: list[object] = []
    for column, value in (("object", object), ("action", action), ("actor", actor)):
        if value is not None:
            _pattern(column, value, where, params)
    at = _field("at")
    if since is not None:
        where.append(f"{at} >= ?")
        params.append(since)
    if until is not None:
        where.append(f"{at} < ?")
        params.append(until)
    sql = f"SELECT seq, {_ROW} FROM audit_log"
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += " ORDER BY seq"
    if limit is not None:
        sql += " LIMIT ?"
        params.append(limit)
    cur = db.execute(sql, params)
    yield from stream_entries(cur)
