"""C2SP signed-note v1.0.0 and tlog-checkpoint v1.0.0: the spec's example note, round
trips, tampering, unknown keys, malformed notes and strict checkpoint parsing."""

from __future__ import annotations

import base64

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from cluetool.formats.note import (
    MAX_SIGNATURES,
    Checkpoint,
    InvalidNoteSignature,
    MalformedCheckpoint,
    MalformedNote,
    NoteError,
    NoteSigner,
    NoteVerifier,
    format_checkpoint,
    key_id,
    open_note,
    parse_checkpoint,
    sign_note,
)

# signed-note spec example (formats.md §3.5).
SPEC_VKEY = "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k"
SPEC_NOTE = (
    "This is an example message.\n"
    "\n"
    "\u2014 example.com/foo Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6TfXppzi2ONncAlTgK7Ztg1ERYN"
    "ZXsYjOBH3mFXmRKuwHjG1Yu72IneyaQM=\n"
)
# Checkpoint made in the reference experiment over the 8-leaf transparency-dev tree
# (formats.md §3.6); its root is the size-8 known answer of §3.4.
CP_VKEY = "cluetool.example/audit-log+008ab101+AVSKc5td45yxgsySVTvkymHzrbaBptFfbwRrxMyAMAAG"
CP_TEXT = "cluetool.example/audit-log\n8\nXcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=\n"
CP_NOTE = (
    CP_TEXT
    + "\n\u2014 cluetool.example/audit-log AIqxATzoJkt0gLUirlPWv5BSVAYmKacXi9NzdsArgvqKIfA"
    "S7VpsiU3lJUx0M8vNn9kUb3AR5LQ8nSTe/2ZxFCK5XgI=\n"
)
KAT_ROOT_8 = bytes.fromhex("5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328")

SEED_A = bytes(range(32))
SEED_B = bytes(range(32, 64))


@pytest.fixture()
def signer_a() -> NoteSigner:
    return NoteSigner.from_seed("example.com/a", SEED_A)


@pytest.fixture()
def signer_b() -> NoteSigner:
    return NoteSigner.from_seed("example.com/b", SEED_B)


def _sig_line(note: str, number: int = 0) -> tuple[str, bytes]:
    line = note.rsplit("\n\n", 1)[1].splitlines()[number]
    name, b64 = line[2:].split(" ")
    return name, base64.b64decode(b64)


def _line(name: str, blob: bytes) -> str:
    return f"\u2014 {name} {base64.b64encode(blob).decode()}\n"


def test_note_spec_example_verifies_with_spec_vkey() -> None:
    verifier = NoteVerifier.from_vkey(SPEC_VKEY)
    assert verifier.name == "example.com/foo" and verifier.key_id == 0x530D903A
    opened = open_note(SPEC_NOTE.encode("utf-8"), [verifier])
    assert opened == ("This is an example message.\n", ["example.com/foo"])
    assert open_note(SPEC_NOTE, [verifier]).text == opened.text


def test_note_reference_checkpoint_verifies_and_parses() -> None:
    text, signers = open_note(CP_NOTE, [NoteVerifier.from_vkey(CP_VKEY)])
    assert signers == ["cluetool.example/audit-log"]
    assert parse_checkpoint(text) == Checkpoint("cluetool.example/audit-log", 8, KAT_ROOT_8)
    assert format_checkpoint("cluetool.example/audit-log", 8, KAT_ROOT_8) == CP_TEXT


def test_note_vkey_round_trip_and_key_id() -> None:
    verifier = NoteVerifier.from_vkey(SPEC_VKEY)
    assert verifier.vkey == SPEC_VKEY
    assert key_id(verifier.name, 0x01, verifier.public_bytes) == verifier.key_id
    again = NoteVerifier.from_public_bytes("example.com/foo", verifier.public_bytes)
    assert again.vkey == SPEC_VKEY


def test_note_verifier_from_raw_public_key_opens_signer_note() -> None:
    # The home's minisign key is a raw Ed25519 pair: seed for signing, 32-byte public key.
    private = Ed25519PrivateKey.from_private_bytes(SEED_A)
    raw_public = private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    signer = NoteSigner("cluetool.example/home", private)
    verifier = NoteVerifier.from_public_bytes("cluetool.example/home", raw_public)
    assert verifier.vkey == signer.verifier.vkey
    note = sign_note("hello\n", [signer])
    assert open_note(note, [verifier]).signers == ["cluetool.example/home"]


