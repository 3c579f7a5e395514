"""``assign``: routing by each rule dimension, no match, dry run, assignment by hand and
reassignment, malformed rule files, audit entries (cluetool/data/rules/, docs/audit.md).

Stores are built by inserting realistic reports (the sample generator's
``valid_submission``, with the fields under test overridden) through
``cluetool.store.queries`` and the import's obligation step, so no batch is sealed.
The helpers here (``make_home``, ``report``, ``add_reports``) are shared by the other
handling tests. Every time is explicit; nothing depends on today.
"""

from __future__ import annotations

import hashlib
import json
import random
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import msgspec
import pytest

from cluetool.config import Home, init_home
from cluetool.errors import InputError, StateError
from cluetool.handling.obligations import materialise_import_obligations
from cluetool.api import assign
from cluetool.keys.audit_secret import keyed_text, load_audit_secret
from cluetool.model import codes
from cluetool.model.report import decode_report
from cluetool.model.store import ReportRow
from cluetool.rules.from_report import facts_from_json, facts_from_report
from cluetool.home import create_store, open_store
from cluetool.store import iter_entries
from cluetool.store import handling as sh
from cluetool.store import queries as q
from samples.make_samples import valid_submission

CST = timezone(timedelta(hours=8))
NOW = datetime(2026, 11, 24, 2, 0, tzinfo=timezone.utc)
RECEIVED = datetime(2026, 11, 2, 10, 0, tzinfo=CST)
KINDS = ("police_misconduct", "gang_crime", "industry_disorder")

# --------------------------------------------------------------------------- helpers


# The store the handling tests' homes get: both backends (issue 22), set per test by
# the ``backend`` fixture (autouse here and in the modules that import it).
_STORE: dict[str, Any] = {"new": None}


@pytest.fixture(autouse=True, params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest) -> Any:
    _STORE["new"] = request.getfixturevalue("pg_databases") if request.param == "postgresql" else None
    yield request.param
    _STORE["new"] = None


def make_home(tmp_path: Path) -> Home:
    """An initialised home (shipped rules copied in) with an empty store, in SQLite or
    PostgreSQL (the ``backend`` fixture)."""
    home = init_home(tmp_path / "home", store=_STORE["new"]() if _STORE["new"] else None)
    create_store(home, now=NOW).close()
    return home


def report(
    n: int,
    kind: str = "gang_crime",
    *,
    region: str = "110105",
    received_at: datetime = RECEIVED,
    umbrella: str = "no",
    contact: bool = True,
    submission_id: str | None = None,
    targets: list[str] | None = None,
    industry: str | None = None,
    organ_type: str | None = None,
) -> dict[str, Any]:
    """A sample report of ``kind`` with the fields the rules look at set as given."""
    # valid_submission picks the kind by index % 3 and the reporter variant by
    # (index // 3) % 6: variant 0 is a real-name individual, 3 an anonymous one without
    # contact details.
    index = KINDS.index(kind) + 3 * (0 if contact else 3) + 18 * n
    rep, _, _ = valid_submission(random.Random(1000 + n), index, attachments=0)
    assert rep["kind"] == kind
    rep["received_at"] = received_at.isoformat()
    rep["declaration"]["at"] = (received_at - timedelta(minutes=5)).isoformat()
    rep["facts"]["region"] = region
    if submission_id is not None:
        rep["submission_id"] = submission_id
    if umbrella == "yes":
        behaviour = next(c for c in codes.UMBRELLA_BEHAVIOURS if c != "UNK")
        rep["umbrella"] = {"status": "yes", "records": [
            {"name": "某某", "unit_type": "ORG_PSB", "rank": "unknown", "behaviours": [behaviour]}]}
    else:
        rep["umbrella"] = {"status": umbrella, "records": []}
    if kind == "gang_crime":
        # The sample's random targets could include T10, which has a route of its own.
        rep["facts"]["targets"] = targets if targets is not None else ["T01"]
    if industry is not None:
        if kind == "gang_crime":
            rep["facts"]["industries"] = [industry]
        else:
            rep["facts"]["industry"] = industry
            rep["facts"]["secondary_industries"] = []
            rep["facts"]["problems"] = [next(c for c in codes.INDUSTRY_PROBLEMS if c.startswith(industry))]
    if organ_type is not None:
        for s in rep["subjects"]:
            s["organ_type"] = organ_type
    return rep


