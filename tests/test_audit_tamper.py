"""Tampering with the stored audit trail through raw SQL (triggers dropped first): every
change is found, with its stable code and the sequence number it concerns, in an SQLite
and in a PostgreSQL store."""

from __future__ import annotations

from pathlib import Path

import pytest

from cluetool import audit
from cluetool.audit.engine import AuditReport
from cluetool.formats import minisign
from cluetool.store import Store
from cluetool.store.audit_entries import leaf_hash
from tests.test_audit import MIGRATED, NOW, STORES, add_entries, backend_url, entry_bytes, keys_of, make_store, tamper


@pytest.fixture
def sk() -> minisign.SecretKey:
    return minisign.SecretKey.generate()


@pytest.fixture(params=STORES)
def log(tmp_path: Path, sk: minisign.SecretKey, request: pytest.FixtureRequest) -> Store:
    """300 entries after the MIGRATED store.migrate ones, with checkpoints 1, 2 and 3 at
    MIGRATED + 100, + 200 and + 300 entries, plus 9 unsigned ones (entry ``seq`` holds
    ``"n": seq - MIGRATED``)."""
    store = make_store(tmp_path, backend_url(request))
    for k in range(3):
        add_entries(store, 100, start=100 * k)
        audit.checkpoint(store, sk, now=NOW)
    add_entries(store, 9, start=300)
    assert audit.verify_store(store, keys_of(sk)).ok
    yield store
    store.close()


def codes(report: AuditReport) -> set[tuple[str, int | None]]:
    return {(f.code, f.seq) for f in report.findings}


def verify(store: Store, sk: minisign.SecretKey) -> AuditReport:
    report = audit.verify_store(store, keys_of(sk))
    assert not report.ok
    return report


def test_audit_tamper_one_byte_of_entry_names_leaf(log: Store, sk: minisign.SecretKey) -> None:
    original = entry_bytes(log, 150)
    edited = original.replace(f'"n":{150 - MIGRATED},'.encode(), f'"n":{149 - MIGRATED},'.encode())
    assert edited != original
    tamper(log, ("UPDATE audit_log SET entry = ? WHERE seq = 150", (edited,)))
    report = verify(log, sk)
    assert ("audit.leaf_mismatch", 150) in codes(report)
    # Checkpoints 2 and 3 no longer match; checkpoint 1 (below seq 150) still does.
    assert {(f.code, f.checkpoint) for f in report.findings if f.code == "audit.inconsistent"} == {
        ("audit.inconsistent", 2), ("audit.inconsistent", 3)}


def test_audit_tamper_entry_and_leaf_hash_bounded_by_checkpoints(log: Store, sk: minisign.SecretKey) -> None:
    edited = entry_bytes(log, 150).replace(b"report:", b"rep0rt:")
    tamper(log, ("UPDATE audit_log SET entry = ?, leaf_hash = ? WHERE seq = 150", (edited, leaf_hash(edited))))
    report = verify(log, sk)
    # Canonical and self-consistent: only the signed roots show it, between checkpoints 1 and 2.
    assert codes(report) == {("audit.inconsistent", MIGRATED + 100)}
    assert f"{MIGRATED + 100}..{MIGRATED + 199}" in report.findings[0].message


def test_audit_tamper_noncanonical_entry_named(log: Store, sk: minisign.SecretKey) -> None:
    edited = entry_bytes(log, 42).replace(b'"action":', b'"action": ')
    tamper(log, ("UPDATE audit_log SET entry = ?, leaf_hash = ? WHERE seq = 42", (edited, leaf_hash(edited))))
    assert ("audit.noncanonical", 42) in codes(verify(log, sk))


def test_audit_tamper_deleted_entry_is_gap(log: Store, sk: minisign.SecretKey) -> None:
    tamper(log, "DELETE FROM audit_log WHERE seq = 77")
    report = verify(log, sk)
    assert ("audit.seq_gap", 77) in codes(report)
    assert "audit.seq_mismatch" not in {f.code for f in report.findings}


def test_audit_tamper_deleted_and_renumbered_named(log: Store, sk: minisign.SecretKey) -> None:
    tamper(log, "DELETE FROM audit_log WHERE seq = 77", "UPDATE audit_log SET seq = seq - 1 WHERE seq > 77")
    report = verify(log, sk)
    mismatch = [f for f in report.findings if f.code == "audit.seq_mismatch"]
    assert [(f.seq, "removed" in f.message) for f in mismatch] == [(77, True)]
    assert ("audit.truncated", MIGRATED + 308) not in codes(report)


def test_audit_tamper_inserted_entry_named(log: Store, sk: minisign.SecretKey) -> None:
    forged = entry_bytes(log, 120)  # a copy of entry 120, claiming seq 120
    tamper(
        log,
        "UPDATE audit_log SET seq = seq + 1000000 WHERE seq > 120",
        "UPDATE audit_log SET seq = seq - 999999 WHERE seq > 1000000",
        ("INSERT INTO audit_log (seq, entry, leaf_hash) VALUES (121, ?, ?)", (forged, leaf_hash(forged))),
    )
    report = verify(log, sk)
    mismatch = [f for f in report.findings if f.code == "audit.seq_mismatch"]
    assert [(f.seq, "inserted" in f.message) for f in mismatch] == [(121, True)]
    assert {(f.code, f.checkpoint) for f in report.findings if f.code == "audit.inconsistent"} == {
        ("audit.inconsistent", 2), ("audit.inconsistent", 3)}


