"""Signatures of archives, executables and active documents in the opaque regions of an
attachment (JPEG COM/APPn segments, ID3 frames and padding, MP4 ``free``/``skip``/
``uuid``/unknown boxes and box bodies no parser reads).

Inside an opaque region nothing is structured, so a signature counts however the
header after it looks (the plausibility test of ``scan`` is for entropy-coded data,
where a bare 4-byte signature turns up by chance). What is looked for:

===========  ==============================  =============================================
kind         code                            bytes
===========  ==============================  =============================================
zip          attachment.embedded_archive     ``PK`` 01 02, 03 04, 05 06 or 07 08
rar          attachment.embedded_archive     ``Rar!`` 1A 07
7z           attachment.embedded_archive     ``7z`` BC AF 27 1C
gzip         attachment.embedded_archive     1F 8B 08, then a flag byte without the
                                             reserved bits 5–7 (gzip refuses those)
bzip2        attachment.embedded_archive     ``BZh`` + level 1–9 + block magic ``1AY&SY``
xz           attachment.embedded_archive     FD ``7zXZ`` 00
ole          attachment.embedded_document    D0 CF 11 E0 A1 B1 1A E1 (MS Office 97, MSI)
pdf          attachment.embedded_document    ``%PDF-``
html         attachment.embedded_document    ``<html``, ``<script``, ``<!doctype html``,
                                             ``<iframe``, ``<body``, ``<head``,
                                             ``<object``, ``<embed``, ``<svg``,
                                             ``<form``, ``<?php`` (any case), then a
                                             space, ``>`` or ``/``
elf          attachment.embedded_executable  7F ``ELF``
pe           attachment.embedded_executable  ``MZ`` whose ``e_lfanew`` (offset 0x3C)
                                             points, within 1 MiB, to ``PE`` 00 00
mach-o       attachment.embedded_executable  FE ED FA CE/CF, CE/CF FA ED FE, CA FE BA BE
shebang      attachment.embedded_executable  ``#!``, optional blanks, ``/`` and a path
===========  ==============================  =============================================

Each kind is reported once per file, at its first offset. A region is scanned with one
``bytes.find`` (or one compiled search) per signature, so the work is linear in the
bytes of the regions; ``scanned`` counts them. The false-positive rate inside opaque
binary data (an EXIF thumbnail, an ICC profile) is dominated by gzip's 27 fixed bits:
about one 10 KiB thumbnail in 13,000.
"""

from __future__ import annotations

import heapq
import re
import struct

from cluetool.validate.attachments.common import Problem

ARCHIVE, DOCUMENT, EXECUTABLE = (
    "attachment.embedded_archive", "attachment.embedded_document", "attachment.embedded_executable",
)
KINDS: dict[str, str] = {
    "zip": ARCHIVE, "rar": ARCHIVE, "7z": ARCHIVE, "gzip": ARCHIVE, "bzip2": ARCHIVE, "xz": ARCHIVE,
    "ole": DOCUMENT, "pdf": DOCUMENT, "html": DOCUMENT,
    "elf": EXECUTABLE, "pe": EXECUTABLE, "mach-o": EXECUTABLE, "shebang": EXECUTABLE,
}
_NAMES = {
    "zip": "ZIP record", "rar": "RAR archive", "7z": "7z archive", "gzip": "gzip stream",
    "bzip2": "bzip2 stream", "xz": "xz stream", "ole": "OLE compound document", "pdf": "PDF document",
    "html": "HTML/script tag", "elf": "ELF executable", "pe": "PE (Windows) executable",
    "mach-o": "Mach-O executable", "shebang": "shell script (#!)",
}
#: Bytes kept from the end of one piece of a region for the next: every signature and
#: the checks after it fit in this many bytes (the MZ header's e_lfanew is at 0x3C).
WINDOW = 72
PE_MAX_OFFSET = 1 << 20

_ZIP_RECORDS = {b"PK\x03\x04": "ZIP local file header", b"PK\x01\x02": "ZIP central directory header",
                b"PK\x05\x06": "ZIP end of central directory record", b"PK\x07\x08": "ZIP data descriptor"}
