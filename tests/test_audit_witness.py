"""Witnessing (issue 20): checkpoints kept outside the home (``--against``), cosigned
checkpoints (C2SP tlog-cosignature), out-of-band keys for exports, and the home's own
checkpoint key."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from typer.testing import CliRunner, Result

from cluetool import api, audit, keys
from cluetool.cli import app
from cluetool.config import Home
from cluetool.formats import minisign
from cluetool.formats.cosignature import (
    CosignatureSigner,
    CosignatureVerifier,
    cosigner_key_id,
    signed_message,
)
from cluetool.formats.note import InvalidNoteSignature, NoteSigner, NoteVerifier, open_note, sign_note
from tests.batch_helpers import LOW_COST, sample_spool  # noqa: F401  (fixture)
from cluetool.home import open_store
from tests.test_audit import MIGRATED, NOW, STORES, add_entries, backend_url, init_home_on, tamper

runner = CliRunner()

# --------------------------------------------------------------------------- the format

# The example of c2sp.org/tlog-cosignature (§ introduction and § Ed25519 signed message).
SPEC_BODY = "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
SPEC_WITNESS_LINE = ("\u2014 witness.example.com/w1 jWbPPwAAAABkGFDLEZMHwSRaJNiIDoe9DYn/zXcrtPHeolMI5OWXEhZCB9dlrDJsX3b2"
                     "oyin1nPZqhf5nNo0xUe+mbIUBkBIfZ+qnA==")
SPEC_MESSAGE = (b"cosignature/v1\ntime 1679315147\nexample.com/behind-the-sofa\n20852163\n"
                b"CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n")


def test_cosignature_signed_message_is_the_spec_example() -> None:
    assert signed_message(SPEC_BODY, 1679315147) == SPEC_MESSAGE


def test_cosignature_spec_example_line_layout() -> None:
    # key ID (4 bytes) || u64 big-endian timestamp || 64-byte Ed25519 signature; the
    # spec's example cosignature carries the time of its example message.
    blob = base64.b64decode(SPEC_WITNESS_LINE.split(" ")[2])
    assert len(blob) == 4 + 8 + 64
    assert int.from_bytes(blob[4:12], "big") == 1679315147


def test_cosignature_key_id_and_vkey_follow_the_spec() -> None:
    sk = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
    signer = CosignatureSigner("witness.example.com/w1", sk)
    pub = signer.verifier.public_bytes
    expected = hashlib.sha256(b"witness.example.com/w1\n\x04" + pub).digest()[:4]
    assert signer.verifier.key_id == int.from_bytes(expected, "big") == cosigner_key_id("witness.example.com/w1", pub)
    name, kid, blob = signer.verifier.vkey.split("+", 2)
    assert (name, kid) == ("witness.example.com/w1", expected.hex())
    assert base64.b64decode(blob) == b"\x04" + pub
    assert CosignatureVerifier.from_vkey(signer.verifier.vkey).public_bytes == pub


def test_cosignature_round_trip_keeps_the_log_signature() -> None:
    log = minisign.SecretKey.generate()
    note = sign_note(SPEC_BODY, [NoteSigner("example.com/behind-the-sofa", log.private_key)])
    signer = CosignatureSigner("witness.example.com/w1", Ed25519PrivateKey.generate())
    cosigned = signer.cosign(note, 1679315147)
    assert cosigned.startswith(note) and cosigned.count("\n\u2014 ") == 2
    found = signer.verifier.find(cosigned)
    assert found.timestamp == 1679315147 and found.name == "witness.example.com/w1"
    # A log client that does not know the witness ignores its line (signed-note).
    assert open_note(cosigned, [NoteVerifier.from_public_bytes("example.com/behind-the-sofa", log.public_key.key)])
    # The signature covers the timestamp and the body.
    line = cosigned.splitlines()[-1]
    blob = bytearray(base64.b64decode(line.split(" ")[2]))
    blob[11] ^= 1
    forged = cosigned.replace(line.split(" ")[2], base64.b64encode(bytes(blob)).decode())
    with pytest.raises(InvalidNoteSignature):
        signer.verifier.find(forged)
    with pytest.raises(InvalidNoteSignature):
        signer.verifier.find(cosigned.replace("20852163", "20852162"))
    with pytest.raises(InvalidNoteSignature, match="no cosignature"):
        CosignatureSigner("witness.example.com/w2", Ed25519PrivateKey.generate()).verifier.find(cosigned)


# --------------------------------------------------------------------------- a home


def invoke(args: list[str], home: Path | None) -> Result:
    env = {"CLUETOOL_HOME": str(home) if home else None, "CLUETOOL_DEBUG": None}
    return runner.invoke(app, args, env=env, catch_exceptions=False)


def run_json(args: list[str], home: Path | None, code: int = 0) -> dict:
    result = invoke(["--format", "json", *args], home)
    assert result.exit_code == code, (result.stdout, result.stderr)
    return json.loads(result.stdout) if result.stdout else {}


@pytest.fixture(params=STORES)
def home(tmp_path: Path, request: pytest.FixtureRequest) -> Path:
    """A home with a key pair, 40 entries after the migrations and a checkpoint, its
    store in SQLite and in PostgreSQL (issue 22)."""
    h = init_home_on(tmp_path / "home", backend_url(request))
    keys.generate(h, "main", now=NOW)
    with open_store(h) as store:
        add_entries(store, 40)
    run_json(["audit", "checkpoint"], h.root)
    return h.root


@pytest.fixture
def auditor(tmp_path: Path) -> tuple[Path, str]:
    """The auditor's secret key file and its witness vkey (written next to it)."""
    sk = minisign.SecretKey.generate()
    path = tmp_path / "auditor" / "auditor.key"
    path.parent.mkdir()
    path.write_text(sk.to_file_text(None))
    os.chmod(path, 0o600)
    signer = CosignatureSigner(audit.witness_name(sk), sk.private_key)
    (path.parent / "auditor.vkey").write_text(signer.verifier.vkey + "\n")
    return path, signer.verifier.vkey


