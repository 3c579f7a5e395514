"""Attachment blobs in the PostgreSQL store's tables (``--blobs-in-db``, issue 22): the
table implementation of ``cluetool.store.blobs.Blobs``
(``cluetool/data/postgresql/blobs.sql``).

Decisions:

- Content-addressed as the files are: ``blobs`` has one row per blob (its sha256, the
  primary key; its size; its number of chunks), ``blob_chunks`` its bytes in chunks of
  1 MiB (``bytea``), numbered from 0. Chunks, not one ``bytea`` value: a 500 MiB video is
  written, read and checked with 1 MiB in memory (a single value would be built whole
  on both sides of the connection, and ``bytea`` stops at 1 GiB).
- Written in the batch's own transaction (``transactional``): a batch that fails or is
  killed leaves no blob row, so there are no orphans to clean up after an import (the
  file implementation writes before the transaction and removes what it created).
- De-duplicated by the key: chunk 0 is inserted with ``ON CONFLICT DO NOTHING``; when it
  is there already (committed by an earlier batch, or by a concurrent one, whose commit
  the insert waits for) the blob is not written again, but its bytes are still read and
  hashed: content that does not match its name is refused either way. The ``blobs`` row
  is written last (its foreign key from the chunks is deferred to the commit), also
  with ``ON CONFLICT DO NOTHING``.
- A put is under a savepoint: content that does not match its name leaves no row.
- Rows are added, and orphans removed by ``store check --repair``, never changed: a
  trigger refuses ``UPDATE`` on both tables and ``TRUNCATE`` is revoked (``UPDATE``
  cannot be: the foreign key's checks lock rows ``FOR KEY SHARE``, which needs it).
"""

from __future__ import annotations

import hashlib
import io
import itertools
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, BinaryIO

from cluetool.errors import InputError, StateError
from cluetool.model.store import BlobProblem
from cluetool.store.blobs import _check_sha

if TYPE_CHECKING:
    from cluetool.store.db import Store

CHUNK = 1024 * 1024
# Rows fetched at a time while checking (each up to one chunk): memory stays bounded.
_CHECK_ROWS = 16
_SAVEPOINT = "cluetool_blob_put"


def _read_full(src: BinaryIO, n: int) -> bytes:
    """Up to ``n`` bytes, fewer only at the end: chunk boundaries do not depend on how
    the source hands out its bytes (two writers of one blob write the same chunks)."""
    parts: list[bytes] = []
    want = n
    while want > 0:
        part = src.read(want)
        if not part:
            break
        parts.append(part)
        want -= len(part)
    return b"".join(parts)


