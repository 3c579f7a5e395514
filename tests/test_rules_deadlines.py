"""Deadline rules (rules/deadlines.toml), predicates, obligations and states (cluetool/data/rules/).

Expected dates are literals, hand-counted against the State Council schedules as
chinese-calendar 1.11 encodes them (see tests/test_rules_calendar.py for the full list):

- 2025 National Day + Mid-autumn: rest Wed 10-01..Wed 10-08; make-up workdays Sun 09-28,
  Sat 10-11.
- 2026 Spring Festival: rest Sun 02-15..Mon 02-23; make-up workdays Sat 02-14, Sat 02-28.

The trigger day is day 0 and not counted; a calendar-day deadline on a rest day moves to
the next working day. Nothing here depends on today's date (checked under freezegun).
"""

from __future__ import annotations

from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from freezegun import freeze_time

from cluetool.errors import CalendarError, InputError
from cluetool.rules.calendar import Period, WorkCalendar
from cluetool.rules.deadlines import (
    DeadlineRule,
    EventFact,
    ObligationSpec,
    completed_at,
    judge,
    load_deadline_rules,
    obligations_for,
    rules_hash,
)
from cluetool.rules.facts import ClueFacts, PredicateError, evaluate, parse_predicate
from cluetool.rules.toml_util import shipped_rules_dir
from cluetool.rules.units import Unit

CAL = WorkCalendar()
SHANGHAI = ZoneInfo("Asia/Shanghai")
UTC = timezone.utc
RULES = load_deadline_rules(shipped_rules_dir() / "deadlines.toml")
BY_ID = {r.id: r for r in RULES}

UNITS = {
    u.id: u
    for u in (
        Unit(id="gd.ago", name="广东省扫黑办", type="anti_gang_office", region="440000"),
        Unit(id="gd.police", name="广东省公安厅", type="police", region="440000"),
        Unit(id="gd.discipline", name="广东省纪委监委", type="discipline", region="440000"),
        Unit(id="bj.discipline", name="北京市纪委监委", type="discipline", region="110000"),
    )
}


def bj(text: str) -> datetime:
    """A Beijing-time instant."""
    return datetime.fromisoformat(text).replace(tzinfo=SHANGHAI)


def facts(**overrides: Any) -> ClueFacts:
    base: dict[str, Any] = {
        "submission_id": "0b7e5c1e-2f4e-4d5a-9a51-6f1f3a9e8d20",
        "kind": "gang_crime",
        "region": "440305",
        "umbrella": "no",
        "has_contact": False,
        "received_at": datetime(2026, 2, 10, 2, 0, tzinfo=UTC),
    }
    base.update(overrides)
    return ClueFacts(**base)


def due_by_rule(specs: list[ObligationSpec]) -> dict[str, date]:
    assert all(not s.provisional for s in specs)
    return {s.rule_id: s.due for s in specs}


# --- the shipped rules -----------------------------------------------------------------


def test_deadlines_shipped_rules_are_the_documented_set() -> None:
    assert [r.id for r in RULES] == [
        "assign_imported",
        "contact_reporter",
        "transfer_gang_to_police",
        "transfer_umbrella_to_discipline",
        "notify_discipline_after_filing",
        "double_review",
    ]
    assert all(r.source for r in RULES)
    assert "local practice" in BY_ID["assign_imported"].source
    assert (BY_ID["assign_imported"].when, BY_ID["assign_imported"].done_by) == ("imported", "assigned")
    contact = BY_ID["contact_reporter"]
    assert (contact.when, contact.applies, contact.within) == (
        "assigned",
        "reporter.has_contact",
        Period(days=30, unit="calendar"),
    )
    assert BY_ID["transfer_umbrella_to_discipline"].applies == {"any": ["umbrella.yes", "kind.police_misconduct"]}
    review = BY_ID["double_review"]
    assert (review.done_by, review.done_count, review.distinct, review.before) == ("reviewed", 2, "unit", "closed")


