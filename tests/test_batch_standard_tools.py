"""A batch is made of standard formats end to end: one rebuilt with the real tools alone
(GNU tar, minisign, age) is accepted by cluetool, and cluetool's own batches are opened
by those tools."""

from __future__ import annotations

import hashlib
import json
import subprocess
from pathlib import Path

from cluetool.batch.verify import verify_batches
from tests.batch_helpers import SOURCE, lookup_for, make_home, seal_spool, write_spool
from tests.conftest import require_tool


def _run(*cmd: str, cwd: Path, input: bytes | None = None) -> bytes:
    return subprocess.run(cmd, cwd=cwd, input=input, capture_output=True, check=True, timeout=60).stdout


def test_batch_rebuilt_with_tar_minisign_and_age_verifies_in_cluetool(tmp_path: Path) -> None:
    tar, mini, age_bin = require_tool("tar"), require_tool("minisign"), require_tool("age")
    kh = make_home(tmp_path / "home")
    write_spool(tmp_path / "spool", 3, seed=9301)
    [sealed] = seal_spool(kh, tmp_path / "spool", tmp_path / "out").batches
    work = tmp_path / "work"
    work.mkdir()
    _run(tar, "-xf", sealed.path, "manifest.json", "payload.age", cwd=work)
    manifest = json.loads((work / "manifest.json").read_bytes())

    # Re-encrypt the payload with the age CLI and re-sign the manifest with the minisign CLI.
    plain = _run(age_bin, "-d", "-i", str(kh.age_file), "payload.age", cwd=work)
    (work / "payload.age").write_bytes(_run(age_bin, "-r", kh.recipient, cwd=work, input=plain))
    data = (work / "payload.age").read_bytes()
    manifest["payload"] = {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}
    (work / "manifest.json").write_bytes(json.dumps(manifest, sort_keys=True, separators=(",", ":"),
                                                    ensure_ascii=False).encode())
    comment = f"cluetool-batch/1 source={SOURCE} sequence={manifest['sequence']} previous={manifest['previous']}"
    _run(mini, "-S", "-s", str(kh.key_file), "-m", "manifest.json", "-t", comment, cwd=work)
    batch = tmp_path / Path(sealed.path).name
    _run(tar, "--format=ustar", "--owner=0", "--group=0", "--numeric-owner", "-cf", str(batch),
         "manifest.json", "manifest.json.minisig", "payload.age", cwd=work)

    report = verify_batches([batch], lookup_for(kh.public_key()), identities=[kh.identity()])
    assert report.ok, report.problems
    assert report.batches[0].decrypted


def test_batch_untrusted_comment_edited_is_detected(tmp_path: Path) -> None:
    tar = require_tool("tar")
    kh = make_home(tmp_path / "home")
    write_spool(tmp_path / "spool", 1, seed=9302)
    [sealed] = seal_spool(kh, tmp_path / "spool", tmp_path / "out").batches
    work = tmp_path / "work"
    work.mkdir()
    _run(tar, "-xf", sealed.path, cwd=work)
    sig = (work / "manifest.json.minisig").read_text()
    lines = sig.splitlines(keepends=True)
    lines[0] = "untrusted comment: edited on the way\n"
    (work / "manifest.json.minisig").write_text("".join(lines))
    batch = tmp_path / Path(sealed.path).name
    _run(tar, "--format=ustar", "--owner=0", "--group=0", "--numeric-owner", "-cf", str(batch),
         "manifest.json", "manifest.json.minisig", "payload.age", cwd=work)
    report = verify_batches([batch], lookup_for(kh.public_key()))
    assert [p.code for p in report.problems] == ["signature.comment"]
