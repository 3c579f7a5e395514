"""C2SP tlog-cosignature (c2sp.org/tlog-cosignature), the Ed25519 ``cosignature/v1``
type: a witness's timestamped note signature over a checkpoint.

- key ID: ``SHA-256(<name> || 0x0A || 0x04 || 32-byte Ed25519 public key)[:4]``
  (signed-note signature type 0x04);
- signed message: ``cosignature/v1\\n`` || ``time <POSIX seconds, no leading zeros>\\n``
  || the whole checkpoint note body (with extension lines, final newline, no signature
  lines);
- signature line: ``— <name> base64(key ID || u64 big-endian timestamp || 64-byte
  Ed25519 signature)``, appended to the checkpoint's signature lines.

Semantics (spec §Ed25519 signed message): as of that time, the consistent tree head with
the largest size the cosigner has observed for the origin has that root. Verifier keys
may be written as vkeys of type 0x04 (``<name>+<key id>+base64(0x04 || key)``).

Use cluetool.audit (``audit witness``) unless implementing the format.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from typing import NamedTuple

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from .note import InvalidNoteSignature, MalformedNote, _valid_name

SIG_TYPE_COSIGNATURE_V1 = 0x04
HEADER = b"cosignature/v1\n"
_EM_DASH = "\u2014 "
_MAX_TIMESTAMP = 2**63 - 1


class Cosignature(NamedTuple):
    """A verified cosignature: the cosigner's name and the time it signed."""

    name: str
    timestamp: int


def cosigner_key_id(name: str, public_key: bytes) -> int:
    """The tlog-cosignature Ed25519 key ID as a uint32."""
    digest = hashlib.sha256(name.encode("utf-8") + b"\n" + bytes([SIG_TYPE_COSIGNATURE_V1]) + public_key).digest()
    return int.from_bytes(digest[:4], "big")


def signed_message(body: str, timestamp: int) -> bytes:
    """The bytes an Ed25519 cosignature/v1 signs for a checkpoint ``body`` (the note text).

    Raises:
        ValueError: the timestamp is negative or above 2**63 - 1, or the body does not
            end in a newline.
    """
    if not isinstance(timestamp, int) or isinstance(timestamp, bool) or not 0 <= timestamp <= _MAX_TIMESTAMP:
        raise ValueError("cosignature timestamp must be between 0 and 2**63 - 1")
    if not body.endswith("\n"):
        raise ValueError("checkpoint body must end in a newline")
    return HEADER + b"time %d\n" % timestamp + body.encode("utf-8")


def _split(note: str) -> tuple[str, str]:
    split = note.rfind("\n\n")
    if split < 0 or not note.endswith("\n"):
        raise MalformedNote("not a signed note")
    return note[: split + 1], note[split + 2 :]


class CosignatureVerifier:
    """A cosigner's name and Ed25519 public key."""

    __slots__ = ("key_id", "name", "public_bytes", "_key")

    def __init__(self, name: str, public_key: bytes) -> None:
        """Raises: ValueError: an invalid key name or a key that is not 32 bytes."""
        if not _valid_name(name):
            raise ValueError("invalid cosigner name")
        if len(public_key) != 32:
            raise ValueError("Ed25519 public key must be 32 bytes")
        self.name = name
        self.public_bytes = bytes(public_key)
        self._key = Ed25519PublicKey.from_public_bytes(self.public_bytes)
        self.key_id = cosigner_key_id(name, self.public_bytes)

    @property
    def vkey(self) -> str:
        blob = base64.b64encode(bytes([SIG_TYPE_COSIGNATURE_V1]) + self.public_bytes).decode("ascii")
        return f"{self.name}+{self.key_id:08x}+{blob}"

    @classmethod
    def from_vkey(cls, vkey: str) -> CosignatureVerifier:
        """Parse ``<name>+<key id>+base64(0x04 || key)``.

        Raises:
            MalformedNote: not such a vkey, or its key ID does not match.
        """
        parts = vkey.strip().split("+", 2)
        if len(parts) != 3 or not _valid_name(parts[0]):
            raise MalformedNote("not a cosigner verifier key")
        try:
            raw = base64.b64decode(parts[2], validate=True)
        except (binascii.Error, ValueError):
            raise MalformedNote("cosigner verifier key is not base64") from None
        if len(raw) != 33 or raw[0] != SIG_TYPE_COSIGNATURE_V1:
            raise MalformedNote("not an Ed25519 cosignature (type 0x04) key")
        verifier = cls(parts[0], raw[1:])
        if parts[1] != f"{verifier.key_id:08x}":
            raise MalformedNote("cosigner verifier key ID does not match its name and key")
        return verifier

    def find(self, note: str) -> Cosignature:
        """The cosignature by this key on ``note``, verified.

        Raises:
            MalformedNote: not a signed note, or a malformed line of this cosigner.
            InvalidNoteSignature: no cosignature by this key, or it does not verify.
        """
        body, block = _split(note)
        found = False
        for line in block[:-1].split("\n"):
            if not line.startswith(_EM_DASH):
                raise MalformedNote("a signature line does not start with an em dash")
            name, _, b64 = line[len(_EM_DASH):].partition(" ")
            if name != self.name:
                continue
            try:
                blob = base64.b64decode(b64, validate=True)
            except (binascii.Error, ValueError):
                raise MalformedNote("a cosignature line is not base64") from None
            if len(blob) < 4 or int.from_bytes(blob[:4], "big") != self.key_id:
                continue
            found = True
            if len(blob) != 4 + 8 + 64:
                raise MalformedNote("a cosignature is not a key ID, a timestamp and an Ed25519 signature")
            timestamp = int.from_bytes(blob[4:12], "big")
            if timestamp > _MAX_TIMESTAMP:
                raise InvalidNoteSignature("cosignature timestamp exceeds 2**63 - 1")
            try:
                self._key.verify(blob[12:], signed_message(body, timestamp))
            except InvalidSignature:
                raise InvalidNoteSignature(f"invalid cosignature by {self.name}") from None
            return Cosignature(self.name, timestamp)
        raise InvalidNoteSignature(f"no {'valid ' if found else ''}cosignature by {self.name}+{self.key_id:08x}")


class CosignatureSigner:
    """A cosigner: a name and an Ed25519 private key."""

    __slots__ = ("_key", "verifier")

    def __init__(self, name: str, private_key: Ed25519PrivateKey) -> None:
        """Raises: ValueError: an invalid key name."""
        self._key = private_key
        self.verifier = CosignatureVerifier(name, private_key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw))

    def cosign(self, note: str, timestamp: int) -> str:
        """``note`` (a signed checkpoint) with this cosigner's signature line appended.

        Raises:
            MalformedNote: not a signed note.
            ValueError: a bad timestamp.
        """
        body, block = _split(note)
        v = self.verifier
        sig = self._key.sign(signed_message(body, timestamp))
        blob = v.key_id.to_bytes(4, "big") + timestamp.to_bytes(8, "big") + sig
        return f"{body}\n{block}{_EM_DASH}{v.name} {base64.b64encode(blob).decode('ascii')}\n"
