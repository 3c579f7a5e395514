"""``record CLUE EVENT``: accepted events and what they do (stage, obligations met and
started, duplicates, audit), every refused sequence, and the transfer ledger (cluetool/data/rules/).
Every time is explicit."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest

from cluetool.config import Home
from cluetool.errors import InputError
from cluetool.api import assign, ledger, record
from cluetool.keys.audit_secret import keyed_text, load_audit_secret
from tests.test_handling_assign import CST, add_reports, audit, make_home, report, sql
from tests.test_handling_assign import backend  # noqa: F401 - autouse: both stores

RECEIVED = datetime(2026, 3, 2, 9, 0, tzinfo=CST)  # Mon
ASSIGNED = datetime(2026, 3, 2, 10, 0, tzinfo=CST)


def at(day: int, hour: int = 10) -> datetime:
    """A time in March 2026, Beijing."""
    return datetime(2026, 3, day, hour, 0, tzinfo=CST)


NOW = at(31)


def gang_clue(tmp_path: Path, **spec: object) -> tuple[Home, str]:
    home = make_home(tmp_path)
    (sid,) = add_reports(home, [report(0, "gang_crime", region="110105", received_at=RECEIVED, **spec)],  # type: ignore[arg-type]
                         imported_at=RECEIVED)
    assign(home, sid, "bj.ago", reason="routing", now=ASSIGNED)
    return home, sid


def states(home: Home, sid: str) -> dict[str, str]:
    return dict(sql(home, "SELECT rule_id, state FROM obligations WHERE submission_id = ? AND state <> 'cancelled'", (sid,)))


# --------------------------------------------------------------------------- accepted


def test_record_transfer_meets_duty_and_moves_clue(tmp_path: Path) -> None:
    home, sid = gang_clue(tmp_path)
    # Assigned Mon 03-02: transfer to police due Mon 03-09; done Fri 03-06.
    done = record(home, sid[:8], "transferred", to="bj.police", at=at(6), now=NOW, note="handed over in person")
    assert done.unit == "bj.ago" and done.to_unit == "bj.police" and done.stage == "assigned"
    assert [(m.rule, m.due, m.state) for m in done.met] == [("transfer_gang_to_police", "2026-03-09", "met")]
    assert sql(home, "SELECT unit FROM assignments") == [("bj.police",)]
    entry = [e for e in audit(home) if e["action"] == "event.record"][-1]
    assert entry["details"]["note_hmac_sha256"] == keyed_text(load_audit_secret(home), "handed over in person")
    assert "note_sha256" not in entry["details"]
    assert "handed over" not in json.dumps(audit(home), ensure_ascii=False)


def test_record_late_transfer_is_met_late(tmp_path: Path) -> None:
    home, sid = gang_clue(tmp_path)
    done = record(home, sid, "transferred", to="bj.police", at=at(10), now=NOW)
    assert [(m.rule, m.state) for m in done.met] == [("transfer_gang_to_police", "met_late")]


def test_record_transfer_to_wrong_type_does_not_meet_duty(tmp_path: Path) -> None:
    home, sid = gang_clue(tmp_path)
    done = record(home, sid, "transferred", to="bj.procuratorate", at=at(3), now=NOW)
    assert done.met == [] and states(home, sid)["transfer_gang_to_police"] == "open"


def test_record_filed_starts_notify_duty_met_by_notified(tmp_path: Path) -> None:
    home, sid = gang_clue(tmp_path)
    record(home, sid, "transferred", to="bj.police", at=at(3), now=NOW)
    filed = record(home, sid, "filed", at=at(5), now=NOW)
    # Filed Thu 03-05 by the police: notify discipline within 5 working days -> Thu 03-12.
    assert [(c.rule, c.due, c.unit) for c in filed.created] == [("notify_discipline_after_filing", "2026-03-12", "bj.police")]
    notified = record(home, sid, "notified", to="bj.discipline", at=at(12, 17), now=NOW)
    assert [(m.rule, m.state) for m in notified.met] == [("notify_discipline_after_filing", "met")]


def test_record_contacted_meets_contact_duty(tmp_path: Path) -> None:
    home, sid = gang_clue(tmp_path)
    done = record(home, sid, "contacted", channel="sms", at=at(20), now=NOW)
    assert [(m.rule, m.due, m.state) for m in done.met] == [("contact_reporter", "2026-04-01", "met")]


def test_record_verify_two_reviews_then_close(tmp_path: Path) -> None:
    home, sid = gang_clue(tmp_path)
    v = record(home, sid, "verified", at=at(16), now=NOW)
    assert v.stage == "under_verification"
    # Verified Mon 03-16: 15 working days, skipping Qingming (rest Sat 04-04..Mon 04-06) -> Tue 04-07.
    assert [(c.rule, c.due) for c in v.created] == [("double_review", "2026-04-07")]
    r1 = record(home, sid, "reviewed", unit="bj.ago", at=at(17), now=NOW)
    assert r1.met == []
    r2 = record(home, sid, "reviewed", unit="bj.discipline", at=at(18), now=NOW)
    assert [(m.rule, m.state) for m in r2.met] == [("double_review", "met")]
    closed = record(home, sid, "closed", at=at(19), now=NOW)
    assert closed.stage == "closed"
    fb = record(home, sid, "feedback", at=at(20), now=NOW, note="told the reporter")
    assert fb.stage == "closed"
    assert [e for e, in sql(home, "SELECT event FROM events ORDER BY at, id")] == [
        "assigned", "verified", "reviewed", "reviewed", "closed", "feedback"]


def test_record_duplicate_confirms_link_and_allows_close(tmp_path: Path) -> None:
    home = make_home(tmp_path)
    first, second = add_reports(home, [report(0, received_at=RECEIVED), report(1, received_at=RECEIVED)],
                                imported_at=RECEIVED)
    dup = record(home, second, "duplicate", of=first[:8], at=at(3), now=NOW)
    assert dup.of == first
    assert sql(home, "SELECT submission_id, duplicate_of, state FROM duplicates") == [(second, first, "confirmed")]
    assert record(home, second, "closed", at=at(4), now=NOW).stage == "closed"


# --------------------------------------------------------------------------- refused


def _refused(home: Home, sid: str, event: str, match: str, **kw: object) -> None:
    before = sql(home, "SELECT count(*) FROM events")
    audit_before = len(audit(home))
    with pytest.raises(InputError, match=match) as info:
        record(home, sid, event, now=NOW, **kw)  # type: ignore[arg-type]
    assert "\n" not in info.value.message
    assert sql(home, "SELECT count(*) FROM events") == before
    assert len(audit(home)) == audit_before


def test_record_close_without_reviews_is_refused(tmp_path: Path) -> None:
    home, sid = gang_clue(tmp_path)
    record(home, sid, "verified", at=at(16), now=NOW)
    _refused(home, sid, "closed", r"rule double_review needs 2 reviewed events by distinct units first", at=at(17))


def test_record_close_with_one_review_is_refused(tmp_path: Path) -> None:
    home, sid = gang_clue(tmp_path)
    record(home, sid, "verified", at=at(16), now=NOW)
    record(home, sid, "reviewed", unit="bj.ago", at=at(17), now=NOW)
    _refused(home, sid, "closed", "needs 2 reviewed events", at=at(18))


def test_record_close_with_two_reviews_by_same_unit_is_refused(tmp_path: Path) -> None:
    home, sid = gang_clue(tmp_path)
    record(home, sid, "verified", at=at(16), now=NOW)
    record(home, sid, "reviewed", unit="bj.ago", at=at(17), now=NOW)
    record(home, sid, "reviewed", unit="bj.ago", at=at(18), now=NOW)
    _refused(home, sid, "closed", "by distinct units", at=at(19))


def test_record_close_before_second_review_time_is_refused(tmp_path: Path) -> None:
    home, sid = gang_clue(tmp_path)
    record(home, sid, "verified", at=at(16), now=NOW)
    record(home, sid, "reviewed", unit="bj.ago", at=at(17), now=NOW)
    record(home, sid, "reviewed", unit="bj.discipline", at=at(19), now=NOW)
    _refused(home, sid, "closed", "needs 2 reviewed", at=at(18))


def test_record_notified_before_filed_is_refused(tmp_path: Path) -> None:
    home, sid = gang_clue(tmp_path)
    _refused(home, sid, "notified", r"cannot record notified on clue .*: no filed event at or before", to="bj.discipline",
             at=at(4))
    record(home, sid, "filed", at=at(6), now=NOW)
    _refused(home, sid, "notified", "no filed event", to="bj.discipline", at=at(5))


@pytest.mark.parametrize("event", ["accepted", "contacted", "transferred", "filed", "verified", "reviewed", "closed",
                                   "duplicate"])
def test_record_event_on_closed_clue_is_refused(tmp_path: Path, event: str) -> None:
    home = make_home(tmp_path)
    first, sid = add_reports(home, [report(0, received_at=RECEIVED), report(1, received_at=RECEIVED)],
                             imported_at=RECEIVED)
    assign(home, sid, "bj.ago", reason="routing", now=ASSIGNED)
    record(home, sid, "duplicate", of=first, at=at(3), now=NOW)
    record(home, sid, "closed", at=at(4), now=NOW)
    opts = {"contacted": {"channel": "phone"}, "transferred": {"to": "bj.police"}, "reviewed": {"unit": "bj.ago"},
            "duplicate": {"of": first}}.get(event, {})
    _refused(home, sid, event, "the clue is closed; only feedback may follow", at=at(5), **opts)


@pytest.mark.parametrize(
    ("event", "kw", "match"),
    [
        ("transferred", {"to": "bj.ago"}, "already with bj.ago"),
        ("transferred", {"to": "bj.police", "unit": "bj.discipline"}, "held by bj.ago, not bj.discipline"),
        ("contacted", {"channel": "phone", "at": at(1)}, "before the report was received"),
        ("contacted", {"channel": "phone", "at": at(31, 23)}, "in the future"),
        ("contacted", {}, "contacted needs --channel"),
        ("contacted", {"channel": "fax"}, '"fax" is not one of phone, sms, in_person'),
        ("reviewed", {}, "reviewed needs --unit"),
        ("transferred", {}, "transferred needs --to"),
        ("filed", {"to": "bj.police"}, "--to does not apply to filed"),
        ("transferred", {"to": "xx.nowhere"}, 'unknown unit "xx.nowhere"'),
        ("escalated", {}, 'unknown event "escalated"'),
    ],
    ids=["transfer-to-holder", "transfer-not-holder", "before-receipt", "future", "no-channel", "bad-channel",
         "review-no-unit", "transfer-no-to", "extra-option", "unknown-unit", "unknown-event"],
)
def test_record_bad_request_is_refused(tmp_path: Path, event: str, kw: dict[str, object], match: str) -> None:
    home, sid = gang_clue(tmp_path)
    _refused(home, sid, event, match, **kw)


def test_record_transfer_on_unassigned_clue_is_refused(tmp_path: Path) -> None:
    home = make_home(tmp_path)
    (sid,) = add_reports(home, [report(0, received_at=RECEIVED)], imported_at=RECEIVED)
    _refused(home, sid, "transferred", "not assigned to any unit yet", to="bj.police", at=at(3))


def test_record_duplicate_of_itself_is_refused(tmp_path: Path) -> None:
    home, sid = gang_clue(tmp_path)
    _refused(home, sid, "duplicate", "cannot duplicate itself", of=sid, at=at(3))


# --------------------------------------------------------------------------- ledger


def test_ledger_both_ends_of_transfers(tmp_path: Path) -> None:
    home = make_home(tmp_path)
    a, b = add_reports(home, [report(0, received_at=RECEIVED), report(1, received_at=RECEIVED)], imported_at=RECEIVED)
    assign(home, a, "bj.ago", reason="routing", now=ASSIGNED)
    assign(home, b, "bj.ago", reason="routing", now=ASSIGNED)
    record(home, a, "transferred", to="bj.police", at=at(3), now=NOW)
    record(home, b, "transferred", to="bj.discipline", at=at(5), now=NOW)
    record(home, a, "transferred", to="bj.ago", at=at(9), now=NOW)

    out = ledger(home, unit="bj.ago", direction="out")
    assert [(e.clue, e.from_unit, e.to_unit, e.direction) for e in out.entries] == [
        (a, "bj.ago", "bj.police", "out"), (b, "bj.ago", "bj.discipline", "out")]
    into = ledger(home, unit="bj.police", direction="in")
    assert [(e.clue, e.event, e.from_unit, e.to_unit) for e in into.entries] == [(a, "transferred", "bj.ago", "bj.police")]
    # The same hand-over, seen from the other end, is the same event.
    assert into.entries[0].event_id == out.entries[0].event_id
    both = ledger(home, unit="bj.ago")
    assert [(e.event, e.direction) for e in both.entries] == [
        ("assigned", "in"), ("assigned", "in"), ("transferred", "out"), ("transferred", "out"), ("transferred", "in")]
    window = ledger(home, unit="bj.ago", date_from=date(2026, 3, 3), date_to=date(2026, 3, 5))
    assert [e.to_unit for e in window.entries] == ["bj.police", "bj.discipline"]
    assert len(ledger(home).entries) == 5


def test_ledger_dates_are_local(tmp_path: Path) -> None:
    home = make_home(tmp_path)
    (a,) = add_reports(home, [report(0, received_at=RECEIVED)], imported_at=RECEIVED)
    assign(home, a, "bj.ago", reason="routing", now=ASSIGNED)
    # 2026-03-03T17:00Z is 03-04 01:00 in Beijing.
    record(home, a, "transferred", to="bj.police", at=datetime(2026, 3, 3, 17, 0, tzinfo=timezone.utc), now=NOW)
    assert ledger(home, unit="bj.police", date_from=date(2026, 3, 3), date_to=date(2026, 3, 3)).entries == []
    assert len(ledger(home, unit="bj.police", date_from=date(2026, 3, 4), date_to=date(2026, 3, 4)).entries) == 1


@pytest.mark.parametrize(
    ("kw", "match"),
    [({"direction": "in"}, "--direction needs --unit"), ({"unit": "bj.ago", "direction": "up"}, "not in or out"),
     ({"unit": "no.unit"}, 'unknown unit "no.unit"'),
     ({"date_from": date(2026, 3, 5), "date_to": date(2026, 3, 4)}, "is after")],
    ids=["direction-alone", "bad-direction", "unknown-unit", "reversed-dates"],
)
def test_ledger_bad_options_are_refused(tmp_path: Path, kw: dict[str, object], match: str) -> None:
    home = make_home(tmp_path)
    with pytest.raises(InputError, match=match):
        ledger(home, **kw)  # type: ignore[arg-type]


def test_record_stage_is_public_stage_only_forward(tmp_path: Path) -> None:
    home, sid = gang_clue(tmp_path)
    record(home, sid, "verified", at=at(16), now=NOW)
    assign(home, sid, "bj.police", reason="moved", now=at(17))
    assert sql(home, "SELECT stage FROM report_stages") == [("under_verification",)]
    assert timedelta(0) < NOW - at(17)
