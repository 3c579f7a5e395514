"""MP3 structure (ISO/IEC 11172-3 §2.4.1.3, ISO/IEC 13818-3; ID3v2.3/2.4 §3.1).

**MP3**: an optional ID3v2.2/2.3/2.4 tag (valid version, no undefined flags, syncsafe
size, footer in v2.4) then MPEG audio frames back to back, each header valid (sync,
version not reserved, **Layer III only** — an MPEG Layer I/II file is not an mp3,
bitrate index not free (0) or bad (15), sampling-rate index not reserved, emphasis
not reserved) and of the same version, layer and sampling rate as the first. Every
frame is walked by its computed length to the end of the file. Zero padding between
the tag and the first frame is not allowed (ID3v2.4 §3.3 puts padding inside the tag
size). At the end an APEv2 tag with a header and/or a 128-byte ID3v1 tag may follow;
APEv1 and Lyrics3 tags are not recognised (rare, and not skippable without looking
backwards).

The ID3v2 tag is walked frame by frame (v2.2 6-byte, v2.3/2.4 10-byte headers; an
extended header is skipped; a frame must fit in the tag; a frame id is ``[A-Z0-9]``):
each frame body and the padding are opaque and scanned for embedded content
(``signatures``); personal frames (``TXXX``, ``COMM``, ``PRIV`` …) are read as
metadata. An unsynchronised v2.2/2.3 tag is scanned as one region. Frames whose
4-byte header was seen before are walked with one dict look-up each, and runs of
identical headers (constant bitrate) with strided slices.
"""

from __future__ import annotations

import struct

from cluetool.validate.attachments.parser import Parser, plural_bytes

_MPEG1, _MPEG2, _MPEG25 = 3, 2, 0  # the 2-bit version ID
_SAMPLE_RATES = {
    _MPEG1: (44100, 48000, 32000),
    _MPEG2: (22050, 24000, 16000),
    _MPEG25: (11025, 12000, 8000),
}
# Layer III bitrates in kbit/s by bitrate_index 1..14.
_L3_BITRATES = {
    _MPEG1: (0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320),
    _MPEG2: (0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160),
}
_ID3_UNDEFINED_FLAGS = {2: 0x3F, 3: 0x1F, 4: 0x0F}
# ID3 frames that can name or reach a person (v2.3/2.4 ids, then v2.2): owner/licensee,
# encoded by, user text and links, comments, private and unique ids, popularimeter
# (an e-mail), ownership, encapsulated objects, terms of use.
_PERSONAL = frozenset({"TOWN", "TENC", "TXXX", "WXXX", "COMM", "PRIV", "UFID", "POPM", "OWNE", "GEOB", "USER",
                       "TEN", "TXX", "WXX", "COM", "UFI", "POP", "GEO"})
_PERSONAL_MAX = 64 * 1024
_ENCODINGS = {0: "latin-1", 1: "utf-16", 2: "utf-16-be", 3: "utf-8"}


def _syncsafe(data: bytes) -> int:
    return (data[0] & 0x7F) << 21 | (data[1] & 0x7F) << 14 | (data[2] & 0x7F) << 7 | (data[3] & 0x7F)


def _same_headers(chunk: bytes, i: int, header: bytes, length: int) -> int:
    """How many frames from ``i`` on start with ``header`` and are whole in ``chunk``,
    every ``length`` bytes (a constant-bitrate run), found with four strided slices."""
    k = (len(chunk) - i) // length
    if k < 8:
        return 0
    run = k
    for b in range(4):
        column = chunk[i + b : i + b + k * length : length]
        run = min(run, k - len(column.lstrip(header[b : b + 1])))
        if run < 2:
            return run
    return run


