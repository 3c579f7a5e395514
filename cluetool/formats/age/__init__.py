"""age v1 file encryption: C2SP age (https://c2sp.org/age, tag ``age/v1.1.0``).

Implements the v1 header (X25519 and scrypt recipient stanzas, header MAC), the
STREAM payload (ChaCha20-Poly1305, 64 KiB chunks) and the ASCII armor, strictly:
every "MUST reject" of the spec and of the C2SP CCTV test vectors is enforced.
Files written here are readable by the age 1.1.1 CLI, and files it writes are
read here. Encryption and decryption stream with constant memory (one chunk).

Use ``cluetool.seal``/``cluetool.verify`` unless you are implementing the format.

The post-quantum hybrid type ``mlkem768x25519`` (age 1.3) is implemented in
``hybrid.py`` (ML-KEM-768 from pyca/cryptography). Hardware-tag and SSH recipient
types are not: they raise :class:`UnsupportedRecipientError` when they are the only
way into a file, and their key strings are refused.
"""

from __future__ import annotations

from .errors import (
    AgeError,
    ArmorError,
    HeaderError,
    KeyFormatError,
    MacError,
    NoIdentityMatchError,
    PayloadError,
    UnsupportedRecipientError,
)
from .header import MAX_HEADER_SIZE, VERSION_LINE
from .hybrid import HybridIdentity, HybridRecipient
from .recipients import (
    Identity,
    KeyIdentity,
    Recipient,
    ScryptIdentity,
    ScryptRecipient,
    X25519Identity,
    X25519Recipient,
    parse_identities,
    parse_identity,
    parse_recipient,
)
from .stream import CHUNK_SIZE, DecryptReader, EncryptWriter, decrypt, encrypt

__all__ = [
    "CHUNK_SIZE",
    "MAX_HEADER_SIZE",
    "VERSION_LINE",
    "AgeError",
    "ArmorError",
    "DecryptReader",
    "EncryptWriter",
    "HeaderError",
    "HybridIdentity",
    "HybridRecipient",
    "Identity",
    "KeyIdentity",
    "KeyFormatError",
    "MacError",
    "NoIdentityMatchError",
    "PayloadError",
    "Recipient",
    "ScryptIdentity",
    "ScryptRecipient",
    "UnsupportedRecipientError",
    "X25519Identity",
    "X25519Recipient",
    "decrypt",
    "encrypt",
    "parse_identities",
    "parse_identity",
    "parse_recipient",
]
