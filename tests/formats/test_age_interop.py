"""age v1 interoperability with the real age CLI (1.1.1 on Debian): both directions."""

from __future__ import annotations

import io
import os
import subprocess
from pathlib import Path

import pytest

from cluetool.formats.age import (
    NoIdentityMatchError,
    X25519Identity,
    X25519Recipient,
    decrypt,
    encrypt,
    parse_identities,
)
from tests.conftest import require_tool

pytestmark = pytest.mark.interop

SIZES = [0, 1, 65535, 65536, 65537, (1 << 20) + 1]


def _keygen(tmp_path: Path, name: str = "key.txt") -> tuple[Path, str]:
    keygen = require_tool("age-keygen")
    key = tmp_path / name
    subprocess.run([keygen, "-o", str(key)], check=True, capture_output=True)
    recipient = subprocess.run([keygen, "-y", str(key)], check=True, capture_output=True, text=True).stdout.strip()
    return key, recipient


@pytest.mark.parametrize("armor", [False, True], ids=["binary", "armored"])
@pytest.mark.parametrize("size", SIZES, ids=str)
def test_age_interop_cluetool_encrypts_age_cli_decrypts(tmp_path: Path, size: int, armor: bool) -> None:
    age = require_tool("age")
    key, recipient = _keygen(tmp_path)
    plaintext = os.urandom(size)
    enc = tmp_path / "msg.age"
    with enc.open("wb") as dst:
        encrypt(io.BytesIO(plaintext), dst, [X25519Recipient.parse(recipient)], armor=armor)
    out = subprocess.run([age, "-d", "-i", str(key), str(enc)], check=True, capture_output=True)
    assert out.stdout == plaintext
    assert out.stderr == b""


@pytest.mark.parametrize("armor", [False, True], ids=["binary", "armored"])
@pytest.mark.parametrize("size", SIZES, ids=str)
def test_age_interop_age_cli_encrypts_cluetool_decrypts(tmp_path: Path, size: int, armor: bool) -> None:
    age = require_tool("age")
    key, recipient = _keygen(tmp_path)
    plain = tmp_path / "msg.bin"
    plain.write_bytes(os.urandom(size))
    enc = tmp_path / "msg.age"
    subprocess.run([age, *(["-a"] if armor else []), "-r", recipient, "-o", str(enc), str(plain)],
                   check=True, capture_output=True)
    out = io.BytesIO()
    with enc.open("rb") as src:
        n = decrypt(src, out, parse_identities(key.read_text(encoding="ascii")))
    assert n == size
    assert out.getvalue() == plain.read_bytes()


def test_age_interop_age_cli_multiple_recipients_each_decrypts(tmp_path: Path) -> None:
    age = require_tool("age")
    key_a, rec_a = _keygen(tmp_path, "a.txt")
    key_b, rec_b = _keygen(tmp_path, "b.txt")
    plain = tmp_path / "msg.bin"
    plain.write_bytes(os.urandom(100_000))
    enc = tmp_path / "msg.age"
    subprocess.run([age, "-r", rec_a, "-r", rec_b, "-o", str(enc), str(plain)], check=True, capture_output=True)
    for key in (key_a, key_b):
        out = io.BytesIO()
        with enc.open("rb") as src:
            decrypt(src, out, parse_identities(key.read_text(encoding="ascii")))
        assert out.getvalue() == plain.read_bytes()
    with enc.open("rb") as src, pytest.raises(NoIdentityMatchError):
        decrypt(src, io.BytesIO(), [X25519Identity.generate()])


def test_age_interop_cluetool_multiple_recipients_age_cli_decrypts_each(tmp_path: Path) -> None:
    age = require_tool("age")
    keys = [_keygen(tmp_path, f"k{i}.txt") for i in range(3)]
    plaintext = os.urandom(70_000)
    enc = tmp_path / "msg.age"
    with enc.open("wb") as dst:
        encrypt(io.BytesIO(plaintext), dst, [X25519Recipient.parse(r) for _, r in keys])
    for key, _ in keys:
        out = subprocess.run([age, "-d", "-i", str(key), str(enc)], check=True, capture_output=True)
        assert out.stdout == plaintext


def test_age_interop_keygen_identity_file_parses(tmp_path: Path) -> None:
    key, recipient = _keygen(tmp_path)
    text = key.read_text(encoding="ascii")
    assert text.startswith("# created: ")
    (identity,) = parse_identities(text)
    assert str(identity.recipient) == recipient
    assert f"# public key: {recipient}\n" in text


def test_age_interop_cluetool_identity_works_with_age_cli(tmp_path: Path) -> None:
    age = require_tool("age")
    keygen = require_tool("age-keygen")
    identity = X25519Identity.generate()
    key = tmp_path / "ours.txt"
    key.write_text(f"# public key: {identity.recipient}\n{identity}\n", encoding="ascii")
    key.chmod(0o600)
    derived = subprocess.run([keygen, "-y", str(key)], check=True, capture_output=True, text=True).stdout.strip()
    assert derived == str(identity.recipient)
    plain = tmp_path / "msg.bin"
    plain.write_bytes(os.urandom(5000))
    enc = tmp_path / "msg.age"
    subprocess.run([age, "-r", str(identity.recipient), "-o", str(enc), str(plain)], check=True, capture_output=True)
    out = subprocess.run([age, "-d", "-i", str(key), str(enc)], check=True, capture_output=True)
    assert out.stdout == plain.read_bytes()
    with enc.open("rb") as src:
        got = io.BytesIO()
        decrypt(src, got, parse_identities(key.read_text(encoding="ascii")))
    assert got.getvalue() == plain.read_bytes()


def test_age_interop_age_cli_rejects_cluetool_file_for_wrong_key(tmp_path: Path) -> None:
    age = require_tool("age")
    key, _ = _keygen(tmp_path)
    enc = tmp_path / "msg.age"
    with enc.open("wb") as dst:
        encrypt(io.BytesIO(b"secret"), dst, [X25519Identity.generate().recipient])
    result = subprocess.run([age, "-d", "-i", str(key), str(enc)], capture_output=True)
    assert result.returncode != 0
    assert result.stdout == b""


def test_age_interop_pipes_both_ways_roundtrip(tmp_path: Path) -> None:
    # Pipes give short reads and writes: the reader must assemble whole chunks.
    age = require_tool("age")
    key, recipient = _keygen(tmp_path)
    plaintext = os.urandom((1 << 20) + 1)
    plain = tmp_path / "plain.bin"
    plain.write_bytes(plaintext)
    with subprocess.Popen([age, "-r", recipient, str(plain)], stdout=subprocess.PIPE) as proc:
        assert proc.stdout is not None
        out = io.BytesIO()
        decrypt(proc.stdout, out, parse_identities(key.read_text(encoding="ascii")))
    assert proc.returncode == 0
    assert out.getvalue() == plaintext
    with subprocess.Popen([age, "-d", "-i", str(key), "-o", str(tmp_path / "out.bin")],
                          stdin=subprocess.PIPE) as proc:
        assert proc.stdin is not None
        encrypt(io.BytesIO(plaintext), proc.stdin, [X25519Recipient.parse(recipient)])
        proc.stdin.close()
    assert proc.returncode == 0
    assert (tmp_path / "out.bin").read_bytes() == plaintext
