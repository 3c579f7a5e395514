"""``verify --chain`` with a home whose store already holds the batches (issue 15, case
6): they are "already imported", exactly as ``import`` says, so a verify-then-import
cron job keeps working on day 2."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from cluetool.cli import app
from tests.batch_helpers import write_spool
from tests.test_import import Pair, pair  # noqa: F401 - fixture

runner = CliRunner()


def _verify(pair: Pair, paths: list[Path], *extra: str):  # type: ignore[no-untyped-def]
    env = {"CLUETOOL_HOME": str(pair.home.root), "CLUETOOL_DEBUG": None}
    return runner.invoke(app, ["verify", "--chain", *map(str, paths), *extra], env=env, catch_exceptions=False)


def test_cli_verify_chain_batches_in_the_store_already_imported_exit_0(pair: Pair) -> None:
    write_spool(pair.root / "spool", 4, seed=1901, attachments=0)
    batches = pair.seal(pair.root / "spool", max_reports=1)
    assert pair.import_(batches[:3]).ok
    r = _verify(pair, batches[:3])
    assert r.exit_code == 0, (r.stdout, r.stderr)
    assert "3 batch(es) verified, 3 of them already imported" in r.stderr
    # day 2: yesterday's three batches are still in the inbox beside today's
    r = _verify(pair, batches, "-f", "json")
    assert r.exit_code == 0, r.stdout
    doc = json.loads(r.stdout)
    assert doc["ok"] is True and doc["problems"] == []
    assert [b["already_imported"] for b in doc["batches"]] == [True, True, True, False]
    assert pair.import_(batches).ok


def test_cli_verify_chain_without_store_unchanged_replay_still_found(pair: Pair) -> None:
    write_spool(pair.root / "spool", 1, seed=1902, attachments=0)
    [batch] = pair.seal(pair.root / "spool")
    env = {"CLUETOOL_HOME": None, "CLUETOOL_DEBUG": None}
    r = runner.invoke(app, ["verify", "--chain", "--signer", str(pair.sender.pub), str(batch), str(batch), "-f", "json"],
                      env=env, catch_exceptions=False)
    assert r.exit_code == 1
    assert {p["code"] for p in json.loads(r.stdout)["problems"]} == {"chain.replay"}
