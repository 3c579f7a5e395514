"""The intake's copy of the status feed (``state/feed/status.db``, SQLite): the chain of
feeds accepted, the public stage per query-code hash of the latest feed, and its receipt.

One intake takes its feed from one internal source (the first accepted fixes it). A feed
is accepted in one transaction: its chain row, its codes (replacing the previous
snapshot) and its receipt, so a kill leaves the previous feed whole or the new one whole.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from types import TracebackType

from cluetool.batch.chain import ChainStart
from cluetool.config import Home, make_private_dir
from cluetool.errors import BusyError, ClueError, StateError, os_cause
from cluetool.model.feed import STAGES, FeedManifest, ReceiptBatch
from cluetool.sqlerrors import translate

_SCHEMA = """
CREATE TABLE IF NOT EXISTS feeds (
    source TEXT NOT NULL,
    sequence INTEGER NOT NULL,
    manifest_sha256 TEXT NOT NULL,
    previous TEXT NOT NULL,
    created_at TEXT NOT NULL,
    imported_at TEXT NOT NULL,
    codes INTEGER NOT NULL,
    file TEXT NOT NULL,
    PRIMARY KEY (source, sequence)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS codes (
    query_code_sha256 BLOB PRIMARY KEY NOT NULL,
    stage INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS receipt (
    source TEXT NOT NULL,
    sequence INTEGER NOT NULL,
    manifest_sha256 TEXT NOT NULL,
    PRIMARY KEY (source, sequence)
) WITHOUT ROWID;
"""


def db_path(home: Home) -> Path:
    return home.state_dir / "feed" / "status.db"


class IntakeFeed:
    """The intake's feed database; use as a context manager.

    Raises (on entry):
        StateError: damaged or cannot be created; BusyError: locked for longer than ``wait``.
    """

    def __init__(self, home: Home, *, wait: float = 30.0, readonly: bool = False) -> None:
        self.path = db_path(home)
        self._wait = wait
        self._readonly = readonly
        self._conn: sqlite3.Connection | None = None
        if not readonly:
            make_private_dir(self.path.parent)

    def __enter__(self) -> IntakeFeed:
        try:
            if self._readonly:
                conn = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, isolation_level=None, timeout=self._wait)
            else:
                os.close(os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600))
                conn = sqlite3.connect(self.path, isolation_level=None, timeout=self._wait)
                conn.execute("PRAGMA journal_mode = WAL")
                conn.execute("PRAGMA synchronous = FULL")
                conn.executescript(_SCHEMA)
        except (sqlite3.DatabaseError, OSError) as exc:
            raise self._damaged(exc) from None
        self._conn = conn
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _damaged(self, exc: BaseException) -> ClueError:
        if isinstance(exc, OSError):
            return StateError(f'cannot write in "{self.path.parent}": {os_cause(exc)}')
        if isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc):
            return BusyError("the intake's status feed is locked by another feed import", hint="try again when it has finished")
        mapped = translate(exc, self.path, what="status feed database", damage=False)
        if mapped is not None:
            return mapped
        return StateError(f'status feed database "{self.path}" is unusable: {exc}',
                          hint="import the latest .status file again after moving it aside")

    def _rows(self, sql: str, params: tuple[object, ...] = ()) -> list[tuple]:
        assert self._conn is not None
        try:
            return self._conn.execute(sql, params).fetchall()
        except sqlite3.DatabaseError as exc:
            raise self._damaged(exc) from None

    def feed_source(self) -> str | None:
        """The internal source this intake takes its feed from, once one was accepted."""
        rows = self._rows("SELECT DISTINCT source FROM feeds LIMIT 1")
        return rows[0][0] if rows else None

    def last(self, source: str) -> ChainStart | None:
        rows = self._rows("SELECT sequence, manifest_sha256 FROM feeds WHERE source = ? ORDER BY sequence DESC LIMIT 1", (source,))
        return ChainStart(sequence=rows[0][0], manifest_sha256=rows[0][1]) if rows else None

    def accepted(self, source: str, sequence: int) -> str | None:
        rows = self._rows("SELECT manifest_sha256 FROM feeds WHERE source = ? AND sequence = ?", (source, sequence))
        return rows[0][0] if rows else None

    def latest(self) -> tuple[str, int, str] | None:
        """(file, sequence, created_at) of the feed the codes come from."""
        rows = self._rows("SELECT file, sequence, created_at FROM feeds ORDER BY imported_at DESC, sequence DESC LIMIT 1")
        return (rows[0][0], rows[0][1], rows[0][2]) if rows else None

    def receipt(self) -> list[ReceiptBatch]:
        return [ReceiptBatch(source=r[0], sequence=r[1], manifest_sha256=r[2])
                for r in self._rows("SELECT source, sequence, manifest_sha256 FROM receipt ORDER BY source, sequence")]

    def stage_of(self, query_code_sha256: str) -> str | None:
        rows = self._rows("SELECT stage FROM codes WHERE query_code_sha256 = ?", (bytes.fromhex(query_code_sha256),))
        return STAGES[rows[0][0]] if rows else None

    def accept(
        self, manifest: FeedManifest, manifest_sha256: str, file: str, *, imported_at: str,
        codes: list[tuple[bytes, int]], receipt: list[ReceiptBatch],
    ) -> None:
        """Record the feed, replace the codes and the receipt: one transaction."""
        assert self._conn is not None
        conn = self._conn
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                conn.execute("INSERT INTO feeds VALUES (?, ?, ?, ?, ?, ?, ?, ?)", (
                    manifest.source, manifest.sequence, manifest_sha256, manifest.previous, manifest.created_at,
                    imported_at, len(codes), file))
                conn.execute("DELETE FROM codes")
                conn.executemany("INSERT INTO codes VALUES (?, ?)", codes)
                conn.execute("DELETE FROM receipt")
                conn.executemany("INSERT INTO receipt VALUES (?, ?, ?)",
                                 [(b.source, b.sequence, b.manifest_sha256) for b in receipt])
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        except sqlite3.DatabaseError as exc:
            raise self._damaged(exc) from None
