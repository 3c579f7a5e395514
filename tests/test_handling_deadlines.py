"""Deadlines through the store: obligations stored at their trigger, counted in Beijing
dates across the published holiday schedules, judged as of a date, recomputed when the
rules change, and unknown calendar years (cluetool/data/rules/).

Expected dates are hand-counted against the State Council schedules (as
chinese-calendar 1.11 encodes them):

- 2025 National Day + Mid-autumn: rest Wed 10-01..Wed 10-08; make-up Sun 09-28, Sat 10-11.
- 2026 Spring Festival: rest Sun 02-15..Mon 02-23; make-up Sat 02-14, Sat 02-28.
- 2026 May Day: rest Fri 05-01..Tue 05-05; make-up Sat 05-09.
- 2026 National Day: rest Thu 10-01..Wed 10-07; make-up Sun 09-20, Sat 10-10.

The trigger day is day 0 and not counted. Nothing depends on today: every time is
explicit, and the module runs under freezegun at a date far from all of them. (Under
freezegun, tomllib makes FakeDate objects that msgspec refuses as dates, so the
calendar.toml written here quotes its dates, which the file format also allows.)
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest
from freezegun import freeze_time

from cluetool.config import Home
from cluetool.errors import CalendarError
from cluetool.api import assign, deadlines, record
from tests.test_handling_assign import CST, add_reports, audit, make_home, report, sql
from tests.test_handling_assign import backend  # noqa: F401 - autouse: both stores

pytestmark = pytest.mark.usefixtures("frozen")


@pytest.fixture
def frozen():
    with freeze_time("2031-07-15 12:00:00"):
        yield


def bj(y: int, m: int, d: int, hour: int = 10) -> datetime:
    return datetime(y, m, d, hour, 0, tzinfo=CST)


def filed_clue(tmp_path: Path, received: datetime, *, strict: bool = False, calendar: str | None = None
               ) -> tuple[Home, str]:
    """A gang clue held by the police, ready for ``filed``."""
    home = make_home(tmp_path)
    if calendar is not None:
        (home.rules_dir / "calendar.toml").write_text(calendar, encoding="utf-8")
    (sid,) = add_reports(home, [report(0, "gang_crime", region="110105", received_at=received)], imported_at=received)
    assign(home, sid, "bj.police", reason="routing", now=received, strict_calendar=strict)
    return home, sid


def due_of(home: Home, sid: str, rule: str) -> tuple[str, int]:
    (row,) = sql(home, "SELECT due_date, provisional FROM obligations WHERE submission_id = ? AND rule_id = ?"
                       " AND state <> 'cancelled'", (sid, rule))
    return row[0], row[1]


# --------------------------------------------------------------------------- time zone


def test_deadlines_trigger_late_utc_counts_from_beijing_date(tmp_path: Path) -> None:
    home = make_home(tmp_path)
    (home.rules_dir / "deadlines.toml").write_text(
        '[[deadline]]\nid = "reply_10"\nwhen = "received"\nwithin = { days = 10, unit = "calendar" }\n'
        'done_by = "contacted"\nsource = "test"\n', encoding="utf-8")
    received = datetime(2026, 1, 30, 18, 0, tzinfo=timezone.utc)  # already Sat 01-31 in Beijing
    (sid,) = add_reports(home, [report(0, received_at=received)], imported_at=received + timedelta(hours=1))
    # Beijing 01-31 + 10 = Tue 02-10 (counted from the UTC date it would be Mon 02-09).
    assert due_of(home, sid, "reply_10") == ("2026-02-10", 0)


# --------------------------------------------------------------------------- working days


@pytest.mark.parametrize(
    ("filed", "due"),
    [
        # Thu 02-12: Fri 13 (1), Sat 14 make-up (2), rest 15..23, Tue 24 (3), Wed 25 (4), Thu 26 (5).
        (bj(2026, 2, 12), "2026-02-26"),
        # Tue 2025-09-30: Thu 10-09 (1), Fri 10 (2), Sat 11 make-up (3), Mon 13 (4), Tue 14 (5).
        (bj(2025, 9, 30), "2025-10-14"),
        # Sun 2025-10-12 (a rest day): Mon 13 (1) .. Fri 17 (5); find_workday would say 10-20.
        (bj(2025, 10, 12), "2025-10-17"),
        # Wed 2026-09-30: Thu 10-08 (1), Fri 09 (2), Sat 10 make-up (3), Mon 12 (4), Tue 13 (5).
        (bj(2026, 9, 30), "2026-10-13"),
        # Thu 2026-04-30: Wed 05-06 (1), Thu 07 (2), Fri 08 (3), Sat 09 make-up (4), Mon 11 (5).
        (bj(2026, 4, 30), "2026-05-11"),
    ],
    ids=["spring-festival-2026", "national-day-2025", "rest-day-trigger", "national-day-2026", "may-day-2026"],
)
def test_deadlines_working_days_across_holidays(tmp_path: Path, filed: datetime, due: str) -> None:
    home, sid = filed_clue(tmp_path, filed - timedelta(days=3))
    record(home, sid, "filed", at=filed, now=filed + timedelta(hours=1))
    assert due_of(home, sid, "notify_discipline_after_filing") == (due, 0)


def test_deadlines_calendar_days_ending_on_holiday_move_to_next_workday(tmp_path: Path) -> None:
    home = make_home(tmp_path)
    received = bj(2026, 1, 10)
    (sid,) = add_reports(home, [report(0, received_at=received)], imported_at=received)
    # Assigned Fri 2026-01-16: + 30 days = Sun 02-15, first rest day of Spring Festival;
    # the next working day is Tue 02-24.
    assign(home, sid, "bj.ago", reason="routing", now=bj(2026, 1, 16))
    assert due_of(home, sid, "contact_reporter") == ("2026-02-24", 0)


# --------------------------------------------------------------------------- states


def test_deadlines_states_as_of_dates(tmp_path: Path) -> None:
    home = make_home(tmp_path)
    received = bj(2026, 3, 2, 9)
    a, b, c = add_reports(home, [report(i, received_at=received) for i in range(3)], imported_at=received)
    for sid in (a, b, c):
        assign(home, sid, "bj.ago", reason="routing", now=bj(2026, 3, 2))
    # transfer_gang_to_police due Mon 03-09 for all three.
    record(home, a, "transferred", to="bj.police", at=bj(2026, 3, 6), now=bj(2026, 3, 20))
    record(home, b, "transferred", to="bj.police", at=bj(2026, 3, 11), now=bj(2026, 3, 20))
    now = bj(2026, 3, 20)

    def state_of(as_of: date, sid: str, **kw: object) -> str:
        rep = deadlines(home, now=now, as_of=as_of, rule="transfer_gang_to_police",
                        states=("open", "due_soon", "overdue", "met", "met_late"), **kw)  # type: ignore[arg-type]
        return {o.clue: o.state for o in rep.obligations}[sid]

    assert state_of(date(2026, 3, 20), a) == "met"
    assert state_of(date(2026, 3, 20), b) == "met_late"
    assert state_of(date(2026, 3, 5), c) == "open"
    assert state_of(date(2026, 3, 7), c) == "due_soon"
    assert state_of(date(2026, 3, 9), c) == "due_soon"  # the due day itself is in time
    assert state_of(date(2026, 3, 10), c) == "overdue"
    assert state_of(date(2026, 3, 5), c, soon_days=4) == "due_soon"

    rep = deadlines(home, now=now, as_of=date(2026, 3, 10), fail_on="overdue", unit="bj.ago")
    # Only c's transfer is overdue; everyone's contact duty (due 04-01) is still open.
    assert rep.failed and rep.counts == {"overdue": 1, "due_soon": 0, "open": 3}
    assert [(o.clue, o.rule) for o in rep.obligations if o.state == "overdue"] == [(c, "transfer_gang_to_police")]
    assert not deadlines(home, now=now, as_of=date(2026, 3, 9), fail_on="overdue").failed


def test_deadlines_fail_on_due_soon_and_filters(tmp_path: Path) -> None:
    home = make_home(tmp_path)
    received = bj(2026, 3, 2, 9)
    (sid,) = add_reports(home, [report(0, umbrella="no", received_at=received)], imported_at=received)
    assign(home, sid, "bj.ago", reason="routing", now=bj(2026, 3, 2))
    now = bj(2026, 3, 20)
    quiet = deadlines(home, now=now, as_of=date(2026, 3, 3), fail_on="due_soon")
    assert not quiet.failed and quiet.counts == {"overdue": 0, "due_soon": 0, "open": 2}
    soon = deadlines(home, now=now, as_of=date(2026, 3, 8), fail_on="due_soon")
    assert soon.failed and [o.rule for o in soon.obligations if o.state == "due_soon"] == ["transfer_gang_to_police"]
    only = deadlines(home, now=now, as_of=date(2026, 3, 8), rule="contact_reporter")
    assert [(o.rule, o.due, o.state) for o in only.obligations] == [("contact_reporter", "2026-04-01", "open")]
    assert deadlines(home, now=now, as_of=date(2026, 3, 8), unit="bj.police").obligations == []
    # as_of defaults to today's Beijing date at ``now``.
    assert deadlines(home, now=datetime(2026, 3, 9, 17, 0, tzinfo=timezone.utc)).as_of == "2026-03-10"


# --------------------------------------------------------------------------- rule changes


def test_deadlines_rule_change_recomputes_open_keeps_met(tmp_path: Path) -> None:
    home = make_home(tmp_path)
    received = bj(2026, 3, 2, 9)
    a, b = add_reports(home, [report(i, received_at=received) for i in range(2)], imported_at=received)
    for sid in (a, b):
        assign(home, sid, "bj.ago", reason="routing", now=bj(2026, 3, 2))
    record(home, a, "transferred", to="bj.police", at=bj(2026, 3, 6), now=bj(2026, 3, 6, 12))
    path = home.rules_dir / "deadlines.toml"
    text = path.read_text(encoding="utf-8")
    start = text.index('id = "transfer_gang_to_police"')
    path.write_text(text[:start] + text[start:].replace("days = 5", "days = 3", 1), encoding="utf-8")
    now = bj(2026, 3, 7)
    rep = deadlines(home, now=now, as_of=date(2026, 3, 7), rule="transfer_gang_to_police",
                    states=("open", "due_soon", "overdue", "met"))
    # Local variant: 3 working days from Mon 03-02 -> Thu 03-05; a stays met (judged
    # under the old rule), b is now overdue.
    assert {o.clue: (o.due, o.state) for o in rep.obligations} == {a: ("2026-03-09", "met"), b: ("2026-03-05", "overdue")}
    changes = [e for e in audit(home) if e["action"] == "rules.changed"]
    assert len(changes) == 2 and changes[-1]["details"]["old"] == changes[0]["details"]["new"]
    assert changes[-1]["details"]["recomputed"] == 1
    # A second run finds nothing changed: no new entry.
    deadlines(home, now=now)
    assert [e["action"] for e in audit(home)].count("rules.changed") == 2


def test_deadlines_removed_rule_cancels_open_obligations(tmp_path: Path) -> None:
    home = make_home(tmp_path)
    received = bj(2026, 3, 2, 9)
    (sid,) = add_reports(home, [report(0, received_at=received)], imported_at=received)
    assign(home, sid, "bj.ago", reason="routing", now=bj(2026, 3, 2))
    path = home.rules_dir / "deadlines.toml"
    text = path.read_text(encoding="utf-8")
    start = text.index('[[deadline]]\nid = "contact_reporter"')
    end = text.index("[[deadline]]", start + 5)
    path.write_text(text[:start] + text[end:], encoding="utf-8")
    deadlines(home, now=bj(2026, 3, 3))
    assert sql(home, "SELECT state FROM obligations WHERE rule_id = 'contact_reporter'") == [("cancelled",)]


# --------------------------------------------------------------------------- unknown years


def test_deadlines_unknown_year_at_import_is_provisional_not_blocking(tmp_path: Path) -> None:
    home = make_home(tmp_path)
    received = bj(2027, 1, 4)
    (sid,) = add_reports(home, [report(0, received_at=received)], imported_at=bj(2027, 1, 5))
    # Mon-Fri assumed: Tue 2027-01-05 + 5 weekdays -> Tue 01-12, provisional.
    assert due_of(home, sid, "assign_imported") == ("2027-01-12", 1)
    rep = deadlines(home, now=bj(2027, 1, 6), as_of=date(2027, 1, 6))
    assert [(o.rule, o.flag, o.provisional) for o in rep.obligations] == [("assign_imported", "PROVISIONAL", True)]
    assert rep.provisional == 1


def test_deadlines_unknown_year_event_provisional_or_exits_4_when_strict(tmp_path: Path) -> None:
    home, sid = filed_clue(tmp_path, bj(2027, 2, 22))
    filed_at, now = bj(2027, 3, 1), bj(2027, 3, 1, 12)
    with pytest.raises(CalendarError, match="working-day calendar for 2027 is unknown") as info:
        record(home, sid, "filed", at=filed_at, now=now, strict_calendar=True)
    assert info.value.exit_code == 4
    assert sql(home, "SELECT count(*) FROM events WHERE event = 'filed'") == [(0,)]
    # By default: Mon 03-01 + 5 weekdays -> Mon 03-08, provisional, waiting for 2027.
    done = record(home, sid, "filed", at=filed_at, now=now)
    assert [(c.rule, c.due, c.provisional, c.unknown_years) for c in done.created] == [
        ("notify_discipline_after_filing", "2027-03-08", True, [2027])]
    rep = deadlines(home, now=now, rule="notify_discipline_after_filing")
    assert [(o.flag, o.unknown_years) for o in rep.obligations] == [("PROVISIONAL", [2027])]
    with pytest.raises(CalendarError, match="2027") as info:
        deadlines(home, now=now, rule="notify_discipline_after_filing", strict_calendar=True)
    assert info.value.exit_code == 4
    # The operator enters 2027's schedule (test data, not the real one): Wed 03-03 off.
    (home.rules_dir / "calendar.toml").write_text(
        '[[year]]\nyear = 2027\nsource = "test schedule"\nholidays = ["2027-01-01", "2027-03-03"]\n', encoding="utf-8")
    rep = deadlines(home, now=now, rule="notify_discipline_after_filing")
    assert [(o.due, o.flag) for o in rep.obligations] == [("2027-03-09", "")]
    assert audit(home)[-1]["action"] == "rules.changed"


def test_deadlines_override_file_gives_unknown_year(tmp_path: Path) -> None:
    home, sid = filed_clue(tmp_path, bj(2027, 2, 22), calendar=(
        '[[year]]\nyear = 2027\nsource = "test schedule"\nholidays = ["2027-03-02"]\nworkdays = ["2027-03-06"]\n'))
    record(home, sid, "filed", at=bj(2027, 3, 1), now=bj(2027, 3, 1, 12))
    # Mon 03-01: Tue 02 off, Wed 03 (1), Thu 04 (2), Fri 05 (3), Sat 06 make-up (4), Mon 08 (5).
    assert due_of(home, sid, "notify_discipline_after_filing") == ("2027-03-08", 0)


def test_deadlines_rule_change_into_unknown_year_provisional_or_exits_4_when_strict(tmp_path: Path) -> None:
    home, sid = filed_clue(tmp_path, bj(2026, 11, 20))
    record(home, sid, "filed", at=bj(2026, 12, 1), now=bj(2026, 12, 1, 12))
    assert due_of(home, sid, "notify_discipline_after_filing") == ("2026-12-08", 0)
    path = home.rules_dir / "deadlines.toml"
    text = path.read_text(encoding="utf-8")
    start = text.index('id = "notify_discipline_after_filing"')
    path.write_text(text[:start] + text[start:].replace("days = 5", "days = 40", 1), encoding="utf-8")
    with pytest.raises(CalendarError, match="2027"):
        deadlines(home, now=bj(2026, 12, 2), strict_calendar=True)
    assert due_of(home, sid, "notify_discipline_after_filing") == ("2026-12-08", 0)
    deadlines(home, now=bj(2026, 12, 2))
    due, provisional = due_of(home, sid, "notify_discipline_after_filing")
    # 40 working days from Tue 2026-12-01: 22 in December 2026 (Wed 02 .. Thu 31), then
    # 2027 counted Mon-Fri (New Year's Day unknown, so a weekday): Fri 01-01 (23),
    # 04-08 (28), 11-15 (33), 18-22 (38), Mon 25 (39), Tue 26 (40) -> Tue 01-26.
    assert (due, provisional) == ("2027-01-26", 1)
