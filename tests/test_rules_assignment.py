"""Assignment rules (rules/assignment.toml): matching, order, loading errors (cluetool/data/rules/)."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from cluetool.errors import InputError
from cluetool.rules.assignment import AssignmentRule, AssignmentRules, load_assignment_rules, match
from cluetool.rules.facts import ClueFacts
from cluetool.rules.toml_util import rules_hash, shipped_rules_dir
from cluetool.rules.units import Unit, load_units

UNITS = {
    u.id: u
    for u in (
        Unit(id="gd.ago", name="广东省扫黑办", type="anti_gang_office", region="440000"),
        Unit(id="gd.police", name="广东省公安厅", type="police", region="440000"),
        Unit(id="cn.ago", name="全国扫黑办", type="anti_gang_office", region="000000"),
    )
}

RECEIVED = datetime(2026, 3, 2, 1, 0, tzinfo=timezone.utc)


def facts(**overrides: Any) -> ClueFacts:
    base: dict[str, Any] = {
        "submission_id": "0b7e5c1e-2f4e-4d5a-9a51-6f1f3a9e8d20",
        "kind": "gang_crime",
        "region": "440305",
        "industries": (),
        "targets": (),
        "umbrella": "unknown",
        "organ_types": (),
        "has_contact": False,
        "real_name": False,
        "received_at": RECEIVED,
    }
    base.update(overrides)
    return ClueFacts(**base)


def _rules(tmp_path: Path, body: str, units: dict[str, Unit] = UNITS) -> AssignmentRules:
    path = tmp_path / "assignment.toml"
    path.write_text(body, encoding="utf-8")
    return load_assignment_rules(path, units)


def _one_rule(tmp_path: Path, matcher: str) -> AssignmentRules:
    return _rules(tmp_path, f'[[rule]]\nid = "r"\n{matcher}\nunit = "gd.ago"\nsource = "test"\n')


# Each dimension: (matcher line, facts that match, facts that do not).
DIMENSIONS = [
    ('kind = "gang_crime"', {"kind": "gang_crime"}, {"kind": "industry_disorder"}),
    ('kind = ["police_misconduct", "industry_disorder"]', {"kind": "industry_disorder"}, {"kind": "gang_crime"}),
    ('region_prefix = "44"', {"region": "440305"}, {"region": "450305"}),
    ('region_prefix = "4403"', {"region": "440305"}, {"region": "440105"}),
    ('region_prefix = "440305"', {"region": "440305"}, {"region": "440306"}),
    ('region_prefix = ["11", "44"]', {"region": "110105"}, {"region": "310105"}),
    ('industry = "IND04"', {"industries": ("IND01", "IND04")}, {"industries": ("IND01",)}),
    ('industry = "IND04"', {"industries": ("IND04",)}, {"industries": ()}),
    ('target = ["T05", "T08"]', {"targets": ("T08",)}, {"targets": ("T01", "T02")}),
    ('umbrella = "yes"', {"umbrella": "yes"}, {"umbrella": "unknown"}),
    ('umbrella = ["no", "unknown"]', {"umbrella": "no"}, {"umbrella": "yes"}),
    ('organ_type = "ORG_PSB"', {"organ_types": ("ORG_COURT", "ORG_PSB")}, {"organ_types": ("ORG_COURT",)}),
]


@pytest.mark.parametrize(("matcher", "hit", "miss"), DIMENSIONS, ids=[d[0] for d in DIMENSIONS])
def test_assignment_dimension_matches_and_misses(
    tmp_path: Path, matcher: str, hit: dict[str, Any], miss: dict[str, Any]
) -> None:
    rules = _one_rule(tmp_path, matcher)
    matched = match(rules, facts(**hit))
    assert matched is not None and matched.id == "r" and matched.unit == "gd.ago"
    assert match(rules, facts(**miss)) is None


def test_assignment_all_matchers_must_match(tmp_path: Path) -> None:
    rules = _one_rule(tmp_path, 'kind = "gang_crime"\nregion_prefix = "44"\numbrella = "yes"')
    assert match(rules, facts(umbrella="yes")) is not None
    assert match(rules, facts(umbrella="no")) is None
    assert match(rules, facts(umbrella="yes", region="450000")) is None
    assert match(rules, facts(umbrella="yes", kind="industry_disorder")) is None


def test_assignment_first_match_wins(tmp_path: Path) -> None:
    rules = _rules(
        tmp_path,
        '[[rule]]\nid = "specific"\nkind = "gang_crime"\nregion_prefix = "44"\numbrella = "no"\nunit = "gd.police"\nsource = "s"\n'
        '[[rule]]\nid = "province"\nregion_prefix = "44"\nunit = "gd.ago"\nsource = "s"\n'
        '[[rule]]\nid = "gang_anywhere"\nkind = "gang_crime"\nunit = "gd.police"\nsource = "s"\n'
        '[[rule]]\nid = "all"\nunit = "cn.ago"\nsource = "s"\n',
    )
    assert [r.id for r in rules] == ["specific", "province", "gang_anywhere", "all"]
    assert match(rules, facts(umbrella="no")).id == "specific"  # type: ignore[union-attr]
    assert match(rules, facts(umbrella="yes")).id == "province"  # type: ignore[union-attr]
    assert match(rules, facts(region="110105")).id == "gang_anywhere"  # type: ignore[union-attr]
    assert match(rules, facts(region="110105", kind="police_misconduct")).id == "all"  # type: ignore[union-attr]


def test_assignment_no_match_returns_none(tmp_path: Path) -> None:
    rules = _one_rule(tmp_path, 'kind = "police_misconduct"')
    assert match(rules, facts()) is None
    assert match(_rules(tmp_path, ""), facts()) is None


def test_assignment_plain_sequence_matches_like_compiled(tmp_path: Path) -> None:
    compiled = _rules(
        tmp_path,
        '[[rule]]\nid = "a"\nkind = "industry_disorder"\nindustry = "IND02"\nunit = "gd.police"\nsource = "s"\n'
        '[[rule]]\nid = "b"\nregion_prefix = "44"\nunit = "gd.ago"\nsource = "s"\n',
    )
    plain = list(compiled)
    for f in (facts(), facts(kind="industry_disorder", industries=("IND02",)), facts(region="110000")):
        assert match(plain, f) == match(compiled, f)


def test_assignment_unknown_kind_in_facts_only_meets_kindless_rules() -> None:
    rules = AssignmentRules(
        [
            AssignmentRule(id="k", unit="gd.ago", source="s", kind=("gang_crime",)),
            AssignmentRule(id="any", unit="cn.ago", source="s"),
        ]
    )
    assert rules.match(facts(kind="something_new")).id == "any"  # type: ignore[union-attr]


def test_assignment_shipped_defaults_load_and_route() -> None:
    d = shipped_rules_dir()
    units = load_units(d / "units.toml")
    rules = load_assignment_rules(d / "assignment.toml", units)
    assert all(r.source for r in rules)
    assert all(r.unit in units for r in rules)

    def unit_of(**kw: Any) -> str:
        rule = match(rules, facts(**kw))
        assert rule is not None
        return rule.unit

    assert unit_of(kind="gang_crime", region="440305", umbrella="yes") == "gd.ago"
    assert unit_of(kind="gang_crime", region="440305", umbrella="no") == "gd.police"
    assert unit_of(kind="gang_crime", region="110105", targets=("T10",)) == "cn.police"
    assert unit_of(kind="police_misconduct", region="510104") == "sc.discipline"
    assert unit_of(kind="police_misconduct", region="110105", organ_types=("ORG_JUST",)) == "bj.procuratorate"
    assert unit_of(kind="industry_disorder", region="330106", industries=("IND01",)) == "zj.cac"
    assert unit_of(kind="industry_disorder", region="330106", industries=("IND04",)) == "zj.ago"
    assert unit_of(kind="gang_crime", region="530102") == "cn.ago"  # Yunnan: the catch-all
    assert units[unit_of(kind="gang_crime", region="530102")].region == "000000"
    assert rules[-1].id == "cn.catch_all"


def test_assignment_rules_hash_ignores_layout_not_values(tmp_path: Path) -> None:
    body = '[[rule]]\nid = "r"\nindustry = ["IND04", "IND01"]\nunit = "gd.ago"\nsource = "s"\n'
    first = rules_hash(_rules(tmp_path, body))
    assert len(first) == 64
    assert rules_hash(_rules(tmp_path, "# a comment\n\n" + body.replace(" = ", "="))) == first
    assert rules_hash(_rules(tmp_path, body.replace("gd.ago", "gd.police"))) != first


# --- malformed files -------------------------------------------------------------------

GOOD = """\
[[rule]]
id = "gd.gang"
kind = "gang_crime"
region_prefix = "44"
unit = "gd.ago"
source = "test"

