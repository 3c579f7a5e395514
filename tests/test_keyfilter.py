"""The store's key filter (schema version 3): never forgets a key, few false positives,
grows by parts, and is rebuilt from the store when it lags behind or is damaged."""

from __future__ import annotations

import hashlib
import random
import uuid
from datetime import datetime, timezone
from pathlib import Path

import pytest

from cluetool.errors import InputError
from cluetool.model.store import Fingerprint, ReportRow
from cluetool.store import Store, keyfilter, queries

NOW = datetime(2026, 11, 24, 2, 0, tzinfo=timezone.utc)


def _sids(rng: random.Random, n: int) -> list[str]:
    return [str(uuid.UUID(int=rng.getrandbits(128), version=4)) for _ in range(n)]


def test_filter_never_forgets_and_grows_by_doubling_parts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(keyfilter, "FIRST_CAPACITY", 1024)
    rng = random.Random(6)
    kf = keyfilter.KeyFilter([], 0)
    keys = [keyfilter.key_hash(keyfilter.SUBMISSION, s) for s in _sids(rng, 10_000)]
    for start in range(0, len(keys), 777):  # chunks that straddle the part boundaries
        kf.add(keys[start:start + 777])
    assert all(h in kf for h in keys)
    assert [p.capacity for p in kf._parts] == [1024, 2048, 4096, 8192]
    assert kf.keys == 10_000
    # A key added again is reported as possibly held before; a new one mostly not.
    assert kf.add(keys[:50]) == list(range(50))
    others = [keyfilter.key_hash(keyfilter.SUBMISSION, s) for s in _sids(rng, 20_000)]
    false_positives = sum(h in kf for h in others)
    assert false_positives < 0.02 * len(others), false_positives


def test_key_kinds_hash_apart() -> None:
    value = hashlib.sha256(b"x").hexdigest()
    assert len({keyfilter.key_hash(k, value) for k in (keyfilter.SUBMISSION, keyfilter.QUERY_CODE,
                                                        keyfilter.FINGERPRINT)}) == 3
    assert keyfilter.row_key_hashes("a", "b", ["c"]) == [
        keyfilter.key_hash(keyfilter.SUBMISSION, "a"), keyfilter.key_hash(keyfilter.QUERY_CODE, "b"),
        keyfilter.key_hash(keyfilter.FINGERPRINT, "c")]


def _row(sid: str, code: str, *, fingerprint: str | None = None, hashed: bool = True) -> ReportRow:
    prints = [Fingerprint(kind="subject_name", value=fingerprint)] if fingerprint else []
    return ReportRow(
        submission_id=sid, kind="gang_crime", received_at=NOW, report_sha256=hashlib.sha256(sid.encode()).hexdigest(),
        query_code_sha256=code, region="110105", reporter_has_contact=False, real_name=False, report_json=b"{}",
        fingerprints=prints,
        key_hashes=keyfilter.row_key_hashes(sid, code, [f.value for f in prints]) if hashed else [],
    )


def _batch(s: Store, n: int) -> int:
    with s.write() as tx:
        queries.set_source_state(tx, source="intake", last_sequence=n, last_manifest_sha256="2" * 64, updated_at=NOW)
        return queries.insert_batch(
            tx, source="intake", sequence=n, manifest_sha256=hashlib.sha256(b"%d" % n).hexdigest(),
            previous_sha256="0" * 64, payload_sha256="1" * 64, signer="0123456789abcdef",
            created_at="2026-11-24T00:00:00Z", imported_at=NOW, reports=1, attachments=0, allow_gap_reason=None,
        ).id


