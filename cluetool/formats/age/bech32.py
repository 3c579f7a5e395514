"""BIP173 Bech32 as age uses it for keys (C2SP age "Conventions"): no 90-character limit."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

from .errors import KeyFormatError

_BECH32_CHARSET: Final = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
_BECH32_GEN: Final = (0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3)


def _bech32_polymod(values: Iterable[int]) -> int:
    chk = 1
    for v in values:
        top = chk >> 25
        chk = (chk & 0x1FFFFFF) << 5 ^ v
        for i in range(5):
            if (top >> i) & 1:
                chk ^= _BECH32_GEN[i]
    return chk


def _bech32_hrp_expand(hrp: str) -> list[int]:
    return [ord(c) >> 5 for c in hrp] + [0] + [ord(c) & 31 for c in hrp]


def _convert_bits(data: Iterable[int], frombits: int, tobits: int, pad: bool) -> list[int]:
    acc = 0
    bits = 0
    out: list[int] = []
    maxv = (1 << tobits) - 1
    max_acc = (1 << (frombits + tobits - 1)) - 1
    for value in data:
        acc = ((acc << frombits) | value) & max_acc
        bits += frombits
        while bits >= tobits:
            bits -= tobits
            out.append((acc >> bits) & maxv)
    if pad:
        if bits:
            out.append((acc << (tobits - bits)) & maxv)
    elif bits >= frombits:
        raise KeyFormatError("invalid Bech32 padding")
    elif (acc << (tobits - bits)) & maxv:
        raise KeyFormatError("non-zero Bech32 padding")
    return out


def _bech32_encode(hrp: str, data: bytes) -> str:
    """BIP173 Bech32 (not bech32m), without the 90-character limit (spec "Conventions")."""
    lower = hrp.lower()
    five = _convert_bits(data, 8, 5, pad=True)
    pm = _bech32_polymod(_bech32_hrp_expand(lower) + five + [0] * 6) ^ 1
    checksum = [(pm >> 5 * (5 - i)) & 31 for i in range(6)]
    s = lower + "1" + "".join(_BECH32_CHARSET[d] for d in five + checksum)
    return s.upper() if hrp.isupper() else s


def _bech32_decode(s: str) -> tuple[str, bytes]:
    """Return (hrp as written, data); the checksum is over the lowercase form."""
    if not s.isascii():
        raise KeyFormatError("invalid character in Bech32 string")
    if s.lower() != s and s.upper() != s:
        raise KeyFormatError("mixed case in Bech32 string")
    pos = s.rfind("1")
    if pos < 1 or pos + 7 > len(s):
        raise KeyFormatError("invalid Bech32 separator position")
    hrp = s[:pos]
    if any(not 33 <= ord(c) <= 126 for c in hrp):
        raise KeyFormatError("invalid character in Bech32 prefix")
    values: list[int] = []
    for c in s[pos + 1 :].lower():
        d = _BECH32_CHARSET.find(c)
        if d < 0:
            raise KeyFormatError("invalid character in Bech32 data")
        values.append(d)
    if _bech32_polymod(_bech32_hrp_expand(hrp.lower()) + values) != 1:
        raise KeyFormatError("invalid Bech32 checksum")
    return hrp, bytes(_convert_bits(values[:-6], 5, 8, pad=False))