class TableBlobs:
    """The blobs of a PostgreSQL store, in its ``blobs`` and ``blob_chunks`` tables."""

    transactional = True

    def __init__(self) -> None:
        self._store: Store | None = None

    def bind(self, store: Store) -> None:
        """The store whose connection (and transaction) the blobs are read and written on."""
        self._store = store

    @property
    def store(self) -> Store:
        if self._store is None:
            raise RuntimeError("the table blobs are not bound to a store")
        return self._store

    def _execute(self, sql: str, params: tuple[Any, ...] = ()) -> Any:
        return self.store._conn.execute(sql, params)

    def _require_tx(self, what: str) -> None:
        if not self.store._in_tx:
            raise RuntimeError(f"blobs in the database are {what} in a write transaction of the store")

    @contextmanager
    def _snapshot(self) -> Iterator[None]:
        # Named (server-side) cursors live in a transaction: the caller's, or a read one.
        if self.store._in_tx:
            yield
        else:
            with self.store.read():
                yield

    def ensure_root(self) -> None:
        """Nothing to create: the tables come with the store (``init --blobs-in-db``)."""

    def name(self, sha256: str) -> str:
        """How problems and messages name the blob: ``blobs:<sha256>``."""
        return f"blobs:{sha256}"

    def exists(self, sha256: str) -> bool:
        _check_sha(sha256)
        return self._execute("SELECT 1 FROM blobs WHERE sha256 = ?", (sha256,)).fetchone() is not None

    def size(self, sha256: str) -> int | None:
        """The blob's size as its row records it (``None`` when there is no row)."""
        _check_sha(sha256)
        row = self._execute("SELECT size FROM blobs WHERE sha256 = ?", (sha256,)).fetchone()
        return None if row is None else int(row[0])

    def put(self, src: BinaryIO, expected_sha256: str | None = None) -> tuple[str, int]:
        """Store the bytes read from ``src`` in the current write transaction; their
        ``(sha256, size)``. Without ``expected_sha256`` the source must be seekable (it
        is read twice: the key first).

        Raises:
            InputError: the content does not match ``expected_sha256`` (no row is left).
            StateError: the database refused the rows.
        """
        if expected_sha256 is None:
            if not src.seekable():
                raise ValueError("a blob without its sha256 must come from a seekable source")
            start = src.tell()
            h = hashlib.sha256()
            while chunk := src.read(CHUNK):
                h.update(chunk)
            src.seek(start)
            expected_sha256 = h.hexdigest()
        _check_sha(expected_sha256)
        self._require_tx("written")
        self._execute(f"SAVEPOINT {_SAVEPOINT}")
        try:
            sha256, size = self._write(src, expected_sha256)
        except BaseException:
            try:
                self._execute(f"ROLLBACK TO SAVEPOINT {_SAVEPOINT}")
            except Exception:
                pass  # the transaction is lost anyway; the first error is the one to report
            raise
        self._execute(f"RELEASE SAVEPOINT {_SAVEPOINT}")
        return sha256, size

    def _write(self, src: BinaryIO, expected: str) -> tuple[str, int]:
        h = hashlib.sha256()
        size = 0
        n = 0
        writing: bool | None = None
        while True:
            chunk = _read_full(src, CHUNK)
            if n > 0 and not chunk:
                break
            h.update(chunk)
            size += len(chunk)
            if writing is None:  # chunk 0 claims the blob, or finds it stored
                writing = self._execute(
                    "INSERT INTO blob_chunks (sha256, n, data) VALUES (?, 0, ?) ON CONFLICT DO NOTHING RETURNING n",
                    (expected, chunk)).fetchone() is not None
            elif writing:
                self._execute("INSERT INTO blob_chunks (sha256, n, data) VALUES (?, ?, ?)", (expected, n, chunk))
            n += 1
            if len(chunk) < CHUNK:
                break
        got = h.hexdigest()
        if got != expected:
            raise InputError(f"attachment {expected} does not match its content (sha256 {got})")
        if writing:
            self._execute("INSERT INTO blobs (sha256, size, chunks) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
                          (expected, size, n))
        return got, size

    def open(self, sha256: str) -> BinaryIO:
        """The blob's bytes, read chunk by chunk as they are consumed.

        Raises:
            InputError: ``sha256`` is malformed.
            StateError: there is no such blob.
        """
        _check_sha(sha256)
        row = self._execute("SELECT chunks FROM blobs WHERE sha256 = ?", (sha256,)).fetchone()
        if row is None:
            raise StateError(f"blob {sha256} is missing from the store", hint="run: cluetool store check")
        return io.BufferedReader(_ChunkReader(self, sha256, int(row[0])), buffer_size=CHUNK)  # type: ignore[return-value]

    def chunk(self, sha256: str, n: int) -> bytes | None:
        row = self._execute("SELECT data FROM blob_chunks WHERE sha256 = ? AND n = ?", (sha256, n)).fetchone()
        return None if row is None else bytes(row[0])

    def remove(self, sha256: str) -> bool:
        """Remove a blob's rows; whether it was there. Only in a write transaction,
        after checking that no row references the blob (``store check --repair``)."""
        _check_sha(sha256)
        self._require_tx("removed")
        self._execute("DELETE FROM blob_chunks WHERE sha256 = ?", (sha256,))
        return self._execute("DELETE FROM blobs WHERE sha256 = ? RETURNING sha256", (sha256,)).fetchone() is not None

    def remove_stale_temps(self) -> list[str]:
        """Nothing: a write killed half-way rolls back with its transaction."""
        return []

    # -- checking ----------------------------------------------------------------------

    def _cursor(self, sql: str, name: str, rows: int) -> Iterator[tuple[Any, ...]]:
        with self.store._conn.raw.cursor(name=name) as cur:
            cur.itersize = rows
            cur.execute(sql)
            yield from cur

    def check(self, referenced: Iterable[tuple[str, int]]) -> Iterator[BlobProblem]:
        """Re-hash every blob, chunk by chunk: those ``referenced`` (``(sha256, size)`` in
        ascending sha256 order) and every row of ``blobs``. Yields ``blob.missing``,
        ``blob.tampered`` (errors: bytes, size or chunks that do not match the key or the
        attachment's size), ``blob.orphan`` (info: no attachment names it, removable)
        and ``blob.stray`` (info: chunks of no blob)."""
        with self._snapshot():
            refs = iter(referenced)
            ref = next(refs, None)
            rows = self._cursor("SELECT b.sha256, b.size, b.chunks, c.n, c.data FROM blobs b"
                                " LEFT JOIN blob_chunks c ON c.sha256 = b.sha256 ORDER BY b.sha256, c.n",
                                "cluetool_blobs_check", _CHECK_ROWS)
            for sha256, group in itertools.groupby(rows, key=lambda r: r[0]):
                while ref is not None and ref[0] < sha256:
                    yield self._missing(ref[0])
                    ref = next(refs, None)
                declared = None
                if ref is not None and ref[0] == sha256:
                    declared = ref[1]
                    ref = next(refs, None)
                yield from self._verify(sha256, group, declared)
            while ref is not None:
                yield self._missing(ref[0])
                ref = next(refs, None)
            for (sha256,) in self._execute(
                    "SELECT DISTINCT c.sha256 FROM blob_chunks c WHERE NOT EXISTS"
                    " (SELECT 1 FROM blobs b WHERE b.sha256 = c.sha256) ORDER BY 1").fetchall():
                yield BlobProblem(code="blob.stray", severity="info", object=f"blob_chunks:{sha256}",
                                  message="chunks of no blob row; removable")

    def _verify(self, sha256: str, group: Iterator[tuple[Any, ...]], declared: int | None) -> Iterator[BlobProblem]:
        h = hashlib.sha256()
        got = 0
        count = 0
        size = chunks = 0
        in_order = True
        for _sha, size, chunks, n, data in group:
            if n is None:
                continue  # no chunk at all
            in_order = in_order and n == count
            h.update(bytes(data))
            got += len(data)
            count += 1
        actual = h.hexdigest()
        if actual != sha256 or got != size or count != chunks or not in_order or (declared is not None and got != declared):
            expected = declared if declared is not None else size
            yield BlobProblem(
                code="blob.tampered", severity="error", object=self.name(sha256),
                message=(f"content does not match its name: sha256 {actual}, {got} bytes in {count} chunks "
                         f"(expected {expected} bytes in {chunks} chunks)"),
            )
        if declared is None:
            yield BlobProblem(code="blob.orphan", severity="info", object=self.name(sha256),
                              message="blob not referenced by any attachment; harmless, removable")

    def _missing(self, sha256: str) -> BlobProblem:
        return BlobProblem(code="blob.missing", severity="error", object=self.name(sha256),
                           message=f"attachment {sha256} has no blob")

    def unreferenced(self, referenced: Iterable[str]) -> Iterator[str]:
        """The blobs not ``referenced`` (sha256s in ascending order)."""
        with self._snapshot():
            refs = iter(referenced)
            ref = next(refs, None)
            for (sha256,) in self._cursor("SELECT sha256 FROM blobs ORDER BY sha256", "cluetool_blobs_unreferenced", 4096):
                while ref is not None and ref < sha256:
                    ref = next(refs, None)
                if ref != sha256:
                    yield sha256


class _ChunkReader(io.RawIOBase):
    """A blob's chunks as a readable stream (one chunk in memory at a time)."""

    def __init__(self, blobs: TableBlobs, sha256: str, chunks: int) -> None:
        self._blobs, self._sha256, self._chunks = blobs, sha256, chunks
        self._n = 0
        self._buf = b""

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        while not self._buf and self._n < self._chunks:
            data = self._blobs.chunk(self._sha256, self._n)
            if data is None:
                raise StateError(f"blob {self._sha256} lacks chunk {self._n}", hint="run: cluetool store check")
            self._buf = data
            self._n += 1
        k = min(len(b), len(self._buf))
        b[:k] = self._buf[:k]
        self._buf = self._buf[k:]
        return k
