"""The PostgreSQL store itself (issue 22): creating and opening it, the append-only audit
log (privileges and trigger), report bytes as received, locks and id blocks."""

from __future__ import annotations

import threading
import time
from datetime import datetime, timezone
from pathlib import Path

import psycopg
import pytest

from cluetool.errors import BusyError, StateError
from cluetool.store import audit_entries as store_audit
from cluetool.store.db import Store
from cluetool.store.integrity import check_store
from cluetool.store.migrations import MIGRATIONS
from cluetool.store.pgstore import PgStore, check_no_password, display, is_url
from tests.pgfixture import superuser_conninfo

AT = datetime(2026, 11, 24, 2, 0, tzinfo=timezone.utc)


@pytest.fixture
def pg_store(pg_url: str, tmp_path: Path):
    store = PgStore.create_url(pg_url, blobs_dir=tmp_path / "blobs", now=AT)
    yield store
    store.close()


def test_create_writes_the_schema_and_one_migrate_entry(pg_store: PgStore, pg_url: str, tmp_path: Path) -> None:
    latest = len(MIGRATIONS)  # the same schema version as a new SQLite store's
    assert pg_store.schema_version == latest
    entries = list(store_audit.iter_entries(pg_store))
    assert [e.seq for e in entries] == [0]
    assert b'"action":"store.migrate"' in entries[0].entry and f'"to":{latest}'.encode() in entries[0].entry
    with pytest.raises(StateError, match="already exists"):
        PgStore.create_url(pg_url, blobs_dir=tmp_path / "blobs", now=AT)
    again = PgStore.create_url(pg_url, blobs_dir=tmp_path / "blobs", now=AT, exist_ok=True)
    again.close()
    assert store_audit.audit_size(pg_store) == 1


def test_schema_has_the_tables_columns_and_indexes_of_the_latest_sqlite_schema(pg_store: PgStore, tmp_path: Path) -> None:
    # Whatever a new SQLite schema version adds (v7: report_codes, sample_draws and the
    # supervision indexes) the PostgreSQL schema has too, or sample/stats would fail there.
    lite = Store.create(tmp_path / "store.db", now=AT, blobs_dir=tmp_path / "lite-blobs")
    try:
        lite_tables = {t: [r[1] for r in lite.execute(f"PRAGMA table_info({t})")] for t in lite.table_names()}
        lite_indexes = {r[0] for r in lite.execute(
            "SELECT name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL")}
    finally:
        lite.close()
    pg_tables = {t: [r[0] for r in pg_store.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema()"
        " AND table_name = ? ORDER BY ordinal_position", (t,))] for t in pg_store.table_names()}
    pg_indexes = {r[0] for r in pg_store.execute("SELECT indexname FROM pg_indexes WHERE schemaname = current_schema()")}
    assert pg_tables.pop("cluetool_meta") == ["key", "value"]
    assert pg_tables == lite_tables
    assert {"report_codes", "sample_draws"} <= set(pg_tables)
    assert lite_indexes <= pg_indexes, lite_indexes - pg_indexes


def test_open_refuses_a_database_without_a_store(pg_url: str, tmp_path: Path) -> None:
    with pytest.raises(StateError, match="store not initialised"):
        PgStore.open_url(pg_url, blobs_dir=tmp_path / "blobs")


def test_unreachable_server_is_a_state_error_without_the_password(tmp_path: Path) -> None:
    url = f"postgresql://nobody@/nodb?host={tmp_path}"
    with pytest.raises(StateError, match="cannot connect to store") as caught:
        PgStore.open_url(url, blobs_dir=tmp_path / "blobs", password="s3cret-value")
    assert "s3cret-value" not in str(caught.value)


def test_a_password_in_the_url_is_refused_and_never_shown() -> None:
    for url in ("postgresql://u:hunter2@db.example/cluetool", "postgresql://u@db.example/cluetool?password=hunter2"):
        with pytest.raises(StateError, match="holds a password"):
            check_no_password(url)
        assert "hunter2" not in display(url)
    check_no_password("postgresql://u@db.example/cluetool?sslmode=verify-full")
    assert is_url("postgresql://x/y") and is_url("postgres://x/y") and not is_url("/srv/home/store.db")


