"""Streaming POSIX ustar archives: a deterministic writer and a strict reader.

Spec: POSIX.1-2017 (IEEE Std 1003.1-2017), XCU ``pax``, "ustar Interchange Format"
(magic ``"ustar\\0"``, version ``"00"``). This is the container of a ``.clue`` batch
(manifest.json, manifest.json.minisig, payload.age; DESIGN §5) and of the payload's
plaintext (index.json, reports/<id>.json, attachments/<sha256>).

Use cluetool.seal/verify unless you are implementing the format.

Only regular files (typeflag ``'0'``) exist in this profile. Decisions where POSIX
leaves a choice, fixed so that the same inputs always give the same bytes:

* Writer: uid/gid 0, uname/gname empty (what ``tar --owner=0 --group=0
  --numeric-owner`` writes, so GNU tar uses the numeric ids), devmajor/devminor 0, no
  link name. Numeric fields are zero-padded octal with a NUL terminator; the checksum is
  six digits, NUL, space, as GNU tar and Python's ``tarfile`` write it. A path longer
  than 100 bytes is split at the last ``/`` that leaves a prefix of at most 155 bytes
  (GNU tar's choice), so for the same file the header is byte-identical to GNU tar's.
  ``close()`` writes the two zero blocks and pads with zeros to a multiple of 10240 bytes
  (the POSIX default record size, blocking factor 20, as GNU tar, bsdtar and ``tarfile``
  do). Data is written sequentially, never seeked, so a caller may hash ``dst``.
* Reader: it accepts exactly what the writer and standard ustar writers produce for
  regular files, and raises ``UstarError`` for anything else: other type flags (the
  legacy ``'\\0'`` regular file included), pax and GNU extension headers, GNU or old
  magic, bad checksums (unsigned sum only), numeric fields that are not octal digits
  followed by at least one space/NUL terminator (base-256 included), modes with bits
  above 0o777 (setuid, setgid, sticky), a link name, data after a string field's NUL,
  unsafe or non-canonical paths (absolute, empty, ``.`` or ``..`` components,
  backslashes, control characters, non-UTF-8), duplicate paths or a path that is both a
  file and a parent directory, non-zero padding, truncation, a lone zero block, and
  anything after the two end blocks other than zero bytes up to the end of the current
  10240-byte record (the total length must be a multiple of 512). devmajor/devminor
  may be all NUL (Python's ``tarfile``) or a well-formed number; uname/gname may hold
  anything NUL-terminated; the 12 unused header bytes must be zero.

Errors are one line and name the member: ``member 3 "payload.age" at byte 1536: ...``.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import BinaryIO, Final

__all__ = [
    "BLOCK_SIZE",
    "CHUNK_SIZE",
    "MAX_MEMBER_SIZE",
    "RECORD_SIZE",
    "Member",
    "UstarError",
    "UstarWriter",
    "archive_size",
    "iter_exact_layout",
    "iter_members",
]

BLOCK_SIZE: Final = 512
RECORD_SIZE: Final = 20 * BLOCK_SIZE  # POSIX pax: the default blocking factor is 20.
CHUNK_SIZE: Final = 64 * 1024
# The size field is 12 bytes: 11 octal digits and a terminator.
MAX_MEMBER_SIZE: Final = 8**11 - 1
_MAX_MTIME: Final = 8**11 - 1
_MAX_MODE: Final = 0o777

_ZERO_BLOCK: Final = bytes(BLOCK_SIZE)
_MAGIC: Final = b"ustar\x00"
_VERSION: Final = b"00"
_GNU_MAGIC: Final = b"ustar  \x00"
_REGTYPE: Final = b"0"

# Header field offsets, POSIX pax "ustar Interchange Format", Table: ustar Header Block.
_NAME = slice(0, 100)
_MODE = slice(100, 108)
_UID = slice(108, 116)
_GID = slice(116, 124)
_SIZE = slice(124, 136)
_MTIME = slice(136, 148)
_CHKSUM = slice(148, 156)
_TYPEFLAG = 156
_LINKNAME = slice(157, 257)
_MAGIC_F = slice(257, 263)
_VERSION_F = slice(263, 265)
_UNAME = slice(265, 297)
_GNAME = slice(297, 329)
_DEVMAJOR = slice(329, 337)
_DEVMINOR = slice(337, 345)
_PREFIX = slice(345, 500)
_PAD = slice(500, 512)
_NAME_LEN: Final = 100
_PREFIX_LEN: Final = 155

# POSIX: "each numeric field is terminated by one or more <space> or NUL characters".
_OCTAL_RE: Final = re.compile(rb"([0-7]+)[ \x00]+")
_CONTROL_RE: Final = re.compile(r"[\x00-\x1f\x7f]")
# The header bytes 100..156 (mode, uid, gid, size, mtime, chksum) and 156..345
# (typeflag to devminor) as the writer lays them out; the reader's fast path.
_CANONICAL_NUMBERS: Final = re.compile(
    rb"([0-7]{7})\x00([0-7]{7})\x00([0-7]{7})\x00([0-7]{11})\x00([0-7]{11})\x00([0-7]{6})\x00 "
)
_CANONICAL_MID: Final = (
    _REGTYPE + bytes(100) + _MAGIC + _VERSION + bytes(64) + b"0000000\x00" + b"0000000\x00"
)
_ZERO_PAD: Final = bytes(12)

_TYPE_NAMES: Final = {
    b"\x00": "legacy regular file (typeflag NUL)",
    b"1": "hard link",
    b"2": "symbolic link",
    b"3": "character device",
    b"4": "block device",
    b"5": "directory",
    b"6": "FIFO",
    b"7": "contiguous file",
    b"x": "pax extended header",
    b"g": "pax global header",
    b"L": "GNU long name header",
    b"K": "GNU long link name header",
    b"D": "GNU dump directory",
    b"M": "GNU multi-volume continuation",
    b"N": "GNU old long name header",
    b"S": "GNU sparse file",
    b"V": "GNU volume header",
}


class UstarError(ValueError):
    """The bytes are not a ustar archive of this profile, or a member cannot be written."""


def _display(raw: bytes | str) -> str:
    """Quote a name for a one-line message: printable ASCII kept, everything else escaped."""
    text = raw.decode("utf-8", "surrogateescape") if isinstance(raw, bytes) else raw
    out: list[str] = []
    for ch in text:
        code = ord(ch)
        if 0xDC80 <= code <= 0xDCFF:  # An undecodable byte (surrogateescape).
            out.append(f"\\x{code - 0xDC00:02x}")
        elif ch in '"\\':
            out.append("\\" + ch)
        elif 0x20 <= code < 0x7F:
            out.append(ch)
        elif code < 0x100:
            out.append(f"\\x{code:02x}")
        elif code < 0x10000:
            out.append(f"\\u{code:04x}")
        else:
            out.append(f"\\U{code:08x}")
    return '"' + "".join(out) + '"'


def _check_path(name: str) -> str | None:
    """Why ``name`` is not a safe, canonical relative path, or None when it is."""
    if not name:
        return "empty name"
    if "\\" in name:
        return "backslash in name"
    if "\x00" in name:
        return "NUL in name"
    if _CONTROL_RE.search(name):
        return "control character in name"
    if name.startswith("/"):
        return "absolute name"
    for part in name.split("/"):
        if part == "":
            return "empty path component in name"
        if part == "..":
            return "'..' component in name"
        if part == ".":
            return "'.' component in name"
    return None


def _parents(name: str) -> list[str]:
    parts = name.split("/")
    return ["/".join(parts[:i]) for i in range(1, len(parts))]


class _NameSet:
    """Member paths seen so far: rejects duplicates and file/directory clashes."""

    def __init__(self) -> None:
        self._files: set[str] = set()
        self._dirs: set[str] = set()

    def problem(self, name: str) -> str | None:
        if name in self._files:
            return "duplicate name"
        if name in self._dirs:
            return "name is also the parent directory of an earlier member"
        for parent in _parents(name):
            if parent in self._files:
                return f"parent directory {_display(parent)} is an earlier member"
        return None

    def add(self, name: str) -> None:
        self._files.add(name)
        self._dirs.update(_parents(name))


def _byte_sum(block: bytes) -> int:
    """``sum(block)`` of a 512-byte block, in C: Adler-32's first half is 1 + the byte
    sum mod 65521, exact for 256 bytes (at most 65,280), so one call per half."""
    return (zlib.adler32(block[:256]) & 0xFFFF) + (zlib.adler32(block[256:]) & 0xFFFF) - 2


def _padding(size: int) -> int:
    return -size % BLOCK_SIZE


def archive_size(member_sizes: Iterable[int]) -> int:
    """Exact byte length of the archive ``UstarWriter`` writes for members of these sizes.

    Raises:
        UstarError: a size is negative or above ``MAX_MEMBER_SIZE``.
    """
    total = 0
    for size in member_sizes:
        if not 0 <= size <= MAX_MEMBER_SIZE:
            raise UstarError(f"member size {size} is outside 0..{MAX_MEMBER_SIZE}")
        total += BLOCK_SIZE + size + _padding(size)
    total += 2 * BLOCK_SIZE
    return total + (-total % RECORD_SIZE)


# --------------------------------------------------------------------------- writer


def _octal(value: int, width: int) -> bytes:
    # Zero-padded digits filling the field but for one NUL terminator (POSIX, GNU tar).
    return f"{value:0{width - 1}o}".encode("ascii") + b"\x00"


def _split_name(encoded: bytes) -> tuple[bytes, bytes] | None:
    """(prefix, name) fields for a path, or None when ustar cannot represent it."""
    if len(encoded) <= _NAME_LEN:
        return b"", encoded
    # POSIX: the path is prefix + "/" + name. Like GNU tar, take the last slash that
    # leaves a prefix of at most 155 bytes; an earlier slash only lengthens the name.
    cut = encoded.rfind(b"/", 0, _PREFIX_LEN + 1)
    if cut <= 0 or len(encoded) - cut - 1 > _NAME_LEN:
        return None
    return encoded[:cut], encoded[cut + 1 :]


def _build_header(prefix: bytes, name: bytes, size: int, mtime: int, mode: int) -> bytes:
    header = bytearray(BLOCK_SIZE)
    header[0 : len(name)] = name
    header[_MODE] = _octal(mode, 8)
    header[_UID] = _octal(0, 8)
    header[_GID] = _octal(0, 8)
    header[_SIZE] = _octal(size, 12)
    header[_MTIME] = _octal(mtime, 12)
    header[_CHKSUM] = b" " * 8  # POSIX: the checksum is computed with this field as spaces.
    header[_TYPEFLAG] = _REGTYPE[0]
    header[_MAGIC_F] = _MAGIC
    header[_VERSION_F] = _VERSION
    header[_DEVMAJOR] = _octal(0, 8)
    header[_DEVMINOR] = _octal(0, 8)
    header[345 : 345 + len(prefix)] = prefix
    header[_CHKSUM] = f"{sum(header):06o}".encode("ascii") + b"\x00 "
    return bytes(header)


def member_header(name: str, size: int, *, mtime: int = 0, mode: int = 0o644) -> bytes:
    """The 512-byte header ``UstarWriter.add`` writes for this member.

    For writers that lay out an archive themselves (e.g. to reserve room for a member
    whose content is known only later): header, ``size`` data bytes, then
    ``padding(size)`` zero bytes per member, and ``end_of_archive(total)`` at the end.

    Raises:
        UstarError: as ``UstarWriter.add`` for the name, size, mtime or mode.
    """
    problem = _check_path(name)
    if problem is not None:
        raise _add_error(name, problem)
    try:
        encoded = name.encode("utf-8")
    except UnicodeEncodeError:
        raise _add_error(name, "name is not valid UTF-8") from None
    split = _split_name(encoded)
    if split is None:
        problem = f"name of {len(encoded)} bytes does not fit the name (100) and prefix (155) fields"
        raise _add_error(name, problem)
    if not 0 <= size <= MAX_MEMBER_SIZE:
        raise _add_error(name, f"size {size} is outside 0..{MAX_MEMBER_SIZE}")
    if not 0 <= mtime <= _MAX_MTIME:
        raise _add_error(name, f"mtime {mtime} is outside 0..{_MAX_MTIME}")
    if not 0 <= mode <= _MAX_MODE:
        raise _add_error(name, f"mode {mode:#o} is outside 0o0..0o777")
    return _build_header(split[0], split[1], size, mtime, mode)


def padding(size: int) -> int:
    """Zero bytes that follow a member of ``size`` data bytes."""
    return _padding(size)


def end_of_archive(written: int) -> bytes:
    """The end-of-archive blocks plus record padding after ``written`` archive bytes."""
    tail = 2 * BLOCK_SIZE
    return bytes(tail + (-(written + tail) % RECORD_SIZE))


def _add_error(name: str, problem: str) -> UstarError:
    return UstarError(f"cannot add member {_display(name)}: {problem}")


class UstarWriter:
    """Write a ustar archive of regular files to ``dst``, sequentially and in bounded memory.

    Call ``add`` per member, then ``close`` (or use it as a context manager; the end
    blocks are written only when the block exits without an exception). ``dst`` is not
    closed. After any error the archive is incomplete and the writer refuses further use.
    """

    def __init__(self, dst: BinaryIO) -> None:
        self._dst = dst
        self._written = 0
        self._names = _NameSet()
        self._closed = False
        self._failed = False

    @property
    def bytes_written(self) -> int:
        """Bytes written to ``dst`` so far."""
        return self._written

    def __enter__(self) -> UstarWriter:
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if exc_type is None:
            self.close()

    def _write(self, data: bytes) -> None:
        remaining = data
        while remaining:
            n = self._dst.write(remaining)
            # A raw stream may take only part; buffered ones (and wrappers returning
            # None) take everything.
            if n is None or n >= len(remaining):
                break
            if n <= 0:
                raise UstarError("destination accepted no bytes")
            remaining = remaining[n:]
        self._written += len(data)

    def _check_usable(self) -> None:
        if self._failed:
            raise UstarError("archive writer is unusable after an earlier error")
        if self._closed:
            raise UstarError("archive writer is closed")

    def add(
        self,
        name: str,
        size: int,
        src: bytes | bytearray | memoryview | BinaryIO,
        *,
        mtime: int = 0,
        mode: int = 0o644,
        on_data: Callable[[bytes], object] | None = None,
    ) -> None:
        """Append a regular file ``name`` of ``size`` bytes read from ``src``.

        A stream ``src`` is read in chunks of at most 64 KiB and must yield exactly
        ``size`` bytes (one extra byte is read to check). ``on_data`` is called with each
        chunk of member data as it is written (not headers or padding).

        Raises:
            UstarError: the name, size, mtime or mode cannot be represented, the name is
                unsafe, repeated or clashes with an earlier member, or ``src`` does not
                hold exactly ``size`` bytes.
        """
        self._check_usable()
        if _check_path(name) is None and (problem := self._names.problem(name)) is not None:
            raise _add_error(name, problem)
        header = member_header(name, size, mtime=mtime, mode=mode)
        view: memoryview | None = None
        if isinstance(src, (bytes, bytearray, memoryview)):
            view = memoryview(src).cast("B")
            if view.nbytes != size:
                raise _add_error(name, f"{view.nbytes} bytes given, size says {size}")

        self._names.add(name)
        self._failed = True  # Cleared below once the member is complete.
        self._write(header)
        done = 0
        while done < size:
            want = min(CHUNK_SIZE, size - done)
            if view is not None:
                chunk = bytes(view[done : done + want])
            else:
                chunk = src.read(want) or b""  # type: ignore[union-attr]
                if not chunk:
                    raise _add_error(name, f"source ended after {done} of {size} bytes")
                if len(chunk) > want:
                    raise _add_error(name, "source returned more bytes than asked")
            self._write(chunk)
            if on_data is not None:
                on_data(chunk)
            done += len(chunk)
        if view is None and src.read(1):  # type: ignore[union-attr]
            raise _add_error(name, f"source holds more than {size} bytes")
        self._write(bytes(_padding(size)))
        self._failed = False

    def close(self) -> None:
        """Write the end-of-archive (two zero blocks) and zero-pad to a 10240-byte record.

        Raises:
            UstarError: the writer failed earlier (the archive would be incomplete).
        """
        if self._closed:
            return
        self._check_usable()
        self._write(_ZERO_BLOCK * 2)
        self._write(bytes(-self._written % RECORD_SIZE))
        self._closed = True


# --------------------------------------------------------------------------- reader


class Member:
    """A regular-file member; its data is readable until the iterator moves on.

    Attributes: ``name`` (str path), ``size``, ``mode`` (permission bits), ``mtime``
    (seconds since the epoch), ``offset`` (byte offset of the data in the archive
    stream) and ``index`` (1-based position).
    """

    __slots__ = ("name", "size", "mode", "mtime", "offset", "index", "_reader", "_remaining")

    def __init__(
        self, name: str, size: int, mode: int, mtime: int, offset: int, index: int, reader: _Reader
    ) -> None:
        self.name = name
        self.size = size
        self.mode = mode
        self.mtime = mtime
        self.offset = offset
        self.index = index
        self._reader: _Reader | None = reader
        self._remaining = size

    def __repr__(self) -> str:
        return (
            f"Member(name={self.name!r}, size={self.size}, mode={self.mode:#o},"
            f" mtime={self.mtime}, offset={self.offset})"
        )

    @property
    def remaining(self) -> int:
        """Data bytes not read yet."""
        return self._remaining

    def read(self, n: int = -1) -> bytes:
        """Return the next ``min(n, remaining)`` data bytes (all remaining when ``n < 0``).

        Raises:
            UstarError: the archive ends inside the data.
            ValueError: the iterator has moved past this member.
        """
        if self._reader is None:
            raise ValueError(f"member {self.name!r} is no longer readable: the iterator has moved on")
        want = self._remaining if n < 0 else min(n, self._remaining)
        if want == 0:
            return b""
        data = self._reader.read_upto(want)
        self._remaining -= len(data)
        if len(data) < want:
            raise self._reader.error(self.index, self.name, self.offset - BLOCK_SIZE, "truncated data")
        return data

    def chunks(self, chunk_size: int = CHUNK_SIZE) -> Iterator[bytes]:
        """Yield the remaining data in chunks of at most ``chunk_size`` bytes.

        Raises:
            UstarError: the archive ends inside the data.
        """
        while self._remaining:
            yield self.read(chunk_size)

    def _detach(self) -> None:
        self._reader = None


def _string_field(field: bytes) -> bytes | None:
    """A NUL-terminated (or field-filling) string; None when bytes follow the NUL."""
    end = field.find(b"\x00")
    if end < 0:
        return field
    if field[end:].count(0) != len(field) - end:
        return None
    return field[:end]


class _Reader:
    def __init__(self, src: BinaryIO, max_members: int | None, max_member_size: int | None) -> None:
        self._src = src
        self._pos = 0
        self._max_members = max_members
        self._max_member_size = MAX_MEMBER_SIZE if max_member_size is None else max_member_size
        self._names = _NameSet()

    def read_upto(self, n: int) -> bytes:
        """Up to ``n`` bytes; fewer only at end of stream. Never asks for more than 64 KiB."""
        parts: list[bytes] = []
        got = 0
        while got < n:
            chunk = self._src.read(min(n - got, CHUNK_SIZE))
            if not chunk:
                break
            if len(chunk) > n - got:
                raise UstarError("source returned more bytes than asked")
            parts.append(chunk)
            got += len(chunk)
        self._pos += got
        return parts[0] if len(parts) == 1 else b"".join(parts)

    @staticmethod
    def error(index: int, name: str | bytes, header_pos: int, problem: str) -> UstarError:
        return UstarError(f"member {index} {_display(name)} at byte {header_pos}: {problem}")

    def members(self) -> Iterator[Member]:
        index = 0
        while True:
            header_pos = self._pos
            block = self.read_upto(BLOCK_SIZE)
            if not block:
                raise UstarError(
                    f"missing end-of-archive after {index} members (stream ends at byte {header_pos})"
                )
            if len(block) < BLOCK_SIZE:
                raise UstarError(f"truncated header at byte {header_pos} after {index} members")
            if block == _ZERO_BLOCK:
                self._finish(header_pos)
                return
            index += 1
            member = self._parse(block, index, header_pos)
            if self._max_members is not None and index > self._max_members:
                raise self.error(index, member.name, header_pos, f"more than {self._max_members} members")
            try:
                yield member
                self._skip_rest(member, header_pos)
            finally:
                member._detach()

    def _skip_rest(self, member: Member, header_pos: int) -> None:
        while member.remaining:
            member.read(CHUNK_SIZE)
        pad = _padding(member.size)
        if pad:
            data = self.read_upto(pad)
            if len(data) < pad:
                raise self.error(member.index, member.name, header_pos, "truncated padding after data")
            if data.count(0) != pad:
                raise self.error(member.index, member.name, header_pos, "non-zero padding after data")

    def _finish(self, end_pos: int) -> None:
        # POSIX: the end of an archive is two consecutive zero blocks. GNU tar skips a lone
        # zero block and reads on, so a block after one could hide a member.
        second = self.read_upto(BLOCK_SIZE)
        if second != _ZERO_BLOCK:
            raise UstarError(f"end-of-archive at byte {end_pos} is not two zero blocks")
        # Anything after the end blocks must be zero padding to the record boundary.
        after = self._pos
        limit = after + (-after % RECORD_SIZE)
        while True:
            chunk = self.read_upto(CHUNK_SIZE)
            if not chunk:
                break
            if chunk.count(0) != len(chunk):
                first = self._pos - len(chunk) + next(i for i, b in enumerate(chunk) if b)
                raise UstarError(f"trailing data after end-of-archive at byte {first}")
            if self._pos > limit:
                raise UstarError(
                    f"trailing zero bytes beyond the {RECORD_SIZE}-byte record after end-of-archive"
                    f" (stream ends at byte {self._pos}, record ends at byte {limit})"
                )
        if self._pos % BLOCK_SIZE:
            raise UstarError(f"archive length {self._pos} is not a multiple of {BLOCK_SIZE} bytes")

    def _numeric(self, block: bytes, field: slice, what: str, index: int, name: bytes, pos: int) -> int:
        match = _OCTAL_RE.fullmatch(block[field])
        if match is None:
            raise self.error(index, name, pos, f"malformed {what} field {block[field]!r}")
        return int(match.group(1), 8)

    def _parse(self, block: bytes, index: int, pos: int) -> Member:
        fast = _CANONICAL_NUMBERS.fullmatch(block, 100, 156)
        if fast is not None and block[156:345] == _CANONICAL_MID and block[500:] == _ZERO_PAD:
            return self._parse_canonical(block, fast, index, pos)
        return self._parse_any(block, index, pos)

    def _checked_name(self, full: bytes, index: int, pos: int) -> str:
        """The member path from its raw prefix/name bytes, if safe and new."""
        try:
            name = full.decode("utf-8")
        except UnicodeDecodeError:
            raise self.error(index, full, pos, "name is not valid UTF-8") from None
        problem = _check_path(name) or self._names.problem(name)
        if problem is not None:
            raise self.error(index, full, pos, problem)
        return name

    def _check_mode_and_size(self, mode: int, size: int, full: bytes, index: int, pos: int) -> None:
        if mode > _MAX_MODE:
            problem = f"mode {mode:#o} has bits beyond 0o777 (setuid, setgid, sticky or type)"
            raise self.error(index, full, pos, problem)
        if size > self._max_member_size:
            problem = f"size {size} exceeds the limit of {self._max_member_size} bytes"
            raise self.error(index, full, pos, problem)

    def _parse_canonical(self, block: bytes, numbers: re.Match[bytes], index: int, pos: int) -> Member:
        """A header laid out as this module's writer (and GNU tar, ``tarfile``) lay
        them out: zero-padded numbers, no link name, empty owner names. Every check of
        ``_parse_any`` that the layout does not settle runs here, in the same order and
        with the same messages."""
        name_field = block[:100].rstrip(b"\x00")
        prefix_field = block[345:500].rstrip(b"\x00")
        mode, _uid, _gid, size, mtime, chksum = (int(n, 8) for n in numbers.groups())
        if chksum != _byte_sum(block) - sum(block[148:156]) + 8 * 0x20:
            shown = block[_NAME].split(b"\x00", 1)[0]
            shown_prefix = block[_PREFIX].split(b"\x00", 1)[0]
            raise self.error(index, shown_prefix + b"/" + shown if shown_prefix else shown, pos, "bad header checksum")
        if b"\x00" in name_field or b"\x00" in prefix_field:
            return self._parse_any(block, index, pos)  # names the problem
        full = prefix_field + b"/" + name_field if prefix_field else name_field
        name = self._checked_name(full, index, pos)
        self._check_mode_and_size(mode, size, full, index, pos)
        self._names.add(name)
        return Member(name, size, mode, mtime, pos + BLOCK_SIZE, index, self)

    def _parse_any(self, block: bytes, index: int, pos: int) -> Member:
        raw_name = block[_NAME].split(b"\x00", 1)[0]
        raw_prefix = block[_PREFIX].split(b"\x00", 1)[0]
        shown = raw_prefix + b"/" + raw_name if raw_prefix else raw_name

        # The checksum comes first: nothing else in a corrupt header is worth reporting.
        chk = _OCTAL_RE.fullmatch(block[_CHKSUM])
        # POSIX: the unsigned sum of the header with the chksum field taken as spaces.
        computed = sum(block[:148]) + 8 * 0x20 + sum(block[156:])
        if chk is None or int(chk.group(1), 8) != computed:
            raise self.error(index, shown, pos, "bad header checksum")
        if block[_MAGIC_F] != _MAGIC or block[_VERSION_F] != _VERSION:
            if block[257:265] == _GNU_MAGIC:
                raise self.error(index, shown, pos, "GNU tar header, not POSIX ustar (magic \"ustar  \")")
            raise self.error(index, shown, pos, f"not a ustar header (magic {block[257:265]!r})")
        typeflag = block[_TYPEFLAG : _TYPEFLAG + 1]
        if typeflag != _REGTYPE:
            kind = _TYPE_NAMES.get(typeflag, f"unsupported type flag {typeflag!r}")
            raise self.error(index, shown, pos, f"{kind} not allowed (regular files only)")

        name_field = _string_field(block[_NAME])
        prefix_field = _string_field(block[_PREFIX])
        if name_field is None or prefix_field is None:
            raise self.error(index, shown, pos, "NUL inside name")
        full = prefix_field + b"/" + name_field if prefix_field else name_field
        name = self._checked_name(full, index, pos)

        mode = self._numeric(block, _MODE, "mode", index, full, pos)
        self._numeric(block, _UID, "uid", index, full, pos)
        self._numeric(block, _GID, "gid", index, full, pos)
        size = self._numeric(block, _SIZE, "size", index, full, pos)
        mtime = self._numeric(block, _MTIME, "mtime", index, full, pos)
        for field, what in ((_DEVMAJOR, "devmajor"), (_DEVMINOR, "devminor")):
            # POSIX leaves these unspecified unless typeflag is 3 or 4: Python's tarfile
            # leaves them all NUL, GNU tar writes zeros. Accept all NUL or a number.
            if block[field] != bytes(8):
                self._numeric(block, field, what, index, full, pos)
        self._check_mode_and_size(mode, size, full, index, pos)
        if block[_LINKNAME].count(0) != 100:
            raise self.error(index, full, pos, "regular file has a link name")
        for field, what in ((_UNAME, "uname"), (_GNAME, "gname")):
            value = block[field]
            if b"\x00" not in value or _string_field(value) is None:
                raise self.error(index, full, pos, f"malformed {what} field")
        if block[_PAD].count(0) != 12:
            raise self.error(index, full, pos, "non-zero bytes in the unused end of the header")

        self._names.add(name)
        return Member(name, size, mode, mtime, pos + BLOCK_SIZE, index, self)


def iter_members(
    src: BinaryIO, *, max_members: int | None = None, max_member_size: int | None = None
) -> Iterator[Member]:
    """Yield the members of a ustar archive read sequentially from ``src``.

    Each ``Member``'s data can be read (``read``/``chunks``) until the next iteration,
    which skips what is left and checks the padding. Exhaust the iterator: the
    end-of-archive and trailing-data checks run only after the last member.

    Raises:
        UstarError: the archive breaks a rule of this profile (see the module docstring),
            has more than ``max_members`` members, or a member exceeds
            ``max_member_size`` bytes.
    """
    return _Reader(src, max_members, max_member_size).members()


def iter_exact_layout(
    src: BinaryIO, expected_names: Sequence[str], *, max_member_size: int | None = None
) -> Iterator[Member]:
    """Like ``iter_members``, but the archive must hold exactly ``expected_names`` in order.

    Raises:
        UstarError: as ``iter_members``, or a member is missing, extra or out of order.
    """
    expected = list(expected_names)
    count = 0
    for member in iter_members(src, max_members=len(expected), max_member_size=max_member_size):
        want = expected[count]
        if member.name != want:
            raise UstarError(
                f"member {member.index} at byte {member.offset - BLOCK_SIZE} is {_display(member.name)},"
                f" expected {_display(want)}"
            )
        count += 1
        yield member
    if count != len(expected):
        missing = ", ".join(_display(n) for n in expected[count:])
        raise UstarError(f"archive has {count} members, expected {len(expected)} (missing {missing})")
