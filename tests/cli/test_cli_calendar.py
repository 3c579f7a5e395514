"""The year boundary: intake never stops on an unknown calendar year, provisional due
dates become firm once the year is added, and the yearly ``calendar`` step itself.

chinese-calendar 1.11 knows years up to 2026. The 2027 entries here are TEST DATA, not
the real 2027 schedule. The clock is frozen (freezegun); every date is explicit. Tests
that need 2027 to be unknown skip themselves once an installed chinese-calendar knows it.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from freezegun import freeze_time
from typer.testing import CliRunner

from cluetool.cli import app
from cluetool.config import Home
from cluetool.rules.calendar import WorkCalendar
from tests.test_handling_assign import add_reports, make_home, report, sql
from tests.test_handling_assign import backend  # noqa: F401 - autouse: both stores (issue 22)

runner = CliRunner()

needs_2027_unknown = pytest.mark.skipif(2027 in WorkCalendar().known_years,
                                        reason="the installed chinese-calendar already knows 2027")

# TEST DATA shaped like a published notice: 2027-01-19 (Tue) is made a rest day so that a
# due date counted Mon-Fri on that day visibly moves when the entry arrives.
ENTRY_2027 = """\
year = 2027
source = "TEST DATA, not the real 2027 schedule"
workdays = [2027-02-20]

[[holiday]]
name = "New Year's Day"
days = [2027-01-01]

