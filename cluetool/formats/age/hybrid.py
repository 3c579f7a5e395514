"""The post-quantum hybrid recipient type ``mlkem768x25519`` (C2SP age "mlkem768x25519
recipient type", as in age 1.3 and the CCTV vectors).

The file key is sealed with HPKE (RFC 9180, base mode, one message) using the
MLKEM768-X25519 KEM (X-Wing, HPKE KEM id 0x647a), HKDF-SHA-256 and ChaCha20-Poly1305,
with the info string ``age-encryption.org/mlkem768x25519``. The stanza is
``-> mlkem768x25519 <base64(enc)>`` with the 32-byte sealed file key as its body;
``enc`` is the ML-KEM-768 ciphertext (1088 bytes) then the X25519 share (32 bytes).

Keys: the identity is a 32-byte seed, ``AGE-SECRET-KEY-PQ-1…``; SHAKE-256 of it gives
the ML-KEM-768 seed (d || z, 64 bytes) and the X25519 private key (32 bytes). The
recipient ``age1pq1…`` is the ML-KEM-768 encapsulation key (1184 bytes) then the
X25519 public key. ML-KEM-768 comes from pyca/cryptography (47 or later).

Files with these stanzas cannot be read by age before 1.3 (e.g. the 1.1.1 CLI).
"""

from __future__ import annotations

import os
import struct
from collections.abc import Sequence
from typing import Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.mlkem import MLKEM768PrivateKey, MLKEM768PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.hmac import HMAC
from cryptography.hazmat.primitives.kdf.hkdf import HKDFExpand

from .bech32 import _bech32_decode, _bech32_encode
from .errors import AgeError, HeaderError, KeyFormatError
from .header import _FILE_KEY_SIZE, _TAG_SIZE, _b64_decode, _b64_encode, _Stanza

HYBRID_TYPE: Final = b"mlkem768x25519"
_INFO: Final = b"age-encryption.org/mlkem768x25519"
_IDENTITY_HRP: Final = "AGE-SECRET-KEY-PQ-"
_RECIPIENT_HRP: Final = "age1pq"
_SEED_SIZE: Final = 32
_MLKEM_PK_SIZE: Final = 1184
_MLKEM_CT_SIZE: Final = 1088
_X25519_SIZE: Final = 32
RECIPIENT_SIZE: Final = _MLKEM_PK_SIZE + _X25519_SIZE
ENC_SIZE: Final = _MLKEM_CT_SIZE + _X25519_SIZE
# X-Wing combiner label (draft-connolly-cfrg-xwing-kem): the six bytes \.//^\
_XWING_LABEL: Final = b"\\.//^\\"
# RFC 9180 suite: KEM 0x647a (MLKEM768-X25519), KDF 0x0001 (HKDF-SHA256), AEAD 0x0003.
_SUITE_ID: Final = b"HPKE" + struct.pack(">HHH", 0x647A, 0x0001, 0x0003)
_HPKE_V1: Final = b"HPKE-v1"


def _extract(salt: bytes, ikm: bytes) -> bytes:
    h = HMAC(salt or bytes(32), hashes.SHA256())
    h.update(ikm)
    return h.finalize()


def _labeled_extract(salt: bytes, label: bytes, ikm: bytes) -> bytes:
    return _extract(salt, _HPKE_V1 + _SUITE_ID + label + ikm)


def _labeled_expand(prk: bytes, label: bytes, info: bytes, length: int) -> bytes:
    labeled = struct.pack(">H", length) + _HPKE_V1 + _SUITE_ID + label + info
    return HKDFExpand(hashes.SHA256(), length, labeled).derive(prk)


# RFC 9180 section 5.1, mode_base with the fixed info: the key schedule context does
# not depend on the shared secret.
_KS_CONTEXT: Final = (
    b"\x00" + _labeled_extract(b"", b"psk_id_hash", b"") + _labeled_extract(b"", b"info_hash", _INFO)
)


def _aead(shared_secret: bytes) -> tuple[ChaCha20Poly1305, bytes]:
    """The AEAD and the first (base) nonce of an HPKE base-mode context."""
    secret = _labeled_extract(shared_secret, b"secret", b"")
    key = _labeled_expand(secret, b"key", _KS_CONTEXT, 32)
    nonce = _labeled_expand(secret, b"base_nonce", _KS_CONTEXT, 12)
    return ChaCha20Poly1305(key), nonce


def _combine(ss_pq: bytes, ss_t: bytes, ct_t: bytes, pk_t: bytes) -> bytes:
    h = hashes.Hash(hashes.SHA3_256())
    for part in (ss_pq, ss_t, ct_t, pk_t, _XWING_LABEL):
        h.update(part)
    return h.finalize()


