"""The ustar header layout of this profile and what reader and writer share: field
offsets, limits, path rules, the member-name set, the archive size (the profile is
described in ``cluetool/formats/ustar/__init__.py``)."""

from __future__ import annotations

import re
import zlib
from collections.abc import Iterable
from typing import Final

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
        self._checked: tuple[str, list[str]] = ("", [])  # the last name checked, its parents

    def problem(self, name: str) -> str | None:
        if name in self._files:
            return "duplicate name"
        if name in self._dirs:
            return "name is also the parent directory of an earlier member"
        parents = _parents(name)
        for parent in parents:
            if parent in self._files:
                return f"parent directory {_display(parent)} is an earlier member"
        self._checked = (name, parents)  # add() usually follows: its parents are known
        return None

    def add(self, name: str) -> None:
        self._files.add(name)
        checked, parents = self._checked
        self._dirs.update(parents if checked == name else _parents(name))


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