def add_reports(home: Home, reports: list[dict[str, Any]], *, imported_at: datetime = NOW,
                store_facts: bool = False) -> list[str]:
    """Store ``reports`` as one imported batch, with the import's obligations; with
    ``store_facts`` their rule facts too, as ``import`` stores them (else they are left
    NULL, as in rows migrated from schema v1)."""
    rows = []
    for rep in reports:
        raw = json.dumps(rep, ensure_ascii=False).encode("utf-8")
        facts = facts_from_json(raw)
        rows.append(ReportRow(
            submission_id=facts.submission_id, kind=facts.kind,  # type: ignore[arg-type]
            received_at=facts.received_at, report_sha256=hashlib.sha256(raw).hexdigest(),
            query_code_sha256=rep["query_code_sha256"], region=facts.region,
            reporter_has_contact=facts.has_contact, real_name=facts.real_name, report_json=raw,
            facts=msgspec.json.encode(facts) if store_facts else None,
        ))
    with open_store(home) as store, store.write() as tx:
        state = q.get_source_state(tx, "intake-bj")
        seq = 1 if state is None else state.last_sequence + 1
        manifest = hashlib.sha256(f"manifest-{seq}".encode()).hexdigest()
        batch = q.insert_batch(tx, source="intake-bj", sequence=seq, manifest_sha256=manifest,
                               previous_sha256="0" * 64, payload_sha256="1" * 64, signer="0123456789abcdef",
                               created_at="2026-11-24T02:00:00Z", imported_at=imported_at, reports=len(rows),
                               attachments=0)
        q.insert_reports(tx, batch_id=batch.id, imported_at=imported_at, reports=rows)
        materialise_import_obligations(tx, rows, home=home, imported_at=imported_at)
        q.set_source_state(tx, source="intake-bj", last_sequence=seq, last_manifest_sha256=manifest,
                           updated_at=imported_at)
    return [r.submission_id for r in rows]