class HybridRecipient:
    """An ML-KEM-768 + X25519 hybrid recipient, written ``age1pq1…``."""

    __slots__ = ("_pq", "_raw", "_t")

    def __init__(self, raw: bytes) -> None:
        if len(raw) != RECIPIENT_SIZE:
            raise KeyFormatError("invalid mlkem768x25519 recipient length")
        try:
            self._pq = MLKEM768PublicKey.from_public_bytes(raw[:_MLKEM_PK_SIZE])
            self._t = X25519PublicKey.from_public_bytes(raw[_MLKEM_PK_SIZE:])
        except ValueError:
            raise KeyFormatError("invalid mlkem768x25519 recipient") from None
        self._raw = bytes(raw)

    @classmethod
    def parse(cls, s: str) -> HybridRecipient:
        """Parse an ``age1pq1…`` string.

        Raises:
            KeyFormatError: not a valid hybrid recipient (checksum, case, length, key).
        """
        hrp, data = _bech32_decode(s)
        if hrp != _RECIPIENT_HRP:
            raise KeyFormatError("not an age hybrid recipient (expected lowercase 'age1pq1...')")
        return cls(data)

    def __str__(self) -> str:
        return _bech32_encode(_RECIPIENT_HRP, self._raw)

    def __repr__(self) -> str:
        return f"HybridRecipient({str(self)[:20]!r}...)"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, HybridRecipient) and other._raw == self._raw

    def __hash__(self) -> int:
        return hash(self._raw)

    def _wrap(self, file_key: bytes) -> _Stanza:
        ephemeral = X25519PrivateKey.generate()
        ct_t = ephemeral.public_key().public_bytes_raw()
        try:
            ss_t = ephemeral.exchange(self._t)
        except ValueError:
            raise AgeError("invalid mlkem768x25519 recipient: low-order X25519 point") from None
        ss_pq, ct_pq = self._pq.encapsulate()
        aead, nonce = _aead(_combine(ss_pq, ss_t, ct_t, self._raw[_MLKEM_PK_SIZE:]))
        body = aead.encrypt(nonce, file_key, None)
        return _Stanza((HYBRID_TYPE, _b64_encode(ct_pq + ct_t)), body)


class HybridIdentity:
    """An ML-KEM-768 + X25519 hybrid identity, written ``AGE-SECRET-KEY-PQ-1…``.

    ``str()`` returns the secret key string; ``repr()`` does not.
    """

    __slots__ = ("_pq", "_recipient", "_seed", "_t", "_t_pub")

    def __init__(self, seed: bytes) -> None:
        if len(seed) != _SEED_SIZE:
            raise KeyFormatError("invalid mlkem768x25519 identity length")
        h = hashes.Hash(hashes.SHAKE256(64 + _X25519_SIZE))
        h.update(seed)
        expanded = h.finalize()
        self._seed = bytes(seed)
        self._pq = MLKEM768PrivateKey.from_seed_bytes(expanded[:64])
        self._t = X25519PrivateKey.from_private_bytes(expanded[64:])
        self._t_pub = self._t.public_key().public_bytes_raw()
        self._recipient = HybridRecipient(self._pq.public_key().public_bytes_raw() + self._t_pub)

    @classmethod
    def generate(cls) -> HybridIdentity:
        """A new random identity."""
        return cls(os.urandom(_SEED_SIZE))

    @classmethod
    def parse(cls, s: str) -> HybridIdentity:
        """Parse an ``AGE-SECRET-KEY-PQ-1…`` string.

        Raises:
            KeyFormatError: not a valid hybrid identity (checksum, case, length).
        """
        hrp, data = _bech32_decode(s)
        if hrp != _IDENTITY_HRP:
            raise KeyFormatError("not an age hybrid identity (expected 'AGE-SECRET-KEY-PQ-1...')")
        return cls(data)

    @property
    def recipient(self) -> HybridRecipient:
        """The matching recipient (public key)."""
        return self._recipient

    def __str__(self) -> str:
        return _bech32_encode(_IDENTITY_HRP, self._seed)

    def __repr__(self) -> str:
        return f"HybridIdentity(recipient={str(self._recipient)[:20]!r}...)"

    def _unwrap(self, stanzas: Sequence[_Stanza]) -> bytes | None:
        # Stanzas of other types are ignored; the structure of hybrid stanzas was
        # checked by _validate_hybrid before any identity was tried.
        for stanza in stanzas:
            if stanza.type != HYBRID_TYPE:
                continue
            enc = _b64_decode(stanza.args[1], "mlkem768x25519 enc")
            ct_pq, ct_t = enc[:_MLKEM_CT_SIZE], enc[_MLKEM_CT_SIZE:]
            # ML-KEM decapsulation rejects implicitly: a wrong key gives a random
            # secret, found out by the AEAD below.
            ss_pq = self._pq.decapsulate(ct_pq)
            try:
                ss_t = self._t.exchange(X25519PublicKey.from_public_bytes(ct_t))
            except ValueError:
                # An all-zero X25519 secret (low-order or identity point) is refused
                # outright, as by the reference implementation.
                raise HeaderError("mlkem768x25519 stanza has a low-order X25519 share") from None
            aead, nonce = _aead(_combine(ss_pq, ss_t, ct_t, self._t_pub))
            try:
                return aead.decrypt(nonce, stanza.body, None)
            except InvalidTag:
                continue
        return None


def _validate_hybrid(stanza: _Stanza) -> None:
    """Structural rules of an ``mlkem768x25519`` stanza, checked before any decryption."""
    if len(stanza.args) != 2:
        raise HeaderError("mlkem768x25519 stanza must have exactly one argument")
    if len(_b64_decode(stanza.args[1], "mlkem768x25519 enc")) != ENC_SIZE:
        raise HeaderError(f"mlkem768x25519 enc must be {ENC_SIZE} bytes")
    if len(stanza.body) != _FILE_KEY_SIZE + _TAG_SIZE:
        raise HeaderError("mlkem768x25519 stanza body must be 32 bytes")
