"""The two reads of a batch's ``payload.age`` (authenticate, then parse).

The first read hashes the whole ciphertext as stored and keeps its first bytes (the age
header and the payload nonce, at most ``PIN_MAX``); nothing is decrypted or parsed
before that hash matched the signed manifest. The second read, from the same file
descriptor, decrypts: it is served the kept bytes from memory and the rest from the
file. So the header, and with it the file key and the payload nonce, are exactly those
that were hashed; every later chunk is authenticated by its ChaCha20-Poly1305 tag under
that key (C2SP age §"Payload"), so bytes that changed between the two reads fail to
decrypt instead of being parsed.
"""

from __future__ import annotations

import hashlib
import os

from cluetool.formats import ustar

#: The kept prefix: an age header of the few recipients a manifest can name fits easily.
PIN_MAX = 256 * 1024
_VERSION_LINE = b"age-encryption.org/v1\n"
_NONCE = 16


class HashedPayload:
    """The first read: the ciphertext's sha256 and size, and its first bytes."""

    def __init__(self) -> None:
        self.sha = hashlib.sha256()
        self.size = 0
        self.pinned = bytearray()

    def read_from(self, member: ustar.Member) -> None:
        """Hash the member's remaining data.

        Raises:
            ustar.UstarError: the archive ends inside the data.
        """
        while data := member.read(1 << 20):
            self.sha.update(data)
            if len(self.pinned) < PIN_MAX:
                self.pinned += data[: PIN_MAX - len(self.pinned)]
            self.size += len(data)


class HeaderFacts:
    """What the kept prefix says about the age header: its stanza count, or a problem."""

    def __init__(self, stanzas: int = 0, problem: str | None = None) -> None:
        self.stanzas = stanzas
        self.problem = problem


def header_facts(pinned: bytes, size: int) -> HeaderFacts:
    """Count the recipient stanzas of a binary age header (after the hash matched)."""
    if not pinned.startswith(_VERSION_LINE):
        return HeaderFacts(problem="payload.age is not a binary age v1 file")
    end = pinned.find(b"\n--- ")
    if end < 0 or pinned.find(b"\n", end + 1) < 0:
        return HeaderFacts(problem=f"the age header is missing or longer than {PIN_MAX} bytes")
    mac_end = pinned.find(b"\n", end + 1) + 1
    if mac_end + _NONCE > len(pinned) and len(pinned) < size:
        return HeaderFacts(problem=f"the age header is longer than {PIN_MAX} bytes")
    # Stanza body lines are base64, so "-> " only starts a stanza's argument line.
    lines = pinned[len(_VERSION_LINE): end + 1].split(b"\n")
    return HeaderFacts(stanzas=sum(1 for line in lines if line.startswith(b"-> ")))


class PinnedReader:
    """The second read: the kept prefix from memory, then the file from where it ends,
    by position (``pread``), up to the payload's size."""

    def __init__(self, fd: int, offset: int, size: int, pinned: bytes) -> None:
        self._fd = fd
        self._offset = offset
        self._size = size
        self._pinned = bytes(pinned)
        self._pos = 0

    def read(self, n: int = -1) -> bytes:
        left = self._size - self._pos
        if n < 0 or n > left:
            n = left
        if n <= 0:
            return b""
        if self._pos < len(self._pinned):
            data = self._pinned[self._pos: self._pos + n]
        else:
            data = os.pread(self._fd, n, self._offset + self._pos)
            if not data:
                raise ustar.UstarError("the batch file ended inside payload.age")
        self._pos += len(data)
        return data

    def readinto(self, buf: memoryview | bytearray) -> int:
        data = self.read(len(buf))
        buf[: len(data)] = data
        return len(data)
