"""A schema v3 store holding 10,000 reports (in two eras), their fingerprints,
obligations and a signed audit trail migrates to the latest schema (v6: plain UNIQUE
keys, no eras, no key filter) with the same reports, the same obligations and the same
audit log root, checked by query and by ``audit verify`` (issue 18)."""

from __future__ import annotations

import hashlib
from datetime import datetime, timezone
from pathlib import Path

import pytest

from cluetool import audit
from cluetool.formats import minisign
from cluetool.formats.merkle import root_from_leaf_hashes
from cluetool.store import Store, migrations, queries
from cluetool.store.audit_entries import NewEntry, append_entries
from cluetool.store.integrity import check_store
from cluetool.store.migrations import MIGRATIONS, latest_version

T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
T1 = datetime(2026, 6, 1, tzinfo=timezone.utc)
N = 10_000
FIRST_ID = 60_001  # ids 60,001..70,000: eras 0 and 1 (era = id >> 16)
STAMP = "2026-01-01T00:00:00.000000Z"

REPORT_COLS = ("id, submission_id, kind, received_at, imported_at, batch_id, report_sha256, query_code_sha256,"
               " region, reporter_has_contact, real_name, facts, report_json")
OBLIGATION_COLS = ("id, report_id, submission_id, rule_id, trigger_event_id, unit, due_date, provisional, state,"
                   " met_at, met_event_id, created_at")


def sid_of(i: int) -> str:
    return f"{i:08x}-1f2e-4d3c-8b7a-{i * 7919 % 16**12:012x}"


def h(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def build_v3(store: Store) -> None:
    with store.write() as tx:
        tx.execute("INSERT INTO sources VALUES ('intake-bj', 1, ?, ?)", (h("m1"), STAMP))
        tx.execute("INSERT INTO batches (id, source, sequence, manifest_sha256, previous_sha256, payload_sha256,"
                   " signer, created_at, imported_at, reports, attachments)"
                   " VALUES (1, 'intake-bj', 1, ?, ?, ?, 'k', ?, ?, ?, 0)",
                   (h("m1"), "0" * 64, h("p1"), STAMP, STAMP, N))
        reports, stages, prints, obligations, entries = [], [], [], [], []
        for n in range(N):
            rid = FIRST_ID + n
            sid = sid_of(rid)
            raw = b'{"submission_id":"%s","n":%d}' % (sid.encode(), n)
            digest = hashlib.sha256(raw).hexdigest()
            reports.append((rid, rid >> 16, sid, "gang_crime", STAMP, STAMP, 1, digest, h("code" + sid),
                            "110105", 1, n % 2, b'{"kind":"gang_crime"}', raw))
            stages.append((rid, "received"))
            # Every tenth report shares a fingerprint with the one before it.
            prints.append((rid >> 16, h(f"fp{n - (n % 10 == 9)}")[:32], rid, "subject"))
            obligations.append((n + 1, rid, sid, "assign_imported", None, None, "2026-01-08", 0,
                                "met" if n % 3 == 0 else "open", STAMP if n % 3 == 0 else None, None, STAMP))
            entries.append(NewEntry(at=T0, actor="cluetool-import", action="report.import", object=sid,
                                    details={"batch": "intake-bj/1", "report_sha256": digest, "attachments": []}))
        tx.executemany("INSERT INTO reports (id, era, submission_id, kind, received_at, imported_at, batch_id,"
                       " report_sha256, query_code_sha256, region, reporter_has_contact, real_name, facts,"
                       " report_json) VALUES (" + ",".join("?" * 14) + ")", reports)
        tx.executemany("INSERT INTO report_eras VALUES (?)", [(0,), (1,)])
        tx.executemany("INSERT INTO report_stages VALUES (?, ?)", stages)
        tx.executemany("INSERT INTO fingerprints (era, value, report_id, kind) VALUES (?, ?, ?, ?)", prints)
        tx.executemany(f"INSERT INTO obligations ({OBLIGATION_COLS}) VALUES (" + ",".join("?" * 12) + ")",
                       obligations)
        tx.execute("INSERT INTO duplicates VALUES (?, ?, 'fingerprint', 'open', ?, NULL)",
                   (sid_of(FIRST_ID + 9), sid_of(FIRST_ID + 8), STAMP))
        append_entries(tx, entries)


def snapshot(store: Store) -> dict[str, list[tuple]]:
    return {
        "reports": store.execute(f"SELECT {REPORT_COLS} FROM reports ORDER BY id").fetchall(),
        "stages": store.execute("SELECT * FROM report_stages ORDER BY report_id").fetchall(),
        "fingerprints": store.execute("SELECT value, report_id, kind FROM fingerprints ORDER BY value, report_id").fetchall(),
        "obligations": store.execute(f"SELECT {OBLIGATION_COLS} FROM obligations ORDER BY id").fetchall(),
        "duplicates": store.execute("SELECT * FROM duplicates").fetchall(),
    }


def test_store_v3_with_10000_reports_migrates_with_same_reports_root_and_obligations(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "store.db"
    sk = minisign.SecretKey.generate()
    keys = audit.TrustedKeys(raw=[sk.public_key.key])
    monkeypatch.setattr(migrations, "MIGRATIONS", MIGRATIONS[:3])  # a cluetool that knew v3 only
    with Store.create(path, now=T0, version=3) as s:
        assert s.schema_version == 3
        build_v3(s)
        before = snapshot(s)
        signed = audit.checkpoint(s, sk, now=T0, cache_dir=None)
        leaves = [r[0] for r in s.execute("SELECT leaf_hash FROM audit_log ORDER BY seq")]
    assert signed.size == len(leaves) == 3 + N  # three store.migrate entries, then the imports
    assert len(before["reports"]) == N and {r[0] >> 16 for r in before["reports"]} == {0, 1}
    monkeypatch.setattr(migrations, "MIGRATIONS", list(MIGRATIONS))

    with Store.open(path, now=T1) as s:
        assert s.schema_version == latest_version()
        assert snapshot(s) == before
        assert s.execute("SELECT count(*) FROM obligations WHERE unknown_years <> ''").fetchone()[0] == 0
        # The same log, extended by the migrations only: the signed root is still the
        # root of its first entries, and audit verify finds nothing wrong.
        after = [r[0] for r in s.execute("SELECT leaf_hash FROM audit_log ORDER BY seq")]
        assert after[:len(leaves)] == leaves and len(after) == len(leaves) + latest_version() - 3
        assert root_from_leaf_hashes(after[:signed.size]) == bytes.fromhex(signed.root)
        report = audit.verify_store(s, keys, parallel=False)
        assert report.ok, report.findings
        # Look-ups by key find reports of both former eras.
        for rid in (FIRST_ID, 65_535, 65_536, FIRST_ID + N - 1):
            assert queries.resolve_clue_prefix(s, sid_of(rid)) == sid_of(rid)
            assert queries.report_by_query_code_sha256(s, h("code" + sid_of(rid))) is not None
        matches = queries.find_reports_by_fingerprints(s, [h("fp8")[:32]])
        assert {m.submission_id for m in matches} == {sid_of(FIRST_ID + 8), sid_of(FIRST_ID + 9)}
        assert queries.existing_submission_ids(s, [sid_of(65_536), "not-stored"]) == {sid_of(65_536)}
        # store check: the database is sound and every report matches its audit entry.
        problems = [p for p in check_store(s).problems if p.severity == "error"]
        assert not problems, problems