def roll_back(home: Path, keep: int, replacement: int) -> None:
    """The insider: drop every entry from ``keep`` on and every checkpoint above it,
    append ``replacement`` other entries, and sign a fresh checkpoint with the home key."""
    with open_store(Home(home)) as store:
        tamper(store, ("DELETE FROM audit_log WHERE seq >= ?", (keep,)), ("DELETE FROM checkpoints WHERE size > ?", (keep,)))
        add_entries(store, replacement, start=1000)
    shutil.rmtree(home / "state" / "audit-tree", ignore_errors=True)
    run_json(["audit", "checkpoint"], home)


def export(home: Path, out: Path) -> dict:
    return run_json(["audit", "export", "--out", str(out)], home)


def witness(home: Path, tmp_path: Path, auditor: tuple[Path, str], name: str, code: int = 0) -> dict:
    export(home, tmp_path / name)
    return run_json(["audit", "witness", "--export", str(tmp_path / name), "--key", str(auditor[0]),
                     "--state", str(auditor[0].parent / "state.txt"), "--out", str(tmp_path / f"{name}.cosigned"),
                     "--log-key", str(home / "keys" / "main.pub")], None, code)


# --------------------------------------------------------------------------- rollback


def test_rollback_caught_by_against_and_by_a_cosigned_checkpoint(home: Path, tmp_path: Path,
                                                                  auditor: tuple[Path, str]) -> None:
    with open_store(Home(home)) as store:
        add_entries(store, 20, start=40)
    run_json(["audit", "checkpoint"], home)
    done = witness(home, tmp_path, auditor, "exp1")
    assert done["ok"] is True and done["size"] == MIGRATED + 60 and done["previous_size"] is None
    cosigned = tmp_path / "exp1.cosigned"
    imported = run_json(["audit", "cosignatures", "import", str(cosigned),
                         "--witness-key", str(auditor[0].parent / "auditor.vkey")], home)
    assert imported["size"] == MIGRATED + 60
    held = tmp_path / "held-checkpoint.txt"  # an auditor's copy of the log's own checkpoint
    held.write_text((tmp_path / "exp1" / "checkpoint.txt").read_text())
    assert run_json(["audit", "verify", "--against", str(held)], home)["summary"]["witnessed_checkpoints"] == 2

    roll_back(home, keep=MIGRATED + 50, replacement=15)  # drop 10 entries and the newest checkpoint, write 15, re-sign

    # Without anything kept outside the home, the rewritten log verifies: the stated limit.
    saved = tmp_path / "cosigned-away"
    (home / "cosigned").rename(saved)
    assert run_json(["audit", "verify"], home)["ok"] is True
    # An auditor's checkpoint or an earlier export catches it, naming it.
    for against in (held, tmp_path / "exp1"):
        report = run_json(["audit", "verify", "--against", str(against)], home, code=1)
        bad = [f for f in report["findings"] if str(against) in f["message"]]
        assert bad and bad[0]["code"] == "audit.inconsistent", report["findings"]
    # And so does the cosigned checkpoint held in the home.
    saved.rename(home / "cosigned")
    report = run_json(["audit", "verify"], home, code=1)
    assert any(f["code"] == "audit.inconsistent" and "cosigned checkpoint" in f["message"] for f in report["findings"])