[[rule]]
id = "catch_all"
unit = "cn.ago"
source = "test"
"""


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ('unit = "cn.ago"', 'unit = "cn.police"', 'line 10: rule[1].unit: unknown unit "cn.police" (not in units.toml)'),
        ('id = "catch_all"', 'id = "gd.gang"', 'line 9: rule[1].id: rule "gd.gang" is listed twice'),
        ('kind = "gang_crime"', 'kind = "gangcrime"', 'line 3: rule[0].kind: unknown code "gangcrime"'),
        ('region_prefix = "44"', 'region_prefix = "440"', 'line 4: rule[0].region_prefix: "440" is not a region prefix'),
        ('region_prefix = "44"', "region_prefix = []", "line 4: rule[0].region_prefix: an empty list matches nothing"),
        ('region_prefix = "44"', 'region_prefix = ["44", "44"]', "line 4: rule[0].region_prefix: a value is listed twice"),
        ('region_prefix = "44"', "region_prefix = 44", "line 4: rule[0].region_prefix: expected `str | array | null`"),
        ('region_prefix = "44"', 'regoin_prefix = "44"', "line 4: rule[0].regoin_prefix: unknown field"),
        ('region_prefix = "44"', 'industry = "IND4"', 'line 4: rule[0].industry: unknown code "IND4"'),
        ('region_prefix = "44"', 'target = ["T05", "T12"]', 'line 4: rule[0].target: unknown code "T12"'),
        ('region_prefix = "44"', 'umbrella = "maybe"', 'line 4: rule[0].umbrella: unknown code "maybe"'),
        ('region_prefix = "44"', 'organ_type = "PSB"', 'line 4: rule[0].organ_type: unknown code "PSB"'),
        ('source = "test"\n\n', "\n", "line 1: rule[0].source: required field is missing"),
    ],
    ids=[
        "unknown_unit",
        "duplicate_id",
        "unknown_kind",
        "odd_prefix",
        "empty_list",
        "repeated_value",
        "wrong_type",
        "unknown_field",
        "unknown_industry",
        "unknown_target",
        "unknown_umbrella",
        "unknown_organ_type",
        "missing_source",
    ],
)
def test_assignment_malformed_file_names_file_line_and_field(tmp_path: Path, old: str, new: str, expected: str) -> None:
    assert old in GOOD
    path = tmp_path / "assignment.toml"
    path.write_text(GOOD.replace(old, new, 1), encoding="utf-8")
    with pytest.raises(InputError) as info:
        load_assignment_rules(path, UNITS)
    message = str(info.value)
    assert message.startswith(f'invalid assignment rules "{path}": {expected}'), message
    assert "\n" not in message


def test_assignment_bad_toml_names_line(tmp_path: Path) -> None:
    path = tmp_path / "assignment.toml"
    path.write_text(GOOD.replace('unit = "gd.ago"', 'unit = "gd.ago'), encoding="utf-8")
    with pytest.raises(InputError) as info:
        load_assignment_rules(path, UNITS)
    assert str(info.value).startswith(f'cannot read assignment rules "{path}": line 5, column ')
