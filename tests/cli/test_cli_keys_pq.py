"""Post-quantum hybrid receiving keys through the CLI: ``keys generate --pq``, sealing to
an ``age1pq1…`` recipient, ``verify --decrypt`` and ``import`` of the sealed batches."""

from __future__ import annotations

import io
import json
import subprocess
from pathlib import Path

import pytest

from typer.testing import CliRunner, Result

from cluetool.cli import app
from cluetool.formats import age
from tests.batch_helpers import SOURCE, make_home, write_spool
from tests.conftest import require_tool

runner = CliRunner()


def invoke(args: list[object], home: Path | None) -> Result:
    env = {"CLUETOOL_HOME": str(home) if home else None, "CLUETOOL_DEBUG": "1"}
    return runner.invoke(app, [str(a) for a in args], env=env, catch_exceptions=False)


def ok_json(result: Result) -> dict:
    assert result.exit_code == 0, (result.exit_code, result.stdout, result.stderr)
    return json.loads(result.stdout)


def test_cli_hybrid_round_trip_generate_seal_verify_import(tmp_path: Path) -> None:
    sender = make_home(tmp_path / "intake")
    receiver = tmp_path / "recv"
    assert invoke(["init", "--home", receiver], None).exit_code == 0
    info = ok_json(invoke(["keys", "generate", "main", "--pq", "-f", "json"], receiver))
    recipient = info["age_recipient"]
    assert recipient.startswith("age1pq1")
    # The identity file is a real age 1.3 hybrid identity.
    (ident,) = age.parse_identities((receiver / "keys" / "main.age").read_text())
    assert isinstance(ident, age.HybridIdentity) and str(ident.recipient) == recipient
    assert invoke(["keys", "trust", SOURCE, sender.pub], receiver).exit_code == 0

    write_spool(tmp_path / "spool", 2, seed=1901)
    sealed = ok_json(invoke(["seal", tmp_path / "spool", "--source", SOURCE, "--to", recipient,
                             "--out", tmp_path / "out", "-f", "json"], sender.root))
    batch = Path(sealed["batches"][0]["path"])
    header = batch.read_bytes()
    assert b"-> mlkem768x25519 " in header and b"-> X25519 " not in header

    verified = invoke(["verify", "--decrypt", "-f", "json", batch], receiver)
    assert verified.exit_code == 0, (verified.stdout, verified.stderr)
    imported = ok_json(invoke(["import", "-q", "-f", "json", batch], receiver))
    assert imported["batches"][0]["status"] == "imported"
    assert imported["batches"][0]["reports"] == 2


def test_cli_seal_mixed_hybrid_and_x25519_recipients_exits_2(tmp_path: Path) -> None:
    sender = make_home(tmp_path / "intake")
    write_spool(tmp_path / "spool", 1, seed=1902)
    r = invoke(["seal", tmp_path / "spool", "--source", SOURCE, "--to", str(age.HybridIdentity.generate().recipient),
                "--to", sender.recipient, "--out", tmp_path / "out"], sender.root)
    assert r.exit_code == 2, (r.stdout, r.stderr)
    assert r.stderr.startswith("cluetool: error: hybrid (age1pq1…) and X25519 (age1…) recipients cannot be mixed")


def test_age_1_1_cli_cannot_read_a_hybrid_identity_which_is_why_x25519_stays_default(tmp_path: Path) -> None:
    tool = require_tool("age")
    home = tmp_path / "h"
    assert invoke(["init", "--home", home], None).exit_code == 0
    assert ok_json(invoke(["keys", "generate", "x", "-f", "json"], home))["age_recipient"].startswith("age1")
    assert ok_json(invoke(["keys", "generate", "pq", "--pq", "-f", "json"], home))["age_recipient"].startswith("age1pq1")
    payload = tmp_path / "m.age"
    with payload.open("wb") as out:
        age.encrypt(io.BytesIO(b"hello"), out, [age.parse_recipient((home / "keys" / "pq.age.pub").read_text().strip())])
    r = subprocess.run([tool, "-d", "-i", str(home / "keys" / "pq.age"), str(payload)], capture_output=True, timeout=30)
    if r.returncode == 0:
        pytest.skip("this age CLI reads hybrid files (age 1.3 or later)")
    assert b"unknown identity type" in r.stderr
