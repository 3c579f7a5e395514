"""minisign keys and signatures, byte-compatible with the minisign 0.11 CLI.

Spec: the minisign documentation (https://jedisct1.github.io/minisign/, sections
"Signature format", "Public key format", "Secret key format", "Pre-hashing") and
jedisct1/minisign ``src/minisign.c`` at tag 0.11, as summarised in
docs/reference/formats.md §2 (pitfalls in §5). Ed25519 and BLAKE2b-512 come from
pyca/cryptography, the key checksum (BLAKE2b-256, which pyca does not offer) from
hashlib, and the secret-key encryption is libsodium's ``scryptsalsa208sha256`` via
pyca's ``Scrypt``.

Use cluetool.seal/verify unless you are implementing the format.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import BinaryIO

from cryptography.exceptions import InvalidSignature as _PycaInvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)

__all__ = [
    "DEFAULT_MEMLIMIT",
    "DEFAULT_OPSLIMIT",
    "DEFAULT_SECRET_KEY_COMMENT",
    "DEFAULT_SIGNATURE_COMMENT",
    "InvalidSignature",
    "MinisignError",
    "PassphraseRequiredError",
    "PublicKey",
    "SecretKey",
    "Signature",
    "WrongPassphraseError",
    "parse_signature",
    "sign",
    "verify",
]

# §2.2: libsodium crypto_pwhash_scryptsalsa208sha256_{OPS,MEM}LIMIT_SENSITIVE, what
# `minisign -G` writes (N = 2^20, r = 8, p = 1: 1 GiB of memory, seconds of CPU).
DEFAULT_OPSLIMIT = 33554432
DEFAULT_MEMLIMIT = 1073741824

# Bounds on what an encrypted key file may ask for (§5 minisign pitfall 6): no more
# memory than minisign's own default and no more work (N * r * p) either.
_MAX_SCRYPT_N = 1 << 20
_MAX_SCRYPT_WORK = (1 << 20) * 8

_SIG_ALG = b"Ed"  # Ed25519 key / legacy signature (§2.1, §2.3)
_SIG_ALG_HASHED = b"ED"  # prehashed signature (§2.3)
_KDF_SCRYPT = b"Sc"
_KDF_NONE = b"\x00\x00"
_CHK_BLAKE2B = b"B2"

_KEY_ID_LEN = 8
_PK_LEN = 32
_SK_LEN = 64  # libsodium secret key: 32-byte seed || 32-byte public key (§2.2)
_CHECKSUM_LEN = 32
_SALT_LEN = 32
_SIG_LEN = 64
_PUBKEY_BLOB_LEN = 2 + _KEY_ID_LEN + _PK_LEN  # 42
_KEYNUM_SK_LEN = _KEY_ID_LEN + _SK_LEN + _CHECKSUM_LEN  # 104
_SECKEY_BLOB_LEN = 2 + 2 + 2 + _SALT_LEN + 8 + 8 + _KEYNUM_SK_LEN  # 158
_SIG_BLOB_LEN = 2 + _KEY_ID_LEN + _SIG_LEN  # 74

_UNTRUSTED_PREFIX = "untrusted comment: "
_TRUSTED_PREFIX = "trusted comment: "

# minisign 0.11 reads each line with fgets into COMMENTMAXBYTES (1024) and
# TRUSTEDCOMMENTMAXBYTES (8192) buffers; a line (prefix + text + LF) longer than the
# buffer minus the NUL breaks parsing (§2.5), so this is the longest text it accepts.
_MAX_UNTRUSTED_COMMENT = 1024 - 1 - len(_UNTRUSTED_PREFIX) - 1  # 1003 bytes
_MAX_TRUSTED_COMMENT = 8192 - 1 - len(_TRUSTED_PREFIX) - 1  # 8173 bytes

DEFAULT_SIGNATURE_COMMENT = "signature from minisign secret key"
DEFAULT_SECRET_KEY_COMMENT = "minisign encrypted secret key"  # 0.11 writes it even for -W keys

_CHUNK = 64 * 1024  # §2.4: prehashing streams the file in 64 KiB reads
_B64_RE = re.compile(r"[A-Za-z0-9+/]*={0,2}")
# §5 minisign pitfall 8: printable UTF-8 and TAB only (upstream after 0.12 rejects
# other control characters in trusted comments).
_CONTROL_RE = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")


class MinisignError(ValueError):
    """Malformed minisign key or signature text, or an unusable parameter."""


class PassphraseRequiredError(MinisignError):
    """The secret key is scrypt-encrypted and no passphrase was given."""


class WrongPassphraseError(MinisignError):
    """The passphrase does not decrypt the secret key (its checksum does not match)."""


class InvalidSignature(Exception):
    """The signature, the trusted-comment signature or the key id does not verify."""


def _b64decode(line: str, length: int, what: str) -> bytes:
    # §2: padded standard base64 on one line. minisign itself does not check the
    # trailing bits; we also require the canonical encoding (every writer produces it).
    if len(line) % 4 != 0 or _B64_RE.fullmatch(line) is None:
        raise MinisignError(f"{what}: not padded base64")
    try:
        raw = base64.b64decode(line, validate=True)
    except (binascii.Error, ValueError):
        raise MinisignError(f"{what}: not padded base64") from None
    if base64.b64encode(raw).decode("ascii") != line:
        raise MinisignError(f"{what}: non-canonical base64")
    if len(raw) != length:
        raise MinisignError(f"{what}: expected {length} bytes, got {len(raw)}")
    return raw


def _b64encode(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def _lines(text: str | bytes, what: str) -> list[str]:
    """Split a minisign file into lines: LF or CRLF endings, final newline optional.

    minisign 0.11 accepts CRLF files (§2.5); any other CR is refused here, since
    0.11 would silently truncate the line at it.
    """
    if isinstance(text, bytes | bytearray | memoryview):
        try:
            text = bytes(text).decode("utf-8")
        except UnicodeDecodeError:
            raise MinisignError(f"{what}: not UTF-8 text") from None
    if text.endswith("\n"):
        text = text[:-1]
    lines = text.split("\n")
    out: list[str] = []
    for line in lines:
        if line.endswith("\r"):
            line = line[:-1]
        if "\r" in line:
            raise MinisignError(f"{what}: stray carriage return")
        out.append(line)
    return out


def _check_untrusted_comment(comment: str, what: str) -> None:
    if "\n" in comment or "\r" in comment:
        raise MinisignError(f"{what}: untrusted comment must be one line")
    try:
        raw = comment.encode("utf-8")
    except UnicodeEncodeError:
        raise MinisignError(f"{what}: untrusted comment is not valid UTF-8") from None
    if len(raw) > _MAX_UNTRUSTED_COMMENT:
        raise MinisignError(
            f"{what}: untrusted comment longer than {_MAX_UNTRUSTED_COMMENT} bytes"
        )


def _trusted_comment_bytes(comment: str, what: str) -> bytes:
    if _CONTROL_RE.search(comment) is not None:
        raise MinisignError(f"{what}: trusted comment contains a line break or control character")
    try:
        raw = comment.encode("utf-8")
    except UnicodeEncodeError:
        raise MinisignError(f"{what}: trusted comment is not valid UTF-8") from None
    if len(raw) > _MAX_TRUSTED_COMMENT:
        raise MinisignError(f"{what}: trusted comment longer than {_MAX_TRUSTED_COMMENT} bytes")
    return raw


def _key_id_hex(key_id: bytes) -> str:
    # §2.1: minisign shows the 8 key-id bytes as a little-endian uint64 in uppercase
    # hex; 0.11 uses "%" PRIX64, i.e. without zero padding.
    return format(int.from_bytes(key_id, "little"), "X")


def _scrypt_params(opslimit: int, memlimit: int) -> tuple[int, int, int]:
    """libsodium ``pickparams`` (crypto_pwhash_scryptsalsa208sha256): (N, r, p).

    Raises MinisignError when the result is unusable or above the bounds.
    """
    if not (0 <= opslimit < 1 << 64 and 0 <= memlimit < 1 << 64):
        raise MinisignError("scrypt limits out of range")
    opslimit = max(opslimit, 32768)
    r = 8
    if opslimit < memlimit // 32:
        p = 1
        max_n = opslimit // (r * 4)
    else:
        max_n = memlimit // (r * 128)
    n_log2 = 1
    while n_log2 < 63 and (1 << n_log2) <= max_n // 2:
        n_log2 += 1
    if not opslimit < memlimit // 32:
        max_rp = min((opslimit // 4) // (1 << n_log2), 0x3FFFFFFF)
        p = max_rp // r
    n = 1 << n_log2
    if p < 1:
        raise MinisignError("scrypt limits give no usable parameters")
    if n > _MAX_SCRYPT_N or n * r * p > _MAX_SCRYPT_WORK:
        raise MinisignError("scrypt limits exceed minisign's defaults")
    return n, r, p


def _scrypt_stream(passphrase: bytes, salt: bytes, opslimit: int, memlimit: int) -> bytes:
    n, r, p = _scrypt_params(opslimit, memlimit)
    return Scrypt(salt=salt, length=_KEYNUM_SK_LEN, n=n, r=r, p=p).derive(passphrase)


def _xor(a: bytes, b: bytes) -> bytes:
    return (int.from_bytes(a, "big") ^ int.from_bytes(b, "big")).to_bytes(len(a), "big")


def _checksum(key_id: bytes, sk: bytes) -> bytes:
    # §2.2: BLAKE2b-256(sig_alg || key_id || sk), unkeyed; pyca only offers 512 bits.
    return hashlib.blake2b(_SIG_ALG + key_id + sk, digest_size=_CHECKSUM_LEN).digest()


@dataclass(frozen=True)
class PublicKey:
    """A minisign Ed25519 public key: ``key_id`` (8 bytes as stored) and ``key`` (32)."""

    key_id: bytes
    key: bytes

    def __post_init__(self) -> None:
        if len(self.key_id) != _KEY_ID_LEN:
            raise MinisignError(f"public key: key id must be {_KEY_ID_LEN} bytes")
        if len(self.key) != _PK_LEN:
            raise MinisignError(f"public key: key must be {_PK_LEN} bytes")

    @classmethod
    def parse(cls, text: str | bytes) -> PublicKey:
        """Parse a .pub file (comment line + base64 line) or the bare base64 line.

        Raises:
            MinisignError: malformed text, wrong length or unknown algorithm.
        """
        lines = _lines(text, "public key")
        if len(lines) == 1:
            line = lines[0].strip(" \t")  # as pasted after `minisign -P`
        elif len(lines) == 2:
            if not lines[0].startswith(_UNTRUSTED_PREFIX):
                raise MinisignError('public key: first line must start with "untrusted comment: "')
            line = lines[1]
        else:
            raise MinisignError("public key: expected a comment line and a key line")
        raw = _b64decode(line, _PUBKEY_BLOB_LEN, "public key")
        if raw[:2] != _SIG_ALG:
            raise MinisignError("public key: unsupported signature algorithm")
        return cls(key_id=raw[2:10], key=raw[10:])

    @property
    def key_id_hex(self) -> str:
        """The key id as minisign 0.11 prints it (little-endian, uppercase, unpadded)."""
        return _key_id_hex(self.key_id)

    def to_base64(self) -> str:
        """The key line alone, as ``minisign -P`` takes it."""
        return _b64encode(_SIG_ALG + self.key_id + self.key)

    def to_file_text(self, untrusted_comment: str | None = None) -> str:
        """The .pub file text exactly as ``minisign -G`` writes it.

        Raises:
            MinisignError: the comment is not one line or is too long.
        """
        if untrusted_comment is None:
            untrusted_comment = f"minisign public key {self.key_id_hex}"
        _check_untrusted_comment(untrusted_comment, "public key")
        return f"{_UNTRUSTED_PREFIX}{untrusted_comment}\n{self.to_base64()}\n"

    def _verifier(self) -> Ed25519PublicKey:
        return Ed25519PublicKey.from_public_bytes(self.key)


class SecretKey:
    """A minisign Ed25519 secret key with its 8-byte key id."""

    __slots__ = ("_key_id", "_private", "_public")

    def __init__(self, key_id: bytes, private_key: Ed25519PrivateKey) -> None:
        if len(key_id) != _KEY_ID_LEN:
            raise MinisignError(f"secret key: key id must be {_KEY_ID_LEN} bytes")
        self._key_id = bytes(key_id)
        self._private = private_key
        self._public = PublicKey(
            key_id=self._key_id,
            key=private_key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw),
        )

    def __repr__(self) -> str:
        return f"SecretKey(key_id={self.key_id_hex})"

    @classmethod
    def generate(cls) -> SecretKey:
        """A fresh key pair with a random key id, as ``minisign -G``."""
        return cls(os.urandom(_KEY_ID_LEN), Ed25519PrivateKey.generate())

    @classmethod
    def parse(cls, text: str | bytes, passphrase: bytes | None = None) -> SecretKey:
        """Parse a secret key file: unencrypted (``-G -W``) or scrypt-encrypted.

        ``passphrase`` is the raw passphrase bytes (no trailing newline); it is
        ignored for an unencrypted key.

        Raises:
            PassphraseRequiredError: the key is encrypted and ``passphrase`` is None.
            MinisignError: malformed file, unknown algorithm, unacceptable scrypt
                limits, or a key inconsistent with itself.
            WrongPassphraseError: the passphrase does not decrypt the key.
        """
        lines = _lines(text, "secret key")
        if len(lines) != 2:
            raise MinisignError("secret key: expected a comment line and a key line")
        if not lines[0].startswith(_UNTRUSTED_PREFIX):
            raise MinisignError('secret key: first line must start with "untrusted comment: "')
        raw = _b64decode(lines[1], _SECKEY_BLOB_LEN, "secret key")
        sig_alg, kdf_alg, chk_alg = raw[0:2], raw[2:4], raw[4:6]
        salt = raw[6:38]
        opslimit = int.from_bytes(raw[38:46], "little")
        memlimit = int.from_bytes(raw[46:54], "little")
        keynum_sk = raw[54:]
        if sig_alg != _SIG_ALG:
            raise MinisignError("secret key: unsupported signature algorithm")
        if chk_alg != _CHK_BLAKE2B:
            raise MinisignError("secret key: unsupported checksum algorithm")
        encrypted = kdf_alg == _KDF_SCRYPT
        if encrypted:
            if passphrase is None:
                raise PassphraseRequiredError(
                    "secret key: the key is encrypted and no passphrase was given"
                )
            # §2.2: keynum_sk ^= scrypt(passphrase, salt, 104 bytes).
            keynum_sk = _xor(keynum_sk, _scrypt_stream(passphrase, salt, opslimit, memlimit))
        elif kdf_alg != _KDF_NONE:
            raise MinisignError("secret key: unsupported key derivation algorithm")
        key_id = keynum_sk[:_KEY_ID_LEN]
        sk = keynum_sk[_KEY_ID_LEN : _KEY_ID_LEN + _SK_LEN]
        checksum = keynum_sk[_KEY_ID_LEN + _SK_LEN :]
        # §5 minisign pitfall 5: `-G -W` writes an all-zero checksum, which minisign
        # never checks for unencrypted keys; a real checksum is always checked.
        if encrypted or checksum != bytes(_CHECKSUM_LEN):
            if not hmac.compare_digest(checksum, _checksum(key_id, sk)):
                if encrypted:
                    raise WrongPassphraseError("secret key: wrong passphrase for this key")
                raise MinisignError("secret key: checksum mismatch")
        private = Ed25519PrivateKey.from_private_bytes(sk[:32])
        key = cls(key_id, private)
        # §2.2: the second half of the libsodium key is the public key; `minisign -R`
        # trusts it, so it must match the seed.
        if not hmac.compare_digest(key._public.key, sk[32:]):
            raise MinisignError("secret key: public half does not match the seed")
        return key

    @property
    def key_id(self) -> bytes:
        return self._key_id

    @property
    def key_id_hex(self) -> str:
        """The key id as minisign 0.11 prints it."""
        return _key_id_hex(self._key_id)

    @property
    def private_key(self) -> Ed25519PrivateKey:
        """The Ed25519 private key (for other Ed25519 formats, e.g. signed notes)."""
        return self._private

    @property
    def public_key(self) -> PublicKey:
        return self._public

    def to_file_text(
        self,
        passphrase: bytes | None = None,
        *,
        opslimit: int = DEFAULT_OPSLIMIT,
        memlimit: int = DEFAULT_MEMLIMIT,
        untrusted_comment: str = DEFAULT_SECRET_KEY_COMMENT,
    ) -> str:
        """The secret key file text in minisign's layout.

        Without a passphrase: exactly what ``minisign -G -W`` writes (KDF ``\\0\\0``,
        zero salt, limits and checksum). With one: scrypt-encrypted like
        ``minisign -G`` with ``opslimit``/``memlimit`` (lower them only in tests).

        Raises:
            MinisignError: empty passphrase, unusable scrypt limits or bad comment.
        """
        _check_untrusted_comment(untrusted_comment, "secret key")
        seed = self._private.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
        sk = seed + self._public.key
        if passphrase is None:
            blob = (
                _SIG_ALG
                + _KDF_NONE
                + _CHK_BLAKE2B
                + bytes(_SALT_LEN + 8 + 8)
                + self._key_id
                + sk
                + bytes(_CHECKSUM_LEN)
            )
        else:
            if not passphrase:
                raise MinisignError("secret key: empty passphrase")
            salt = os.urandom(_SALT_LEN)
            keynum_sk = self._key_id + sk + _checksum(self._key_id, sk)
            stream = _scrypt_stream(passphrase, salt, opslimit, memlimit)
            blob = (
                _SIG_ALG
                + _KDF_SCRYPT
                + _CHK_BLAKE2B
                + salt
                + opslimit.to_bytes(8, "little")
                + memlimit.to_bytes(8, "little")
                + _xor(keynum_sk, stream)
            )
        return f"{_UNTRUSTED_PREFIX}{untrusted_comment}\n{_b64encode(blob)}\n"

    def _sign(self, message: bytes) -> bytes:
        return self._private.sign(message)


@dataclass(frozen=True)
class Signature:
    """A parsed .minisig file. ``algorithm`` is ``b"ED"`` (prehashed) or ``b"Ed"`` (legacy)."""

    algorithm: bytes
    key_id: bytes
    signature: bytes
    untrusted_comment: str
    trusted_comment: str
    global_signature: bytes

    @property
    def key_id_hex(self) -> str:
        return _key_id_hex(self.key_id)

    @property
    def prehashed(self) -> bool:
        return self.algorithm == _SIG_ALG_HASHED

    def to_file_text(self) -> str:
        """The four-line .minisig text, as minisign writes it."""
        return (
            f"{_UNTRUSTED_PREFIX}{self.untrusted_comment}\n"
            f"{_b64encode(self.algorithm + self.key_id + self.signature)}\n"
            f"{_TRUSTED_PREFIX}{self.trusted_comment}\n"
            f"{_b64encode(self.global_signature)}\n"
        )


def parse_signature(text: str | bytes) -> Signature:
    """Parse a .minisig file strictly (four lines, LF or CRLF, final LF optional).

    Raises:
        MinisignError: wrong layout, bad base64, wrong lengths, unknown algorithm,
            or a trusted comment minisign would refuse.
    """
    what = "signature"
    lines = _lines(text, what)
    if len(lines) != 4:
        raise MinisignError("signature: expected exactly 4 lines")
    if not lines[0].startswith(_UNTRUSTED_PREFIX):
        raise MinisignError('signature: line 1 must start with "untrusted comment: "')
    if not lines[2].startswith(_TRUSTED_PREFIX):
        raise MinisignError('signature: line 3 must start with "trusted comment: "')
    untrusted = lines[0][len(_UNTRUSTED_PREFIX) :]
    _check_untrusted_comment(untrusted, what)
    trusted = lines[2][len(_TRUSTED_PREFIX) :]
    _trusted_comment_bytes(trusted, what)
    blob = _b64decode(lines[1], _SIG_BLOB_LEN, what)
    algorithm = blob[:2]
    if algorithm not in (_SIG_ALG_HASHED, _SIG_ALG):
        raise MinisignError("signature: unsupported signature algorithm")
    global_signature = _b64decode(lines[3], _SIG_LEN, "trusted comment signature")
    return Signature(
        algorithm=algorithm,
        key_id=blob[2:10],
        signature=blob[10:],
        untrusted_comment=untrusted,
        trusted_comment=trusted,
        global_signature=global_signature,
    )


def _is_bytes(data: object) -> bool:
    return isinstance(data, bytes | bytearray | memoryview)


def _prehash(data: bytes | bytearray | memoryview | BinaryIO) -> bytes:
    # §2.3: ED signs the unkeyed BLAKE2b-512 of the exact file bytes; streamed in
    # 64 KiB reads (§2.4) so memory stays constant.
    h = hashes.Hash(hashes.BLAKE2b(64))
    if _is_bytes(data):
        h.update(data)  # type: ignore[arg-type]
        return h.finalize()
    stream: BinaryIO = data  # type: ignore[assignment]
    buf = bytearray(_CHUNK)
    view = memoryview(buf)
    readinto = getattr(stream, "readinto", None)
    while True:
        if readinto is not None:
            n = readinto(buf)
            if not n:
                break
            h.update(view[:n])
        else:
            chunk = stream.read(_CHUNK)
            if not chunk:
                break
            h.update(chunk)
    return h.finalize()


def _read_all(data: bytes | bytearray | memoryview | BinaryIO) -> bytes:
    # Legacy Ed25519 signs the whole message at once (minisign also loads it whole).
    if _is_bytes(data):
        return bytes(data)  # type: ignore[arg-type]
    return data.read()  # type: ignore[union-attr]


def sign(
    secret: SecretKey,
    data: bytes | BinaryIO,
    *,
    trusted_comment: str,
    untrusted_comment: str = DEFAULT_SIGNATURE_COMMENT,
    prehash: bool = True,
) -> str:
    """Sign ``data`` (bytes, or a binary stream read to EOF); return the .minisig text.

    Prehashed ``ED`` by default, as ``minisign -S`` (0.10+); ``prehash=False`` writes
    legacy ``Ed`` (``minisign -S -l``), which holds the whole message in memory.

    Raises:
        MinisignError: a comment is not one printable line or is too long.
    """
    tc = _trusted_comment_bytes(trusted_comment, "signature")
    _check_untrusted_comment(untrusted_comment, "signature")
    if prehash:
        algorithm, message = _SIG_ALG_HASHED, _prehash(data)
    else:
        algorithm, message = _SIG_ALG, _read_all(data)
    signature = secret._sign(message)
    # §2.3 line 4: the global signature covers signature || trusted comment bytes.
    global_signature = secret._sign(signature + tc)
    return Signature(
        algorithm=algorithm,
        key_id=secret.key_id,
        signature=signature,
        untrusted_comment=untrusted_comment,
        trusted_comment=trusted_comment,
        global_signature=global_signature,
    ).to_file_text()


def verify(
    public: PublicKey | Sequence[PublicKey],
    data: bytes | BinaryIO,
    signature_text: str | bytes,
    *,
    prehashed_only: bool = False,
) -> Signature:
    """Verify a .minisig over ``data`` with one trusted key or any of several.

    Checks, in minisign's order: the key id names a trusted key, the signature over
    the data (``ED`` streamed, or legacy ``Ed`` unless ``prehashed_only``, which is
    ``minisign -V -H``), and always the global signature over the trusted comment.

    Returns:
        The parsed Signature; its ``trusted_comment`` is authenticated.

    Raises:
        MinisignError: the signature text is malformed.
        InvalidSignature: unknown key id, bad signature or bad comment signature.
    """
    sig = parse_signature(signature_text)
    keys = [public] if isinstance(public, PublicKey) else list(public)
    candidates = [k for k in keys if hmac.compare_digest(k.key_id, sig.key_id)]
    if not candidates:
        raise InvalidSignature("signature was made by a key that is not trusted")
    if sig.prehashed:
        message = _prehash(data)
    elif prehashed_only:
        raise InvalidSignature("legacy (non-prehashed) signature refused")
    else:
        message = _read_all(data)
    tc = sig.trusted_comment.encode("utf-8")
    for key in candidates:
        try:
            verifier = key._verifier()
            verifier.verify(sig.signature, message)
        except (_PycaInvalidSignature, ValueError):
            continue
        try:
            verifier.verify(sig.global_signature, sig.signature + tc)
        except _PycaInvalidSignature:
            raise InvalidSignature("trusted comment signature verification failed") from None
        return sig
    raise InvalidSignature("signature verification failed")
