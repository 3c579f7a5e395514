"""JPEG structure (ITU-T T.81 Annex B).

SOI ``FF D8``, then a marker; segment lengths ≥ 2; fill bytes ``FF`` before markers
allowed (B.1.1.2); SOF and SOS headers checked against their component counts; an SOS
before any SOF, a second SOI, an RST outside a scan or a marker code ``00`` is
``attachment.structure``; entropy-coded data is walked (``FF 00`` stuffing, RST0–7) to
the next marker; an EOI without a scan is ``attachment.structure``; data after EOI is
``attachment.trailing_data``.

Linear time: runs of fill bytes and the entropy-coded data are crossed with one
compiled search per chunk, not a step per byte; segments are budgeted (``parser``).
The bodies of APPn, COM, JPGn and reserved-marker segments are opaque: they are
scanned for embedded content (``signatures``). An ``Exif`` APP1 segment is read for
metadata (``exif``). A frame of more than ``max_pixels`` is ``attachment.dimensions``.
"""

from __future__ import annotations

from cluetool.validate.attachments.exif import exif_metadata
from cluetool.validate.attachments.parser import Parser, plural_bytes

# Start-of-frame markers (T.81 Table B.1): C0–C3, C5–C7, C9–CB, CD–CF. C4 (DHT), C8
# (JPG) and CC (DAC) are not frames.
_SOF = frozenset({0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF})
# Segments whose bodies are tables the decoder reads (DHT, DAC, DQT, DNL, DRI, DHP, EXP):
# not opaque. Every other segment with a length (APPn, COM, JPG, JPGn, reserved) is.
_TABLES = frozenset({0xC4, 0xCC, 0xDB, 0xDC, 0xDD, 0xDE, 0xDF})


# Entropy-coded data seen through a table: FF -> "F"; 00 and RST0-7 (what may follow
# an FF inside a scan) -> "0"; every other byte -> "x". The scan ends at the first
# "Fx" (an FF, perhaps the last of a run of fill bytes, then a marker code), and a run
# of fill bytes ends at the first byte that is not "F": both found by bytes.find in C.
_CLASSES = bytes(
    0x46 if b == 0xFF else 0x30 if b == 0x00 or 0xD0 <= b <= 0xD7 else 0x78 for b in range(256)
)
_IS_FF = bytes(0x46 if b == 0xFF else 0x2E for b in range(256))


def _scan_end(chunk: bytes, i: int) -> int:
    """Offset from ``i`` of the first FF that ends the scan (followed by a marker code
    in this chunk), or -1. Sparse FFs (normal entropy-coded data: an FF 00 every few
    hundred bytes) are stepped over with ``bytes.find``; dense ones through the table."""
    n = len(chunk)
    if chunk.count(b"\xff", i, min(n, i + 65536)) > 256:
        return chunk[i:].translate(_CLASSES).find(b"Fx")
    j = chunk.find(b"\xff", i)
    steps = 0
    while j >= 0 and j + 1 < n:
        nxt = chunk[j + 1]
        if nxt != 0x00 and not 0xD0 <= nxt <= 0xD7 and nxt != 0xFF:
            return j - i
        steps += 1
        if steps > 512:  # denser than it looked: let the table take the rest
            k = chunk[j:].translate(_CLASSES).find(b"Fx")
            return -1 if k < 0 else j - i + k
        j = chunk.find(b"\xff", j + 1)
    return -1


_FF_BLOCK = b"\xff" * (1 << 20)


def _run_end(chunk: bytes, i: int) -> int:
    """The index of the first byte other than FF at or after ``i``."""
    if i >= len(chunk) or chunk[i] != 0xFF:
        return i
    rest = len(chunk) - i
    if rest <= len(_FF_BLOCK) and chunk.endswith(_FF_BLOCK[:rest]):
        return len(chunk)  # all fill: one memcmp
    j = chunk[i:].translate(_IS_FF).find(b".")
    return len(chunk) if j < 0 else i + j
_EXIF = b"Exif\x00\x00"


