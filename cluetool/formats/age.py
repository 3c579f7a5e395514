"""age v1 file encryption: C2SP age (https://c2sp.org/age, tag ``age/v1.1.0``).

Implements the v1 header (X25519 and scrypt recipient stanzas, header MAC), the
STREAM payload (ChaCha20-Poly1305, 64 KiB chunks) and the ASCII armor, strictly:
every "MUST reject" of the spec and of the C2SP CCTV test vectors is enforced.
Files written here are readable by the age 1.1.1 CLI, and files it writes are
read here. Encryption and decryption stream with constant memory (one chunk).

Use ``cluetool.seal``/``cluetool.verify`` unless you are implementing the format.

Post-quantum (``mlkem768x25519``) and hardware-tag recipient types are not
implemented: they raise :class:`UnsupportedRecipientError` when they are the only
way into a file, and their key strings are refused.
"""

from __future__ import annotations

import binascii
import io
import os
import re
from collections.abc import Iterable, Sequence
from typing import BinaryIO, Final

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.hmac import HMAC
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

__all__ = [
    "AgeError",
    "ArmorError",
    "DecryptReader",
    "EncryptWriter",
    "HeaderError",
    "KeyFormatError",
    "MacError",
    "NoIdentityMatchError",
    "PayloadError",
    "ScryptIdentity",
    "ScryptRecipient",
    "UnsupportedRecipientError",
    "X25519Identity",
    "X25519Recipient",
    "decrypt",
    "encrypt",
    "parse_identities",
]

# --- constants (spec section names in comments) ---------------------------------

VERSION_LINE: Final = b"age-encryption.org/v1\n"
_VERSION_PREFIX: Final = b"age-encryption.org/"
CHUNK_SIZE: Final = 64 * 1024  # "Payload": plaintext chunks of 64 KiB
_TAG_SIZE: Final = 16
_ENC_CHUNK_SIZE: Final = CHUNK_SIZE + _TAG_SIZE
_FILE_KEY_SIZE: Final = 16
_NONCE_SIZE: Final = 16
_ZERO_NONCE: Final = bytes(12)
# The spec sets no header size limit; a bound keeps hostile input from using
# unbounded memory. 1 MiB holds thousands of X25519 stanzas.
MAX_HEADER_SIZE: Final = 1 << 20
_COLUMNS: Final = 64  # header body lines and armor lines
_ARMOR_BEGIN: Final = b"-----BEGIN AGE ENCRYPTED FILE-----"
_ARMOR_END: Final = b"-----END AGE ENCRYPTED FILE-----"
_ARMOR_LINE_BYTES: Final = 48
_ARMOR_WHITESPACE: Final = b" \t\r\n"
# Same bound as the reference implementation (armor/armor.go) on whitespace
# around the PEM block.
_ARMOR_MAX_WHITESPACE: Final = 1024
_X25519_LABEL: Final = b"age-encryption.org/v1/X25519"
_SCRYPT_LABEL: Final = b"age-encryption.org/v1/scrypt"
_SCRYPT_MAX_LOG_N: Final = 30
_X25519_IDENTITY_HRP: Final = "AGE-SECRET-KEY-"
_X25519_RECIPIENT_HRP: Final = "age"
# Recipient types defined by age but not implemented here (C2SP age "Recipient
# types", and the reference implementation's SSH types).
_UNSUPPORTED_TYPES: Final = frozenset(
    {"mlkem768x25519", "p256tag", "mlkem768p256tag", "ssh-ed25519", "ssh-rsa"}
)
_B64_ALPHABET: Final = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
_VCHAR: Final = bytes(range(0x21, 0x7F))
_WORK_FACTOR_RE: Final = re.compile(rb"[1-9][0-9]*")


# --- errors ------------------------------------------------------------------


class AgeError(Exception):
    """Base class of every age error."""


class HeaderError(AgeError):
    """The header is malformed or invalid (CCTV "header failure")."""


class MacError(HeaderError):
    """The header MAC does not verify (CCTV "HMAC failure")."""


class UnsupportedRecipientError(HeaderError):
    """The file (or key) uses a recipient type this implementation does not support."""


class NoIdentityMatchError(AgeError):
    """No identity could unwrap the file key (CCTV "no match")."""


class PayloadError(AgeError):
    """The STREAM payload failed: bad tag, truncation, trailing data, bad final chunk."""


class ArmorError(AgeError):
    """The ASCII armor is malformed (CCTV "armor failure")."""


class KeyFormatError(AgeError, ValueError):
    """A recipient, identity or identity file cannot be parsed."""


# --- encodings ----------------------------------------------------------------


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


_BECH32_CHARSET: Final = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
_BECH32_GEN: Final = (0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3)


