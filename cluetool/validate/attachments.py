"""Attachment validation: by content, never by name alone (DESIGN §4, domain.md §4.4).

For each attachment declared in ``report.json`` the declared type, the file extension
and the type sniffed by libmagic must agree; the structure of the file must hold; the
declared size and SHA-256 must match; per-type, count and per-submission limits apply.
Each file is read exactly once: one pass feeds the hash, the structural state machine,
the embedded-archive scan and the bytes kept for sniffing. Memory is bounded whatever
the file size (segment headers, at most 64 KiB of a JPEG SOF/SOS header, 8 KiB kept for
libmagic). Attachments are evidence: nothing is ever modified.

Finding codes (stable API; ``path`` is the JSON path of the declaration's field, except
for ``attachment.undeclared`` whose path is the file name in the submission directory):

===============================  ===============================  =======================
code                             meaning                          path
===============================  ===============================  =======================
attachment.name_invalid          not a plain file name: empty,    attachments[i].file
                                 ``/``, ``\\``, ``..``, NUL or a
                                 control character, leading
                                 ``.``, ``report.json``, over 255
                                 UTF-8 bytes
attachment.duplicate             the same file declared twice     attachments[i].file
attachment.type_invalid          declared type not jpg/mp3/mp4    attachments[i].type
attachment.extension_mismatch    extension does not fit the type  attachments[i].file
attachment.missing               declared file does not exist     attachments[i].file
attachment.not_regular           symlink, directory, device,      attachments[i].file
                                 FIFO, socket
attachment.unreadable            open/read failed otherwise       attachments[i].file
attachment.too_large             over the per-type size limit     attachments[i].file
attachment.empty                 zero bytes                       attachments[i].file
attachment.type_mismatch         sniffed MIME not accepted for    attachments[i].file
                                 the declared type
attachment.structure             the bytes are not a well-formed  attachments[i].file
                                 file of the declared type (bad
                                 signature, marker, segment
                                 length, frame header, box size)
attachment.truncated             the file ends inside a segment,  attachments[i].file
                                 frame or box, or before EOI
attachment.trailing_data         bytes after the JPEG EOI marker  attachments[i].file
                                 or after a trailing ID3v1 tag
attachment.embedded_archive      a ZIP local file header or end   attachments[i].file
                                 of central directory record
                                 inside the file
attachment.size_mismatch         declared size differs            attachments[i].size
attachment.sha256_mismatch       declared SHA-256 differs         attachments[i].sha256
attachment.too_many              more declared than limits.files  attachments
attachment.submission_too_large  sum of sizes over                attachments
                                 limits.submission
attachment.undeclared            a file or directory in the       <file name>
                                 submission that report.json does
                                 not declare (hidden files too)
===============================  ===============================  =======================

Decisions where the spec is silent:

- **Accepted MIME types** (libmagic 5.44, first 8 KiB): jpg ``image/jpeg``; mp3
  ``audio/mpeg``; mp4 ``video/mp4``, ``audio/mp4`` and ``video/x-m4v`` (ISO/IEC 14496-14
  files with the isom/iso2/mp41/mp42/avc1/dash/M4V brands). QuickTime (``qt``, libmagic
  ``video/quicktime``), 3GPP (``video/3gpp``), M4A (``audio/x-m4a``) and HEIF are other
  formats that happen to share the box syntax: a renamed ``.mov``/``.3gp``/``.m4a`` is
  ``attachment.type_mismatch``. libmagic never says ``audio/mp3``. When libmagic answers
  ``application/octet-stream`` (no match, or a strongest match without a MIME type —
  an MP3 whose audio has ``55 AA`` at offset 510 is taken for a DOS boot sector; an
  MP3 whose ID3v2 tag is longer than 8 KiB, e.g. cover art, shows libmagic nothing
  but the tag) and the structural check passed, the file is sniffed again with
  ``MAGIC_CONTINUE`` over the first 8 KiB and, for MP3, over the 8 KiB from the first
  frame; an accepted MIME type among those matches is enough. This second call happens
  only in that case; a positive MIME type of another format is always a mismatch.
- **Embedded archives** are looked for in every type, not only JPEG (a ZIP in an MP4
  ``free`` box or an ID3 GEOB frame is the same polyglot). To avoid false positives in
  entropy-coded data (a 4-byte signature occurs by chance about once per 4 GiB, i.e. in
  ~0.5% of 20 MiB photos) a signature counts only when the record around it is
  plausible (APPNOTE 6.3.10): a local file header with version-needed ≤ 6.3, a known host
  byte, a defined compression method, no reserved flag bits and a non-empty name; or an
  end-of-central-directory record with equal disk numbers, equal entry counts and a
  central directory size that fits the entry count. The chance of a random match is
  below 2^-56 per byte.
- **JPEG** (ITU-T T.81 Annex B): SOI ``FF D8``, then a marker; segment lengths ≥ 2;
  fill bytes ``FF`` before markers allowed (B.1.1.2); SOF and SOS headers checked
  against their component counts; an SOS before any SOF, a second SOI, an RST outside
  a scan or a marker code ``00`` is ``attachment.structure``; entropy-coded data is
  walked (``FF 00`` stuffing, RST0–7) to the next marker; an EOI without a scan is
  ``attachment.structure``; data after EOI is ``attachment.trailing_data``.
- **MP3**: an optional ID3v2.2/2.3/2.4 tag (valid version, no undefined flags, syncsafe
  size, footer in v2.4) then MPEG audio frames back to back, each header valid (sync,
  version not reserved, **Layer III only** — an MPEG Layer I/II file is not an mp3,
  bitrate index not free (0) or bad (15), sampling-rate index not reserved, emphasis
  not reserved) and of the same version, layer and sampling rate as the first. Every
  frame is walked by its computed length to the end of the file. Zero padding between
  the tag and the first frame is not allowed (ID3v2.4 §3.3 puts padding inside the tag
  size). At the end an APEv2 tag with a header and/or a 128-byte ID3v1 tag may follow;
  APEv1 and Lyrics3 tags are not recognised (rare, and not skippable without looking
  backwards).
- **MP4** (ISO/IEC 14496-12 §4.2): top-level boxes whose sizes add up exactly to the
  file size; the first is ``ftyp`` (size ≥ 16 and a whole number of brands); a size of
  1 takes a 64-bit largesize (≥ 16); a size of 0 extends the box to the end of the
  file; any other size below 8 is invalid; box types must be printable ASCII; a file
  without ``moov`` is ``attachment.structure``.

- **Limits**: a file over its type's limit is not read (``attachment.too_large``; a
  file that grows past it while being read stops the hashing). Once the running total
  of file sizes passes ``limits.submission`` (one ``attachment.submission_too_large``),
  that file and the later ones are not read, so no more than the budget is ever read;
  their name, type, extension and file-type checks still run. ``limits.files`` counts
  declarations.
- **Names**: ``..`` is refused anywhere in a name (not only as a component), and
  ``report.json`` case-insensitively. Names are shown JSON-quoted in messages, so a
  control character cannot break a line.
- A consequence of "no data after EOI": phone photos that carry CIPA DC-007 MPF
  secondary images or a "motion photo" video after the first EOI are refused
  (``attachment.trailing_data``), as DESIGN §4 asks.

``attachments`` above stands for the ``path_prefix`` argument.

Hard links are not flagged: the intake may deduplicate with them, and the name cannot
leave the directory (no separators, opened relative to the directory, ``O_NOFOLLOW``).
"""