def test_audit_log_is_append_only_by_privilege_and_by_trigger(pg_store: PgStore, pg_cluster: str, pg_url: str) -> None:
    with pg_store.write() as tx:
        store_audit.append_entry(tx, at=AT, actor="tester", action="test.append", object="store", details={})
    # The application role (the tables' owner, not a superuser) has no UPDATE/DELETE.
    for sql in ("UPDATE audit_log SET entry = '\\x00'", "DELETE FROM audit_log", "TRUNCATE audit_log",
                "DELETE FROM checkpoints"):
        with pytest.raises(StateError, match="permission denied"):
            with pg_store.write() as tx:
                tx.execute(sql)
    # A superuser bypasses privileges; the trigger still refuses.
    with psycopg.connect(superuser_conninfo(pg_cluster, pg_url), autocommit=True) as su:
        for sql in ("UPDATE audit_log SET entry = '\\x00'", "DELETE FROM audit_log", "TRUNCATE audit_log"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only"):
                su.execute(sql)
    assert store_audit.audit_size(pg_store) == 2
    assert check_store(pg_store).ok


def test_store_check_names_a_disabled_append_only_trigger(pg_store: PgStore, pg_cluster: str, pg_url: str) -> None:
    with psycopg.connect(superuser_conninfo(pg_cluster, pg_url), autocommit=True) as su:
        su.execute("ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only")
    report = check_store(pg_store)
    assert not report.ok
    assert [p.object for p in report.problems if p.code == "store.append_only"] == ["audit_log_append_only"]


def test_bytes_are_stored_exactly_as_received(pg_store: PgStore) -> None:
    odd = b'{"b": 1,   "a": "\\u00e9\xc3\xa9"}\n'  # key order, spacing, escapes: all kept
    with pg_store.write() as tx:
        e = store_audit.append_entry(tx, at=AT, actor="t", action="t.x", object="store", details={"k": "v"})
        tx.execute("CREATE TEMP TABLE probe (b bytea)")
        tx.execute("INSERT INTO probe VALUES (?)", (odd,))
        assert tx.execute("SELECT b FROM probe").fetchone()[0] == odd
    assert [x.entry for x in store_audit.iter_entries(pg_store, e.seq)] == [e.entry]
    types = dict(pg_store.execute(
        "SELECT table_name || '.' || column_name, data_type FROM information_schema.columns"
        " WHERE column_name IN ('report_json', 'entry')").fetchall())
    assert types == {"reports.report_json": "bytea", "held_reports.report_json": "bytea", "audit_log.entry": "bytea"}


def test_a_write_transaction_rolls_back_whole(pg_store: PgStore) -> None:
    with pytest.raises(RuntimeError):
        with pg_store.write() as tx:
            store_audit.append_entry(tx, at=AT, actor="t", action="t.x", object="store", details={})
            raise RuntimeError("stop")
    assert store_audit.audit_size(pg_store) == 1


def test_a_source_lock_held_elsewhere_is_busy_after_wait(pg_url: str, tmp_path: Path) -> None:
    a = PgStore.create_url(pg_url, blobs_dir=tmp_path / "blobs", now=AT)
    b = PgStore.open_url(pg_url, blobs_dir=tmp_path / "blobs", wait=0.2)
    try:
        with a.write() as tx:
            tx.lock("source:alpha")
            started = time.monotonic()
            with pytest.raises(BusyError):
                with b.write() as tx2:
                    tx2.lock("source:alpha")
            assert time.monotonic() - started < 5
            with b.write() as tx2:  # another source: no wait
                tx2.lock("source:beta")
    finally:
        a.close()
        b.close()


def test_id_blocks_are_consecutive_and_disjoint_across_connections(pg_url: str, tmp_path: Path) -> None:
    PgStore.create_url(pg_url, blobs_dir=tmp_path / "blobs", now=AT).close()
    got: list[range] = []
    lock = threading.Lock()

    def take() -> None:
        s = PgStore.open_url(pg_url, blobs_dir=tmp_path / "blobs")
        try:
            for n in (1, 7, 100):
                with s.write() as tx:
                    first = tx.next_ids("reports", n)
                with lock:
                    got.append(range(first, first + n))
        finally:
            s.close()

    threads = [threading.Thread(target=take) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    ids = [i for r in got for i in r]
    assert len(ids) == len(set(ids)) == 4 * 108
    assert min(ids) == 1


def test_audit_appends_from_many_connections_stay_one_sequence(pg_url: str, tmp_path: Path) -> None:
    PgStore.create_url(pg_url, blobs_dir=tmp_path / "blobs", now=AT).close()

    def write(n: int) -> None:
        s = PgStore.open_url(pg_url, blobs_dir=tmp_path / "blobs", wait=30)
        try:
            for i in range(10):
                with s.write() as tx:
                    store_audit.append_entry(tx, at=AT, actor="t", action="t.x", object=f"w:{n}:{i}", details={})
        finally:
            s.close()

    threads = [threading.Thread(target=write, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    s = PgStore.open_url(pg_url, blobs_dir=tmp_path / "blobs")
    try:
        assert [e.seq for e in store_audit.iter_entries(s)] == list(range(61))
    finally:
        s.close()