def test_deadlines_spring_festival_2026_assigned_gang_clue_with_contact() -> None:
    # Assigned Thu 2026-02-12 10:00 Beijing. 5 working days: Fri 02-13, Sat 02-14 (make-up),
    # then the holiday, Tue 02-24, Wed 02-25, Thu 02-26. 30 calendar days: Sat 03-14, a
    # rest day, so Mon 03-16.
    f = facts(has_contact=True, umbrella="yes")
    specs = obligations_for(RULES, f, "assigned", bj("2026-02-12T10:00"), CAL, "Asia/Shanghai")
    assert due_by_rule(specs) == {
        "contact_reporter": date(2026, 3, 16),
        "transfer_gang_to_police": date(2026, 2, 26),
        "transfer_umbrella_to_discipline": date(2026, 2, 26),
    }
    assert all(s.trigger == "assigned" and s.trigger_at == bj("2026-02-12T10:00") for s in specs)


def test_deadlines_spring_festival_2026_utc_evening_counts_from_next_local_date() -> None:
    # 2026-02-13 17:00 UTC is Sat 02-14 01:00 in Beijing, a make-up working day, so day 0 is
    # 02-14: Tue 02-24 .. Fri 02-27, then Sat 02-28 (make-up) is the 5th working day.
    # Counting from the UTC date (Fri 02-13) would give 02-27.
    trigger_at = datetime(2026, 2, 13, 17, 0, tzinfo=UTC)
    specs = obligations_for(RULES, facts(), "assigned", trigger_at, CAL, SHANGHAI)
    assert due_by_rule(specs) == {"transfer_gang_to_police": date(2026, 2, 28)}
    specs_utc = obligations_for(RULES, facts(), "assigned", trigger_at, CAL, "UTC")
    assert due_by_rule(specs_utc) == {"transfer_gang_to_police": date(2026, 2, 27)}


def test_deadlines_spring_festival_2026_double_review_after_verified() -> None:
    # Verified Tue 2026-02-10. 15 working days: 02-11, 12, 13, 14 (Sat make-up), 24, 25, 26,
    # 27, 28 (Sat make-up), 03-02, 03, 04, 05, 06, 09.
    specs = obligations_for(RULES, facts(), "verified", bj("2026-02-10T16:00"), CAL)
    assert due_by_rule(specs) == {"double_review": date(2026, 3, 9)}


def test_deadlines_national_day_2025_imported_clue_must_be_assigned() -> None:
    # Imported Fri 2025-09-26. Working days: Sun 09-28 (make-up), Mon 09-29, Tue 09-30,
    # then the holiday 10-01..10-08, Thu 10-09, Fri 10-10.
    specs = obligations_for(RULES, facts(), "imported", bj("2025-09-26T09:00"), CAL)
    assert due_by_rule(specs) == {"assign_imported": date(2025, 10, 10)}


def test_deadlines_national_day_2025_notify_after_filing() -> None:
    # Filed Tue 2025-09-30. Working days: Thu 10-09, Fri 10-10, Sat 10-11 (make-up),
    # Mon 10-13, Tue 10-14.
    specs = obligations_for(RULES, facts(), "filed", bj("2025-09-30T15:00"), CAL, handler=UNITS["gd.police"])
    assert due_by_rule(specs) == {"notify_discipline_after_filing": date(2025, 10, 14)}


def test_deadlines_national_day_2025_contact_deadline_moves_past_holiday() -> None:
    # Assigned Fri 2025-09-05; +30 days is Sun 10-05, inside the holiday, so Thu 10-09.
    f = facts(kind="industry_disorder", has_contact=True)
    specs = obligations_for(RULES, f, "assigned", bj("2025-09-05T10:00"), CAL)
    assert due_by_rule(specs) == {"contact_reporter": date(2025, 10, 9)}


def test_deadlines_police_misconduct_goes_to_discipline_only() -> None:
    f = facts(kind="police_misconduct", umbrella="unknown")
    specs = obligations_for(RULES, f, "assigned", bj("2026-02-12T10:00"), CAL)
    assert due_by_rule(specs) == {"transfer_umbrella_to_discipline": date(2026, 2, 26)}


