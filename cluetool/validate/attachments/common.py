"""What every attachment module shares: the accepted types, the declaration protocol,
and the ``(code, message)`` shape of a problem."""

from __future__ import annotations

from typing import Protocol

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
#: The default of ``Limits.image_pixels``: 100 megapixels.
DEFAULT_MAX_PIXELS = 100_000_000

Problem = tuple[str, str]  # (finding code, message)


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
