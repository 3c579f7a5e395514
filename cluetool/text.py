"""Invisible and control characters in text: a finding per class, per field.

A leaf module (standard library only), so that output can escape without importing
validation.

Every string value of ``report.json`` (attachment names included) is looked at as
decoded, before NFKC. Finding codes (stable API, severity error; ``path`` is the JSON
path of the string):

=================  ===================================================================
code               characters
=================  ===================================================================
text.control       C0 controls other than tab and newline (CR included), DEL, C1
                   controls, U+2028 LINE SEPARATOR and U+2029 PARAGRAPH SEPARATOR
text.bidi          bidirectional embeddings, overrides and isolates (U+202A–U+202E,
                   U+2066–U+2069) and the marks U+200E, U+200F, U+061C
text.zero_width    zero-width and other invisible format characters (category Cf:
                   U+200B–U+200D, U+2060, U+FEFF, U+00AD, tag characters …)
text.private_use   private-use code points (category Co)
text.unassigned    code points unassigned in the Unicode version of this Python
                   (category Cn, noncharacters included) and lone surrogates (Cs)
=================  ===================================================================

``strip_invisible`` removes all of these (fingerprints use it); ``escape`` shows them
as ``\\uXXXX`` (output uses it), so no finding can change what a terminal shows.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from typing import Any

_BIDI = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c")
_ALLOWED = frozenset("\t\n")
_LINE_SEPARATORS = frozenset("\u2028\u2029")

CODES = ("text.control", "text.bidi", "text.zero_width", "text.private_use", "text.unassigned")
_WHAT = {
    "text.control": "a control character",
    "text.bidi": "a bidirectional control character",
    "text.zero_width": "a zero-width or invisible format character",
    "text.private_use": "a private-use character",
    "text.unassigned": "an unassigned code point",
}


def char_class(c: str) -> str | None:
    """The finding code of one character, or None when it is allowed."""
    if c in _ALLOWED:
        return None
    if c in _BIDI:
        return "text.bidi"
    if c in _LINE_SEPARATORS:
        return "text.control"
    cat = unicodedata.category(c)
    if cat == "Cc":
        return "text.control"
    if cat == "Cf":
        return "text.zero_width"
    if cat == "Co":
        return "text.private_use"
    if cat in ("Cn", "Cs"):
        return "text.unassigned"
    return None


def classify(value: str) -> dict[str, list[int]]:
    """For each finding code, the character offsets in ``value`` that carry it."""
    if value.isprintable():  # the fast path: no character of any class (nor tab/newline)
        return {}
    found: dict[str, list[int]] = {}
    for i, c in enumerate(value):
        if c.isprintable():
            continue
        code = char_class(c)
        if code is not None:
            found.setdefault(code, []).append(i)
    return found


def describe(code: str, value: str, offsets: list[int]) -> str:
    """One line naming the class, the first code point, its offset and the count."""
    first = offsets[0]
    more = f" ({len(offsets)} in all)" if len(offsets) > 1 else ""
    return f"contains {_WHAT[code]}: U+{ord(value[first]):04X} at character {first}{more}"


def _all_printable(data: Any) -> bool:
    """Whether every string of decoded JSON is printable (the common case, checked
    without building a path for each string)."""
    stack = [data]
    while stack:
        value = stack.pop()
        t = type(value)
        if t is str:
            if not value.isprintable():
                return False
        elif t is dict:
            stack.extend(value.values())
        elif t is list:
            stack.extend(value)
    return True


def text_problems(data: Any, path: str = "") -> Iterator[tuple[str, str, str]]:
    """``(path, code, message)`` for every string of decoded JSON holding a character of
    a class above, one per class and string (object keys are not text fields)."""
    if _all_printable(data):
        return
    stack: list[tuple[str, Any]] = [(path, data)]
    while stack:
        at, value = stack.pop()
        t = type(value)
        if t is str:
            for code, offsets in classify(value).items():
                yield at or "$", code, describe(code, value, offsets)
        elif t is dict:
            items = list(value.items())
            for k, v in reversed(items):
                if type(v) in (str, dict, list):
                    stack.append((f"{at}.{k}" if at else str(k), v))
        elif t is list:
            for i in range(len(value) - 1, -1, -1):
                v = value[i]
                if type(v) in (str, dict, list):
                    stack.append((f"{at}[{i}]", v))


def strip_invisible(value: str) -> str:
    """``value`` without any character of the classes above (tab and newline kept)."""
    if value.isprintable():
        return value
    return "".join(c for c in value if c.isprintable() or char_class(c) is None)


def _escape_char(m: re.Match[str]) -> str:
    c = m.group()
    if c.isprintable():
        return c
    n = ord(c)
    if n > 0xFFFF:  # as a JSON-compatible surrogate pair
        n -= 0x10000
        return f"\\u{0xD800 + (n >> 10):04x}\\u{0xDC00 + (n & 0x3FF):04x}"
    return f"\\u{n:04x}"


_NON_ASCII_OR_CONTROL = re.compile(r"[^\x20-\x7e]")


def escape(value: str, *, keep_newline: bool = False) -> str:
    """``value`` with every non-printable character as ``\\uXXXX`` (JSON-compatible)."""
    if value.isprintable():
        return value
    if keep_newline:
        return "\n".join(_NON_ASCII_OR_CONTROL.sub(_escape_char, part) for part in value.split("\n"))
    return _NON_ASCII_OR_CONTROL.sub(_escape_char, value)