_LITERALS: list[tuple[str, bytes]] = [
    ("zip", b"PK\x03\x04"), ("zip", b"PK\x01\x02"), ("zip", b"PK\x05\x06"), ("zip", b"PK\x07\x08"),
    ("rar", b"Rar!\x1a\x07"), ("7z", b"7z\xbc\xaf\x27\x1c"), ("xz", b"\xfd7zXZ\x00"),
    ("ole", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"), ("pdf", b"%PDF-"), ("elf", b"\x7fELF"),
    ("mach-o", b"\xfe\xed\xfa\xce"), ("mach-o", b"\xfe\xed\xfa\xcf"), ("mach-o", b"\xce\xfa\xed\xfe"),
    ("mach-o", b"\xcf\xfa\xed\xfe"), ("mach-o", b"\xca\xfe\xba\xbe"),
]
_PATTERNS: list[tuple[str, re.Pattern[bytes]]] = [
    ("gzip", re.compile(rb"\x1f\x8b\x08[\x00-\x1f]")),
    ("bzip2", re.compile(rb"BZh[1-9]1AY&SY")),
    ("html", re.compile(rb"<(?i:!doctype[ \t\r\n]{1,16}html|html|script|iframe|body|head|object|embed|svg|form|\?php)"
                        rb"[ \t\r\n>/]")),
    ("shebang", re.compile(rb"#![ \t]{0,16}/[A-Za-z0-9_.+-]")),
]


# 1 for every byte that starts some signature, else 0.
_FIRST_BYTES = bytes(1 if bytes((b,)) in b"PR7\x1fB\xfd\xd0%<\x7fM\xfe\xce\xcf\xca#" else 0 for b in range(256))


class EmbeddedScanner:
    """Scans opaque regions, fed piece by piece (``begin``, ``feed``…, ``end``) or whole
    (``region``); ``found`` maps each kind seen to its first absolute offset."""

    def __init__(self) -> None:
        self.found: dict[str, int] = {}
        self._labels: dict[str, str] = {}
        self.scanned = 0  # bytes of opaque regions examined (the work measure)
        self.candidates = 0  # MZ headers whose e_lfanew had to be followed
        self._tail = b""
        self._base = 0  # absolute offset of self._tail[0]
        self._open = False
        self._pending: list[tuple[int, int]] = []  # (PE header offset, MZ offset), a heap

    def region(self, data: bytes, at: int) -> None:
        self.begin(at)
        self.feed(data)
        self.end()

    def begin(self, at: int) -> None:
        self._tail, self._base, self._open, self._pending = b"", at, True, []

    def feed(self, data: bytes) -> None:
        if not data:
            return
        self.scanned += len(data)
        buf = self._tail + data if self._tail else data
        self._check_pending(buf)
        limit = len(buf) - (WINDOW - 1)
        if limit > 0:
            self._search(buf, limit)
            self._base += limit
            self._tail = buf[limit:]
        else:
            self._tail = buf

    def end(self) -> None:
        if self._open and self._tail:
            self._search(self._tail, len(self._tail))
        self._tail, self._open, self._pending = b"", False, []

    def problems(self) -> list[Problem]:
        return [(KINDS[kind], f"{self._labels.get(kind, _NAMES[kind])} embedded at offset {at}")
                for kind, at in sorted(self.found.items(), key=lambda kv: kv[1])]

    # Each finder sees buf (whose first byte is at self._base) and reports the first
    # start before ``limit``; a start at or after ``limit`` waits for more bytes.

    def _hit(self, kind: str, p: int, label: str | None = None) -> None:
        at = self._base + p
        if kind not in self.found or at < self.found[kind]:
            self.found[kind] = at
            if label:
                self._labels[kind] = label

    def _search(self, buf: bytes, limit: int) -> None:
        if b"\x01" not in buf.translate(_FIRST_BYTES):
            return  # no byte that can start a signature
        found = self.found
        zip_seen = "zip" in found
        for kind, needle in _LITERALS:
            if kind in found and not (kind == "zip" and not zip_seen):
                continue
            p = buf.find(needle, 0, limit + len(needle) - 1)
            if p >= 0:
                self._hit(kind, p, _ZIP_RECORDS.get(needle))
        for kind, pattern in _PATTERNS:
            if kind in found:
                continue
            m = pattern.search(buf, 0, limit + WINDOW - 1)
            if m is not None and m.start() < limit:
                self._hit(kind, m.start())
        if "pe" not in found:
            self._find_mz(buf, limit)

    def _find_mz(self, buf: bytes, limit: int) -> None:
        p = buf.find(b"MZ", 0, limit + 1)
        while p >= 0 and "pe" not in self.found:
            self.candidates += 1
            if p + 0x40 <= len(buf):
                e_lfanew = struct.unpack_from("<I", buf, p + 0x3C)[0]
                if 2 <= e_lfanew <= PE_MAX_OFFSET:
                    target = p + e_lfanew
                    if target + 4 <= len(buf):
                        if buf[target:target + 4] == b"PE\x00\x00":
                            self._hit("pe", p)
                    else:
                        heapq.heappush(self._pending, (self._base + target, self._base + p))
            p = buf.find(b"MZ", p + 1, limit + 1)

    def _check_pending(self, buf: bytes) -> None:
        end = self._base + len(buf)
        pending = self._pending
        while pending and pending[0][0] + 4 <= end and "pe" not in self.found:
            target, mz = heapq.heappop(pending)
            i = target - self._base
            if buf[i:i + 4] == b"PE\x00\x00":
                self.found["pe"] = min(mz, self.found.get("pe", mz))