[[holiday]]
name = "Test holiday"
days = [2027-01-18, 2027-01-19]
"""


def cli(home: Home, *args: str, now: str) -> tuple[int, str, str]:
    with freeze_time(now):
        result = runner.invoke(app, ["--home", str(home.root), *args], catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def rows(home: Home, query: str, params: tuple = ()) -> list[tuple]:
    return [tuple(r) for r in sql(home, query, params)]


def audit_actions(home: Home) -> list[dict]:
    return [json.loads(bytes(r[0])) for r in rows(home, "SELECT entry FROM audit_log ORDER BY seq")]


@pytest.fixture
def home(tmp_path: Path) -> Home:
    h = make_home(tmp_path)
    add_reports(h, [report(0, "gang_crime", region="110105")])
    return h


def contact_duty(home: Home) -> tuple[str, int, str, str]:
    (row,) = rows(home, "SELECT due_date, provisional, unknown_years, state FROM obligations"
                        " WHERE rule_id = 'contact_reporter'")
    return row


@needs_2027_unknown
def test_assign_in_december_is_provisional_then_firm_after_calendar_add(home: Home, tmp_path: Path) -> None:
    code, out, err = cli(home, "assign", "--format", "json", now="2026-12-20T02:00:00Z")
    assert code == 0, err
    # 2026-12-20 + 30 calendar days = Tue 2027-01-19, counted Mon-Fri: provisional.
    assert contact_duty(home) == ("2027-01-19", 1, "2027", "open")
    code, out, _ = cli(home, "deadlines", "--as-of", "2026-12-21", "--rule", "contact_reporter", "--format", "json",
                       now="2026-12-21T02:00:00Z")
    assert code == 0
    (ob,) = json.loads(out)["obligations"]
    assert (ob["due"], ob["provisional"], ob["unknown_years"]) == ("2027-01-19", True, [2027])
    code, out, _ = cli(home, "deadlines", "--as-of", "2026-12-21", "--rule", "contact_reporter",
                       now="2026-12-21T02:00:00Z")
    assert "2027-01-19 (provisional: 2027 schedule unknown)" in out
    code, out, _ = cli(home, "deadlines", "--as-of", "2026-12-21", "-f", "jsonl", now="2026-12-21T02:00:00Z")
    lines = [json.loads(line) for line in out.splitlines()]
    assert any(o["provisional"] and o["unknown_years"] == [2027] for o in lines)

    entry = tmp_path / "calendar-2027.toml"
    entry.write_text(ENTRY_2027, encoding="utf-8")
    before = len(audit_actions(home))
    code, out, err = cli(home, "calendar", "add", "2027", "--from", str(entry), "-f", "json",
                         now="2026-12-22T02:00:00Z")
    assert code == 0, err
    assert json.loads(out)["recomputed"] >= 1
    # Tue 2027-01-19 is a rest day in the entry: the due date moves to Wed 01-20, firm.
    assert contact_duty(home) == ("2027-01-20", 0, "", "open")
    new = audit_actions(home)[before:]
    assert [e["action"] for e in new] == ["calendar.added", "rules.changed"]
    (change,) = [c for c in new[1]["details"]["changes"] if c.endswith("2027-01-19 2027-01-20")]
    assert change.split()[1:] == ["2027-01-19", "2027-01-20"]
    assert new[1]["details"]["still_provisional"] == []
    code, out, _ = cli(home, "deadlines", "--as-of", "2026-12-22", "--rule", "contact_reporter", "-f", "json",
                       now="2026-12-22T02:00:00Z")
    (ob,) = json.loads(out)["obligations"]
    assert (ob["due"], ob["provisional"], ob["unknown_years"]) == ("2027-01-20", False, [])
    # Opening the store again changes nothing more: one recomputation entry in all.
    cli(home, "deadlines", "--as-of", "2026-12-23", now="2026-12-23T02:00:00Z")
    assert sum(1 for e in audit_actions(home)[before:] if e["action"] == "rules.changed") == 1
    code, out, _ = cli(home, "calendar", "show", "2027", "-f", "json", now="2026-12-23T02:00:00Z")
    doc = json.loads(out)
    assert code == 0 and doc["source"].startswith("override: TEST DATA")
    assert {(d["date"], d["kind"], d["name"]) for d in doc["days"]} >= {
        ("2027-01-19", "rest", "Test holiday"), ("2027-02-20", "workday", None)}


@needs_2027_unknown
def test_met_obligation_keeps_its_judgement_and_rule_and_calendar_change_in_one_run(home: Home, tmp_path: Path) -> None:
    cli(home, "assign", now="2026-12-20T02:00:00Z")
    (sid,) = [r[0] for r in rows(home, "SELECT submission_id FROM reports")]
    code, _, err = cli(home, "record", sid[:8], "contacted", "--channel", "phone", "--at", "2027-01-21T10:00:00+08:00",
                       now="2027-01-21T02:00:00Z")
    assert code == 0, err
    # Met on 01-21, after the provisional due date 01-19: met_late, still provisional.
    assert contact_duty(home) == ("2027-01-19", 1, "2027", "met_late")
    # A rule change and a calendar change seen by the same run.
    path = home.rules_dir / "deadlines.toml"
    text = path.read_text(encoding="utf-8")
    start = text.index('id = "transfer_gang_to_police"')
    path.write_text(text[:start] + text[start:].replace("days = 5", "days = 6", 1), encoding="utf-8")
    (home.rules_dir / "calendar.toml").write_text(
        "[[year]]\n" + ENTRY_2027.replace("[[holiday]]", "[[year.holiday]]"), encoding="utf-8")
    before = len(audit_actions(home))
    code, _, err = cli(home, "deadlines", "--as-of", "2027-01-22", now="2027-01-22T02:00:00Z")
    assert code == 0, err
    # The due date is firm now (01-20); the judgement stays met_late.
    assert contact_duty(home) == ("2027-01-20", 0, "", "met_late")
    new = [e for e in audit_actions(home)[before:] if e["action"] == "rules.changed"]
    assert len(new) == 1


@needs_2027_unknown
def test_strict_calendar_exits_4_and_default_does_not(home: Home) -> None:
    code, out, err = cli(home, "assign", "--strict-calendar", now="2026-12-20T02:00:00Z")
    assert code == 4 and out == ""
    assert "\ncluetool: error: working-day calendar for 2027 is unknown" in "\n" + err
    assert rows(home, "SELECT count(*) FROM events") == [(0,)]
    code, _, err = cli(home, "assign", now="2026-12-20T02:00:00Z")
    assert code == 0
    code, out, err = cli(home, "deadlines", "--strict-calendar", now="2026-12-20T02:00:00Z")
    assert code == 4 and "2027" in err


@needs_2027_unknown
def test_november_notice_on_stderr_only_and_not_with_quiet(home: Home) -> None:
    code, out, err = cli(home, "assign", "-f", "json", now="2026-11-03T02:00:00Z")
    assert code == 0
    notice = [line for line in err.splitlines() if line.startswith("cluetool: warning:")]
    assert len(notice) == 1 and "2027" in notice[0] and "calendar add 2027" in notice[0]
    assert "warning" not in out
    json.loads(out)
    code, out, err = cli(home, "deadlines", "--quiet", "-f", "json", now="2026-11-03T02:00:00Z")
    assert code == 0 and err == ""
    code, out, err = cli(home, "deadlines", "-f", "json", now="2026-11-03T02:00:00Z")
    assert code == 0 and "2027 working-day calendar is not known yet" in err
    # October: no notice yet; exit codes never change with it.
    code, out, err = cli(home, "deadlines", "-f", "json", now="2026-10-30T02:00:00Z")
    assert code == 0 and err == ""


@needs_2027_unknown
def test_calendar_check_exits_1_while_next_year_unknown(home: Home) -> None:
    code, out, err = cli(home, "calendar", "check", "--as-of", "2026-11-15", "-f", "json", now="2026-11-15T02:00:00Z")
    doc = json.loads(out)
    assert code == 1 and doc["next_year"] == 2027 and not doc["ok"]
    assert 2026 in [y["year"] for y in doc["years"]] and "calendar add 2027" in err
    code, out, _ = cli(home, "calendar", "check", "--as-of", "2025-11-15", "-f", "json", now="2026-11-15T02:00:00Z")
    assert code == 0 and json.loads(out)["ok"]
    code, out, _ = cli(home, "calendar", "show", "2026", "-f", "json", now="2026-11-15T02:00:00Z")
    doc = json.loads(out)
    assert code == 0 and doc["source"].startswith("chinese-calendar")
    assert {"date": "2026-10-01", "kind": "rest", "name": "National Day", "weekday": "Thu"} in doc["days"]
    assert any(d["kind"] == "workday" and d["weekday"] in ("Sat", "Sun") for d in doc["days"])
    code, out, _ = cli(home, "calendar", "show", "2027", now="2026-11-15T02:00:00Z")
    assert code == 1


@pytest.mark.parametrize(
    ("text", "field"),
    [
        (ENTRY_2027.replace("2027-01-01]", "2026-12-31]"), "holiday[0] (New Year's Day): 2026-12-31 is not in 2027"),
        (ENTRY_2027.replace("workdays = [2027-02-20]", "workdays = [2027-02-22]"),
         "workdays: 2027-02-22 is a weekday"),
        ("year = 2027\nsource = [\n", "not TOML"),
        (ENTRY_2027.replace('[[holiday]]\nname = "Test holiday"\ndays = [2027-01-18, 2027-01-19]\n', "")
         .replace("workdays = [2027-02-20]", "workdays = [2027-02-20]\nholidays = [2027-01-18]"),
         "holidays: list each holiday by name"),
        (ENTRY_2027.replace('name = "Test holiday"\n', ""), "holiday[1]: object missing required field `name`"),
    ],
    ids=["date-outside-year", "make-up-on-weekday", "not-toml", "unnamed-holidays", "holiday-without-name"],
)
def test_calendar_add_refuses_with_one_line_naming_file_and_field(home: Home, tmp_path: Path, text: str,
                                                                  field: str) -> None:
    entry = tmp_path / "entry.toml"
    entry.write_text(text, encoding="utf-8")
    target = home.rules_dir / "calendar.toml"
    before = target.read_bytes()
    n = len(audit_actions(home))
    code, out, err = cli(home, "calendar", "add", "2027", "--from", str(entry), now="2026-12-22T02:00:00Z")
    assert code == 2 and out == ""
    first = err.splitlines()[0]
    assert first.startswith("cluetool: error: ") and str(entry) in first and field.lower() in first.lower()
    assert target.read_bytes() == before and len(audit_actions(home)) == n


def test_calendar_add_refuses_a_year_already_listed_or_a_different_year(home: Home, tmp_path: Path) -> None:
    entry = tmp_path / "entry.toml"
    entry.write_text(ENTRY_2027, encoding="utf-8")
    code, _, err = cli(home, "calendar", "add", "2028", "--from", str(entry), now="2026-12-22T02:00:00Z")
    assert code == 2 and "the entry is for 2027, not 2028" in err
    assert cli(home, "calendar", "add", "2027", "--from", str(entry), now="2026-12-22T02:00:00Z")[0] == 0
    code, _, err = cli(home, "calendar", "add", "2027", "--from", str(entry), now="2026-12-22T02:00:00Z")
    assert code == 2 and "2027 is already listed" in err
