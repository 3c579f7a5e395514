"""The age ASCII armor (C2SP age "ASCII armor", RFC 7468 strict): decoder and encoder."""

from __future__ import annotations

import binascii
from typing import TYPE_CHECKING, BinaryIO, Final

from .errors import ArmorError
from .header import _B64_ALPHABET, _COLUMNS

if TYPE_CHECKING:
    from .source import _Input

_ARMOR_BEGIN: Final = b"-----BEGIN AGE ENCRYPTED FILE-----"
_ARMOR_END: Final = b"-----END AGE ENCRYPTED FILE-----"
_ARMOR_LINE_BYTES: Final = 48
_ARMOR_WHITESPACE: Final = b" \t\r\n"
# Same bound as the reference implementation (armor/armor.go) on whitespace
# around the PEM block.
_ARMOR_MAX_WHITESPACE: Final = 1024


class _ArmorDecoder:
    """Strict RFC 7468 "stricttextualmsg" decoder for the age armor (spec "ASCII armor"),
    with the reference implementation's line-by-line semantics."""

    _READ_SIZE: Final = 1 << 18
    _MAX_LINE: Final = 4096

    def __init__(self, src: _Input) -> None:
        self._src = src
        self._text = bytearray()
        self._out = bytearray()
        self._state = 0  # 0: before BEGIN, 1: body, 2: END seen and verified
        self._src_eof = False

    def _fill(self) -> bool:
        if self._src_eof:
            return False
        data = self._src.read(self._READ_SIZE)
        if not data:
            self._src_eof = True
            return False
        self._text += data
        return True

    def _getline(self) -> bytes:
        searched = 0
        while True:
            i = self._text.find(b"\n", searched)
            if i >= 0:
                line = bytes(self._text[:i])
                del self._text[: i + 1]
                break
            searched = len(self._text)
            if searched > self._MAX_LINE:
                raise ArmorError("armor line too long")
            if not self._fill():
                if not self._text:
                    raise ArmorError("unexpected end of armored file")
                line = bytes(self._text)
                self._text.clear()
                break
        # CRLF line ends are allowed (RFC 7468 eol); a bare CR elsewhere is not.
        return line[:-1] if line.endswith(b"\r") else line

    def _begin(self) -> None:
        skipped = 0
        while True:
            stripped = len(self._text) - len(self._text.lstrip(_ARMOR_WHITESPACE))
            del self._text[:stripped]
            skipped += stripped
            if skipped > _ARMOR_MAX_WHITESPACE:
                raise ArmorError("too much whitespace before armor")
            if self._text:
                break
            if not self._fill():
                raise ArmorError("unexpected end of armored file")
        if self._getline() != _ARMOR_BEGIN:
            raise ArmorError("invalid armor begin line")
        self._state = 1

    def _end(self) -> None:
        # Only whitespace may follow the END line, and not too much of it.
        while len(self._text) <= _ARMOR_MAX_WHITESPACE and self._fill():
            pass
        if self._text.strip(_ARMOR_WHITESPACE):
            raise ArmorError("trailing data after armor")
        if len(self._text) > _ARMOR_MAX_WHITESPACE:
            raise ArmorError("too much whitespace after armor")
        self._text.clear()
        self._state = 2

    def _decode_fast(self, want: int) -> bool:
        """Decode up to ``want`` full, unpadded 64-column lines in one go."""
        text = self._text
        for eol in (b"\n", b"\r\n"):
            width = _COLUMNS + len(eol)
            k = min(want, len(text) // width)
            if k == 0:
                continue
            size = k * width
            if eol == b"\n":
                if text[_COLUMNS:size:width] != b"\n" * k:
                    continue
            elif text[_COLUMNS:size:width] != b"\r" * k or text[_COLUMNS + 1 : size : width] != b"\n" * k:
                continue
            block = text[:size].translate(None, b"\r\n")
            # Any other CR/LF means some line is not exactly 64 columns; a "=" means
            # a padded (final) line: both go through the line-by-line path.
            if len(block) != k * _COLUMNS or b"=" in block:
                continue
            try:
                self._out += binascii.a2b_base64(block, strict_mode=True)
            except binascii.Error:
                raise ArmorError("invalid base64 in armor") from None
            del text[:size]
            return True
        return False

    def _decode_line(self) -> None:
        line = self._getline()
        if line == _ARMOR_END:
            self._end()
            return
        if not line:
            raise ArmorError("empty line in armor")
        if len(line) > _COLUMNS:
            raise ArmorError("armor line longer than 64 columns")
        if len(line) % 4 or line.translate(None, _B64_ALPHABET + b"="):
            raise ArmorError("invalid base64 in armor")
        try:
            data = binascii.a2b_base64(line, strict_mode=True)
        except binascii.Error:
            raise ArmorError("invalid base64 in armor") from None
        if binascii.b2a_base64(data, newline=False) != line:
            raise ArmorError("non-canonical base64 in armor")
        self._out += data
        if len(data) < _ARMOR_LINE_BYTES:
            # A short line is the last one: the END line must follow.
            if self._getline() != _ARMOR_END:
                raise ArmorError("missing armor end line")
            self._end()

    def read(self, n: int) -> bytes:
        buf = bytearray(n)
        got = self.readinto(memoryview(buf))
        return bytes(buf[:got])

    def readinto(self, mv: memoryview) -> int:
        if not self._out:
            if self._state == 0:
                self._begin()
            want = -(-len(mv) // _ARMOR_LINE_BYTES)
            while not self._out and self._state == 1:
                if len(self._text) < want * (_COLUMNS + 2):
                    self._fill()
                if not self._decode_fast(want):
                    self._decode_line()
            if not self._out:
                return 0
        n = min(len(mv), len(self._out))
        mv[:n] = self._out[:n]
        del self._out[:n]
        return n


class _ArmorEncoder:
    """Canonical armor writer: BEGIN at byte 0, 64-column lines, LF, END line + LF."""

    _BATCH: Final = _ARMOR_LINE_BYTES * 1366  # about 64 KiB of input per flush

    def __init__(self, dst: BinaryIO) -> None:
        self._dst = dst
        self._pending = bytearray()
        dst.write(_ARMOR_BEGIN + b"\n")

    def _emit(self, raw: bytes | bytearray) -> None:
        enc = binascii.b2a_base64(raw, newline=False)
        lines = len(enc) // _COLUMNS
        out = bytearray(lines * (_COLUMNS + 1))
        # Interleave the newlines with strided copies instead of one slice per line.
        for col in range(_COLUMNS):
            out[col :: _COLUMNS + 1] = enc[col :: _COLUMNS]
        out[_COLUMNS :: _COLUMNS + 1] = b"\n" * lines
        self._dst.write(out)

    def write(self, data: bytes | bytearray | memoryview) -> int:
        self._pending += data
        if len(self._pending) >= self._BATCH:
            full = len(self._pending) // _ARMOR_LINE_BYTES * _ARMOR_LINE_BYTES
            self._emit(self._pending[:full])
            del self._pending[:full]
        return len(data)

    def close(self) -> None:
        full = len(self._pending) // _ARMOR_LINE_BYTES * _ARMOR_LINE_BYTES
        if full:
            self._emit(self._pending[:full])
        rest = self._pending[full:]
        tail = binascii.b2a_base64(rest, newline=True) if rest else b""
        self._dst.write(tail + _ARMOR_END + b"\n")
        self._pending.clear()
