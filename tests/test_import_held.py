"""No stalled chain at the receiver (issue 15, case 2): a byte-identical re-sent report is
skipped and recorded; a report colliding with a different stored report (same
submission id, or same query code) is held in the store for a person to settle; the
rest of its batch is imported and the chain moves on."""

from __future__ import annotations

import json
import random
import shutil
from pathlib import Path
from typing import Any

import pytest
from freezegun import freeze_time
from typer.testing import CliRunner

from cluetool import api, keys
from cluetool.cli import app
from cluetool.errors import InputError
from samples.make_samples import valid_submission, write_submission
from tests.batch_helpers import NOW, KeyHome, make_home, write_spool
from tests.test_import import Pair, audit_entries, connect, make_pair

OTHER = "intake-sh"


@pytest.fixture(params=["sqlite", "postgresql"])
def pair(tmp_path: Path, request: pytest.FixtureRequest) -> Pair:
    """The pair, its receiver's store in SQLite and in PostgreSQL (issue 22)."""
    return make_pair(tmp_path, request.getfixturevalue("pg_url") if request.param == "postgresql" else None)


@pytest.fixture
def other(pair: Pair) -> KeyHome:
    """A second intake (its own home and key, source intake-sh) the receiver trusts."""
    kh = make_home(pair.root / "intake-2")
    keys.trust(pair.home, OTHER, kh.pub)
    return kh


def _stored(pair: Pair) -> dict[str, bytes]:
    with connect(pair.home) as conn:
        return {r[0]: bytes(r[1]) for r in conn.execute("SELECT submission_id, report_json FROM reports")}


def _variant(report: dict[str, Any]) -> dict[str, Any]:
    """The same submission, one field changed (a different report under the same id)."""
    changed = json.loads(json.dumps(report))
    changed["channel"] = "letter" if report["channel"] != "letter" else "phone"
    return changed


def test_import_same_report_sealed_by_two_intakes_imported_once_second_resent(pair: Pair, other: KeyHome) -> None:
    names = write_spool(pair.root / "spool-a", 2, seed=1801, attachments=1)
    shutil.copytree(pair.root / "spool-a" / names[0], pair.root / "spool-b" / names[0])
    fresh = write_spool(pair.root / "spool-b", 1, seed=1802, attachments=0)
    [a] = pair.seal(pair.root / "spool-a")
    [b] = pair.seal(pair.root / "spool-b", pair.root / "out-b", sender=other, source=OTHER)
    assert pair.import_([a]).ok
    before = _stored(pair)
    result = pair.import_([b])
    assert result.ok, result.problems
    [res] = result.batches
    assert (res.status, res.reports, res.resent, res.held) == ("imported", 1, 1, 0)
    after = _stored(pair)
    assert set(after) == set(before) | set(fresh) and after[names[0]] == before[names[0]]
    resent = [e for e in audit_entries(pair.home) if e["action"] == "report.resent"]
    assert [e["object"] for e in resent] == [names[0]] and resent[0]["details"]["batch"] == f"{OTHER}/1"
    # importing b again is a no-op; the chain of intake-sh moved on
    assert pair.import_([b]).batches[0].status == "already_imported"


