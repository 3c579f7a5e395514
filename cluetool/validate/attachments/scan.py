"""Embedded ZIP records (PKWARE APPNOTE 6.3.10 §4.3.7, §4.3.16).

**Embedded archives** are looked for in every type, not only JPEG (a ZIP in an MP4
``free`` box or an ID3 GEOB frame is the same polyglot). To avoid false positives in
entropy-coded data (a 4-byte signature occurs by chance about once per 4 GiB, i.e. in
~0.5% of 20 MiB photos) a signature counts only when the record around it is
plausible (APPNOTE 6.3.10): a local file header with version-needed ≤ 6.3, a known host
byte, a defined compression method, no reserved flag bits and a non-empty name; or an
end-of-central-directory record with equal disk numbers, equal entry counts and a
central directory size that fits the entry count. The chance of a random match is
below 2^-56 per byte.
"""

from __future__ import annotations

import struct

from cluetool.validate.attachments.common import Problem

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




class ZipScanner:
    """Finds the first plausible ZIP record, across chunk boundaries."""

    def __init__(self) -> None:
        self._tail = b""
        self._base = 0
        self.found: Problem | None = None

    def _search(self, buf: bytes, end: int) -> None:
        # The earliest plausible record starting before ``end``, so that the result
        # does not depend on how the file was split into chunks. One compiled scan for
        # both signatures; they cannot overlap, as neither holds a "P" after its first byte.
        # Two memchr-speed searches, merged in offset order.
        limit = end + 3
        lfh, eocd = buf.find(_LFH, 0, limit), buf.find(_EOCD, 0, limit)
        while lfh >= 0 or eocd >= 0:
            if eocd < 0 or 0 <= lfh < eocd:
                if _plausible_lfh(buf, lfh):
                    self.found = ("attachment.embedded_archive", f"ZIP local file header at offset {self._base + lfh}")
                    return
                lfh = buf.find(_LFH, lfh + 1, limit)
            else:
                if _plausible_eocd(buf, eocd):
                    self.found = ("attachment.embedded_archive",
                                  f"ZIP end of central directory record at offset {self._base + eocd}")
                    return
                eocd = buf.find(_EOCD, eocd + 1, limit)

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
