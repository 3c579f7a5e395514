"""C2SP signed-note v1.0.0 (https://c2sp.org/signed-note, Ed25519 signature type 0x01
only) and C2SP tlog-checkpoint v1.0.0 (https://c2sp.org/tlog-checkpoint).

A signed note is a text ending in a newline, a blank line, then one or more lines
``— <key name> <base64(4-byte key ID || signature)>``. The verifier key string ("vkey")
``<name>+<8 hex digits of key ID>+<base64(0x01 || 32-byte Ed25519 public key)>`` is the
golang.org/x/mod/sumdb/note encoding. A checkpoint is a note whose text is the log
origin, the decimal tree size and the base64 RFC 6962 root hash, one per line, followed
by optional extension lines.

Use cluetool.seal/verify (and the audit module) unless you are implementing the format.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Iterable, Sequence
from typing import NamedTuple

import msgspec
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

__all__ = [
    "Checkpoint",
    "InvalidNoteSignature",
    "MalformedCheckpoint",
    "MalformedNote",
    "MAX_SIGNATURES",
    "NoteError",
    "NoteSigner",
    "NoteVerifier",
    "OpenedNote",
    "format_checkpoint",
    "key_id",
    "open_note",
    "parse_checkpoint",
    "sign_note",
]

# signed-note §Signature types: 0x01 is Ed25519.
SIG_TYPE_ED25519 = 0x01
_ED25519_KEY_SIZE = 32
_ED25519_SIG_SIZE = 64
# signed-note §Format: verifiers MUST accept at least 16 signatures and SHOULD cap them;
# 100 is the golang.org/x/mod/sumdb/note limit.
MAX_SIGNATURES = 100
# An upper bound on a note's size, so that parsing does no unbounded work.
MAX_NOTE_BYTES = 1 << 20

_EM_DASH_PREFIX = "\u2014 "
_CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f]")
_KEY_ID_HEX = re.compile(r"[0-9a-f]{8}")
_TREE_SIZE = re.compile(r"0|[1-9][0-9]{0,19}")
_MAX_TREE_SIZE = 2**64 - 1
_ROOT_SIZE = 32


class NoteError(Exception):
    """Base of every signed-note and checkpoint error."""


class MalformedNote(NoteError):
    """A note, signature line or verifier key is not well-formed."""


class MalformedCheckpoint(MalformedNote):
    """A checkpoint's note text is not a well-formed tlog-checkpoint body."""


class InvalidNoteSignature(NoteError):
    """No known key verifies the note, or a known key's signature fails to verify."""


def _valid_name(name: object) -> bool:
    # signed-note §Format: non-empty, no Unicode spaces, no "+"; control characters
    # are excluded by the whole-note rule; the name must be encodable as UTF-8.
    if not isinstance(name, str) or not name or "+" in name:
        return False
    if any(c.isspace() for c in name) or _CONTROL.search(name):
        return False
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _check_name(name: object) -> str:
    if not _valid_name(name):
        raise ValueError("key name must be non-empty UTF-8 without spaces, '+' or controls")
    assert isinstance(name, str)
    return name


def _b64decode_canonical(text: str) -> bytes:
    # Python's decoder is lenient (pitfalls §5); accept only the one padded encoding.
    try:
        raw = base64.b64decode(text.encode("ascii"), validate=True)
    except (UnicodeEncodeError, binascii.Error, ValueError):
        raise ValueError("invalid base64") from None
    if base64.b64encode(raw).decode("ascii") != text:
        raise ValueError("non-canonical base64")
    return raw


def key_id(name: str, sig_type: int, public_key: bytes) -> int:
    """signed-note key ID: ``SHA-256(name || 0x0A || type || public key)[:4]`` as uint32."""
    digest = hashlib.sha256(
        name.encode("utf-8") + b"\n" + bytes([sig_type]) + bytes(public_key)
    ).digest()
    return int.from_bytes(digest[:4], "big")


