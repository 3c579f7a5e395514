"""Interoperability with the real minisign CLI (0.11): each test skips when it is absent.

Files go both ways: the CLI verifies and signs with cluetool-written keys and
signatures, and cluetool reads what `minisign -G` / `-S` write. minisign reads a
passphrase from stdin when stdin is not a terminal (one line per prompt).
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from cluetool.formats.minisign import (
    MinisignError,
    PublicKey,
    SecretKey,
    sign,
    verify,
)
from tests.conftest import require_tool

pytestmark = pytest.mark.interop

# Test-only scrypt cost; minisign honours whatever limits the key file stores.
LOW_OPS = 32768
LOW_MEM = 16777216

# A message that crosses minisign's 64 KiB read boundary and ends mid-chunk.
MESSAGE = bytes(range(256)) * 600 + b"tail"


def _run(args: list[str], stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(args, input=stdin, capture_output=True, timeout=120, check=False)


def _write_pair(tmp_path: Path, secret: SecretKey, passphrase: bytes | None = None, **limits: int) -> tuple[Path, Path]:
    key_file = tmp_path / "cluetool.key"
    pub_file = tmp_path / "cluetool.pub"
    key_file.write_text(secret.to_file_text(passphrase, **limits))
    pub_file.write_text(secret.public_key.to_file_text())
    return key_file, pub_file


def _cli_keypair(tmp_path: Path, passphrase: bytes | None = None) -> tuple[Path, Path]:
    minisign = require_tool("minisign")
    key_file = tmp_path / "cli.key"
    pub_file = tmp_path / "cli.pub"
    if passphrase is None:
        result = _run([minisign, "-G", "-W", "-p", str(pub_file), "-s", str(key_file)])
    else:
        # -G asks twice ("Password:", "Password (one more time):").
        result = _run([minisign, "-G", "-p", str(pub_file), "-s", str(key_file)], stdin=passphrase + b"\n" + passphrase + b"\n")
    assert result.returncode == 0, result.stderr
    return key_file, pub_file


def test_interop_cli_verifies_cluetool_prehashed_signature(tmp_path: Path) -> None:
    minisign = require_tool("minisign")
    secret = SecretKey.generate()
    _, pub_file = _write_pair(tmp_path, secret)
    msg = tmp_path / "msg.bin"
    msg.write_bytes(MESSAGE)
    comment = "batch:intake-bj-00000042\tprev:3f2a\t核查"
    sig_file = tmp_path / "msg.bin.minisig"
    with msg.open("rb") as f:
        sig_file.write_text(sign(secret, f, trusted_comment=comment))
    result = _run([minisign, "-V", "-H", "-p", str(pub_file), "-m", str(msg), "-x", str(sig_file)])
    assert result.returncode == 0, result.stderr
    out = result.stdout.decode()
    assert "Signature and comment signature verified" in out
    assert f"Trusted comment: {comment}\n" in out
    # -Q prints only the trusted comment; -P takes the bare key line.
    result = _run([minisign, "-V", "-Q", "-P", secret.public_key.to_base64(), "-m", str(msg), "-x", str(sig_file)])
    assert result.returncode == 0, result.stderr
    assert result.stdout.decode() == comment + "\n"


def test_interop_cli_verifies_cluetool_legacy_signature_but_not_with_H(tmp_path: Path) -> None:
    minisign = require_tool("minisign")
    secret = SecretKey.generate()
    _, pub_file = _write_pair(tmp_path, secret)
    msg = tmp_path / "msg.bin"
    msg.write_bytes(MESSAGE)
    sig_file = tmp_path / "msg.bin.minisig"
    sig_file.write_text(sign(secret, MESSAGE, trusted_comment="legacy", prehash=False))
    base = [minisign, "-V", "-p", str(pub_file), "-m", str(msg), "-x", str(sig_file)]
    ok = _run(base)
    assert ok.returncode == 0, ok.stderr
    assert b"Trusted comment: legacy\n" in ok.stdout
    result = _run([*base, "-H"])
    assert result.returncode == 1
    assert b"Legacy" in result.stderr


def test_interop_cli_rejects_tampered_cluetool_signature(tmp_path: Path) -> None:
    minisign = require_tool("minisign")
    secret = SecretKey.generate()
    _, pub_file = _write_pair(tmp_path, secret)
    msg = tmp_path / "msg.bin"
    msg.write_bytes(MESSAGE)
    lines = sign(secret, MESSAGE, trusted_comment="timestamp:1").split("\n")
    lines[2] = "trusted comment: timestamp:2"
    sig_file = tmp_path / "msg.bin.minisig"
    sig_file.write_text("\n".join(lines))
    result = _run([minisign, "-V", "-p", str(pub_file), "-m", str(msg), "-x", str(sig_file)])
    assert result.returncode == 1
    assert b"Comment signature verification failed" in result.stderr


@pytest.mark.parametrize("legacy", [False, True], ids=["prehashed", "legacy"])
def test_interop_cluetool_verifies_cli_signature_byte_exact(tmp_path: Path, legacy: bool) -> None:
    minisign = require_tool("minisign")
    key_file, pub_file = _cli_keypair(tmp_path)
    public = PublicKey.parse(pub_file.read_text())
    msg = tmp_path / "msg.bin"
    msg.write_bytes(MESSAGE)
    comment = "cli made\tüñí"
    args = [minisign, "-S", "-s", str(key_file), "-m", str(msg), "-t", comment, "-c", "cli untrusted"]
    result = _run([*args, "-l"] if legacy else args)
    assert result.returncode == 0, result.stderr
    text = (tmp_path / "msg.bin.minisig").read_text()
    with msg.open("rb") as f:
        sig = verify(public, f, text)
    assert sig.trusted_comment == comment
    assert sig.untrusted_comment == "cli untrusted"
    assert sig.algorithm == (b"Ed" if legacy else b"ED")
    # Ed25519 is deterministic: the same key, data and comments give the same file.
    secret = SecretKey.parse(key_file.read_text())
    again = sign(secret, MESSAGE, trusted_comment=comment, untrusted_comment="cli untrusted", prehash=not legacy)
    assert again == text


def test_interop_cluetool_verifies_cli_default_comment(tmp_path: Path) -> None:
    minisign = require_tool("minisign")
    key_file, pub_file = _cli_keypair(tmp_path)
    msg = tmp_path / "msg.txt"
    msg.write_bytes(b"hello\n")
    assert _run([minisign, "-S", "-s", str(key_file), "-m", str(msg)]).returncode == 0
    sig = verify(PublicKey.parse(pub_file.read_text()), msg.read_bytes(), (tmp_path / "msg.txt.minisig").read_text())
    assert sig.trusted_comment.startswith("timestamp:")
    assert sig.trusted_comment.endswith("\tfile:msg.txt\thashed")
    assert sig.untrusted_comment == "signature from minisign secret key"


def test_interop_cli_unencrypted_key_parses_byte_exact(tmp_path: Path) -> None:
    require_tool("minisign")
    key_file, pub_file = _cli_keypair(tmp_path)
    secret = SecretKey.parse(key_file.read_text())
    assert secret.public_key.to_file_text() == pub_file.read_text()
    assert secret.to_file_text() == key_file.read_text()
    assert pub_file.read_text().split("\n")[0] == f"untrusted comment: minisign public key {secret.key_id_hex}"


def test_interop_cli_encrypted_key_parses_with_passphrase(tmp_path: Path) -> None:
    # minisign -G always uses its default scrypt limits (about 1 GiB, seconds).
    require_tool("minisign")
    key_file, pub_file = _cli_keypair(tmp_path, passphrase=b"s3cret pass")
    text = key_file.read_text()
    assert text.split("\n")[1].startswith("RWRTY0Iy")  # "Ed" "Sc" "B2"
    secret = SecretKey.parse(text, b"s3cret pass")
    assert secret.public_key == PublicKey.parse(pub_file.read_text())
    with pytest.raises(MinisignError, match="passphrase"):
        SecretKey.parse(text)


def test_interop_cli_signs_with_cluetool_unencrypted_key(tmp_path: Path) -> None:
    minisign = require_tool("minisign")
    secret = SecretKey.generate()
    key_file, pub_file = _write_pair(tmp_path, secret)
    msg = tmp_path / "msg.bin"
    msg.write_bytes(MESSAGE)
    result = _run([minisign, "-S", "-s", str(key_file), "-m", str(msg), "-t", "from cli"])
    assert result.returncode == 0, result.stderr
    text = (tmp_path / "msg.bin.minisig").read_text()
    assert verify(secret.public_key, MESSAGE, text).trusted_comment == "from cli"
    assert sign(secret, MESSAGE, trusted_comment="from cli") == text
    check = _run([minisign, "-V", "-q", "-p", str(pub_file), "-m", str(msg)])
    assert check.returncode == 0, check.stderr


def test_interop_cli_recreates_public_key_from_cluetool_secret_key(tmp_path: Path) -> None:
    minisign = require_tool("minisign")
    secret = SecretKey.generate()
    key_file, _ = _write_pair(tmp_path, secret)
    rebuilt = tmp_path / "rebuilt.pub"
    result = _run([minisign, "-R", "-s", str(key_file), "-p", str(rebuilt)])
    assert result.returncode == 0, result.stderr
    assert rebuilt.read_text() == secret.public_key.to_file_text()


def test_interop_cli_signs_with_cluetool_encrypted_key_low_cost(tmp_path: Path) -> None:
    minisign = require_tool("minisign")
    secret = SecretKey.generate()
    key_file, _ = _write_pair(tmp_path, secret, b"pw low", opslimit=LOW_OPS, memlimit=LOW_MEM)
    msg = tmp_path / "msg.bin"
    msg.write_bytes(MESSAGE)
    result = _run([minisign, "-S", "-s", str(key_file), "-m", str(msg), "-t", "low"], stdin=b"pw low\n")
    assert result.returncode == 0, result.stderr
    assert verify(secret.public_key, MESSAGE, (tmp_path / "msg.bin.minisig").read_text()).trusted_comment == "low"
    wrong = _run([minisign, "-S", "-s", str(key_file), "-m", str(msg), "-x", str(tmp_path / "x.sig")], stdin=b"pw lo\n")
    assert wrong.returncode != 0
    assert b"Wrong password" in wrong.stderr


def test_interop_cli_signs_with_cluetool_encrypted_key_default_cost(tmp_path: Path) -> None:
    # The one test at minisign's real scrypt defaults (N=2^20: ~1 GiB, a few seconds
    # for cluetool to encrypt and again for the CLI to decrypt).
    minisign = require_tool("minisign")
    secret = SecretKey.generate()
    key_file, pub_file = _write_pair(tmp_path, secret, b"default cost")
    msg = tmp_path / "msg.bin"
    msg.write_bytes(MESSAGE)
    result = _run([minisign, "-S", "-s", str(key_file), "-m", str(msg), "-t", "default"], stdin=b"default cost\n")
    assert result.returncode == 0, result.stderr
    text = (tmp_path / "msg.bin.minisig").read_text()
    assert verify(secret.public_key, MESSAGE, text).trusted_comment == "default"
    assert sign(secret, MESSAGE, trusted_comment="default") == text
