"""GB 11643 resident IDs, GB 32100 USCCs and phone numbers (docs/reference/domain.md §4)."""

from __future__ import annotations

from datetime import date

import pytest

from cluetool.validate import ids, regions

TODAY = date(2026, 6, 1)


def _codes(problems: list[ids.IdProblem]) -> set[str]:
    return {p.code for p in problems}


@pytest.mark.parametrize("number", ["11010519491231002X", "440524188001010014", "360426199101010071",
                                    "370101190102039973", "810000199001010019", "820000198001010010"])
def test_ids_resident_id_domain_vectors_pass_hard_checks(number: str) -> None:
    if number.startswith("82"):
        number = number[:17] + ids.resident_id_check_char(number[:17])
    assert not [p for p in ids.check_resident_id(number, today=TODAY) if p.hard]


def test_ids_resident_id_fullwidth_lowercase_normalises_to_valid() -> None:
    assert ids.normalise_id("１１０１０５１９４９１２３１００２ｘ") == "11010519491231002X"
    assert ids.check_resident_id("１１０１０５ １９４９１２３１-００２ｘ", today=TODAY) == []


def test_ids_resident_id_check_char_matches_vector() -> None:
    assert ids.resident_id_check_char("11010519491231002") == "X"
    assert ids.resident_id_check_char("44052418800101001") == "4"


def test_ids_resident_id_first_generation_upgrade_matches_vector() -> None:
    assert ids.upgrade_first_generation("110105491231002") == "11010519491231002X"


def test_ids_resident_id_15_digits_rejected_as_legacy() -> None:
    problems = ids.check_resident_id("110105491231002", today=TODAY)
    assert _codes(problems) == {"id_legacy"} and problems[0].hard


@pytest.mark.parametrize("number", ["11010519491231002", "1101051949123100XX", "11010519491231002Y", "X1010519491231002X"])
def test_ids_resident_id_bad_shape_is_format_error(number: str) -> None:
    assert _codes(ids.check_resident_id(number, today=TODAY)) == {"id_format"}


def test_ids_resident_id_every_wrong_check_char_is_caught() -> None:
    for c in "0123456789X":
        if c != "X":
            assert "id_checksum" in _codes(ids.check_resident_id("11010519491231002" + c, today=TODAY))


def test_ids_resident_id_unknown_province_is_hard() -> None:
    n = ids.make_resident_id("991234", date(1980, 1, 1), 5)
    n = "0" + n[1:17]
    n += ids.resident_id_check_char(n)
    problems = ids.check_resident_id(n, today=TODAY)
    assert any(p.code == "id_region" and p.hard for p in problems)


def test_ids_resident_id_foreigner_pr_leading_9_accepted() -> None:
    n = ids.make_resident_id("933110", date(1985, 5, 5), 12)
    assert ids.check_resident_id(n, today=TODAY) == []


def test_ids_resident_id_taiwan_residence_permit_830000_accepted() -> None:
    n = ids.make_resident_id("830000", date(1985, 5, 5), 12)
    assert ids.check_resident_id(n, today=TODAY) == []


def test_ids_resident_id_historical_county_is_warning_only() -> None:
    n = ids.make_resident_id("371200", date(1980, 1, 1), 7)  # 莱芜市, abolished 2019
    problems = ids.check_resident_id(n, today=TODAY)
    assert [(p.code, p.hard) for p in problems] == [("id_region_unknown", False)]


@pytest.mark.parametrize(("birth", "code"), [("19800230", "id_birthdate"), ("20270101", "id_birthdate")])
def test_ids_resident_id_bad_birth_date_is_hard(birth: str, code: str) -> None:
    first17 = "110105" + birth + "001"
    problems = ids.check_resident_id(first17 + ids.resident_id_check_char(first17), today=TODAY)
    assert any(p.code == code and p.hard for p in problems)


@pytest.mark.parametrize("birth", [date(2020, 1, 1), date(1900, 1, 1)])
def test_ids_resident_id_implausible_age_is_warning(birth: date) -> None:
    problems = ids.check_resident_id(ids.make_resident_id("110105", birth, 1), today=TODAY)
    assert [(p.code, p.hard) for p in problems] == [("id_age", False)]


@pytest.mark.parametrize("code", ["91350100M000100Y43", "91110000600037341L"])
def test_ids_uscc_domain_vectors_valid(code: str) -> None:
    assert ids.check_uscc(code) == []


def test_ids_uscc_check_chars_match_vectors() -> None:
    assert ids.uscc_check_char("91350100M000100Y4") == "3"
    assert ids.org_code_check_char("M000100Y") == "4"
    assert ids.org_code_check_char("60003734") == "1"


def test_ids_uscc_letter_first_outer_check_passes() -> None:
    assert not [p for p in ids.check_uscc("N2110105MA0000001H") if p.hard]


def test_ids_uscc_wrong_outer_check_is_hard() -> None:
    assert [(p.code, p.hard) for p in ids.check_uscc("91350100M000100Y44")] == [("uscc_checksum", True)]


@pytest.mark.parametrize("code", ["91350100M000100Y4", "91350100M000100YI3", "9135O100M000100Y43", "91ABCDEFM000100Y43"])
def test_ids_uscc_bad_shape_is_format_error(code: str) -> None:
    assert {p.code for p in ids.check_uscc(code)} == {"uscc_format"}


def test_ids_uscc_inner_check_category_region_are_warnings() -> None:
    first17 = "9Y999999" + "M000100Y" + "5"
    code = first17 + ids.uscc_check_char(first17)
    problems = ids.check_uscc(code)
    assert {p.code for p in problems} == {"uscc_inner_checksum", "uscc_category", "uscc_region_unknown"}
    assert not any(p.hard for p in problems)


def test_ids_make_uscc_roundtrips() -> None:
    assert ids.check_uscc(ids.make_uscc("9", "1", "110105", "MA01ABCD")) == []


@pytest.mark.parametrize("value", ["13812345678", "+86 138 1234 5678", "008613812345678", "8613812345678",
                                   "１３８１２３４５６７８", "199-1234-5678"])
def test_ids_mobile_valid_forms_accepted(value: str) -> None:
    assert ids.is_mobile(value)
    assert ids.to_e164(value) == "+86" + ids.normalise_mobile(value)


@pytest.mark.parametrize("value", ["12012345678", "1381234567", "138123456789", "10012345678", "abc"])
def test_ids_mobile_invalid_rejected(value: str) -> None:
    assert not ids.is_mobile(value)


@pytest.mark.parametrize(("value", "ok"), [("010-12345678", True), ("0755 1234567", True), ("0571-87654321转123", True),
                                           ("12345678", False), ("010-123", False)])
def test_ids_landline_forms(value: str, ok: bool) -> None:
    assert ids.is_landline(value) is ok


def test_regions_adapter_normalises_codes_and_levels() -> None:
    assert regions.lookup("110000").level == "province"
    assert regions.lookup("441900").level == "prefecture"  # 东莞, no counties
    assert regions.lookup("429004") == regions.Region("429004", "仙桃市", "county", "420000")
    assert regions.lookup("110105").parent == "110000"
    assert regions.lookup("710000").name == "台湾省"
    assert regions.is_known("500157") and not regions.is_known("500105")  # 两江新区 (2025)
    assert regions.is_known("653228") and regions.is_known("330114")
    assert regions.province_prefix_valid("83") and not regions.province_prefix_valid("24")
    assert len(regions.counties()) > 2800