def _bech32_polymod(values: Iterable[int]) -> int:
    chk = 1
    for v in values:
        top = chk >> 25
        chk = (chk & 0x1FFFFFF) << 5 ^ v
        for i in range(5):
            if (top >> i) & 1:
                chk ^= _BECH32_GEN[i]
    return chk


def _bech32_hrp_expand(hrp: str) -> list[int]:
    return [ord(c) >> 5 for c in hrp] + [0] + [ord(c) & 31 for c in hrp]


def _convert_bits(data: Iterable[int], frombits: int, tobits: int, pad: bool) -> list[int]:
    acc = 0
    bits = 0
    out: list[int] = []
    maxv = (1 << tobits) - 1
    max_acc = (1 << (frombits + tobits - 1)) - 1
    for value in data:
        acc = ((acc << frombits) | value) & max_acc
        bits += frombits
        while bits >= tobits:
            bits -= tobits
            out.append((acc >> bits) & maxv)
    if pad:
        if bits:
            out.append((acc << (tobits - bits)) & maxv)
    elif bits >= frombits:
        raise KeyFormatError("invalid Bech32 padding")
    elif (acc << (tobits - bits)) & maxv:
        raise KeyFormatError("non-zero Bech32 padding")
    return out


def _bech32_encode(hrp: str, data: bytes) -> str:
    """BIP173 Bech32 (not bech32m), without the 90-character limit (spec "Conventions")."""
    lower = hrp.lower()
    five = _convert_bits(data, 8, 5, pad=True)
    pm = _bech32_polymod(_bech32_hrp_expand(lower) + five + [0] * 6) ^ 1
    checksum = [(pm >> 5 * (5 - i)) & 31 for i in range(6)]
    s = lower + "1" + "".join(_BECH32_CHARSET[d] for d in five + checksum)
    return s.upper() if hrp.isupper() else s


def _bech32_decode(s: str) -> tuple[str, bytes]:
    """Return (hrp as written, data); the checksum is over the lowercase form."""
    if not s.isascii():
        raise KeyFormatError("invalid character in Bech32 string")
    if s.lower() != s and s.upper() != s:
        raise KeyFormatError("mixed case in Bech32 string")
    pos = s.rfind("1")
    if pos < 1 or pos + 7 > len(s):
        raise KeyFormatError("invalid Bech32 separator position")
    hrp = s[:pos]
    if any(not 33 <= ord(c) <= 126 for c in hrp):
        raise KeyFormatError("invalid character in Bech32 prefix")
    values: list[int] = []
    for c in s[pos + 1 :].lower():
        d = _BECH32_CHARSET.find(c)
        if d < 0:
            raise KeyFormatError("invalid character in Bech32 data")
        values.append(d)
    if _bech32_polymod(_bech32_hrp_expand(hrp.lower()) + values) != 1:
        raise KeyFormatError("invalid Bech32 checksum")
    return hrp, bytes(_convert_bits(values[:-6], 5, 8, pad=False))


def _hkdf(ikm: bytes, salt: bytes, info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=salt, info=info).derive(ikm)


# --- stanzas, recipients and identities ---------------------------------------


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


class X25519Recipient:
    """An X25519 recipient (public key), written ``age1...`` (spec "X25519 recipient type")."""

    __slots__ = ("_key", "_raw")

    def __init__(self, public_key: X25519PublicKey) -> None:
        self._key = public_key
        self._raw = public_key.public_bytes_raw()

    @classmethod
    def parse(cls, s: str) -> X25519Recipient:
        """Parse an ``age1...`` string.

        Raises:
            KeyFormatError: not a valid X25519 recipient (checksum, case, length).
            UnsupportedRecipientError: a post-quantum or tag recipient (``age1pq1``, ``age1tag1``).
        """
        for prefix, kind in (("age1pq1", "mlkem768x25519"), ("age1tagpq1", "mlkem768p256tag"),
                             ("age1tag1", "p256tag")):
            if s.startswith(prefix):
                raise UnsupportedRecipientError(f"unsupported recipient type: {kind}")
        hrp, data = _bech32_decode(s)
        if hrp != _X25519_RECIPIENT_HRP:
            raise KeyFormatError("not an age X25519 recipient (expected lowercase 'age1...')")
        if len(data) != 32:
            raise KeyFormatError("invalid X25519 recipient length")
        return cls(X25519PublicKey.from_public_bytes(data))

    def __str__(self) -> str:
        return _bech32_encode(_X25519_RECIPIENT_HRP, self._raw)

    def __repr__(self) -> str:
        return f"X25519Recipient({str(self)!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, X25519Recipient) and other._raw == self._raw

    def __hash__(self) -> int:
        return hash(self._raw)

    def _wrap(self, file_key: bytes) -> _Stanza:
        ephemeral = X25519PrivateKey.generate()
        share = ephemeral.public_key().public_bytes_raw()
        try:
            shared = ephemeral.exchange(self._key)
        except ValueError:
            # Only a low-order recipient point gives an all-zero shared secret.
            raise AgeError("invalid X25519 recipient: low-order point") from None
        wrap_key = _hkdf(shared, share + self._raw, _X25519_LABEL)
        body = ChaCha20Poly1305(wrap_key).encrypt(_ZERO_NONCE, file_key, None)
        return _Stanza((b"X25519", _b64_encode(share)), body)


