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
    def __init__(self) -> None:
        super().__init__()
        self.frames = 0
        self.audio_start: int | None = None
        self._signature: tuple[int, int] | None = None
        self._frame_at = 0
        self._frame_len = 0
        self._what = "frame"
        self._tags_only = False
        self._end_tag = False
        self.after_end_tag = 0
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
        if major == 4 and flags & 0x10:  # ID3v2.4 §3.4: a 10-byte footer follows.
            size += 10
        self._skip = size
        self.audio_start = 10 + size
        self._frame_at, self._frame_len, self._what = 0, 10 + size, "ID3v2 tag"
        self._want(4, self._on_frame_header)

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
        self._skip = length - 4
        self._want(4, self._on_frame_header)

    def _not_a_frame(self, header: bytes, at: int, why: str) -> None:
        if self.frames and header[:3] == b"TAG":
            # ID3v1: exactly 128 bytes at the very end of the file.
            self._skip = 128 - 4
            self._end_tag = True
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
        self._frame_at, self._frame_len, self._what = at, 32 + size, "APEv2 tag"
        self._skip = size
        self._want(4, self._on_frame_header)

    def _special(self, chunk: bytes, i: int) -> int | None:
        if self._end_tag and not self._skip:
            self.after_end_tag += len(chunk) - i
            self.pos += len(chunk) - i
            return len(chunk)
        return None

    def _at_end(self) -> None:
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