@pytest.mark.parametrize("damage", ["none", "lost", "stale", "malformed"])
def test_store_refuses_stored_keys_whatever_state_the_filter_is_in(tmp_path: Path, damage: str) -> None:
    rng = random.Random(7)
    sids = _sids(rng, 300)
    codes = [hashlib.sha256(s.encode()).hexdigest() for s in sids]
    fp = hashlib.sha256(b"subject").hexdigest()[:32]
    with Store.create(tmp_path / "store.db", now=NOW) as s:
        batch = _batch(s, 1)
        with s.write() as tx:
            queries.insert_reports(tx, batch_id=batch, imported_at=NOW,
                                   reports=[_row(sid, c, fingerprint=fp, hashed=i % 2 == 0)
                                            for i, (sid, c) in enumerate(zip(sids, codes))])
        assert s.execute("SELECT report_id FROM key_filter_coverage").fetchone()[0] == 300
        conn = s._conn
        conn.execute("PRAGMA query_only = OFF")
        if damage == "lost":
            conn.execute("DELETE FROM key_filter")
            conn.execute("DELETE FROM key_filter_coverage")
        elif damage == "stale":  # as after the migration to version 3: the filter lags behind
            conn.execute("UPDATE key_filter_coverage SET report_id = 100")
            conn.execute("UPDATE key_filter SET words = zeroblob(length(words))")
        elif damage == "malformed":
            conn.execute("UPDATE key_filter SET words = x'00'")
        conn.execute("PRAGMA query_only = ON")
        for i in (0, 150, 299):
            with pytest.raises(queries.ReportsStored) as stored, s.write() as tx:
                queries.insert_reports(tx, batch_id=batch, imported_at=NOW, reports=[_row(sids[i], "e" * 64)])
            assert stored.value.stored == {sids[i]}
            with pytest.raises(InputError, match="query code is already used"), s.write() as tx:
                queries.insert_reports(tx, batch_id=batch, imported_at=NOW, reports=[_row(_sids(rng, 1)[0], codes[i])])
        with s.write() as tx:
            assert len(queries.find_reports_by_fingerprints(tx, [fp])) == 300
        new = _sids(rng, 1)[0]
        with s.write() as tx:
            assert list(queries.insert_reports(tx, batch_id=batch, imported_at=NOW, reports=[_row(new, "f" * 64)])) == [301]
        assert queries.resolve_clue_prefix(s, new[:13]) == new
        assert s.execute("SELECT report_id FROM key_filter_coverage").fetchone()[0] == 301


def test_store_keys_are_unique_across_eras(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Reports 1-3 in era 0, 4 and later in era 1 (ids are moved up for the test).
    with Store.create(tmp_path / "store.db", now=NOW) as s:
        batch = _batch(s, 1)
        rng = random.Random(8)
        sids = _sids(rng, 3)
        with s.write() as tx:
            queries.insert_reports(tx, batch_id=batch, imported_at=NOW,
                                   reports=[_row(sid, hashlib.sha256(sid.encode()).hexdigest()) for sid in sids])
            # The next report gets id 65,536 + 1: era 1.
            tx.execute("INSERT INTO reports (id, era, submission_id, kind, received_at, imported_at, batch_id,"
                       " report_sha256, query_code_sha256, reporter_has_contact, real_name, report_json)"
                       " VALUES (65536, 1, ?, 'gang_crime', 'x', 'x', ?, ?, ?, 0, 0, x'')",
                       (_sids(rng, 1)[0], batch, "a" * 64, "b" * 64))
        with pytest.raises(queries.ReportsStored), s.write() as tx:
            queries.insert_reports(tx, batch_id=batch, imported_at=NOW, reports=[_row(sids[1], "c" * 64)])
        with s.write() as tx:
            ids = queries.insert_reports(tx, batch_id=batch, imported_at=NOW, reports=[_row(_sids(rng, 1)[0], "d" * 64)])
        assert list(ids) == [65537]
        assert s.execute("SELECT era FROM reports WHERE id = 65537").fetchone()[0] == 1
        assert s.execute("SELECT era FROM report_eras ORDER BY era").fetchall() == [(0,), (1,)]
        assert queries.report_by_query_code_sha256(s, "d" * 64) is not None


def test_store_check_finds_keys_stored_twice_a_missing_era_and_a_filter_that_forgot(tmp_path: Path) -> None:
    rng = random.Random(9)
    with Store.create(tmp_path / "store.db", now=NOW) as s:
        batch = _batch(s, 1)
        sids = _sids(rng, 20)
        with s.write() as tx:
            queries.insert_reports(tx, batch_id=batch, imported_at=NOW, reports=[
                _row(sid, hashlib.sha256(sid.encode()).hexdigest(), fingerprint="0" * 32) for sid in sids])
        assert [p.code for p in s.check().problems if p.code.startswith("store.")] == []
        conn = s._conn
        conn.execute("PRAGMA query_only = OFF")
        conn.execute("UPDATE key_filter SET words = zeroblob(length(words))")
        # What only a bug (or someone with the file) could do: the same keys in era 1.
        conn.execute("INSERT INTO reports (id, era, submission_id, kind, received_at, imported_at, batch_id,"
                     " report_sha256, query_code_sha256, reporter_has_contact, real_name, report_json)"
                     " VALUES (65536, 1, ?, 'gang_crime', 'x', 'x', ?, ?, ?, 0, 0, x'')",
                     (sids[0], batch, "a" * 64, hashlib.sha256(sids[0].encode()).hexdigest()))
        conn.execute("PRAGMA query_only = ON")
        problems = {(p.code, p.object) for p in s.check().problems}
        assert ("store.duplicate_key", sids[0]) in problems
        assert ("store.duplicate_key", hashlib.sha256(sids[0].encode()).hexdigest()) in problems
        assert ("store.era", "era 1") in problems
        assert ("store.key_filter", "key_filter") in problems
