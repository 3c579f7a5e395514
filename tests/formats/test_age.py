"""age v1 (cluetool.formats.age): C2SP CCTV vectors, files from the age 1.1.1 CLI, round trips, units."""

from __future__ import annotations

import hashlib
import io
import os
import re
import zlib
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cluetool.formats.age import (
    CHUNK_SIZE,
    AgeError,
    ArmorError,
    DecryptReader,
    EncryptWriter,
    HeaderError,
    Identity,
    KeyFormatError,
    MacError,
    NoIdentityMatchError,
    PayloadError,
    ScryptIdentity,
    ScryptRecipient,
    UnsupportedRecipientError,
    X25519Identity,
    X25519Recipient,
    decrypt,
    encrypt,
    parse_identities,
    parse_identity,
)
from tests.conftest import TESTVECTORS

CCTV_DIR = TESTVECTORS / "age"
CCTV_NAMES = sorted(p.name for p in CCTV_DIR.iterdir() if p.name != "README.md")
CLI_DIR_NAME = "age-cli-1.1.1"
TEST_WORK_FACTOR = 4  # test-only scrypt cost (age's own tests use testOnly work factors)

# CCTV "expect" classes -> the exception class that must be raised.
EXPECTED_ERROR: dict[str, type[AgeError]] = {
    "header failure": HeaderError,
    "HMAC failure": MacError,
    "no match": NoIdentityMatchError,
    "payload failure": PayloadError,
    "armor failure": ArmorError,
}


def _load_vector(path: Path) -> tuple[dict[str, list[str]], bytes]:
    data = path.read_bytes()
    head, sep, body = data.partition(b"\n\n")
    assert sep, f"{path.name}: no header separator"
    meta: dict[str, list[str]] = {}
    for line in head.decode("utf-8").split("\n"):
        key, _, value = line.partition(": ")
        meta.setdefault(key, []).append(value)
    if meta.get("compressed") == ["zlib"]:
        body = zlib.decompress(body)
    return meta, body


def _vector_path(testvectors: Path, name: str) -> Path:
    path = testvectors / "age" / name
    assert path.is_file(), f"CCTV age vector {name} missing from tests/vectors/age"
    return path


def _identities(meta: dict[str, list[str]]) -> list[Identity]:
    ids: list[Identity] = [parse_identity(s) for s in meta.get("identity", [])]
    ids += [ScryptIdentity(p.encode("utf-8")) for p in meta.get("passphrase", [])]
    # Some failure vectors name no key at all; the API needs one to get that far.
    return ids or [X25519Identity.generate()]


def _released(body: bytes, identities: list[Identity]) -> tuple[bytes, AgeError | None]:
    """All plaintext the reader releases, and the error that stopped it (if any)."""
    out = bytearray()
    try:
        with DecryptReader(io.BytesIO(body), identities) as reader:
            while chunk := reader.read(7000):
                out += chunk
    except AgeError as exc:
        return bytes(out), exc
    return bytes(out), None


def _is_hybrid(meta: dict[str, list[str]]) -> bool:
    return any(s.startswith("AGE-SECRET-KEY-PQ-") for s in meta.get("identity", []))


@pytest.mark.parametrize("name", CCTV_NAMES, ids=str)
def test_age_cctv_vector_gives_expected_outcome(testvectors: Path, name: str) -> None:
    meta, body = _load_vector(_vector_path(testvectors, name))
    expect = meta["expect"][0]
    released, error = _released(body, _identities(meta))
    if expect == "success":
        assert error is None, f"unexpected {type(error).__name__}: {error}"
        assert hashlib.sha256(released).hexdigest() == meta["payload"][0]
        return
    expected = EXPECTED_ERROR[expect]
    assert error is not None, "decryption succeeded but must fail"
    assert isinstance(error, expected), f"expected {expected.__name__}, got {type(error).__name__}: {error}"
    if expected is HeaderError:
        assert not isinstance(error, (MacError, UnsupportedRecipientError))
    if "payload" in meta:
        assert hashlib.sha256(released).hexdigest() == meta["payload"][0]
    else:
        assert released == b""


