"""Messages that named the wrong cause or the wrong next step (issue 21), one test each."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from cluetool.config import init_home
from tests.batch_helpers import SOURCE, make_home
from tests.cli.test_cli_audit import home  # noqa: F401 - the fixture
from tests.cli.test_cli_audit import invoke as audit_invoke
from tests.cli.test_cli_seal_verify import assert_error, chain, invoke  # noqa: F401 - chain is a fixture
from tests.test_audit import MIGRATED

Chain = tuple  # (sender KeyHome, receiver root, batches)


def test_message_verify_without_home_points_an_auditor_to_signer_not_init(chain: Chain) -> None:  # noqa: F811
    _kh, _receiver, batches = chain
    result = invoke(["verify", batches[0]], None)
    assert_error(result, 3, "no cluetool home given")
    assert "--signer FILE" in result.stderr.splitlines()[1] and "init" not in result.stderr


def test_message_untrusted_batch_names_keys_trust_and_signer(chain: Chain, tmp_path: Path) -> None:  # noqa: F811
    _kh, _receiver, batches = chain
    empty = init_home(tmp_path / "empty").root
    result = invoke(["verify", batches[0], "-f", "json"], empty)
    assert result.exit_code == 1
    [problem] = json.loads(result.stdout)["problems"]
    assert problem["code"] == "signature.untrusted"
    assert f"cluetool keys trust {SOURCE} FILE" in problem["message"] and "--signer FILE" in problem["message"]


def test_message_batch_signed_by_another_key_names_the_rotation_step(chain: Chain, tmp_path: Path) -> None:  # noqa: F811
    _kh, _receiver, batches = chain
    stranger = make_home(tmp_path / "stranger")
    result = invoke(["verify", "--signer", stranger.pub, batches[0], "-f", "json"], None)
    [problem] = json.loads(result.stdout)["problems"]
    assert problem["code"] == "signature.untrusted"
    assert "--rotation" in problem["message"] and f"keys trust {SOURCE} NEW.pub" in problem["message"]


def test_message_missing_spool_says_no_such_directory(tmp_path: Path) -> None:
    kh = make_home(tmp_path / "sender")
    args = ["seal", tmp_path / "no-spool", "--source", SOURCE, "--to", kh.recipient, "--out", tmp_path / "out"]
    result = invoke(args, kh.root)
    assert_error(result, 2, "no such directory")
    assert "not a directory" not in result.stderr
    (tmp_path / "a-file").write_text("x")
    args[1] = tmp_path / "a-file"
    assert_error(invoke(args, kh.root), 2, "not a directory")


def test_message_prove_past_the_log_does_not_suggest_a_checkpoint(home: Path) -> None:  # noqa: F811
    assert audit_invoke(["audit", "checkpoint", "-q"], home).exit_code == 0
    result = audit_invoke(["audit", "prove", "99999"], home)
    assert_error(result, 2, "there is no audit entry 99999", f"the log has {MIGRATED + 120} entries")
    assert "cluetool audit log" in result.stderr.splitlines()[1]
    assert "checkpoint" not in result.stderr


def test_message_prove_an_entry_newer_than_the_checkpoint_suggests_one(home: Path, tmp_path: Path) -> None:  # noqa: F811
    assert audit_invoke(["audit", "checkpoint", "-q"], home).exit_code == 0
    trusted = audit_invoke(["-q", "keys", "trust", "intake-x", str(home / "keys" / "main.pub")], home)
    assert trusted.exit_code == 0, trusted.stderr  # one more (audited) entry
    newest = MIGRATED + 120
    result = audit_invoke(["audit", "prove", str(newest)], home)
    assert_error(result, 2, f"entry {newest} is newer than the latest checkpoint")
    assert "cluetool audit checkpoint" in result.stderr.splitlines()[1]


def test_message_broken_config_exits_3_as_the_readme_says(tmp_path: Path) -> None:
    kh = make_home(tmp_path / "h")
    (kh.root / "config.toml").write_text("[limits\nmp3 = ", encoding="utf-8")
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    assert "| 3 | the home, store or keystore is missing or unusable |" in readme
    spool = tmp_path / "spool"
    spool.mkdir()
    broken = invoke(["validate", spool, "--home", kh.root], None)
    assert_error(broken, 3, "config.toml")
    assert "fix config.toml" in broken.stderr.splitlines()[1]
    (kh.root / "config.toml").write_text("[limits]\nmp3 = \"big\"\n", encoding="utf-8")
    assert_error(invoke(["validate", spool, "--home", kh.root], None), 3, "invalid config")


def test_message_payload_identity_names_the_batch_recipients_and_the_homes(chain: Chain, tmp_path: Path) -> None:  # noqa: F811
    kh, receiver, batches = chain
    other = make_home(tmp_path / "other")  # trusts the sender but holds a different identity
    shutil.rmtree(other.root / "trusted", ignore_errors=True)
    assert invoke(["-q", "keys", "trust", SOURCE, kh.pub], other.root).exit_code == 0
    result = invoke(["verify", "--decrypt", "--identity", "main", batches[0], "-f", "json"], other.root)
    assert result.exit_code == 1
    [problem] = json.loads(result.stdout)["problems"]
    assert problem["code"] == "payload.identity"
    message = problem["message"]
    assert kh.recipient[:14] in message  # sealed to the sender's own recipient in this fixture
    assert other.recipient[:14] in message and "main (" in message
    assert "keys export NAME --age" in message and "--identity NAME" in message
    assert "AGE-SECRET-KEY" not in message