def sql(home: Home, statement: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    with open_store(home) as store:
        return store.execute(statement, params).fetchall()


def audit(home: Home) -> list[dict[str, Any]]:
    with open_store(home) as store:
        return [msgspec.structs.asdict(e.record()) for e in iter_entries(store)]


# --------------------------------------------------------------------------- facts


def test_facts_from_json_all_samples_agree_with_decoded_report() -> None:
    for i in range(60):
        rep, _, _ = valid_submission(random.Random(i), i, attachments=0)
        raw = json.dumps(rep, ensure_ascii=False).encode("utf-8")
        assert facts_from_json(raw) == facts_from_report(decode_report(raw)), rep["submission_id"]


def test_facts_from_json_full_width_region_is_normalised() -> None:
    rep = report(0, region="110105")
    rep["facts"]["region"] = "１１０１０５"
    raw = json.dumps(rep, ensure_ascii=False).encode("utf-8")
    assert facts_from_json(raw).region == "110105"


# --------------------------------------------------------------------------- by the rules


@pytest.mark.parametrize(
    ("spec", "unit", "rule"),
    [
        (dict(kind="police_misconduct", region="110105"), "bj.discipline", "bj.police_misconduct"),
        (dict(kind="gang_crime", region="310101"), "sh.ago", "sh.gang_crime"),
        (dict(kind="industry_disorder", region="420102"), "hb.ago", "hb.industry_disorder"),
        (dict(kind="gang_crime", region="510104", targets=["T10"]), "cn.police", "cn.transnational"),
        (dict(kind="police_misconduct", region="110105", organ_type="ORG_JUST"), "bj.procuratorate",
         "bj.prison_misconduct"),
        (dict(kind="industry_disorder", region="330106", industry="IND01"), "zj.cac", "zj.information_networks"),
        (dict(kind="industry_disorder", region="330106", industry="IND02"), "zj.ago", "zj.industry_disorder"),
        (dict(kind="gang_crime", region="440103", umbrella="no"), "gd.police", "gd.gang_crime_no_umbrella"),
        (dict(kind="gang_crime", region="440103", umbrella="yes"), "gd.ago", "gd.gang_crime"),
        (dict(kind="gang_crime", region="530102"), "cn.ago", "cn.catch_all"),
    ],
    ids=["kind-region-pm", "kind-region-gang", "kind-region-industry", "target", "organ-type", "industry",
         "industry-other", "umbrella-no", "umbrella-yes", "catch-all"],
)
def test_assign_rule_dimension_routes_to_unit(tmp_path: Path, spec: dict[str, Any], unit: str, rule: str) -> None:
    home = make_home(tmp_path)
    (sid,) = add_reports(home, [report(0, **spec)])
    rep = assign(home, now=NOW)
    assert rep.ok and rep.assigned == 1 and rep.unmatched == 0
    (res,) = rep.results
    assert (res.clue, res.status, res.unit, res.rule) == (sid, "assigned", unit, rule)
    assert sql(home, "SELECT unit, rule_id FROM assignments WHERE submission_id = ?", (sid,)) == [(unit, rule)]
    assert sql(home, "SELECT s.stage FROM reports r JOIN report_stages s ON s.report_id = r.id WHERE r.submission_id = ?", (sid,)) == [("assigned",)]
    assert sql(home, "SELECT event, unit, to_unit FROM events WHERE submission_id = ?", (sid,)) == [
        ("assigned", None, unit)]


def test_assign_meets_assign_imported_and_starts_assigned_duties(tmp_path: Path) -> None:
    home = make_home(tmp_path)
    imported = datetime(2026, 3, 2, 1, 0, tzinfo=timezone.utc)  # Mon 2026-03-02 09:00 Beijing
    (sid,) = add_reports(home, [report(0, "gang_crime", region="110105", umbrella="yes",
                                       received_at=datetime(2026, 3, 1, 9, 0, tzinfo=CST))], imported_at=imported)
    # Imported Mon 03-02: 5 working days -> Mon 03-09 (Tue 3, Wed 4, Thu 5, Fri 6, Mon 9).
    assert sql(home, "SELECT rule_id, due_date, state FROM obligations") == [("assign_imported", "2026-03-09", "open")]
    late = datetime(2026, 3, 10, 2, 0, tzinfo=timezone.utc)  # Tue 03-10 in Beijing: one day late
    assign(home, now=late)
    rows = sql(home, "SELECT rule_id, unit, due_date, state FROM obligations ORDER BY id")
    # Assigned Tue 03-10 to bj.ago (anti-gang office): contact within 30 calendar days ->
    # Thu 04-09; transfers to police and discipline within 5 working days -> Tue 03-17.
    assert rows == [
        ("assign_imported", None, "2026-03-09", "met_late"),
        ("contact_reporter", "bj.ago", "2026-04-09", "open"),
        ("transfer_gang_to_police", "bj.ago", "2026-03-17", "open"),
        ("transfer_umbrella_to_discipline", "bj.ago", "2026-03-17", "open"),
    ]
    assert sql(home, "SELECT count(*) FROM assignments WHERE submission_id = ?", (sid,)) == [(1,)]


def test_assign_no_contact_and_police_holder_skip_duties(tmp_path: Path) -> None:
    home = make_home(tmp_path)
    # A Guangdong gang clue without umbrella goes straight to gd.police: the transfer to
    # police is not owed by the police, and an anonymous reporter without contact
    # details is not contacted.
    add_reports(home, [report(0, "gang_crime", region="440103", umbrella="no", contact=False)])
    assign(home, now=NOW)
    assert sql(home, "SELECT rule_id FROM obligations WHERE state = 'open'") == []


def _no_catch_all(home: Home) -> None:
    path = home.rules_dir / "assignment.toml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text[: text.index("[[rule]]\nid = \"cn.catch_all\"")], encoding="utf-8")


