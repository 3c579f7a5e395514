"""Streaming POSIX ustar archives: a deterministic writer and a strict reader.

Spec: POSIX.1-2017 (IEEE Std 1003.1-2017), XCU ``pax``, "ustar Interchange Format"
(magic ``"ustar\\0"``, version ``"00"``). This is the container of a ``.clue`` batch
(manifest.json, manifest.json.minisig, payload.age; docs/format.md) and of the payload's
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

from .layout import BLOCK_SIZE, CHUNK_SIZE, MAX_MEMBER_SIZE, RECORD_SIZE, UstarError, archive_size
from .reader import Member, iter_exact_layout, iter_members
from .writer import UstarWriter, end_of_archive, member_header, padding

__all__ = [
    "BLOCK_SIZE",
    "CHUNK_SIZE",
    "MAX_MEMBER_SIZE",
    "RECORD_SIZE",
    "Member",
    "UstarError",
    "UstarWriter",
    "archive_size",
    "end_of_archive",
    "iter_exact_layout",
    "iter_members",
    "member_header",
    "padding",
]
