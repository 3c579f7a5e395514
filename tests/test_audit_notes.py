"""Notes and reasons go into the audit log as HMAC-SHA-256 under the home's audit secret
(issue 20): not guessable from the log, confirmable by a holder of the secret."""

from __future__ import annotations

import hashlib
import json
import os
import stat
from datetime import datetime, timezone
from pathlib import Path

import pytest

from cluetool.audit import confirm_text
from cluetool.config import Home
from cluetool.errors import InputError, StateError
from cluetool.api import record
from cluetool.keys.audit_secret import audit_secret, keyed_text, load_audit_secret, secret_path
from cluetool.home import open_store
from cluetool.store import append_entry
from tests.test_handling_assign import audit
from tests.test_handling_assign import backend  # noqa: F401 - autouse: both stores (issue 22)
from tests.test_handling_record import at, gang_clue

NOW = datetime(2026, 3, 31, 2, 0, tzinfo=timezone.utc)
NOTE = "reporter reachable on 13800138000"


def _note_entry(home: Home) -> tuple[int, str]:
    entry = [e for e in audit(home) if e["action"] == "event.record"][-1]
    return entry["seq"], entry["details"]["note_hmac_sha256"]


def test_audit_secret_is_private_and_stable(tmp_path: Path) -> None:
    home, _ = gang_clue(tmp_path)
    path = secret_path(home)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert audit_secret(home) == load_audit_secret(home) == audit_secret(home)
    assert len(load_audit_secret(home)) == 32


def test_audit_secret_readable_by_others_is_refused(tmp_path: Path) -> None:
    home, _ = gang_clue(tmp_path)
    os.chmod(secret_path(home), 0o644)
    with pytest.raises(StateError, match="readable by others"):
        load_audit_secret(home)


def test_note_hmac_differs_between_stores_and_is_not_the_plain_hash(tmp_path: Path) -> None:
    values = []
    for name in ("one", "two"):
        home, sid = gang_clue(tmp_path / name)
        record(home, sid, "contacted", channel="phone", at=at(5), now=NOW, note=NOTE)
        seq, value = _note_entry(home)
        values.append(value)
        assert value == keyed_text(load_audit_secret(home), NOTE)
        assert NOTE not in json.dumps(audit(home))
    assert values[0] != values[1]
    assert hashlib.sha256(NOTE.encode()).hexdigest() not in values


def test_confirm_text_with_the_secret(tmp_path: Path) -> None:
    home, sid = gang_clue(tmp_path)
    record(home, sid, "contacted", channel="phone", at=at(5), now=NOW, note=NOTE)
    seq, _ = _note_entry(home)
    with open_store(home) as store:
        good = confirm_text(home, store, seq, NOTE)
        bad = confirm_text(home, store, seq, "reporter reachable on 13800138001")
    assert (good.keyed, good.matches, good.field) == (True, True, "note")
    assert bad.matches is False


def test_confirm_text_old_plain_entry_still_verifies(tmp_path: Path) -> None:
    home, sid = gang_clue(tmp_path)
    with open_store(home) as store:
        with store.write() as tx:
            old = append_entry(tx, at=NOW, actor="cluetool-handling", action="event.record", object=f"report:{sid}",
                               details={"note_sha256": hashlib.sha256(NOTE.encode()).hexdigest()})
        check = confirm_text(home, store, old.seq, NOTE)
        assert (check.keyed, check.matches) == (False, True)
        assert confirm_text(home, store, old.seq, "other").matches is False
        with pytest.raises(InputError, match="records no note"):
            confirm_text(home, store, 0, NOTE)


def test_cli_audit_confirm_text_exit_codes(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from cluetool.cli import app

    home, sid = gang_clue(tmp_path)
    record(home, sid, "contacted", channel="phone", at=at(5), now=NOW, note=NOTE)
    seq, _ = _note_entry(home)
    (tmp_path / "good.txt").write_text(NOTE + "\n", encoding="utf-8")
    (tmp_path / "bad.txt").write_text("someone else\n", encoding="utf-8")
    env = {"CLUETOOL_HOME": str(home.root), "CLUETOOL_DEBUG": None}
    runner = CliRunner()
    good = runner.invoke(app, ["-f", "json", "audit", "confirm-text", str(seq), "--text-file", str(tmp_path / "good.txt")],
                         env=env, catch_exceptions=False)
    assert good.exit_code == 0 and good.stderr == ""
    assert json.loads(good.stdout)["matches"] is True
    bad = runner.invoke(app, ["-f", "json", "audit", "confirm-text", str(seq), "--text-file", str(tmp_path / "bad.txt")],
                        env=env, catch_exceptions=False)
    assert bad.exit_code == 1 and json.loads(bad.stdout)["matches"] is False
    missing = runner.invoke(app, ["audit", "confirm-text", str(seq), "--text-file", str(tmp_path / "nope.txt")],
                            env=env, catch_exceptions=False)
    assert missing.exit_code == 2 and missing.stderr.startswith("cluetool: error: cannot read text")