def test_truncation_below_a_cosigned_checkpoint_is_named(home: Path, tmp_path: Path, auditor: tuple[Path, str]) -> None:
    witness(home, tmp_path, auditor, "exp1")
    run_json(["audit", "cosignatures", "import", str(tmp_path / "exp1.cosigned"),
              "--witness-key", str(auditor[0].parent / "auditor.vkey")], home)
    with open_store(Home(home)) as store:
        tamper(store, ("DELETE FROM audit_log WHERE seq >= ?", (MIGRATED + 35,)), "DELETE FROM checkpoints")
    report = run_json(["audit", "verify"], home, code=1)
    assert any(f["code"] == "audit.truncated" and f["seq"] == MIGRATED + 35 and "cosigned" in f["message"]
               for f in report["findings"])


def test_witness_refuses_an_export_that_rolls_back(home: Path, tmp_path: Path, auditor: tuple[Path, str]) -> None:
    with open_store(Home(home)) as store:
        add_entries(store, 10, start=40)
    run_json(["audit", "checkpoint"], home)
    witness(home, tmp_path, auditor, "exp1")
    state = (auditor[0].parent / "state.txt").read_text()
    roll_back(home, keep=MIGRATED + 45, replacement=8)
    result = witness(home, tmp_path, auditor, "exp2", code=1)
    assert result["ok"] is False and result["out"] is None
    assert any("last checkpoint witnessed" in f["message"] for f in result["report"]["findings"])
    assert (auditor[0].parent / "state.txt").read_text() == state
    assert not (tmp_path / "exp2.cosigned").exists()


def test_witness_moves_state_forward(home: Path, tmp_path: Path, auditor: tuple[Path, str]) -> None:
    witness(home, tmp_path, auditor, "exp1")
    with open_store(Home(home)) as store:
        add_entries(store, 5, start=40)
    run_json(["audit", "checkpoint"], home)
    second = witness(home, tmp_path, auditor, "exp2")
    assert second["ok"] and second["previous_size"] == MIGRATED + 40 and second["size"] == MIGRATED + 45
    assert (auditor[0].parent / "state.txt").read_text() == (tmp_path / "exp2.cosigned").read_text()


def test_cosignatures_import_refuses_a_wrong_witness(home: Path, tmp_path: Path, auditor: tuple[Path, str]) -> None:
    witness(home, tmp_path, auditor, "exp1")
    other = CosignatureSigner("someone/else", Ed25519PrivateKey.generate())
    (tmp_path / "other.vkey").write_text(other.verifier.vkey)
    result = invoke(["audit", "cosignatures", "import", str(tmp_path / "exp1.cosigned"),
                     "--witness-key", str(tmp_path / "other.vkey")], home)
    assert result.exit_code == 2 and "not cosigned by someone/else" in result.stderr
    assert not (home / "cosigned").exists()


def test_verify_help_states_the_limit() -> None:
    text = invoke(["audit", "verify", "--help"], None).stdout
    assert "cannot be detected" in " ".join(text.split())
    docs = (Path(__file__).resolve().parents[1] / "docs" / "audit.md").read_text()
    assert "cannot be detected" in " ".join(docs.split())


# --------------------------------------------------------------------------- out-of-band keys


def forge(export_dir: Path) -> minisign.SecretKey:
    """Rewrite an export wholesale (one entry dropped) and sign it with a new key that
    it ships as its own key.pub."""
    from cluetool.formats.merkle import root_from_leaf_hashes
    from cluetool.formats.note import NoteSigner, format_checkpoint, sign_note
    from cluetool.store.audit_entries import leaf_hash

    lines = (export_dir / "entries.jsonl").read_bytes().splitlines()[:-1]
    (export_dir / "entries.jsonl").write_bytes(b"".join(x + b"\n" for x in lines))
    origin = (export_dir / "checkpoint.txt").read_text().split("\n")[0]
    sk = minisign.SecretKey.generate()
    root = root_from_leaf_hashes(leaf_hash(x) for x in lines)
    note = sign_note(format_checkpoint(origin, len(lines), root), [NoteSigner(origin, sk.private_key)])
    (export_dir / "checkpoint.txt").write_text(note)
    (export_dir / "checkpoints.jsonl").unlink()
    (export_dir / "key.pub").write_text(sk.public_key.to_file_text())
    return sk


