"""``store check`` re-hashes every stored report against its ``report_sha256`` and its
import's audit entry (issue 16, failure 5); ``store check --repair`` removes leftovers
of killed runs, naming each (failure 9)."""

from __future__ import annotations

import hashlib
import io
import json
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cluetool import api
from cluetool.cli import app
from cluetool.home import open_store
from tests.batch_helpers import write_spool
from tests.test_import import Pair, connect, make_pair



@pytest.fixture(params=["sqlite", "postgresql"])
def pair(tmp_path: Path, request: pytest.FixtureRequest) -> Pair:
    """The pair, its store in SQLite and in PostgreSQL (issue 22): the tests edit the
    store's rows behind cluetool's back."""
    return make_pair(tmp_path, request.getfixturevalue("pg_url") if request.param == "postgresql" else None)

DEAD_PID = 999_999_999  # above any pid_max


@pytest.fixture
def imported(pair: Pair) -> Pair:
    write_spool(pair.root / "spool", 3, seed=8163, attachments=1)
    batches = pair.seal(pair.root / "spool")
    assert pair.import_(batches).ok
    assert api.store_check(pair.home).ok
    return pair


def _first_report(pair: Pair) -> tuple[str, bytes]:
    with connect(pair.home) as conn:
        sid, data = conn.execute("SELECT submission_id, report_json FROM reports ORDER BY id LIMIT 1").fetchone()
    return sid, bytes(data)


def _flip(data: bytes) -> bytes:
    i = data.index(b'"kind"')
    return data[:i] + data[i:].replace(b'"kind"', b'"kinD"', 1)


def test_store_check_report_byte_changed_names_report(imported: Pair) -> None:
    sid, data = _first_report(imported)
    with connect(imported.home) as conn:
        conn.execute("UPDATE reports SET report_json = ? WHERE submission_id = ?", (_flip(data), sid))
    report = api.store_check(imported.home)
    assert not report.ok
    assert [(p.code, p.object) for p in report.problems if p.severity == "error"] == [("report.changed", sid)]


def test_store_check_report_and_hash_changed_mismatch_with_audit_entry(imported: Pair) -> None:
    sid, data = _first_report(imported)
    changed = _flip(data)
    with connect(imported.home) as conn:
        conn.execute("UPDATE reports SET report_json = ?, report_sha256 = ? WHERE submission_id = ?",
                     (changed, hashlib.sha256(changed).hexdigest(), sid))
    report = api.store_check(imported.home)
    assert not report.ok
    assert [(p.code, p.object) for p in report.problems if p.severity == "error"] == [("report.audit_mismatch", sid)]
    cli = CliRunner().invoke(app, ["--home", str(imported.home.root), "store", "check"], catch_exceptions=False)
    assert cli.exit_code == 1 and "report.audit_mismatch" in cli.stdout


def test_store_check_repair_removes_stray_temp_files_and_orphans(imported: Pair) -> None:
    home = imported.home
    blobs = home.blobs_dir
    dead_tmp = blobs / f".tmp-{DEAD_PID}-abc123"
    legacy_tmp = blobs / ".tmp-q1w2e3"  # an older cluetool's name (no pid)
    live_tmp = blobs / f".tmp-{os.getpid()}-live"  # a writer still running
    for p in (dead_tmp, legacy_tmp, live_tmp):
        p.write_bytes(b"partial attachment bytes")
    with open_store(home) as store:
        orphan_sha, _ = store.blobs.put(io.BytesIO(b"an attachment of a failed import"))
        orphan = store.blobs.path(orphan_sha)
    seal_dir = home.state_dir / "seal"
    seal_dir.mkdir(parents=True, exist_ok=True)
    dead_state = seal_dir / f".intake-bj.json.tmp-{DEAD_PID}"
    live_state = seal_dir / f".intake-bj.json.tmp-{os.getpid()}"
    dead_state.write_bytes(b"{")
    live_state.write_bytes(b"{")
    with connect(home) as conn:
        referenced = {r[0] for r in conn.execute("SELECT sha256 FROM attachments")}
    before = api.store_check(home)
    assert before.ok and any(p.code == "blob.orphan" for p in before.problems)

    cli = CliRunner().invoke(app, ["--home", str(home.root), "-f", "json", "store", "check", "--repair"],
                             catch_exceptions=False)
    assert cli.exit_code == 0, cli.output
    doc = json.loads(cli.stdout)
    assert sorted(doc["removed"]) == sorted(map(str, (dead_tmp, legacy_tmp, orphan, dead_state)))
    assert not any(p.exists() for p in (dead_tmp, legacy_tmp, orphan, dead_state))
    assert live_tmp.exists() and live_state.exists()
    assert {p.name for p in blobs.glob("*/*")} == referenced  # every referenced blob kept
    assert not any(p["code"] in ("blob.orphan",) for p in doc["problems"])
    assert api.store_check(home).ok


def test_store_check_held_report_byte_changed_names_it(pair: Pair) -> None:
    import random

    from cluetool import keys
    from samples.make_samples import valid_submission, write_submission
    from tests.batch_helpers import make_home
    from tests.test_import_held import OTHER, _variant

    other = make_home(pair.root / "intake-2")
    keys.trust(pair.home, OTHER, other.pub)
    report, files, _ = valid_submission(random.Random(1821), 0, attachments=0)
    write_submission(pair.root / "spool-a" / report["submission_id"], report, files)
    write_submission(pair.root / "spool-b" / report["submission_id"], _variant(report), files)
    [a] = pair.seal(pair.root / "spool-a")
    [b] = pair.seal(pair.root / "spool-b", pair.root / "out-b", sender=other, source=OTHER)
    assert pair.import_([a, b]).ok
    assert api.store_check(pair.home).ok
    with connect(pair.home) as conn:
        held_id, data = conn.execute("SELECT id, report_json FROM held_reports").fetchone()
        conn.execute("UPDATE held_reports SET report_json = ? WHERE id = ?", (_flip(bytes(data)), held_id))
    report_ = api.store_check(pair.home)
    assert [(p.code, p.object) for p in report_.problems if p.severity == "error"] == [
        ("report.changed", f"held/{held_id} ({report['submission_id']})")]