class X25519Identity:
    """An X25519 identity (private key), written ``AGE-SECRET-KEY-1...``.

    ``str()`` returns the secret key string; ``repr()`` does not.
    """

    __slots__ = ("_key", "_recipient")

    def __init__(self, private_key: X25519PrivateKey) -> None:
        self._key = private_key
        self._recipient = X25519Recipient(private_key.public_key())

    @classmethod
    def generate(cls) -> X25519Identity:
        """A new random identity."""
        return cls(X25519PrivateKey.generate())

    @classmethod
    def parse(cls, s: str) -> X25519Identity:
        """Parse an ``AGE-SECRET-KEY-1...`` string.

        Raises:
            KeyFormatError: not a valid X25519 identity (checksum, case, length).
            UnsupportedRecipientError: a post-quantum or plugin identity.
        """
        if s.startswith("AGE-SECRET-KEY-PQ-1"):
            raise UnsupportedRecipientError("unsupported recipient type: mlkem768x25519")
        if s.startswith("AGE-PLUGIN-"):
            raise UnsupportedRecipientError("unsupported recipient type: plugin")
        hrp, data = _bech32_decode(s)
        if hrp != _X25519_IDENTITY_HRP:
            raise KeyFormatError("not an age X25519 identity (expected 'AGE-SECRET-KEY-1...')")
        if len(data) != 32:
            raise KeyFormatError("invalid X25519 identity length")
        return cls(X25519PrivateKey.from_private_bytes(data))

    @property
    def recipient(self) -> X25519Recipient:
        """The matching recipient (public key)."""
        return self._recipient

    def __str__(self) -> str:
        return _bech32_encode(_X25519_IDENTITY_HRP, self._key.private_bytes_raw())

    def __repr__(self) -> str:
        return f"X25519Identity(recipient={str(self._recipient)!r})"

    def _unwrap(self, stanzas: Sequence[_Stanza]) -> bytes | None:
        # Spec "X25519 recipient type": stanzas of other types are ignored; the
        # structure of X25519 stanzas was checked by _validate_stanzas.
        own = self._recipient._raw
        for stanza in stanzas:
            if stanza.type != b"X25519":
                continue
            share = _b64_decode(stanza.args[1], "X25519 share")
            try:
                shared = self._key.exchange(X25519PublicKey.from_public_bytes(share))
            except ValueError:
                # pyca refuses an all-zero shared secret (low-order share); the
                # spec says to abort rather than try the next stanza.
                raise HeaderError("X25519 stanza has a low-order share") from None
            if shared == bytes(32):
                raise HeaderError("X25519 stanza has a low-order share")
            wrap_key = _hkdf(shared, share + own, _X25519_LABEL)
            try:
                return ChaCha20Poly1305(wrap_key).decrypt(_ZERO_NONCE, stanza.body, None)
            except InvalidTag:
                continue
        return None


def _check_passphrase(passphrase: bytes) -> bytes:
    if not isinstance(passphrase, (bytes, bytearray)):
        raise TypeError("passphrase must be bytes")
    return bytes(passphrase)


class ScryptRecipient:
    """A passphrase recipient (spec "scrypt recipient type"); it must be a file's only recipient."""

    __slots__ = ("_passphrase", "_work_factor")

    def __init__(self, passphrase: bytes, work_factor: int = 18) -> None:
        self._passphrase = _check_passphrase(passphrase)
        if not self._passphrase:
            raise ValueError("empty passphrase")
        if not 1 <= work_factor <= _SCRYPT_MAX_LOG_N:
            raise ValueError(f"scrypt work factor must be 1..{_SCRYPT_MAX_LOG_N}")
        self._work_factor = work_factor

    def __repr__(self) -> str:
        return f"ScryptRecipient(work_factor={self._work_factor})"

    def _wrap(self, file_key: bytes) -> _Stanza:
        salt = os.urandom(16)
        wrap_key = Scrypt(salt=_SCRYPT_LABEL + salt, length=32, n=1 << self._work_factor,
                          r=8, p=1).derive(self._passphrase)
        body = ChaCha20Poly1305(wrap_key).encrypt(_ZERO_NONCE, file_key, None)
        return _Stanza((b"scrypt", _b64_encode(salt), str(self._work_factor).encode()), body)


