"""``cluetool assign``, ``record``, ``deadlines``, ``ledger``: exit codes, parsed stdout,
empty stderr on json runs. The clock is frozen (freezegun); every date is explicit."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from freezegun import freeze_time
from typer.testing import CliRunner

from cluetool.cli import app
from cluetool.config import Home
from tests.test_handling_assign import add_reports, make_home, report
from tests.test_handling_assign import backend  # noqa: F401 - autouse: both stores (issue 22)

runner = CliRunner()
CST = timezone(timedelta(hours=8))
RECEIVED = datetime(2026, 3, 2, 9, 0, tzinfo=CST)


def cli(home: Home, *args: str, now: str = "2026-03-02T02:00:00Z") -> tuple[int, str, str]:
    with freeze_time(now):
        result = runner.invoke(app, ["--home", str(home.root), *args], catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def home(tmp_path: Path) -> Home:
    h = make_home(tmp_path)
    add_reports(h, [report(0, "gang_crime", region="110105", received_at=RECEIVED),
                    report(1, "police_misconduct", region="310101", received_at=RECEIVED)], imported_at=RECEIVED)
    return h


def test_cli_assign_json_assigns_all_exits_0(home: Home) -> None:
    code, out, err = cli(home, "assign", "--format", "json")
    assert (code, err) == (0, "")
    doc = json.loads(out)
    assert doc["schema"] == "cluetool.assign/1" and doc["ok"] is True
    assert sorted(r["unit"] for r in doc["results"]) == ["bj.ago", "sh.discipline"]


def test_cli_assign_dry_run_then_unmatched_exits_1(home: Home) -> None:
    path = home.rules_dir / "assignment.toml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text[: text.index('[[rule]]\nid = "cn.catch_all"')], encoding="utf-8")
    add_reports(home, [report(2, "gang_crime", region="530102", received_at=RECEIVED)], imported_at=RECEIVED)
    code, out, _ = cli(home, "assign", "--dry-run", "--format", "jsonl")
    assert code == 1
    assert sorted(json.loads(line)["status"] for line in out.splitlines()) == ["unmatched", "would_assign", "would_assign"]
    code, out, _ = cli(home, "assign")
    assert code == 1 and "unmatched" in out


def test_cli_assign_by_hand_and_record_and_ledger(home: Home) -> None:
    code, out, _ = cli(home, "assign", "--format", "json")
    gang = next(r["clue"] for r in json.loads(out)["results"] if r["unit"] == "bj.ago")
    code, out, err = cli(home, "record", gang[:8], "transferred", "--to", "bj.police",
                         "--at", "2026-03-03T10:00:00+08:00", "--note", "by courier", "--format", "json",
                         now="2026-03-04T00:00:00Z")
    assert (code, err) == (0, "")
    doc = json.loads(out)
    assert doc["to_unit"] == "bj.police" and doc["met"][0]["rule"] == "transfer_gang_to_police"
    code, out, err = cli(home, "ledger", "--unit", "bj.police", "--direction", "in", "--format", "jsonl")
    assert (code, err) == (0, "")
    assert [json.loads(line)["from_unit"] for line in out.splitlines()] == ["bj.ago"]
    code, out, err = cli(home, "assign", gang, "bj.discipline", "--reason", "umbrella found", "--format", "json",
                         now="2026-03-05T00:00:00Z")
    assert code == 0 and json.loads(out)["results"][0]["previous_unit"] == "bj.police"


def test_cli_record_refused_sequence_exits_2_one_line(home: Home) -> None:
    cli(home, "assign")
    clue = json.loads(cli(home, "deadlines", "--format", "json")[1])["obligations"][0]["clue"]
    code, out, err = cli(home, "record", clue, "notified", "--to", "bj.discipline", now="2026-03-04T00:00:00Z")
    assert code == 2 and out == ""
    assert err.startswith(f"cluetool: error: cannot record notified on clue {clue}: no filed event")
    assert len(err.splitlines()) == 1


def test_cli_deadlines_fail_on_overdue_exit_codes(home: Home) -> None:
    cli(home, "assign")  # Mon 03-02: transfers due Mon 03-09
    code, out, err = cli(home, "deadlines", "--as-of", "2026-03-09", "--fail-on", "overdue", "--format", "json")
    assert (code, err) == (0, "") and json.loads(out)["counts"]["overdue"] == 0
    code, out, _ = cli(home, "deadlines", "--as-of", "2026-03-10", "--fail-on", "overdue", "--format", "json")
    doc = json.loads(out)
    assert code == 1 and doc["failed"] is True
    # The misconduct clue went to sh.discipline, which owes no transfer to discipline.
    assert [o["rule"] for o in doc["obligations"] if o["state"] == "overdue"] == ["transfer_gang_to_police"]
    code, out, _ = cli(home, "deadlines", "--as-of", "2026-03-10", "--state", "overdue")
    assert code == 0 and "overdue" in out and "transfer_gang_to_police" in out


def test_cli_deadlines_unknown_year_provisional_or_exits_4_when_strict(home: Home) -> None:
    cli(home, "assign", now="2026-12-01T02:00:00Z")
    path = home.rules_dir / "deadlines.toml"
    path.write_text(path.read_text(encoding="utf-8").replace("days = 5", "days = 60"), encoding="utf-8")
    code, out, err = cli(home, "deadlines", "--strict-calendar", now="2026-12-02T02:00:00Z")
    assert code == 4 and out == ""
    assert "working-day calendar for 2027 is unknown" in err and "hint:" in err
    code, out, _ = cli(home, "deadlines", now="2026-12-02T02:00:00Z")
    assert code == 0 and "(provisional: 2027 schedule unknown)" in out


def test_cli_deadlines_malformed_rules_exit_2(home: Home) -> None:
    path = home.rules_dir / "deadlines.toml"
    path.write_text(path.read_text(encoding="utf-8").replace('days = 5, unit = "working"', 'days = 5, unit = "work"', 1), encoding="utf-8")
    code, _, err = cli(home, "deadlines")
    assert code == 2
    assert err.startswith('cluetool: error: invalid deadline rules "') and "deadlines.toml\": line " in err
    assert "deadline[0].within" in err


def test_cli_bad_options_exit_2(home: Home) -> None:
    assert cli(home, "deadlines", "--fail-on", "late")[0] == 2
    assert cli(home, "ledger", "--direction", "in")[0] == 2
    assert cli(home, "assign", "abcdefgh")[0] == 2
    assert cli(home, "record", "abcdefgh", "closed")[0] == 2


def test_cli_bad_dates_exit_2(home: Home) -> None:
    code, _, err = cli(home, "deadlines", "--as-of", "2026-13-01")
    assert code == 2 and '--as-of: "2026-13-01" is not a date' in err
    code, _, err = cli(home, "record", "abcdefgh", "accepted", "--at", "2026-03-02T09:00:00")
    assert code == 2 and "has no time zone offset" in err
