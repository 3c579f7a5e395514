"""A tiny PNG reader for the tests (PNG spec, ISO/IEC 15948): 8-bit greyscale, RGB or
RGBA, not interlaced, which is what Chromium's screenshots are. Enough to check a
rendered page's size and that it is not blank, without an imaging library."""

from __future__ import annotations

import struct
import zlib

SIGNATURE = b"\x89PNG\r\n\x1a\n"
_CHANNELS = {0: 1, 2: 3, 6: 4, 4: 2}


class Png:
    """Decoded pixels: ``rows[y]`` is a bytes object of ``width * channels`` samples."""

    def __init__(self, width: int, height: int, channels: int, rows: list[bytes]) -> None:
        self.width, self.height, self.channels, self.rows = width, height, channels, rows

    def pixel(self, x: int, y: int) -> tuple[int, ...]:
        c = self.channels
        return tuple(self.rows[y][x * c:(x + 1) * c])

    def colours(self, step: int = 1) -> dict[tuple[int, ...], int]:
        """How often each colour occurs (every ``step``-th pixel in each direction)."""
        out: dict[tuple[int, ...], int] = {}
        for y in range(0, self.height, step):
            for x in range(0, self.width, step):
                p = self.pixel(x, y)[:3]
                out[p] = out.get(p, 0) + 1
        return out


def _paeth(a: int, b: int, c: int) -> int:
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    if pa <= pb and pa <= pc:
        return a
    return b if pb <= pc else c


def read_png(data: bytes) -> Png:
    """Decode ``data``.

    Raises:
        ValueError: not a PNG of the supported kind.
    """
    if not data.startswith(SIGNATURE):
        raise ValueError("not a PNG")
    pos, idat, header = 8, b"", None
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        kind, body = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + length]
        pos += 12 + length
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        elif kind == b"IEND":
            break
    if header is None:
        raise ValueError("no IHDR")
    width, height, depth, colour, _, _, interlace = header
    if depth != 8 or colour not in _CHANNELS or interlace:
        raise ValueError(f"unsupported PNG: depth {depth}, colour type {colour}, interlace {interlace}")
    c = _CHANNELS[colour]
    raw = zlib.decompress(idat)
    stride = width * c
    rows: list[bytes] = []
    prev = bytearray(stride)
    for y in range(height):
        f = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - c] if i >= c else 0
            b = prev[i]
            cc = prev[i - c] if i >= c else 0
            if f == 1:
                line[i] = (line[i] + a) & 0xFF
            elif f == 2:
                line[i] = (line[i] + b) & 0xFF
            elif f == 3:
                line[i] = (line[i] + (a + b) // 2) & 0xFF
            elif f == 4:
                line[i] = (line[i] + _paeth(a, b, cc)) & 0xFF
            elif f != 0:
                raise ValueError(f"bad filter {f} in row {y}")
        rows.append(bytes(line))
        prev = line
    return Png(width, height, c, rows)
