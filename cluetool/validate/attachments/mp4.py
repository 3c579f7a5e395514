"""MP4 structure (ISO/IEC 14496-12 §4.2, §4.3).

Top-level boxes whose sizes add up exactly to the file size; the first is ``ftyp``
(size ≥ 16 and a whole number of brands); a size of 1 takes a 64-bit largesize (≥ 16);
any other size below 8 is invalid; top-level box types must be printable ASCII; a file
without ``moov`` is ``attachment.structure``. A size of 0 ("to the end of the file") is
allowed only for a top-level ``mdat`` that comes after ``moov`` (so it is the last box,
and the sample tables were read before it); any other box of size 0 is
``attachment.structure``. Such an ``mdat`` must end exactly where the last sample
of the tables (``stsz``, ``stsc``, ``stco``/``co64``) ends: bytes after it are
``attachment.trailing_data``.

The containers (``moov``, ``trak``, ``mdia``, ``minf``, ``stbl``, ``edts``, ``dinf``,
``mvex``, ``moof``, ``traf``, ``mfra``, ``udta``, ``meta``, ``ilst`` and its items) are
walked: a child must fit in its parent; fewer than 8 bytes left at the end of a
container (QuickTime's 32-bit terminator in ``udta``) are opaque. The tables a player
reads (``stsd``, ``stts``, ``stco`` …) and ``mdat`` are skipped; every other box
(``free``, ``skip``, ``uuid``, unknown types) is opaque and scanned for embedded
content. ``mvhd`` gives the duration and ``tkhd`` the frame size, checked against the
limits (``attachment.duration``, ``attachment.dimensions``). Location, make, model and
serial metadata are read from ``udta`` (``©xyz``, ``©mak``, ``©mod``) and from
``meta``/``keys``/``ilst`` (e.g. ``com.apple.quicktime.location.ISO6709``).
"""

from __future__ import annotations

import array
import itertools
import re
import struct
import sys
from collections.abc import Callable

from cluetool.validate.attachments.parser import Parser, plural_bytes

_CONTAINERS = frozenset({b"moov", b"trak", b"edts", b"mdia", b"minf", b"dinf", b"stbl", b"mvex",
                         b"moof", b"traf", b"mfra", b"udta", b"meta", b"ilst"})
_KNOWN = frozenset({
    b"ftyp", b"mdat", b"mvhd", b"tkhd", b"tref", b"elst", b"mdhd", b"hdlr", b"vmhd", b"smhd", b"hmhd",
    b"nmhd", b"sthd", b"dref", b"stsd", b"stts", b"ctts", b"cslg", b"stsc", b"stsz", b"stz2", b"stco",
    b"co64", b"stss", b"stsh", b"stdp", b"sdtp", b"sbgp", b"sgpd", b"subs", b"saiz", b"saio", b"padb",
    b"mehd", b"trex", b"leva", b"mfhd", b"tfhd", b"trun", b"tfdt", b"tfra", b"mfro", b"iloc", b"ipro",
    b"iinf", b"pitm", b"iref", b"sidx", b"ssix", b"prft", b"emsg", b"styp", b"pdin", b"elng", b"keys",
    b"data", b"mean", b"name", b"btrt", b"pasp", b"colr",
})
_READ_MAX = 64 * 1024  # metadata boxes read whole are at most this long
_TABLE_MAX = 16 * 1024 * 1024  # sample tables read whole (for a size-0 mdat) are at most this long
_TABLES = (b"stsz", b"stsc", b"stco", b"co64")
# (code, what) for metadata keys, matched on the lower-cased key or 4CC.
_META_KEYS = (("location", "metadata.location"), ("iso6709", "metadata.location"), ("©xyz", "metadata.location"),
              ("serial", "metadata.serial"), ("make", "metadata.device"), ("model", "metadata.device"),
              ("©mak", "metadata.device"), ("©mod", "metadata.device"))
DEFAULT_MAX_SECONDS = 24 * 3600


def _u32s(data: bytes, at: int, count: int) -> array.array | None:  # type: ignore[type-arg]
    if count < 0 or len(data) < at + 4 * count:
        return None
    values = array.array("I", data[at:at + 4 * count])
    if sys.byteorder == "little":
        values.byteswap()
    return values


