"""The report model: dropdown codes as data, the Structs, decode_report."""

from __future__ import annotations

import json
import random
from typing import get_args

import msgspec
import pytest

from cluetool.model import codes
from cluetool.model.report import (
    GangCrimeReport,
    IndustryDisorderReport,
    PoliceMisconductReport,
    ReportDecodeError,
    decode_report,
    encode_report,
    normalise_strings,
)
from samples.make_samples import render, valid_submission


@pytest.mark.parametrize("name", sorted(set(codes.DROPDOWNS) - codes.STRUCTURAL))
def test_codes_every_dropdown_has_not_known_value(name: str) -> None:
    table = codes.DROPDOWNS[name]
    assert set(table) & codes.UNKNOWN_VALUES, name
    for code, (zh, en) in table.items():
        assert zh and en, code


def test_codes_required_lists_are_complete() -> None:
    assert list(codes.TARGETS) == [f"T{i:02d}" for i in range(1, 12)] + ["T99", "UNK"]
    assert list(codes.INDUSTRIES) == [f"IND{i:02d}" for i in range(1, 15)] + ["IND99", "UNK"]
    assert list(codes.ORGAN_TYPES) == ["ORG_PLAC", "ORG_COURT", "ORG_PROC", "ORG_PSB", "ORG_MSS", "ORG_JUST",
                                       "ORG_OTHER", "UNK"]
    assert codes.label(codes.NATURES, "mafia_type") == "黑社会性质组织"


def test_codes_literal_types_match_tables() -> None:
    assert get_args(codes.TargetCode) == tuple(codes.TARGETS)
    assert get_args(codes.IndustryCode) == tuple(codes.INDUSTRIES)
    assert get_args(codes.Kind) == tuple(codes.KINDS)


def test_codes_industry_problems_name_existing_industries() -> None:
    for code in codes.INDUSTRY_PROBLEMS:
        if "-" in code:
            assert code.split("-")[0] in codes.INDUSTRIES


@pytest.mark.parametrize(("index", "cls"), [(0, PoliceMisconductReport), (1, GangCrimeReport),
                                            (2, IndustryDisorderReport)])
def test_model_decode_report_sample_decodes_to_kind_struct(index: int, cls: type) -> None:
    report, _, _ = valid_submission(random.Random(index), index, attachments=0)
    decoded = decode_report(render(report))
    assert isinstance(decoded, cls)
    assert decoded.submission_id == report["submission_id"]
    again = decode_report(encode_report(decoded))
    assert again == decoded


def test_model_decode_report_normalises_fullwidth_region() -> None:
    report, _, _ = valid_submission(random.Random(1), 1, attachments=0)
    region = report["facts"]["region"]
    report["facts"]["region"] = " " + "".join(chr(ord(c) + 0xFEE0) for c in region)
    assert decode_report(render(report)).facts.region == region


@pytest.mark.parametrize("data", [b"", b"{", b"[]", b'{"kind": "gang_crime"}', b"\xff\xfe", b'{"kind": "x"}'])
def test_model_decode_report_bad_input_raises_clean_error(data: bytes) -> None:
    with pytest.raises(ReportDecodeError) as info:
        decode_report(data)
    assert "\n" not in str(info.value)


def test_model_decode_report_unknown_field_rejected() -> None:
    report, _, _ = valid_submission(random.Random(2), 2, attachments=0)
    report["facts"]["colour"] = "red"
    with pytest.raises(ReportDecodeError, match="unknown field"):
        decode_report(render(report))


def test_model_normalise_strings_leaves_keys_and_numbers() -> None:
    assert normalise_strings({"ａ": [" １２ ", 3, None, True]}) == {"ａ": ["12", 3, None, True]}


def test_model_report_encodes_kind_tag() -> None:
    report, _, _ = valid_submission(random.Random(3), 0, attachments=0)
    decoded = decode_report(render(report))
    assert json.loads(msgspec.json.encode(decoded))["kind"] == "police_misconduct"


def test_model_nfkc_equals_unicodedata_on_full_width_and_combining_text() -> None:
    import random
    import unicodedata

    from cluetool.model.report import _FULLWIDTH_RE, nfkc

    # The shortcut's premise: each replaced character decomposes to exactly one ASCII one.
    for cp in [*range(0xFF01, 0xFF5F), 0x3000]:
        replaced = _FULLWIDTH_RE.sub(lambda m: " " if m.group() == "\u3000" else chr(ord(m.group()) - 0xFEE0), chr(cp))
        assert unicodedata.normalize("NFKD", chr(cp)) == replaced and replaced.isascii()
    pool = ["，", "。", "：", "Ａ", "ａ", "１", "＜", "＝", "（", "\u3000", " ", "汉", "字", "e", "A", "<",
            "\u0301", "\u0338", "\u0307", "\u0323", "\u3099", "か", "ｶ", "\uff9e", "\ufb01", "\u2126",
            "\u1100", "\u1161", "\u11a8", "①", "\u00bd", "\U0001d400"]
    rng = random.Random(20261125)
    for _ in range(20000):
        text = "".join(rng.choice(pool) for _ in range(rng.randint(0, 8)))
        assert nfkc(text) == unicodedata.normalize("NFKC", text), ascii(text)
