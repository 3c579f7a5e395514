"""Handling units (rules/units.toml) and the strict rule-file loading they share (cluetool/data/rules/).

A malformed rule file is one InputError (exit 2) whose one-line message names the file,
the line and the field; these tests pin each part of that message.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from cluetool.errors import ExitCode, InputError
from cluetool.rules.calendar import load_calendar_overrides
from cluetool.rules.toml_util import MAX_RULE_FILE_BYTES, load_toml, shipped_rules_dir
from cluetool.rules.units import NATIONAL_REGION, Unit, load_units

GOOD = """\
# two units
[[unit]]
id = "bj.police"
name = "北京市公安局"
type = "police"
region = "110000"

[[unit]]
id = "cn.ago"
name = "全国扫黑除恶斗争领导小组办公室"
type = "anti_gang_office"
region = "000000"
"""


def _write(tmp_path: Path, text: str | bytes, name: str = "units.toml") -> Path:
    path = tmp_path / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def _error(path: Path) -> str:
    with pytest.raises(InputError) as info:
        load_units(path)
    assert info.value.exit_code == ExitCode.USAGE
    message = str(info.value)
    assert "\n" not in message
    assert f'"{path}"' in message
    return message


def test_units_good_file_loads_in_order(tmp_path: Path) -> None:
    units = load_units(_write(tmp_path, GOOD))
    assert list(units) == ["bj.police", "cn.ago"]
    assert units["bj.police"] == Unit(id="bj.police", name="北京市公安局", type="police", region="110000")
    assert units["cn.ago"].type == "anti_gang_office"
    assert units["cn.ago"].region == NATIONAL_REGION


def test_units_shipped_defaults_load() -> None:
    units = load_units(shipped_rules_dir() / "units.toml")
    types = {u.type for u in units.values()}
    assert types == {"police", "discipline", "procuratorate", "court", "anti_gang_office", "other"}
    national = {u.id for u in units.values() if u.region == NATIONAL_REGION}
    assert "cn.ago" in national
    for province in ("110000", "310000", "440000", "330000", "510000", "420000"):
        here = {u.type for u in units.values() if u.region == province}
        assert {"police", "discipline", "anti_gang_office"} <= here, province


def test_units_shipped_calendar_template_loads_as_empty() -> None:
    path = shipped_rules_dir() / "calendar.toml"
    assert path.is_file()
    assert load_calendar_overrides(path) == {}


def test_units_toml_syntax_error_names_file_and_line(tmp_path: Path) -> None:
    path = _write(tmp_path, GOOD.replace('region = "000000"', "region = 000000x"))
    message = _error(path)
    assert message.startswith(f'cannot read units file "{path}": line 12, column')


def test_units_unknown_field_names_line_and_field(tmp_path: Path) -> None:
    path = _write(tmp_path, GOOD.replace('type = "anti_gang_office"', 'type = "anti_gang_office"\nlevel = "national"'))
    message = _error(path)
    assert message == f'invalid units file "{path}": line 12: unit[1].level: unknown field'


def test_units_unknown_type_names_line_and_field(tmp_path: Path) -> None:
    path = _write(tmp_path, GOOD.replace('type = "police"', 'type = "polic"'))
    message = _error(path)
    assert message == f"invalid units file \"{path}\": line 5: unit[0].type: invalid enum value 'polic'"


def test_units_missing_field_names_table_line(tmp_path: Path) -> None:
    path = _write(tmp_path, GOOD.replace('name = "北京市公安局"\n', ""))
    message = _error(path)
    assert message == f'invalid units file "{path}": line 2: unit[0].name: required field is missing'


def test_units_duplicate_id_names_second_entry(tmp_path: Path) -> None:
    path = _write(tmp_path, GOOD.replace('id = "cn.ago"', 'id = "bj.police"'))
    message = _error(path)
    assert message == f'invalid units file "{path}": line 9: unit[1].id: unit "bj.police" is listed twice'


@pytest.mark.parametrize("region", ["11000", "1100000", "abcdef", "990000", "000001"])
def test_units_bad_region_is_rejected(tmp_path: Path, region: str) -> None:
    path = _write(tmp_path, GOOD.replace('region = "110000"', f'region = "{region}"'))
    message = _error(path)
    assert "line 6: unit[0].region:" in message


@pytest.mark.parametrize("unit_id", ["BJ.police", "bj police", "bj..police", ".bj", ""])
def test_units_bad_id_is_rejected(tmp_path: Path, unit_id: str) -> None:
    path = _write(tmp_path, GOOD.replace('id = "bj.police"', f'id = "{unit_id}"'))
    message = _error(path)
    assert "line 3: unit[0].id:" in message


def test_units_unknown_top_level_table_is_named(tmp_path: Path) -> None:
    path = _write(tmp_path, GOOD.replace("[[unit]]", "[[units]]", 1))
    message = _error(path)
    assert message == f'invalid units file "{path}": line 2: units: unknown field'


def test_units_unit_not_a_list_is_rejected(tmp_path: Path) -> None:
    path = _write(tmp_path, 'unit = "bj.police"\n')
    message = _error(path)
    assert message == f'invalid units file "{path}": line 1: unit: expected `array`, got `str`'


def test_units_sub_table_field_is_placed(tmp_path: Path) -> None:
    # A field under [[unit]] that is itself written as a [unit.extra] sub-table.
    path = _write(tmp_path, GOOD + "\n[unit.extra]\nx = 1\n")
    message = _error(path)
    assert message == f'invalid units file "{path}": line 14: unit[1].extra: unknown field'


def test_units_multiline_string_does_not_confuse_lines(tmp_path: Path) -> None:
    text = GOOD.replace(
        'name = "北京市公安局"', 'name = """北京市\n[[unit]]\n公安局"""'
    ).replace('type = "anti_gang_office"', 'type = "gang_office"')
    path = _write(tmp_path, text)
    message = _error(path)
    assert message == f"invalid units file \"{path}\": line 13: unit[1].type: invalid enum value 'gang_office'"


def test_units_missing_file_is_input_error(tmp_path: Path) -> None:
    path = tmp_path / "absent.toml"
    message = _error(path)
    assert message == f'cannot read units file "{path}": no such file'


def test_units_not_utf8_names_line(tmp_path: Path) -> None:
    path = _write(tmp_path, GOOD.encode("utf-8").replace("北京市公安局".encode(), "北京市公安局".encode("gb18030")))
    message = _error(path)
    assert message == f'cannot read units file "{path}": line 4: not UTF-8'


def test_units_oversized_file_is_rejected(tmp_path: Path) -> None:
    path = _write(tmp_path, b"#" * (MAX_RULE_FILE_BYTES + 1))
    message = _error(path)
    assert "larger than" in message


def test_units_empty_file_is_no_units(tmp_path: Path) -> None:
    assert load_units(_write(tmp_path, "# nothing yet\n")) == {}


def test_load_toml_line_of_nested_array_and_inline_values(tmp_path: Path) -> None:
    text = 'top = 1\n[[rule]]\nid = "a"\n[[rule]]\nid = "b"\nwithin = { days = 5 }\nlist = [\n  1,\n]\n'
    doc = load_toml(_write(tmp_path, text, "x.toml"))
    assert doc.line_of(("top",)) == 1
    assert doc.line_of(("rule", 0)) == 2
    assert doc.line_of(("rule", 1, "id")) == 5
    assert doc.line_of(("rule", 1, "within", "days")) == 6
    assert doc.line_of(("rule", 1, "list", 0)) == 7
    assert doc.line_of(("rule", 2, "id")) is None
    assert doc.line_of(("rule", 1, "absent")) == 4