@pytest.mark.parametrize(
    "vkey",
    [
        "example.com/foo+530d903a",
        "example.com/foo",
        "+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k",
        "example.com/foo+530D903A+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k",
        "example.com/foo+530d903b+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k",
        "example.com/foo+530d903+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k",
        "example.com/bar+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k",
        "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2",
        "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2l",
        "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k=",
        "example.com/foo+530d903a+AukyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k",
        "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv",
        "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k ",
        "example com+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k",
    ],
    ids=["no-key", "name-only", "empty-name", "uppercase-id", "wrong-id", "short-id",
         "other-name", "bad-base64-length", "non-canonical-base64", "extra-padding",
         "wrong-type-byte", "short-key", "trailing-space", "space-in-name"],
)
def test_note_vkey_malformed_raises_malformed_note(vkey: str) -> None:
    with pytest.raises(MalformedNote):
        NoteVerifier.from_vkey(vkey)


def test_note_sign_open_round_trip_two_signers(
    signer_a: NoteSigner, signer_b: NoteSigner
) -> None:
    text = "first line\n\nafter a blank line \u4e2d\u6587\n\n"
    note = sign_note(text, [signer_a, signer_b])
    assert note.startswith(text + "\n\u2014 example.com/a ")
    assert "\n\u2014 example.com/b " in note
    assert note.encode("utf-8").count(b"\xe2\x80\x94 ") == 2
    both = open_note(note, [signer_a.verifier, signer_b.verifier])
    assert both == (text, ["example.com/a", "example.com/b"])
    assert open_note(note, [signer_b.verifier]) == (text, ["example.com/b"])
    name, blob = _sig_line(note)
    assert name == "example.com/a" and len(blob) == 68
    assert int.from_bytes(blob[:4], "big") == signer_a.key_id


def test_note_signature_is_ed25519_over_text(signer_a: NoteSigner) -> None:
    note = sign_note("payload\n", [signer_a])
    _, blob = _sig_line(note)
    # pyca raises if the signature is not over exactly the text bytes.
    Ed25519PrivateKey.from_private_bytes(SEED_A).public_key().verify(blob[4:], b"payload\n")


def test_note_tampered_text_raises_invalid_signature(signer_a: NoteSigner) -> None:
    note = sign_note("size 5\n", [signer_a])
    with pytest.raises(InvalidNoteSignature):
        open_note(note.replace("size 5", "size 6"), [signer_a.verifier])


def test_note_tampered_signature_raises_invalid_signature(signer_a: NoteSigner) -> None:
    note = sign_note("hello\n", [signer_a])
    name, blob = _sig_line(note)
    bad = bytearray(blob)
    bad[10] ^= 0x01
    tampered = "hello\n\n" + _line(name, bytes(bad))
    with pytest.raises(InvalidNoteSignature):
        open_note(tampered, [signer_a.verifier])


def test_note_known_key_bad_signature_rejects_whole_note(
    signer_a: NoteSigner, signer_b: NoteSigner
) -> None:
    good = sign_note("hello\n", [signer_a])
    name, blob = _sig_line(sign_note("other\n", [signer_b]))
    with pytest.raises(InvalidNoteSignature):
        open_note(good + _line(name, blob), [signer_a.verifier, signer_b.verifier])


def test_note_known_key_wrong_signature_length_raises_invalid_signature(
    signer_a: NoteSigner,
) -> None:
    note = "hello\n\n" + _line(signer_a.name, signer_a.key_id.to_bytes(4, "big") + b"\x00" * 63)
    with pytest.raises(InvalidNoteSignature):
        open_note(note, [signer_a.verifier])


def test_note_only_unknown_keys_raises_invalid_signature(
    signer_a: NoteSigner, signer_b: NoteSigner
) -> None:
    note = sign_note("hello\n", [signer_a])
    with pytest.raises(InvalidNoteSignature):
        open_note(note, [signer_b.verifier])
    with pytest.raises(InvalidNoteSignature):
        open_note(note, [])


def test_note_unknown_signatures_are_ignored(signer_a: NoteSigner, signer_b: NoteSigner) -> None:
    note = sign_note("hello\n", [signer_b, signer_a])
    # A garbage signature from an unknown key must not matter either.
    note += _line("example.com/unknown", b"\x01\x02\x03\x04" + b"\x00" * 64)
    assert open_note(note, [signer_a.verifier]).signers == ["example.com/a"]


def test_note_same_name_other_key_id_is_unknown(signer_a: NoteSigner) -> None:
    # signed-note: ignore signatures sharing a name or a key ID (but not both).
    impostor = NoteSigner.from_seed("example.com/a", SEED_B)
    note = sign_note("hello\n", [impostor])
    with pytest.raises(InvalidNoteSignature):
        open_note(note, [signer_a.verifier])
    _, blob = _sig_line(sign_note("hello\n", [signer_a]))
    renamed = "hello\n\n" + _line("example.com/renamed", blob)
    with pytest.raises(InvalidNoteSignature):
        open_note(renamed, [signer_a.verifier])