def test_deadlines_handler_of_target_type_owes_no_transfer() -> None:
    f = facts(umbrella="yes")
    at = bj("2026-02-12T10:00")
    held_by_police = obligations_for(RULES, f, "assigned", at, CAL, handler=UNITS["gd.police"])
    assert [s.rule_id for s in held_by_police] == ["transfer_umbrella_to_discipline"]
    held_by_discipline = obligations_for(RULES, f, "assigned", at, CAL, handler=UNITS["gd.discipline"])
    assert [s.rule_id for s in held_by_discipline] == ["transfer_gang_to_police"]
    filed_by_discipline = obligations_for(RULES, f, "filed", at, CAL, handler=UNITS["gd.discipline"])
    assert filed_by_discipline == []


def test_deadlines_trigger_with_no_rules_creates_nothing() -> None:
    assert obligations_for(RULES, facts(), "contacted", bj("2026-02-12T10:00"), CAL) == []
    assert obligations_for(RULES, facts(), "received", bj("2026-02-12T10:00"), CAL) == []


def test_deadlines_unknown_trigger_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="unknown trigger"):
        obligations_for(RULES, facts(), "asigned", bj("2026-02-12T10:00"), CAL)


def test_deadlines_unknown_year_is_calendar_error_or_provisional() -> None:
    # 2099 is unknown to chinese-calendar. Fri 2099-03-06 + 5 weekdays = Fri 2099-03-13.
    at = bj("2099-03-06T10:00")
    with pytest.raises(CalendarError):
        obligations_for(RULES, facts(), "assigned", at, CAL)
    (spec,) = obligations_for(RULES, facts(), "assigned", at, WorkCalendar(assume_weekdays=True))
    assert (spec.rule_id, spec.due, spec.provisional, spec.unknown_years) == (
        "transfer_gang_to_police",
        date(2099, 3, 13),
        True,
        (2099,),
    )


def test_deadlines_results_do_not_depend_on_today() -> None:
    f = facts(has_contact=True)
    at = bj("2026-02-12T10:00")
    expected = obligations_for(RULES, f, "assigned", at, CAL)
    state = judge(date(2026, 2, 26), None, date(2026, 2, 25), 2)
    for now in ("2020-01-01 00:00:00", "2026-02-27 12:00:00", "2031-07-01 00:00:00"):
        with freeze_time(now):
            assert obligations_for(RULES, f, "assigned", at, CAL) == expected
            assert judge(date(2026, 2, 26), None, date(2026, 2, 25), 2) == state == "due_soon"


# --- judge -----------------------------------------------------------------------------

DUE = date(2026, 2, 26)


@pytest.mark.parametrize(
    ("as_of", "soon", "state"),
    [
        (date(2026, 2, 27), 2, "overdue"),  # the day after the due date
        (date(2026, 3, 30), 2, "overdue"),
        (date(2026, 2, 26), 2, "due_soon"),  # the due day itself is not overdue
        (date(2026, 2, 24), 2, "due_soon"),  # exactly soon_days before
        (date(2026, 2, 23), 2, "open"),  # one day more than soon_days before
        (date(2026, 2, 26), 0, "due_soon"),
        (date(2026, 2, 25), 0, "open"),
        (date(2026, 2, 1), 30, "due_soon"),
    ],
)
def test_judge_not_met_states(as_of: date, soon: int, state: str) -> None:
    assert judge(DUE, None, as_of, soon, "Asia/Shanghai") == state


def test_judge_met_on_due_day_in_beijing_that_is_the_previous_day_in_utc() -> None:
    met = datetime(2026, 2, 25, 16, 30, tzinfo=UTC)  # 2026-02-26 00:30 in Beijing
    assert judge(DUE, met, date(2026, 3, 30), 2, SHANGHAI) == "met"


def test_judge_met_the_next_day_in_beijing_while_still_due_day_in_utc_is_late() -> None:
    met = datetime(2026, 2, 26, 17, 0, tzinfo=UTC)  # 2026-02-27 01:00 in Beijing
    assert judge(DUE, met, date(2026, 2, 27), 2, SHANGHAI) == "met_late"
    assert judge(DUE, met, date(2026, 2, 27), 2, "UTC") == "met"