class ScryptIdentity:
    """A passphrase identity; refuses work factors above ``max_work_factor`` before running scrypt."""

    __slots__ = ("_max_work_factor", "_passphrase")

    def __init__(self, passphrase: bytes, max_work_factor: int = 22) -> None:
        self._passphrase = _check_passphrase(passphrase)
        if not 1 <= max_work_factor <= _SCRYPT_MAX_LOG_N:
            raise ValueError(f"scrypt max work factor must be 1..{_SCRYPT_MAX_LOG_N}")
        self._max_work_factor = max_work_factor

    def __repr__(self) -> str:
        return f"ScryptIdentity(max_work_factor={self._max_work_factor})"

    def _unwrap(self, stanzas: Sequence[_Stanza]) -> bytes | None:
        for stanza in stanzas:
            if stanza.type != b"scrypt":
                continue
            salt = _b64_decode(stanza.args[1], "scrypt salt")
            log_n = int(stanza.args[2])
            # Spec "scrypt recipient type": implementations SHOULD bound the work
            # factor; check it before spending the time and memory.
            if log_n > self._max_work_factor:
                raise HeaderError(
                    f"scrypt work factor {log_n} exceeds the limit {self._max_work_factor}")
            wrap_key = Scrypt(salt=_SCRYPT_LABEL + salt, length=32, n=1 << log_n,
                              r=8, p=1).derive(self._passphrase)
            try:
                return ChaCha20Poly1305(wrap_key).decrypt(_ZERO_NONCE, stanza.body, None)
            except InvalidTag:
                return None
        return None


Recipient = X25519Recipient | ScryptRecipient
Identity = X25519Identity | ScryptIdentity


def parse_identities(text: str) -> list[X25519Identity]:
    """Parse an identity file as written by ``age-keygen``: one key per line,
    ``#`` comments and empty lines ignored, LF or CRLF line ends.

    Raises:
        KeyFormatError: a line is not an identity, or the file holds none.
        UnsupportedRecipientError: a post-quantum or plugin identity.
    """
    identities: list[X25519Identity] = []
    for number, line in enumerate(text.split("\n"), start=1):
        line = line.removesuffix("\r")
        if not line or line.startswith("#"):
            continue
        try:
            identities.append(X25519Identity.parse(line))
        except UnsupportedRecipientError as exc:
            raise UnsupportedRecipientError(f"identity file line {number}: {exc}") from None
        except KeyFormatError as exc:
            raise KeyFormatError(f"identity file line {number}: {exc}") from None
    if not identities:
        raise KeyFormatError("no identities found in identity file")
    return identities


# --- header -------------------------------------------------------------------


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


# --- input plumbing -------------------------------------------------------------


class _Input:
    """A byte source with a small pushback buffer, for line-wise header reads
    followed by bulk payload reads."""

    __slots__ = ("_pending", "_read", "_readinto", "_src", "_step")

    def __init__(self, src: BinaryIO | _ArmorDecoder, step: int) -> None:
        self._src = src
        self._readinto = getattr(src, "readinto", None)
        self._read = src.read
        self._pending = bytearray()
        self._step = step

    def _raw_readinto(self, mv: memoryview) -> int:
        if self._readinto is not None:
            n = self._readinto(mv)
            if n is None:
                raise AgeError("non-blocking sources are not supported")
            return n
        data = self._read(len(mv))
        if not data:
            return 0
        n = len(data)
        if n > len(mv):
            raise AgeError("source returned more bytes than requested")
        mv[:n] = data
        return n

    def peek(self, n: int) -> bytes:
        """Up to n bytes (fewer only at EOF), without consuming them."""
        while len(self._pending) < n:
            chunk = self._read(n - len(self._pending))
            if not chunk:
                break
            self._pending += chunk
        return bytes(self._pending[:n])

    def read(self, n: int) -> bytes:
        if self._pending:
            out = bytes(self._pending[:n])
            del self._pending[:n]
            return out
        return self._read(n)

    def read_line(self, limit: int) -> bytes:
        """One line including its LF; HeaderError at EOF or past ``limit`` bytes."""
        searched = 0
        while True:
            i = self._pending.find(b"\n", searched)
            if i >= 0:
                if i + 1 > limit:
                    raise HeaderError("header too large")
                out = bytes(self._pending[: i + 1])
                del self._pending[: i + 1]
                return out
            searched = len(self._pending)
            if searched >= limit:
                raise HeaderError("header too large")
            buf = bytearray(self._step)
            n = self._raw_readinto(memoryview(buf))
            if n == 0:
                raise HeaderError("unexpected end of file in header")
            self._pending += memoryview(buf)[:n]

    def readinto_full(self, mv: memoryview) -> int:
        """Fill mv completely unless EOF comes first; return the byte count."""
        total = 0
        if self._pending:
            total = min(len(self._pending), len(mv))
            mv[:total] = self._pending[:total]
            del self._pending[:total]
        size = len(mv)
        while total < size:
            n = self._raw_readinto(mv[total:])
            if n == 0:
                break
            total += n
        return total