from __future__ import annotations

import errno
import functools
import hashlib
import json
import os
import re
import stat
import struct
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Protocol

import magic

from cluetool.config import Limits
from cluetool.errors import InputError
from cluetool.model.findings import Finding

__all__ = [
    "ACCEPTED_MIME",
    "EXTENSIONS",
    "TYPES",
    "AttachmentDecl",
    "AttachmentStream",
    "check_attachments",
    "sniff",
]

TYPES = ("jpg", "mp3", "mp4")
EXTENSIONS: dict[str, tuple[str, ...]] = {"jpg": (".jpg", ".jpeg"), "mp3": (".mp3",), "mp4": (".mp4",)}
ACCEPTED_MIME: dict[str, frozenset[str]] = {
    "jpg": frozenset({"image/jpeg"}),
    "mp3": frozenset({"audio/mpeg"}),
    "mp4": frozenset({"video/mp4", "audio/mp4", "video/x-m4v"}),
}
SNIFF_BYTES = 8192
READ_CHUNK = 256 * 1024
REPORT_FILE = "report.json"
NAME_MAX = 255

Problem = tuple[str, str]


class AttachmentDecl(Protocol):
    """What ``check_attachments`` needs from one entry of ``report.json``'s attachments."""

    @property
    def file(self) -> str: ...

    @property
    def type(self) -> str: ...

    @property
    def size(self) -> int: ...

    @property
    def sha256(self) -> str: ...


