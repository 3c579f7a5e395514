"""Query codes (cluetool/model/querycode.py): Crockford base32, mod-37 check symbol, SHA-256 of the normal form."""

from __future__ import annotations

import hashlib
import os
import random
import re

import pytest

from cluetool.model import querycode as q

SHAPE = re.compile(r"^[0-9A-HJKMNP-TV-Z]{4}(-[0-9A-HJKMNP-TV-Z]{4}){3}-[0-9A-HJKMNP-TV-Z*~$=U]$")


def test_querycode_new_code_has_display_shape_and_checks() -> None:
    rng = random.Random(7)
    for _ in range(200):
        code = q.new_code(rng)
        assert SHAPE.match(code), code
        assert q.check(code) == code.replace("-", "")


def test_querycode_new_code_same_seed_same_code() -> None:
    assert q.new_code(random.Random(1)) == q.new_code(random.Random(1))
    assert q.new_code(random.Random(1)) != q.new_code(random.Random(2))


def test_querycode_new_code_accepts_bytes_source_and_default() -> None:
    assert SHAPE.match(q.new_code(os.urandom))
    assert SHAPE.match(q.new_code())


def test_querycode_new_code_carries_80_bits() -> None:
    top = q.new_code(lambda n: b"\xff" * n)
    assert top.startswith("ZZZZ-ZZZZ-ZZZZ-ZZZZ-")
    assert q.new_code(lambda n: b"\x00" * n) == "0000-0000-0000-0000-0"


def test_querycode_check_symbol_is_value_mod_37() -> None:
    code = q.check(q.new_code(random.Random(3)))
    value = 0
    for c in code[:16]:
        value = value * 32 + q.ALPHABET.index(c)
    assert q.CHECK_ALPHABET.index(code[16]) == value % 37


def test_querycode_normalise_is_forgiving_as_crockford() -> None:
    code = q.new_code(random.Random(5))
    typed = code.lower().replace("-", " ")
    assert q.check(typed) == q.check(code)
    assert q.normalise("oO-iI lL") == "001111"
    assert q.normalise("ＡＢ-ｃ") == "ABC"


def test_querycode_every_single_substitution_is_caught() -> None:
    rng = random.Random(11)
    for _ in range(20):
        code = q.check(q.new_code(rng))
        for i in range(17):
            alphabet = q.ALPHABET if i < 16 else q.CHECK_ALPHABET
            for c in alphabet:
                if c == code[i]:
                    continue
                with pytest.raises(ValueError):
                    q.check(code[:i] + c + code[i + 1:])


def test_querycode_every_adjacent_transposition_is_caught() -> None:
    rng = random.Random(12)
    caught = 0
    for _ in range(200):
        code = q.check(q.new_code(rng))
        for i in range(16):
            swapped = code[:i] + code[i + 1] + code[i] + code[i + 2:]
            if swapped == code:
                continue
            with pytest.raises(ValueError):
                q.check(swapped)
            caught += 1
    assert caught > 3000


@pytest.mark.parametrize("bad", ["", "0000-0000-0000-0000", "0000-0000-0000-0000-00", "U000-0000-0000-0000-0",
                                 "0000-0000-0000-0000-#"])
def test_querycode_check_bad_length_or_alphabet_raises(bad: str) -> None:
    with pytest.raises(ValueError):
        q.check(bad)


def test_querycode_error_message_does_not_repeat_code() -> None:
    code = q.check(q.new_code(random.Random(9)))
    bad = code[:16] + ("0" if code[16] != "0" else "1")
    with pytest.raises(ValueError) as info:
        q.check(bad)
    assert bad not in str(info.value)


def test_querycode_sha256_hashes_normalised_17_symbols() -> None:
    code = q.new_code(random.Random(4))
    expected = hashlib.sha256(code.replace("-", "").encode("ascii")).hexdigest()
    assert q.code_sha256(code) == expected
    assert q.code_sha256(code.lower().replace("-", "")) == expected
    assert q.format_code(code.lower()) == code