class _ArmorDecoder:
    """Strict RFC 7468 "stricttextualmsg" decoder for the age armor (spec "ASCII armor"),
    with the reference implementation's line-by-line semantics."""

    _READ_SIZE: Final = 1 << 18
    _MAX_LINE: Final = 4096

    def __init__(self, src: _Input) -> None:
        self._src = src
        self._text = bytearray()
        self._out = bytearray()
        self._state = 0  # 0: before BEGIN, 1: body, 2: END seen and verified
        self._src_eof = False

    def _fill(self) -> bool:
        if self._src_eof:
            return False
        data = self._src.read(self._READ_SIZE)
        if not data:
            self._src_eof = True
            return False
        self._text += data
        return True

    def _getline(self) -> bytes:
        searched = 0
        while True:
            i = self._text.find(b"\n", searched)
            if i >= 0:
                line = bytes(self._text[:i])
                del self._text[: i + 1]
                break
            searched = len(self._text)
            if searched > self._MAX_LINE:
                raise ArmorError("armor line too long")
            if not self._fill():
                if not self._text:
                    raise ArmorError("unexpected end of armored file")
                line = bytes(self._text)
                self._text.clear()
                break
        # CRLF line ends are allowed (RFC 7468 eol); a bare CR elsewhere is not.
        return line[:-1] if line.endswith(b"\r") else line

    def _begin(self) -> None:
        skipped = 0
        while True:
            stripped = len(self._text) - len(self._text.lstrip(_ARMOR_WHITESPACE))
            del self._text[:stripped]
            skipped += stripped
            if skipped > _ARMOR_MAX_WHITESPACE:
                raise ArmorError("too much whitespace before armor")
            if self._text:
                break
            if not self._fill():
                raise ArmorError("unexpected end of armored file")
        if self._getline() != _ARMOR_BEGIN:
            raise ArmorError("invalid armor begin line")
        self._state = 1

    def _end(self) -> None:
        # Only whitespace may follow the END line, and not too much of it.
        while len(self._text) <= _ARMOR_MAX_WHITESPACE and self._fill():
            pass
        if self._text.strip(_ARMOR_WHITESPACE):
            raise ArmorError("trailing data after armor")
        if len(self._text) > _ARMOR_MAX_WHITESPACE:
            raise ArmorError("too much whitespace after armor")
        self._text.clear()
        self._state = 2

    def _decode_fast(self, want: int) -> bool:
        """Decode up to ``want`` full, unpadded 64-column lines in one go."""
        text = self._text
        for eol in (b"\n", b"\r\n"):
            width = _COLUMNS + len(eol)
            k = min(want, len(text) // width)
            if k == 0:
                continue
            size = k * width
            if eol == b"\n":
                if text[_COLUMNS:size:width] != b"\n" * k:
                    continue
            elif text[_COLUMNS:size:width] != b"\r" * k or text[_COLUMNS + 1 : size : width] != b"\n" * k:
                continue
            block = text[:size].translate(None, b"\r\n")
            # Any other CR/LF means some line is not exactly 64 columns; a "=" means
            # a padded (final) line: both go through the line-by-line path.
            if len(block) != k * _COLUMNS or b"=" in block:
                continue
            try:
                self._out += binascii.a2b_base64(block, strict_mode=True)
            except binascii.Error:
                raise ArmorError("invalid base64 in armor") from None
            del text[:size]
            return True
        return False

    def _decode_line(self) -> None:
        line = self._getline()
        if line == _ARMOR_END:
            self._end()
            return
        if not line:
            raise ArmorError("empty line in armor")
        if len(line) > _COLUMNS:
            raise ArmorError("armor line longer than 64 columns")
        if len(line) % 4 or line.translate(None, _B64_ALPHABET + b"="):
            raise ArmorError("invalid base64 in armor")
        try:
            data = binascii.a2b_base64(line, strict_mode=True)
        except binascii.Error:
            raise ArmorError("invalid base64 in armor") from None
        if binascii.b2a_base64(data, newline=False) != line:
            raise ArmorError("non-canonical base64 in armor")
        self._out += data
        if len(data) < _ARMOR_LINE_BYTES:
            # A short line is the last one: the END line must follow.
            if self._getline() != _ARMOR_END:
                raise ArmorError("missing armor end line")
            self._end()

    def read(self, n: int) -> bytes:
        buf = bytearray(n)
        got = self.readinto(memoryview(buf))
        return bytes(buf[:got])

    def readinto(self, mv: memoryview) -> int:
        if not self._out:
            if self._state == 0:
                self._begin()
            want = -(-len(mv) // _ARMOR_LINE_BYTES)
            while not self._out and self._state == 1:
                if len(self._text) < want * (_COLUMNS + 2):
                    self._fill()
                if not self._decode_fast(want):
                    self._decode_line()
            if not self._out:
                return 0
        n = min(len(mv), len(self._out))
        mv[:n] = self._out[:n]
        del self._out[:n]
        return n


class _ArmorEncoder:
    """Canonical armor writer: BEGIN at byte 0, 64-column lines, LF, END line + LF."""

    _BATCH: Final = _ARMOR_LINE_BYTES * 1366  # about 64 KiB of input per flush

    def __init__(self, dst: BinaryIO) -> None:
        self._dst = dst
        self._pending = bytearray()
        dst.write(_ARMOR_BEGIN + b"\n")

    def _emit(self, raw: bytes | bytearray) -> None:
        enc = binascii.b2a_base64(raw, newline=False)
        lines = len(enc) // _COLUMNS
        out = bytearray(lines * (_COLUMNS + 1))
        # Interleave the newlines with strided copies instead of one slice per line.
        for col in range(_COLUMNS):
            out[col :: _COLUMNS + 1] = enc[col :: _COLUMNS]
        out[_COLUMNS :: _COLUMNS + 1] = b"\n" * lines
        self._dst.write(out)

    def write(self, data: bytes | bytearray | memoryview) -> int:
        self._pending += data
        if len(self._pending) >= self._BATCH:
            full = len(self._pending) // _ARMOR_LINE_BYTES * _ARMOR_LINE_BYTES
            self._emit(self._pending[:full])
            del self._pending[:full]
        return len(data)

    def close(self) -> None:
        full = len(self._pending) // _ARMOR_LINE_BYTES * _ARMOR_LINE_BYTES
        if full:
            self._emit(self._pending[:full])
        rest = self._pending[full:]
        tail = binascii.b2a_base64(rest, newline=True) if rest else b""
        self._dst.write(tail + _ARMOR_END + b"\n")
        self._pending.clear()


def _chunk_nonce(counter: int, last: bool) -> bytes:
    # Spec "Payload": 11-byte big-endian chunk counter, then 0x01 for the final chunk.
    return ((counter << 8) | last).to_bytes(12, "big")


# --- encryption ------------------------------------------------------------------


class EncryptWriter:
    """Write-only file object that encrypts to ``recipients`` into ``dst``.

    The header is written at construction. ``close()`` writes the final chunk
    (and the armor END line) but does not close ``dst``. Leaving a ``with`` block
    by an exception does *not* finalize: the output stays truncated and will not
    decrypt, so a failed producer cannot pass for a complete one. Memory use is
    one 64 KiB chunk (plus one armor line batch). ``dst`` must consume the bytes
    handed to ``write`` before returning (true of files, BytesIO, hashing wrappers).

    Raises:
        ValueError: no recipients, or an scrypt recipient together with others.
    """

    def __init__(self, dst: BinaryIO, recipients: Sequence[Recipient], *, armor: bool = False) -> None:
        recipients = list(recipients)
        if not recipients:
            raise ValueError("no recipients")
        if len(recipients) > 1 and any(isinstance(r, ScryptRecipient) for r in recipients):
            raise ValueError("an scrypt recipient must be the only recipient")
        for r in recipients:
            if not isinstance(r, (X25519Recipient, ScryptRecipient)):
                raise TypeError(f"unsupported recipient object: {type(r).__name__}")
        file_key = os.urandom(_FILE_KEY_SIZE)
        header = _encode_header([r._wrap(file_key) for r in recipients], file_key)
        nonce = os.urandom(_NONCE_SIZE)
        self._dst = dst
        self._armor = _ArmorEncoder(dst) if armor else None
        self._write = self._armor.write if self._armor is not None else dst.write
        self._write(header + nonce)
        # Spec "Payload": payload key = HKDF-SHA-256(file key, salt = nonce, "payload").
        self._aead = ChaCha20Poly1305(_hkdf(file_key, nonce, b"payload"))
        self._buf = bytearray(CHUNK_SIZE)
        self._bufmv = memoryview(self._buf)
        self._fill = 0
        self._enc = memoryview(bytearray(_ENC_CHUNK_SIZE))
        self._counter = 0
        self._closed = False

    def _seal(self, data: memoryview, last: bool) -> None:
        n = self._aead.encrypt_into(_chunk_nonce(self._counter, last), data, None,
                                    self._enc[: len(data) + _TAG_SIZE])
        self._write(self._enc[:n])
        self._counter += 1

    def write(self, data: bytes | bytearray | memoryview) -> int:
        """Encrypt and write ``data``; returns ``len(data)`` in bytes."""
        if self._closed:
            raise ValueError("write to closed EncryptWriter")
        mv = memoryview(data).cast("B")
        total = len(mv)
        pos = 0
        while pos < total:
            if self._fill == CHUNK_SIZE:
                # More data follows, so the buffered full chunk is not the last one.
                self._seal(self._bufmv, last=False)
                self._fill = 0
            if self._fill == 0 and total - pos > CHUNK_SIZE:
                # A full chunk with more data after it: encrypt in place, no copy.
                self._seal(mv[pos : pos + CHUNK_SIZE], last=False)
                pos += CHUNK_SIZE
                continue
            k = min(CHUNK_SIZE - self._fill, total - pos)
            self._buf[self._fill : self._fill + k] = mv[pos : pos + k]
            self._fill += k
            pos += k
        return total

    def close(self) -> None:
        """Write the final chunk (full-size when the plaintext is a multiple of
        64 KiB, empty only for an empty plaintext) and the armor footer."""
        if self._closed:
            return
        self._closed = True
        self._seal(self._bufmv[: self._fill], last=True)
        self._fill = 0
        if self._armor is not None:
            self._armor.close()
        flush = getattr(self._dst, "flush", None)
        if flush is not None:
            flush()

    def abort(self) -> None:
        """Stop without writing the final chunk; the output will not decrypt."""
        self._closed = True
        self._fill = 0

    @property
    def closed(self) -> bool:
        return self._closed

    def writable(self) -> bool:
        return not self._closed

    def flush(self) -> None:
        """Nothing to do: a chunk is only written once it is known not to be the last."""

    def __enter__(self) -> EncryptWriter:
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


class _Counter:
    __slots__ = ("count", "_write")

    def __init__(self, dst: BinaryIO) -> None:
        self._write = dst.write
        self.count = 0

    def write(self, data: bytes | bytearray | memoryview) -> int:
        self._write(data)
        n = len(data)
        self.count += n
        return n

    def flush(self) -> None:
        pass


def encrypt(src: BinaryIO, dst: BinaryIO, recipients: Sequence[Recipient], *,
            armor: bool = False) -> int:
    """Encrypt all of ``src`` to ``dst``; return the number of bytes written to ``dst``.

    Raises:
        ValueError: bad recipient list (see EncryptWriter).
    """
    counter = _Counter(dst)
    buf = bytearray(16 * CHUNK_SIZE)
    mv = memoryview(buf)
    readinto = getattr(src, "readinto", None)
    with EncryptWriter(counter, recipients, armor=armor) as writer:  # type: ignore[arg-type]
        while True:
            if readinto is not None:
                n = readinto(mv)
                if n is None:
                    raise AgeError("non-blocking sources are not supported")
                if n == 0:
                    break
                writer.write(mv[:n])
            else:
                data = src.read(len(buf))
                if not data:
                    break
                writer.write(data)
    flush = getattr(dst, "flush", None)
    if flush is not None:
        flush()
    return counter.count


# --- decryption ------------------------------------------------------------------


class DecryptReader(io.RawIOBase):
    """Read-only file object yielding the plaintext of the age file ``src``.

    The header is parsed, the file key unwrapped and the header MAC checked at
    construction. Plaintext is released chunk by chunk, each only after its tag
    verified. The end of the plaintext (``b""``) is reported only after a valid
    final chunk and a clean EOF; truncation and trailing data raise PayloadError
    instead. Armor is detected automatically (``armor=None``), or required
    (``True``) or refused (``False``). ``close()`` does not close ``src``.

    Raises:
        HeaderError, MacError, UnsupportedRecipientError, NoIdentityMatchError,
        ArmorError: at construction; PayloadError, ArmorError: while reading.
        ValueError: no identities.
    """

    def __init__(self, src: BinaryIO, identities: Sequence[Identity], *,
                 armor: bool | None = None) -> None:
        super().__init__()
        identities = list(identities)
        if not identities:
            raise ValueError("no identities")
        for identity in identities:
            if not isinstance(identity, (X25519Identity, ScryptIdentity)):
                raise TypeError(f"unsupported identity object: {type(identity).__name__}")
        raw = _Input(src, 4096)
        if armor is None:
            start = raw.peek(len(_VERSION_PREFIX))
            # A binary age file starts with the version line; anything else is
            # taken as armor (whose parser then says precisely what is wrong).
            armor = not _VERSION_PREFIX.startswith(start)
        if armor:
            # Read the armor one line (48 bytes) at a time while in the header, as
            # the reference implementation does, so errors surface in the same order.
            self._inp = _Input(_ArmorDecoder(raw), _ARMOR_LINE_BYTES)
        else:
            self._inp = raw
        header = _read_header(self._inp)
        _validate_stanzas(header.stanzas)
        file_key = None
        for identity in identities:
            file_key = identity._unwrap(header.stanzas)
            if file_key is not None:
                break
        if file_key is None:
            for stanza in header.stanzas:
                kind = stanza.type.decode("ascii")
                if kind in _UNSUPPORTED_TYPES:
                    raise UnsupportedRecipientError(f"unsupported recipient type: {kind}")
            raise NoIdentityMatchError("no identity matched any of the file's recipients")
        try:
            _header_mac(file_key, header.mac_input).verify(header.mac)
        except InvalidSignature:
            raise MacError("header MAC mismatch") from None
        nonce = bytearray(_NONCE_SIZE)
        # The CCTV vectors class a missing or short nonce as a header failure.
        if self._inp.readinto_full(memoryview(nonce)) != _NONCE_SIZE:
            raise HeaderError("payload nonce missing or truncated")
        self._aead = ChaCha20Poly1305(_hkdf(file_key, bytes(nonce), b"payload"))
        self._in = memoryview(bytearray(_ENC_CHUNK_SIZE))
        self._plain = memoryview(bytearray(CHUNK_SIZE))
        self._one = memoryview(bytearray(1))
        self._counter = 0
        self._avail = self._plain[:0]  # authenticated plaintext not yet returned
        self._done = False
        self._error: str | None = None

    def _next_chunk(self) -> memoryview | None:
        """Decrypt the next chunk; its plaintext view is valid until the next call."""
        if self._error is not None:
            raise PayloadError(self._error)
        if self._done:
            return None
        try:
            return self._open_chunk()
        except PayloadError as exc:
            self._error = str(exc)
            raise

    def _open_chunk(self) -> memoryview:
        n = self._inp.readinto_full(self._in)
        # Follows the reference reader (internal/stream/stream.go) so that the
        # plaintext released before an error matches the CCTV vectors.
        if n == 0:
            raise PayloadError("truncated payload: no final chunk")
        if n < _ENC_CHUNK_SIZE:
            if n < _TAG_SIZE:
                raise PayloadError("truncated payload chunk")
            if n == _TAG_SIZE and self._counter > 0:
                raise PayloadError("empty final chunk after a non-empty one")
            last = True
            out = self._plain[: n - _TAG_SIZE]
            try:
                self._aead.decrypt_into(_chunk_nonce(self._counter, True), self._in[:n], None, out)
            except InvalidTag:
                raise PayloadError("payload chunk authentication failed") from None
        else:
            out = self._plain
            try:
                self._aead.decrypt_into(_chunk_nonce(self._counter, False), self._in, None, out)
                last = False
            except InvalidTag:
                # A full-size chunk may be the final one (plaintext a multiple of 64 KiB).
                try:
                    self._aead.decrypt_into(_chunk_nonce(self._counter, True), self._in, None, out)
                except InvalidTag:
                    raise PayloadError("payload chunk authentication failed") from None
                last = True
        self._counter += 1
        if last:
            self._done = True
            # Spec: trailing data after the final chunk is an error. The final
            # chunk is authentic and is released; the next read raises.
            if self._inp.readinto_full(self._one) != 0:
                self._error = "trailing data after the final chunk"
        return out

    def readable(self) -> bool:
        return True

    def readinto(self, b: bytearray | memoryview) -> int:  # type: ignore[override]
        """Copy authenticated plaintext into ``b``; 0 only at the verified end."""
        if self.closed:
            raise ValueError("read from closed DecryptReader")
        dst = memoryview(b).cast("B")
        if not dst:
            return 0
        if not self._avail:
            chunk = self._next_chunk()
            if chunk is None:
                return 0
            self._avail = chunk
        n = min(len(dst), len(self._avail))
        dst[:n] = self._avail[:n]
        self._avail = self._avail[n:]
        return n

    def read(self, size: int | None = -1) -> bytes:
        """Up to ``size`` bytes of plaintext (all of it if negative); ``b""`` only at the verified end."""
        if self.closed:
            raise ValueError("read from closed DecryptReader")
        if size is None or size < 0:
            return self.readall()
        if size == 0:
            return b""
        if not self._avail:
            chunk = self._next_chunk()
            if chunk is None:
                return b""
            self._avail = chunk
        out = bytes(self._avail[:size])
        self._avail = self._avail[len(out):]
        return out

    def readall(self) -> bytes:
        parts = [bytes(self._avail)]
        self._avail = self._plain[:0]
        while (chunk := self._next_chunk()) is not None:
            parts.append(bytes(chunk))
        return b"".join(parts)

    def __enter__(self) -> DecryptReader:
        return self


def decrypt(src: BinaryIO, dst: BinaryIO, identities: Sequence[Identity], *,
            armor: bool | None = None) -> int:
    """Decrypt all of ``src`` into ``dst``; return the number of plaintext bytes written.

    Plaintext is written chunk by chunk as each chunk authenticates; on error the
    exception is raised after the chunks already written, so treat ``dst`` as
    garbage unless this returns (decrypt to a temporary place, then commit).

    Raises:
        AgeError: any subclass, as for DecryptReader.
    """
    reader = DecryptReader(src, identities, armor=armor)
    total = 0
    write = dst.write
    while (chunk := reader._next_chunk()) is not None:
        write(chunk)
        total += len(chunk)
    flush = getattr(dst, "flush", None)
    if flush is not None:
        flush()
    return total