def test_judge_met_late_and_met_ignore_as_of() -> None:
    assert judge(DUE, bj("2026-02-26T23:59:59"), date(2026, 1, 1), 2) == "met"
    assert judge(DUE, bj("2026-02-27T00:00:00"), date(2026, 1, 1), 2) == "met_late"
    assert judge(DUE, bj("2026-02-01T09:00:00"), date(2026, 2, 1), 2) == "met"


def test_judge_rejects_negative_soon_and_naive_time() -> None:
    with pytest.raises(ValueError):
        judge(DUE, None, DUE, -1)
    with pytest.raises(ValueError):
        judge(DUE, datetime(2026, 2, 26, 12, 0), DUE, 2)


# --- what meets a duty -----------------------------------------------------------------


def test_completed_at_transfer_needs_unit_of_right_type() -> None:
    rule = BY_ID["transfer_gang_to_police"]
    since = bj("2026-02-12T10:00")
    events = [
        EventFact(name="transferred", at=bj("2026-02-13T09:00"), to="gd.discipline"),
        EventFact(name="transferred", at=bj("2026-02-13T10:00"), to="nowhere"),
        EventFact(name="contacted", at=bj("2026-02-13T11:00")),
    ]
    assert completed_at(rule, events, since, UNITS) is None
    events.append(EventFact(name="transferred", at=bj("2026-02-24T10:00"), to="gd.police"))
    assert completed_at(rule, events, since, UNITS) == bj("2026-02-24T10:00")


def test_completed_at_double_review_needs_two_distinct_units() -> None:
    rule = BY_ID["double_review"]
    since = bj("2026-02-10T16:00")
    events = [
        EventFact(name="reviewed", at=bj("2026-02-09T10:00"), unit="bj.discipline"),  # before the trigger
        EventFact(name="reviewed", at=bj("2026-02-11T10:00"), unit="gd.ago"),
        EventFact(name="reviewed", at=bj("2026-02-12T10:00"), unit="gd.ago"),  # same unit again
        EventFact(name="reviewed", at=bj("2026-02-13T10:00")),  # no unit given
    ]
    assert completed_at(rule, events, since, UNITS) is None
    second = EventFact(name="reviewed", at=bj("2026-03-10T10:00"), unit="gd.discipline")
    met = completed_at(rule, [second, *events], since, UNITS)
    assert met == bj("2026-03-10T10:00")
    assert judge(date(2026, 3, 9), met, date(2026, 3, 10), 2) == "met_late"


def test_completed_at_plain_event() -> None:
    rule = BY_ID["contact_reporter"]
    since = bj("2026-02-12T10:00")
    events = [EventFact(name="contacted", at=bj("2026-02-20T10:00")), EventFact(name="contacted", at=bj("2026-02-21T10:00"))]
    assert completed_at(rule, events, since, UNITS) == bj("2026-02-20T10:00")


# --- predicates ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "overrides", "expected"),
    [
        ("always", {}, True),
        ("reporter.has_contact", {"has_contact": True}, True),
        ("reporter.has_contact", {}, False),
        ("reporter.real_name", {"real_name": True}, True),
        ("kind.gang_crime", {}, True),
        ("kind.police_misconduct", {}, False),
        ("umbrella.no", {}, True),
        ("industry.IND04", {"industries": ("IND01", "IND04")}, True),
        ("industry.IND04", {}, False),
        ("target.T08", {"targets": ("T08",)}, True),
        ("organ_type.ORG_PSB", {"organ_types": ("ORG_COURT",)}, False),
        ("region.44", {}, True),
        ("region.4403", {}, True),
        ("region.440306", {}, False),
        (["kind.gang_crime", "region.44"], {}, True),
        (["kind.gang_crime", "region.11"], {}, False),
        ({"any": ["umbrella.yes", "kind.police_misconduct"]}, {}, False),
        ({"any": ["umbrella.yes", "kind.police_misconduct"]}, {"kind": "police_misconduct"}, True),
        ({"all": ["kind.gang_crime", {"not": "umbrella.yes"}]}, {}, True),
        ({"not": {"any": ["region.44", "region.11"]}}, {}, False),
    ],
)
def test_predicate_evaluates(raw: Any, overrides: dict[str, Any], expected: bool) -> None:
    assert evaluate(parse_predicate(raw), facts(**overrides)) is expected