def test_note_max_signatures_accepted(signer_a: NoteSigner) -> None:
    note = sign_note("hello\n", [signer_a])
    filler = "".join(
        _line(f"example.com/w{i}", i.to_bytes(4, "big") + b"\x00" * 64)
        for i in range(MAX_SIGNATURES - 1)
    )
    assert open_note(note + filler, [signer_a.verifier]).signers == ["example.com/a"]
    too_many = note + filler + _line("example.com/w", b"\xff" * 68)
    with pytest.raises(MalformedNote):
        open_note(too_many, [signer_a.verifier])


def _valid_sig_line() -> str:
    return SPEC_NOTE.split("\n\n", 1)[1]


SIG = _valid_sig_line()
SIG_BODY = SIG[2:-1]  # "<name> <base64>"


@pytest.mark.parametrize(
    "note",
    [
        "This is an example message.\n\n" + SIG[:-1],
        "This is an example message.\n" + SIG,
        "This is an example message.\n\n",
        "This is an example message.\n\n" + SIG + "\n",
        "This is an example message.\r\n\n" + SIG,
        "This is\tan example message.\n\n" + SIG,
        "This is an example message.\n\n- " + SIG_BODY + "\n",
        "This is an example message.\n\n\u2014" + SIG_BODY + "\n",
        "This is an example message.\n\n\u2014  " + SIG_BODY + "\n",
        "This is an example message.\n\n\u2014 example.com/foo\n",
        "This is an example message.\n\n\u2014 example.com/foo \n",
        "This is an example message.\n\n\u2014 example+com/foo " + SIG_BODY.split(" ")[1] + "\n",
        "This is an example message.\n\n" + SIG[:-2] + "\n",
        "This is an example message.\n\n" + SIG[:-1] + " extra\n",
        "This is an example message.\n\n\u2014 example.com/foo AAAAAA==\n",
        "This is an example message.\n\n\u2014 example.com/foo " + "A" * 90 + "B=\n",
        "This is an example message.\n\n" + SIG + "trailing junk\n",
    ],
    ids=["no-final-newline", "no-blank-line", "no-signatures", "blank-after-signatures",
         "carriage-return", "tab", "hyphen-not-em-dash", "no-space-after-dash",
         "double-space", "missing-signature", "empty-signature", "plus-in-name",
         "unpadded-base64", "extra-field", "signature-too-short", "non-canonical-base64",
         "junk-line"],
)
def test_note_malformed_raises_malformed_note(note: str) -> None:
    verifier = NoteVerifier.from_vkey(SPEC_VKEY)
    with pytest.raises(MalformedNote):
        open_note(note, [verifier])
    with pytest.raises(NoteError):
        open_note(note.encode("utf-8"), [verifier])


def test_note_invalid_utf8_raises_malformed_note() -> None:
    with pytest.raises(MalformedNote):
        open_note(b"caf\xe9\n\n" + SIG.encode("utf-8"), [NoteVerifier.from_vkey(SPEC_VKEY)])
    with pytest.raises(MalformedNote):
        open_note("caf\udce9\n\n" + SIG, [NoteVerifier.from_vkey(SPEC_VKEY)])


def test_note_sign_rejects_bad_text_and_signers(signer_a: NoteSigner) -> None:
    with pytest.raises(MalformedNote):
        sign_note("no newline", [signer_a])
    with pytest.raises(MalformedNote):
        sign_note("bell\x07\n", [signer_a])
    with pytest.raises(ValueError):
        sign_note("hello\n", [])
    with pytest.raises(ValueError):
        sign_note("hello\n", [signer_a, NoteSigner.from_seed("example.com/a", SEED_A)])


@pytest.mark.parametrize(
    "name", ["", "a b", "a+b", "a\u00a0b", "a\u3000b", "a\nb", "a\x01b"],
    ids=["empty", "space", "plus", "nbsp", "ideographic-space", "newline", "control"],
)
def test_note_invalid_key_name_raises_value_error(name: str) -> None:
    with pytest.raises(ValueError):
        NoteSigner.from_seed(name, SEED_A)
    with pytest.raises(ValueError):
        NoteVerifier.from_public_bytes(name, b"\x00" * 32)


def test_note_raw_key_wrong_length_raises_value_error() -> None:
    with pytest.raises(ValueError):
        NoteVerifier.from_public_bytes("example.com/a", b"\x00" * 31)
    with pytest.raises(ValueError):
        NoteSigner.from_seed("example.com/a", b"\x00" * 64)


def test_note_same_verifier_twice_is_not_ambiguous(signer_a: NoteSigner) -> None:
    note = sign_note("hello\n", [signer_a])
    same = NoteVerifier.from_public_bytes(signer_a.name, signer_a.verifier.public_bytes)
    assert open_note(note, [signer_a.verifier, same]).signers == ["example.com/a"]


# --- tlog-checkpoint