def test_import_colliding_report_held_rest_imported_chain_moves_on_then_kept(pair: Pair, other: KeyHome) -> None:
    report, files, _ = valid_submission(random.Random(1811), 0, attachments=1)
    write_submission(pair.root / "spool-a" / report["submission_id"], report, files)
    [a] = pair.seal(pair.root / "spool-a")
    write_submission(pair.root / "spool-b" / report["submission_id"], _variant(report), files)
    fresh = write_spool(pair.root / "spool-b", 2, seed=1812, attachments=0)
    [b1] = pair.seal(pair.root / "spool-b", pair.root / "out-b", sender=other, source=OTHER)
    later = write_spool(pair.root / "spool-b2", 1, seed=1813, attachments=0)
    [b2] = pair.seal(pair.root / "spool-b2", pair.root / "out-b", sender=other, source=OTHER)
    assert pair.import_([a]).ok
    result = pair.import_([b1, b2])
    assert result.ok, result.problems
    assert [(r.status, r.reports, r.held) for r in result.batches] == [("imported", 2, 1), ("imported", 1, 0)]
    assert set(_stored(pair)) == {report["submission_id"], *fresh, *later}
    [held] = api.held_list(pair.home).held
    assert (held.submission_id, held.reason, held.collides_with, held.state) == (
        report["submission_id"], "submission_id.collision", report["submission_id"], "held")
    assert held.batch == f"{OTHER}-00000001.clue"
    assert "report.held" in [e["action"] for e in audit_entries(pair.home)]
    # the held report's attachment stays referenced: store check finds no orphan
    check = api.store_check(pair.home)
    assert check.ok and not [p for p in check.problems if p.code == "blob.orphan"], check.problems

    kept = api.held_resolve(pair.home, held.id, keep=True, reason="a second, different report", now=NOW)
    assert kept.state == "kept" and api.held_list(pair.home).held == []
    assert [h.state for h in api.held_list(pair.home, all_states=True).held] == ["kept"]
    entry = [e for e in audit_entries(pair.home) if e["action"] == "held.kept"][0]
    assert entry["object"] == report["submission_id"] and "reason_hmac_sha256" in entry["details"]
    assert "a second" not in json.dumps(entry)
    with pytest.raises(InputError):
        api.held_resolve(pair.home, held.id, keep=False, reason="again", now=NOW)


def test_import_query_code_collision_held_then_discarded(pair: Pair, other: KeyHome) -> None:
    a_rep, a_files, _ = valid_submission(random.Random(1821), 0, attachments=0)
    write_submission(pair.root / "spool-a" / a_rep["submission_id"], a_rep, a_files)
    [a] = pair.seal(pair.root / "spool-a")
    b_rep, b_files, _ = valid_submission(random.Random(1822), 1, attachments=1)
    b_rep["query_code_sha256"] = a_rep["query_code_sha256"]
    write_submission(pair.root / "spool-b" / b_rep["submission_id"], b_rep, b_files)
    [b] = pair.seal(pair.root / "spool-b", pair.root / "out-b", sender=other, source=OTHER)
    assert pair.import_([a]).ok
    result = pair.import_([b])
    assert result.ok and result.batches[0].held == 1 and result.batches[0].reports == 0
    [held] = api.held_list(pair.home).held
    assert (held.reason, held.collides_with) == ("query_code.collision", a_rep["submission_id"])

    runner = CliRunner()
    env = {"CLUETOOL_HOME": str(pair.home.root), "CLUETOOL_DEBUG": None}
    with freeze_time(NOW):
        r = runner.invoke(app, ["held", "resolve", str(held.id), "--discard", "--reason", "a test submission",
                                "-f", "json"], env=env, catch_exceptions=False)
    assert r.exit_code == 0 and r.stderr == "", r.stderr
    assert json.loads(r.stdout)["state"] == "discarded"
    with connect(pair.home) as conn:
        body, state = conn.execute("SELECT report_json, state FROM held_reports WHERE id = ?", (held.id,)).fetchone()
        assert (bytes(body), state) == (b"", "discarded")
        assert conn.execute("SELECT count(*) FROM held_attachments").fetchone()[0] == 0
    assert [e for e in audit_entries(pair.home) if e["action"] == "held.discarded"]
    r = runner.invoke(app, ["held", "list", "--all", "-f", "jsonl"], env=env, catch_exceptions=False)
    assert [json.loads(ln)["state"] for ln in r.stdout.splitlines()] == ["discarded"]
    r = runner.invoke(app, ["held", "resolve", str(held.id), "--keep-both", "--discard", "--reason", "x"], env=env,
                      catch_exceptions=False)
    assert r.exit_code == 2 and r.stderr.startswith("cluetool: error: ")
