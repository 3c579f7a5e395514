"""age mlkem768x25519 hybrid recipients (cluetool.formats.age.hybrid): key strings, round
trips, mixing rules. The 19 hybrid CCTV vectors run in test_age.py with the rest."""

from __future__ import annotations

import io
import re

import pytest

from cluetool.formats.age import (
    EncryptWriter,
    HeaderError,
    HybridIdentity,
    HybridRecipient,
    KeyFormatError,
    NoIdentityMatchError,
    ScryptRecipient,
    X25519Identity,
    decrypt,
    encrypt,
    parse_identities,
    parse_identity,
    parse_recipient,
)


def _roundtrip(plaintext: bytes, recipients: list, identities: list, *, armor: bool = False) -> bytes:
    ct = io.BytesIO()
    encrypt(io.BytesIO(plaintext), ct, recipients, armor=armor)
    out = io.BytesIO()
    decrypt(io.BytesIO(ct.getvalue()), out, identities)
    return out.getvalue()


def test_age_hybrid_key_strings_roundtrip_and_have_age_prefixes() -> None:
    ident = HybridIdentity.generate()
    s = str(ident)
    assert re.fullmatch(r"AGE-SECRET-KEY-PQ-1[0-9A-Z]+", s)
    assert str(parse_identity(s)) == s
    assert parse_identity(s).recipient == ident.recipient
    r = str(ident.recipient)
    assert r.startswith("age1pq1") and r == r.lower()
    assert parse_recipient(r) == ident.recipient
    assert isinstance(parse_recipient(str(X25519Identity.generate().recipient)), type(X25519Identity.generate().recipient))
    assert s not in repr(ident)


def test_age_hybrid_identity_is_deterministic_from_its_seed() -> None:
    ident = HybridIdentity.generate()
    assert HybridIdentity.parse(str(ident)).recipient == ident.recipient


@pytest.mark.parametrize("size", [0, 1, 65536, 65537, 200_000])
@pytest.mark.parametrize("armor", [False, True], ids=["binary", "armor"])
def test_age_hybrid_roundtrip(size: int, armor: bool) -> None:
    ident = HybridIdentity.generate()
    data = bytes(range(256)) * (size // 256) + b"x" * (size % 256)
    assert _roundtrip(data, [ident.recipient], [ident], armor=armor) == data


def test_age_hybrid_two_recipients_each_decrypts() -> None:
    a, b = HybridIdentity.generate(), HybridIdentity.generate()
    for ident in (a, b):
        assert _roundtrip(b"both", [a.recipient, b.recipient], [ident]) == b"both"


def test_age_hybrid_wrong_identity_no_match() -> None:
    ct = io.BytesIO()
    encrypt(io.BytesIO(b"x"), ct, [HybridIdentity.generate().recipient])
    for other in (HybridIdentity.generate(), X25519Identity.generate()):
        with pytest.raises(NoIdentityMatchError):
            decrypt(io.BytesIO(ct.getvalue()), io.BytesIO(), [other])


def test_age_hybrid_stanza_layout() -> None:
    ident = HybridIdentity.generate()
    ct = io.BytesIO()
    encrypt(io.BytesIO(b"x"), ct, [ident.recipient])
    lines = ct.getvalue().split(b"\n")
    assert lines[1].startswith(b"-> mlkem768x25519 ")
    assert len(lines[1].split(b" ")) == 3
    # 1120 bytes of enc as unpadded base64.
    assert len(lines[1].split(b" ")[2]) == 1494


@pytest.mark.parametrize("other", ["x25519", "scrypt"])
def test_age_hybrid_mixed_with_classical_recipient_refused(other: str) -> None:
    classical = X25519Identity.generate().recipient if other == "x25519" else ScryptRecipient(b"pw", work_factor=2)
    with pytest.raises(ValueError, match="only"):
        EncryptWriter(io.BytesIO(), [HybridIdentity.generate().recipient, classical])


def test_age_hybrid_identity_file_mixes_with_x25519_lines() -> None:
    h, x = HybridIdentity.generate(), X25519Identity.generate()
    got = parse_identities(f"# hybrid\n{h}\n{x}\n")
    assert [type(i) for i in got] == [HybridIdentity, X25519Identity]


@pytest.mark.parametrize("bad", ["age1pq1", "age1pq1qqqqqqqq", "AGE-SECRET-KEY-PQ-1QQQQQQ"])
def test_age_hybrid_malformed_key_strings_refused(bad: str) -> None:
    with pytest.raises(KeyFormatError):
        (parse_identity if bad.startswith("AGE") else parse_recipient)(bad)


def test_age_hybrid_recipient_wrong_length_refused() -> None:
    with pytest.raises(KeyFormatError):
        HybridRecipient(bytes(100))


def test_age_hybrid_truncated_enc_is_header_failure() -> None:
    ident = HybridIdentity.generate()
    ct = io.BytesIO()
    encrypt(io.BytesIO(b"x"), ct, [ident.recipient])
    head, _, rest = ct.getvalue().partition(b"\n")
    stanza, _, rest = rest.partition(b"\n")
    parts = stanza.split(b" ")
    broken = head + b"\n" + b" ".join([*parts[:2], parts[2][:-4]]) + b"\n" + rest
    with pytest.raises(HeaderError):
        decrypt(io.BytesIO(broken), io.BytesIO(), [ident])