class NoteVerifier:
    """An Ed25519 (type 0x01) note verifier: a key name and a public key."""

    __slots__ = ("_key", "_raw", "key_id", "name")

    def __init__(self, name: str, public_key: Ed25519PublicKey) -> None:
        """Raises: ValueError: the name is not a valid key name."""
        self.name = _check_name(name)
        if not isinstance(public_key, Ed25519PublicKey):
            raise TypeError("public_key must be an Ed25519PublicKey")
        self._key = public_key
        self._raw = public_key.public_bytes(Encoding.Raw, PublicFormat.Raw)
        self.key_id = key_id(self.name, SIG_TYPE_ED25519, self._raw)

    @classmethod
    def from_public_bytes(cls, name: str, public_key: bytes) -> NoteVerifier:
        """A verifier from a raw 32-byte Ed25519 public key (e.g. a minisign key's).

        Raises:
            ValueError: the name is invalid or the key is not 32 bytes.
        """
        if len(public_key) != _ED25519_KEY_SIZE:
            raise ValueError(f"Ed25519 public key must be {_ED25519_KEY_SIZE} bytes")
        return cls(name, Ed25519PublicKey.from_public_bytes(bytes(public_key)))

    @classmethod
    def from_vkey(cls, vkey: str) -> NoteVerifier:
        """Parse ``<name>+<hex key ID>+<base64(0x01 || public key)>``.

        Raises:
            MalformedNote: the string is not a valid Ed25519 verifier key, or its key ID
                does not match its name and key.
        """
        if not isinstance(vkey, str):
            raise MalformedNote("verifier key is not a string")
        # The name holds no "+", the base64 key may: split on the first two only.
        parts = vkey.split("+", 2)
        if len(parts) != 3:
            raise MalformedNote("verifier key is not <name>+<key id>+<key>")
        name, id_hex, key_b64 = parts
        if not _valid_name(name):
            raise MalformedNote("verifier key has an invalid key name")
        if not _KEY_ID_HEX.fullmatch(id_hex):
            raise MalformedNote("verifier key ID is not 8 lowercase hex digits")
        try:
            key = _b64decode_canonical(key_b64)
        except ValueError:
            raise MalformedNote("verifier key is not canonical base64") from None
        if not key or key[0] != SIG_TYPE_ED25519:
            raise MalformedNote("verifier key is not an Ed25519 (type 0x01) key")
        if len(key) != 1 + _ED25519_KEY_SIZE:
            raise MalformedNote("verifier key has the wrong Ed25519 key length")
        verifier = cls.from_public_bytes(name, key[1:])
        if verifier.key_id != int(id_hex, 16):
            raise MalformedNote("verifier key ID does not match its name and key")
        return verifier

    @property
    def public_bytes(self) -> bytes:
        """The raw 32-byte Ed25519 public key."""
        return self._raw

    @property
    def vkey(self) -> str:
        """The verifier key string ``<name>+<key id hex>+<base64(0x01 || key)>``."""
        blob = base64.b64encode(bytes([SIG_TYPE_ED25519]) + self._raw).decode("ascii")
        return f"{self.name}+{self.key_id:08x}+{blob}"

    def verify(self, message: bytes, signature: bytes) -> None:
        """Check an Ed25519 signature (without the key ID) over ``message``.

        Raises:
            InvalidNoteSignature: the signature does not verify.
        """
        if len(signature) != _ED25519_SIG_SIZE:
            raise InvalidNoteSignature(f"bad signature length for key {self._label()}")
        try:
            self._key.verify(bytes(signature), bytes(message))
        except InvalidSignature:
            raise InvalidNoteSignature(f"invalid signature by key {self._label()}") from None

    def _label(self) -> str:
        return f"{self.name}+{self.key_id:08x}"

    def __repr__(self) -> str:
        return f"NoteVerifier({self.vkey!r})"


class NoteSigner:
    """An Ed25519 (type 0x01) note signer: a key name and a private key."""

    __slots__ = ("_key", "verifier")

    def __init__(self, name: str, private_key: Ed25519PrivateKey) -> None:
        """Raises: ValueError: the name is not a valid key name."""
        if not isinstance(private_key, Ed25519PrivateKey):
            raise TypeError("private_key must be an Ed25519PrivateKey")
        self._key = private_key
        self.verifier = NoteVerifier(name, private_key.public_key())

    @classmethod
    def from_seed(cls, name: str, seed: bytes) -> NoteSigner:
        """A signer from a raw 32-byte Ed25519 seed (the first half of a libsodium or
        minisign 64-byte secret key).

        Raises:
            ValueError: the name is invalid or the seed is not 32 bytes.
        """
        if len(seed) != _ED25519_KEY_SIZE:
            raise ValueError(f"Ed25519 seed must be {_ED25519_KEY_SIZE} bytes")
        return cls(name, Ed25519PrivateKey.from_private_bytes(bytes(seed)))

    @property
    def name(self) -> str:
        return self.verifier.name

    @property
    def key_id(self) -> int:
        return self.verifier.key_id

    def sign(self, message: bytes) -> bytes:
        """The 64-byte Ed25519 signature of ``message`` (without the key ID)."""
        return self._key.sign(bytes(message))

    def __repr__(self) -> str:
        return f"NoteSigner({self.verifier.vkey!r})"