def _track_end(tables: dict[bytes, bytes]) -> int | None:
    """The end of a track's last sample from its raw stsz, stsc and stco/co64."""
    stsz, stsc, offsets_raw = tables.get(b"stsz"), tables.get(b"stsc"), tables.get(b"stco") or tables.get(b"co64")
    if stsz is None or stsc is None or offsets_raw is None or len(stsz) < 12 or len(stsc) < 8 or len(offsets_raw) < 8:
        return None
    size, count = struct.unpack_from(">II", stsz, 4)
    prefix = None
    if size == 0:
        sizes = _u32s(stsz, 12, count)
        if sizes is None:
            return None
        prefix = [0, *itertools.accumulate(sizes)]
    (entries,) = struct.unpack_from(">I", stsc, 4)
    runs = _u32s(stsc, 8, 3 * entries)
    (n,) = struct.unpack_from(">I", offsets_raw, 4)
    if b"co64" in tables and b"stco" not in tables:
        if len(offsets_raw) < 8 + 8 * n:
            return None
        offsets = struct.unpack_from(f">{n}Q", offsets_raw, 8)
    else:
        offsets = _u32s(offsets_raw, 8, n)
    if runs is None or offsets is None or not entries or runs[0] != 1:
        return None
    end, sample, k = 0, 0, 0
    for c, offset in enumerate(offsets, start=1):
        while k + 1 < entries and runs[3 * (k + 1)] <= c:  # entries ascend by first_chunk
            k += 1
        per = runs[3 * k + 1]
        if sample + per > count:
            return None
        chunk = per * size if prefix is None else prefix[sample + per] - prefix[sample]
        sample += per
        end = max(end, offset + chunk)
    return end


def _meta_code(key: str) -> str | None:
    low = key.lower()
    for needle, code in _META_KEYS:
        if needle in low:
            return code
    return None


_PRINTABLE = re.compile(rb"[\x20-\x7e]{4}")


def _name(kind: bytes) -> str:
    if _PRINTABLE.fullmatch(kind):
        return kind.decode("ascii")
    if kind[0] == 0xA9 and all(0x20 <= b <= 0x7E for b in kind[1:]):
        return "©" + kind[1:].decode("ascii")
    return f"0x{kind.hex()}"


