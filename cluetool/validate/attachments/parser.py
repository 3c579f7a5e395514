"""The push-parser base of the structural checkers.

Work is bounded by the file size. Bytes a parser does not interpret are skipped in C
(slices, ``bytes.find``, compiled searches); what costs Python time is one step per
structure (JPEG segment, ID3 frame, MP4 box, MPEG frame). The structures other than
MPEG audio frames (which are at least 24 bytes each) are budgeted: at most
``STRUCTURE_BASE + offset // BYTES_PER_STRUCTURE`` of them by any offset, more is
``attachment.structure`` and ends the parse. Real files stay far below (a photo has a
few dozen segments; a fragmented MP4 about ten boxes per fragment of tens of KiB).
``steps`` counts the parser's Python-level steps, the work measure of the tests.
"""

from __future__ import annotations

from collections.abc import Callable

from cluetool.validate.attachments.common import Problem
from cluetool.validate.attachments.signatures import EmbeddedScanner

STRUCTURE_BASE = 1_000
BYTES_PER_STRUCTURE = 4096
#: Metadata fields kept per file (the rest are dropped: the file is flagged already).
METADATA_MAX = 100


class Parser:
    """Base of the structural checkers: a push parser over arbitrary chunks.

    A subclass asks for the next ``n`` bytes with ``_want(n, handler)`` (buffered, so
    ``n`` must stay small) and passes over bytes with ``_skip`` (or ``_skip_opaque``,
    which also feeds them to the embedded-content scanner); skipping happens before
    the next wanted bytes are collected. ``pos`` is the absolute offset of the next
    byte. The first problem stops the parse (later bytes are still hashed elsewhere);
    ``notes`` are problems that do not (a limit exceeded), ``metadata`` what was read.
    """

    kind = "file"

    def __init__(self, *, max_pixels: int | None = None) -> None:
        self.pos = 0
        self.problem: Problem | None = None
        self.notes: list[Problem] = []
        self.metadata: list[tuple[str, str, str]] = []
        self.scanner = EmbeddedScanner()
        self.steps = 0
        self.structures = 0
        self.max_pixels = max_pixels
        self._buf = bytearray()
        self._need = 0
        self._handler: Callable[[bytes], None] | None = None
        self._skip = 0
        self._scan_skip = False

    def _want(self, n: int, handler: Callable[[bytes], None]) -> None:
        self._need = n
        self._handler = handler

    def _skip_opaque(self, n: int) -> None:
        """Skip ``n`` bytes that no parser reads, scanning them for embedded content."""
        if n <= 0:
            return
        self._skip = n
        self._scan_skip = True
        self.scanner.begin(self.pos)

    def _structure(self, what: str) -> bool:
        """Count one structure against the budget; False (and a problem) when over."""
        self.structures += 1
        if self.structures > STRUCTURE_BASE + self.pos // BYTES_PER_STRUCTURE:
            self._fail("attachment.structure",
                       f"{self.kind} has more than {self.structures - 1} {what}s by offset {self.pos}"
                       f" (at most {STRUCTURE_BASE} + 1 per {BYTES_PER_STRUCTURE} bytes)")
            return False
        return True

    def _meta(self, item: tuple[str, str, str]) -> None:
        if len(self.metadata) < METADATA_MAX:
            self.metadata.append(item)

    def _fail(self, code: str, message: str) -> None:
        if self.problem is None:
            self.problem = (code, message)

    def _note(self, code: str, message: str) -> None:
        if all(c != code for c, _ in self.notes):
            self.notes.append((code, message))

    def _special(self, chunk: bytes, i: int) -> int | None:
        """Consume bytes in a mode other than want/skip, advancing ``pos``; return the
        new index, or ``None`` when not in such a mode."""
        return None

    def feed(self, chunk: bytes) -> None:
        i, n = 0, len(chunk)
        while i < n and self.problem is None:
            self.steps += 1
            if self._skip:
                take = min(self._skip, n - i)
                if self._scan_skip:
                    self.scanner.feed(chunk[i : i + take])
                self._skip -= take
                i += take
                self.pos += take
                if not self._skip and self._scan_skip:
                    self._scan_skip = False
                    self.scanner.end()
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
        if self._scan_skip:
            self._scan_skip = False
            self.scanner.end()
        if self.problem is None:
            self._at_end()
        problems = [self.problem] if self.problem else []
        return problems + self.notes + self.scanner.problems()

    def _at_end(self) -> None:
        raise NotImplementedError

    def _pixels(self, what: str, width: int, height: int) -> None:
        if self.max_pixels is not None and width * height > self.max_pixels:
            self._note("attachment.dimensions",
                       f"{what} declares {width} x {height} pixels ({width * height / 1e6:.1f} megapixels),"
                       f" more than the limit of {self.max_pixels / 1e6:g} megapixels")


def plural_bytes(n: int) -> str:
    return "1 byte" if n == 1 else f"{n} bytes"