class OpenedNote(NamedTuple):
    """A verified note: its text and the names of the known keys that signed it."""

    text: str
    signers: list[str]


def _check_text(text: object) -> str:
    if not isinstance(text, str):
        raise MalformedNote("note text is not a string")
    if not text.endswith("\n"):
        raise MalformedNote("note text does not end in a newline")
    if _CONTROL.search(text):
        raise MalformedNote("note text contains a control character")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise MalformedNote("note text is not valid UTF-8") from None
    return text


def sign_note(text: str, signers: Sequence[NoteSigner]) -> str:
    """Sign ``text`` (which must end in a newline) with each signer, in order.

    Raises:
        MalformedNote: the text is not a valid note text.
        ValueError: no signers, or two signers with the same name and key ID.
    """
    text = _check_text(text)
    if not signers:
        raise ValueError("a signed note needs at least one signer")
    if len(signers) > MAX_SIGNATURES:
        raise ValueError(f"a note may carry at most {MAX_SIGNATURES} signatures")
    message = text.encode("utf-8")
    seen: set[tuple[str, int]] = set()
    lines = []
    for signer in signers:
        ident = (signer.name, signer.key_id)
        if ident in seen:
            raise ValueError(f"duplicate signer {signer.name}+{signer.key_id:08x}")
        seen.add(ident)
        blob = signer.key_id.to_bytes(4, "big") + signer.sign(message)
        lines.append(f"{_EM_DASH_PREFIX}{signer.name} {base64.b64encode(blob).decode('ascii')}\n")
    # signed-note §Format: text, a blank line, then the signature lines.
    return text + "\n" + "".join(lines)


def _index_verifiers(verifiers: Iterable[NoteVerifier]) -> dict[tuple[str, int], NoteVerifier]:
    known: dict[tuple[str, int], NoteVerifier] = {}
    for v in verifiers:
        if not isinstance(v, NoteVerifier):
            raise TypeError("verifiers must be NoteVerifier instances")
        ident = (v.name, v.key_id)
        other = known.get(ident)
        if other is not None and other.public_bytes != v.public_bytes:
            # Two different keys with the same name and ID: which one is meant is
            # ambiguous (golang.org/x/mod/sumdb/note refuses this as well).
            raise ValueError(f"ambiguous verifiers for key {v.name}+{v.key_id:08x}")
        known[ident] = v
    return known


def open_note(note: bytes | str, verifiers: Iterable[NoteVerifier]) -> OpenedNote:
    """Parse a signed note and verify it with the known keys.

    Signatures by unknown keys (name and key ID not both matching a verifier) are
    ignored. Every signature by a known key is verified, and any failure rejects the
    whole note (signed-note §Signatures: SHOULD).

    Raises:
        MalformedNote: the note is not well-formed (encoding, control characters, missing
            blank line or final newline, bad signature line, more than 100 signatures).
        InvalidNoteSignature: a known key's signature fails, or no known key signed it.
    """
    if isinstance(note, (bytes, bytearray, memoryview)):
        if len(note) > MAX_NOTE_BYTES:
            raise MalformedNote("note is too large")
        try:
            note = bytes(note).decode("utf-8")
        except UnicodeDecodeError:
            raise MalformedNote("note is not valid UTF-8") from None
    elif not isinstance(note, str):
        raise TypeError("note must be bytes or str")
    known = _index_verifiers(verifiers)
    # signed-note §Format: valid UTF-8, no control characters other than newline.
    try:
        size = len(note.encode("utf-8"))
    except UnicodeEncodeError:
        raise MalformedNote("note is not valid UTF-8") from None
    if size > MAX_NOTE_BYTES:
        raise MalformedNote("note is too large")
    if _CONTROL.search(note):
        raise MalformedNote("note contains a control character")
    # The text ends at the last blank line; it keeps its final newline.
    split = note.rfind("\n\n")
    if split < 0:
        raise MalformedNote("note has no blank line before its signatures")
    text, block = note[: split + 1], note[split + 2 :]
    if not block or not block.endswith("\n"):
        raise MalformedNote("note signature block is empty or lacks a final newline")
    lines = block[:-1].split("\n")
    if len(lines) > MAX_SIGNATURES:
        raise MalformedNote(f"note has more than {MAX_SIGNATURES} signatures")
    message = text.encode("utf-8")
    verified: list[str] = []
    for number, line in enumerate(lines, 1):
        if not line.startswith(_EM_DASH_PREFIX):
            raise MalformedNote(f"signature line {number} does not start with an em dash")
        name, sep, b64 = line[len(_EM_DASH_PREFIX) :].partition(" ")
        if not sep or not _valid_name(name):
            raise MalformedNote(f"signature line {number} has an invalid key name")
        try:
            blob = _b64decode_canonical(b64)
        except ValueError:
            raise MalformedNote(f"signature line {number} is not canonical base64") from None
        if len(blob) < 5:
            raise MalformedNote(f"signature line {number} is too short")
        verifier = known.get((name, int.from_bytes(blob[:4], "big")))
        if verifier is None:
            # signed-note §Signatures: MUST ignore signatures from unknown keys.
            continue
        verifier.verify(message, blob[4:])
        if name not in verified:
            verified.append(name)
    if not verified:
        raise InvalidNoteSignature("note is not signed by any known key")
    return OpenedNote(text, verified)


