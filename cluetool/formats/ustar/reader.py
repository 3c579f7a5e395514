"""The strict, streaming ustar reader: ``iter_members`` and ``iter_exact_layout``."""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from typing import BinaryIO

from .layout import (
    BLOCK_SIZE,
    CHUNK_SIZE,
    MAX_MEMBER_SIZE,
    RECORD_SIZE,
    UstarError,
    _CANONICAL_MID,
    _CANONICAL_NUMBERS,
    _CHKSUM,
    _DEVMAJOR,
    _DEVMINOR,
    _GID,
    _GNAME,
    _GNU_MAGIC,
    _LINKNAME,
    _MAGIC,
    _MAGIC_F,
    _MAX_MODE,
    _MODE,
    _MTIME,
    _NAME,
    _NameSet,
    _OCTAL_RE,
    _PAD,
    _PREFIX,
    _REGTYPE,
    _SIZE,
    _TYPEFLAG,
    _TYPE_NAMES,
    _UID,
    _UNAME,
    _VERSION,
    _VERSION_F,
    _ZERO_BLOCK,
    _ZERO_PAD,
    _byte_sum,
    _check_path,
    _display,
    _padding,
)


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
        if n <= CHUNK_SIZE:  # the common case (a header, a small member, padding): one read
            chunk = self._src.read(n)
            if len(chunk) == n:
                self._pos += n
                return chunk
            if len(chunk) > n:
                raise UstarError("source returned more bytes than asked")
            parts: list[bytes] = [chunk] if chunk else []
            got = len(chunk)
            if not chunk:
                return b""
        else:
            parts = []
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
