"""minisign keys and signatures: known answers, CLI 0.11 files, round trips, strictness."""

from __future__ import annotations

import base64
import io
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cluetool.formats.minisign import (
    DEFAULT_MEMLIMIT,
    DEFAULT_OPSLIMIT,
    InvalidSignature,
    MinisignError,
    PassphraseRequiredError,
    PublicKey,
    SecretKey,
    Signature,
    WrongPassphraseError,
    parse_signature,
    sign,
    verify,
)

# Test-only scrypt cost (libsodium pickparams -> N=2^10, r=8, p=1); minisign's
# defaults cost 1 GiB and seconds per key.
LOW_OPS = 32768
LOW_MEM = 16777216

KAT = "minisign/go-minisign-kat"
CLI = "minisign/cli-0.11"

# signature file -> (public key file, signed message, expected trusted comment)
SIGNATURE_VECTORS = {
    f"{KAT}/test.hashed.minisig": (
        f"{KAT}/minisign.pub",
        f"{KAT}/test",
        "timestamp:1635443258\tfile:test\thashed",
    ),
    f"{KAT}/test.legacy.minisig": (
        f"{KAT}/minisign.pub",
        f"{KAT}/test",
        "timestamp:1635442742\tfile:test",
    ),
    f"{CLI}/msg.txt.minisig": (
        f"{CLI}/unencrypted.pub",
        f"{CLI}/msg.txt",
        "timestamp:1795387671\tfile:msg.txt\thashed",
    ),
    f"{CLI}/msg.txt.legacy.minisig": (
        f"{CLI}/unencrypted.pub",
        f"{CLI}/msg.txt",
        "legacy test",
    ),
    f"{CLI}/msg.txt.encrypted-key.minisig": (
        f"{CLI}/encrypted.pub",
        f"{CLI}/msg.txt",
        "timestamp:1795387682\tfile:msg.txt\thashed",
    ),
}
# public key file -> key id as the CLI prints it (README / file comments)
PUBLIC_KEY_VECTORS = {
    f"{KAT}/minisign.pub": "E7620F1842B4E81F",
    f"{CLI}/unencrypted.pub": "ADEAE6C181D2D8D8",
    f"{CLI}/encrypted.pub": "C27D66BA1202A336",
}


def _ids(names: object) -> list[str]:
    return [Path(str(n)).name for n in names]  # type: ignore[attr-defined]


@pytest.fixture(scope="module")
def cli_key(testvectors: Path) -> SecretKey:
    return SecretKey.parse((testvectors / CLI / "unencrypted.key").read_text())


@pytest.fixture(scope="module")
def key() -> SecretKey:
    return SecretKey.generate()


@pytest.fixture(scope="module")
def other_key() -> SecretKey:
    return SecretKey.generate()


def _flip_blob(line: str, index: int) -> str:
    raw = bytearray(base64.b64decode(line))
    raw[index] ^= 0x01
    return base64.b64encode(bytes(raw)).decode()


def _replace_line(text: str, n: int, new: str) -> str:
    lines = text.split("\n")
    lines[n] = new
    return "\n".join(lines)


# --- known answers and CLI files ---------------------------------------------------


@pytest.mark.parametrize("sig_name", list(SIGNATURE_VECTORS), ids=_ids(SIGNATURE_VECTORS))
def test_verify_vector_signature_returns_trusted_comment(testvectors: Path, sig_name: str) -> None:
    pub_name, msg_name, comment = SIGNATURE_VECTORS[sig_name]
    public = PublicKey.parse((testvectors / pub_name).read_text())
    message = (testvectors / msg_name).read_bytes()
    text = (testvectors / sig_name).read_text()
    sig = verify(public, message, text)
    assert sig.trusted_comment == comment
    assert sig.key_id == public.key_id
    with (testvectors / msg_name).open("rb") as stream:
        assert verify(public, stream, text) == sig


@pytest.mark.parametrize("sig_name", list(SIGNATURE_VECTORS), ids=_ids(SIGNATURE_VECTORS))
def test_verify_vector_signature_tampered_message_raises(testvectors: Path, sig_name: str) -> None:
    pub_name, msg_name, _ = SIGNATURE_VECTORS[sig_name]
    public = PublicKey.parse((testvectors / pub_name).read_text())
    message = (testvectors / msg_name).read_bytes() + b"\n"
    with pytest.raises(InvalidSignature):
        verify(public, message, (testvectors / sig_name).read_text())


