"""Query codes (查询编码): 80 random bits, Crockford base32, one check symbol.

Format: 16 Crockford base32 symbols carry an 80-bit random number (most significant
symbol first), followed by one check symbol: the number modulo 37, written in
Crockford's check alphabet (the 32 data symbols plus ``*~$=U`` for 32..36). Shown as
``XXXX-XXXX-XXXX-XXXX-C``. Because 37 is prime and larger than the symbol range, the
check catches every single-symbol substitution and every transposition of two adjacent
symbols (see https://www.crockford.com/base32.html, "Check Symbol").

Input is forgiving, as Crockford decodes: case-insensitive, hyphens and spaces ignored,
``I``/``L`` read as ``1`` and ``O`` as ``0``. Only the SHA-256 of the code travels and is
stored (``code_sha256``): it hashes the ASCII bytes of the *normalised* 17-symbol code
(upper case, no separators, check symbol included), e.g. ``SHA-256(b"0123456789ABCDEFG")``
for the code shown as ``0123-4567-89AB-CDEF-G``; so any spelling a reporter types maps to
the one stored hash.
"""

from __future__ import annotations

import hashlib
import secrets
import unicodedata
from collections.abc import Callable
from typing import Protocol, Union

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
CHECK_ALPHABET = ALPHABET + "*~$=U"
DATA_SYMBOLS = 16
BITS = 5 * DATA_SYMBOLS  # 80

_VALUE = {c: i for i, c in enumerate(CHECK_ALPHABET)}
# Crockford decoding: these read as the symbols they resemble.
_ALIASES = str.maketrans({"I": "1", "L": "1", "O": "0"})


class _BitSource(Protocol):
    def getrandbits(self, k: int, /) -> int: ...


#: ``random.Random`` / ``secrets.SystemRandom`` (``getrandbits``), or a
#: ``token_bytes``-like callable ``n -> bytes`` (``os.urandom``, ``secrets.token_bytes``).
RandomSource = Union[_BitSource, Callable[[int], bytes]]


def _random_bits(rng: RandomSource | None) -> int:
    if rng is None:
        return secrets.randbits(BITS)
    getrandbits = getattr(rng, "getrandbits", None)
    if getrandbits is not None:
        return int(getrandbits(BITS))
    data = rng(BITS // 8)  # type: ignore[operator]
    if not isinstance(data, bytes) or len(data) != BITS // 8:
        raise ValueError("random source returned the wrong number of bytes")
    return int.from_bytes(data, "big")


def _encode(number: int) -> str:
    symbols = []
    for _ in range(DATA_SYMBOLS):
        number, digit = divmod(number, 32)
        symbols.append(ALPHABET[digit])
    return "".join(reversed(symbols))


def _check_symbol(data: str) -> str:
    number = 0
    for c in data:
        number = number * 32 + _VALUE[c]
    return CHECK_ALPHABET[number % 37]


def format_code(code: str) -> str:
    """Show a (normalised, checked) code as ``XXXX-XXXX-XXXX-XXXX-C``.

    Raises:
        ValueError: not a valid code.
    """
    c = check(code)
    return "-".join([c[0:4], c[4:8], c[8:12], c[12:16], c[16]])


def new_code(rng: RandomSource | None = None) -> str:
    """A new query code with 80 random bits, formatted ``XXXX-XXXX-XXXX-XXXX-C``.

    ``rng`` defaults to the operating system's CSPRNG; pass a seeded ``random.Random``
    only for tests and samples.
    """
    data = _encode(_random_bits(rng))
    c = data + _check_symbol(data)
    return "-".join([c[0:4], c[4:8], c[8:12], c[12:16], c[16]])


def normalise(code: str) -> str:
    """Upper-case, drop hyphens and white space, read I/L as 1 and O as 0 (NFKC first)."""
    text = unicodedata.normalize("NFKC", code).upper()
    text = "".join(ch for ch in text if ch != "-" and not ch.isspace())
    return text.translate(_ALIASES)


def check(code: str) -> str:
    """Return the normalised 17-symbol code.

    Raises:
        ValueError: wrong length, a symbol outside the alphabet, or a wrong check symbol
            (a typo); the message never repeats the code.
    """
    c = normalise(code)
    if len(c) != DATA_SYMBOLS + 1:
        raise ValueError(f"a query code has {DATA_SYMBOLS + 1} symbols, this one has {len(c)}")
    data, check_symbol = c[:DATA_SYMBOLS], c[DATA_SYMBOLS]
    for i, ch in enumerate(data):
        if ch not in ALPHABET:
            raise ValueError(f"symbol {i + 1} of the query code is not a Crockford base32 symbol")
    if check_symbol not in _VALUE:
        raise ValueError("the check symbol of the query code is not a Crockford check symbol")
    if _check_symbol(data) != check_symbol:
        raise ValueError("the query code's check symbol does not match (a typo?)")
    return c


def code_sha256(code: str) -> str:
    """Hex SHA-256 of the ASCII bytes of the normalised 17-symbol code.

    Raises:
        ValueError: ``code`` is not a valid query code.
    """
    return hashlib.sha256(check(code).encode("ascii")).hexdigest()
