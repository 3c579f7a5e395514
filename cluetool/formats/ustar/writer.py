"""The deterministic ustar writer: ``UstarWriter``, and ``member_header`` / ``padding`` /
``end_of_archive`` for writers that lay out an archive themselves."""

from __future__ import annotations

from collections.abc import Callable
from typing import BinaryIO

from .layout import (
    BLOCK_SIZE,
    CHUNK_SIZE,
    MAX_MEMBER_SIZE,
    RECORD_SIZE,
    UstarError,
    _CHKSUM,
    _DEVMAJOR,
    _DEVMINOR,
    _GID,
    _MAGIC,
    _MAGIC_F,
    _MAX_MODE,
    _MAX_MTIME,
    _MODE,
    _MTIME,
    _NAME_LEN,
    _NameSet,
    _PREFIX_LEN,
    _REGTYPE,
    _SIZE,
    _TYPEFLAG,
    _UID,
    _VERSION,
    _VERSION_F,
    _ZERO_BLOCK,
    _check_path,
    _display,
    _padding,
)


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
