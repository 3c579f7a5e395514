"""Input plumbing of the age reader: a byte source with a pushback buffer."""

from __future__ import annotations

from typing import Protocol

from .errors import AgeError, HeaderError


class _ByteSource(Protocol):
    """What the reader reads from: a binary file, or the armor decoder over one."""

    def read(self, n: int, /) -> bytes: ...


class _Input:
    """A byte source with a small pushback buffer, for line-wise header reads
    followed by bulk payload reads."""

    __slots__ = ("_pending", "_read", "_readinto", "_src", "_step")

    def __init__(self, src: _ByteSource, step: int) -> None:
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