@pytest.mark.parametrize("sig_name", list(SIGNATURE_VECTORS), ids=_ids(SIGNATURE_VECTORS))
def test_parse_signature_vector_reserializes_identically(testvectors: Path, sig_name: str) -> None:
    text = (testvectors / sig_name).read_text()
    sig = parse_signature(text)
    assert sig.algorithm == (b"Ed" if "legacy" in sig_name else b"ED")
    assert sig.to_file_text() == text


def test_verify_legacy_vector_prehashed_only_raises(testvectors: Path) -> None:
    public = PublicKey.parse((testvectors / KAT / "minisign.pub").read_text())
    text = (testvectors / KAT / "test.legacy.minisig").read_text()
    with pytest.raises(InvalidSignature):
        verify(public, b"test", text, prehashed_only=True)
    hashed = (testvectors / KAT / "test.hashed.minisig").read_text()
    assert verify(public, b"test", hashed, prehashed_only=True).prehashed


@pytest.mark.parametrize("pub_name", list(PUBLIC_KEY_VECTORS), ids=_ids(PUBLIC_KEY_VECTORS))
def test_public_key_vector_file_roundtrips_byte_exact(testvectors: Path, pub_name: str) -> None:
    text = (testvectors / pub_name).read_text()
    public = PublicKey.parse(text)
    assert public.key_id_hex == PUBLIC_KEY_VECTORS[pub_name]
    assert public.to_file_text() == text
    bare = text.splitlines()[1]
    assert public.to_base64() == bare
    assert PublicKey.parse(bare) == public


def test_public_key_release_key_has_documented_key_id_bytes(testvectors: Path) -> None:
    public = PublicKey.parse((testvectors / KAT / "minisign.pub").read_text())
    assert public.key_id == bytes.fromhex("1fe8b442180f62e7")


def test_key_id_hex_leading_zero_is_not_padded() -> None:
    # Observed with minisign 0.11 -G: key id bytes a9924cb923d08606 were written as
    # "minisign public key 686D023B94C92A9" (0.11 prints %PRIX64, no zero padding).
    public = PublicKey.parse("RWSpkky5I9CGBpqyMFWjgOJ5i+0IS4B0Z9hWBt05KyRJKtwl05j9hH6+")
    assert public.key_id == bytes.fromhex("a9924cb923d08606")
    assert public.key_id_hex == "686D023B94C92A9"
    assert public.to_file_text().startswith("untrusted comment: minisign public key 686D023B94C92A9\n")


def test_secret_key_unencrypted_vector_roundtrips_byte_exact(testvectors: Path, cli_key: SecretKey) -> None:
    assert cli_key.to_file_text() == (testvectors / CLI / "unencrypted.key").read_text()
    assert cli_key.public_key == PublicKey.parse((testvectors / CLI / "unencrypted.pub").read_text())
    assert cli_key.key_id_hex == "ADEAE6C181D2D8D8"


@pytest.mark.parametrize(
    ("sig_name", "prehash"),
    [("msg.txt.minisig", True), ("msg.txt.legacy.minisig", False)],
    ids=["msg.txt.minisig", "msg.txt.legacy.minisig"],
)
def test_sign_cli_key_reproduces_cli_signature_byte_exact(
    testvectors: Path, cli_key: SecretKey, sig_name: str, prehash: bool
) -> None:
    expected = (testvectors / CLI / sig_name).read_text()
    comment = parse_signature(expected).trusted_comment
    message = (testvectors / CLI / "msg.txt").read_bytes()
    assert sign(cli_key, message, trusted_comment=comment, prehash=prehash) == expected
    stream = io.BytesIO(message)
    assert sign(cli_key, stream, trusted_comment=comment, prehash=prehash) == expected


