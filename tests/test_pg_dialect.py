"""The SQLite-to-PostgreSQL translation of the store's SQL, and the adapter, on a real
server (issue 22)."""

from __future__ import annotations

import sqlite3

import pytest

from cluetool.store.pgsql import PgIntegrityError, connect, translate


def test_translate_placeholders_and_percent_outside_and_inside_literals() -> None:
    sql = "SELECT a FROM t WHERE b = ? AND c LIKE 'x%' AND d = '?'"
    assert translate(sql) == "SELECT a FROM t WHERE b = %s AND c LIKE 'x%%' AND d = '?'"


def test_translate_insert_or_ignore_printf_and_casts() -> None:
    assert translate("INSERT OR IGNORE INTO d (a, b) VALUES (?, ?)") == (
        "INSERT INTO d (a, b) VALUES (%s, %s) ON CONFLICT DO NOTHING")
    assert translate("SELECT b.source || '-' || printf('%08d', b.sequence)") == (
        "SELECT b.source || '-' || lpad(CAST(b.sequence AS text), 8, '0')")
    assert translate("SELECT CAST(entry AS BLOB), CAST(size AS INTEGER), json_extract(CAST(entry AS TEXT), '$.a')") == (
        "SELECT entry, CAST(size AS bigint), cluetool_json_extract(convert_from(entry, 'UTF8'), '$.a')")


def test_adapter_runs_translated_sql_and_maps_conflicts(pg_url: str) -> None:
    conn = connect(pg_url)
    try:
        conn.execute("CREATE TABLE t (id bigint PRIMARY KEY, v text NOT NULL UNIQUE, b bytea)")
        conn.executemany("INSERT INTO t (id, v, b) VALUES (?, ?, ?)", [(1, "a%b", b"\x00\x01"), (2, "?", b"")])
        assert conn.execute("SELECT id, b FROM t WHERE v LIKE 'a%' ORDER BY id").fetchall() == [(1, b"\x00\x01")]
        assert conn.execute("SELECT v FROM t WHERE id = ?", (2,)).fetchone() == ("?",)
        conn.execute("INSERT OR IGNORE INTO t (id, v) VALUES (?, ?)", (1, "again"))
        assert conn.execute("SELECT count(*), sum(id) FROM t").fetchone() == (2, 3)
        with pytest.raises(sqlite3.IntegrityError) as caught:
            conn.execute("INSERT INTO t (id, v) VALUES (?, ?)", (3, "a%b"))
        assert isinstance(caught.value, PgIntegrityError) and "t_v_key" in str(caught.value)
        assert not conn.in_transaction
        cur = conn.execute("SELECT id FROM t ORDER BY id")
        cur.arraysize = 1
        assert cur.fetchmany() == [(1,)] and cur.fetchmany(5) == [(2,)] and cur.fetchmany() == []
    finally:
        conn.close()


def test_translate_numbered_placeholders_and_is_not() -> None:
    assert translate("SELECT coalesce(?2, ?1) WHERE a IS NOT b AND c IS NOT NULL") == (
        "SELECT coalesce(%(p2)s, %(p1)s) WHERE a IS DISTINCT FROM b AND c IS NOT NULL")


def test_numbered_placeholders_run(pg_url: str) -> None:
    conn = connect(pg_url)
    try:
        conn.execute("CREATE TABLE n (a text, b text)")
        conn.executemany("INSERT INTO n VALUES (?2, coalesce(?3, ?1))", [("x", "y", None), ("x", "z", "w")])
        assert conn.execute("SELECT a, b FROM n ORDER BY a").fetchall() == [("y", "x"), ("z", "w")]
    finally:
        conn.close()
