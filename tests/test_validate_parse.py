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
