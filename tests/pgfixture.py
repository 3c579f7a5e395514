"""PostgreSQL for the tests: one throwaway cluster per session, a fresh database per test.

- ``pg_cluster`` (session): the connection string of a cluster's application role. The
  cluster is the one ``.ci/run`` started (``CLUETOOL_TEST_PG_DSN``), else one started
  here in a temporary directory (``tests/pgcluster.py``) and stopped at the end.
  Without PostgreSQL binaries the tests that need it are skipped, unless
  ``CLUETOOL_TEST_PG_REQUIRED=1`` (set by ``.ci/run`` where it could start one): then
  they fail.
- ``pg_url``: a ``postgresql://`` URL of an empty database of its own, owned by the
  application role (not a superuser), dropped after the test.
- ``store_backend``: ``"sqlite"`` or ``"postgresql"`` (a parameter): tests that take it
  run against both.
- ``PgTestConnection``: what tests do with ``sqlite3.connect(store.db)``, on a PostgreSQL store;
  ``tamper_pg``: raw SQL as the cluster's superuser with the append-only triggers off (what
  a test simulating someone with the database does).
"""

from __future__ import annotations

import os
import re
import tempfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, urlsplit

import pytest

from tests import pgcluster


def _required() -> bool:
    return os.environ.get(pgcluster.ENV_REQUIRED, "") not in ("", "0")


def _unavailable(reason: str) -> None:
    if _required():
        pytest.fail(f"PostgreSQL is required here ({pgcluster.ENV_REQUIRED}=1) but {reason}")
    pytest.skip(f"no PostgreSQL: {reason}")


def _params(conninfo: str) -> dict[str, str]:
    return dict(part.split("=", 1) for part in conninfo.split())


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[str]:
    given = os.environ.get(pgcluster.ENV_DSN)
    if given:
        yield given
        return
    if pgcluster.bindir() is None:
        _unavailable("no initdb/pg_ctl on PATH or in /usr/lib/postgresql/*/bin")
    base = Path(tempfile.mkdtemp(prefix="cluetool-pg-"))
    try:
        conninfo = pgcluster.start(base)
    except (pgcluster.ClusterError, OSError) as exc:
        pgcluster.stop(base)
        _unavailable(f"could not start a cluster: {exc}")
    try:
        yield conninfo
    finally:
        pgcluster.stop(base)


def url_of(conninfo: str, dbname: str) -> str:
    """A ``postgresql://`` URL for ``dbname`` on the cluster of ``conninfo`` (Unix socket)."""
    p = _params(conninfo)
    return f"postgresql://{quote(p['user'])}@/{quote(dbname)}?host={quote(p['host'], safe='/')}"


def superuser_conninfo(pg_cluster: str, url: str) -> str:
    """libpq parameters of the cluster's superuser on the database of ``url``."""
    from urllib.parse import unquote, urlsplit

    return f"host={_params(pg_cluster)['host']} user={pgcluster.SUPERUSER} dbname={unquote(urlsplit(url).path[1:])}"


@pytest.fixture
def pg_url(pg_cluster: str) -> Iterator[str]:
    import psycopg

    name = "t_" + uuid.uuid4().hex[:16]
    with psycopg.connect(pg_cluster, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}" TEMPLATE template0 ENCODING \'UTF8\'')
    try:
        yield url_of(pg_cluster, name)
    finally:
        _drop(pg_cluster, name)


def create_database(pg_cluster: str, *, template: str = "template0") -> str:
    """A new database of the cluster owned by the application role (a copy of
    ``template``, one of its own, unused meanwhile), for fixtures wider than a test;
    its name. Drop it with ``drop_database``."""
    import psycopg

    name = "t_" + uuid.uuid4().hex[:16]
    with psycopg.connect(pg_cluster, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}" ENCODING \'UTF8\'')
    return name


def drop_database(pg_cluster: str, name: str) -> None:
    """Drop the database ``name`` of the cluster (as its superuser)."""
    _drop(pg_cluster, name)


def _drop(pg_cluster: str, name: str) -> None:
    # As the superuser: WITH (FORCE) may have to end a backend of another role
    # (autovacuum) on that database, which only it may.
    import psycopg

    su = f"host={_params(pg_cluster)['host']} user={pgcluster.SUPERUSER} dbname=postgres"
    with psycopg.connect(su, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def pg_databases(pg_cluster: str) -> Iterator[Callable[[], str]]:
    """A factory of fresh databases (URLs), for a test that needs several; all dropped after."""
    import psycopg

    made: list[str] = []

    def new() -> str:
        name = "t_" + uuid.uuid4().hex[:16]
        with psycopg.connect(pg_cluster, autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{name}" TEMPLATE template0 ENCODING \'UTF8\'')
        made.append(name)
        return url_of(pg_cluster, name)

    yield new
    for name in made:
        _drop(pg_cluster, name)


class PgTestConnection:
    """``sqlite3.Connection``'s test surface over the PostgreSQL store."""

    def __init__(self, url: str) -> None:
        from cluetool.store.pgsql import connect as pg_connect

        self.conn = pg_connect(url)

    def __enter__(self) -> PgTestConnection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.conn.close()

    def execute(self, sql: str, params: Any = ()) -> Any:
        return self.conn.execute(sql, params)

    def tables(self) -> list[str]:
        return [r[0] for r in self.conn.execute(
            "SELECT tablename FROM pg_catalog.pg_tables WHERE schemaname = current_schema() ORDER BY tablename")]

    def iterdump(self) -> list[str]:
        """Every row of every table, in order (SQLite's ``iterdump`` stands for the same)."""
        return [f"{t}: {row!r}" for t in self.tables()
                for row in self.conn.execute(f'SELECT * FROM "{t}" ORDER BY 1, 2').fetchall()]

    def close(self) -> None:
        self.conn.close()


def superuser_of(url: str) -> str:
    """libpq parameters of the cluster's superuser on the database of a test ``url``."""
    parts = urlsplit(url)
    return f"host={dict(parse_qsl(parts.query))['host']} user={pgcluster.SUPERUSER} dbname={unquote(parts.path[1:])}"


# SQLite's replace() works on a BLOB's bytes; PostgreSQL's on text only.
_REPLACE_BYTEA = re.compile(r"replace\((entry), ('[^']*'), ('[^']*')\)")


def tamper_pg(url: str, statements: tuple[str | tuple[str, tuple[object, ...]], ...]) -> None:
    """Run the store modules' SQL ``statements`` on the database of ``url`` as the
    cluster's superuser, with triggers off (``session_replication_role = replica``):
    the privileges revoked from the application role and the append-only triggers do
    not stop it, as dropping SQLite's triggers does not stop someone with the file."""
    import psycopg

    from cluetool.store.pgsql import translate

    with psycopg.connect(superuser_of(url)) as conn:
        conn.execute("SET session_replication_role = replica")
        for statement in statements:
            sql, params = statement if isinstance(statement, tuple) else (statement, ())
            sql = _REPLACE_BYTEA.sub(r"convert_to(replace(convert_from(\1, 'UTF8'), \2, \3), 'UTF8')", sql)
            conn.execute(translate(sql), params)  # type: ignore[arg-type]


@pytest.fixture(params=["sqlite", "postgresql"])
def store_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)
