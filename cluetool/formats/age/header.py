"""The age v1 header (C2SP age "Header", "Header MAC"): stanzas, the strict header
grammar, the MAC, and the structural checks of the X25519 and scrypt stanzas."""

from __future__ import annotations

import binascii
import re
from collections.abc import Sequence
from typing import Final

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.hmac import HMAC
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from .errors import HeaderError
from .source import _Input

VERSION_LINE: Final = b"age-encryption.org/v1\n"
_VERSION_PREFIX: Final = b"age-encryption.org/"
_TAG_SIZE: Final = 16
_FILE_KEY_SIZE: Final = 16
_ZERO_NONCE: Final = bytes(12)
# The spec sets no header size limit; a bound keeps hostile input from using
# unbounded memory. 1 MiB holds thousands of X25519 stanzas.
MAX_HEADER_SIZE: Final = 1 << 20
_COLUMNS: Final = 64  # header body lines and armor lines
_B64_ALPHABET: Final = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
_VCHAR: Final = bytes(range(0x21, 0x7F))
_WORK_FACTOR_RE: Final = re.compile(rb"[1-9][0-9]*")


def _b64_encode(data: bytes) -> bytes:
    """Unpadded standard base64, as the header uses (spec "Conventions")."""
    return binascii.b2a_base64(data, newline=False).rstrip(b"=")


def _b64_decode(s: bytes, what: str) -> bytes:
    """Decode canonical unpadded base64; anything else is a header failure."""
    # The spec requires decoders to reject padding, non-alphabet characters and
    # non-canonical encodings (non-zero unused bits), RFC 4648 section 3.5.
    if len(s) % 4 == 1 or s.translate(None, _B64_ALPHABET):
        raise HeaderError(f"invalid base64 in {what}")
    try:
        raw = binascii.a2b_base64(s + b"=" * (-len(s) % 4), strict_mode=True)
    except binascii.Error:
        raise HeaderError(f"invalid base64 in {what}") from None
    if _b64_encode(raw) != s:
        raise HeaderError(f"non-canonical base64 in {what}")
    return raw


def _hkdf(ikm: bytes, salt: bytes, info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=salt, info=info).derive(ikm)


class _Stanza:
    """One recipient stanza: its arguments (the first is the type) and body."""

    __slots__ = ("args", "body")

    def __init__(self, args: tuple[bytes, ...], body: bytes) -> None:
        self.args = args
        self.body = body

    @property
    def type(self) -> bytes:
        return self.args[0]

    def encode(self) -> bytes:
        # Spec "Header": arguments on the "-> " line, then the body as unpadded
        # base64 in 64-column lines, ended by a line shorter than 64 (maybe empty).
        b64 = _b64_encode(self.body)
        lines = [b64[i : i + _COLUMNS] for i in range(0, len(b64), _COLUMNS)]
        if len(b64) % _COLUMNS == 0:
            lines.append(b"")
        return b"-> " + b" ".join(self.args) + b"\n" + b"".join(line + b"\n" for line in lines)


class _Header:
    __slots__ = ("mac", "mac_input", "stanzas")

    def __init__(self, stanzas: list[_Stanza], mac: bytes, mac_input: bytes) -> None:
        self.stanzas = stanzas
        self.mac = mac
        self.mac_input = mac_input


def _header_mac(file_key: bytes, header_through_dashes: bytes) -> HMAC:
    # Spec "Header MAC": HMAC-SHA-256 keyed with HKDF(file key, "", "header") over
    # the header up to and including "---".
    h = HMAC(_hkdf(file_key, b"", b"header"), hashes.SHA256())
    h.update(header_through_dashes)
    return h


def _encode_header(stanzas: Sequence[_Stanza], file_key: bytes) -> bytes:
    head = VERSION_LINE + b"".join(s.encode() for s in stanzas) + b"---"
    mac = _header_mac(file_key, head).finalize()
    return head + b" " + _b64_encode(mac) + b"\n"


def _read_header(inp: _Input) -> _Header:
    """Parse the header exactly per the spec's ABNF; raise HeaderError otherwise."""
    raw = bytearray()

    def line() -> bytes:
        data = inp.read_line(MAX_HEADER_SIZE - len(raw))
        raw.extend(data)
        return data

    first = line()
    if first != VERSION_LINE:
        if first.startswith(_VERSION_PREFIX):
            raise HeaderError("unsupported age format version")
        raise HeaderError("invalid age header version line")
    stanzas: list[_Stanza] = []
    current = line()
    while True:
        if current.startswith(b"-> "):
            # arg-line = "-> " argument *(SP argument) LF; argument = 1*VCHAR.
            args = tuple(current[3:-1].split(b" "))
            for arg in args:
                if not arg or arg.translate(None, _VCHAR):
                    raise HeaderError("invalid stanza argument")
            parts: list[bytes] = []
            while True:
                body_line = line()[:-1]
                if len(body_line) > _COLUMNS:
                    raise HeaderError("stanza body line longer than 64 columns")
                parts.append(body_line)
                if len(body_line) < _COLUMNS:
                    break
            stanzas.append(_Stanza(args, _b64_decode(b"".join(parts), "stanza body")))
            current = line()
        elif current.startswith(b"---"):
            if not stanzas:
                raise HeaderError("header has no recipient stanzas")
            # end = "--- " 43base64char LF
            if len(current) != 48 or current[3:4] != b" ":
                raise HeaderError("malformed header MAC line")
            mac = _b64_decode(current[4:-1], "header MAC")
            return _Header(stanzas, mac, bytes(raw[: len(raw) - len(current) + 3]))
        else:
            raise HeaderError("malformed header line")


def _validate_stanzas(stanzas: Sequence[_Stanza]) -> None:
    """Structural rules of the recipient types implemented here, for every stanza."""
    for stanza in stanzas:
        if stanza.type == b"X25519":
            if len(stanza.args) != 2:
                raise HeaderError("X25519 stanza must have exactly one argument")
            if len(_b64_decode(stanza.args[1], "X25519 share")) != 32:
                raise HeaderError("X25519 share must be 32 bytes")
            # Checked before any decryption attempt (partitioning-oracle defence).
            if len(stanza.body) != _FILE_KEY_SIZE + _TAG_SIZE:
                raise HeaderError("X25519 stanza body must be 32 bytes")
        elif stanza.type == b"scrypt":
            # Spec: an scrypt stanza must be the only stanza, so that a passphrase
            # file cannot also be opened by (or be an oracle for) other recipients.
            if len(stanzas) != 1:
                raise HeaderError("an scrypt stanza must be the only stanza in the header")
            if len(stanza.args) != 3:
                raise HeaderError("scrypt stanza must have exactly two arguments")
            if len(_b64_decode(stanza.args[1], "scrypt salt")) != 16:
                raise HeaderError("scrypt salt must be 16 bytes")
            work_factor = stanza.args[2]
            if not _WORK_FACTOR_RE.fullmatch(work_factor):
                raise HeaderError("invalid scrypt work factor")
            if len(work_factor) > 2:
                raise HeaderError("scrypt work factor too large")
            if len(stanza.body) != _FILE_KEY_SIZE + _TAG_SIZE:
                raise HeaderError("scrypt stanza body must be 32 bytes")
