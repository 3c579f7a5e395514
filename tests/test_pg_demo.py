"""Every command works the same on both stores: the demo (``make run``: init, keys, seal,
verify, import twice, status, duplicates, store check, assign, record, calendar check,
deadlines, ledger, audit checkpoint/verify/export/witness/cosignatures) run with the
internal store in PostgreSQL stores the same reports, events and obligations as with
SQLite, at the same clock (issue 22)."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import psycopg
import pytest

from cluetool.store import pgmigrate
from tests.test_demo_any_date import CLOCKS, spool  # noqa: F401 - fixture

ROOT = Path(__file__).resolve().parents[1]
_QUERIES = {
    "obligations": "SELECT submission_id, rule_id, unit, due_date, state, provisional, unknown_years, met_at"
                   " FROM obligations ORDER BY submission_id, rule_id, id",
    "events": "SELECT submission_id, event, at, unit, to_unit FROM events ORDER BY submission_id, id",
    "reports": "SELECT submission_id, received_at, imported_at, report_sha256, report_json FROM reports"
               " ORDER BY submission_id",
    "batches": "SELECT source, sequence, reports, attachments FROM batches ORDER BY source, sequence",
    "checkpoints": "SELECT count(*) FROM checkpoints",
    # schema v7 (supervision): the codes stats counts, and the callback draw of the month
    "report_codes": "SELECT r.submission_id, c.dim, c.code, c.received_at FROM report_codes c"
                    " JOIN reports r ON r.id = c.report_id ORDER BY 1, 2, 3",
    "sample_draws": "SELECT month, drawn_at, audit_seq, draw FROM sample_draws ORDER BY id",
}


def _run(spool: Path, workdir: Path, store: str | None) -> str:
    demo = workdir / "demo"
    shutil.copytree(spool, demo)
    env = {**os.environ, "CLUETOOL": f"{sys.executable} {ROOT / 'tests' / 'frozen_cluetool.py'}",
           "CLUETOOL_TEST_CLOCK": CLOCKS[0], "PYTHONPATH": str(ROOT)}
    env.pop("CLUETOOL_HOME", None)
    if store is not None:
        env["CLUETOOL_DEMO_STORE"] = store
    done = subprocess.run(["bash", str(ROOT / "samples" / "demo.sh"), str(demo)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def _rows(rows: list[Any]) -> list[tuple]:
    return [tuple(bytes(v) if isinstance(v, memoryview) else v for v in r) for r in rows]


@pytest.fixture(scope="module")
def sqlite_demo(spool: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:  # noqa: F811
    """The demo's directory after a run with the SQLite store (once per module)."""
    work = tmp_path_factory.mktemp("sqlite-demo")
    _run(spool, work, None)
    return work / "demo"


def _sqlite_rows(store_db: Path, queries: dict[str, str]) -> dict[str, list[tuple]]:
    lite = sqlite3.connect(f"{store_db.as_uri()}?mode=ro", uri=True)
    try:
        return {k: _rows(lite.execute(q).fetchall()) for k, q in queries.items()}
    finally:
        lite.close()