def test_age_cctv_vectors_cover_all_classes(testvectors: Path) -> None:
    expects = {_load_vector(testvectors / "age" / n)[0]["expect"][0] for n in CCTV_NAMES}
    assert expects == {"success", *EXPECTED_ERROR}
    assert len(CCTV_NAMES) == 143
    hybrid = [n for n in CCTV_NAMES if _is_hybrid(_load_vector(testvectors / "age" / n)[0])]
    assert len(hybrid) == 19


def test_age_hybrid_file_with_x25519_identity_is_no_match(testvectors: Path) -> None:
    _, body = _load_vector(_vector_path(testvectors, "hybrid"))
    with pytest.raises(NoIdentityMatchError):
        DecryptReader(io.BytesIO(body), [X25519Identity.generate()])


def test_age_hybrid_uppercase_type_is_grease_no_match(testvectors: Path) -> None:
    # The stanza type is case-sensitive: "MLKEM768X25519" is an unknown type.
    _, body = _load_vector(_vector_path(testvectors, "hybrid_uppercase"))
    with pytest.raises(NoIdentityMatchError):
        DecryptReader(io.BytesIO(body), [X25519Identity.generate()])


@pytest.mark.parametrize("armor", [None, True], ids=["auto", "forced"])
def test_age_armor_vector_with_forced_or_detected_armor_succeeds(testvectors: Path, armor: bool | None) -> None:
    meta, body = _load_vector(_vector_path(testvectors, "armor_x25519"))
    out = io.BytesIO()
    decrypt(io.BytesIO(body), out, _identities(meta), armor=armor)
    assert hashlib.sha256(out.getvalue()).hexdigest() == meta["payload"][0]


def test_age_armored_input_refused_when_binary_required(testvectors: Path) -> None:
    meta, body = _load_vector(_vector_path(testvectors, "armor_x25519"))
    with pytest.raises(HeaderError):
        decrypt(io.BytesIO(body), io.BytesIO(), _identities(meta), armor=False)


def test_age_binary_input_refused_when_armor_required(testvectors: Path) -> None:
    meta, body = _load_vector(_vector_path(testvectors, "x25519"))
    with pytest.raises(ArmorError):
        decrypt(io.BytesIO(body), io.BytesIO(), _identities(meta), armor=True)


# --- files written by the age 1.1.1 CLI -------------------------------------------


def _cli_dir(testvectors: Path) -> Path:
    path = testvectors / CLI_DIR_NAME
    assert path.is_dir(), f"{CLI_DIR_NAME} vectors missing from tests/vectors"
    return path


@pytest.mark.parametrize(
    ("name", "plaintext"),
    [("msg.txt.age", "msg.txt"), ("msg.txt.age.asc", "msg.txt"), ("empty.age", None), ("zeros65536.age", None)],
    ids=["msg.txt.age", "msg.txt.age.asc", "empty.age", "zeros65536.age"],
)
def test_age_cli_file_decrypts(testvectors: Path, name: str, plaintext: str | None) -> None:
    folder = _cli_dir(testvectors)
    identities = parse_identities((folder / "key.txt").read_text(encoding="ascii"))
    out = io.BytesIO()
    with (folder / name).open("rb") as f:
        n = decrypt(f, out, identities)
    assert n == len(out.getvalue())
    if plaintext is not None:
        assert out.getvalue() == (folder / plaintext).read_bytes()
    elif name == "empty.age":
        assert out.getvalue() == b""
    else:
        readme = (folder / "README.md").read_text(encoding="utf-8")
        documented = re.search(r"`zeros65536\.age`.*SHA-256 `([0-9a-f]{64})`", readme)
        assert documented is not None
        assert out.getvalue() == bytes(65536)
        assert hashlib.sha256(out.getvalue()).hexdigest() == documented.group(1)


def test_age_cli_key_file_gives_its_public_key(testvectors: Path) -> None:
    text = (_cli_dir(testvectors) / "key.txt").read_text(encoding="ascii")
    (identity,) = parse_identities(text)
    public = re.search(r"^# public key: (age1[0-9a-z]+)$", text, re.M)
    assert public is not None
    assert str(identity.recipient) == public.group(1)
    assert str(X25519Recipient.parse(public.group(1))) == public.group(1)
    assert str(identity) in text.splitlines()