# --- sniffing ----------------------------------------------------------------------


@functools.cache
def _magic() -> magic.Magic:
    # One libmagic handle per process; python-magic serialises calls on it with a lock.
    return magic.Magic(mime=True)


def sniff(first_bytes: bytes) -> str:
    """The MIME type libmagic gives the first 8 KiB of ``first_bytes``."""
    return str(_magic().from_buffer(bytes(first_bytes[:SNIFF_BYTES])))


# --- the byte-stream state machine ------------------------------------------------


class _Parser:
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


def _bytes(n: int) -> str:
    return "1 byte" if n == 1 else f"{n} bytes"


# JPEG (ITU-T T.81 Annex B) ---------------------------------------------------------

# Start-of-frame markers (T.81 Table B.1): C0–C3, C5–C7, C9–CB, CD–CF. C4 (DHT), C8
# (JPG) and CC (DAC) are not frames.
_SOF = frozenset({0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF})


class _JpegParser(_Parser):
    def __init__(self) -> None:
        super().__init__()
        self._marker = 0
        self._marker_at = 0
        self._sof = False
        self._sos = False
        self._scanning = False
        self._scan_ff = False
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
            self._want(1, self._on_marker_code)
        elif code == 0x00:
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
        if self._marker in _SOF or self._marker == 0xDA:
            handler = self._on_sos if self._marker == 0xDA else self._on_sof
            if body:
                self._want(body, handler)  # at most 65533 bytes
            else:
                handler(b"")
        else:
            self._skip = body
            self._expect_marker()

    def _on_sof(self, data: bytes) -> None:
        # B.2.2: P, Y(2), X(2), Nf, then 3 bytes per component; Lf = 8 + 3 * Nf.
        if len(data) < 6 or data[5] == 0 or len(data) != 6 + 3 * data[5]:
            self._fail("attachment.structure", f"JPEG frame header at offset {self._marker_at} is malformed")
            return
        if (data[3] << 8 | data[4]) == 0:
            self._fail("attachment.structure", "JPEG frame width is 0")
            return
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
        if not self._scanning:
            return None
        if self._scan_ff:
            # The byte after an FF in entropy-coded data (B.1.1.5, F.1.2.3): 00 is
            # stuffing, RST0-7 sit inside the scan, FF is a fill byte, anything else
            # is the marker that ends the scan.
            code = chunk[i]
            self.pos += 1
            if code == 0x00 or 0xD0 <= code <= 0xD7:
                self._scan_ff = False
            elif code == 0xFF:
                self._marker_at = self.pos - 1
            else:
                self._scan_ff = False
                self._scanning = False
                self._on_marker_code(bytes((code,)))
            return i + 1
        j = chunk.find(b"\xff", i)
        if j < 0:
            self.pos += len(chunk) - i
            return len(chunk)
        self._scan_ff = True
        self._marker_at = self.pos + (j - i)
        self.pos += j + 1 - i
        return j + 1

    def _at_end(self) -> None:
        if self._done:
            if self.trailing:
                self._fail(
                    "attachment.trailing_data",
                    f"{_bytes(self.trailing)} of data after the JPEG EOI marker at offset {self._eoi_end}",
                )
            return
        self._fail("attachment.truncated", f"JPEG ends at offset {self.pos} before its EOI marker")


# MP3 (ISO/IEC 11172-3 §2.4.1.3, ISO/IEC 13818-3; ID3v2.3/2.4 §3.1) -------------

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


class _Mp3Parser(_Parser):
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
                f"{_bytes(self.after_end_tag)} of data after the MP3 ID3v1 tag at offset {self._frame_at}",
            )


# MP4 (ISO/IEC 14496-12 §4.2, §4.3) ------------------------------------------------


class _Mp4Parser(_Parser):
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


# Embedded ZIP records (PKWARE APPNOTE 6.3.10 §4.3.7, §4.3.16) ----------------------

_LFH = b"PK\x03\x04"
_EOCD = b"PK\x05\x06"
_ZIP_WINDOW = 30  # a local file header's fixed part; the EOCD's is 22
# APPNOTE §4.4.5 compression methods.
_ZIP_METHODS = frozenset(range(0, 21)) | {93, 94, 95, 96, 97, 98, 99}