def _cli(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CLUETOOL_TEST_CLOCK": CLOCKS[0], "PYTHONPATH": str(ROOT)}
    env.pop("CLUETOOL_HOME", None)
    return subprocess.run([sys.executable, str(ROOT / "tests" / "frozen_cluetool.py"), "--home", str(home), *args],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)


def test_the_demo_on_postgresql_stores_what_it_stores_on_sqlite(
        spool: Path, sqlite_demo: Path, tmp_path: Path, pg_url: str) -> None:  # noqa: F811
    out_pg = _run(spool, tmp_path / "pg", pg_url)
    home_pg = tmp_path / "pg" / "demo" / "internal-home"
    assert not (home_pg / "store.db").exists()
    assert f'store = "{pg_url}"' in (home_pg / "config.toml").read_text(encoding="utf-8")
    expected = _sqlite_rows(sqlite_demo / "internal-home" / "store.db", _QUERIES)
    with psycopg.connect(pg_url) as pg:
        got = {k: _rows(pg.execute(q).fetchall()) for k, q in _QUERIES.items()}
    assert expected["reports"] and expected["events"] and expected["obligations"]
    assert expected["report_codes"] and len(expected["sample_draws"]) == 1
    # The audit logs differ by design in their start (a new SQLite store records its 7
    # migrations, a PostgreSQL one a single store.migrate 0 -> 7), so the draws' audit
    # seq and seed (the latest checkpoint) differ; the eligible set is the same.
    draws = [{k: v for k, v in json.loads(row[3]).items() if k not in ("audit_seq", "seed", "drawn")}
             for row in (got.pop("sample_draws")[0], expected.pop("sample_draws")[0])]
    assert draws[0] == draws[1] and draws[0]["eligible_count"] >= 2
    assert got == expected
    assert "overdue" in out_pg
    # The audit commands the demo does not run, on the PostgreSQL home: the log (the
    # same batch entries as SQLite's), a proof that checks, the held list, store check.
    logs = [_cli(h, "audit", "log", "--action", "batch.*", "--format", "jsonl")
            for h in (home_pg, sqlite_demo / "internal-home")]
    assert logs[0].returncode == logs[1].returncode == 0, logs[0].stderr
    batch_entries = [[(e["action"], e["object"], e["at"], e["details"].get("reports"))
                      for e in map(json.loads, done.stdout.splitlines())] for done in logs]  # keys differ per run
    assert batch_entries[0] == batch_entries[1] and len(batch_entries[0]) >= 2
    proof = tmp_path / "entry-7.proof.json"
    for args in (("audit", "prove", "7", "--out", str(proof)),
                 ("audit", "check-proof", str(proof), "--key", str(home_pg / "keys" / "internal.pub")),
                 ("held", "list", "--format", "json"), ("store", "check"), ("audit", "verify", "--key", "internal")):
        done = _cli(home_pg, *args)
        assert done.returncode == 0, (args, done.stderr)
    # The replay of the log (the PostgreSQL rows copied into a scratch SQLite file) agrees.
    for args in (("store", "check", "--replay"), ("audit", "verify", "--key", "internal", "--state")):
        done = _cli(home_pg, *args)
        assert done.returncode == 0, (args, done.stderr)
    assert list((home_pg / "state").glob("cluetool-replay-*")) == []
    # stats reads the same answers from either store
    pg_stats = (tmp_path / "pg" / "demo" / "stats.txt").read_text(encoding="utf-8")
    assert pg_stats == (sqlite_demo / "stats.txt").read_text(encoding="utf-8") and pg_stats.strip()


TABLES = pgmigrate.TABLES


def test_migrate_to_copies_the_store_proves_it_and_leaves_sqlite_untouched(
        sqlite_demo: Path, tmp_path: Path, pg_url: str) -> None:
    home = tmp_path / "internal-home"
    shutil.copytree(sqlite_demo / "internal-home", home)
    store_db = home / "store.db"
    before = hashlib.sha256(store_db.read_bytes()).hexdigest()  # (SQLite may drop an empty -wal at close)
    everything = {t: f"SELECT * FROM {t} ORDER BY {'1, 2, 3' if t == 'report_codes' else '1, 2'}" for t in TABLES}
    expected = _sqlite_rows(store_db, everything)

    done = _cli(home, "-f", "json", "store", "migrate-to", pg_url)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert {t["table"]: t["rows"] for t in report["tables"]} == {t: len(rows) for t, rows in expected.items()}
    verified = _cli(home, "-f", "json", "audit", "verify", "--key", "internal")
    assert verified.returncode == 0, verified.stderr
    assert report["audit_root"] == json.loads(verified.stdout)["summary"]["root"]
    assert report["audit_entries"] == len(expected["audit_log"]) > 100
    # The SQLite store is untouched.
    assert hashlib.sha256(store_db.read_bytes()).hexdigest() == before
    assert _sqlite_rows(store_db, everything) == expected

    with psycopg.connect(pg_url) as pg:
        got = {k: _rows(pg.execute(q).fetchall()) for k, q in everything.items()}
    assert got == expected

    # Switched over, the home works on the copy: checks clean, new writes continue the ids.
    config = home / "config.toml"
    config.write_text(config.read_text(encoding="utf-8").replace(
        "\n# Attachment limits", f'\nstore = "{pg_url}"\n\n# Attachment limits', 1), encoding="utf-8")
    for args in (("audit", "verify", "--key", "internal"), ("store", "check")):
        done = _cli(home, *args)
        assert done.returncode == 0, (args, done.stderr)
    clue = expected["reports"][0][1]
    for args in (("record", clue, "contacted", "--channel", "phone", "--at", "2026-11-04T10:00:00+08:00"),
                 ("audit", "checkpoint", "--key", "internal", "--quiet"), ("audit", "verify", "--key", "internal")):
        done = _cli(home, *args)
        assert done.returncode == 0, (args, done.stderr)
    with psycopg.connect(pg_url) as pg:
        ids = [r[0] for r in pg.execute("SELECT id FROM checkpoints ORDER BY id").fetchall()]
        events = pg.execute("SELECT max(id), count(*) FROM events").fetchone()
    assert ids == list(range(1, len(expected["checkpoints"]) + 2))
    assert events == (len(expected["events"]) + 1, len(expected["events"]) + 1)

    # A second migrate-to into the same (now used) database is refused, nothing changed.
    again = _cli(home, "store", "migrate-to", pg_url)
    assert again.returncode == 3 and "the home's store is already postgresql://" in again.stderr
    other = tmp_path / "other-home"
    shutil.copytree(sqlite_demo / "internal-home", other)
    again = _cli(other, "store", "migrate-to", pg_url)
    assert again.returncode == 3 and "already exists" in again.stderr
    with psycopg.connect(pg_url) as pg:
        assert pg.execute("SELECT count(*) FROM events").fetchone()[0] == len(expected["events"]) + 1


def test_migrate_to_refuses_a_password_in_the_url_and_a_postgresql_home(tmp_path: Path, sqlite_demo: Path) -> None:
    home = tmp_path / "h"
    shutil.copytree(sqlite_demo / "internal-home", home)
    done = _cli(home, "store", "migrate-to", "postgresql://u:hunter2@localhost/x")
    assert done.returncode == 2 and "holds a password" in done.stderr and "hunter2" not in done.stderr
    done = _cli(home, "store", "migrate-to", "mysql://u@localhost/x")
    assert done.returncode == 2 and '"mysql" is not a postgresql:// URL' in done.stderr
    # init refuses them the same way, and writes no config.toml naming them
    for url, message in (("postgresql://u:hunter2@localhost/x", "holds a password"),
                         ("sqlite:///tmp/x.db", '"sqlite" is not a postgresql:// URL')):
        fresh = tmp_path / "fresh"
        done = _cli(fresh, "init", "--store", url)
        assert done.returncode == 2 and message in done.stderr and "hunter2" not in done.stderr, done.stderr
        assert not (fresh / "config.toml").exists()
