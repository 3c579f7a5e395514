"""Forward-only migrations (cluetool/store/migrations.py): a store holding data at every earlier schema
version opens and migrates to the latest one, each step in one transaction, recorded
in the audit log; a failing step leaves the store as it was.

Adding schema version N: append its ``Migration`` and add ``SEED[N]`` (the same data,
written with the SQL of version N); the parametrised test below then covers every path
to the latest version.
"""

from __future__ import annotations

import hashlib
import re
import sqlite3
from datetime import datetime, timezone
from pathlib import Path

import msgspec
import pytest

from cluetool.errors import InputError, StateError
from cluetool.model.store import ReportRow
from cluetool.store import Store, handling, migrations, queries
from cluetool.store.audit_entries import audit_size, iter_entries
from cluetool.store.integrity import check_store
from cluetool.store.migrations import MIGRATIONS, Migration, latest_version, split_statements

T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
T1 = datetime(2026, 6, 1, tzinfo=timezone.utc)
SID = "5c1e2f3a-0000-4000-8000-000000000001"
SID2 = "5c1e2f3a-0000-4000-8000-000000000002"


def h(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


# The same data (two reports, a fingerprint they share, an assignment, an obligation, ...)
# written with the SQL of each schema version, keyed by version.
SEED: dict[int, list[tuple[str, tuple]]] = {
    1: [
        ("INSERT INTO sources VALUES (?, ?, ?, ?)", ("intake-bj", 1, h("m1"), "2026-01-01T00:00:00.000000Z")),
        (
            "INSERT INTO batches (id, source, sequence, manifest_sha256, previous_sha256, payload_sha256,"
            " signer, created_at, imported_at, reports, attachments) VALUES (1, ?, 1, ?, ?, ?, ?, ?, ?, 2, 1)",
            ("intake-bj", h("m1"), "0" * 64, h("p1"), "0123456789abcdef", "2026-01-01T00:00:00Z",
             "2026-01-01T00:00:00.000000Z"),
        ),
        *[
            (
                "INSERT INTO reports (submission_id, kind, received_at, imported_at, batch_id, report_sha256,"
                " query_code_sha256, region, reporter_has_contact, real_name, report_json)"
                " VALUES (?, 'gang_crime', ?, ?, 1, ?, ?, '110105', 1, 1, ?)",
                (sid, "2025-12-31T12:00:00.000000Z", "2026-01-01T00:00:00.000000Z", h(sid), h("code" + sid),
                 b'{"x":1}'),
            )
            for sid in (SID, SID2)
        ],
        ("INSERT INTO attachments VALUES (?, 3, 'jpg')", (h("blob"),)),
        ("INSERT INTO report_attachments VALUES (?, 'a.jpg', ?, NULL)", (SID, h("blob"))),
        ("INSERT INTO fingerprints VALUES (?, ?, 'subject')", (h("fp"), SID)),
        ("INSERT INTO fingerprints VALUES (?, ?, 'subject')", (h("fp"), SID2)),
        ("INSERT INTO duplicates VALUES (?, ?, 'fingerprint', 'open', ?, NULL)",
         (SID2, SID, "2026-01-01T00:00:00.000000Z")),
        ("INSERT INTO units VALUES ('psb-110105', 'unit', 'police', '110105', ?)", ("2026-01-01T00:00:00.000000Z",)),
        ("INSERT INTO events (id, submission_id, event, at, unit, recorded_at) VALUES (1, ?, 'assigned', ?, ?, ?)",
         (SID, "2026-01-02T00:00:00.000000Z", "psb-110105", "2026-01-02T00:00:00.000000Z")),
        ("INSERT INTO assignments VALUES (?, 'psb-110105', ?, 'r1', NULL, 1)", (SID, "2026-01-02T00:00:00.000000Z")),
        (
            "INSERT INTO obligations (submission_id, rule_id, trigger_event_id, unit, due_date, created_at)"
            " VALUES (?, 'contact_reporter', 1, 'psb-110105', '2026-02-01', ?)",
            (SID, "2026-01-02T00:00:00.000000Z"),
        ),
        ("INSERT INTO checkpoints (size, root, note, at) VALUES (1, ?, 'note', ?)",
         (b"\x11" * 32, "2026-01-02T00:00:00.000000Z")),
    ],
}
_V1_ONLY = ("INSERT INTO reports", "INSERT INTO fingerprints", "INSERT INTO obligations", "INSERT INTO events",
            "INSERT INTO assignments")
SEED[2] = [
    *SEED[1][:2],  # the source and the batch
    *[
        (
            "INSERT INTO reports (id, submission_id, kind, received_at, imported_at, batch_id, report_sha256,"
            " query_code_sha256, region, reporter_has_contact, real_name, report_json)"
            " VALUES (?, ?, 'gang_crime', ?, ?, 1, ?, ?, '110105', 1, 1, ?)",
            (n, sid, "2025-12-31T12:00:00.000000Z", "2026-01-01T00:00:00.000000Z", h(sid), h("code" + sid),
             b'{"x":1}'),
        )
        for n, sid in ((1, SID), (2, SID2))
    ],
    *[row for row in SEED[1][2:] if not row[0].startswith(_V1_ONLY)],
    ("INSERT INTO events (id, report_id, submission_id, event, at, unit, recorded_at)"
     " VALUES (1, 1, ?, 'assigned', ?, ?, ?)",
     (SID, "2026-01-02T00:00:00.000000Z", "psb-110105", "2026-01-02T00:00:00.000000Z")),
    ("INSERT INTO assignments VALUES (1, ?, 'psb-110105', ?, 'r1', NULL, 1)", (SID, "2026-01-02T00:00:00.000000Z")),
    ("INSERT INTO report_stages VALUES (1, 'assigned')", ()),
    ("INSERT INTO report_stages VALUES (2, 'received')", ()),
    ("INSERT INTO fingerprints VALUES (?, 1, 'subject')", (h("fp")[:32],)),
    ("INSERT INTO fingerprints VALUES (?, 2, 'subject')", (h("fp")[:32],)),
    (
        "INSERT INTO obligations (report_id, submission_id, rule_id, trigger_event_id, unit, due_date, created_at)"
        " VALUES (1, ?, 'contact_reporter', 1, 'psb-110105', '2026-02-01', ?)",
        (SID, "2026-01-02T00:00:00.000000Z"),
    ),
]

_V2_REPLACED = ("INSERT INTO reports", "INSERT INTO fingerprints", "INSERT INTO report_attachments")
SEED[3] = [
    *SEED[2][:2],
    *[
        (
            "INSERT INTO reports (id, era, submission_id, kind, received_at, imported_at, batch_id, report_sha256,"
            " query_code_sha256, region, reporter_has_contact, real_name, report_json)"
            " VALUES (?, 0, ?, 'gang_crime', ?, ?, 1, ?, ?, '110105', 1, 1, ?)",
            (n, sid, "2025-12-31T12:00:00.000000Z", "2026-01-01T00:00:00.000000Z", h(sid), h("code" + sid),
             b'{"x":1}'),
        )
        for n, sid in ((1, SID), (2, SID2))
    ],
    ("INSERT INTO report_eras VALUES (0)", ()),
    *[row for row in SEED[2][2:] if not row[0].startswith(_V2_REPLACED)],
    ("INSERT INTO report_attachments VALUES (1, ?, 'a.jpg', ?, NULL)", (SID, h("blob"))),
    ("INSERT INTO fingerprints VALUES (0, ?, 1, 'subject')", (h("fp")[:32],)),
    ("INSERT INTO fingerprints VALUES (0, ?, 2, 'subject')", (h("fp")[:32],)),
]

# Version 4 adds the (empty) held-report tables; the same data, plus one held report.
SEED[4] = [
    *SEED[3],
    ("INSERT INTO held_reports (submission_id, query_code_sha256, report_sha256, batch_id, held_at, reason,"
     " collides_with, report_json) VALUES (?, ?, ?, 1, ?, 'submission_id.collision', ?, ?)",
     (SID, h("code" + SID), h("other"), "2026-01-03T00:00:00.000000Z", SID, b'{"x":2}')),
    ("INSERT INTO held_attachments VALUES (1, ?)", (h("blob"),)),
]

SEED[5] = [
    *[row for row in SEED[4] if not row[0].startswith("INSERT INTO obligations")],
    (
        "INSERT INTO obligations (report_id, submission_id, rule_id, trigger_event_id, unit, due_date, created_at,"
        " provisional, unknown_years) VALUES (1, ?, 'contact_reporter', 1, 'psb-110105', '2026-02-01', ?, 1, '2027')",
        (SID, "2026-01-02T00:00:00.000000Z"),
    ),
]

# Version 6: no eras (reports, fingerprints), no report_eras.
SEED[6] = [
    *SEED[5][:2],
    *[
        (
            "INSERT INTO reports (id, submission_id, kind, received_at, imported_at, batch_id, report_sha256,"
            " query_code_sha256, region, reporter_has_contact, real_name, report_json)"
            " VALUES (?, ?, 'gang_crime', ?, ?, 1, ?, ?, '110105', 1, 1, ?)",
            (n, sid, "2025-12-31T12:00:00.000000Z", "2026-01-01T00:00:00.000000Z", h(sid), h("code" + sid),
             b'{"x":1}'),
        )
        for n, sid in ((1, SID), (2, SID2))
    ],
    *[row for row in SEED[5][2:]
      if not row[0].startswith(("INSERT INTO reports", "INSERT INTO report_eras", "INSERT INTO fingerprints"))],
    ("INSERT INTO fingerprints VALUES (?, 1, 'subject')", (h("fp")[:32],)),
    ("INSERT INTO fingerprints VALUES (?, 2, 'subject')", (h("fp")[:32],)),
]
# Tables a later version drops (their rows are not expected after the migration).
_DROPPED = {"report_eras", "key_filter", "key_filter_coverage"}
# Supervision (issue 23): the same data plus a report's codes and a callback draw.
SEED[7] = [
    *SEED[6],
    ("INSERT INTO report_codes VALUES (1, 'target', 'T08', '2025-12-31T12:00:00.000000Z')", ()),
    ("INSERT INTO sample_draws (month, drawn_at, audit_seq, draw) VALUES ('2025-12', ?, 0, ?)",
     ("2026-01-02T00:00:00.000000Z", b'{"x":1}')),
]

# Stats speed (issue 23): indexes only; the same data.
SEED[8] = list(SEED[7])
SEED[9] = list(SEED[8])


def test_store_v9_indexes_the_obligations_by_met_time_and_creation(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    Store.create(path, now=T0, version=8).close()
    seed(path, 8)
    with Store.open(path, now=T1) as s:
        indexes = {r[0]: r[1] for r in s.execute("SELECT name, sql FROM sqlite_master WHERE type = 'index'"
                                                  " AND tbl_name = 'obligations' AND sql IS NOT NULL")}
        assert "obligations_rule_unit" not in indexes
        assert "(rule_id, unit, state, met_at, due_date, created_at)" in indexes["obligations_rule_unit_met"]
        assert "(created_at, rule_id, unit, state, met_at, due_date)" in indexes["obligations_created"]
        # The stats statements use them.
        plan = " ".join(r[3] for r in s.execute(
            "EXPLAIN QUERY PLAN SELECT count(*) FROM obligations WHERE rule_id = 'r' AND unit IS NULL"
            " AND state = 'met' AND met_at < '2026'"))
        assert "COVERING INDEX obligations_rule_unit_met" in plan
        assert s.execute("SELECT count(*) FROM obligations INDEXED BY obligations_created"
                         " WHERE created_at >= ''").fetchone()[0] == s.execute(
            "SELECT count(*) FROM obligations").fetchone()[0] > 0


def seed(path: Path, version: int) -> dict[str, int]:
    """Insert the seed rows of ``version``; return row counts."""
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA foreign_keys = ON")
    with conn:
        for sql, params in SEED[version]:
            conn.execute(sql, params)
    tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
    counts = {t: conn.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] for t in tables}
    conn.close()
    return counts


def test_migrations_numbered_from_one_without_gaps() -> None:
    assert [m.version for m in MIGRATIONS] == list(range(1, len(MIGRATIONS) + 1))
    assert latest_version() == len(MIGRATIONS)


@pytest.mark.parametrize("migration", MIGRATIONS, ids=lambda m: f"v{m.version}")
def test_migrations_scripts_leave_transactions_to_runner(migration: Migration) -> None:
    statements = migration.statements()
    assert statements
    for statement in statements:
        body = re.sub(r"--[^\n]*", "", statement).strip().upper()
        assert not body.startswith(("BEGIN", "COMMIT", "ROLLBACK", "END", "VACUUM"))
        assert "USER_VERSION" not in body


@pytest.mark.parametrize("start", range(1, latest_version() + 1), ids=lambda v: f"from_v{v}")
def test_store_migrate_from_every_earlier_version_keeps_data(tmp_path: Path, start: int) -> None:
    path = tmp_path / "store.db"
    Store.create(path, now=T0, version=start).close()
    counts = seed(path, start)
    with Store.open(path, now=T1) as s:
        assert s.schema_version == latest_version()
        # Every step after `start` is one audit entry, in order, at the opening time.
        steps = [e.record() for e in iter_entries(s)]
        assert [(r.details["from"], r.details["to"]) for r in steps] == [
            (v - 1, v) for v in range(1, latest_version() + 1)
        ]
        assert all(r.action == "store.migrate" for r in steps)
        assert [r.at for r in steps[start:]] == ["2026-06-01T00:00:00.000000Z"] * (latest_version() - start)
        assert [r.details["script_sha256"] for r in steps] == [m.sha256 for m in MIGRATIONS]
        # No rows lost, and the current query interface reads the old rows.
        for table, n in counts.items():
            if table != "audit_log" and table not in _DROPPED:
                assert s.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0] == n, table
        assert queries.get_source_state(s, "intake-bj").last_sequence == 1  # type: ignore[union-attr]
        assert queries.get_batch_by_manifest(s, h("m1")) is not None
        assert queries.report_by_query_code_sha256(s, h("code" + SID)) is not None
        assert queries.resolve_clue_prefix(s, SID) == SID
        assert {m.submission_id for m in queries.find_reports_by_fingerprints(s, [h("fp")[:32]])} == {SID, SID2}
        assert s.execute("SELECT count(*) FROM fingerprints").fetchone()[0] == 2
        report = check_store(s)
        # The seed has no blob, and its report rows are synthetic (a made-up hash, no
        # report.import audit entry): store check names both.
        errors = [p.code for p in report.problems if p.severity == "error"]
        assert [c for c in errors if not c.startswith("report.")] == ["blob.missing"]
        assert set(errors) - {"blob.missing"} <= {"report.changed", "report.audit_missing"}