def test_predicate_list_normalises_to_all() -> None:
    assert parse_predicate(["always", {"any": ["kind.gang_crime"]}]) == {"all": ["always", {"any": ["kind.gang_crime"]}]}


@pytest.mark.parametrize(
    ("raw", "where", "fragment"),
    [
        ("has_contact", (), 'unknown predicate "has_contact"'),
        ("kind.gang", (), '"gang" is not a kind code'),
        ("region.4", (), "2, 4 or 6 digits"),
        ([], (), "empty list"),
        ({"any": "kind.gang_crime"}, ("any",), "takes a list"),
        ({"either": ["always"]}, ("either",), 'unknown operator "either"'),
        ({"any": ["always"], "all": ["always"]}, (), "exactly one key"),
        ({"any": ["always", {"not": "umbrella.maybe"}]}, ("any", 1, "not"), '"maybe" is not a umbrella code'),
        (3, (), "not an integer"),
        (True, (), "not a boolean"),
    ],
)
def test_predicate_malformed_raises_with_path(raw: Any, where: tuple[Any, ...], fragment: str) -> None:
    with pytest.raises(PredicateError) as info:
        parse_predicate(raw)
    assert info.value.where == where
    assert fragment in info.value.message


def test_predicate_depth_is_limited() -> None:
    raw: Any = "always"
    for _ in range(10):
        raw = {"not": raw}
    with pytest.raises(PredicateError, match="deeper"):
        parse_predicate(raw)


# --- malformed files -------------------------------------------------------------------

GOOD = """\
[[deadline]]
id = "contact_reporter"
when = "assigned"
applies = "reporter.has_contact"
within = { days = 30, unit = "calendar" }
done_by = "contacted"
source = "test"

[[deadline]]
id = "double_review"
when = "verified"
within = { days = 15, unit = "working" }
done_by = "reviewed"
done_count = 2
distinct = "unit"
before = "closed"
source = "test"
"""


def _load(tmp_path: Path, text: str) -> list[DeadlineRule]:
    path = tmp_path / "deadlines.toml"
    path.write_text(text, encoding="utf-8")
    return load_deadline_rules(path)


