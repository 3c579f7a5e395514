"""``store backup`` / ``store restore`` (issue 16, failure 10): a consistent copy of the
store, blobs, state and public keys (secret keys only with --with-secrets); a restore
into a new home runs store check and audit verify, and the restored home goes on
importing."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from pathlib import Path

import pytest

from typer.testing import CliRunner

from cluetool.cli import app
from tests.batch_helpers import write_spool
from tests.test_import import RECEIVER_KEY, Pair, make_pair



@pytest.fixture
def pair(tmp_path: Path) -> Pair:
    """SQLite only here: store backup copies the SQLite file (PostgreSQL: pg_dump, docs/postgresql.md)."""
    return make_pair(tmp_path)

runner = CliRunner()


def _run(*args: object) -> object:
    return runner.invoke(app, [str(a) for a in args], catch_exceptions=False)


def _reports(store: Path) -> list[tuple[str, str]]:
    with sqlite3.connect(store) as conn:
        return conn.execute("SELECT submission_id, report_sha256 FROM reports ORDER BY submission_id").fetchall()


def _imported(pair: Pair) -> Path:
    write_spool(pair.root / "spool", 4, seed=8170, attachments=1)
    first, second = pair.seal(pair.root / "spool", max_reports=2)
    assert pair.import_([first]).ok
    return second


def test_store_backup_restore_roundtrip_then_import_continues(pair: Pair, tmp_path: Path) -> None:
    second = _imported(pair)
    home = pair.home.root
    r = _run("--home", home, "-f", "json", "store", "backup", tmp_path / "bk")
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert doc["with_secrets"] is False and doc["files"] > 0
    keys = sorted(p.name for p in (tmp_path / "bk" / "keys").iterdir())
    assert keys == [f"{RECEIVER_KEY}.age.pub", f"{RECEIVER_KEY}.pub"]  # no secret key
    assert sorted(p.name for p in (tmp_path / "bk" / "blobs").glob("*/*")) == sorted(p.name for p in pair.home.blobs_dir.glob("*/*"))

    r = _run("--home", home, "-f", "json", "store", "backup", tmp_path / "bk-secrets", "--with-secrets")
    assert r.exit_code == 0, r.output
    assert (tmp_path / "bk-secrets" / "keys" / f"{RECEIVER_KEY}.key").stat().st_mode & 0o777 == 0o600

    new = tmp_path / "restored"
    r = _run("-f", "json", "store", "restore", tmp_path / "bk-secrets", "--home", new, "--key", RECEIVER_KEY)
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert doc["ok"] and doc["store_check"]["ok"] and doc["audit"]["ok"]
    assert _reports(new / "store.db") == _reports(home / "store.db")
    # the restored home imports the next batch of the chain
    r = _run("--home", new, "-f", "json", "import", "--identity", RECEIVER_KEY, second)
    assert r.exit_code == 0, r.output
    assert len(_reports(new / "store.db")) == 4


def test_store_restore_changed_report_in_backup_exit_1(pair: Pair, tmp_path: Path) -> None:
    _imported(pair)
    assert _run("--home", pair.home.root, "store", "backup", tmp_path / "bk").exit_code == 0
    with sqlite3.connect(tmp_path / "bk" / "store.db") as conn:
        sid, data = conn.execute("SELECT submission_id, report_json FROM reports LIMIT 1").fetchone()
        changed = bytes(data).replace(b"{", b"{ ", 1)
        conn.execute("UPDATE reports SET report_json = ?, report_sha256 = ? WHERE submission_id = ?",
                     (changed, hashlib.sha256(changed).hexdigest(), sid))
    r = _run("-f", "json", "store", "restore", tmp_path / "bk", "--home", tmp_path / "restored", "--key", RECEIVER_KEY)
    assert r.exit_code == 1
    doc = json.loads(r.stdout)
    assert not doc["ok"] and [p["code"] for p in doc["store_check"]["problems"] if p["severity"] == "error"] == ["report.audit_mismatch"]


def test_store_backup_into_non_empty_dir_exit_2(pair: Pair, tmp_path: Path) -> None:
    _imported(pair)
    dest = tmp_path / "bk"
    dest.mkdir()
    (dest / "something").write_text("x")
    r = _run("--home", pair.home.root, "store", "backup", dest)
    assert r.exit_code == 2 and "not empty" in r.stderr
    assert sorted(p.name for p in dest.iterdir()) == ["something"]


def test_backup_of_a_postgresql_home_is_refused_with_one_line_naming_the_procedure(tmp_path: Path, pg_url: str) -> None:
    """Decided (docs/decisions.md): a PostgreSQL home is backed up with pg_dump or
    pg_basebackup and its files (docs/operations.md); store backup refuses it."""
    pg_pair = make_pair(tmp_path, pg_url)
    dest = tmp_path / "backup"
    result = _run("--home", pg_pair.home.root, "store", "backup", dest)
    assert result.exit_code == 3 and not dest.exists()
    lines = result.stderr.strip().splitlines()
    assert "this home's store is PostgreSQL" in lines[0] and "Traceback" not in result.stderr
    assert "docs/operations.md" in result.stderr and "pg_dump" in result.stderr
    docs = (Path(__file__).resolve().parents[1] / "docs" / "operations.md").read_text(encoding="utf-8")
    assert "## Backups of a PostgreSQL home" in docs