def test_secret_key_encrypted_vector_decrypts_and_reproduces_signature(testvectors: Path) -> None:
    # The one test here that pays minisign's real scrypt cost (N=2^20, ~1 GiB).
    secret = SecretKey.parse((testvectors / CLI / "encrypted.key").read_text(), b"pw123")
    assert secret.public_key == PublicKey.parse((testvectors / CLI / "encrypted.pub").read_text())
    expected = (testvectors / CLI / "msg.txt.encrypted-key.minisig").read_text()
    message = (testvectors / CLI / "msg.txt").read_bytes()
    comment = parse_signature(expected).trusted_comment
    assert sign(secret, message, trusted_comment=comment) == expected


def test_secret_key_encrypted_vector_without_passphrase_raises(testvectors: Path) -> None:
    text = (testvectors / CLI / "encrypted.key").read_text()
    with pytest.raises(PassphraseRequiredError, match="no passphrase") as info:
        SecretKey.parse(text)
    assert isinstance(info.value, MinisignError)
    assert not isinstance(info.value, WrongPassphraseError)


# --- round trips ---------------------------------------------------------------------


@pytest.mark.parametrize("size", [0, 1, 65535, 65536, 65537, 200_003])
def test_sign_bytes_and_stream_same_output_and_verify(key: SecretKey, size: int) -> None:
    data = bytes(i % 251 for i in range(size))
    text = sign(key, data, trusted_comment=f"size:{size}")
    assert sign(key, io.BytesIO(data), trusted_comment=f"size:{size}") == text
    sig = verify(key.public_key, data, text)
    assert sig.trusted_comment == f"size:{size}"
    assert sig.algorithm == b"ED"
    assert verify(key.public_key, io.BytesIO(data), text) == sig


def test_sign_file_stream_verifies_from_position_to_eof(key: SecretKey, tmp_path: Path) -> None:
    path = tmp_path / "data.bin"
    path.write_bytes(b"header" + b"payload" * 50_000)
    with path.open("rb") as f:
        f.seek(6)
        text = sign(key, f, trusted_comment="tail")
    assert verify(key.public_key, b"payload" * 50_000, text).trusted_comment == "tail"


class _ReadOnlyStream:
    """A stream with read() but no readinto()."""

    def __init__(self, data: bytes) -> None:
        self._inner = io.BytesIO(data)

    def read(self, n: int = -1) -> bytes:
        return self._inner.read(n)


def test_sign_read_only_stream_matches_bytes(key: SecretKey) -> None:
    data = b"x" * 150_000
    expected = sign(key, data, trusted_comment="c")
    assert sign(key, _ReadOnlyStream(data), trusted_comment="c") == expected  # type: ignore[arg-type]
    verify(key.public_key, _ReadOnlyStream(data), expected)  # type: ignore[arg-type]


def test_sign_legacy_verifies_with_algorithm_ed(key: SecretKey) -> None:
    text = sign(key, io.BytesIO(b"legacy data"), trusted_comment="old", prehash=False)
    sig = verify(key.public_key, b"legacy data", text)
    assert sig.algorithm == b"Ed"
    assert not sig.prehashed
    with pytest.raises(InvalidSignature):
        verify(key.public_key, b"legacy data", text, prehashed_only=True)


def test_sign_layout_matches_minisign_file(key: SecretKey) -> None:
    text = sign(key, b"data", trusted_comment="tc", untrusted_comment="uc")
    lines = text.split("\n")
    assert len(lines) == 5 and lines[4] == ""
    assert lines[0] == "untrusted comment: uc"
    assert base64.b64decode(lines[1])[:10] == b"ED" + key.key_id
    assert len(lines[1]) == 100 and len(lines[3]) == 88
    assert lines[2] == "trusted comment: tc"
    default = sign(key, b"data", trusted_comment="tc")
    assert default.startswith("untrusted comment: signature from minisign secret key\n")


def test_sign_unicode_and_tab_trusted_comment_roundtrips(key: SecretKey) -> None:
    comment = "批次:intake-bj-00000042\tprev:ab12\tné"
    sig = verify(key.public_key, b"x", sign(key, b"x", trusted_comment=comment))
    assert sig.trusted_comment == comment