def _plausible_lfh(buf: bytes, p: int) -> bool:
    if len(buf) - p < 30:
        return False
    version, flags, method = struct.unpack_from("<HHH", buf, p + 4)
    name_len = struct.unpack_from("<H", buf, p + 26)[0]
    return (
        version & 0xFF <= 63
        and version >> 8 <= 19
        and flags & 0xD780 == 0  # bits 7-10, 12, 14, 15 are reserved or unused
        and method in _ZIP_METHODS
        and name_len > 0
    )


def _plausible_eocd(buf: bytes, p: int) -> bool:
    if len(buf) - p < 22:
        return False
    disk, cd_disk, on_disk, total, cd_size = struct.unpack_from("<HHHHI", buf, p + 4)
    if disk != cd_disk or on_disk != total:
        return False
    # A central directory header is at least 46 bytes; ZIP64 puts 0xFFFFFFFF here.
    return cd_size == 0xFFFFFFFF or total * 46 <= cd_size <= total * (46 + 3 * 65535)


_ZIP_SIG_RE = re.compile(re.escape(_LFH) + b"|" + re.escape(_EOCD))


class _ZipScanner:
    """Finds the first plausible ZIP record, across chunk boundaries."""

    def __init__(self) -> None:
        self._tail = b""
        self._base = 0
        self.found: Problem | None = None

    def _search(self, buf: bytes, end: int) -> None:
        # The earliest plausible record starting before ``end``, so that the result
        # does not depend on how the file was split into chunks. One compiled scan for
        # both signatures; they cannot overlap, as neither holds a "P" after its first byte.
        for m in _ZIP_SIG_RE.finditer(buf, 0, end + 3):
            p = m.start()
            if m.group() == _LFH:
                if _plausible_lfh(buf, p):
                    self.found = ("attachment.embedded_archive", f"ZIP local file header at offset {self._base + p}")
                    return
            elif _plausible_eocd(buf, p):
                self.found = ("attachment.embedded_archive", f"ZIP end of central directory record at offset {self._base + p}")
                return

    def feed(self, chunk: bytes) -> None:
        if self.found is not None:
            return
        buf = self._tail + chunk if self._tail else chunk
        # Positions before ``end`` have a full window after them; the rest waits.
        end = len(buf) - (_ZIP_WINDOW - 1)
        if end > 0:
            self._search(buf, end)
            self._base += end
            self._tail = buf[end:]
        else:
            self._tail = buf

    def finish(self) -> list[Problem]:
        if self.found is None and self._tail:
            self._search(self._tail, len(self._tail))
        return [self.found] if self.found else []


# --- the public stream ---------------------------------------------------------------


