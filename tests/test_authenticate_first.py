"""Authenticate, then parse (issue 15, cases 3 and 5): ``import`` and ``verify --decrypt``
check the signature, the signer's trust and the sha256 of the whole ``payload.age`` as
stored before a decrypted byte is parsed or written; the batch is opened once; the age
header's recipient stanzas match the manifest's recipients."""

from __future__ import annotations

import hashlib
import io
import json
import os
import random
from pathlib import Path
from typing import Any

import msgspec
import pytest

from cluetool.batch import verify as verify_mod
from cluetool.batch import payload as payload_mod
from cluetool.batch import reader as reader_mod
from cluetool.batch.writer import age_size
from cluetool.batch.verify import check_batch
from cluetool.formats import age, canonical, minisign, ustar
from cluetool.model.batch import Manifest, signature_comment
from samples import media
from tests.batch_helpers import assemble_files, layout_of, lookup_for, read_members, seal_spool, write_spool
from tests.test_import import Pair, blob_files, pair, snapshot  # noqa: F401 - fixture


def _hostile_payload(pair: Pair, payload_size: int) -> bytes:
    """An age payload to the receiver's (public) recipient, of exactly ``payload_size``
    bytes, whose report declares the attachment type ``__class__`` (which crashed the
    old import inside its parser) and whose index is well-formed."""
    inner_size = next(s for s in range(payload_size, 0, -1) if age_size(s, 1) == payload_size)
    jpg = media.make_jpeg(random.Random(5))
    att_sha = hashlib.sha256(jpg).hexdigest()
    sid = "6f1d2c3b-4a59-4e8f-9a0b-1c2d3e4f5a6b"
    for pad in range(0, inner_size, 512):
        report = msgspec.json.encode({"submission_id": sid, "attachments": [
            {"file": "x.jpg", "type": "__class__", "size": len(jpg), "sha256": att_sha}], "pad": " " * pad})
        index = canonical.dumps([{"submission_id": sid, "report_sha256": hashlib.sha256(report).hexdigest(),
                                  "attachments": [att_sha]}])
        if ustar.archive_size([len(index), len(report), len(jpg)]) == inner_size:
            break
    else:
        raise AssertionError("cannot size the hostile payload")
    plain = io.BytesIO()
    with ustar.UstarWriter(plain) as w:
        w.add("index.json", len(index), index)
        w.add(f"reports/{sid}.json", len(report), report)
        w.add(f"attachments/{att_sha}", len(jpg), jpg)
    assert len(plain.getvalue()) == inner_size
    out = io.BytesIO()
    with age.EncryptWriter(out, [age.X25519Recipient.parse(pair.receiver.recipient)]) as enc:
        enc.write(plain.getvalue())
    assert len(out.getvalue()) == payload_size
    return out.getvalue()


@pytest.fixture
def swapped(pair: Pair) -> Path:
    """A genuine batch (manifest and signature untouched) with its payload.age swapped."""
    write_spool(pair.root / "spool", 3, seed=1601, attachments=1)
    [batch] = pair.seal(pair.root / "spool")
    data = bytearray(batch.read_bytes())
    offset, size = layout_of(bytes(data)).data["payload.age"]
    data[offset:offset + size] = _hostile_payload(pair, size)
    batch.write_bytes(bytes(data))
    return batch