class Checkpoint(msgspec.Struct, frozen=True):
    """A tlog-checkpoint v1.0.0 note body."""

    origin: str
    size: int
    root: bytes
    extensions: tuple[str, ...] = ()


def _check_line(line: object, what: str) -> str:
    if not isinstance(line, str) or not line:
        raise MalformedCheckpoint(f"checkpoint {what} is empty")
    if "\n" in line or _CONTROL.search(line):
        raise MalformedCheckpoint(f"checkpoint {what} contains a control character")
    try:
        line.encode("utf-8")
    except UnicodeEncodeError:
        raise MalformedCheckpoint(f"checkpoint {what} is not valid UTF-8") from None
    return line


def format_checkpoint(
    origin: str, size: int, root: bytes, extensions: Iterable[str] = ()
) -> str:
    """The checkpoint note text (tlog-checkpoint §Note text), ending in a newline.

    Raises:
        MalformedCheckpoint: an empty or multi-line origin or extension line, a negative
            or too-large size, or a root that is not 32 bytes.
    """
    origin = _check_line(origin, "origin")
    if not isinstance(size, int) or isinstance(size, bool) or not 0 <= size <= _MAX_TREE_SIZE:
        raise MalformedCheckpoint("checkpoint tree size must be an integer in [0, 2**64)")
    if not isinstance(root, (bytes, bytearray, memoryview)) or len(root) != _ROOT_SIZE:
        raise MalformedCheckpoint(f"checkpoint root hash must be {_ROOT_SIZE} bytes")
    lines = [origin, str(size), base64.b64encode(bytes(root)).decode("ascii")]
    lines += [_check_line(ext, "extension line") for ext in extensions]
    return "".join(line + "\n" for line in lines)


def parse_checkpoint(text: str) -> Checkpoint:
    """Parse checkpoint note text strictly (as returned by ``open_note``).

    Raises:
        MalformedCheckpoint: fewer than three lines, an empty line, no final newline, a
            size that is not canonical ASCII decimal below 2**64, or a root that is not
            canonical padded base64 of 32 bytes.
    """
    if not isinstance(text, str):
        raise MalformedCheckpoint("checkpoint text is not a string")
    if not text.endswith("\n"):
        raise MalformedCheckpoint("checkpoint text does not end in a newline")
    if _CONTROL.search(text):
        raise MalformedCheckpoint("checkpoint text contains a control character")
    lines = text[:-1].split("\n")
    if len(lines) < 3:
        raise MalformedCheckpoint("checkpoint text has fewer than three lines")
    origin, size_text, root_text, *extensions = lines
    _check_line(origin, "origin")
    # tlog-checkpoint §Note text: ASCII decimal with no leading zeroes.
    if not _TREE_SIZE.fullmatch(size_text) or int(size_text) > _MAX_TREE_SIZE:
        raise MalformedCheckpoint("checkpoint tree size is not a canonical decimal number")
    try:
        root = _b64decode_canonical(root_text)
    except ValueError:
        raise MalformedCheckpoint("checkpoint root hash is not canonical base64") from None
    if len(root) != _ROOT_SIZE:
        raise MalformedCheckpoint(f"checkpoint root hash is not {_ROOT_SIZE} bytes")
    for ext in extensions:
        # Extension lines, if any, MUST be non-empty.
        _check_line(ext, "extension line")
    return Checkpoint(origin, int(size_text), root, tuple(extensions))
