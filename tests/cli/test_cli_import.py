"""``cluetool init``, ``import``, ``status``, ``code new``, ``duplicates`` and ``store
check`` through the CLI: exit codes, parsed json output, empty stderr on successful json
runs, one-line errors."""

from __future__ import annotations

import hashlib
import json
import random
import re
import shutil
import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from cluetool.cli import app
from cluetool.config import Home
from cluetool.store import latest_version
from samples.make_samples import valid_submission, write_submission
from tests.batch_helpers import sample_spool  # noqa: F401 - fixture
from tests.batch_helpers import KeyHome, write_spool
from tests.test_import import (  # noqa: F401 - fixtures
    RECEIVER_KEY,
    Locker,
    Pair,
    connect,
    gang_with_id,
    make_pair,
    snapshot,
    assert_unchanged,
    table_counts,
    three,
)



@pytest.fixture(params=["sqlite", "postgresql"])
def pair(tmp_path: Path, request: pytest.FixtureRequest) -> Pair:
    """The pair, its store in SQLite and in PostgreSQL (issue 22); the tests of SQLite's
    schema version and write lock take only the first."""
    return make_pair(tmp_path, request.getfixturevalue("pg_url") if request.param == "postgresql" else None)


SQLITE_ONLY = pytest.mark.parametrize("pair", ["sqlite"], indirect=True)
from tests.test_status import imported, mistype  # noqa: F401 - fixture

runner = CliRunner()


def invoke(args: list[object], home: Path | None) -> Result:
    env = {"CLUETOOL_HOME": str(home) if home else None, "CLUETOOL_DEBUG": None}
    return runner.invoke(app, [str(a) for a in args], env=env, catch_exceptions=False)


def json_ok(result: Result, code: int = 0) -> dict:
    assert result.exit_code == code, (result.exit_code, result.stdout, result.stderr)
    assert result.stderr == ""
    return json.loads(result.stdout)


def assert_error(result: Result, code: int, *needles: str) -> list[str]:
    assert result.exit_code == code, (result.exit_code, result.stdout, result.stderr)
    lines = result.stderr.splitlines()
    assert lines and lines[0].startswith("cluetool: error: "), result.stderr
    assert len(lines) == 1 or (len(lines) == 2 and lines[1].startswith("cluetool: hint: ")), result.stderr
    assert "Traceback" not in result.output
    for needle in needles:
        assert needle in result.stderr, (needle, result.stderr)
    return lines


def import_args(*batches: Path, fmt: str = "json", extra: tuple[object, ...] = ()) -> list[object]:
    # -q: these tests are about the import, not the November calendar notice (the clock is real here).
    return ["-f", fmt, "import", "-q", "--identity", RECEIVER_KEY, *extra, *batches]


# --------------------------------------------------------------------------- init


def test_cli_init_creates_store_blobs_rules(tmp_path: Path) -> None:
    root = tmp_path / "home"
    r = invoke(["init"], root)
    assert r.exit_code == 0, r.stderr
    assert (root / "store.db").is_file() and (root / "blobs").is_dir() and (root / "rules").is_dir()
    assert (root / "store.db").stat().st_mode & 0o777 == 0o600
    assert (root / "blobs").stat().st_mode & 0o777 == 0o700
    with sqlite3.connect(root / "store.db") as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA user_version").fetchone()[0] == latest_version()
    assert invoke(["init"], root).exit_code == 0  # idempotent


@SQLITE_ONLY
def test_cli_store_newer_schema_exit_3_with_hint(pair: Pair, three: list[Path]) -> None:
    with sqlite3.connect(pair.home.store_file) as conn:
        conn.execute(f"PRAGMA user_version = {latest_version() + 1}")
    root = pair.receiver.root
    code = json_ok(invoke(["code", "new", "-f", "json"], None))["code"]
    for args in (["init"], import_args(three[0]), ["store", "check"], ["duplicates"], ["status", code]):
        lines = assert_error(invoke(args, root), 3, "newer")
        assert len(lines) == 2 and "upgrade" in lines[1]


# --------------------------------------------------------------------------- import


def test_cli_import_json_then_again_already_imported(pair: Pair, three: list[Path]) -> None:
    root = pair.receiver.root
    doc = json_ok(invoke(import_args(*three), root))
    assert doc["ok"] is True and doc["schema"] == "cluetool.import/1" and doc["problems"] == []
    assert [(b["status"], b["sequence"], b["reports"]) for b in doc["batches"]] == [("imported", i, 2) for i in (1, 2, 3)]
    before = snapshot(pair.home)
    again = json_ok(invoke(import_args(*three), root))
    assert [b["status"] for b in again["batches"]] == ["already_imported"] * 3
    assert_unchanged(before, pair.home)
    # table output lists the batches too
    table = invoke(import_args(*three, fmt="table"), root)
    assert table.exit_code == 0 and "already_imported" in table.stdout