ROOT = bytes(range(32))
ROOT_B64 = base64.b64encode(ROOT).decode()


@pytest.mark.parametrize(
    ("origin", "size", "extensions"),
    [("example.com/log", 0, ()), ("example.com/log", 2**64 - 1, ()),
     ("any origin, even with spaces + plus", 12345, ("ext one", "ext two"))],
    ids=["empty-tree", "max-size", "extensions"],
)
def test_checkpoint_format_parse_round_trip(origin: str, size: int, extensions: tuple) -> None:
    text = format_checkpoint(origin, size, ROOT, extensions)
    assert text == "".join(f"{line}\n" for line in (origin, str(size), ROOT_B64, *extensions))
    assert parse_checkpoint(text) == Checkpoint(origin, size, ROOT, extensions)


def test_checkpoint_signed_round_trip(signer_a: NoteSigner) -> None:
    note = sign_note(format_checkpoint("example.com/a", 42, ROOT), [signer_a])
    text, signers = open_note(note, [signer_a.verifier])
    assert signers == ["example.com/a"]
    assert parse_checkpoint(text) == Checkpoint("example.com/a", 42, ROOT)


@pytest.mark.parametrize(
    "text",
    [
        f"example.com/log\n5\n{ROOT_B64}",
        f"example.com/log\n5\n",
        f"example.com/log\n{ROOT_B64}\n",
        f"\n5\n{ROOT_B64}\n",
        f"example.com/log\n05\n{ROOT_B64}\n",
        f"example.com/log\n00\n{ROOT_B64}\n",
        f"example.com/log\n+5\n{ROOT_B64}\n",
        f"example.com/log\n-1\n{ROOT_B64}\n",
        f"example.com/log\n 5\n{ROOT_B64}\n",
        f"example.com/log\n5 \n{ROOT_B64}\n",
        f"example.com/log\n0x5\n{ROOT_B64}\n",
        f"example.com/log\n1_000\n{ROOT_B64}\n",
        f"example.com/log\n\u0665\n{ROOT_B64}\n",
        f"example.com/log\n5.0\n{ROOT_B64}\n",
        f"example.com/log\n{2**64}\n{ROOT_B64}\n",
        f"example.com/log\n\n{ROOT_B64}\n",
        f"example.com/log\n5\n{ROOT_B64.rstrip('=')}\n",
        f"example.com/log\n5\n{ROOT.hex()}\n",
        f"example.com/log\n5\n{ROOT_B64[:-2]}B=\n",
        f"example.com/log\n5\n{base64.b64encode(ROOT[:31]).decode()}\n",
        f"example.com/log\n5\n{base64.b64encode(ROOT + b'x').decode()}\n",
        f"example.com/log\n5\n {ROOT_B64}\n",
        f"example.com/log\n5\n{base64.urlsafe_b64encode(bytes([0xFB, 0xFF]) * 16).decode()}\n",
        f"example.com/log\n5\n\n",
        f"example.com/log\n5\n{ROOT_B64}\n\n",
        f"example.com/log\n5\n{ROOT_B64}\next\n\n",
        f"example.com/log\r\n5\n{ROOT_B64}\n",
        f"example.com/\tlog\n5\n{ROOT_B64}\n",
    ],
    ids=["no-final-newline", "two-lines", "no-size", "empty-origin", "leading-zero",
         "double-zero", "plus-sign", "negative", "leading-space", "trailing-space", "hex",
         "underscore", "arabic-indic-digit", "decimal-point", "size-2**64", "empty-size",
         "unpadded-root", "hex-root", "non-canonical-root", "root-31-bytes",
         "root-33-bytes", "space-in-root", "url-safe-root", "empty-root",
         "empty-extension", "empty-last-extension", "carriage-return", "tab"],
)
def test_checkpoint_malformed_raises_malformed_checkpoint(text: str) -> None:
    with pytest.raises(MalformedCheckpoint):
        parse_checkpoint(text)


@pytest.mark.parametrize(
    ("origin", "size", "root", "extensions"),
    [("", 1, ROOT, ()), ("a\nb", 1, ROOT, ()), ("o", -1, ROOT, ()), ("o", 2**64, ROOT, ()),
     ("o", True, ROOT, ()), ("o", 1, ROOT[:31], ()), ("o", 1, ROOT.hex(), ()),
     ("o", 1, ROOT, ("",)), ("o", 1, ROOT, ("a\nb",))],
    ids=["empty-origin", "newline-origin", "negative-size", "size-2**64", "bool-size",
         "short-root", "str-root", "empty-extension", "newline-extension"],
)
def test_checkpoint_format_invalid_raises_malformed_checkpoint(
    origin: str, size: int, root: bytes, extensions: tuple
) -> None:
    with pytest.raises(MalformedCheckpoint):
        format_checkpoint(origin, size, root, extensions)