def _id3_value(name: str, data: bytes) -> str:
    """A short readable form of a frame body (text frames decoded, others up to NUL)."""
    if data and (name[0] in "TW" or name in ("COMM", "COM", "USER", "OWNE", "GEOB", "GEO")):
        encoding = _ENCODINGS.get(data[0], "latin-1")
        body = data[1:]
        if name in ("COMM", "COM", "USER"):
            body = body[3:]  # the language
        text = body.decode(encoding, "replace")
    else:
        text = data.split(b"\x00", 1)[0].decode("latin-1")
    return " | ".join(part for part in text.split("\x00") if part)[:200]


def _mp3_frame(header: bytes) -> tuple[tuple[int, int], int] | str:
    """(version, sampling-rate index) and frame length of a Layer III header, or why not."""
    b1, b2, b3 = header[1], header[2], header[3]
    if header[0] != 0xFF or b1 & 0xE0 != 0xE0:
        return "no frame sync"
    version = (b1 >> 3) & 3
    layer = (b1 >> 1) & 3
    if version == 1:
        return "reserved MPEG version"
    if layer != 1:
        return "not Layer III" if layer else "reserved layer"
    bitrate_index = b2 >> 4
    rate_index = (b2 >> 2) & 3
    if bitrate_index == 0:
        return "free-format bitrate (not supported)"
    if bitrate_index == 15:
        return "invalid bitrate index"
    if rate_index == 3:
        return "reserved sampling rate"
    if b3 & 3 == 2:
        return "reserved emphasis"
    kbps = _L3_BITRATES[_MPEG1 if version == _MPEG1 else _MPEG2][bitrate_index]
    rate = _SAMPLE_RATES[version][rate_index]
    # Layer III: 1152 samples per frame in MPEG-1, 576 in MPEG-2/2.5; one-byte slots.
    coefficient = 144 if version == _MPEG1 else 72
    length = coefficient * kbps * 1000 // rate + ((b2 >> 1) & 1)
    return (version, rate_index), length