def test_cli_import_gap_exit_1_then_allow_gap_with_reason(pair: Pair, three: list[Path]) -> None:
    root = pair.receiver.root
    json_ok(invoke(import_args(three[0]), root))
    before = snapshot(pair.home)
    r = invoke(import_args(three[2]), root)
    assert r.exit_code == 1 and r.stderr == ""
    doc = json.loads(r.stdout)
    assert doc["ok"] is False and [(p["batch"], p["code"]) for p in doc["problems"]] == [(three[2].name, "chain.gap")]
    assert_unchanged(before, pair.home)
    table = invoke(import_args(three[2], fmt="table"), root)
    assert table.exit_code == 1 and "chain.gap" in table.stdout and three[2].name in table.stdout

    doc = json_ok(invoke(import_args(three[2], extra=("--allow-gap", "--reason", "lost on the way")), root))
    assert doc["batches"][0]["status"] == "imported" and doc["batches"][0]["gap_reason"] == "lost on the way"
    with connect(pair.home) as conn:
        assert conn.execute("SELECT allow_gap_reason FROM batches WHERE sequence = 3").fetchone()[0] == "lost on the way"


@pytest.mark.parametrize("extra", [("--allow-gap",), ("--reason", "why"), ("--allow-gap", "--reason", "")],
                         ids=["allow_gap_alone", "reason_alone", "empty_reason"])
def test_cli_import_allow_gap_reason_mismatch_exit_2(pair: Pair, three: list[Path], extra: tuple[str, ...]) -> None:
    before = snapshot(pair.home)
    assert_error(invoke(import_args(three[1], extra=extra), pair.receiver.root), 2)
    assert_unchanged(before, pair.home)


def test_cli_import_fork_exit_1_and_audited(pair: Pair, three: list[Path]) -> None:
    root = pair.receiver.root
    json_ok(invoke(import_args(three[0]), root))
    twin_root = pair.root / "twin"
    shutil.copytree(pair.sender.root, twin_root)  # the same key files, its own seal state
    shutil.rmtree(twin_root / "state")
    (twin_root / "state").mkdir(mode=0o700)
    twin = KeyHome(home=Home(twin_root), name=pair.sender.name, info=pair.sender.info)
    write_spool(pair.root / "spool-b", 1, seed=9101)
    [fork] = pair.seal(pair.root / "spool-b", pair.root / "out-b", sender=twin)
    r = invoke(import_args(fork), root)
    assert r.exit_code == 1
    assert "chain.fork" in {p["code"] for p in json.loads(r.stdout)["problems"]}
    with connect(pair.home) as conn:
        assert conn.execute("SELECT count(*) FROM batches").fetchone()[0] == 1
        last = json.loads(conn.execute("SELECT entry FROM audit_log ORDER BY seq DESC LIMIT 1").fetchone()[0])
    assert last["action"] == "batch.fork_refused"


@SQLITE_ONLY  # (PostgreSQL: tests/test_pg_concurrency.py)
def test_cli_import_store_locked_exit_75_then_ok(pair: Pair, three: list[Path]) -> None:
    root = pair.receiver.root
    before = snapshot(pair.home)
    lock = Locker(pair.home.store_file)
    try:
        r = invoke(import_args(*three, extra=("--wait", "0.5")), root)
    finally:
        lock.release()
    lines = assert_error(r, 75, "locked")
    assert len(lines) == 2 and "--wait" in lines[1]
    assert r.stdout == ""
    after = snapshot(pair.home)  # nothing stored; the blobs written stay as orphans (issue 16)
    assert after.counts == before.counts and after.dump == before.dump
    assert json_ok(invoke(import_args(*three, extra=("--wait", "0.5")), root))["ok"] is True
    assert table_counts(pair.home)["reports"] == 6
    assert json_ok(invoke(["-f", "json", "store", "check"], root))["ok"] is True


def test_cli_import_missing_file_exit_2(pair: Pair, tmp_path: Path) -> None:
    assert_error(invoke(import_args(tmp_path / "nope.clue"), pair.receiver.root), 2, "nope.clue")


def test_cli_import_no_home_exit_3(three: list[Path], tmp_path: Path) -> None:
    assert_error(invoke(import_args(*three), tmp_path / "no-home"), 3)


def test_cli_import_unknown_identity_exit_3(pair: Pair, three: list[Path]) -> None:
    r = invoke(["import", "--identity", "absent", three[0]], pair.receiver.root)
    assert_error(r, 3)


