"""The push-parser base of the structural checkers."""

from __future__ import annotations

from collections.abc import Callable

from cluetool.validate.attachments.common import Problem


class Parser:
    """Base of the structural checkers: a push parser over arbitrary chunks.

    A subclass asks for the next ``n`` bytes with ``_want(n, handler)`` (buffered, so
    ``n`` must stay small) and passes over bytes with ``_skip``; skipping happens before
    the next wanted bytes are collected. ``pos`` is the absolute offset of the next
    byte. The first problem stops the parse (later bytes are still hashed elsewhere).
    """

    def __init__(self) -> None:
        self.pos = 0
        self.problem: Problem | None = None
        self._buf = bytearray()
        self._need = 0
        self._handler: Callable[[bytes], None] | None = None
        self._skip = 0

    def _want(self, n: int, handler: Callable[[bytes], None]) -> None:
        self._need = n
        self._handler = handler

    def _fail(self, code: str, message: str) -> None:
        if self.problem is None:
            self.problem = (code, message)

    def _special(self, chunk: bytes, i: int) -> int | None:
        """Consume bytes in a mode other than want/skip, advancing ``pos``; return the
        new index, or ``None`` when not in such a mode."""
        return None

    def feed(self, chunk: bytes) -> None:
        i, n = 0, len(chunk)
        while i < n and self.problem is None:
            if self._skip:
                take = min(self._skip, n - i)
                self._skip -= take
                i += take
                self.pos += take
                continue
            j = self._special(chunk, i)
            if j is not None:
                i = j
                continue
            if self._handler is None:
                raise AssertionError("parser has no pending request")
            take = min(self._need - len(self._buf), n - i)
            self._buf += chunk[i : i + take]
            i += take
            self.pos += take
            if len(self._buf) == self._need:
                data = bytes(self._buf)
                self._buf.clear()
                handler, self._handler = self._handler, None
                handler(data)

    def finish(self) -> list[Problem]:
        if self.problem is None:
            self._at_end()
        return [self.problem] if self.problem else []

    def _at_end(self) -> None:
        raise NotImplementedError


def plural_bytes(n: int) -> str:
    return "1 byte" if n == 1 else f"{n} bytes"