def test_verify_crlf_and_missing_final_newline_accepted(key: SecretKey) -> None:
    text = sign(key, b"data", trusted_comment="tc")
    assert verify(key.public_key, b"data", text.replace("\n", "\r\n")).trusted_comment == "tc"
    assert verify(key.public_key, b"data", text.rstrip("\n")).trusted_comment == "tc"
    assert verify(key.public_key, b"data", text.encode()).trusted_comment == "tc"


def test_verify_untrusted_comment_edit_still_verifies(key: SecretKey) -> None:
    text = _replace_line(sign(key, b"data", trusted_comment="tc"), 0, "untrusted comment: edited")
    assert verify(key.public_key, b"data", text).untrusted_comment == "edited"


def test_verify_key_sequence_selects_matching_key(key: SecretKey, other_key: SecretKey) -> None:
    text = sign(other_key, b"data", trusted_comment="from other")
    sig = verify([key.public_key, other_key.public_key], b"data", text)
    assert sig.key_id == other_key.key_id
    with pytest.raises(InvalidSignature):
        verify([key.public_key], b"data", text)
    with pytest.raises(InvalidSignature):
        verify([], b"data", text)


@settings(max_examples=25, deadline=None)
@given(
    data=st.binary(max_size=2000),
    comment=st.text(
        alphabet=st.characters(blacklist_categories=("Cs", "Cc"), whitelist_characters="\t"),
        max_size=60,
    ),
    prehash=st.booleans(),
)
def test_sign_verify_property_roundtrip(data: bytes, comment: str, prehash: bool) -> None:
    secret = SecretKey.generate()
    text = sign(secret, data, trusted_comment=comment, prehash=prehash)
    sig = verify(secret.public_key, data, text)
    assert sig.trusted_comment == comment
    assert parse_signature(text) == sig


# --- tampering -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def signed(key: SecretKey) -> str:
    return sign(key, b"the data", trusted_comment="timestamp:1\tfile:x\thashed")


def test_verify_tampered_data_raises(key: SecretKey, signed: str) -> None:
    with pytest.raises(InvalidSignature):
        verify(key.public_key, b"the data!", signed)


def test_verify_tampered_signature_raises(key: SecretKey, signed: str) -> None:
    line = signed.split("\n")[1]
    with pytest.raises(InvalidSignature):
        verify(key.public_key, b"the data", _replace_line(signed, 1, _flip_blob(line, 40)))


def test_verify_tampered_trusted_comment_raises(key: SecretKey, signed: str) -> None:
    bad = _replace_line(signed, 2, "trusted comment: timestamp:2\tfile:x\thashed")
    with pytest.raises(InvalidSignature, match="trusted comment"):
        verify(key.public_key, b"the data", bad)


def test_verify_tampered_global_signature_raises(key: SecretKey, signed: str) -> None:
    line = signed.split("\n")[3]
    with pytest.raises(InvalidSignature):
        verify(key.public_key, b"the data", _replace_line(signed, 3, _flip_blob(line, 0)))


def test_verify_algorithm_swapped_to_legacy_raises(key: SecretKey, signed: str) -> None:
    raw = bytearray(base64.b64decode(signed.split("\n")[1]))
    raw[1:2] = b"d"  # "ED" -> "Ed"
    bad = _replace_line(signed, 1, base64.b64encode(bytes(raw)).decode())
    with pytest.raises(InvalidSignature):
        verify(key.public_key, b"the data", bad)


def test_verify_key_id_mismatch_raises_without_detail(key: SecretKey, signed: str) -> None:
    line = signed.split("\n")[1]
    with pytest.raises(InvalidSignature) as info:
        verify(key.public_key, b"the data", _replace_line(signed, 1, _flip_blob(line, 2)))
    assert key.key_id_hex not in str(info.value)
    assert key.key_id.hex() not in str(info.value).lower()


def test_verify_same_key_id_other_key_raises(key: SecretKey, other_key: SecretKey, signed: str) -> None:
    impostor = PublicKey(key_id=key.key_id, key=other_key.public_key.key)
    with pytest.raises(InvalidSignature):
        verify(impostor, b"the data", signed)