# --------------------------------------------------------------------------- status and code new


def test_cli_code_new_json() -> None:
    doc = json_ok(invoke(["code", "new", "-f", "json"], None))
    assert re.fullmatch(r"[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z*~$=]", doc["code"])
    assert re.fullmatch(r"[0-9a-f]{64}", doc["sha256"]) and doc["schema"] == "cluetool.code/1"
    assert doc["sha256"] == hashlib.sha256(doc["code"].replace("-", "").encode()).hexdigest()


def test_cli_status_sample_code_only_stage(imported: tuple[Pair, dict[str, str]]) -> None:
    pair, codes = imported
    sid, code = next(iter(codes.items()))
    r = invoke(["status", code, "-f", "json"], pair.receiver.root)
    doc = json_ok(r)
    assert doc == {"stage": "received", "schema": "cluetool.status/1"}
    assert sid not in r.stdout
    table = invoke(["status", code], pair.receiver.root)
    assert table.exit_code == 0 and "received" in table.stdout and sid not in table.stdout


def test_cli_status_mistyped_exit_2_unknown_exit_1(imported: tuple[Pair, dict[str, str]]) -> None:
    pair, codes = imported
    code = next(iter(codes.values()))
    assert_error(invoke(["status", mistype(code), "-f", "json"], pair.receiver.root), 2, "invalid query code")
    unknown = json.loads(invoke(["code", "new", "-f", "json"], None).stdout)["code"]
    r = invoke(["status", unknown, "-f", "json"], pair.receiver.root)
    assert_error(r, 1, "not found")
    assert r.stdout == ""


@SQLITE_ONLY  # (it removes the store file)
def test_cli_status_mistyped_code_wins_over_missing_store(pair: Pair) -> None:
    code = json.loads(invoke(["code", "new", "-f", "json"], None).stdout)["code"]
    for suffix in ("", "-wal", "-shm"):
        Path(f"{pair.home.store_file}{suffix}").unlink(missing_ok=True)
    assert_error(invoke(["status", mistype(code)], pair.receiver.root), 2, "invalid query code")
    assert_error(invoke(["status", code], pair.receiver.root), 3, "store")
    assert not pair.home.store_file.exists()


# --------------------------------------------------------------------------- duplicates, store check


def test_cli_duplicates_json_lists_shared_subject_id(pair: Pair) -> None:
    root = pair.receiver.root
    assert json_ok(invoke(["duplicates", "-f", "json"], root))["duplicates"] == []
    a = gang_with_id(9201)
    b, _, _ = valid_submission(random.Random(9202), 1, attachments=0)
    b["subjects"][0]["type"] = "person"
    b["subjects"][0]["id_number"] = a["subjects"][0]["id_number"]
    write_submission(pair.root / "s1" / a["submission_id"], a, {})
    write_submission(pair.root / "s2" / b["submission_id"], b, {})
    batches = pair.seal(pair.root / "s1") + pair.seal(pair.root / "s2")
    json_ok(invoke(import_args(*batches), root))
    doc = json_ok(invoke(["duplicates", "-f", "json"], root))
    assert doc["schema"] == "cluetool.duplicates/1"
    [link] = doc["duplicates"]
    assert (link["submission_id"], link["duplicate_of"], link["state"]) == (b["submission_id"], a["submission_id"], "open")
    assert link["reason"]
    lines = invoke(["duplicates", "-f", "jsonl"], root).stdout.splitlines()
    assert [json.loads(x)["submission_id"] for x in lines] == [b["submission_id"]]
    assert table_counts(pair.home)["reports"] == 2


def test_cli_store_check_json_ok_then_tampered_exit_1(pair: Pair, three: list[Path]) -> None:
    root = pair.receiver.root
    json_ok(invoke(import_args(*three), root))
    doc = json_ok(invoke(["-f", "json", "store", "check"], root))
    assert doc["ok"] is True and all(p["severity"] == "info" for p in doc["problems"])
    blob = next(p for p in pair.home.blobs_dir.rglob("*") if p.is_file())
    blob.write_bytes(blob.read_bytes() + b"x")
    r = invoke(["-f", "json", "store", "check"], root)
    assert r.exit_code == 1 and r.stderr == ""
    doc = json.loads(r.stdout)
    assert doc["ok"] is False and [p["code"] for p in doc["problems"] if p["severity"] == "error"] == ["blob.tampered"]
    blob.unlink()
    r = invoke(["-f", "json", "store", "check"], root)
    assert r.exit_code == 1
    assert [p["code"] for p in json.loads(r.stdout)["problems"] if p["severity"] == "error"] == ["blob.missing"]
