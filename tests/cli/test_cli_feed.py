"""``cluetool feed export``, ``cluetool feed import``, ``status`` at the intake and seal's
``--warn-done-days``: exit codes, parsed output, messages on stderr; and the feed's
standard-tool recipe (tar, sha256sum, minisign) with the real tools (docs/feed.md)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from cluetool.cli import app
from tests.batch_helpers import SOURCE
from tests.conftest import require_tool
from tests.feed_helpers import FEED_SOURCE, Sides, make_sides

runner = CliRunner()
EXPORT = "2026-11-25T10:00:00+08:00"
IMPORT = "2026-11-25T11:00:00+08:00"


def invoke(args: list[object], home: Path) -> Result:
    env = {"CLUETOOL_HOME": str(home), "CLUETOOL_DEBUG": None}
    return runner.invoke(app, [str(a) for a in args], env=env, catch_exceptions=False)


@pytest.fixture(params=["sqlite", "postgresql"])
def sides(tmp_path: Path, request: pytest.FixtureRequest) -> Sides:
    """The two sides, the internal store in SQLite and in PostgreSQL (issue 22)."""
    s = make_sides(tmp_path, request.getfixturevalue("pg_url") if request.param == "postgresql" else None)
    s.seal(4, seed=2311)
    s.import_(s.batches[:1])
    return s


def _export(s: Sides) -> Path:
    r = invoke(["feed", "export", "--source", FEED_SOURCE, "--out", s.root / "feeds", "--key", "internal", "--at", EXPORT,
                "--format", "json"], s.internal.root)
    assert r.exit_code == 0 and r.stderr == "", r.stderr
    doc = json.loads(r.stdout)
    assert doc["schema"] == "cluetool.feed-export/1" and doc["sequence"] == 1 and doc["codes"] == 2 and doc["batches"] == 1
    return Path(doc["path"])


def test_cli_feed_export_import_status_and_purge_log(sides: Sides) -> None:
    s = sides
    path = _export(s)
    r = invoke(["feed", "import", path, "--at", IMPORT, "--format", "json"], s.intake.root)
    assert r.exit_code == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["status"] == "imported" and [(b["batch"], b["status"], b["submissions"]) for b in doc["batches"]] == [
        ("intake-bj-00000001.clue", "purged", 2)]
    assert r.stderr.splitlines() == [f"cluetool: purged batch intake-bj-00000001.clue: 2 submission(s) deleted from {s.done}/intake-bj-00000001"]
    assert s.done_dirs() == ["intake-bj-00000002"]

    sid = s.sids_in(s.batches[:1])[0]
    r = invoke(["status", s.codes[sid], "--format", "json"], s.intake.root)
    assert r.exit_code == 0 and r.stderr == ""
    assert json.loads(r.stdout) == {"as_of": "2026-11-25T02:00:00Z", "schema": "cluetool.status/1", "stage": "received"}
    other = s.sids_in(s.batches[1:])[0]
    r = invoke(["status", s.codes[other]], s.intake.root)
    assert r.exit_code == 1 and r.stderr.startswith("cluetool: error: query code not found")

    again = invoke(["feed", "import", path, "--at", IMPORT, "--format", "jsonl", "--quiet"], s.intake.root)
    assert again.exit_code == 0 and again.stdout == "" and again.stderr == ""


def test_cli_feed_import_refused_exits_1_with_problem(sides: Sides, tmp_path: Path) -> None:
    s = sides
    path = _export(s)
    renamed = tmp_path / "internal-00000009.status"
    renamed.write_bytes(path.read_bytes())
    r = invoke(["feed", "import", renamed, "--at", IMPORT, "--format", "json"], s.intake.root)
    assert r.exit_code == 1
    doc = json.loads(r.stdout)
    assert doc["ok"] is False and [p["code"] for p in doc["problems"]] == ["feed.name"]
    assert s.done_dirs() == ["intake-bj-00000001", "intake-bj-00000002"]


def test_cli_feed_import_unreadable_exits_2(sides: Sides, tmp_path: Path) -> None:
    r = invoke(["feed", "import", tmp_path / "missing.status"], sides.intake.root)
    assert r.exit_code == 2 and r.stderr.startswith("cluetool: error: cannot read status feed")
    assert "Traceback" not in r.output


def test_cli_seal_warns_on_stderr_about_old_done_batches(sides: Sides) -> None:
    s = sides
    (s.root / "spool").mkdir(exist_ok=True)
    args = ["seal", s.root / "spool", "--source", SOURCE, "--to", s.internal.recipient, "--out", s.root / "out",
            "--format", "json"]
    r = invoke([*args, "--at", "2026-12-05T10:00:00+08:00"], s.intake.root)
    assert r.exit_code == 0
    warned = [line for line in r.stderr.splitlines() if "no status-feed receipt" in line]
    assert [w.split()[3] for w in warned] == ["intake-bj-00000001.clue", "intake-bj-00000002.clue"]
    assert all(w.startswith("cluetool: warning: batch ") and " 11 days ago " in w for w in warned)
    assert [x["batch"] for x in json.loads(r.stdout)["stale_done"]] == ["intake-bj-00000001.clue", "intake-bj-00000002.clue"]
    r = invoke([*args, "--at", "2026-12-05T10:00:00+08:00", "--warn-done-days", "30"], s.intake.root)
    assert r.exit_code == 0 and "no status-feed receipt" not in r.stderr


def test_feed_standard_tool_recipe_with_real_minisign(sides: Sides, tmp_path: Path) -> None:
    """The recipe of docs/feed.md: tar, minisign -V, sha256sum -c (checksums from the manifest)."""
    tar, mini, sha = require_tool("tar"), require_tool("minisign"), require_tool("sha256sum")
    s = sides
    path = _export(s)
    work = tmp_path / "check"
    work.mkdir()
    run = lambda *a, **k: subprocess.run(a, cwd=work, capture_output=True, text=True, timeout=60, **k)  # noqa: E731
    assert run(tar, "-xf", str(path)).returncode == 0
    assert sorted(p.name for p in work.iterdir()) == ["codes.txt", "manifest.json", "manifest.json.minisig", "receipt.json"]
    v = run(mini, "-V", "-p", str(s.internal.pub), "-m", "manifest.json")
    assert v.returncode == 0, v.stderr
    manifest = json.loads((work / "manifest.json").read_bytes())
    assert f"Trusted comment: cluetool-status/1 source={FEED_SOURCE} sequence=1 previous={'0' * 64}" in v.stdout
    sums = "".join(f"{m['sha256']}  {m['name']}\n" for m in manifest["members"])
    c = run(sha, "-c", "-", input=sums)
    assert c.returncode == 0 and c.stdout.splitlines() == ["codes.txt: OK", "receipt.json: OK"], c.stdout
    # a changed stage fails the same recipe
    (work / "codes.txt").write_bytes((work / "codes.txt").read_bytes().replace(b"received", b"closed\n\n\n", 1))
    assert run(sha, "-c", "-", input=sums).returncode != 0
    # the checksum lines can be made from the manifest with jq as well
    jq = require_tool("jq")
    j = run(jq, "-r", '.members[] | "\\(.sha256)  \\(.name)"', "manifest.json")
    assert j.stdout == sums


def test_feed_signed_with_minisign_tool_is_accepted(sides: Sides, tmp_path: Path) -> None:
    """A feed whose manifest was signed with the minisign CLI (default untrusted comment)
    and packed with GNU tar imports at the intake."""
    tar, mini = require_tool("tar"), require_tool("minisign")
    s = sides
    path = _export(s)
    work = tmp_path / "resign"
    work.mkdir()
    run = lambda *a: subprocess.run(a, cwd=work, capture_output=True, text=True, timeout=60)  # noqa: E731
    assert run(tar, "-xf", str(path)).returncode == 0
    (work / "manifest.json.minisig").unlink()
    comment = f"cluetool-status/1 source={FEED_SOURCE} sequence=1 previous={'0' * 64}"
    signed = run(mini, "-S", "-s", str(s.internal.key_file), "-m", "manifest.json", "-t", comment)
    assert signed.returncode == 0, signed.stderr
    out = tmp_path / path.name
    packed = run(tar, "--format=ustar", "--owner=0", "--group=0", "--numeric-owner", "-cf", str(out),
                 "manifest.json", "manifest.json.minisig", "codes.txt", "receipt.json")
    assert packed.returncode == 0, packed.stderr
    r = invoke(["feed", "import", out, "--at", IMPORT, "--format", "json"], s.intake.root)
    assert r.exit_code == 0, (r.stdout, r.stderr)
    assert json.loads(r.stdout)["status"] == "imported"
