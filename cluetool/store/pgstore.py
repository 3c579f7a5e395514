"""The store on PostgreSQL (issue 22): the same ``Store`` / ``Tx`` interface as the SQLite
store, over a psycopg 3 connection (``cluetool.store.pgsql``).

Decisions:

- Opened by a ``postgresql://`` URL (libpq's; or ``postgres://``). A password is never
  part of the URL given in ``config.toml``: libpq's ``PGPASSFILE`` / service file, or an
  environment variable named by ``--store-password-env`` / ``store_password_env``.
- Write transactions are ``READ COMMITTED`` and serialise only where the SQLite store's
  single writer mattered: the audit log's next ``seq`` (a transaction-level advisory
  lock taken just before the entries are numbered, held to the commit, so the Merkle log
  stays one gap-free sequence), a source's chain (an advisory lock per source, taken
  when a write transaction reads the source's state: two importers of one source
  serialise, importers of different sources do not), and blocks of report and event ids
  (a sequence advanced under a short session lock, so a batch's ids are consecutive;
  event ids are numbered under the audit lock, which their transaction takes anyway).
  Everything else is row locks: handlers recording events on different clues do not
  wait for each other until the audit append at the end of their transaction.
- ``wait`` is ``lock_timeout``: a lock not granted within it is ``BusyError`` (exit 75),
  as SQLite's busy timeout is. A deadlock or a serialisation failure is
  ``ConflictRolledBack`` (a ``BusyError``): import runs its batch again (up to 3
  attempts); other commands report it as busy (run again).
- Read transactions are ``REPEATABLE READ READ ONLY``: one snapshot, as SQLite's.
- Blobs: content-addressed files in the home (a directory several importer machines
  share, e.g. over NFS: see docs/operations.md), as for SQLite; or, for a store created
  with ``--blobs-in-db``, rows of its ``blobs`` tables (``cluetool.store.blobtable``),
  written in the batch's transaction. The store records which (``cluetool_meta``
  ``blobs = table``) and ``config.toml`` says it too (``blobs_in_db``); opening a store
  with the other setting is refused, so that no machine writes file blobs for a store
  whose blobs are in the database, or the reverse.
- The schema is ``cluetool/data/postgresql/schema.sql`` (the SQLite schema v7, in
  PostgreSQL's types), run once at ``init`` in one transaction that also writes the
  ``store.migrate`` audit entry (from 0 to 7, with the script's sha256).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit, urlunsplit

from cluetool.errors import BusyError, ConflictRolledBack, StateError
from cluetool.model.store import StoreProblem
from cluetool.store import audit_entries as _audit
from cluetool.store.blobs import Blobs, BlobStore
from cluetool.store.blobtable import TableBlobs
from cluetool.store.db import MIGRATION_ACTOR, Store, Tx

SCHEMA_VERSION = 9  # the SQLite schema version whose tables and indexes schema.sql has
APPLICATION = "cluetool"
_URL = re.compile(r"^postgres(?:ql)?://", re.I)


def is_url(location: object) -> bool:
    """Whether a store location is a PostgreSQL URL (else it is an SQLite file)."""
    return isinstance(location, str) and _URL.match(location) is not None


def check_no_password(url: str) -> None:
    """Refuse a URL that carries a password (``user:pw@`` or ``?password=``).

    Raises:
        StateError: it does.
    """
    parts = urlsplit(url)
    if parts.password is not None or any(k == "password" for k, _v in parse_qsl(parts.query)):
        raise StateError(
            "the store URL holds a password",
            hint="remove it; use PGPASSFILE, a service file or --store-password-env VAR",
        )


def display(url: str) -> str:
    """The URL without any password, for messages."""
    parts = urlsplit(url)
    netloc = parts.netloc
    if parts.password is not None:
        netloc = netloc.replace(f":{parts.password}@", ":***@", 1)
    query = "&".join(f"{k}={'***' if k == 'password' else v}" for k, v in parse_qsl(parts.query))
    return urlunsplit((parts.scheme, netloc, parts.path, query, ""))


def schema_script() -> str:
    return resources.files("cluetool").joinpath("data/postgresql/schema.sql").read_text(encoding="utf-8")


def blobs_script() -> str:
    """The tables of ``--blobs-in-db`` (``cluetool.store.blobtable``)."""
    return resources.files("cluetool").joinpath("data/postgresql/blobs.sql").read_text(encoding="utf-8")


def make_blobs(blobs_dir: Path, *, in_db: bool) -> Blobs:
    """The one place that chooses where a PostgreSQL store's blobs are: the table
    implementation with ``in_db``, else the files in ``blobs_dir``."""
    return TableBlobs() if in_db else BlobStore(blobs_dir)


def _lock_key(name: str) -> str:
    # Advisory locks take a bigint: hashtextextended of the name, in PostgreSQL.
    return f"cluetool:{name}"


class PgTx(Tx):
    """A transaction of a ``PgStore``."""

    store: PgStore

    def lock(self, name: str) -> None:
        """Hold the advisory lock ``name`` until this transaction ends (waits at most
        the store's ``wait``; then ``BusyError``)."""
        self.execute("SELECT pg_advisory_xact_lock(hashtextextended(?, 0))", (_lock_key(name),))

    def next_ids(self, table: str, count: int) -> int:
        """The first of ``count`` consecutive new ids of ``table`` (``reports``), from
        its sequence, advanced under a short session lock: importers do not wait for
        each other's commits to number their reports."""
        if table != "reports":
            raise ValueError(f"no id sequence for {table}")
        if count <= 0:
            return int(self.execute(f"SELECT coalesce(max(id), 0) + 1 FROM {table}").fetchone()[0])
        conn = self.store._conn
        key = _lock_key(f"ids:{table}")
        conn.execute("SELECT pg_advisory_lock(hashtextextended(?, 0))", (key,))
        try:
            last = conn.execute(
                f"SELECT setval('{table}_id_seq', nextval('{table}_id_seq') + ? - 1)", (count,)
            ).fetchone()[0]
        finally:
            conn.execute("SELECT pg_advisory_unlock(hashtextextended(?, 0))", (key,))
        return int(last) - count + 1


class PgStore(Store):
    """A cluetool store in a PostgreSQL database."""

    backend = "postgresql"

    def __init__(self, conn: Any, url: str, blobs: Blobs, wait: float, *, readonly: bool, home_dir: Path) -> None:
        # ``path`` names a file in the home that never exists: code that keeps state
        # next to the store (the audit tree cache) finds the home through it.
        super().__init__(conn, home_dir / "store.postgresql", blobs, wait)  # type: ignore[arg-type]
        self.url = url
        self.location = display(url)
        self.readonly = readonly
        if isinstance(blobs, TableBlobs):
            blobs.bind(self)

    # -- opening -----------------------------------------------------------------------

    @classmethod
    def _connect_pg(cls, url: str, *, wait: float, blobs_dir: Path, password: str | None,
                    readonly: bool, blobs_in_db: bool = False) -> PgStore:
        import psycopg

        from cluetool.store.pgsql import connect

        if wait < 0:
            raise ValueError("wait must not be negative")
        try:
            conn = connect(url, password=password)
        except psycopg.Error as exc:
            raise StateError(
                f'cannot connect to store "{display(url)}": {_first_line(exc)}',
                hint="check the server, the URL and the credentials (PGPASSFILE, --store-password-env)",
            ) from None
        store = cls(conn, url, make_blobs(blobs_dir, in_db=blobs_in_db), wait, readonly=readonly,
                    home_dir=blobs_dir.parent)
        store._set_lock_timeout(wait)
        # Read-only outside ``write()`` (which begins READ WRITE), as SQLite's query_only:
        # a statement run on the store itself cannot write (autocommit would commit it).
        conn.execute("SET default_transaction_read_only = on")
        return store

    def _set_lock_timeout(self, wait: float) -> None:
        self._conn.execute(f"SET lock_timeout = {max(1, int(wait * 1000))}")

    @classmethod
    def open_url(cls, url: str, *, blobs_dir: Path, wait: float = 10.0, readonly: bool = False,
                 password: str | None = None, blobs_in_db: bool = False) -> PgStore:
        """Open an existing store (``blobs_in_db``: what ``config.toml`` says of its blobs).

        Raises:
            StateError: no server, no cluetool store in the database, a newer schema, or
                its blobs are not where ``blobs_in_db`` says.
        """
        store = cls._connect_pg(url, wait=wait, blobs_dir=blobs_dir, password=password, readonly=readonly,
                                blobs_in_db=blobs_in_db)
        try:
            version = store._version()
            if version is None:
                raise StateError(
                    f'store not initialised: no cluetool store in "{display(url)}"',
                    hint=f"run: cluetool init --store {display(url)}",
                )
            if version > SCHEMA_VERSION:
                raise StateError(
                    f"store schema v{version} is newer than this cluetool (v{SCHEMA_VERSION})",
                    hint="upgrade cluetool",
                )
            store._check_blobs_mode(blobs_in_db)
        except BaseException:
            store.close()
            raise
        return store

    @classmethod
    def create_url(cls, url: str, *, blobs_dir: Path, wait: float = 10.0, now: datetime | None = None,
                   exist_ok: bool = False, password: str | None = None, audit: bool = True,
                   blobs_in_db: bool = False) -> PgStore:
        """Create the store's tables in the (empty) database at ``url`` (with
        ``blobs_in_db``, the blob tables too).

        With ``audit=False`` no ``store.migrate`` entry is written (``store migrate-to``
        copies the source's audit log instead).

        Raises:
            StateError: the database already holds a cluetool store (without
                ``exist_ok``) or other tables, or cannot be written.
        """
        store = cls._connect_pg(url, wait=wait, blobs_dir=blobs_dir, password=password, readonly=False,
                                blobs_in_db=blobs_in_db)
        try:
            version = store._version()
            if version is not None:
                if not exist_ok:
                    raise StateError(f'store "{display(url)}" already exists')
                store._check_blobs_mode(blobs_in_db)
            else:
                if store.table_names():
                    raise StateError(
                        f'cannot create store "{display(url)}": the database holds other tables',
                        hint="give cluetool a database of its own",
                    )
                store._install(now if now is not None else datetime.now(timezone.utc), audit=audit)
            store.blobs.ensure_root()
        except OSError as exc:
            store.close()
            raise StateError(f'cannot create store "{display(url)}": {exc.strerror}') from None
        except BaseException:
            store.close()
            raise
        return store

    def _install(self, at: datetime, *, audit: bool) -> None:
        script = schema_script()
        with self.write() as tx:
            tx.execute("SELECT pg_advisory_xact_lock(hashtextextended(?, 0))", (_lock_key("install"),))
            if self._version() is not None:
                return  # another process created it meanwhile
            self.install_schema(tx, blobs_in_db=isinstance(self.blobs, TableBlobs))
            if audit:
                _audit.append_entry(
                    tx, at=at, actor=MIGRATION_ACTOR, action="store.migrate", object="store",
                    details={"from": 0, "to": SCHEMA_VERSION, "script_sha256": hashlib.sha256(script.encode()).hexdigest()},
                )

    def install_schema(self, tx: PgTx, *, blobs_in_db: bool = False) -> None:
        """Create the tables (``schema.sql``; with ``blobs_in_db`` also ``blobs.sql``) in
        ``tx``, which the caller commits."""
        self._conn.raw.execute(schema_script())
        tx.execute("INSERT INTO cluetool_meta (key, value) VALUES ('application', ?), ('schema_version', ?)",
                   (APPLICATION, str(SCHEMA_VERSION)))
        if blobs_in_db:
            self._conn.raw.execute(blobs_script())
            tx.execute("INSERT INTO cluetool_meta (key, value) VALUES ('blobs', 'table')")

    def blobs_in_db(self) -> bool:
        """Whether the store keeps its blobs in its tables (created ``--blobs-in-db``)."""
        row = self._conn.execute("SELECT value FROM cluetool_meta WHERE key = 'blobs'").fetchone()
        return row is not None and row[0] == "table"

    def _check_blobs_mode(self, blobs_in_db: bool) -> None:
        if self.blobs_in_db() == blobs_in_db:
            return
        if blobs_in_db:
            raise StateError(f'store "{self.location}" keeps its blobs as files, but config.toml says blobs_in_db = true',
                             hint="remove blobs_in_db from config.toml (the setting is chosen at init and cannot change)")
        raise StateError(f'store "{self.location}" keeps its blobs in the database, but config.toml does not say so',
                         hint="add blobs_in_db = true to config.toml, next to store (docs/operations.md)")

    @classmethod
    def connect_empty(cls, url: str, *, blobs_dir: Path, wait: float = 10.0, password: str | None = None,
                      blobs_in_db: bool = False) -> PgStore:
        """A connection to a database that must hold no tables yet (``store migrate-to``).

        Raises:
            StateError: it holds a cluetool store or other tables, or cannot be reached.
        """
        store = cls._connect_pg(url, wait=wait, blobs_dir=blobs_dir, password=password, readonly=False,
                                blobs_in_db=blobs_in_db)
        try:
            if store._version() is not None:
                raise StateError(f'store "{display(url)}" already exists', hint="give an empty database")
            if store.table_names():
                raise StateError(f'cannot use "{display(url)}": the database holds other tables',
                                 hint="give cluetool a database of its own")
        except BaseException:
            store.close()
            raise
        return store

    def _version(self) -> int | None:
        row = self._conn.execute(
            "SELECT 1 FROM pg_catalog.pg_tables WHERE schemaname = current_schema() AND tablename = 'cluetool_meta'"
        ).fetchone()
        if row is None:
            return None
        got = dict(self._conn.execute("SELECT key, value FROM cluetool_meta").fetchall())
        if got.get("application") != APPLICATION:
            raise StateError(f'cannot use store "{self.location}": not a cluetool store')
        return int(got["schema_version"])

    @property
    def schema_version(self) -> int:
        return self._version() or 0

    def table_names(self) -> list[str]:
        return [r[0] for r in self._conn.execute(
            "SELECT tablename FROM pg_catalog.pg_tables WHERE schemaname = current_schema() ORDER BY tablename")]

    @contextmanager
    def bounded_cache(self, kib: int) -> Iterator[None]:
        yield  # the server's memory settings bound it

    # -- transactions ------------------------------------------------------------------

    @contextmanager
    def write(self, *, wait: float | None = None) -> Iterator[PgTx]:
        with self._pg_transaction("BEGIN ISOLATION LEVEL READ COMMITTED READ WRITE", writable=True, wait=wait) as tx:
            yield tx

    @contextmanager
    def read(self) -> Iterator[PgTx]:
        with self._pg_transaction("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", writable=False) as tx:
            yield tx

    @contextmanager
    def _pg_transaction(self, begin: str, *, writable: bool, wait: float | None = None) -> Iterator[PgTx]:
        import psycopg

        if self._in_tx:
            raise RuntimeError("store transactions do not nest")
        if writable and self.readonly:
            raise StateError(f'store "{self.location}" is open read-only')
        conn = self._conn
        try:
            conn.execute(begin)
            if wait is not None:
                conn.execute(f"SET LOCAL lock_timeout = {max(1, int(wait * 1000))}")
        except psycopg.Error as exc:
            raise self._translate_pg(exc) from None
        self._in_tx = True
        tx = PgTx(self, writable=writable)
        try:
            yield tx
        except BaseException as exc:
            self._rollback()
            if isinstance(exc, psycopg.Error):
                raise self._translate_pg(exc) from None
            raise
        else:
            try:
                conn.execute("COMMIT")
            except psycopg.Error as exc:
                self._rollback()
                raise self._translate_pg(exc) from None
        finally:
            tx.active = False
            self._in_tx = False

    def _rollback(self) -> None:
        import psycopg

        try:
            if self._conn.in_transaction:
                self._conn.execute("ROLLBACK")
        except psycopg.Error:
            pass

    def _translate_pg(self, exc: Exception) -> Exception:
        from psycopg import errors as e

        if isinstance(exc, (e.DeadlockDetected, e.SerializationFailure)):
            return ConflictRolledBack(f'store "{self.location}" is busy: another process holds what this needs',
                                      hint="wait for it, or run again with a longer --wait")
        if isinstance(exc, e.LockNotAvailable):
            return BusyError(f'store "{self.location}" is busy: another process holds what this needs',
                             hint="wait for it, or run again with a longer --wait")
        if isinstance(exc, (e.DiskFull, e.OutOfMemory)):
            return StateError(f'store "{self.location}": the database server is out of space')
        if isinstance(exc, e.InsufficientPrivilege):
            return StateError(f'store "{self.location}": permission denied ({_first_line(exc)})')
        return StateError(f'cannot use store "{self.location}": {_first_line(exc)}')

    # -- checking ----------------------------------------------------------------------

    def database_problems(self) -> list[StoreProblem]:
        """What ``store check`` checks of the database itself."""
        # PostgreSQL enforces the foreign keys and checks its pages itself; what is
        # checked here is that the audit log is still append-only.
        problems: list[StoreProblem] = []
        rows = self._conn.execute(
            "SELECT tgname FROM pg_catalog.pg_trigger t JOIN pg_catalog.pg_class c ON c.oid = t.tgrelid"
            " WHERE c.relname IN ('audit_log', 'checkpoints') AND NOT t.tgisinternal AND t.tgenabled <> 'D'"
        ).fetchall()
        have = {r[0] for r in rows}
        for name in ("audit_log_append_only", "audit_log_no_truncate", "checkpoints_append_only",
                     "checkpoints_no_truncate"):
            if name not in have:
                problems.append(StoreProblem(code="store.append_only", severity="error", object=name,
                                             message="the trigger that keeps the log append-only is missing or disabled"))
        return problems

    def __exit__(self, exc_type: object, exc: BaseException | None, tb: object) -> None:
        import psycopg

        self.close()
        # An error met while reading rows outside a transaction block: translated here.
        if isinstance(exc, psycopg.Error):
            raise self._translate_pg(exc) from None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
