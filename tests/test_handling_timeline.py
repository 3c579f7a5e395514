"""Issue 21: `record --at` refuses an impossible timeline (before the import; a unit's
event before the clue was first assigned), and `assign --dry-run` exits as the real run
would. Every time is explicit; the clock is frozen for the CLI."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from cluetool.config import Home
from cluetool.errors import InputError
from cluetool.api import assign, record
from tests.cli.test_cli_handling import cli
from tests.test_handling_assign import CST, add_reports, make_home, report
from tests.test_handling_assign import backend  # noqa: F401 - autouse: both stores

RECEIVED = datetime(2026, 3, 2, 9, 0, tzinfo=CST)
IMPORTED = datetime(2026, 3, 3, 9, 0, tzinfo=CST)  # carried across the air gap a day later
ASSIGNED = datetime(2026, 3, 4, 10, 0, tzinfo=CST)
NOW = datetime(2026, 3, 31, 10, 0, tzinfo=CST)


def _clue(tmp_path: Path, *, assigned: bool) -> tuple[Home, str]:
    home = make_home(tmp_path)
    (sid,) = add_reports(home, [report(0, "gang_crime", region="110105", received_at=RECEIVED)], imported_at=IMPORTED)
    if assigned:
        assign(home, sid, "bj.ago", reason="routing", now=ASSIGNED)
    return home, sid


def test_record_before_import_is_refused(tmp_path: Path) -> None:
    home, sid = _clue(tmp_path, assigned=False)
    with pytest.raises(InputError, match="before the clue was imported") as exc:
        record(home, sid, "duplicate", of=sid, at=datetime(2026, 3, 2, 12, 0, tzinfo=CST), now=NOW)
    assert exc.value.hint is not None and "--at" in exc.value.hint


def test_record_unit_event_before_assignment_is_refused_after_it_accepted(tmp_path: Path) -> None:
    home, sid = _clue(tmp_path, assigned=True)
    with pytest.raises(InputError, match=r"before the clue was first assigned \(2026-03-04T02:00:00.000000Z\)"):
        record(home, sid, "accepted", at=datetime(2026, 3, 3, 12, 0, tzinfo=CST), now=NOW)
    done = record(home, sid, "accepted", at=ASSIGNED, now=NOW)
    assert done.unit == "bj.ago"


def test_record_after_a_transfer_the_first_assignment_still_bounds(tmp_path: Path) -> None:
    home, sid = _clue(tmp_path, assigned=True)
    record(home, sid, "transferred", to="bj.police", at=datetime(2026, 3, 6, 10, 0, tzinfo=CST), now=NOW)
    # An event of the first holder between assignment and transfer is still possible.
    record(home, sid, "accepted", unit="bj.ago", at=datetime(2026, 3, 5, 10, 0, tzinfo=CST), now=NOW)
    with pytest.raises(InputError, match="before the clue was first assigned"):
        record(home, sid, "contacted", channel="phone", at=datetime(2026, 3, 4, 9, 0, tzinfo=CST), now=NOW)


def test_cli_record_before_import_exits_2_with_hint(tmp_path: Path) -> None:
    home, sid = _clue(tmp_path, assigned=True)
    code, out, err = cli(home, "record", sid[:8], "accepted", "--at", "2026-03-02T12:00:00+08:00", now="2026-03-31T02:00:00Z")
    assert code == 2 and out == ""
    assert err.startswith(f"cluetool: error: cannot record accepted on clue {sid}: --at 2026-03-02T04:00:00.000000Z is before the clue was imported")
    assert "cluetool: hint: give an --at at or after the import" in err


@pytest.mark.parametrize("strict", [False, True])
def test_cli_assign_dry_run_predicts_the_real_exit(tmp_path: Path, strict: bool) -> None:
    home = make_home(tmp_path)
    add_reports(home, [report(0, "gang_crime", region="110105", received_at=RECEIVED)], imported_at=IMPORTED)
    path = home.rules_dir / "deadlines.toml"
    path.write_text(path.read_text(encoding="utf-8").replace("days = 5", "days = 60"), encoding="utf-8")  # into 2027
    flags = ["--strict-calendar"] if strict else []
    when = "2026-12-01T02:00:00Z"
    dry, _, dry_err = cli(home, "assign", "--dry-run", *flags, now=when)
    real, _, real_err = cli(home, "assign", *flags, now=when)
    assert dry == real == (4 if strict else 0), (dry_err, real_err)
    if strict:
        assert "2027" in dry_err and dry_err.splitlines()[0] == real_err.splitlines()[0]
