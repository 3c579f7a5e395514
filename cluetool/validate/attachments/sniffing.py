"""Sniffing with libmagic.

**Accepted MIME types** (libmagic 5.44, first 8 KiB): jpg ``image/jpeg``; mp3
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
"""

from __future__ import annotations

import functools

import magic

from cluetool.validate.attachments.common import SNIFF_BYTES


@functools.cache
def _magic() -> magic.Magic:
    # One libmagic handle per process; python-magic serialises calls on it with a lock.
    return magic.Magic(mime=True)


def sniff(first_bytes: bytes) -> str:
    """The MIME type libmagic gives the first 8 KiB of ``first_bytes``."""
    return str(_magic().from_buffer(bytes(first_bytes[:SNIFF_BYTES])))


@functools.cache
def _magic_all() -> magic.Magic:
    return magic.Magic(mime=True, keep_going=True)


def sniff_all(buf: bytes) -> set[str]:
    """Every MIME type libmagic matches in the first 8 KiB of ``buf`` (MAGIC_CONTINUE)."""
    # With MAGIC_CONTINUE libmagic joins the answers with "\\012- " (an escaped newline).
    raw = str(_magic_all().from_buffer(bytes(buf[:SNIFF_BYTES])))
    return {part.strip() for part in raw.replace("\\012", "\n").split("\n- ")}