def test_age_cli_zeros65536_is_one_full_final_chunk(testvectors: Path) -> None:
    data = (_cli_dir(testvectors) / "zeros65536.age").read_bytes()
    header_end = data.index(b"\n---") + 1
    header_end = data.index(b"\n", header_end) + 1
    assert len(data) - header_end == 16 + CHUNK_SIZE + 16


# --- round trips ---------------------------------------------------------------------


SIZES = [0, 1, 65535, 65536, 65537, 2 * 65536, (1 << 20) + 1]


def _roundtrip(plaintext: bytes, recipients: list, identities: list, *, armor: bool = False) -> bytes:
    enc = io.BytesIO()
    written = encrypt(io.BytesIO(plaintext), enc, recipients, armor=armor)
    assert written == len(enc.getvalue())
    out = io.BytesIO()
    n = decrypt(io.BytesIO(enc.getvalue()), out, identities)
    assert n == len(plaintext)
    assert out.getvalue() == plaintext
    return enc.getvalue()


def _payload_size(n: int) -> int:
    return 16 + n + 16 * max(1, -(-n // CHUNK_SIZE))


@pytest.mark.parametrize("size", SIZES, ids=str)
def test_age_roundtrip_binary_sizes_match(size: int) -> None:
    identity = X25519Identity.generate()
    plaintext = os.urandom(size)
    ciphertext = _roundtrip(plaintext, [identity.recipient], [identity])
    header_len = ciphertext.index(b"\n---") + 1
    header_len = ciphertext.index(b"\n", header_len) + 1
    # Spec "Payload": no empty final chunk after full ones; exact multiples end full.
    assert len(ciphertext) - header_len == _payload_size(size)


@pytest.mark.parametrize("size", [0, 1, 47, 48, 65535, 65536, 65537, (1 << 20) + 1], ids=str)
def test_age_roundtrip_armored_sizes_match(size: int) -> None:
    identity = X25519Identity.generate()
    plaintext = os.urandom(size)
    armored = _roundtrip(plaintext, [identity.recipient], [identity], armor=True)
    lines = armored.split(b"\n")
    assert lines[0] == b"-----BEGIN AGE ENCRYPTED FILE-----"
    assert lines[-2:] == [b"-----END AGE ENCRYPTED FILE-----", b""]
    body = lines[1:-2]
    assert all(len(line) == 64 for line in body[:-1])
    assert 1 <= len(body[-1]) <= 64


def test_age_roundtrip_multiple_recipients_each_decrypts() -> None:
    ids = [X25519Identity.generate() for _ in range(3)]
    plaintext = os.urandom(100_000)
    enc = io.BytesIO()
    encrypt(io.BytesIO(plaintext), enc, [i.recipient for i in ids])
    assert enc.getvalue().count(b"\n-> X25519 ") == 3
    for identity in ids:
        out = io.BytesIO()
        decrypt(io.BytesIO(enc.getvalue()), out, [X25519Identity.generate(), identity])
        assert out.getvalue() == plaintext
    with pytest.raises(NoIdentityMatchError):
        DecryptReader(io.BytesIO(enc.getvalue()), [X25519Identity.generate()])


def test_age_roundtrip_scrypt_low_work_factor_decrypts() -> None:
    plaintext = os.urandom(70_000)
    enc = io.BytesIO()
    encrypt(io.BytesIO(plaintext), enc, [ScryptRecipient(b"correct horse", work_factor=TEST_WORK_FACTOR)])
    assert re.search(rb"\n-> scrypt [A-Za-z0-9+/]{22} 4\n", enc.getvalue())
    out = io.BytesIO()
    decrypt(io.BytesIO(enc.getvalue()), out, [ScryptIdentity(b"correct horse", max_work_factor=TEST_WORK_FACTOR)])
    assert out.getvalue() == plaintext
    with pytest.raises(NoIdentityMatchError):
        DecryptReader(io.BytesIO(enc.getvalue()), [ScryptIdentity(b"wrong horse")])
    with pytest.raises(HeaderError, match="work factor"):
        DecryptReader(io.BytesIO(enc.getvalue()), [ScryptIdentity(b"correct horse", max_work_factor=3)])


def test_age_scrypt_recipient_with_others_raises_value_error() -> None:
    with pytest.raises(ValueError, match="only recipient"):
        EncryptWriter(io.BytesIO(), [ScryptRecipient(b"pw", TEST_WORK_FACTOR), X25519Identity.generate().recipient])


@pytest.mark.parametrize("work_factor", [0, 31])
def test_age_scrypt_work_factor_out_of_bounds_raises_value_error(work_factor: int) -> None:
    with pytest.raises(ValueError):
        ScryptRecipient(b"pw", work_factor)
    with pytest.raises(ValueError):
        ScryptIdentity(b"pw", work_factor)


def test_age_encrypt_no_recipients_raises_value_error() -> None:
    with pytest.raises(ValueError):
        EncryptWriter(io.BytesIO(), [])
    with pytest.raises(ValueError):
        DecryptReader(io.BytesIO(b""), [])


# --- writer behaviour ---------------------------------------------------------------


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.integers(min_value=0, max_value=70_000), max_size=6))
def test_age_writer_arbitrary_write_splits_roundtrip(pieces: list[int]) -> None:
    identity = X25519Identity.generate()
    plaintext = os.urandom(sum(pieces))
    enc = io.BytesIO()
    with EncryptWriter(enc, [identity.recipient]) as writer:
        pos = 0
        for size in pieces:
            assert writer.write(plaintext[pos : pos + size]) == size
            pos += size
    out = io.BytesIO()
    decrypt(io.BytesIO(enc.getvalue()), out, [identity])
    assert out.getvalue() == plaintext


