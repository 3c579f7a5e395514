"""MP4 structure (ISO/IEC 14496-12 §4.2, §4.3).

**MP4** (ISO/IEC 14496-12 §4.2): top-level boxes whose sizes add up exactly to the
file size; the first is ``ftyp`` (size ≥ 16 and a whole number of brands); a size of
1 takes a 64-bit largesize (≥ 16); a size of 0 extends the box to the end of the
file; any other size below 8 is invalid; box types must be printable ASCII; a file
without ``moov`` is ``attachment.structure``.
"""

from __future__ import annotations

import struct

from cluetool.validate.attachments.parser import Parser


class Mp4Parser(Parser):
    def __init__(self) -> None:
        super().__init__()
        self._boxes = 0
        self._box_at = 0
        self._box_type = ""
        self._box_size = 0
        self._to_eof = False
        self._moov = False
        self._want(8, self._on_header)

    def _on_header(self, data: bytes) -> None:
        at = self.pos - 8
        size = struct.unpack_from(">I", data)[0]
        kind = data[4:8]
        printable = all(0x20 <= b <= 0x7E for b in kind)
        name = kind.decode("ascii") if printable else f"0x{kind.hex()}"
        if self._boxes == 0 and kind != b"ftyp":
            self._fail("attachment.structure", f"MP4 does not start with an ftyp box (found {name!r})")
            return
        if not printable:
            self._fail("attachment.structure", f"MP4 box at offset {at} has a non-ASCII type {name}")
            return
        self._boxes += 1
        self._box_at, self._box_type = at, name
        if kind == b"moov":
            self._moov = True
        if size == 1:
            self._want(8, self._on_largesize)
        elif size == 0:
            if kind == b"ftyp":
                self._fail("attachment.structure", "MP4 ftyp box has size 0")
                return
            self._to_eof = True
        elif size < 8:
            self._fail("attachment.structure", f"MP4 box {name!r} at offset {at} has invalid size {size}")
        else:
            self._body(size, 8)

    def _on_largesize(self, data: bytes) -> None:
        size = struct.unpack(">Q", data)[0]
        if size < 16:
            self._fail(
                "attachment.structure",
                f"MP4 box {self._box_type!r} at offset {self._box_at} has invalid largesize {size}",
            )
            return
        self._body(size, 16)

    def _body(self, size: int, header: int) -> None:
        if self._box_type == "ftyp" and (size - header < 8 or (size - header) % 4):
            # §4.3: major_brand, minor_version, then whole 4-byte compatible brands.
            self._fail("attachment.structure", f"MP4 ftyp box has invalid size {size}")
            return
        self._box_size = size
        self._skip = size - header
        self._want(8, self._on_header)

    def _special(self, chunk: bytes, i: int) -> int | None:
        if not self._to_eof:
            return None
        self.pos += len(chunk) - i
        return len(chunk)

    def _at_end(self) -> None:
        if self._skip:
            self._fail(
                "attachment.truncated",
                f"MP4 box {self._box_type!r} at offset {self._box_at} declares {self._box_size} bytes "
                f"but the file ends at offset {self.pos}",
            )
        elif self._buf:
            self._fail("attachment.truncated", f"MP4 ends at offset {self.pos} inside a box header")
        elif not self._moov:
            self._fail("attachment.structure", "MP4 has no moov box")