class AttachmentStream:
    """Incremental checker of one attachment's bytes: hash, structure, sniff bytes.

    Feed the file with ``update(chunk)`` in chunks of any size, then call ``finish()``.
    Results do not depend on how the bytes were split. When the size passes ``limit``
    the stream stops (``exceeded`` becomes true; stop reading) and ``finish()`` reports
    only ``attachment.too_large``; ``sha256`` is then ``None``.

    Raises:
        ValueError: ``declared_type`` is not one of jpg, mp3, mp4.
    """

    def __init__(self, declared_type: str, *, limit: int) -> None:
        if declared_type not in TYPES:
            raise ValueError(f"unknown attachment type {declared_type!r}")
        self.declared_type = declared_type
        self.limit = limit
        self.size = 0
        self.exceeded = False
        self.sha256: str | None = None
        self._hash = hashlib.sha256()
        self._head = bytearray()
        self._parser: _Parser = {"jpg": _JpegParser, "mp3": _Mp3Parser, "mp4": _Mp4Parser}[declared_type]()
        self._zip = _ZipScanner()
        self._audio_head = bytearray()
        self._result: list[Problem] | None = None

    def update(self, chunk: bytes) -> None:
        """Add the next bytes of the file.

        Raises:
            RuntimeError: called after ``finish()``.
        """
        if self._result is not None:
            raise RuntimeError("update() after finish()")
        if self.exceeded or not chunk:
            return
        data = bytes(chunk)
        start = self.size
        self.size += len(data)
        if self.size > self.limit:
            self.exceeded = True
            return
        self._hash.update(data)
        if len(self._head) < SNIFF_BYTES:
            self._head += data[: SNIFF_BYTES - len(self._head)]
        self._parser.feed(data)
        self._zip.feed(data)
        if isinstance(self._parser, _Mp3Parser):
            self._keep_audio_head(data, start)

    def _keep_audio_head(self, data: bytes, start: int) -> None:
        # The 8 KiB from the first MPEG frame on, for sniffing past a long ID3v2 tag.
        audio = self._parser.audio_start  # type: ignore[attr-defined]
        if not audio or len(self._audio_head) >= SNIFF_BYTES:
            return
        lo = max(audio + len(self._audio_head), start)
        hi = min(audio + SNIFF_BYTES, start + len(data))
        if lo < hi and lo == audio + len(self._audio_head):
            self._audio_head += data[lo - start : hi - start]

    def finish(self) -> list[Problem]:
        """The problems found, as ``(code, message)``; idempotent."""
        if self._result is not None:
            return list(self._result)
        if self.exceeded:
            result = [
                (
                    "attachment.too_large",
                    f"more than the {self.declared_type} limit of {self.limit} bytes"
                    f" (stopped reading at {self.size})",
                )
            ]
        else:
            self.sha256 = self._hash.hexdigest()
            if self.size == 0:
                result = [("attachment.empty", "the file is empty")]
            else:
                result = self._parser.finish() + self._zip.finish()
        self._result = result
        return list(result)

    @property
    def head(self) -> bytes:
        """The first 8 KiB of the file (what ``sniff`` looks at)."""
        return bytes(self._head)

    @property
    def alternate_head(self) -> bytes:
        """For an MP3 with an ID3v2 tag: the 8 KiB from the end of the tag, else empty."""
        return bytes(self._audio_head)


# --- the submission-level check --------------------------------------------------------


def _q(name: str) -> str:
    # Names are untrusted: quote and escape them so that a message stays on one line.
    shown = name if len(name) <= 120 else name[:117] + "..."
    return json.dumps(shown, ensure_ascii=False)


def _name_problem(name: object) -> str | None:
    if not isinstance(name, str):
        return "is not a string"
    if not name:
        return "is empty"
    if "/" in name or "\\" in name:
        return "contains a path separator"
    if ".." in name:
        return "contains '..'"
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in name):
        return "contains a control character"
    if name.startswith("."):
        return "starts with '.'"
    if name.lower() == REPORT_FILE:
        return f"is {REPORT_FILE}"
    try:
        encoded = name.encode("utf-8")
    except UnicodeEncodeError:
        return "is not valid Unicode"
    if len(encoded) > NAME_MAX:
        return f"is longer than {NAME_MAX} bytes"
    return None


def _extension_ok(name: str, kind: str) -> bool:
    return name.lower().endswith(EXTENSIONS[kind])


def _accepted(stream: AttachmentStream, kind: str, structure_ok: bool) -> tuple[bool, str]:
    """Whether libmagic agrees with the declared type; also the MIME type it gave."""
    mime = sniff(stream.head)
    if mime in ACCEPTED_MIME[kind]:
        return True, mime
    # libmagic says application/octet-stream when nothing matched or when the strongest
    # match has no MIME type, e.g. 55 AA at offset 510 read as a DOS boot sector. For
    # a file that passed the structural check, look at every match (MAGIC_CONTINUE),
    # also past a long ID3v2 tag. A positive MIME type of another format never passes.
    if mime == "application/octet-stream" and structure_ok:
        for buf in (stream.head, stream.alternate_head):
            if buf and ACCEPTED_MIME[kind] & _sniff_all(buf):
                return True, mime
    return False, mime


@functools.cache
def _magic_all() -> magic.Magic:
    return magic.Magic(mime=True, keep_going=True)


def _sniff_all(buf: bytes) -> set[str]:
    # With MAGIC_CONTINUE libmagic joins the answers with "\\012- " (an escaped newline).
    raw = str(_magic_all().from_buffer(bytes(buf[:SNIFF_BYTES])))
    return {part.strip() for part in raw.replace("\\012", "\n").split("\n- ")}