def test_forged_export_refused_without_an_out_of_band_key(home: Path, tmp_path: Path) -> None:
    real = export(home, tmp_path / "exp")
    forge(tmp_path / "exp")
    d = str(tmp_path / "exp")
    inside = invoke(["audit", "verify", "--export", d, "--key", str(tmp_path / "exp" / "key.pub")], None)
    assert inside.exit_code == 2 and "cannot vouch" in inside.stderr
    assert invoke(["audit", "verify", "--export", d], None).exit_code == 2
    fp = invoke(["audit", "verify", "--export", d, "--key-fingerprint", real["key_fingerprint"]], None)
    assert fp.exit_code == 2 and "fingerprint" in fp.stderr
    assert run_json(["audit", "verify", "--export", d, "--key", str(home / "keys" / "main.pub")], None, code=1)["ok"] is False
    trusted = invoke(["--format", "json", "audit", "verify", "--export", d, "--trust-export-key"], None)
    assert trusted.exit_code == 0 and "cluetool: warning: trusting the key shipped inside the export" in trusted.stderr


def test_honest_export_verifies_with_its_fingerprint(home: Path, tmp_path: Path) -> None:
    real = export(home, tmp_path / "exp")
    assert real["key_fingerprint"] == audit.key_fingerprint(
        minisign.PublicKey.parse((home / "keys" / "main.pub").read_text()).key)
    report = run_json(["audit", "verify", "--export", str(tmp_path / "exp"), "--key-fingerprint", real["key_fingerprint"]], None)
    assert report["ok"] is True


# --------------------------------------------------------------------------- the checkpoint key


def test_checkpoint_key_is_separate_and_protected(home: Path, tmp_path: Path) -> None:
    h = Home(home)
    refused = invoke(["audit", "key", "generate"], home)
    assert refused.exit_code == 2 and "passphrase" in refused.stderr
    info = audit.generate_checkpoint_key(h, now=NOW, passphrase=b"audit pass 1", scrypt_cost=LOW_COST)
    assert info.protected and info.name == "audit"
    assert audit.checkpoint_key_name(h) == "audit"
    with open_store(h) as store:
        add_entries(store, 3, start=40)
    # The checkpoint needs the passphrase now; a copy of the home alone cannot sign.
    assert invoke(["audit", "checkpoint"], home).exit_code == 2
    (tmp_path / "pass").write_text("audit pass 1\n")
    os.chmod(tmp_path / "pass", 0o600)
    (tmp_path / "pass").chmod(0o600)  # a passphrase file others can read is refused (issue 19)
    signed = run_json(["audit", "checkpoint", "--passphrase-file", str(tmp_path / "pass")], home)
    assert signed["size"] == MIGRATED + 43
    # verify uses the checkpoint key by default: the first checkpoint, signed by main
    # before the switch, needs --key main as well (docs/audit.md).
    report = run_json(["audit", "verify"], home, code=1)
    assert [f["checkpoint"] for f in report["findings"] if f["code"] == "audit.checkpoint_signature"] == [1]
    assert run_json(["audit", "verify", "--key", "audit", "--key", "main"], home)["ok"] is True


@pytest.mark.parametrize("backend", STORES)
def test_import_leaves_checkpoints_to_the_checkpoint_key(tmp_path: Path, sample_spool: Path, backend: str,  # noqa: F811
                                                         request: pytest.FixtureRequest) -> None:
    from cluetool.ingest import import_batches
    from tests.batch_helpers import SOURCE, KeyHome, seal_spool

    spool = tmp_path / "spool"
    shutil.copytree(sample_spool, spool)
    h = api.init(Home(tmp_path / "home"), now=NOW, store=request.getfixturevalue("pg_url") if backend == "postgresql" else None)
    info = keys.generate(h, "main", now=NOW)
    kh = KeyHome(home=h, name="main", info=info)
    seal_spool(kh, spool, tmp_path / "out", max_reports=25)
    keys.trust(h, SOURCE, kh.pub)
    audit.generate_checkpoint_key(h, now=NOW, passphrase=b"audit pass 1", scrypt_cost=LOW_COST)
    result = import_batches(sorted((tmp_path / "out").glob("*.clue")), home=h, now=NOW, identity="main")
    assert result.ok and result.checkpoint is None  # the operational key signs nothing
    with open_store(h) as store:
        assert audit.list_checkpoints(store).checkpoints == []
    (tmp_path / "pass").write_text("audit pass 1\n")
    os.chmod(tmp_path / "pass", 0o600)
    signed = run_json(["audit", "checkpoint", "--passphrase-file", str(tmp_path / "pass")], h.root)
    assert signed["size"] > 50
    assert run_json(["audit", "verify"], h.root)["ok"] is True