def test_verify_global_signature_from_other_signature_raises(key: SecretKey) -> None:
    # Splice: signature over data A with the comment line and global signature of B.
    a = sign(key, b"A", trusted_comment="a").split("\n")
    b = sign(key, b"B", trusted_comment="b").split("\n")
    spliced = "\n".join([a[0], a[1], b[2], b[3], ""])
    with pytest.raises(InvalidSignature):
        verify(key.public_key, b"A", spliced)


# --- malformed input -------------------------------------------------------------------


def _malformed_signatures(signed: str) -> dict[str, str]:
    lines = signed.split("\n")[:4]
    blob = base64.b64decode(lines[1])
    return {
        "three_lines": "\n".join(lines[:3]) + "\n",
        "five_lines": "\n".join(lines) + "\nextra\n",
        "trailing_blank_line": "\n".join(lines) + "\n\n",
        "no_untrusted_prefix": "\n".join(["comment: x", *lines[1:]]) + "\n",
        "no_trusted_prefix": "\n".join([lines[0], lines[1], "trusted: x", lines[3]]) + "\n",
        "unpadded_base64": "\n".join([lines[0], lines[1].rstrip("="), *lines[2:]]) + "\n",
        "non_canonical_base64": "\n".join([lines[0], lines[1][:-2] + "x=", *lines[2:]]) + "\n",
        "bad_base64_char": "\n".join([lines[0], "*" + lines[1][1:], *lines[2:]]) + "\n",
        "short_signature_blob": "\n".join([lines[0], base64.b64encode(blob[:-1]).decode(), *lines[2:]])
        + "\n",
        "unknown_algorithm": "\n".join([lines[0], base64.b64encode(b"EX" + blob[2:]).decode(), *lines[2:]])
        + "\n",
        "short_global_signature": "\n".join([*lines[:3], base64.b64encode(bytes(63)).decode()]) + "\n",
        "control_char_trusted_comment": "\n".join([lines[0], lines[1], lines[2] + "\x07", lines[3]]) + "\n",
        "stray_cr": "\n".join([lines[0], lines[1], lines[2] + "\rhidden", lines[3]]) + "\n",
        "long_trusted_comment": "\n".join([lines[0], lines[1], "trusted comment: " + "t" * 8174, lines[3]])
        + "\n",
        "long_untrusted_comment": "\n".join(["untrusted comment: " + "u" * 1004, *lines[1:]]) + "\n",
        "empty": "",
    }


MALFORMED_SIGNATURE_CASES = [
    "three_lines",
    "five_lines",
    "trailing_blank_line",
    "no_untrusted_prefix",
    "no_trusted_prefix",
    "unpadded_base64",
    "non_canonical_base64",
    "bad_base64_char",
    "short_signature_blob",
    "unknown_algorithm",
    "short_global_signature",
    "control_char_trusted_comment",
    "stray_cr",
    "long_trusted_comment",
    "long_untrusted_comment",
    "empty",
]


@pytest.mark.parametrize("case", MALFORMED_SIGNATURE_CASES, ids=MALFORMED_SIGNATURE_CASES)
def test_parse_signature_malformed_raises_minisign_error(key: SecretKey, signed: str, case: str) -> None:
    text = _malformed_signatures(signed)[case]
    with pytest.raises(MinisignError):
        parse_signature(text)
    with pytest.raises(MinisignError):
        verify(key.public_key, b"the data", text)


def test_parse_signature_not_utf8_raises_minisign_error(signed: str) -> None:
    with pytest.raises(MinisignError):
        parse_signature(signed.encode() + b"\xff")


def test_parse_signature_longest_comments_accepted(key: SecretKey) -> None:
    # The limits minisign 0.11 accepts on -V (1003 and 8173 bytes, §2.5).
    text = sign(key, b"d", trusted_comment="t" * 8173, untrusted_comment="u" * 1003)
    assert verify(key.public_key, b"d", text).trusted_comment == "t" * 8173


