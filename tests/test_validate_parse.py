"""The JSON reading step of validation: duplicate keys found by counting keys written
against keys decoded, nesting depth refused before any recursion, strings normalised."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from cluetool.validate import fields
from cluetool.validate.submission import _UNPARSED, MAX_DEPTH, _parse

NOW = datetime(2026, 11, 24, tzinfo=timezone.utc)


def _codes(raw: bytes) -> tuple[object, list[str]]:
    ctx = fields.Context("s", NOW)
    data = _parse(raw, ctx)
    return data, [f.code for f in ctx.findings]


@pytest.mark.parametrize("raw", [
    b'{"a": 1, "a": 2}',
    b'{"x": {"k": "v", "k": "w"}}',
    b'[{"k": 1}, {"k": 1, "k\\u0000": 2, "k": 3}]',
    b'{"a\\"b": 1, "a\\"b" : 2}',
    b'{"a": "x:y", "b": "\\":", "a": 0}',
])
def test_parse_duplicate_key_found(raw: bytes) -> None:
    _, codes = _codes(raw)
    assert codes == ["report.duplicate_key"]


@pytest.mark.parametrize("raw", [
    b'{"a": "b", "c": "d:e", "f": "\\"g\\": h"}',
    b'{"k": 1, "K": 2, "k\\u0000": 3}',
    b'[{"k": 1}, {"k": 2}]',
    b'{"a" :"x",  "b"\\n:1}'.replace(b"\\n", b"\n"),
    b'{"\xe6\xb1\x89": "\xef\xbc\x91\xef\xbc\x92 ", "nested": [["a:"], {"z": []}]}',
])
def test_parse_distinct_keys_no_finding(raw: bytes) -> None:
    data, codes = _codes(raw)
    assert codes == [] and data is not _UNPARSED


def test_parse_normalises_strings_not_keys() -> None:
    data, _ = _codes('{"ｋ": " １２３ ", "l": ["ａ"]}'.encode())
    assert data == {"ｋ": "123", "l": ["a"]}


def test_parse_depth_limit_refused_without_recursion_error() -> None:
    ok, codes_ok = _codes(b"[" * MAX_DEPTH + b"]" * MAX_DEPTH)
    assert codes_ok == [] and ok is not _UNPARSED
    deep, codes = _codes(b"[" * (MAX_DEPTH + 1) + b"]" * (MAX_DEPTH + 1))
    assert deep is _UNPARSED and codes == ["report.too_deep"]
    hostile, codes = _codes(b'{"a":' * 5000 + b"1" + b"}" * 5000)
    assert hostile is _UNPARSED and codes in (["report.too_deep"], ["report.json_invalid"])


# Characters that NFKC changes or that compose with a neighbour: combining marks after
# ASCII bases ("<" + U+0338 is "≮"), compatibility forms, Hangul jamo, full-width
# quotes and backslashes, and the characters JSON's short escapes decode to.
_TRICKY = [
    "a", "<", "=", "n", "b", "t", "/", " ", "\u3000", "\u00a0", "\u2028", "\u0085",
    "\u0301", "\u0338", "\u0307", "\u0327", "\uff02", "\uff3c", "\uff11", "\ufb01",
    "\u1100", "\u1161", "\u11a8", "\uac00", "e\u0301", "\u212b", "\u2126", "汉", "\U0001d400",
]
_ESCAPES = ['\\"', "\\\\", "\\/", "\\b", "\\f", "\\n", "\\r", "\\t", "\\u0301", "\\u003c"]


def _slow(data: object) -> object:
    # normalise_strings with unicodedata.normalize itself, not the faster nfkc().
    import unicodedata

    if isinstance(data, dict):
        return {k: _slow(v) for k, v in data.items()}
    if isinstance(data, list):
        return [_slow(v) for v in data]
    return unicodedata.normalize("NFKC", data).strip() if isinstance(data, str) else data


def test_parse_normalises_exactly_as_per_string_nfkc_on_adversarial_text() -> None:
    # The normalised strings are exactly unicodedata's NFKC, stripped, string by
    # string, over seeded random strings of composing and compatibility characters.
    import json
    import random

    import msgspec

    rng = random.Random(20261125)
    checked = 0
    for _ in range(3000):
        parts = [rng.choice(_TRICKY + _ESCAPES) for _ in range(rng.randint(0, 6))]
        body = "".join(parts)
        raw = ('{"k": "' + body + '", "l": ["' + body[::-1].replace("\\", "") + '", "x"]}').encode()
        try:
            decoded = msgspec.json.decode(raw)
        except msgspec.DecodeError:
            continue
        data, codes = _codes(raw)
        # Controls such as U+2028, U+0085 and \b are text.* findings (issue 17); no other.
        assert [c for c in codes if not c.startswith("text.")] == [], raw
        assert data == _slow(decoded), raw
        assert data == _slow(json.loads(raw)), raw
        checked += 1
    assert checked > 1000


@pytest.mark.parametrize("raw", [
    b'{"a" : 1, "b": "\\":", "a": 2}',          # the bound counts a value, the exact count decides
    b'{"a"\n:1, "a"\t:2}',
    b'{"t": "12:00", "t": "13:00"}',
])
def test_parse_duplicate_key_found_when_the_bound_overcounts(raw: bytes) -> None:
    from cluetool.validate.submission import _key_tokens, _key_tokens_at_most

    assert _key_tokens_at_most(raw) >= _key_tokens(raw)
    _, codes = _codes(raw)
    assert codes == ["report.duplicate_key"]