class Mp4Parser(Parser):
    kind = "MP4"

    def __init__(self, *, max_pixels: int | None = None, max_seconds: int | None = DEFAULT_MAX_SECONDS) -> None:
        super().__init__(max_pixels=max_pixels)
        self.max_seconds = max_seconds
        self._boxes = 0
        self._box_at = 0
        self._box_type = ""
        self._box_size = 0
        self._kind = b""
        self._to_eof = False
        self._mdat_at = 0
        self._moov = False
        self._stack: list[tuple[int, bytes]] = []  # (end offset, type) of open containers
        self._keys: list[str] = []
        self._tables: dict[int, dict[bytes, bytes]] = {}  # raw sample tables per track
        self._track = 0
        self._item_name = ""
        self._want(8, self._on_header)

    def _next(self) -> None:
        """Request the next box header, closing the containers that end before it."""
        start = self.pos + self._skip
        while self._stack and start >= self._stack[-1][0]:
            self._stack.pop()
        while self._stack and self._stack[-1][0] - start < 8:
            left = self._stack[-1][0] - start  # a few bytes no box can hold: opaque
            if self._skip == 0:
                self._skip_opaque(left)
            else:
                self._skip += left  # one more region cannot start inside a skip
            start = self._stack.pop()[0]
            while self._stack and start >= self._stack[-1][0]:
                self._stack.pop()
        self._want(8, self._on_header)

    def _on_header(self, data: bytes) -> None:
        at = self.pos - 8
        size = struct.unpack_from(">I", data)[0]
        kind = data[4:8]
        parent = self._stack[-1][1] if self._stack else b""
        name = _name(kind)
        if self._boxes == 0 and kind != b"ftyp":
            self._fail("attachment.structure", f"MP4 does not start with an ftyp box (found {name!r})")
            return
        if not self._stack and not _PRINTABLE.fullmatch(kind):
            self._fail("attachment.structure", f"MP4 box at offset {at} has a non-ASCII type {name}")
            return
        if not self._structure("box"):
            return
        self._boxes += 1
        self._box_at, self._box_type, self._kind = at, name, kind
        if parent == b"ilst":
            self._kind = b"item"
            # An ilst item: a 4CC (©xyz) or a 1-based index into keys.
            index = struct.unpack_from(">I", kind)[0]
            self._item_name = self._keys[index - 1] if 0 < index <= len(self._keys) else name
        if kind == b"moov" and not self._stack:
            self._moov = True
        if size == 1:
            self._want(8, self._on_largesize)
        elif size == 0:
            if kind != b"mdat" or self._stack or not self._moov:
                self._fail("attachment.structure",
                           f"MP4 box {name!r} at offset {at} has size 0 (to the end of the file): only a"
                           " top-level mdat after moov may")
                return
            self._to_eof = True
            self._mdat_at = at
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
        kind, body = self._kind, size - header
        if kind == b"ftyp" and (body < 8 or body % 4):
            # §4.3: major_brand, minor_version, then whole 4-byte compatible brands.
            self._fail("attachment.structure", f"MP4 ftyp box has invalid size {size}")
            return
        end = self._box_at + size
        if self._stack and end > self._stack[-1][0]:
            self._fail("attachment.structure",
                       f"MP4 box {self._box_type!r} at offset {self._box_at} ends past its parent"
                       f" {_name(self._stack[-1][1])!r}")
            return
        self._box_size = size
        if kind in _CONTAINERS or kind == b"item":
            if kind == b"trak":
                self._track += 1
            self._stack.append((end, kind))
            if kind == b"meta":
                self._want(4, self._on_meta) if body >= 4 else self._next()
            else:
                self._next()
            return
        handler = self._reader(kind)
        if handler is not None and body <= (_TABLE_MAX if kind in _TABLES else _READ_MAX):
            self._want(body, handler) if body else handler(b"")
            return
        if kind in _KNOWN or (kind == b"data" and self._stack):
            self._skip = body
        else:
            self._skip_opaque(body)
        self._next()

    def _reader(self, kind: bytes) -> Callable[[bytes], None] | None:
        if kind == b"mvhd":
            return self._on_mvhd
        if kind == b"tkhd":
            return self._on_tkhd
        if kind == b"keys":
            return self._on_keys
        if kind in _TABLES and self._stack and self._stack[-1][1] == b"stbl":
            return self._on_table
        if kind == b"data" and self._stack and self._stack[-1][1] == b"item":
            return self._on_data
        if kind[:1] == b"\xa9" and self._stack and self._stack[-1][1] == b"udta":
            return self._on_udta_text
        return None

    def _on_meta(self, data: bytes) -> None:
        if data == b"\x00\x00\x00\x00":  # ISO FullBox version and flags; children follow
            self._next()
            return
        # QuickTime's meta has no version: these are the first child's size.
        self._want(4, lambda kind: self._on_header(data + kind))

    def _on_mvhd(self, data: bytes) -> None:
        if len(data) >= 20 and data[0] in (0, 1):
            scale, duration = (struct.unpack_from(">IQ", data, 20) if data[0] == 1 and len(data) >= 32
                               else struct.unpack_from(">II", data, 12))
            if scale and self.max_seconds is not None and duration / scale > self.max_seconds:
                self._note("attachment.duration",
                           f"MP4 declares a duration of {duration / scale:.0f} s, more than the limit of"
                           f" {self.max_seconds} s")
        self._next()

    def _on_table(self, data: bytes) -> None:
        # The current track's sample sizes (stsz), samples per chunk (stsc) and chunk
        # offsets (stco/co64), kept raw; parsed only for a size-0 mdat (media_end).
        self._tables.setdefault(self._track, {})[self._kind] = data
        self._next()

    def media_end(self) -> int | None:
        """Where the last sample of any track ends (ISO/IEC 14496-12 §8.7), or None when
        the tables are missing or inconsistent. Linear in the tables' size."""
        end = 0
        for track in self._tables.values():
            got = _track_end(track)
            if got is None:
                return None
            end = max(end, got)
        return end or None

    def _on_tkhd(self, data: bytes) -> None:
        if len(data) in (84, 96):
            width, height = struct.unpack_from(">II", data, len(data) - 8)
            self._pixels("MP4 track", width >> 16, height >> 16)
        self._next()

    def _on_keys(self, data: bytes) -> None:
        self.scanner.region(data, self._box_at + 8)
        keys: list[str] = []
        if len(data) >= 8:
            count = struct.unpack_from(">I", data, 4)[0]
            p = 8
            while len(keys) < count and p + 8 <= len(data):
                size = struct.unpack_from(">I", data, p)[0]
                if size < 8 or p + size > len(data):
                    break
                keys.append(data[p + 8:p + size].decode("utf-8", "replace"))
                p += size
        self._keys = keys
        self._next()

    def _on_data(self, data: bytes) -> None:
        # ilst item value (QuickTime): type indicator (4), locale (4), then the value.
        self.scanner.region(data, self._box_at + 8)
        key = self._item_name
        code = _meta_code(key)
        if code is not None and len(data) > 8 and data[3] == 1:  # 1: UTF-8 text
            self._meta((code, key, data[8:].decode("utf-8", "replace")[:200]))
        self._next()

    def _on_udta_text(self, data: bytes) -> None:
        # QuickTime user data text: a 16-bit length, a 16-bit language, the text.
        self.scanner.region(data, self._box_at + 8)
        code = _meta_code(self._box_type)
        if code is not None and len(data) >= 4:
            n = struct.unpack_from(">H", data)[0]
            self._meta((code, self._box_type, data[4:4 + n].decode("utf-8", "replace")[:200]))
        self._next()

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
        elif self._buf or (self._stack and not self._to_eof):
            self._fail("attachment.truncated", f"MP4 ends at offset {self.pos} inside a box")
        elif not self._moov:
            self._fail("attachment.structure", "MP4 has no moov box")
        elif self._to_eof:
            # A size-0 mdat must end exactly where its last sample does.
            end = self.media_end()
            if end is not None and end < self.pos:
                self._fail("attachment.trailing_data",
                           f"{plural_bytes(self.pos - end)} after the last sample (offset {end}) in the"
                           f" size-0 mdat at offset {self._mdat_at}")
            elif end is not None and end > self.pos:
                self._fail("attachment.truncated",
                           f"MP4 ends at offset {self.pos} before its last sample ends (offset {end})")