def test_store_v2_moves_stages_fingerprints_and_obligations_to_report_ids(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    Store.create(path, now=T0, version=1).close()
    seed(path, 1)
    conn = sqlite3.connect(path)
    with conn:
        conn.execute("UPDATE reports SET stage = 'assigned' WHERE submission_id = ?", (SID,))
    conn.close()
    with Store.open(path, now=T1) as s:
        ids = dict(s.execute("SELECT submission_id, id FROM reports").fetchall())
        assert sorted(ids.values()) == [1, 2]
        assert queries.report_by_query_code_sha256(s, h("code" + SID)).stage == "assigned"  # type: ignore[union-attr]
        assert queries.report_by_query_code_sha256(s, h("code" + SID2)).stage == "received"  # type: ignore[union-attr]
        assert s.execute("SELECT value, report_id FROM fingerprints ORDER BY report_id").fetchall() == [
            (h("fp")[:32], ids[SID]), (h("fp")[:32], ids[SID2])]
        assert s.execute("SELECT report_id, submission_id FROM obligations").fetchall() == [(ids[SID], SID)]
        assert [o.rule_id for o in handling.open_obligations_of(s, SID)] == ["contact_reporter"]
        assert s.execute("SELECT report_id, submission_id FROM events").fetchall() == [(ids[SID], SID)]
        assert [e.event for e in handling.events_of(s, SID)] == ["assigned"]
        assert s.execute("SELECT report_id, submission_id, unit FROM assignments").fetchall() == [
            (ids[SID], SID, "psb-110105")]
        clue = handling.get_clue(s, SID)
        assert clue is not None and (clue.unit, clue.stage) == ("psb-110105", "assigned")
        names = {r[0] for r in s.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
        assert {"obligations_report", "fingerprints_report", "reports_batch", "events_report"} <= names
        assert not names & {"obligations_submission", "fingerprints_submission", "reports_stage_received",
                            "events_submission"}
        assert s.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_store_v3_indexes_random_keys_per_era(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # What version 3 did (a step of the path from v1 and v2; v6 undoes the eras): ids
    # split into eras of 65,536 reports, attachments named by report id.
    path = tmp_path / "store.db"
    Store.create(path, now=T0, version=2).close()
    seed(path, 2)
    monkeypatch.setattr(migrations, "MIGRATIONS", MIGRATIONS[:3])
    with Store.open(path, now=T1) as s:
        assert s.schema_version == 3
        assert s.execute("SELECT id, era FROM reports ORDER BY id").fetchall() == [(1, 0), (2, 0)]
        assert s.execute("SELECT era FROM report_eras").fetchall() == [(0,)]
        assert s.execute("SELECT era, report_id FROM fingerprints ORDER BY report_id").fetchall() == [(0, 1), (0, 2)]
        assert s.execute("SELECT report_id, submission_id, file FROM report_attachments").fetchall() == [
            (1, SID, "a.jpg")]


def _unique_columns(s: Store, table: str) -> set[str]:
    # The columns each single-column UNIQUE index of ``table`` covers.
    out = set()
    for _seq, name, unique, _origin, _partial in s.execute(f"PRAGMA index_list({table})").fetchall():
        cols = [r[2] for r in s.execute(f"PRAGMA index_info({name})").fetchall()]
        if unique and len(cols) == 1:
            out.add(cols[0])
    return out


def test_store_v6_plain_unique_keys_no_eras_no_key_filter(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    Store.create(path, now=T0, version=3).close()
    seed(path, 3)
    with Store.open(path, now=T1) as s:
        tables = {r[0] for r in s.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        assert not tables & {"report_eras", "key_filter", "key_filter_coverage"}
        for table in ("reports", "fingerprints"):
            assert "era" not in {r[1] for r in s.execute(f"PRAGMA table_info({table})")}, table
        assert {"submission_id", "query_code_sha256"} <= _unique_columns(s, "reports")
        assert s.execute("SELECT id, submission_id FROM reports ORDER BY id").fetchall() == [(1, SID), (2, SID2)]
        assert s.execute("SELECT report_id, stage FROM report_stages ORDER BY report_id").fetchall() == [
            (1, "assigned"), (2, "received")]
        assert s.execute("PRAGMA page_size").fetchone()[0] == 2048
        # duplicates names its reports through foreign keys again.
        fks = {(r[2], r[3], r[4]) for r in s.execute("PRAGMA foreign_key_list(duplicates)")}
        assert fks == {("reports", "submission_id", "submission_id"), ("reports", "duplicate_of", "submission_id")}
        plan = " ".join(r[3] for r in s.execute(
            "EXPLAIN QUERY PLAN SELECT id FROM reports WHERE submission_id = ?", (SID,)))
        assert "USING" in plan and "SCAN reports" not in plan
        # The store refuses a stored key through the constraints, with a clear message.
        row = ReportRow(
            submission_id=SID, kind="gang_crime", received_at=T0, report_sha256=h("x"),
            query_code_sha256=h("other code"), region="110105", reporter_has_contact=True, real_name=True,
            report_json=b"{}", facts=None, attachments=[], fingerprints=[])
        with pytest.raises(queries.ReportsStored) as stored, s.write() as tx:
            queries.insert_reports(tx, batch_id=1, imported_at=T1, reports=[row])
        assert stored.value.stored == {SID}
        same_code = msgspec.structs.replace(row, submission_id="5c1e2f3a-0000-4000-8000-000000000003",
                                            query_code_sha256=h("code" + SID2))
        with pytest.raises(InputError, match="query code is already used"), s.write() as tx:
            queries.insert_reports(tx, batch_id=1, imported_at=T1, reports=[same_code])
        fresh = msgspec.structs.replace(same_code, query_code_sha256=h("new code"))
        twice = msgspec.structs.replace(fresh, query_code_sha256=h("newer code"))
        with pytest.raises(InputError, match="the same submission id twice"), s.write() as tx:
            queries.insert_reports(tx, batch_id=1, imported_at=T1, reports=[fresh, twice])
        with s.write() as tx:
            assert list(queries.insert_reports(tx, batch_id=1, imported_at=T1, reports=[fresh])) == [3]
        with pytest.raises(InputError, match="matches 5c1e2f3a-0000-4000-8000-000000000001, .*-000000000002, .*-000000000003"):
            queries.resolve_clue_prefix(s, SID[:12])


def _raw_report(conn: sqlite3.Connection, rid: int, sid: str, code: str) -> None:
    conn.execute(
        "INSERT INTO reports (id, submission_id, kind, received_at, imported_at, batch_id, report_sha256,"
        " query_code_sha256, region, reporter_has_contact, real_name, report_json)"
        " VALUES (?, ?, 'gang_crime', ?, ?, 1, ?, ?, NULL, 0, 0, x'7b7d')",
        (rid, sid, "2026-01-01T00:00:00.000000Z", "2026-01-01T00:00:00.000000Z", h(sid + str(rid)), code))


def test_store_v6_refuses_a_duplicate_key_written_through_raw_sql(tmp_path: Path) -> None:
    # Not only insert_reports: any writer (the sqlite3 shell, a repair, a later
    # migration) meets the constraints.
    path = tmp_path / "store.db"
    Store.create(path, now=T0).close()
    seed(path, latest_version())
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA foreign_keys = ON")
    try:
        with pytest.raises(sqlite3.IntegrityError, match="UNIQUE constraint failed: reports.submission_id"), conn:
            _raw_report(conn, 70_000, SID, h("a fresh code"))
        with pytest.raises(sqlite3.IntegrityError, match="UNIQUE constraint failed: reports.query_code_sha256"), conn:
            _raw_report(conn, 70_001, "5c1e2f3a-0000-4000-8000-000000000009", h("code" + SID2))
        with pytest.raises(sqlite3.IntegrityError, match="FOREIGN KEY constraint failed"), conn:
            conn.execute("INSERT INTO duplicates VALUES (?, ?, 'fingerprint', 'open', ?, NULL)",
                         (SID, "5c1e2f3a-0000-4000-8000-00000000dead", "2026-01-01T00:00:00.000000Z"))
        assert conn.execute("SELECT count(*) FROM reports").fetchone()[0] == 2
    finally:
        conn.close()


def test_store_v5_holding_a_key_twice_is_not_migrated(tmp_path: Path) -> None:
    # Version 3 to 5 kept keys unique across eras in application code only: a store in
    # which something else wrote a duplicate is refused, whole, and kept as it was.
    path = tmp_path / "store.db"
    Store.create(path, now=T0, version=5).close()
    seed(path, 5)
    conn = sqlite3.connect(path)
    with conn:
        conn.execute(
            "INSERT INTO reports (id, era, submission_id, kind, received_at, imported_at, batch_id, report_sha256,"
            " query_code_sha256, region, reporter_has_contact, real_name, report_json)"
            " VALUES (65536, 1, ?, 'gang_crime', ?, ?, 1, ?, ?, NULL, 0, 0, x'7b7d')",
            (SID, "2026-01-01T00:00:00.000000Z", "2026-01-01T00:00:00.000000Z", h("again"), h("code again")))
        conn.execute("INSERT INTO report_eras VALUES (1)")
    conn.close()
    with pytest.raises(StateError, match="migration to store schema v6 refused.*UNIQUE constraint failed") as refused:
        Store.open(path, now=T1)
    assert refused.value.hint and "unchanged" in refused.value.hint
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 5
        assert conn.execute("SELECT count(*) FROM reports").fetchone()[0] == 3
        assert conn.execute("SELECT count(*) FROM key_filter_coverage").fetchone()[0] == 0
    finally:
        conn.close()


def test_store_open_latest_runs_no_migration(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    Store.create(path, now=T0).close()
    with Store.open(path, now=T1) as s:
        assert audit_size(s) == latest_version()


# The migrations below are test-only: they exercise the runner, they are not shipped.


def with_extra(monkeypatch: pytest.MonkeyPatch, script: str) -> Migration:
    extra = Migration(version=latest_version() + 1, name="test step", script=script)
    monkeypatch.setattr(migrations, "MIGRATIONS", [*MIGRATIONS, extra])
    return extra


def test_store_open_runs_pending_migration_and_audits_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "store.db"
    Store.create(path, now=T0).close()
    seed(path, latest_version())
    extra = with_extra(monkeypatch, "ALTER TABLE reports ADD COLUMN test_flag INTEGER NOT NULL DEFAULT 0;")
    with Store.open(path, now=T1) as s:
        assert s.schema_version == extra.version
        last = list(iter_entries(s))[-1].record()
        assert (last.action, last.details["to"], last.details["script_sha256"]) == (
            "store.migrate", extra.version, extra.sha256)
        assert s.execute("SELECT count(*) FROM reports WHERE test_flag = 0").fetchone()[0] == 2


def test_store_migration_table_rebuild_with_foreign_keys(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # SQLite's documented way to change a table that others reference (lang_altertable.html).
    path = tmp_path / "store.db"
    Store.create(path, now=T0).close()
    seed(path, latest_version())
    with_extra(monkeypatch, """
        CREATE TABLE new_units (
            id TEXT PRIMARY KEY NOT NULL, name TEXT NOT NULL, type TEXT NOT NULL,
            region TEXT, updated_at TEXT NOT NULL, active INTEGER NOT NULL DEFAULT 1
        );
        INSERT INTO new_units (id, name, type, region, updated_at)
            SELECT id, name, type, region, updated_at FROM units;
        DROP TABLE units;
        ALTER TABLE new_units RENAME TO units;
    """)
    with Store.open(path, now=T1) as s:
        assert s.execute("SELECT id, active FROM units").fetchall() == [("psb-110105", 1)]
        assert s.execute("PRAGMA foreign_keys").fetchone()[0] == 1
        problems = check_store(s).problems
        assert problems and all(p.code.startswith(("blob.", "report.")) for p in problems)  # synthetic seed


def test_store_failing_migration_rolls_back_completely(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "store.db"
    Store.create(path, now=T0).close()
    with_extra(monkeypatch, "CREATE TABLE half_done (x INTEGER);\nINSERT INTO no_such_table VALUES (1);")
    with pytest.raises(sqlite3.OperationalError, match="no_such_table"):
        Store.open(path, now=T1)
    monkeypatch.setattr(migrations, "MIGRATIONS", list(MIGRATIONS))
    with Store.open(path) as s:
        assert s.schema_version == latest_version()
        assert audit_size(s) == latest_version()
        assert s.execute("SELECT count(*) FROM sqlite_master WHERE name = 'half_done'").fetchone()[0] == 0


def test_store_migration_breaking_foreign_key_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "store.db"
    Store.create(path, now=T0).close()
    seed(path, latest_version())
    with_extra(monkeypatch, "DELETE FROM batches;")
    with pytest.raises(StateError, match="breaks a foreign key"):
        Store.open(path, now=T1)
    monkeypatch.setattr(migrations, "MIGRATIONS", list(MIGRATIONS))
    with Store.open(path) as s:
        assert s.schema_version == latest_version()
        assert s.execute("SELECT count(*) FROM batches").fetchone()[0] == 1


def test_split_statements_keeps_trigger_bodies_and_comments() -> None:
    script = """
    -- a comment; with a semicolon
    CREATE TABLE t (x TEXT DEFAULT 'a;b');
    CREATE TRIGGER tr BEFORE DELETE ON t BEGIN SELECT RAISE(ABORT, 'no'); SELECT 1; END;
    """
    statements = split_statements(script)
    assert len(statements) == 2
    assert statements[1].endswith("END;")
    with pytest.raises(ValueError):
        split_statements("CREATE TABLE t (x); SELECT")
