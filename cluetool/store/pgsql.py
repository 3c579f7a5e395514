"""The store modules' SQL on PostgreSQL: a dialect translation and a DB-API adapter over
a psycopg 3 connection (issue 22).

The store modules (``queries``, ``handling``, ``held``, ``audit``, ``auditlog``,
``integrity``) are written once, in the SQL both backends understand, with SQLite's
``?`` placeholders. ``translate`` turns a statement into PostgreSQL's:

- ``?`` becomes ``%s``, ``?N`` becomes ``%(pN)s`` (the parameters are then passed by
  name) and a literal ``%`` becomes ``%%`` (psycopg's placeholder syntax); ``a IS NOT b``
  is ``a IS DISTINCT FROM b``;
- ``INSERT OR IGNORE INTO t ...`` becomes ``INSERT INTO t ... ON CONFLICT DO NOTHING``;
- ``CAST(x AS BLOB)`` is ``x`` (the column is already ``bytea``), ``CAST(entry AS TEXT)``
  (an audit entry's bytes read as text) is ``convert_from(entry, 'UTF8')``, and
  ``CAST(x AS INTEGER)`` is ``CAST(x AS bigint)``;
- ``printf('%0Nd', x)`` is ``lpad(x::text, N, '0')``;
- ``json_valid`` / ``json_extract`` call the schema's ``cluetool_json_valid`` /
  ``cluetool_json_extract`` (``cluetool/data/postgresql/schema.sql``), which follow
  SQLite's (a JSON path ``$.a.b``; ``NULL`` where SQLite gives ``NULL``).

Anything else SQLite-only (``PRAGMA``, ``sqlite_master``, ``rowid``) is not translated:
the store modules ask the ``Store`` for it (``Store.table_names()``), and a statement
that still holds it fails on PostgreSQL, where the tests run it.

``PgConnection`` gives ``sqlite3.Connection``'s small surface that the store uses
(``execute``, ``executemany``, cursors with ``fetchone``/``fetchmany``/``fetchall``,
``rowcount``, ``lastrowid``, ``in_transaction``). A refused constraint is raised as
``PgIntegrityError``, a subclass of ``sqlite3.IntegrityError``, so that the store
modules' ``except sqlite3.IntegrityError`` diagnoses both backends' conflicts alike.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from functools import lru_cache
from typing import Any

import psycopg
from psycopg import errors as pgerrors

# Tables whose ``id`` PostgreSQL assigns (an identity column): ``lastrowid`` is read
# back with ``RETURNING id`` after a single-row INSERT into one of them.
IDENTITY_TABLES = frozenset({"batches", "checkpoints", "held_reports", "obligations", "sample_draws"})

_QUOTED = re.compile(r"('(?:[^']|'')*'|\"(?:[^\"]|\"\")*\")")
_OR_IGNORE = re.compile(r"^\s*INSERT\s+OR\s+IGNORE\s+INTO\b", re.I)
_INSERT_INTO = re.compile(r"^\s*INSERT\s+INTO\s+([A-Za-z_][A-Za-z0-9_]*)", re.I)
_CAST_BLOB = re.compile(r"CAST\(\s*([A-Za-z_][A-Za-z0-9_.]*)\s+AS\s+BLOB\s*\)", re.I)
_CAST_ENTRY_TEXT = re.compile(r"CAST\(\s*(entry)\s+AS\s+TEXT\s*\)", re.I)
_CAST_INTEGER = re.compile(r"CAST\(\s*([A-Za-z_][A-Za-z0-9_.]*)\s+AS\s+INTEGER\s*\)", re.I)
_PRINTF = re.compile(r"printf\(\s*'%0(\d+)d'\s*,\s*([A-Za-z_][A-Za-z0-9_.]*)\s*\)", re.I)
_JSON_FN = re.compile(r"\bjson_(valid|extract)\(", re.I)
_NUMBERED = re.compile(r"\?(\d+)")
_IS_NOT = re.compile(r"\bIS\s+NOT\s+(?!NULL\b|DISTINCT\b|TRUE\b|FALSE\b)", re.I)


class PgIntegrityError(sqlite3.IntegrityError):
    """A constraint PostgreSQL refused (unique, foreign key, check, not null)."""


@lru_cache(maxsize=512)
def translate(sql: str) -> str:
    """The PostgreSQL text of one store statement (see the module docstring)."""
    ignore = _OR_IGNORE.match(sql) is not None
    if ignore:
        sql = _OR_IGNORE.sub("INSERT INTO", sql, count=1)
    sql = _PRINTF.sub(lambda m: f"lpad(CAST({m.group(2)} AS text), {m.group(1)}, '0')", sql)
    parts = _QUOTED.split(sql)
    out = []
    for i, part in enumerate(parts):
        if i % 2:  # a quoted literal or identifier: only psycopg's % needs escaping
            out.append(part.replace("%", "%%"))
            continue
        part = _NUMBERED.sub(r"%(p\1)s", part.replace("%", "%%"))
        part = part.replace("?", "%s")
        part = _IS_NOT.sub("IS DISTINCT FROM ", part)
        part = _CAST_BLOB.sub(r"\1", part)
        part = _CAST_ENTRY_TEXT.sub(r"convert_from(\1, 'UTF8')", part)
        part = _CAST_INTEGER.sub(r"CAST(\1 AS bigint)", part)
        part = _JSON_FN.sub(lambda m: f"cluetool_json_{m.group(1).lower()}(", part)
        out.append(part)
    sql = "".join(out)
    if ignore:
        sql = sql.rstrip().rstrip(";") + " ON CONFLICT DO NOTHING"
    return sql


def _named(sql: str, params: Any) -> Any:
    # ``?N`` placeholders: the positional parameters by name (``pN``).
    if not params or isinstance(params, dict) or _NUMBERED.search(sql) is None:
        return params if params else ()
    return {f"p{i}": v for i, v in enumerate(params, 1)}


def _returning_id(sql: str) -> bool:
    m = _INSERT_INTO.match(sql)
    return m is not None and m.group(1).lower() in IDENTITY_TABLES and "returning" not in sql.lower()


class PgCursor:
    """The part of ``sqlite3.Cursor`` the store uses, over a psycopg cursor."""

    def __init__(self, cur: psycopg.Cursor[Any], lastrowid: int | None = None) -> None:
        self._cur = cur
        self.lastrowid = lastrowid
        self.arraysize = 1

    @property
    def rowcount(self) -> int:
        return self._cur.rowcount

    @property
    def description(self) -> Any:
        return self._cur.description

    def fetchone(self) -> tuple[Any, ...] | None:
        if self._cur.description is None:
            return None
        return self._cur.fetchone()

    def fetchmany(self, size: int | None = None) -> list[tuple[Any, ...]]:
        if self._cur.description is None:
            return []
        return self._cur.fetchmany(size if size is not None else self.arraysize)

    def fetchall(self) -> list[tuple[Any, ...]]:
        if self._cur.description is None:
            return []
        return self._cur.fetchall()

    def __iter__(self) -> Iterator[tuple[Any, ...]]:
        if self._cur.description is None:
            return iter(())
        return iter(self._cur)

    def close(self) -> None:
        self._cur.close()


class PgConnection:
    """``sqlite3.Connection``'s surface for the store, over one psycopg connection in
    autocommit mode (the ``Store`` issues ``BEGIN``/``COMMIT`` itself)."""

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self.raw = conn

    @property
    def in_transaction(self) -> bool:
        return self.raw.info.transaction_status != psycopg.pq.TransactionStatus.IDLE

    def execute(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> PgCursor:
        text = translate(sql)
        returning = _returning_id(sql)
        if returning:
            text += " RETURNING id"
        cur = self.raw.cursor()
        try:
            cur.execute(text, _named(sql, params))
        except pgerrors.IntegrityError as exc:
            cur.close()
            raise PgIntegrityError(str(exc).strip()) from None
        lastrowid = None
        if returning:
            row = cur.fetchone()
            lastrowid = None if row is None else int(row[0])
        return PgCursor(cur, lastrowid)

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> PgCursor:
        cur = self.raw.cursor()
        try:
            cur.executemany(translate(sql), [_named(sql, r) for r in rows])
        except pgerrors.IntegrityError as exc:
            cur.close()
            raise PgIntegrityError(str(exc).strip()) from None
        return PgCursor(cur)

    def close(self) -> None:
        self.raw.close()


class _IntOrFloatLoader(psycopg.adapt.Loader):
    """``numeric`` (what ``sum`` of bigints gives) as an ``int`` when whole, like SQLite."""

    def load(self, data: Any) -> int | float:
        text = bytes(data).decode("ascii")
        if "." in text or "e" in text.lower() or text in ("NaN", "Infinity", "-Infinity"):
            return float(text)
        return int(text)


def connect(conninfo: str, *, password: str | None = None) -> PgConnection:
    """A connection for the store: autocommit (the store begins its transactions),
    ``numeric`` loaded as ``int``/``float``, UTC and ISO dates in the session.

    Raises:
        psycopg.OperationalError: no server, refused, or authentication failed.
    """
    kwargs: dict[str, Any] = {"autocommit": True}
    if password is not None:
        kwargs["password"] = password
    conn = psycopg.connect(conninfo, **kwargs)
    conn.adapters.register_loader("numeric", _IntOrFloatLoader)
    conn.execute("SET TIME ZONE 'UTC'")
    return PgConnection(conn)
