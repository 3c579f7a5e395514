"""Canonical JSON: ``loads_canonical`` accepts exactly the bytes ``dumps`` writes."""

from __future__ import annotations

import random

import pytest

from cluetool.formats.canonical import NonCanonicalError, dumps, loads_canonical


@pytest.mark.parametrize("value", [
    {"b": 1, "a": [True, None, "x", -5, 2**53 - 1]},
    [{"submission_id": "0b6f7a52-5c9e-4a44-9a53-1d8c1f3b2a10", "attachments": [], "report_sha256": "1" * 64}],
    {"汉": "字\n\"\\", "e\u0301": 1.5},
    "1234567890123456789",  # 19 digits in a string: the slow check runs and passes
])
def test_canonical_round_trip(value: object) -> None:
    assert loads_canonical(dumps(value)) == value


@pytest.mark.parametrize("data, match", [
    (b'{"a":1,"a":1}', "duplicate key"),
    (b'{"a":1,"a":2}', "duplicate key"),
    (b'{"b":1,"a":2}', "not in canonical form"),
    (b'{"a": 1}', "not in canonical form"),
    (b"9007199254740992", "safe range"),
    (b'[1,{"x":-90071992547409930}]', "safe range"),
    (b'"\xff"', "not valid UTF-8 JSON"),
    (b'"\\ud800"', "not valid Unicode"),
    (b"NaN", "non-finite"),
    (b"[1,]", "not valid UTF-8 JSON"),
    (b"1.00", "not in canonical form"),
])
def test_canonical_rejects_with_reason(data: bytes, match: str) -> None:
    with pytest.raises(NonCanonicalError, match=match):
        loads_canonical(data)


def test_canonical_accepts_only_what_dumps_writes_on_mutations() -> None:
    # Seeded one-byte edits of canonical documents: every accepted result re-encodes to
    # the input, and the input is then exactly what dumps writes for it.
    rng = random.Random(20261125)
    doc = dumps({"entries": [{"id": i, "sha": f"{i:064x}", "big": 2**53 - 1 - i, "t": [True, None]} for i in range(5)]})
    accepted = 0
    for _ in range(3000):
        data = bytearray(doc)
        data[rng.randrange(len(data))] = rng.choice(b'0123456789{}[],:" \\aez\xff')
        try:
            value = loads_canonical(bytes(data))
        except NonCanonicalError:
            continue
        accepted += 1
        assert dumps(value) == bytes(data)
    assert accepted > 0