def test_deadlines_good_file_loads_with_defaults(tmp_path: Path) -> None:
    rules = _load(tmp_path, GOOD)
    assert rules[1].applies == "always"
    assert rules[0].done_count == 1 and rules[0].distinct is None and rules[0].done_to is None


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ('unit = "calendar"', 'unit = "calender"', "line 5: deadline[0].within.unit: invalid enum value 'calender'"),
        ("days = 30", "days = 0", "line 5: deadline[0].within.days: expected `int` >= 1"),
        ("days = 30", "days = 5000", "line 5: deadline[0].within.days: a period longer than 1000 days"),
        ("days = 30, ", "", "line 5: deadline[0].within.days: required field is missing"),
        ('unit = "calendar" }', 'unit = "calendar", hours = 3 }', "line 5: deadline[0].within.hours: unknown field"),
        ('applies = "reporter.has_contact"', 'applies = "reporter.contact"', 'line 4: deadline[0].applies: unknown predicate "reporter.contact"'),
        (
            'applies = "reporter.has_contact"',
            'applies = { any = ["umbrella.yes", "kind.gangcrime"] }',
            'line 4: deadline[0].applies.any[1]: unknown predicate "kind.gangcrime"',
        ),
        ('when = "assigned"', 'when = "asigned"', 'line 3: deadline[0].when: unknown trigger "asigned"'),
        ('done_by = "contacted"', 'done_by = "called"', 'line 6: deadline[0].done_by: unknown event "called"'),
        ('done_by = "contacted"', 'done_by = "assigned"', 'line 6: deadline[0].done_by: "assigned" cannot both start'),
        ('done_by = "contacted"', 'done_by = "contacted"\ndone_to = "police"', "line 7: deadline[0].done_to: \"contacted\" has no --to unit"),
        ('done_by = "contacted"', 'done_by = "transferred"\ndone_to = "army"', "line 7: deadline[0].done_to: invalid enum value 'army'"),
        ("done_count = 2", "done_count = 1", 'line 15: deadline[1].distinct: distinct units need done_count of 2 or more'),
        ("done_count = 2", "done_count = 11", "line 14: deadline[1].done_count: expected `int` <= 10"),
        ('done_by = "reviewed"', 'done_by = "verified"', 'line 13: deadline[1].done_by: "verified" cannot both start'),
        ('done_by = "reviewed"', 'done_by = "notified"', 'line 15: deadline[1].distinct: "notified" has no --unit'),
        ('before = "closed"', 'before = "archived"', 'line 16: deadline[1].before: unknown event "archived"'),
        ('before = "closed"', 'before = "reviewed"', "line 16: deadline[1].before: \"reviewed\" is the rule's own"),
        ('id = "double_review"', 'id = "contact_reporter"', 'line 10: deadline[1].id: rule "contact_reporter" is listed twice'),
        ('source = "test"\n\n', "\n", "line 1: deadline[0].source: required field is missing"),
        ('source = "test"\n\n', 'source = ""\n\n', "line 7: deadline[0].source: expected `str` of length >= 1"),
        ("done_count = 2", "done_count = 2\ndone_within = 3", "line 15: deadline[1].done_within: unknown field"),
    ],
    ids=[
        "bad_period_unit",
        "zero_days",
        "huge_period",
        "period_missing_days",
        "period_unknown_field",
        "unknown_predicate",
        "unknown_nested_predicate",
        "unknown_trigger",
        "unknown_done_event",
        "same_trigger_and_done",
        "done_to_on_event_without_to",
        "done_to_unknown_type",
        "distinct_with_one",
        "count_too_big",
        "verified_meets_verified",
        "distinct_on_event_without_unit",
        "unknown_before",
        "before_is_done_event",
        "duplicate_id",
        "missing_source",
        "empty_source",
        "unknown_field",
    ],
)
def test_deadlines_malformed_file_names_file_line_and_field(tmp_path: Path, old: str, new: str, expected: str) -> None:
    assert old in GOOD
    with pytest.raises(InputError) as info:
        _load(tmp_path, GOOD.replace(old, new, 1))
    message = str(info.value)
    assert message.startswith(f'invalid deadline rules "{tmp_path / "deadlines.toml"}": {expected}'), message
    assert "\n" not in message


def test_deadlines_bad_toml_names_line(tmp_path: Path) -> None:
    with pytest.raises(InputError) as info:
        _load(tmp_path, GOOD.replace("within = { days = 15,", "within = { days = 15"))
    assert str(info.value).startswith(f'cannot read deadline rules "{tmp_path / "deadlines.toml"}": line 12, column ')


def test_deadlines_sub_table_period_is_placed(tmp_path: Path) -> None:
    text = GOOD.replace('within = { days = 15, unit = "working" }\n', "") + '[deadline.within]\ndays = 15\nunit = "workday"\n'
    with pytest.raises(InputError) as info:
        _load(tmp_path, text)
    assert "line 19: deadline[1].within.unit: invalid enum value 'workday'" in str(info.value)


def test_deadlines_rules_hash_changes_with_values_only(tmp_path: Path) -> None:
    base = rules_hash(_load(tmp_path, GOOD))
    reordered = GOOD.replace('{ days = 30, unit = "calendar" }', '{ unit = "calendar", days = 30 }')
    assert reordered != GOOD
    assert base == rules_hash(_load(tmp_path, "# edited comment\n" + reordered))
    assert base != rules_hash(_load(tmp_path, GOOD.replace("days = 30", "days = 20")))
    assert base == rules_hash(_load(tmp_path, GOOD))