def test_age_writer_exception_in_with_block_leaves_undecryptable_output() -> None:
    identity = X25519Identity.generate()
    enc = io.BytesIO()
    with pytest.raises(RuntimeError), EncryptWriter(enc, [identity.recipient]) as writer:
        writer.write(b"x" * 100_000)
        raise RuntimeError("producer failed")
    with pytest.raises(PayloadError, match="truncated"):
        decrypt(io.BytesIO(enc.getvalue()), io.BytesIO(), [identity])


def test_age_writer_write_after_close_raises_value_error() -> None:
    writer = EncryptWriter(io.BytesIO(), [X25519Identity.generate().recipient])
    writer.close()
    writer.close()
    with pytest.raises(ValueError):
        writer.write(b"late")


def test_age_header_layout_matches_spec() -> None:
    identity = X25519Identity.generate()
    enc = io.BytesIO()
    encrypt(io.BytesIO(b"hi"), enc, [identity.recipient])
    text = enc.getvalue()
    header = text[: text.index(b"\n", text.index(b"\n---") + 1) + 1]
    assert re.fullmatch(
        rb"age-encryption\.org/v1\n-> X25519 [A-Za-z0-9+/]{43}\n[A-Za-z0-9+/]{43}\n--- [A-Za-z0-9+/]{43}\n",
        header,
    )
    assert len(text) == len(header) + 16 + 2 + 16


# --- reader behaviour -----------------------------------------------------------------


def _encrypted(size: int) -> tuple[X25519Identity, bytes, bytes, int]:
    identity = X25519Identity.generate()
    plaintext = os.urandom(size)
    enc = io.BytesIO()
    encrypt(io.BytesIO(plaintext), enc, [identity.recipient])
    data = enc.getvalue()
    payload_start = data.index(b"\n", data.index(b"\n---") + 1) + 1 + 16
    return identity, plaintext, data, payload_start


@pytest.mark.parametrize("cut", [1, 16, 17, 65552], ids=str)
def test_age_reader_truncated_payload_raises_payload_error(cut: int) -> None:
    identity, _, data, _ = _encrypted(3 * 65536)
    with pytest.raises(PayloadError):
        decrypt(io.BytesIO(data[:-cut]), io.BytesIO(), [identity])