@pytest.mark.parametrize(
    ("trusted", "untrusted"),
    [
        ("two\nlines", "u"),
        ("carriage\rreturn", "u"),
        ("nul\x00byte", "u"),
        ("t" * 8174, "u"),
        ("multi" + "é" * 4085, "u"),  # 8175 UTF-8 bytes
        ("t", "two\nlines"),
        ("t", "u" * 1004),
        ("lone surrogate \udc80", "u"),
        ("t", "lone surrogate \udc80"),
    ],
    ids=[
        "tc_newline",
        "tc_cr",
        "tc_nul",
        "tc_too_long",
        "tc_too_long_utf8",
        "uc_newline",
        "uc_too_long",
        "tc_surrogate",
        "uc_surrogate",
    ],
)
def test_sign_bad_comment_raises_minisign_error(key: SecretKey, trusted: str, untrusted: str) -> None:
    with pytest.raises(MinisignError):
        sign(key, b"data", trusted_comment=trusted, untrusted_comment=untrusted)


def _pub_blob(public: PublicKey) -> bytes:
    return base64.b64decode(public.to_base64())


@pytest.mark.parametrize(
    "case",
    ["wrong_algorithm", "short", "long", "three_lines", "bad_prefix", "unpadded", "empty"],
)
def test_public_key_parse_malformed_raises_minisign_error(key: SecretKey, case: str) -> None:
    blob = _pub_blob(key.public_key)
    line = key.public_key.to_base64()
    text = {
        "wrong_algorithm": base64.b64encode(b"ED" + blob[2:]).decode(),
        "short": base64.b64encode(blob[:-1]).decode(),
        "long": base64.b64encode(blob + b"\x00").decode(),
        "three_lines": key.public_key.to_file_text() + "more\n",
        "bad_prefix": f"comment: x\n{line}\n",
        "unpadded": "RWSpkky5I9CGBpqyMFWjgOJ5i+0IS4B0Z9hWBt05KyRJKtwl05j9hH6",
        "empty": "",
    }[case]
    with pytest.raises(MinisignError):
        PublicKey.parse(text)


def test_public_key_wrong_lengths_raise_minisign_error() -> None:
    with pytest.raises(MinisignError):
        PublicKey(key_id=bytes(7), key=bytes(32))
    with pytest.raises(MinisignError):
        PublicKey(key_id=bytes(8), key=bytes(31))


# --- secret keys -------------------------------------------------------------------------


def _sk_blob(text: str) -> bytearray:
    return bytearray(base64.b64decode(text.split("\n")[1]))


def _sk_text(blob: bytes) -> str:
    return "untrusted comment: minisign encrypted secret key\n" + base64.b64encode(blob).decode() + "\n"


def test_secret_key_unencrypted_roundtrip_same_key(key: SecretKey) -> None:
    text = key.to_file_text()
    blob = _sk_blob(text)
    assert blob[:6] == b"Ed\x00\x00B2"
    assert blob[6:54] == bytes(48)  # salt and limits zero, as `minisign -G -W`
    assert blob[-32:] == bytes(32)  # and the checksum zero
    again = SecretKey.parse(text)
    assert again.key_id == key.key_id
    assert again.public_key == key.public_key
    assert again.to_file_text() == text


def test_secret_key_unencrypted_with_real_checksum_accepted_and_checked(key: SecretKey) -> None:
    # A key whose password was removed with `minisign -C -W` keeps its real checksum.
    import hashlib

    blob = _sk_blob(key.to_file_text())
    body = blob[54:-32]
    blob[-32:] = hashlib.blake2b(b"Ed" + bytes(body), digest_size=32).digest()
    assert SecretKey.parse(_sk_text(bytes(blob))).public_key == key.public_key
    blob[-1] ^= 1
    with pytest.raises(MinisignError, match="checksum"):
        SecretKey.parse(_sk_text(bytes(blob)))


def test_secret_key_encrypted_low_cost_roundtrip(key: SecretKey) -> None:
    text = key.to_file_text(b"correct horse", opslimit=LOW_OPS, memlimit=LOW_MEM)
    blob = _sk_blob(text)
    assert blob[:6] == b"EdScB2"
    assert int.from_bytes(blob[38:46], "little") == LOW_OPS
    assert int.from_bytes(blob[46:54], "little") == LOW_MEM
    assert key.public_key.key not in bytes(blob)  # the key is not stored in clear
    again = SecretKey.parse(text, b"correct horse")
    assert again.public_key == key.public_key
    assert verify(key.public_key, b"m", sign(again, b"m", trusted_comment="ok")).trusted_comment == "ok"


