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
from collections.abc import Iterable
from pathlib import Path
from types import TracebackType

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
"""


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

    def record(self, batch: str, sealed: Iterable[tuple[str, str]]) -> None:
        """Add (submission id, query-code hash) pairs sealed in ``batch``, in one
        transaction; pairs already there are kept as they are (a roll-forward)."""
        assert self._conn is not None
        rows = list(sealed)
        try:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                self._conn.executemany("INSERT OR IGNORE INTO sealed_ids VALUES (?, ?)", [(s, batch) for s, _c in rows])
                self._conn.executemany("INSERT OR IGNORE INTO sealed_codes VALUES (?, ?, ?)", [(c, s, batch) for s, c in rows])
                self._conn.execute("COMMIT")
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
        except sqlite3.OperationalError as exc:
            if "locked" in str(exc):
                raise BusyError("the seal register is locked by another seal", hint="run seal again to finish this batch") from None
            raise self._damaged(exc) from None
        except sqlite3.DatabaseError as exc:
            raise self._damaged(exc) from None


__all__ = ["Register"]