@pytest.mark.parametrize(
    ("size", "message", "released"),
    # After a short final chunk the extra byte makes that chunk fail to open; after
    # a full-size final chunk it is "trailing data" (the reference reader's order).
    [(10, "authentication", 0), (65536, "trailing data", 65536), (70000, "authentication", 65536)],
    ids=["short-final", "full-final", "two-chunks"],
)
def test_age_reader_trailing_data_raises_before_clean_end(size: int, message: str, released: int) -> None:
    identity, plaintext, data, _ = _encrypted(size)
    reader = DecryptReader(io.BytesIO(data + b"\x00"), [identity])
    got = bytearray()
    with pytest.raises(PayloadError, match=message):
        while True:
            chunk = reader.read(65536)
            assert chunk, "clean end reported despite trailing data"
            got += chunk
    assert bytes(got) == plaintext[:released]


def test_age_reader_flipped_payload_bit_raises_payload_error() -> None:
    identity, _, data, start = _encrypted(200_000)
    bad = bytearray(data)
    bad[start + 65552 + 5] ^= 1
    reader = DecryptReader(io.BytesIO(bytes(bad)), [identity])
    first = reader.read(65536)
    assert len(first) == 65536
    with pytest.raises(PayloadError, match="authentication"):
        reader.read(65536)
    with pytest.raises(PayloadError):
        reader.read(1)


def test_age_reader_tampered_header_raises_mac_error() -> None:
    identity, _, data, _ = _encrypted(10)
    other = X25519Identity.generate()
    # Append a grease stanza: the file key still unwraps but the MAC must fail.
    cut = data.index(b"\n---") + 1
    bad = data[:cut] + b"-> grease\n\n" + data[cut:]
    with pytest.raises(MacError):
        DecryptReader(io.BytesIO(bad), [other, identity])


def test_age_reader_readinto_and_small_reads_return_plaintext() -> None:
    identity, plaintext, data, _ = _encrypted(150_000)
    reader = DecryptReader(io.BytesIO(data), [identity])
    buf = bytearray(10_000)
    got = bytearray()
    while n := reader.readinto(buf):
        got += buf[:n]
    assert bytes(got) == plaintext
    assert reader.read() == b""
    reader = DecryptReader(io.BytesIO(data), [identity])
    assert reader.read(3) == plaintext[:3]
    assert reader.read() == plaintext[3:]


def test_age_reader_crlf_and_mixed_armor_lines_decrypt() -> None:
    identity = X25519Identity.generate()
    plaintext = os.urandom(200_000)
    enc = io.BytesIO()
    encrypt(io.BytesIO(plaintext), enc, [identity.recipient], armor=True)
    lines = enc.getvalue().split(b"\n")
    for armored in (b"\r\n".join(lines), b"".join(l + (b"\r\n" if i % 3 else b"\n") for i, l in enumerate(lines[:-1]))):
        out = io.BytesIO()
        decrypt(io.BytesIO(armored), out, [identity])
        assert out.getvalue() == plaintext


def test_age_reader_armor_with_bad_middle_line_raises_armor_error() -> None:
    identity = X25519Identity.generate()
    enc = io.BytesIO()
    encrypt(io.BytesIO(os.urandom(200_000)), enc, [identity.recipient], armor=True)
    lines = enc.getvalue().split(b"\n")
    lines[2000] = lines[2000][:-1] + b"!"
    with pytest.raises(ArmorError):
        decrypt(io.BytesIO(b"\n".join(lines)), io.BytesIO(), [identity])


def test_age_reader_non_age_input_raises_age_error() -> None:
    identity = X25519Identity.generate()
    for junk in (b"", b"age-enc", b"\x89PNG\r\n\x1a\n", b"hello world\n" * 10):
        with pytest.raises(AgeError):
            DecryptReader(io.BytesIO(junk), [identity])


def test_age_reader_oversized_header_raises_header_error() -> None:
    junk = b"age-encryption.org/v1\n-> " + b"a" * (2 << 20)
    with pytest.raises(HeaderError, match="too large"):
        DecryptReader(io.BytesIO(junk), [X25519Identity.generate()])


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_age_reader_mutated_file_raises_only_age_errors(data: st.DataObject) -> None:
    identity, plaintext, original, _ = _mutation_base()
    blob = bytearray(original)
    for _ in range(data.draw(st.integers(1, 4))):
        op = data.draw(st.sampled_from(["flip", "cut", "insert"]))
        pos = data.draw(st.integers(0, max(0, len(blob) - 1)))
        if op == "flip" and blob:
            blob[pos] ^= data.draw(st.integers(1, 255))
        elif op == "cut":
            del blob[pos : pos + data.draw(st.integers(1, 40))]
        else:
            blob[pos:pos] = data.draw(st.binary(min_size=1, max_size=8))
    try:
        out = io.BytesIO()
        decrypt(io.BytesIO(bytes(blob)), out, [identity])
    except AgeError:
        return
    assert out.getvalue() == plaintext  # only a no-op mutation can succeed