def test_secret_key_encrypted_fresh_salt_each_time(key: SecretKey) -> None:
    a = key.to_file_text(b"pw", opslimit=LOW_OPS, memlimit=LOW_MEM)
    b = key.to_file_text(b"pw", opslimit=LOW_OPS, memlimit=LOW_MEM)
    assert _sk_blob(a)[6:38] != _sk_blob(b)[6:38]


def test_secret_key_encrypted_wrong_passphrase_raises(key: SecretKey) -> None:
    text = key.to_file_text(b"right", opslimit=LOW_OPS, memlimit=LOW_MEM)
    with pytest.raises(WrongPassphraseError):
        SecretKey.parse(text, b"wrong")
    with pytest.raises(WrongPassphraseError):
        SecretKey.parse(text, b"right\n")


def test_secret_key_encrypted_no_passphrase_raises(key: SecretKey) -> None:
    text = key.to_file_text(b"right", opslimit=LOW_OPS, memlimit=LOW_MEM)
    with pytest.raises(PassphraseRequiredError, match="encrypted") as info:
        SecretKey.parse(text)
    assert not isinstance(info.value, WrongPassphraseError)


def test_secret_key_empty_passphrase_refused(key: SecretKey) -> None:
    with pytest.raises(MinisignError):
        key.to_file_text(b"", opslimit=LOW_OPS, memlimit=LOW_MEM)


@pytest.mark.parametrize(
    ("opslimit", "memlimit"),
    [(1 << 26, 1 << 31), (1 << 30, 1 << 30), (1 << 64, 0)],
    ids=["memory_above_default", "work_above_default", "opslimit_overflow"],
)
def test_secret_key_scrypt_limits_above_bound_raise(key: SecretKey, opslimit: int, memlimit: int) -> None:
    with pytest.raises(MinisignError, match="scrypt"):
        key.to_file_text(b"pw", opslimit=opslimit, memlimit=memlimit)
    blob = _sk_blob(key.to_file_text(b"pw", opslimit=LOW_OPS, memlimit=LOW_MEM))
    blob[38:46] = min(opslimit, (1 << 64) - 1).to_bytes(8, "little")
    blob[46:54] = memlimit.to_bytes(8, "little")
    if opslimit < 1 << 64:
        with pytest.raises(MinisignError, match="scrypt"):
            SecretKey.parse(_sk_text(bytes(blob)), b"pw")


def test_secret_key_default_limits_are_minisign_sensitive() -> None:
    assert (DEFAULT_OPSLIMIT, DEFAULT_MEMLIMIT) == (33554432, 1073741824)


@pytest.mark.parametrize(
    "case",
    ["wrong_sig_alg", "unknown_kdf", "unknown_checksum", "public_half_mismatch", "short", "one_line", "bad_prefix"],
)
def test_secret_key_parse_malformed_raises_minisign_error(key: SecretKey, case: str) -> None:
    text = key.to_file_text()
    blob = _sk_blob(text)
    if case == "wrong_sig_alg":
        blob[0:2] = b"ED"
    elif case == "unknown_kdf":
        blob[2:4] = b"Ar"
    elif case == "unknown_checksum":
        blob[4:6] = b"B3"
    elif case == "public_half_mismatch":
        blob[54 + 8 + 40] ^= 1
    elif case == "short":
        blob = blob[:-1]
    if case == "one_line":
        bad = text.split("\n")[1]
    elif case == "bad_prefix":
        bad = "comment\n" + text.split("\n")[1] + "\n"
    else:
        bad = _sk_text(bytes(blob))
    with pytest.raises(MinisignError):
        SecretKey.parse(bad)


def test_secret_key_repr_hides_key_material(key: SecretKey) -> None:
    seed_hex = base64.b64decode(key.to_file_text().split("\n")[1])[62:94].hex()
    assert seed_hex not in repr(key).lower()
    assert key.key_id_hex in repr(key)


def test_signature_dataclass_is_frozen(signed: str) -> None:
    sig = parse_signature(signed)
    assert isinstance(sig, Signature)
    with pytest.raises(AttributeError):
        sig.trusted_comment = "x"  # type: ignore[misc]