def test_assign_unmatched_clue_is_listed_and_stays_unassigned(tmp_path: Path) -> None:
    home = make_home(tmp_path)
    _no_catch_all(home)
    matched, unmatched = add_reports(home, [report(0, "gang_crime", region="110105"),
                                             report(1, "gang_crime", region="530102")])
    rep = assign(home, now=NOW)
    assert not rep.ok and (rep.assigned, rep.unmatched) == (1, 1)
    assert [(r.clue, r.status, r.unit) for r in rep.results] == [(unmatched, "unmatched", None),
                                                                  (matched, "assigned", "bj.ago")]
    assert sql(home, "SELECT submission_id FROM assignments") == [(matched,)]
    assert sql(home, "SELECT s.stage FROM reports r JOIN report_stages s ON s.report_id = r.id WHERE r.submission_id = ?", (unmatched,)) == [("received",)]
    # A second run still lists it, and assigns nothing new.
    again = assign(home, now=NOW)
    assert [(r.clue, r.status) for r in again.results] == [(unmatched, "unmatched")]


def test_assign_stored_facts_and_facts_derived_from_report_route_alike(tmp_path: Path) -> None:
    reports = [report(0, "gang_crime", region="440103"), report(1, "police_misconduct", region="310101"),
               report(2, "industry_disorder", region="110105", industry="IND01"),
               report(3, "gang_crime", region="110105", umbrella="yes", contact=False)]
    routed = []
    for store_facts in (False, True):
        home = make_home(tmp_path / str(store_facts))
        add_reports(home, reports, store_facts=store_facts)
        assert sql(home, "SELECT count(*) FROM reports WHERE facts IS NULL") == [(0 if store_facts else len(reports),)]
        routed.append([(r.clue, r.unit, r.rule) for r in assign(home, now=NOW).results])
    assert routed[0] == routed[1] and all(unit for _, unit, _ in routed[0])


def test_assign_damaged_stored_facts_is_a_state_error_naming_the_report(tmp_path: Path) -> None:
    home = make_home(tmp_path)
    (sid,) = add_reports(home, [report(0, "gang_crime")], store_facts=True)
    with open_store(home) as store, store.write() as tx:
        tx.execute("UPDATE reports SET facts = ? WHERE submission_id = ?", (b'{"kind":', sid))
    with pytest.raises(StateError, match=f"facts of report {sid} cannot be read") as info:
        assign(home, now=NOW)
    assert info.value.exit_code == 3
    assert sql(home, "SELECT count(*) FROM assignments") == [(0,)]


def test_assign_dry_run_changes_nothing(tmp_path: Path) -> None:
    home = make_home(tmp_path)
    (sid,) = add_reports(home, [report(0, "police_misconduct", region="310101")])
    before = audit(home)
    rep = assign(home, now=NOW, dry_run=True)
    assert rep.dry_run and [(r.clue, r.status, r.unit) for r in rep.results] == [(sid, "would_assign", "sh.discipline")]
    assert sql(home, "SELECT count(*) FROM assignments") == [(0,)]
    assert sql(home, "SELECT count(*) FROM events") == [(0,)]
    assert audit(home) == before


def test_assign_writes_one_audit_entry_per_clue_with_ids_only(tmp_path: Path) -> None:
    home = make_home(tmp_path)
    ids = add_reports(home, [report(i, "gang_crime", region="110105") for i in range(3)])
    assign(home, now=NOW)
    entries = [e for e in audit(home) if e["action"] == "clue.assign"]
    assert sorted(e["object"] for e in entries) == sorted(f"report:{i}" for i in ids)
    for e in entries:
        assert e["details"]["unit"] == "bj.ago" and e["details"]["rule"] == "bj.gang_crime"
        assert len(e["details"]["assignment_rules_sha256"]) == 64
    assert [e["action"] for e in audit(home)].count("units.changed") == 1


# --------------------------------------------------------------------------- by hand