_BASE: list[tuple[X25519Identity, bytes, bytes, int]] = []


def _mutation_base() -> tuple[X25519Identity, bytes, bytes, int]:
    if not _BASE:
        _BASE.append(_encrypted(300))
    return _BASE[0]


# --- keys ------------------------------------------------------------------------------


def test_age_identity_string_roundtrip_and_repr_hides_secret() -> None:
    identity = X25519Identity.generate()
    s = str(identity)
    assert re.fullmatch(r"AGE-SECRET-KEY-1[02-9AC-HJ-NP-Z]{58}", s)
    again = X25519Identity.parse(s)
    assert again.recipient == identity.recipient
    assert s not in repr(identity)
    r = str(identity.recipient)
    assert re.fullmatch(r"age1[02-9ac-hj-np-z]{58}", r)
    assert X25519Recipient.parse(r) == identity.recipient


def test_age_recipient_bad_inputs_raise_key_format_error() -> None:
    r = str(X25519Identity.generate().recipient)
    flipped = r[:-1] + ("q" if r[-1] != "q" else "p")
    for bad in (flipped, r.upper(), r[:10] + r[10:].upper(), r[:-1], "age1", "", "age1" + "b" * 58, r + "é"):
        with pytest.raises(KeyFormatError):
            X25519Recipient.parse(bad)
    i = str(X25519Identity.generate())
    for bad in (i.lower(), i[:-1] + ("Q" if i[-1] != "Q" else "P"), r):
        with pytest.raises(KeyFormatError):
            X25519Identity.parse(bad)


def test_age_pq_keys_refused_by_the_x25519_parsers_with_their_name() -> None:
    with pytest.raises(KeyFormatError, match="hybrid"):
        X25519Recipient.parse("age1pq1" + "q" * 100)
    with pytest.raises(KeyFormatError, match="hybrid"):
        X25519Identity.parse("AGE-SECRET-KEY-PQ-1" + "Q" * 60)


def test_age_parse_identities_skips_comments_blank_and_crlf() -> None:
    a, b = X25519Identity.generate(), X25519Identity.generate()
    text = f"# created: now\r\n# public key: {a.recipient}\r\n{a}\r\n\n{b}\n"
    got = parse_identities(text)
    assert [str(x) for x in got] == [str(a), str(b)]


def test_age_parse_identities_bad_line_names_line_without_secret() -> None:
    a = X25519Identity.generate()
    secret = str(a)
    bad = secret[:-1] + ("Q" if secret[-1] != "Q" else "P")
    with pytest.raises(KeyFormatError, match="line 3") as info:
        parse_identities(f"# c\n{secret}\n{bad}\n")
    assert secret[20:40] not in str(info.value)
    with pytest.raises(KeyFormatError, match="no identities"):
        parse_identities("# only a comment\n\n")
    with pytest.raises(KeyFormatError):
        parse_identities(f"  {secret}\n")


class _ReadOnly:
    """A source with read() but no readinto(), returning short reads."""

    def __init__(self, data: bytes) -> None:
        self._data = io.BytesIO(data)

    def read(self, n: int = -1) -> bytes:
        return self._data.read(min(n, 1000) if n >= 0 else n)


def test_age_read_only_sources_with_short_reads_roundtrip() -> None:
    identity = X25519Identity.generate()
    plaintext = os.urandom(150_000)
    for armor in (False, True):
        enc = io.BytesIO()
        encrypt(_ReadOnly(plaintext), enc, [identity.recipient], armor=armor)  # type: ignore[arg-type]
        out = io.BytesIO()
        decrypt(_ReadOnly(enc.getvalue()), out, [identity])  # type: ignore[arg-type]
        assert out.getvalue() == plaintext