def check_attachments(
    submission_dir: Path,
    declared: Sequence[AttachmentDecl],
    limits: Limits,
    *,
    submission: str,
    path_prefix: str = "attachments",
    deep: bool = True,
) -> list[Finding]:
    """Check the declared attachments of one submission directory against its files.

    Returns every problem as a ``Finding`` (codes in the module docstring), in
    declaration order, then the undeclared files in name order. With ``deep=False`` the
    files' contents are not read (names, types, file kinds, sizes and limits only): the
    caller streams each file through an ``AttachmentStream`` itself and judges it with
    ``judge_stream`` (``seal`` does, so that attachments are read once).

    Raises:
        InputError: the submission directory cannot be opened or listed.
    """
    findings: list[Finding] = []

    def add(path: str, code: str, message: str) -> None:
        findings.append(Finding(submission=submission, path=path, code=code, message=message))

    try:
        dir_fd = os.open(submission_dir, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError as exc:
        raise InputError(f'cannot open submission directory "{submission_dir}": {exc.strerror}') from None
    try:
        if len(declared) > limits.files:
            add(path_prefix, "attachment.too_many",
                f"{len(declared)} attachments declared, the limit is {limits.files}")
        names: set[str] = set()
        total = 0
        over_total = False
        for i, decl in enumerate(declared):
            at = f"{path_prefix}[{i}]"
            name = decl.file
            why = _name_problem(name)
            if why is not None:
                add(f"{at}.file", "attachment.name_invalid", f"attachment name {_q(str(name))} {why}")
                continue
            if name in names:
                add(f"{at}.file", "attachment.duplicate", f"{_q(name)}: declared more than once")
                continue
            names.add(name)
            kind = decl.type if decl.type in TYPES else None
            if kind is None:
                add(f"{at}.type", "attachment.type_invalid",
                    f"{_q(name)}: declared type {_q(str(decl.type))} is not one of jpg, mp3, mp4")
            elif not _extension_ok(name, kind):
                add(f"{at}.file", "attachment.extension_mismatch",
                    f"{_q(name)}: extension does not match the declared type {kind}"
                    f" (expected {' or '.join(EXTENSIONS[kind])})")
            size, over_total = _check_file(
                dir_fd, name, decl, kind, limits, at, add, total=total, over_total=over_total, deep=deep
            )
            total += size
        _check_undeclared(dir_fd, names, submission_dir, add)
    finally:
        os.close(dir_fd)
    return findings


def _check_file(
    dir_fd: int,
    name: str,
    decl: AttachmentDecl,
    kind: str | None,
    limits: Limits,
    at: str,
    add: Callable[[str, str, str], None],
    *,
    total: int,
    over_total: bool,
    deep: bool = True,
) -> tuple[int, bool]:
    """Open, read once and check one declared file; returns (its size, over_total)."""
    try:
        # O_NOFOLLOW: a symlink fails with ELOOP; O_NONBLOCK: opening a FIFO returns
        # at once instead of waiting for a writer.
        fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=dir_fd)
    except FileNotFoundError:
        add(f"{at}.file", "attachment.missing", f"{_q(name)}: declared but not in the submission")
        return 0, over_total
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            add(f"{at}.file", "attachment.not_regular", f"{_q(name)}: is a symbolic link")
            return 0, over_total
        try:  # a socket cannot be opened at all (ENXIO): say what it is
            mode = os.stat(name, dir_fd=dir_fd, follow_symlinks=False).st_mode
        except OSError:
            mode = stat.S_IFREG
        if not stat.S_ISREG(mode):
            add(f"{at}.file", "attachment.not_regular", f"{_q(name)}: is a {_file_kind(mode)}, not a regular file")
        else:
            add(f"{at}.file", "attachment.unreadable", f"{_q(name)}: cannot open: {exc.strerror}")
        return 0, over_total
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            add(f"{at}.file", "attachment.not_regular",
                f"{_q(name)}: is a {_file_kind(st.st_mode)}, not a regular file")
            return 0, over_total
        size = st.st_size
        if total + size > limits.submission and not over_total:
            add(_prefix_of(at), "attachment.submission_too_large",
                f"attachments total more than the limit of {limits.submission} bytes"
                f" (reached at {_q(name)})")
            over_total = True
        limit = getattr(limits, kind) if kind else limits.submission
        if size > limit:
            add(f"{at}.file", "attachment.too_large",
                f"{_q(name)}: {size} bytes, more than the {kind or 'submission'} limit of {limit} bytes")
            return size, over_total
        if over_total:
            # The submission is rejected already: read nothing beyond the budget.
            return size, over_total
        if not deep:
            if decl.size != size:
                add(f"{at}.size", "attachment.size_mismatch", f"{_q(name)}: declared size {decl.size}, actual {size}")
            return size, over_total
        if kind is None:
            _check_hash_only(fd, name, decl, limit, at, add)
            return size, over_total
        stream = AttachmentStream(kind, limit=limit)
        try:
            while chunk := os.read(fd, READ_CHUNK):
                stream.update(chunk)
                if stream.exceeded:
                    break
        except OSError as exc:
            add(f"{at}.file", "attachment.unreadable", f"{_q(name)}: cannot read: {exc.strerror}")
            return size, over_total
        judge_stream(stream, decl, at, add)
        return (stream.size if stream.sha256 is not None else max(size, stream.size)), over_total
    finally:
        os.close(fd)


