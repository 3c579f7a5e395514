"""The store file: connection, pragmas, transactions, locking, migrations (cluetool/store/migrations.py).

Decisions:

- WAL journal (readers never wait for the writer) with ``synchronous=FULL``: every
  commit is fsynced, so an import reported as done survives a power cut. In WAL mode
  that costs one fsync per transaction, which an import of thousands of reports per
  transaction does not notice.
- ``foreign_keys=ON``, ``trusted_schema=OFF`` and ``temp_store=MEMORY`` on every
  connection; the last keeps SQLite's sort and index temp files (report content) out of
  the system temp directory.
- The connection runs in autocommit mode (``isolation_level=None``) with
  ``query_only=ON``; writes happen only inside ``Store.write()``, which lifts
  ``query_only`` and issues ``BEGIN IMMEDIATE`` so the write lock is taken up front. A
  second writer waits up to ``wait`` seconds (SQLite's busy timeout) and then gets
  ``BusyError`` (exit 75). A transaction is all or nothing: an exception, a crash or a
  kill leaves the store as it was before ``BEGIN``.
- ``store.db`` is created 0600 before SQLite opens it; SQLite gives its ``-wal`` and
  ``-shm`` files the database file's mode. The parent directory is created 0700 if
  missing.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from cluetool.config import fsync_dir
from cluetool.errors import BusyError, StateError
from cluetool.store import audit_entries
from cluetool.store.blobs import BlobStore
from cluetool.sqlerrors import read_only_fs, translate
from cluetool.store.migrations import APPLICATION_ID, Migration, latest_version, pending

MIGRATION_ACTOR = "cluetool"


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


def _translate(exc: sqlite3.Error, path: Path) -> Exception | None:
    """The ``ClueError`` an SQLite error means at the store boundary, if any."""
    return translate(exc, path)


class Tx:
    """An open transaction of a ``Store`` (from ``Store.write()`` or ``Store.read()``).

    Only code in ``cluetool.store`` calls ``execute``; everyone else passes the ``Tx`` to
    the functions of ``cluetool.store.queries`` and ``cluetool.store.audit_entries``.
    """

    def __init__(self, store: Store, *, writable: bool) -> None:
        self.store = store
        self.writable = writable
        self.active = True

    def _conn(self) -> sqlite3.Connection:
        if not self.active:
            raise RuntimeError("transaction already ended")
        return self.store._conn

    def execute(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> sqlite3.Cursor:
        return self._conn().execute(sql, params)

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> sqlite3.Cursor:
        return self._conn().executemany(sql, rows)

    def lock(self, name: str) -> None:
        """Serialise with other writers on ``name`` (``audit``, ``source:NAME``) until the
        transaction ends. SQLite has one writer at a time already: nothing to do here;
        the PostgreSQL store takes an advisory lock (``cluetool.store.pgstore``)."""

    def next_ids(self, table: str, count: int) -> int:
        """The first of ``count`` consecutive new ids of ``table`` (the write lock is
        held, so ``max(id)`` cannot move until the commit)."""
        return int(self.execute(f"SELECT coalesce(max(id), 0) + 1 FROM {table}").fetchone()[0])


def _data_version(tx: Tx) -> int:
    # A read first: it begins the transaction's snapshot (BEGIN DEFERRED does not).
    tx.execute("SELECT count(*) FROM sqlite_master").fetchone()
    return int(tx.execute("PRAGMA data_version").fetchone()[0])


# New stores use 2 KiB pages: a report row of about 2 KiB then takes about 2.3 KB
# (its first bytes in the table page, the rest in one overflow page) instead of a 4 KiB
# page of its own, and each page an import dirties in an index on a random key (submission
# id, query-code hash, fingerprint) costs half as much
# to write to the WAL and back.
# Measured with benchmarks/bench_import.py over 1,000,000 reports: a store of 3.1 GB
# instead of 4.7 GB, and the last 10,000-report batch 2.1 s instead of 2.3 s.
PAGE_SIZE = 2048
CACHE_KIB = 256 * 1024  # the page cache: 256 MiB at most


class Store:
    """The SQLite store of a home (``store.db``) and its blob directory.

    Open with ``Store.open`` or ``Store.create``; close with ``close()`` or use it as a
    context manager.
    """

    backend = "sqlite"

    def __init__(self, conn: sqlite3.Connection, path: Path, blobs: BlobStore, wait: float) -> None:
        self._conn = conn
        self.path = path
        self.blobs = blobs
        self.wait = wait
        self._in_tx = False
        self._uri: str | None = None  # for a second read-only connection (``read_pair``)

    # -- opening -----------------------------------------------------------------------

    @classmethod
    def open(
        cls,
        path: Path,
        *,
        wait: float = 10.0,
        now: datetime | None = None,
        blobs_dir: Path | None = None,
        readonly: bool = False,
    ) -> Store:
        """Open an existing store and run its pending forward migrations.

        With ``readonly``, or when the store cannot be written (a read-only mount, a file
        this user may only read), the connection is read-only: reading works, writing
        fails with exit 3 naming the cause. A read-only store with pending migrations
        cannot be used.

        Each migration is one transaction and is recorded in the audit log as
        ``store.migrate`` at ``now`` (default: the current time).

        Raises:
            StateError: no store at ``path``, not a cluetool store, unreadable, or its
                schema is newer than this cluetool's.
            BusyError: a migration is needed and another process holds the write lock
                for longer than ``wait`` seconds.
        """
        path = Path(path)
        try:
            path.stat()
        except FileNotFoundError:
            raise StateError(
                f'store not initialised: no "{path}"',
                hint=f"run: cluetool init --home {path.parent}",
            ) from None
        except OSError as exc:  # e.g. a home directory this user may not enter
            raise StateError(f'cannot use store "{path}": {exc.strerror or exc}',
                             hint="check the owner and permissions of the home and its store") from None
        if not path.is_file():
            raise StateError(f'cannot use store "{path}": not a regular file')
        ro_fs = read_only_fs(path)
        writable = not ro_fs and os.access(path, os.W_OK) and os.access(path.parent, os.W_OK)
        if readonly or not writable:
            # immutable ignores the -wal file: only when there is none to read (a store
            # closed cleanly); otherwise SQLite reads it through an existing -shm.
            wal = Path(f"{path}-wal")
            pending_wal = wal.exists() and wal.stat().st_size > 0
            store = cls._connect(path, wait=wait, blobs_dir=blobs_dir, create=False, mode="ro",
                                 immutable=ro_fs and not pending_wal)
            try:
                version = store._check_identity(allow_empty=False)
                if not any(True for _ in pending(version, None)):
                    store._conn.execute("PRAGMA query_only = ON")
                    return store
                if not writable:
                    raise StateError(
                        f'store "{path}" is at schema v{version} and needs migrating, but it cannot be written',
                        hint="run any command that changes the store once, with the store writable",
                    )
            except BaseException:
                store.close()
                raise
            store.close()  # migrate through a writable connection
        store = cls._connect(path, wait=wait, blobs_dir=blobs_dir, create=False)
        try:
            version = store._check_identity(allow_empty=False)
            store._ensure_wal()
            store._migrate(version, None, now)
            store._conn.execute("PRAGMA query_only = ON")
        except BaseException:
            store.close()
            raise
        return store

    @classmethod
    def create(
        cls,
        path: Path,
        *,
        wait: float = 10.0,
        now: datetime | None = None,
        blobs_dir: Path | None = None,
        exist_ok: bool = False,
        version: int | None = None,
    ) -> Store:
        """Create ``store.db`` (0600, WAL) and its blob directory, and migrate it to the
        latest schema (or to ``version``, which only migration tests use).

        With ``exist_ok`` an existing store is opened (and migrated) instead.

        Raises:
            StateError: ``path`` exists (without ``exist_ok``), is not a cluetool store,
                or cannot be created.
            BusyError: see ``open``.
        """
        path = Path(path)
        try:
            if not path.parent.exists():
                path.parent.mkdir(mode=0o700, parents=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
            try:
                os.fchmod(fd, 0o600)
                os.fsync(fd)
            finally:
                os.close(fd)
            fsync_dir(path.parent)
        except FileExistsError:
            if not exist_ok:
                raise StateError(f'store "{path}" already exists') from None
            if path.stat().st_size > 0:
                store = cls.open(path, wait=wait, now=now, blobs_dir=blobs_dir)
                store.blobs.ensure_root()
                return store
            # An empty file is a create that stopped before its first commit: finish it.
        except OSError as exc:
            raise StateError(f'cannot create store "{path}": {exc.strerror}') from None
        store = cls._connect(path, wait=wait, blobs_dir=blobs_dir, create=True)
        try:
            current = store._check_identity(allow_empty=True)
            if current == 0:
                # Only possible before the first write, which fixes the page size.
                store._conn.execute(f"PRAGMA page_size = {PAGE_SIZE}")
            store._ensure_wal()
            store._migrate(current, version, now)
            store._conn.execute("PRAGMA query_only = ON")
            store.blobs.ensure_root()
        except OSError as exc:
            store.close()
            raise StateError(f'cannot create store "{path}": {exc.strerror}') from None
        except BaseException:
            store.close()
            raise
        return store

    @classmethod
    def _connect(cls, path: Path, *, wait: float, blobs_dir: Path | None, create: bool,
                 mode: str = "rw", immutable: bool = False) -> Store:
        if wait < 0:
            raise ValueError("wait must not be negative")
        # mode=rw: never create a database file implicitly (Store.create makes it first).
        # immutable (a read-only mount only): no locks and no -shm file, which SQLite
        # could not create there; nothing can change the file meanwhile.
        uri = path.resolve().as_uri() + f"?mode={mode}" + ("&immutable=1" if immutable else "")
        twin_uri = path.resolve().as_uri() + "?mode=ro" + ("&immutable=1" if immutable else "")
        try:
            conn = sqlite3.connect(
                uri, uri=True, timeout=wait, isolation_level=None, cached_statements=256
            )
        except sqlite3.Error as exc:
            raise _translate(exc, path) or StateError(
                f'cannot open store "{path}"', hint="check the file and its permissions"
            ) from None
        store = cls(conn, path, BlobStore(blobs_dir if blobs_dir is not None else path.parent / "blobs"), wait)
        store._uri = twin_uri
        try:
            for pragma in (
                "PRAGMA foreign_keys = ON",
                "PRAGMA synchronous = FULL",
                f"PRAGMA cache_size = -{CACHE_KIB}",  # at most: keeps the random-key indexes of big stores hot
                "PRAGMA temp_store = MEMORY",
                "PRAGMA trusted_schema = OFF",
                f"PRAGMA busy_timeout = {int(wait * 1000)}",
            ):
                conn.execute(pragma)
        except sqlite3.Error as exc:
            conn.close()
            raise _translate(exc, path) or StateError(f'cannot use store "{path}": {exc}') from None
        return store

    def _check_identity(self, *, allow_empty: bool) -> int:
        """The store's schema version, after checking the file is a cluetool store."""
        try:
            app_id = self._conn.execute("PRAGMA application_id").fetchone()[0]
            version = self._conn.execute("PRAGMA user_version").fetchone()[0]
            tables = self._conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
        except sqlite3.Error as exc:
            raise _translate(exc, self.path) or StateError(
                f'cannot use store "{self.path}": {exc}'
            ) from None
        if app_id == 0 and version == 0 and tables == 0:
            if allow_empty:
                return 0
            raise StateError(
                f'store not initialised: "{self.path}" is empty',
                hint=f"run: cluetool init --home {self.path.parent}",
            )
        if app_id != APPLICATION_ID:
            raise StateError(
                f'cannot use store "{self.path}": not a cluetool store',
                hint="point --home at a cluetool home, or move the file aside",
            )
        latest = latest_version()
        if version > latest:
            raise StateError(
                f"store schema v{version} is newer than this cluetool (v{latest})",
                hint="upgrade cluetool",
            )
        return version

    def _ensure_wal(self) -> None:
        try:
            mode = self._conn.execute("PRAGMA journal_mode").fetchone()[0]
            if str(mode).lower() != "wal":
                mode = self._conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        except sqlite3.Error as exc:
            raise _translate(exc, self.path) or StateError(
                f'cannot use store "{self.path}": {exc}'
            ) from None
        if str(mode).lower() != "wal":
            raise StateError(f'cannot use store "{self.path}": cannot enable WAL mode')

    # -- migrations --------------------------------------------------------------------

    @property
    def schema_version(self) -> int:
        """``PRAGMA user_version``: the schema version the store is at."""
        return int(self._conn.execute("PRAGMA user_version").fetchone()[0])

    def _migrate(self, current: int, target: int | None, now: datetime | None) -> None:
        for migration in pending(current, target):
            self._apply(migration, now if now is not None else _utcnow())

    def _apply(self, migration: Migration, at: datetime) -> None:
        conn = self._conn
        # Foreign keys off for the script (table rebuilds), checked before the commit.
        # The pragma is a no-op inside a transaction, so it is set around it.
        conn.execute("PRAGMA foreign_keys = OFF")
        try:
            with self.write() as tx:
                # Another process may have migrated while this one waited for the lock.
                if self.schema_version >= migration.version:
                    return
                for statement in migration.statements():
                    try:
                        tx.execute(statement)
                    except sqlite3.IntegrityError as exc:
                        # Rows the new schema refuses (e.g. a submission id stored twice,
                        # possible before v6): nothing changes, the store stays as it was.
                        raise StateError(
                            f"migration to store schema v{migration.version} refused by the store's rows: {exc}",
                            hint="the store is unchanged; find the rows with the sqlite3 shell and settle them first",
                        ) from None
                tx.execute(f"PRAGMA user_version = {int(migration.version)}")
                broken = tx.execute("PRAGMA foreign_key_check").fetchone()
                if broken is not None:
                    raise StateError(
                        f"migration to store schema v{migration.version} breaks a foreign key "
                        f"in table {broken[0]}"
                    )
                audit_entries.append_entry(
                    tx,
                    at=at,
                    actor=MIGRATION_ACTOR,
                    action="store.migrate",
                    object="store",
                    details={
                        "from": migration.version - 1,
                        "to": migration.version,
                        "script_sha256": migration.sha256,
                    },
                )
        finally:
            conn.execute("PRAGMA foreign_keys = ON")

    def table_names(self) -> list[str]:
        """The store's tables, by name."""
        return [r[0] for r in self._conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")]

    @contextmanager
    def bounded_cache(self, kib: int) -> Iterator[None]:
        """A smaller page cache meanwhile: for a bulk write that must run in bounded
        memory (an import's report pages would otherwise fill the cache with dirty
        pages until the commit; a smaller cache spills them to the WAL sooner)."""
        self._conn.execute(f"PRAGMA cache_size = -{int(kib)}")
        try:
            yield
        finally:
            self._conn.execute(f"PRAGMA cache_size = -{CACHE_KIB}")

    # -- transactions ------------------------------------------------------------------

    @contextmanager
    def write(self, *, wait: float | None = None) -> Iterator[Tx]:
        """A write transaction (``BEGIN IMMEDIATE``): committed when the block ends,
        rolled back if it raises. ``wait`` overrides the store's wait for the lock.

        Raises:
            BusyError: another process held the write lock for longer than ``wait``.
            StateError: the store file is damaged, read-only or the disk is full.
        """
        with self._transaction("BEGIN IMMEDIATE", writable=True, wait=wait) as tx:
            yield tx

    @contextmanager
    def read(self) -> Iterator[Tx]:
        """A read transaction: every query in the block sees the same snapshot."""
        with self._transaction("BEGIN DEFERRED", writable=False) as tx:
            yield tx

    @contextmanager
    def read_pair(self, *, tries: int = 3) -> Iterator[tuple[Tx, Tx | None]]:
        """Two read transactions on one snapshot: this connection's and a second
        read-only connection's, which another thread may use (SQLite runs a statement
        without holding the GIL, so two statements, one per connection, use two cores).
        ``None`` in the second place when there is no second connection (``_twin``) or
        no two transactions on one snapshot were begun in ``tries`` tries (commits kept
        coming in between): then everything runs on the first.

        Why one snapshot: the second connection reads (snapshot 1), this one begins and
        reads (its snapshot), the second begins again and reads (snapshot 2). SQLite's
        ``PRAGMA data_version`` of a connection changes whenever another connection
        committed between its reads; if it is the same at snapshots 1 and 2, nothing was
        committed from before this connection's snapshot to after it, so all three are
        the same state. A change (a commit, or a checkpoint that reset the WAL) means try
        again.
        """
        twin = self._twin()
        if twin is None:
            with self.read() as tx:
                yield tx, None
            return
        try:
            for _ in range(tries):
                with ExitStack() as stack:
                    with twin.read() as probe:
                        before = _data_version(probe)
                    tx = stack.enter_context(self.read())
                    tx.execute("SELECT count(*) FROM sqlite_master").fetchone()
                    other = stack.enter_context(twin.read())
                    if _data_version(other) == before:
                        yield tx, other
                        return
            with self.read() as tx:
                yield tx, None
        finally:
            twin.close()

    def _twin(self) -> Store | None:
        """A second read-only connection to the same file, usable from another thread
        (``None`` where there is none to be had)."""
        if self._uri is None:
            return None
        try:
            conn = sqlite3.connect(self._uri, uri=True, timeout=self.wait, isolation_level=None,
                                   cached_statements=64, check_same_thread=False)
            twin = Store(conn, self.path, self.blobs, self.wait)
            for pragma in (f"PRAGMA cache_size = -{CACHE_KIB}", "PRAGMA temp_store = MEMORY",
                           "PRAGMA trusted_schema = OFF", f"PRAGMA busy_timeout = {int(self.wait * 1000)}",
                           "PRAGMA query_only = ON"):
                conn.execute(pragma)
        except sqlite3.Error:
            return None
        return twin

    @contextmanager
    def _transaction(self, begin: str, *, writable: bool, wait: float | None = None) -> Iterator[Tx]:
        if self._in_tx:
            raise RuntimeError("store transactions do not nest")
        conn = self._conn
        if writable:
            conn.execute("PRAGMA query_only = OFF")
        try:
            if wait is not None:
                conn.execute(f"PRAGMA busy_timeout = {int(wait * 1000)}")
            try:
                conn.execute(begin)
            finally:
                if wait is not None:
                    conn.execute(f"PRAGMA busy_timeout = {int(self.wait * 1000)}")
        except sqlite3.Error as exc:
            if writable:
                conn.execute("PRAGMA query_only = ON")
            raise _translate(exc, self.path) or exc from None
        self._in_tx = True
        tx = Tx(self, writable=writable)
        try:
            yield tx
        except BaseException as exc:
            self._rollback()
            if isinstance(exc, sqlite3.Error):
                mapped = _translate(exc, self.path)
                if mapped is not None:
                    raise mapped from None
            raise
        else:
            try:
                conn.execute("COMMIT")
            except sqlite3.Error as exc:
                self._rollback()
                raise _translate(exc, self.path) or exc from None
        finally:
            tx.active = False
            self._in_tx = False
            if writable:
                conn.execute("PRAGMA query_only = ON")

    def _rollback(self) -> None:
        if self._conn.in_transaction:
            try:
                self._conn.execute("ROLLBACK")
            except sqlite3.Error:
                # SQLite may already have rolled back (e.g. after SQLITE_FULL).
                pass

    def execute(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> sqlite3.Cursor:
        """Run one read statement in autocommit mode (for ``cluetool.store`` modules);
        writing here fails (``query_only``): writes go through ``write()``."""
        return self._conn.execute(sql, params)

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> sqlite3.Cursor:
        return self._conn.executemany(sql, rows)

    # -- closing -----------------------------------------------------------------------

    def close(self) -> None:
        """Close the connection (a transaction still open is rolled back)."""
        self._conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, exc_type: object, exc: BaseException | None, tb: object) -> None:
        self.close()
        # An error met while reading rows (a damaged page, text that is not UTF-8) is
        # raised by the cursor, outside ``execute``: it is translated here.
        if isinstance(exc, (sqlite3.Error, UnicodeDecodeError)):
            mapped = translate(exc, self.path)
            if mapped is not None:
                raise mapped from None