class _Spy:
    """Counts every call into the payload parser and the decryption."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls: list[str] = []
        real_inner, real_decrypt = verify_mod.check_inner, age.DecryptReader

        def inner(*a: Any, **k: Any) -> Any:
            self.calls.append("check_inner")
            return real_inner(*a, **k)

        def decrypt(*a: Any, **k: Any) -> Any:
            self.calls.append("decrypt")
            return real_decrypt(*a, **k)

        monkeypatch.setattr(verify_mod, "check_inner", inner)
        monkeypatch.setattr(age, "DecryptReader", decrypt)


def test_import_genuine_manifest_swapped_payload_rejected_before_parsing(
    pair: Pair, swapped: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spy = _Spy(monkeypatch)
    before = snapshot(pair.home)
    result = pair.import_([swapped])
    assert not result.ok and result.batches[0].status == "rejected"
    assert [p.code for p in result.problems] == ["payload.sha256"]
    assert spy.calls == []  # the parser never ran, nothing was decrypted
    assert blob_files(pair.home) == before.blobs == set()
    assert snapshot(pair.home).counts == before.counts


def test_verify_decrypt_swapped_payload_not_decrypted(pair: Pair, swapped: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    spy = _Spy(monkeypatch)
    check, problems, _ = check_batch(swapped, lookup_for(pair.sender.public_key()), identities=[pair.receiver.identity()])
    assert [p.code for p in problems] == ["payload.sha256"] and not check.decrypted
    assert spy.calls == []


def test_verify_decrypt_untrusted_signer_not_decrypted(pair: Pair, monkeypatch: pytest.MonkeyPatch) -> None:
    write_spool(pair.root / "spool", 1, seed=1602, attachments=0)
    [batch] = pair.seal(pair.root / "spool")
    spy = _Spy(monkeypatch)
    check, problems, _ = check_batch(batch, lookup_for(pair.receiver.public_key()), identities=[pair.receiver.identity()])
    assert [p.code for p in problems] == ["signature.untrusted"] and not check.decrypted
    assert spy.calls == []


def test_import_opens_the_batch_once(pair: Pair, monkeypatch: pytest.MonkeyPatch) -> None:
    write_spool(pair.root / "spool", 2, seed=1603, attachments=1)
    [batch] = pair.seal(pair.root / "spool")
    opened: list[str] = []
    real_open = os.open

    def counting_open(path: Any, *a: Any, **k: Any) -> int:
        if str(path) == str(batch):
            opened.append(str(path))
        return real_open(path, *a, **k)

    monkeypatch.setattr(reader_mod.os, "open", counting_open)
    result = pair.import_([batch])
    assert result.ok, result.problems
    assert len(opened) == 1


def test_import_payload_changing_between_reads_fails_to_decrypt(pair: Pair, monkeypatch: pytest.MonkeyPatch) -> None:
    # A medium that serves different bytes on the second read: the hashed age header is
    # pinned, so changed chunks fail their tag and nothing is stored.
    write_spool(pair.root / "spool", 2, seed=1604, attachments=1)
    [batch] = pair.seal(pair.root / "spool")
    offset, size = layout_of(batch.read_bytes()).data["payload.age"]
    real_pread = os.pread

    def lying_pread(fd: int, n: int, at: int) -> bytes:
        data = bytearray(real_pread(fd, n, at))
        flip = offset + size // 2
        if at <= flip < at + len(data):
            data[flip - at] ^= 0x01
        return bytes(data)

    monkeypatch.setattr(payload_mod, "PIN_MAX", 1024)  # the second read goes to the file past 1 KiB
    assert size // 2 > 1024
    monkeypatch.setattr(os, "pread", lying_pread)
    before = snapshot(pair.home)
    result = pair.import_([batch])
    assert not result.ok and [p.code for p in result.problems] == ["payload.decrypt"]
    assert snapshot(pair.home).counts == before.counts
    assert blob_files(pair.home) == before.blobs


def test_verify_recipient_stanza_count_must_match_manifest(pair: Pair) -> None:
    # A batch sealed to two recipients, its manifest re-written to name one: re-signed
    # by the trusted key, so only the stanza count can tell.
    write_spool(pair.root / "spool", 1, seed=1605, attachments=0)
    extra = age.X25519Identity.generate().recipient
    report = seal_spool(pair.sender, pair.root / "spool", pair.root / "out", recipients=[pair.receiver.recipient, str(extra)])
    batch = Path(report.batches[0].path)
    members = read_members(batch)
    manifest = msgspec.json.decode(members["manifest.json"], type=Manifest)
    manifest.recipients = manifest.recipients[:1]
    mbytes = canonical.dumps(manifest)
    sk = pair.sender.secret_key()
    sig = minisign.sign(sk, mbytes, trusted_comment=manifest.trusted_comment(),
                        untrusted_comment=signature_comment(manifest.signer)).encode()
    batch.write_bytes(assemble_files([("manifest.json", mbytes), ("manifest.json.minisig", sig),
                                      ("payload.age", members["payload.age"])]))
    check, problems, _ = check_batch(batch, lookup_for(pair.sender.public_key()), identities=[pair.receiver.identity()])
    assert [p.code for p in problems] == ["payload.recipients"] and not check.decrypted


def test_cli_import_and_verify_decrypt_swapped_payload_exit_1_payload_sha256(
    pair: Pair, swapped: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from cluetool.cli import app

    spy = _Spy(monkeypatch)
    env = {"CLUETOOL_HOME": str(pair.home.root), "CLUETOOL_DEBUG": None}
    runner = CliRunner()
    r = runner.invoke(app, ["import", "-q", str(swapped), "--identity", "internal", "-f", "json"], env=env, catch_exceptions=False)
    assert r.exit_code == 1, r.stderr
    assert [p["code"] for p in json.loads(r.stdout)["problems"]] == ["payload.sha256"]
    r = runner.invoke(app, ["verify", "--decrypt", "--identity", "internal", str(swapped), "-f", "json"], env=env,
                      catch_exceptions=False)
    assert r.exit_code == 1, r.stderr
    doc = json.loads(r.stdout)
    assert [p["code"] for p in doc["problems"]] == ["payload.sha256"] and doc["batches"][0]["decrypted"] is False
    assert spy.calls == [] and blob_files(pair.home) == set()