class JpegParser(Parser):
    kind = "JPEG"

    def __init__(self, *, max_pixels: int | None = None) -> None:
        super().__init__(max_pixels=max_pixels)
        self._marker = 0
        self._marker_at = 0
        self._body_at = 0
        self._sof = False
        self._sos = False
        self._scanning = False
        self._scan_ff = False
        self._fill = False
        self._done = False
        self._eoi_end = 0
        self.trailing = 0
        self._want(3, self._on_soi)

    def _on_soi(self, data: bytes) -> None:
        if data[:2] != b"\xff\xd8":
            self._fail("attachment.structure", "JPEG does not start with SOI (FF D8)")
        elif data[2] != 0xFF:
            self._fail("attachment.structure", "JPEG SOI is not followed by a marker")
        else:
            self._marker_at = 2
            self._want(1, self._on_marker_code)

    def _expect_marker(self) -> None:
        self._want(1, self._on_marker_prefix)

    def _on_marker_prefix(self, data: bytes) -> None:
        if data[0] != 0xFF:
            self._fail(
                "attachment.structure",
                f"JPEG expected a marker at offset {self.pos - 1}, found byte 0x{data[0]:02X}",
            )
            return
        self._marker_at = self.pos - 1
        self._want(1, self._on_marker_code)

    def _on_marker_code(self, data: bytes) -> None:
        code = data[0]
        at = self._marker_at
        if code == 0xFF:  # B.1.1.2: any marker may be preceded by fill bytes.
            self._marker_at = self.pos - 1
            self._fill = True  # the rest of the run is crossed in _special
            self._want(1, self._on_marker_code)
            return
        if not self._structure("segment"):
            return
        if code == 0x00:
            self._fail("attachment.structure", f"JPEG invalid marker FF 00 at offset {at}")
        elif code == 0xD8:
            self._fail("attachment.structure", f"JPEG second SOI marker at offset {at}")
        elif code == 0xD9:
            if not self._sos:
                self._fail("attachment.structure", "JPEG has no scan (SOS) before EOI")
            else:
                self._done = True
                self._eoi_end = self.pos
        elif 0xD0 <= code <= 0xD7:
            self._fail("attachment.structure", f"JPEG restart marker outside a scan at offset {at}")
        elif code == 0x01:  # TEM: standalone, no length (B.1.1.3).
            self._expect_marker()
        else:
            self._marker = code
            self._want(2, self._on_length)

    def _on_length(self, data: bytes) -> None:
        length = (data[0] << 8) | data[1]
        if length < 2:
            self._fail(
                "attachment.structure",
                f"JPEG segment FF {self._marker:02X} at offset {self._marker_at} has length {length}",
            )
            return
        body = length - 2
        self._body_at = self.pos
        if self._marker in _SOF or self._marker == 0xDA:
            handler = self._on_sos if self._marker == 0xDA else self._on_sof
            if body:
                self._want(body, handler)  # at most 65533 bytes
            else:
                handler(b"")
        elif self._marker == 0xE1 and body >= len(_EXIF):
            self._want(body, self._on_app1)  # at most 65533 bytes, read for metadata
        elif self._marker in _TABLES:
            self._skip = body
            self._expect_marker()
        else:
            self._skip_opaque(body)
            self._expect_marker()

    def _on_app1(self, data: bytes) -> None:
        self.scanner.region(data, self._body_at)
        if data.startswith(_EXIF):
            for item in exif_metadata(data[len(_EXIF):]):
                self._meta(item)
        self._expect_marker()

    def _on_sof(self, data: bytes) -> None:
        # B.2.2: P, Y(2), X(2), Nf, then 3 bytes per component; Lf = 8 + 3 * Nf.
        if len(data) < 6 or data[5] == 0 or len(data) != 6 + 3 * data[5]:
            self._fail("attachment.structure", f"JPEG frame header at offset {self._marker_at} is malformed")
            return
        height, width = data[1] << 8 | data[2], data[3] << 8 | data[4]
        if width == 0:
            self._fail("attachment.structure", "JPEG frame width is 0")
            return
        self._pixels("JPEG frame", width, height)  # a height of 0 comes later in DNL
        self._sof = True
        self._expect_marker()

    def _on_sos(self, data: bytes) -> None:
        # B.2.3: Ns, 2 bytes per component, Ss, Se, Ah/Al; Ls = 6 + 2 * Ns, 1 <= Ns <= 4.
        if not self._sof:
            self._fail("attachment.structure", f"JPEG scan at offset {self._marker_at} comes before any frame header")
            return
        if len(data) < 1 or not 1 <= data[0] <= 4 or len(data) != 4 + 2 * data[0]:
            self._fail("attachment.structure", f"JPEG scan header at offset {self._marker_at} is malformed")
            return
        self._sos = True
        self._scanning = True

    def _special(self, chunk: bytes, i: int) -> int | None:
        if self._done:
            self.trailing += len(chunk) - i
            self.pos += len(chunk) - i
            return len(chunk)
        if self._fill:
            # A run of fill bytes: find its end in one C-level pass.
            j = _run_end(chunk, i)
            if j > i:
                self._marker_at = self.pos + (j - i) - 1
                self.pos += j - i
                return j
            self._fill = False
            return None  # the byte after the run is the marker code (pending _want)
        if not self._scanning:
            return None
        if self._scan_ff:
            # The byte after an FF that ended the previous chunk (B.1.1.5, F.1.2.3):
            # 00 is stuffing, RST0-7 sit inside the scan, FF is a fill byte, anything
            # else is the marker that ends the scan.
            j = _run_end(chunk, i)
            if j > i:  # more fill bytes
                self._marker_at = self.pos + (j - i) - 1
                self.pos += j - i
                return j
            code = chunk[i]
            self.pos += 1
            if code == 0x00 or 0xD0 <= code <= 0xD7:
                self._scan_ff = False
            else:
                self._scan_ff = False
                self._scanning = False
                self._on_marker_code(bytes((code,)))
            return i + 1
        k = _scan_end(chunk, i)
        if k < 0:
            # No marker here; an FF at the very end decides with the next chunk's byte.
            self.pos += len(chunk) - i
            if chunk[-1] == 0xFF:
                self._scan_ff = True
                self._marker_at = self.pos - 1
            return len(chunk)
        j = i + k
        self._marker_at = self.pos + (j - i)
        self.pos += j + 2 - i
        self._scanning = False
        self._on_marker_code(chunk[j + 1 : j + 2])
        return j + 2

    def _at_end(self) -> None:
        if self._done:
            if self.trailing:
                self._fail(
                    "attachment.trailing_data",
                    f"{plural_bytes(self.trailing)} of data after the JPEG EOI marker at offset {self._eoi_end}",
                )
            return
        self._fail("attachment.truncated", f"JPEG ends at offset {self.pos} before its EOI marker")
