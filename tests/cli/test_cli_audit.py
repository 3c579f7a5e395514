"""``cluetool audit …``: exit codes, parsed stdout, empty stderr on successful json runs,
``--quiet`` for cron."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from cluetool import keys
from cluetool.cli import app
from cluetool.config import Home
from cluetool.home import open_store
from tests.test_audit import MIGRATED, NOW, STORES, add_entries, backend_url, init_home_on, tamper

runner = CliRunner()


def invoke(args: list[str], home: Path | None) -> Result:
    env = {"CLUETOOL_HOME": str(home) if home else None, "CLUETOOL_DEBUG": None}
    return runner.invoke(app, args, env=env, catch_exceptions=False)


def ok_json(args: list[str], home: Path | None) -> object:
    result = invoke(["--format", "json", *args], home)
    assert result.exit_code == 0, (result.stdout, result.stderr)
    assert result.stderr == ""
    return json.loads(result.stdout)


@pytest.fixture(params=STORES)
def home(tmp_path: Path, request: pytest.FixtureRequest) -> Path:
    """A home with a key pair and 120 entries, its store in SQLite and in PostgreSQL (issue 22)."""
    h = init_home_on(tmp_path / "home", backend_url(request))
    keys.generate(h, "main", now=NOW)
    with open_store(h) as store:
        add_entries(store, 120)  # seq MIGRATED .. MIGRATED + 119, after the store.migrate entries
    return h.root


def test_cli_audit_checkpoint_json_and_quiet(home: Path) -> None:
    doc = ok_json(["audit", "checkpoint"], home)
    assert doc["schema"] == "cluetool.audit-checkpoint/1" and doc["size"] == MIGRATED + 120 and doc["created"] is True
    with open_store(Home(home)) as store:
        add_entries(store, 3, start=120)
    quiet = invoke(["audit", "checkpoint", "--quiet"], home)
    assert quiet.exit_code == 0 and quiet.stdout == "" and quiet.stderr == ""
    assert ok_json(["audit", "checkpoint"], home)["created"] is False


def test_cli_audit_checkpoint_missing_key_exits_3(home: Path) -> None:
    result = invoke(["audit", "checkpoint", "--key", "nope"], home)
    assert result.exit_code == 3 and result.stderr.startswith("cluetool: error: ")


def test_cli_audit_verify_ok_and_tampered(home: Path) -> None:
    ok_json(["audit", "checkpoint"], home)
    doc = ok_json(["audit", "verify"], home)
    assert doc["schema"] == "cluetool.audit-verify/1" and doc["ok"] is True and doc["summary"]["entries"] == MIGRATED + 120
    table = invoke(["audit", "verify"], home)
    assert table.exit_code == 0 and "audit trail verified" in table.stderr
    seq = MIGRATED + 8  # an entry of add_entries (a store.migrate entry has no "report:")
    with open_store(Home(home)) as store:
        tamper(store, ("UPDATE audit_log SET entry = replace(entry, 'report:', 'rep0rt:') WHERE seq = ?", (seq,)))
    result = invoke(["--format", "json", "audit", "verify"], home)
    assert result.exit_code == 1 and result.stderr == ""
    found = {(f["code"], f["seq"]) for f in json.loads(result.stdout)["findings"]}
    assert ("audit.leaf_mismatch", seq) in found
    lines = invoke(["--format", "jsonl", "audit", "verify"], home).stdout.splitlines()
    assert {json.loads(x)["code"] for x in lines} >= {"audit.leaf_mismatch", "audit.inconsistent"}


def test_cli_audit_log_filters_and_formats(home: Path) -> None:
    doc = ok_json(["audit", "log", "--action", "clue.assign", "--limit", "3"], home)
    assert doc["schema"] == "cluetool.audit-log/1"
    assert [e["seq"] for e in doc["entries"]] == [MIGRATED + 0, MIGRATED + 3, MIGRATED + 6]
    result = invoke(["--format", "jsonl", "audit", "log", "--object", "report:0000001*", "--since", "2026-11-24"], home)
    assert result.exit_code == 0 and result.stderr == ""
    assert [json.loads(x)["object"] for x in result.stdout.splitlines()] == [f"report:{i:08d}" for i in range(10, 20)]
    table = invoke(["audit", "log", "--actor", "cluetool"], home)
    assert table.exit_code == 0 and "store.migrate" in table.stdout
    bad = invoke(["audit", "log", "--until", "soon"], home)
    assert bad.exit_code == 2 and bad.stderr.startswith("cluetool: error: invalid --until")


def test_cli_audit_prove_and_check_proof_round_trip(home: Path, tmp_path: Path) -> None:
    ok_json(["audit", "checkpoint"], home)
    doc = ok_json(["audit", "prove", "57"], home)
    assert doc["type"] == "inclusion" and doc["leaf_index"] == 57 and doc["tree_size"] == MIGRATED + 120
    assert all(len(h) == 64 for h in doc["proof"]) and doc["checkpoint"].startswith("cluetool/")
    proof = tmp_path / "p.json"
    proof.write_text(json.dumps(doc))
    pub = home / "keys" / "main.pub"
    check = ok_json(["audit", "check-proof", str(proof), "--key", str(pub)], None)
    assert check["ok"] is True and check["signature_checked"] is True
    keyless = invoke(["audit", "check-proof", str(proof)], None)
    assert keyless.exit_code == 2 and keyless.stderr.startswith("cluetool: error: no --key")
    assert "cluetool: hint: " in keyless.stderr and "--no-key" in keyless.stderr
    unsigned = invoke(["audit", "check-proof", str(proof), "--no-key"], None)
    assert unsigned.exit_code == 0 and "signature was NOT checked" in unsigned.stderr
    doc["leaf_index"] = 58
    proof.write_text(json.dumps(doc))
    bad = invoke(["--format", "json", "audit", "check-proof", str(proof), "--key", str(pub)], None)
    assert bad.exit_code == 1 and bad.stderr == ""
    assert "audit.proof_invalid" in {f["code"] for f in json.loads(bad.stdout)["findings"]}


def test_cli_audit_prove_consistency(home: Path, tmp_path: Path) -> None:
    first = ok_json(["audit", "checkpoint"], home)
    with open_store(Home(home)) as store:
        add_entries(store, 50, start=120)
    ok_json(["audit", "checkpoint"], home)
    doc = ok_json(["audit", "prove", "--from", str(first["size"])], home)
    assert (doc["type"], doc["from_size"], doc["to_size"]) == ("consistency", MIGRATED + 120, MIGRATED + 170)
    f = tmp_path / "c.json"
    f.write_text(json.dumps(doc))
    assert ok_json(["audit", "check-proof", str(f), "--key", str(home / "keys" / "main.pub")], None)["ok"] is True


def test_cli_audit_prove_usage_errors_exit_2(home: Path) -> None:
    ok_json(["audit", "checkpoint"], home)
    assert invoke(["audit", "prove"], home).exit_code == 2
    assert invoke(["audit", "prove", "3", "--from", "1"], home).exit_code == 2
    assert invoke(["audit", "prove", "999"], home).exit_code == 2
    assert invoke(["audit", "check-proof", "/nonexistent/proof.json"], None).exit_code == 2


def test_cli_audit_prove_without_checkpoint_exits_3(home: Path) -> None:
    result = invoke(["audit", "prove", "1"], home)
    assert result.exit_code == 3 and "audit checkpoint" in result.stderr


def test_cli_audit_export_and_verify_without_home(home: Path, tmp_path: Path) -> None:
    ok_json(["audit", "checkpoint"], home)
    doc = ok_json(["audit", "export", "--out", str(tmp_path / "exp")], home)
    assert doc["schema"] == "cluetool.audit-export/1" and doc["entries"] == MIGRATED + 120
    report = ok_json(["audit", "verify", "--export", str(tmp_path / "exp"), "--key", str(home / "keys" / "main.pub")], None)
    assert report["ok"] is True and report["summary"]["checkpoints_verified"] == 1
    with open_store(Home(home)) as store:
        add_entries(store, 10, start=120)
    ok_json(["audit", "checkpoint"], home)
    ok_json(["audit", "export", "--out", str(tmp_path / "exp2")], home)
    args = ["audit", "verify", "--export", str(tmp_path / "exp2"), "--previous", str(tmp_path / "exp"),
            "--key", str(home / "keys" / "main.pub")]
    assert ok_json(args, None)["summary"]["entries"] == MIGRATED + 130
    lines = (tmp_path / "exp" / "entries.jsonl").read_bytes().splitlines(keepends=True)
    (tmp_path / "exp" / "entries.jsonl").write_bytes(b"".join(lines[:50] + lines[51:]))
    result = invoke(["--format", "json", *args], None)
    assert result.exit_code == 1
    assert any(f["code"] == "audit.prefix_mismatch" for f in json.loads(result.stdout)["findings"])


def test_cli_audit_verify_export_needs_key_exits_2(tmp_path: Path) -> None:
    result = invoke(["audit", "verify", "--export", str(tmp_path)], None)
    assert result.exit_code == 2 and "--key" in result.stderr
    assert invoke(["audit", "verify", "--previous", str(tmp_path)], None).exit_code == 2


def test_cli_audit_without_home_exits_3(tmp_path: Path) -> None:
    result = invoke(["audit", "verify"], None)
    assert result.exit_code == 3 and result.stderr.startswith("cluetool: error: no cluetool home")