class Mp3Parser(Parser):
    kind = "MP3"

    def __init__(self, *, max_pixels: int | None = None) -> None:
        super().__init__(max_pixels=max_pixels)
        self.frames = 0
        self.audio_start: int | None = None
        self._signature: tuple[int, int] | None = None
        self._frame_at = 0
        self._frame_len = 0
        self._what = "frame"
        self._tags_only = False
        self._end_tag = False
        self.max_seconds: int | None = None
        self._fast = False  # MPEG frames are walked in _special
        self._lengths: dict[bytes, int] = {}  # frame header -> length, for the fast walk
        self.after_end_tag = 0
        self._id3_major = 0
        self._id3_end = 0
        self._id3_footer = 0
        self._id3_frame = b""
        self._want(3, self._on_start)

    def _on_start(self, data: bytes) -> None:
        if data == b"ID3":
            self._want(7, self._on_id3)
        else:
            self._want(1, lambda last: self._on_frame_header(data + last))

    def _on_id3(self, data: bytes) -> None:
        major, revision, flags = data[0], data[1], data[2]
        size_bytes = data[3:7]
        if major not in _ID3_UNDEFINED_FLAGS or revision == 0xFF:
            self._fail("attachment.structure", f"MP3 ID3v2 tag has an unknown version 2.{major}.{revision}")
            return
        if flags & _ID3_UNDEFINED_FLAGS[major]:
            self._fail("attachment.structure", f"MP3 ID3v2.{major} tag has undefined flags 0x{flags:02X}")
            return
        if any(b & 0x80 for b in size_bytes):
            self._fail("attachment.structure", "MP3 ID3v2 tag size is not syncsafe")
            return
        size = (size_bytes[0] << 21) | (size_bytes[1] << 14) | (size_bytes[2] << 7) | size_bytes[3]
        footer = 10 if major == 4 and flags & 0x10 else 0  # ID3v2.4 §3.4: a 10-byte footer follows.
        self.audio_start = 10 + size + footer
        self._frame_at, self._frame_len, self._what = 0, 10 + size + footer, "ID3v2 tag"
        self._id3_major, self._id3_end, self._id3_footer = major, 10 + size, footer
        if flags & 0x80 and major < 4:
            # Unsynchronised v2.2/2.3 tag: frame sizes do not map onto the stored bytes,
            # so the whole tag is one opaque region.
            self._skip_opaque(size)
            self._end_id3()
        elif flags & 0x40 and major >= 3:
            self._want(4, self._on_id3_extended)
        else:
            self._next_id3_frame()

    def _on_id3_extended(self, data: bytes) -> None:
        # v2.3 §3.2: the size excludes its own 4 bytes; v2.4 §3.2: syncsafe, includes them.
        n = int.from_bytes(data, "big")
        rest = n if self._id3_major == 3 else _syncsafe(data) - 4
        if rest < 0 or self.pos + rest > self._id3_end:
            self._fail("attachment.structure", "MP3 ID3v2 extended header overflows the tag")
            return
        self._skip = rest
        self._next_id3_frame()

    def _next_id3_frame(self) -> None:
        header = 6 if self._id3_major == 2 else 10
        start = self.pos + self._skip
        left = self._id3_end - start
        if left >= header:
            self._want(header, self._on_id3_frame)
            return
        if left > 0:
            self._skip_after(left)
        self._end_id3()

    def _skip_after(self, n: int) -> None:
        # Padding or junk after the last frame: bytes between structures, scanned.
        if self._skip:
            self._skip += n
        else:
            self._skip_opaque(n)

    def _end_id3(self) -> None:
        self._skip += self._id3_footer
        self._want(4, self._on_frame_header)

    def _on_id3_frame(self, data: bytes) -> None:
        at = self.pos - len(data)
        if data[0] == 0:  # padding (v2.3 §3.3, v2.4 §3.3): the rest of the tag, scanned
            self.scanner.begin(at)
            self.scanner.feed(data)
            rest = self._id3_end - self.pos
            if rest:
                self._skip, self._scan_skip = rest, True
            else:
                self.scanner.end()
            self._end_id3()
            return
        if not self._structure("ID3 frame"):
            return
        if self._id3_major == 2:
            frame_id, size = data[:3], int.from_bytes(data[3:6], "big")
        elif self._id3_major == 3:
            frame_id, size = data[:4], int.from_bytes(data[4:8], "big")
        else:
            # v2.4 sizes are syncsafe; some taggers wrote plain ones (a byte >= 0x80).
            raw = data[4:8]
            frame_id, size = data[:4], (int.from_bytes(raw, "big") if any(b & 0x80 for b in raw) else _syncsafe(raw))
        if not all(0x30 <= b <= 0x39 or 0x41 <= b <= 0x5A for b in frame_id):
            self._fail("attachment.structure", f"MP3 ID3v2 frame at offset {at} has an invalid id {frame_id!r}")
            return
        if self.pos + size > self._id3_end:
            self._fail("attachment.structure",
                       f"MP3 ID3v2 frame {frame_id.decode()} at offset {at} overflows the tag")
            return
        name = frame_id.decode()
        if name in _PERSONAL and size <= _PERSONAL_MAX:
            self._id3_frame = frame_id
            self._want(size, self._on_personal) if size else self._next_id3_frame()
            return
        self._skip_opaque(size)
        self._next_id3_frame()

    def _on_personal(self, data: bytes) -> None:
        self.scanner.region(data, self.pos - len(data))
        name = self._id3_frame.decode()
        value = _id3_value(name, data)
        self._meta(("metadata.personal", f"ID3 {name}", value))
        self._next_id3_frame()

    def _special(self, chunk: bytes, i: int) -> int | None:
        if self._end_tag and not self._skip:
            self.after_end_tag += len(chunk) - i
            self.pos += len(chunk) - i
            return len(chunk)
        if not self._fast or self._buf:
            return None
        # Back-to-back frames whose headers were seen before: one dict look-up each.
        lengths, n, start = self._lengths, len(chunk), i
        while i + 4 <= n:
            header = chunk[i : i + 4]
            length = lengths.get(header)
            if length is None:
                break
            run = _same_headers(chunk, i, header, length)
            if run > 1:  # a run of identical frames, checked with strided slices
                self.frames += run - 1
                i += (run - 1) * length
            self.frames += 1
            self.steps += 1
            if i + length > n:
                self._frame_at, self._frame_len, self._what = self.pos + (i - start), length, "frame"
                self._skip = i + length - n
                self.pos += n - start
                return n
            i += length
        if i == start:
            return None
        self.pos += i - start
        return i

    def _on_frame_header(self, header: bytes) -> None:
        at = self.pos - 4
        if self.audio_start is None:
            self.audio_start = 0
        parsed = _mp3_frame(header) if not self._tags_only else "tags only"
        if isinstance(parsed, str):
            self._not_a_frame(header, at, parsed)
            return
        signature, length = parsed
        if self._signature is None:
            self._signature = signature
        elif signature != self._signature:
            self._fail(
                "attachment.structure",
                f"MP3 frame at offset {at} changes MPEG version or sampling rate",
            )
            return
        self.frames += 1
        self._frame_at, self._frame_len, self._what = at, length, "frame"
        self._lengths[header] = length
        self._fast = True
        self._skip = length - 4
        self._want(4, self._on_frame_header)

    def _not_a_frame(self, header: bytes, at: int, why: str) -> None:
        self._fast = False
        if self.frames and header[:3] == b"TAG":
            # ID3v1: exactly 128 bytes at the very end of the file.
            self._skip = 128 - 4
            self._end_tag = True
            self._fast = False
            self._frame_at, self._frame_len, self._what = at, 128, "ID3v1 tag"
            return
        if self.frames and header == b"APET":
            self._want(28, lambda rest: self._on_ape(at, header + rest))
            return
        if self.frames == 0:
            where = "after the ID3v2 tag" if self.audio_start else "at the start"
            self._fail("attachment.structure", f"MP3 has no valid MPEG Layer III frame header {where} ({why})")
        else:
            self._fail(
                "attachment.structure",
                f"MP3 expected a frame header at offset {at} after {self.frames} frames ({why})",
            )

    def _on_ape(self, at: int, header: bytes) -> None:
        # APEv2 header: "APETAGEX", version, tag size (items + footer), item count,
        # flags (bit 29 set: this is the header), 8 reserved bytes; little-endian.
        version, size, _count, flags = struct.unpack_from("<IIII", header, 8)
        if header[:8] != b"APETAGEX" or version not in (1000, 2000) or not flags & (1 << 29) or size < 32:
            self._fail("attachment.structure", f"MP3 APE tag header at offset {at} is malformed")
            return
        self._tags_only = True
        self._fast = False
        self._frame_at, self._frame_len, self._what = at, 32 + size, "APEv2 tag"
        self._skip = size
        self._want(4, self._on_frame_header)

    def seconds(self) -> float:
        """The duration of the frames walked (1152 samples per MPEG-1 frame, else 576)."""
        if self._signature is None:
            return 0.0
        version, rate_index = self._signature
        per_frame = 1152 if version == _MPEG1 else 576
        return self.frames * per_frame / _SAMPLE_RATES[version][rate_index]

    def _at_end(self) -> None:
        if self.max_seconds is not None and self.seconds() > self.max_seconds:
            self._note("attachment.duration",
                       f"MP3 lasts {self.seconds():.0f} s ({self.frames} frames), more than the limit of"
                       f" {self.max_seconds} s")
        if self._skip:
            self._fail(
                "attachment.truncated",
                f"MP3 ends at offset {self.pos} inside the {self._frame_len}-byte "
                f"{self._what} that starts at offset {self._frame_at}",
            )
        elif self._buf and not self._end_tag:
            self._fail("attachment.truncated", f"MP3 ends at offset {self.pos} inside a frame header")
        elif self.frames == 0:
            self._fail("attachment.truncated", "MP3 has no audio frames")
        elif self.after_end_tag:
            self._fail(
                "attachment.trailing_data",
                f"{plural_bytes(self.after_end_tag)} of data after the MP3 ID3v1 tag at offset {self._frame_at}",
            )
