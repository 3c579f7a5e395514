"""The intake's register of what it has sealed: every submission id and query-code hash,
with the batch that carried it (``state/seal/register.db``, SQLite, one row per key).

``seal`` looks submissions up before sealing them (a re-sent id is
``submission.resent``, a reused query code ``submission.code_reused``, each naming the
earlier batch). Rows are added by ``seal._finish`` from the seal journal, after the batch
file is in place and before the journal is dropped: a kill before that leaves the
journal, whose roll-forward adds them again (idempotently); a rolled-back batch never
reaches the register.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable, Iterable
from pathlib import Path
from types import TracebackType

import msgspec

from cluetool.config import Home, make_private_dir
from cluetool.errors import BusyError, ClueError, StateError, os_cause
from cluetool.sqlerrors import translate

_SCHEMA = """
CREATE TABLE IF NOT EXISTS sealed_ids (
    submission_id TEXT PRIMARY KEY NOT NULL,
    batch TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS sealed_codes (
    query_code_sha256 TEXT PRIMARY KEY NOT NULL,
    submission_id TEXT NOT NULL,
    batch TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS sealed_batches (
    batch TEXT PRIMARY KEY NOT NULL,
    source TEXT NOT NULL,
    sequence INTEGER NOT NULL,
    manifest_sha256 TEXT NOT NULL,
    done_dir TEXT NOT NULL,
    submissions INTEGER NOT NULL,
    sealed_at TEXT NOT NULL,
    confirmed_at TEXT,
    confirmed_by TEXT,
    purge_count INTEGER,
    purged_at TEXT
) WITHOUT ROWID;
"""


class SealedBatchRow(msgspec.Struct, kw_only=True):
    """A batch this intake sealed (``sealed_batches``): where its submissions went in
    ``SPOOL.done/``, and whether a status feed's receipt confirmed it and it was purged.
    ``purge_count`` is set when a purge starts (the submissions it deletes)."""

    batch: str
    source: str
    sequence: int
    manifest_sha256: str
    done_dir: str
    submissions: int
    sealed_at: str
    confirmed_at: str | None = None
    confirmed_by: str | None = None
    purge_count: int | None = None
    purged_at: str | None = None


_BATCH_COLS = ("batch, source, sequence, manifest_sha256, done_dir, submissions, sealed_at, confirmed_at, confirmed_by,"
               " purge_count, purged_at")


class Register:
    """The register of one intake home; use as a context manager.

    Raises (on entry):
        StateError: the register file is damaged or cannot be created.
    """

    def __init__(self, home: Home, *, wait: float = 30.0) -> None:
        make_private_dir(home.state_dir)
        make_private_dir(home.state_dir / "seal")
        self.path: Path = home.state_dir / "seal" / "register.db"
        self._wait = wait
        self._conn: sqlite3.Connection | None = None

    def __enter__(self) -> Register:
        try:
            os.close(os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600))
            conn = sqlite3.connect(self.path, isolation_level=None, timeout=self._wait)
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = FULL")
            conn.executescript(_SCHEMA)
        except sqlite3.OperationalError as exc:
            if "locked" in str(exc):
                raise BusyError("the seal register is locked by another seal", hint="try again when it has finished") from None
            raise self._damaged(exc) from None
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
        mapped = translate(exc, self.path, what="seal register", damage=False)  # full, read-only, denied
        if mapped is not None:
            return mapped
        return StateError(f'seal register "{self.path}" is unusable: {exc}',
                          hint="restore state/seal/ from a backup; never delete the register to get past this")

    def _one(self, sql: str, key: str) -> tuple[str, ...] | None:
        assert self._conn is not None
        try:
            return self._conn.execute(sql, (key,)).fetchone()
        except sqlite3.DatabaseError as exc:
            raise self._damaged(exc) from None

    def batch_of_id(self, submission_id: str) -> str | None:
        """The batch that carried this submission id, if one did."""
        row = self._one("SELECT batch FROM sealed_ids WHERE submission_id = ?", submission_id)
        return None if row is None else row[0]

    def batch_of_code(self, query_code_sha256: str) -> tuple[str, str] | None:
        """(batch, submission id) of the sealed submission with this query-code hash."""
        row = self._one("SELECT batch, submission_id FROM sealed_codes WHERE query_code_sha256 = ?", query_code_sha256)
        return None if row is None else (row[0], row[1])

    def record(self, batch: str, sealed: Iterable[tuple[str, str]], info: SealedBatchRow | None = None) -> None:
        """Add (submission id, query-code hash) pairs sealed in ``batch``, and the batch's
        row (``info``), in one transaction; rows already there are kept as they are (a
        roll-forward)."""
        rows = list(sealed)

        def work(conn: sqlite3.Connection) -> None:
            conn.executemany("INSERT OR IGNORE INTO sealed_ids VALUES (?, ?)", [(s, batch) for s, _c in rows])
            conn.executemany("INSERT OR IGNORE INTO sealed_codes VALUES (?, ?, ?)", [(c, s, batch) for s, c in rows])
            if info is not None:
                conn.execute(f"INSERT OR IGNORE INTO sealed_batches ({_BATCH_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                             msgspec.structs.astuple(info))

        self._write(work, "run seal again to finish this batch")

    def batches(self) -> list[SealedBatchRow]:
        """Every batch row, by batch name."""
        assert self._conn is not None
        try:
            rows = self._conn.execute(f"SELECT {_BATCH_COLS} FROM sealed_batches ORDER BY batch").fetchall()
        except sqlite3.DatabaseError as exc:
            raise self._damaged(exc) from None
        return [SealedBatchRow(**dict(zip(SealedBatchRow.__struct_fields__, r))) for r in rows]

    def confirm(self, batches: Iterable[str], *, at: str, by: str) -> None:
        """Mark batches confirmed by the feed ``by`` (those not confirmed before)."""
        names = list(batches)
        self._write(lambda conn: conn.executemany(
            "UPDATE sealed_batches SET confirmed_at = ?, confirmed_by = ? WHERE batch = ? AND confirmed_at IS NULL",
            [(at, by, n) for n in names]), "run feed import again")

    def start_purge(self, batch: str, count: int) -> None:
        """Record that the purge of ``batch`` starts, deleting ``count`` submissions."""
        self._write(lambda conn: conn.execute(
            "UPDATE sealed_batches SET purge_count = ? WHERE batch = ? AND confirmed_at IS NOT NULL", (count, batch)),
            "run feed import again")

    def finish_purge(self, batch: str, at: str) -> None:
        self._write(lambda conn: conn.execute(
            "UPDATE sealed_batches SET purged_at = ?, purge_count = coalesce(purge_count, 0) WHERE batch = ?", (at, batch)),
            "run feed import again")

    def _write(self, work: Callable[[sqlite3.Connection], object], hint: str) -> None:
        assert self._conn is not None
        try:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                work(self._conn)
                self._conn.execute("COMMIT")
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
        except sqlite3.OperationalError as exc:
            if "locked" in str(exc):
                raise BusyError("the seal register is locked by another seal", hint=hint) from None
            raise self._damaged(exc) from None
        except sqlite3.DatabaseError as exc:
            raise self._damaged(exc) from None


__all__ = ["Register", "SealedBatchRow"]
