"""The native age recipient types (C2SP age "X25519 recipient type", "scrypt recipient
type") and identity files as ``age-keygen`` writes them."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from .bech32 import _bech32_decode, _bech32_encode
from .errors import AgeError, HeaderError, KeyFormatError, UnsupportedRecipientError
from .header import _ZERO_NONCE, _b64_decode, _b64_encode, _hkdf, _Stanza
from .hybrid import HybridIdentity, HybridRecipient

_X25519_LABEL: Final = b"age-encryption.org/v1/X25519"
_SCRYPT_LABEL: Final = b"age-encryption.org/v1/scrypt"
_SCRYPT_MAX_LOG_N: Final = 30
_X25519_IDENTITY_HRP: Final = "AGE-SECRET-KEY-"
_X25519_RECIPIENT_HRP: Final = "age"
# Recipient types defined by age but not implemented here (C2SP age "Recipient
# types", and the reference implementation's SSH types).
_UNSUPPORTED_TYPES: Final = frozenset({"p256tag", "mlkem768p256tag", "ssh-ed25519", "ssh-rsa"})


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
            UnsupportedRecipientError: a tag recipient (``age1tag1``, ``age1tagpq1``).
        """
        if s.startswith("age1pq1"):
            raise KeyFormatError("not an X25519 recipient: 'age1pq1...' is a hybrid (mlkem768x25519) recipient")
        for prefix, kind in (("age1tagpq1", "mlkem768p256tag"), ("age1tag1", "p256tag")):
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
            KeyFormatError: also for a hybrid identity (use ``parse_identity``).
            UnsupportedRecipientError: a plugin identity.
        """
        if s.startswith("AGE-SECRET-KEY-PQ-1"):
            raise KeyFormatError("not an X25519 identity: 'AGE-SECRET-KEY-PQ-1...' is a hybrid identity")
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


Recipient = X25519Recipient | HybridRecipient | ScryptRecipient
Identity = X25519Identity | HybridIdentity | ScryptIdentity
KeyIdentity = X25519Identity | HybridIdentity


def parse_recipient(s: str) -> X25519Recipient | HybridRecipient:
    """Parse a native public key: ``age1pq1…`` (hybrid) or ``age1…`` (X25519).

    Raises:
        KeyFormatError: not a valid recipient string.
        UnsupportedRecipientError: a tag recipient.
    """
    if s.startswith("age1pq1"):
        return HybridRecipient.parse(s)
    return X25519Recipient.parse(s)


def parse_identity(s: str) -> KeyIdentity:
    """Parse a native secret key: ``AGE-SECRET-KEY-PQ-1…`` (hybrid) or ``AGE-SECRET-KEY-1…``.

    Raises:
        KeyFormatError: not a valid identity string.
        UnsupportedRecipientError: a plugin identity.
    """
    if s.startswith("AGE-SECRET-KEY-PQ-1"):
        return HybridIdentity.parse(s)
    return X25519Identity.parse(s)


def parse_identities(text: str) -> list[KeyIdentity]:
    """Parse an identity file as written by ``age-keygen``: one key per line,
    ``#`` comments and empty lines ignored, LF or CRLF line ends.

    Raises:
        KeyFormatError: a line is not an identity, or the file holds none.
        UnsupportedRecipientError: a plugin identity.
    """
    identities: list[KeyIdentity] = []
    for number, line in enumerate(text.split("\n"), start=1):
        line = line.removesuffix("\r")
        if not line or line.startswith("#"):
            continue
        try:
            identities.append(parse_identity(line))
        except UnsupportedRecipientError as exc:
            raise UnsupportedRecipientError(f"identity file line {number}: {exc}") from None
        except KeyFormatError as exc:
            raise KeyFormatError(f"identity file line {number}: {exc}") from None
    if not identities:
        raise KeyFormatError("no identities found in identity file")
    return identities