def judge_stream(
    stream: AttachmentStream, decl: AttachmentDecl, at: str, add: Callable[[str, str, str], None]
) -> None:
    """The content findings for a file fed whole through ``stream``: structure, sniffed
    type, and the declared size and sha256 (``add(path, code, message)`` per problem)."""
    name, kind = decl.file, stream.declared_type
    problems = stream.finish()
    for code, message in problems:
        add(f"{at}.file", code, f"{_q(name)}: {message}")
    if stream.sha256 is None:  # grew past the limit while being read
        return
    if stream.size:
        ok, mime = _accepted(stream, kind, structure_ok=not problems)
        if not ok:
            add(f"{at}.file", "attachment.type_mismatch",
                f"{_q(name)}: content is {mime}, not {kind}"
                f" (accepted: {', '.join(sorted(ACCEPTED_MIME[kind]))})")
    _compare(decl, name, stream.size, stream.sha256, at, add)


def _check_hash_only(
    fd: int, name: str, decl: AttachmentDecl, limit: int, at: str, add: Callable[[str, str, str], None]
) -> None:
    # A declaration with an unknown type: its content cannot be judged, but the size
    # and hash still can.
    digest = hashlib.sha256()
    size = 0
    try:
        while chunk := os.read(fd, READ_CHUNK):
            size += len(chunk)
            if size > limit:
                add(f"{at}.file", "attachment.too_large",
                    f"{_q(name)}: more than the submission limit of {limit} bytes")
                return
            digest.update(chunk)
    except OSError as exc:
        add(f"{at}.file", "attachment.unreadable", f"{_q(name)}: cannot read: {exc.strerror}")
        return
    _compare(decl, name, size, digest.hexdigest(), at, add)


def _compare(
    decl: AttachmentDecl, name: str, size: int, sha256: str, at: str, add: Callable[[str, str, str], None]
) -> None:
    if decl.size != size:
        add(f"{at}.size", "attachment.size_mismatch", f"{_q(name)}: declared size {decl.size}, actual {size}")
    if decl.sha256 != sha256:
        add(f"{at}.sha256", "attachment.sha256_mismatch",
            f"{_q(name)}: declared sha256 does not match the content's {sha256}")


def _prefix_of(at: str) -> str:
    return at[: at.rfind("[")]


def _file_kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "directory"
    if stat.S_ISFIFO(mode):
        return "FIFO"
    if stat.S_ISCHR(mode):
        return "character device"
    if stat.S_ISBLK(mode):
        return "block device"
    if stat.S_ISSOCK(mode):
        return "socket"
    return "special file"


def _check_undeclared(
    dir_fd: int, declared: set[str], submission_dir: Path, add: Callable[[str, str, str], None]
) -> None:
    try:
        entries = sorted(os.listdir(dir_fd))
    except OSError as exc:
        raise InputError(f'cannot list submission directory "{submission_dir}": {exc.strerror}') from None
    for entry in entries:
        if entry == REPORT_FILE or entry in declared:
            continue
        try:
            st = os.stat(entry, dir_fd=dir_fd, follow_symlinks=False)
            if stat.S_ISREG(st.st_mode):
                what = "file"
            elif stat.S_ISLNK(st.st_mode):
                what = "symbolic link"
            else:
                what = _file_kind(st.st_mode)
        except OSError:
            what = "entry"
        add(entry, "attachment.undeclared",
            f"{_q(entry)}: {what} in the submission is not declared in {REPORT_FILE}")