def test_audit_tamper_swapped_entries_named(log: Store, sk: minisign.SecretKey) -> None:
    a, b = entry_bytes(log, 10), entry_bytes(log, 250)
    tamper(
        log,
        ("UPDATE audit_log SET entry = ?, leaf_hash = ? WHERE seq = 10", (b, leaf_hash(b))),
        ("UPDATE audit_log SET entry = ?, leaf_hash = ? WHERE seq = 250", (a, leaf_hash(a))),
    )
    report = verify(log, sk)
    assert {(f.code, f.seq) for f in report.findings if f.code == "audit.seq_mismatch"} == {
        ("audit.seq_mismatch", 10), ("audit.seq_mismatch", 250)}
    assert ("audit.inconsistent", 0) in codes(report)


def test_audit_tamper_truncated_after_checkpoint(log: Store, sk: minisign.SecretKey) -> None:
    tamper(log, "DELETE FROM audit_log WHERE seq >= 290")
    report = verify(log, sk)
    assert ("audit.truncated", 290) in codes(report)
    assert [f.checkpoint for f in report.findings if f.code == "audit.truncated"] == [3]


def test_audit_tamper_rebuilt_log_resigned_with_other_key(log: Store, sk: minisign.SecretKey) -> None:
    # Rewrite an entry properly, drop the checkpoints and sign the new history with
    # another key: every checkpoint now fails the home key.
    seq = MIGRATED + 4  # an entry of add_entries (a store.migrate entry has no "report:")
    edited = entry_bytes(log, seq).replace(b"report:", b"rep0rt:")
    tamper(log, ("UPDATE audit_log SET entry = ?, leaf_hash = ? WHERE seq = ?", (edited, leaf_hash(edited), seq)),
           "DELETE FROM checkpoints")
    import shutil

    from cluetool.audit.tree import cache_dir_for

    shutil.rmtree(cache_dir_for(log), ignore_errors=True)
    other = minisign.SecretKey.generate()
    forged = audit.checkpoint(log, other, now=NOW, origin=audit.default_origin(sk))
    report = verify(log, sk)
    assert [(f.code, f.checkpoint) for f in report.findings] == [("audit.checkpoint_signature", forged.id)]
    assert report.summary.checkpoints_verified == 0


def test_audit_tamper_checkpoint_row_root_edited(log: Store, sk: minisign.SecretKey) -> None:
    tamper(log, ("UPDATE checkpoints SET root = ? WHERE id = 2", (bytes(32),)))
    assert {(f.code, f.checkpoint) for f in verify(log, sk).findings} == {("audit.checkpoint_malformed", 2)}


def test_audit_tamper_checkpoint_note_edited(log: Store, sk: minisign.SecretKey) -> None:
    size = MIGRATED + 200  # checkpoint 2's tree size, on its own line in the note
    tamper(log, ("UPDATE checkpoints SET note = replace(note, ?, ?) WHERE id = 2", (f"\n{size}\n", f"\n{size - 1}\n")))
    found = {(f.code, f.checkpoint) for f in verify(log, sk).findings}
    assert ("audit.checkpoint_signature", 2) in found and ("audit.checkpoint_malformed", 2) in found


def test_audit_tamper_renumbered_everything_is_one_finding_per_run(log: Store, sk: minisign.SecretKey) -> None:
    tamper(log, "DELETE FROM audit_log WHERE seq = 0", "UPDATE audit_log SET seq = seq - 1")
    mismatch = [f for f in verify(log, sk).findings if f.code == "audit.seq_mismatch"]
    assert len(mismatch) == 1 and mismatch[0].seq == 0


def test_audit_tamper_unsafe_integer_is_noncanonical(log: Store, sk: minisign.SecretKey) -> None:
    original = entry_bytes(log, 30)
    edited = original.replace(f'"n":{30 - MIGRATED},'.encode(), b'"n":9007199254740993,')
    assert edited != original
    tamper(log, ("UPDATE audit_log SET entry = ?, leaf_hash = ? WHERE seq = 30", (edited, leaf_hash(edited))))
    found = [f for f in verify(log, sk).findings if f.code == "audit.noncanonical"]
    assert [f.seq for f in found] == [30] and "safe range" in found[0].message


def test_audit_tamper_text_instead_of_blob_is_a_finding(log: Store, sk: minisign.SecretKey) -> None:
    seq = MIGRATED + 11  # an entry of add_entries (a store.migrate entry has no "report:")
    tamper(log, ("UPDATE audit_log SET entry = replace(entry, 'report:', 'rep0rt:') WHERE seq = ?", (seq,)))
    assert ("audit.leaf_mismatch", seq) in codes(verify(log, sk))
