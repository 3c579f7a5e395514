"""``AttachmentStream``: one pass over an attachment's bytes feeds the hash, the
structural parser, the embedded-archive scan and the bytes kept for sniffing."""

from __future__ import annotations

import hashlib

from cluetool.validate.attachments.common import DEFAULT_MAX_PIXELS, SNIFF_BYTES, TYPES, Problem
from cluetool.validate.attachments.jpeg import JpegParser
from cluetool.validate.attachments.mp3 import Mp3Parser
from cluetool.validate.attachments.mp4 import DEFAULT_MAX_SECONDS, Mp4Parser
from cluetool.validate.attachments.parser import Parser
from cluetool.validate.attachments.scan import ZipScanner


class AttachmentStream:
    """Incremental checker of one attachment's bytes: hash, structure, sniff bytes.

    Feed the file with ``update(chunk)`` in chunks of any size, then call ``finish()``.
    Results do not depend on how the bytes were split. When the size passes ``limit``
    the stream stops (``exceeded`` becomes true; stop reading) and ``finish()`` reports
    only ``attachment.too_large``; ``sha256`` is then ``None``. A frame of more than
    ``max_pixels`` (None: no limit) is ``attachment.dimensions``; an MP4 (as its
    ``mvhd`` states) or MP3 (by its frames) longer than ``max_seconds`` is
    ``attachment.duration``.

    Raises:
        ValueError: ``declared_type`` is not one of jpg, mp3, mp4.
    """

    def __init__(
        self, declared_type: str, *, limit: int, max_pixels: int | None = DEFAULT_MAX_PIXELS,
        max_seconds: int | None = DEFAULT_MAX_SECONDS,
    ) -> None:
        if declared_type not in TYPES:
            raise ValueError(f"unknown attachment type {declared_type!r}")
        self.declared_type = declared_type
        self.limit = limit
        self.size = 0
        self.exceeded = False
        self.sha256: str | None = None
        self._hash = hashlib.sha256()
        self._head = bytearray()
        self._parser: Parser = {"jpg": JpegParser, "mp3": Mp3Parser, "mp4": Mp4Parser}[declared_type](
            max_pixels=max_pixels
        )
        if isinstance(self._parser, (Mp3Parser, Mp4Parser)):
            self._parser.max_seconds = max_seconds
        self._zip = ZipScanner()
        self._audio_head = bytearray()
        self._result: list[Problem] | None = None

    def update(self, chunk: bytes) -> None:
        """Add the next bytes of the file.

        Raises:
            RuntimeError: called after ``finish()``.
        """
        if self._result is not None:
            raise RuntimeError("update() after finish()")
        if self.exceeded or not chunk:
            return
        data = bytes(chunk)
        start = self.size
        self.size += len(data)
        if self.size > self.limit:
            self.exceeded = True
            return
        self._hash.update(data)
        if len(self._head) < SNIFF_BYTES:
            self._head += data[: SNIFF_BYTES - len(self._head)]
        self._parser.feed(data)
        self._zip.feed(data)
        if isinstance(self._parser, Mp3Parser):
            self._keep_audio_head(data, start)

    def _keep_audio_head(self, data: bytes, start: int) -> None:
        # The 8 KiB from the first MPEG frame on, for sniffing past a long ID3v2 tag.
        audio = self._parser.audio_start  # type: ignore[attr-defined]
        if not audio or len(self._audio_head) >= SNIFF_BYTES:
            return
        lo = max(audio + len(self._audio_head), start)
        hi = min(audio + SNIFF_BYTES, start + len(data))
        if lo < hi and lo == audio + len(self._audio_head):
            self._audio_head += data[lo - start : hi - start]

    def finish(self) -> list[Problem]:
        """The problems found, as ``(code, message)``; idempotent."""
        if self._result is not None:
            return list(self._result)
        if self.exceeded:
            result = [
                (
                    "attachment.too_large",
                    f"more than the {self.declared_type} limit of {self.limit} bytes"
                    f" (stopped reading at {self.size})",
                )
            ]
        else:
            self.sha256 = self._hash.hexdigest()
            if self.size == 0:
                result = [("attachment.empty", "the file is empty")]
            else:
                result = self._parser.finish()
                if not any(code == "attachment.embedded_archive" and "ZIP" in m for code, m in result):
                    result += self._zip.finish()
        self._result = result
        return list(result)

    @property
    def metadata(self) -> list[tuple[str, str, str]]:
        """``(code, field, value)`` of the metadata that could identify a reporter
        (EXIF GPS, make, model, serials; MP4 location; ID3 personal frames)."""
        return list(self._parser.metadata)

    @property
    def work(self) -> dict[str, int]:
        """What the checks examined: parser steps, structures, opaque bytes scanned."""
        return {"steps": self._parser.steps, "structures": self._parser.structures,
                "scanned": self._parser.scanner.scanned, "candidates": self._parser.scanner.candidates}

    @property
    def head(self) -> bytes:
        """The first 8 KiB of the file (what ``sniff`` looks at)."""
        return bytes(self._head)

    @property
    def alternate_head(self) -> bytes:
        """For an MP3 with an ID3v2 tag: the 8 KiB from the end of the tag, else empty."""
        return bytes(self._audio_head)
