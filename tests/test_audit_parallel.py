"""``audit verify`` on every core (``cluetool.audit.parallel``) gives the same report as
the sequential pass: same roots, same findings, and a fallback when entries are out of
order. Blocks are made small so that a small log spans many."""

from __future__ import annotations

from pathlib import Path

import pytest

from cluetool import audit
from cluetool.audit import parallel
from cluetool.formats import minisign
from tests.test_audit import MIGRATED, NOW, add_entries, keys_of, make_store, tamper


@pytest.fixture
def small_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(parallel, "BLOCK", 256)


def both(store: object, keys: audit.TrustedKeys) -> tuple[audit.AuditReport, audit.AuditReport]:
    return audit.verify_store(store, keys, parallel=True), audit.verify_store(store, keys, parallel=False)  # type: ignore[arg-type]


def test_parallel_verify_equals_sequential_on_a_clean_log(tmp_path: Path, small_blocks: None) -> None:
    sk = minisign.SecretKey.generate()
    store = make_store(tmp_path)
    add_entries(store, 700)
    audit.checkpoint(store, sk, now=NOW)  # a checkpoint inside a block
    add_entries(store, 1000 - MIGRATED, start=700)
    audit.checkpoint(store, sk, now=NOW)
    add_entries(store, 333, start=1000)
    fast, slow = both(store, keys_of(sk))
    assert fast.ok and slow.ok
    assert fast.summary == slow.summary and fast.findings == slow.findings


def test_parallel_verify_names_an_edited_entry_like_sequential(tmp_path: Path, small_blocks: None) -> None:
    sk = minisign.SecretKey.generate()
    store = make_store(tmp_path)
    add_entries(store, 900)
    audit.checkpoint(store, sk, now=NOW)
    seq = MIGRATED + 600
    tamper(store, ("UPDATE audit_log SET entry = replace(entry, 'report:', 'rep0rt:') WHERE seq = ?", (seq,)))
    fast, slow = both(store, keys_of(sk))
    assert not fast.ok and fast.findings == slow.findings and fast.summary == slow.summary
    assert ("audit.leaf_mismatch", seq) in {(f.code, f.seq) for f in fast.findings}


def test_parallel_verify_falls_back_on_a_moved_entry(tmp_path: Path, small_blocks: None) -> None:
    sk = minisign.SecretKey.generate()
    store = make_store(tmp_path)
    add_entries(store, 900)
    audit.checkpoint(store, sk, now=NOW)
    # Swap two entries' bytes (and their stored hashes): positions no longer match seq.
    a, b = MIGRATED + 300, MIGRATED + 700
    tamper(store,
           ("UPDATE audit_log SET seq = 1000000 WHERE seq = ?", (a,)),
           ("UPDATE audit_log SET seq = ? WHERE seq = ?", (a, b)),
           ("UPDATE audit_log SET seq = ? WHERE seq = 1000000", (b,)))
    fast, slow = both(store, keys_of(sk))
    assert not fast.ok and fast.findings == slow.findings
    assert {"audit.seq_mismatch", "audit.inconsistent"} <= {f.code for f in fast.findings}


def test_check_block_reports_out_of_order(tmp_path: Path) -> None:
    store = make_store(tmp_path)
    add_entries(store, 600)
    tamper(store, ("DELETE FROM audit_log WHERE seq = ?", (MIGRATED + 100,)))
    result = parallel.check_block(str(store.path), 0, 512, [])
    assert result.in_order is False
    assert parallel.check_block(str(store.path), 512, 600 + MIGRATED, []).in_order is True


@pytest.mark.parametrize("at", ["2026-11-24T02:00:00Z", "2026-11-24T02:00:00.000000+00:00", "2026-11-24T02:00:0\u0663.000000Z"])
def test_parallel_verify_names_an_at_not_in_the_writers_form(tmp_path: Path, small_blocks: None, at: str) -> None:
    # The bulk check's template comparison sends the chunk to the per-entry path, which
    # names the entry (also for a non-ASCII digit, which is no digit of the form).
    import hashlib
    import json

    sk = minisign.SecretKey.generate()
    store = make_store(tmp_path)
    add_entries(store, 900)
    seq = MIGRATED + 400
    with store.read() as tx:
        entry = json.loads(bytes(tx.execute("SELECT entry FROM audit_log WHERE seq = ?", (seq,)).fetchone()[0]))
    entry["at"] = at
    raw = json.dumps(entry, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    tamper(store, ("UPDATE audit_log SET entry = ?, leaf_hash = ? WHERE seq = ?",
                   (raw, hashlib.sha256(b"\0" + raw).digest(), seq)))
    fast, slow = both(store, keys_of(sk))
    assert fast.findings == slow.findings and fast.summary == slow.summary
    errors = [f for f in fast.findings if f.severity == "error"]
    assert [(f.code, f.seq) for f in errors] == [("audit.noncanonical", seq)] and "RFC 3339" in errors[0].message


def test_check_block_reports_a_missing_last_row(tmp_path: Path) -> None:
    # Rows are counted, not their seq read: one row short of the range is out of order.
    store = make_store(tmp_path)
    add_entries(store, 600)
    tamper(store, ("DELETE FROM audit_log WHERE seq = 511",))
    assert parallel.check_block(str(store.path), 0, 512, []).in_order is False
    assert parallel.check_block(str(store.path), 256, 511, []).in_order is True