def test_assign_by_hand_then_reassign_records_previous_unit(tmp_path: Path) -> None:
    home = make_home(tmp_path)
    (sid,) = add_reports(home, [report(0, "gang_crime", region="110105")])
    first = assign(home, sid[:8], "bj.ago", reason="initial routing", now=NOW)
    assert [(r.status, r.unit, r.previous_unit) for r in first.results] == [("assigned", "bj.ago", None)]
    later = NOW + timedelta(days=1)
    second = assign(home, sid, "bj.police", reason="police already investigating", now=later)
    assert [(r.status, r.unit, r.previous_unit) for r in second.results] == [("reassigned", "bj.police", "bj.ago")]
    assert sql(home, "SELECT event, unit, to_unit, note FROM events ORDER BY id") == [
        ("assigned", None, "bj.ago", "initial routing"),
        ("assigned", "bj.ago", "bj.police", "police already investigating"),
    ]
    assert sql(home, "SELECT unit, reason FROM assignments") == [("bj.police", "police already investigating")]
    # The previous holder's duties are cancelled; the new holder's receipt starts them
    # again (the police owe no transfer to the police).
    assert sql(home, "SELECT rule_id, unit, state FROM obligations WHERE rule_id <> 'assign_imported' ORDER BY id") == [
        ("contact_reporter", "bj.ago", "cancelled"),
        ("transfer_gang_to_police", "bj.ago", "cancelled"),
        ("contact_reporter", "bj.police", "open"),
    ]
    entries = [e for e in audit(home) if e["action"] == "clue.assign"]
    assert entries[-1]["details"]["previous_unit"] == "bj.ago"
    assert entries[-1]["details"]["reason_hmac_sha256"] == keyed_text(load_audit_secret(home), "police already investigating")
    assert "police already investigating" not in json.dumps(audit(home), ensure_ascii=False)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("UNIT-NOT-THERE",), 'unknown unit "nope.unit"'),
        (("same",), "already assigned to bj.ago"),
        (("empty-reason",), "needs a --reason"),
    ],
    ids=["unknown-unit", "same-unit", "empty-reason"],
)
def test_assign_by_hand_bad_request_is_refused(tmp_path: Path, args: tuple[str], message: str) -> None:
    home = make_home(tmp_path)
    (sid,) = add_reports(home, [report(0, "gang_crime", region="110105")])
    assign(home, sid, "bj.ago", reason="first", now=NOW)
    unit, reason = {"UNIT-NOT-THERE": ("nope.unit", "x"), "same": ("bj.ago", "x"), "empty-reason": ("bj.police", " ")}[args[0]]
    with pytest.raises(InputError, match=message):
        assign(home, sid, unit, reason=reason, now=NOW)


def test_assign_by_hand_ambiguous_prefix_lists_candidates(tmp_path: Path) -> None:
    home = make_home(tmp_path)
    a = "0badc0de-0000-4000-8000-000000000001"
    b = "0badc0de-0000-4000-8000-000000000002"
    add_reports(home, [report(0, submission_id=a), report(1, submission_id=b)])
    with pytest.raises(InputError, match=f"ambiguous: it matches {a}, {b}"):
        assign(home, "0badc0de", "bj.ago", reason="x", now=NOW)
    with pytest.raises(InputError, match="too short"):
        assign(home, "0badc0", "bj.ago", reason="x", now=NOW)


# --------------------------------------------------------------------------- rule files


@pytest.mark.parametrize(
    ("file", "old", "new", "expect"),
    [
        ("assignment.toml", 'unit = "cn.police"', 'unit = "cn.nowhere"',
         r'invalid assignment rules ".*assignment.toml": line \d+: rule\[0\]\.unit: unknown unit "cn.nowhere"'),
        ("units.toml", 'type = "police"', 'type = "polis"',
         r'invalid units file ".*units.toml": line \d+: unit\[1\]\.type: '),
        ("deadlines.toml", 'unit = "calendar"', 'unit = "fortnights"',
         r'invalid deadline rules ".*deadlines.toml": line \d+: deadline\[1\]\.within'),
    ],
    ids=["assignment", "units", "deadlines"],
)
def test_assign_malformed_rule_file_is_one_line_input_error(
    tmp_path: Path, file: str, old: str, new: str, expect: str
) -> None:
    home = make_home(tmp_path)
    add_reports(home, [report(0)])
    path = home.rules_dir / file
    path.write_text(path.read_text(encoding="utf-8").replace(old, new, 1), encoding="utf-8")
    with pytest.raises(InputError, match=expect) as info:
        assign(home, now=NOW)
    assert "\n" not in info.value.message
    assert sql(home, "SELECT count(*) FROM assignments") == [(0,)]
