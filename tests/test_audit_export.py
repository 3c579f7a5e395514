"""``audit export`` and verifying an export with no store: round trip, edits to the
export's files, and ``--previous`` (a later export must extend an earlier one)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from cluetool import audit
from cluetool.errors import InputError, StateError
from cluetool.formats import minisign
from cluetool.audit.checkpoints import note_signer
from cluetool.formats.note import format_checkpoint, sign_note
from cluetool.store import Store
from cluetool.store.audit_entries import iter_entries
from tests.test_audit import MIGRATED, NOW, STORES, add_entries, backend_url, keys_of, make_store


@pytest.fixture
def sk() -> minisign.SecretKey:
    return minisign.SecretKey.generate()


@pytest.fixture(params=STORES)
def store(tmp_path: Path, sk: minisign.SecretKey, request: pytest.FixtureRequest) -> Store:
    """250 entries after the MIGRATED store.migrate ones, with checkpoints at MIGRATED + 100
    and MIGRATED + 250 entries; in SQLite and in PostgreSQL (issue 22)."""
    s = make_store(tmp_path / "home", backend_url(request))
    add_entries(s, 100)
    audit.checkpoint(s, sk, now=NOW)
    add_entries(s, 150, start=100)
    audit.checkpoint(s, sk, now=NOW)
    yield s
    s.close()


def do_export(store: Store, sk: minisign.SecretKey, out: Path) -> audit.ExportResult:
    return audit.export(store, out, public_key_text=sk.public_key.to_file_text())


def lines_of(d: Path) -> list[bytes]:
    return (d / "entries.jsonl").read_bytes().splitlines(keepends=True)


def write_lines(d: Path, lines: list[bytes]) -> None:
    (d / "entries.jsonl").write_bytes(b"".join(lines))


def failed(d: Path, sk: minisign.SecretKey, previous: Path | None = None) -> set[tuple[str, int | None]]:
    report = audit.verify_export(d, keys_of(sk), previous=previous)
    assert not report.ok
    return {(f.code, f.seq) for f in report.findings}


@pytest.fixture
def exported(store: Store, sk: minisign.SecretKey, tmp_path: Path) -> Path:
    do_export(store, sk, tmp_path / "exp")
    return tmp_path / "exp"


def test_audit_export_writes_signed_entries_and_keys(store: Store, sk: minisign.SecretKey, tmp_path: Path) -> None:
    add_entries(store, 7, start=250)  # unsigned: left out
    result = do_export(store, sk, tmp_path / "exp")
    d = tmp_path / "exp"
    assert result.entries == MIGRATED + 250 and result.unsigned_entries == 7
    assert sorted(p.name for p in d.iterdir()) == result.files
    assert lines_of(d) == [e.entry + b"\n" for e in iter_entries(store) if e.seq < MIGRATED + 250]
    assert (d / "checkpoint.txt").read_text() == audit.list_checkpoints(store).checkpoints[-1].note
    assert [json.loads(x)["size"] for x in (d / "checkpoints.jsonl").read_text().splitlines()] == [
        MIGRATED + 100, MIGRATED + 250]
    assert minisign.PublicKey.parse((d / "key.pub").read_text()).key == sk.public_key.key


def test_audit_export_verify_round_trip_with_pub_and_vkey(exported: Path) -> None:
    for key in ("key.pub", "key.vkey"):
        report = audit.verify_export(exported, audit.read_key_files([exported / key]))
        assert report.ok and report.findings == [], report.findings
        assert report.summary.entries == MIGRATED + 250 and report.summary.checkpoints_verified == 2


def test_audit_export_into_non_empty_dir_refused(store: Store, sk: minisign.SecretKey, tmp_path: Path) -> None:
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "x").write_text("x")
    with pytest.raises(InputError, match="not empty"):
        do_export(store, sk, tmp_path / "busy")


def test_audit_export_with_wrong_key_refused(store: Store, tmp_path: Path) -> None:
    with pytest.raises(StateError, match="not signed by this key"):
        do_export(store, minisign.SecretKey.generate(), tmp_path / "exp")


def test_audit_export_edit_one_byte_canonical_bounded_by_checkpoints(exported: Path, sk: minisign.SecretKey) -> None:
    lines = lines_of(exported)
    lines[150] = lines[150].replace(b"report:", b"rep0rt:")
    write_lines(exported, lines)
    assert failed(exported, sk) == {("audit.inconsistent", MIGRATED + 100)}


def test_audit_export_edit_noncanonical_named(exported: Path, sk: minisign.SecretKey) -> None:
    lines = lines_of(exported)
    lines[33] = lines[33].replace(b'{"action"', b'{ "action"')
    write_lines(exported, lines)
    assert ("audit.noncanonical", 33) in failed(exported, sk)


def test_audit_export_deleted_line_named(exported: Path, sk: minisign.SecretKey) -> None:
    lines = lines_of(exported)
    del lines[60]
    write_lines(exported, lines)
    found = failed(exported, sk)
    assert ("audit.seq_mismatch", 60) in found and ("audit.truncated", MIGRATED + 249) in found


def test_audit_export_inserted_line_named(exported: Path, sk: minisign.SecretKey) -> None:
    lines = lines_of(exported)
    lines.insert(200, lines[199])
    write_lines(exported, lines)
    found = failed(exported, sk)
    assert ("audit.seq_mismatch", 200) in found and ("audit.extra_entries", MIGRATED + 250) in found


def test_audit_export_swapped_lines_named(exported: Path, sk: minisign.SecretKey) -> None:
    lines = lines_of(exported)
    lines[3], lines[4] = lines[4], lines[3]
    write_lines(exported, lines)
    found = failed(exported, sk)
    assert {s for c, s in found if c == "audit.seq_mismatch"} == {3, 4}


def test_audit_export_truncated_after_checkpoint(exported: Path, sk: minisign.SecretKey) -> None:
    write_lines(exported, lines_of(exported)[:180])
    assert ("audit.truncated", 180) in failed(exported, sk)


def test_audit_export_rebuilt_and_resigned_with_other_key(exported: Path, sk: minisign.SecretKey) -> None:
    lines = lines_of(exported)
    lines[10] = lines[10].replace(b"report:", b"rep0rt:")
    write_lines(exported, lines)
    from cluetool.formats.merkle import leaf_hash, root_from_leaf_hashes

    root = root_from_leaf_hashes(leaf_hash(x.rstrip(b"\n")) for x in lines)
    other = minisign.SecretKey.generate()
    origin = audit.default_origin(sk)
    note = sign_note(format_checkpoint(origin, len(lines), root), [note_signer(origin, other)])
    (exported / "checkpoint.txt").write_text(note)
    (exported / "checkpoints.jsonl").unlink()
    (exported / "key.pub").write_text(other.public_key.to_file_text())
    assert failed(exported, sk) == {("audit.checkpoint_signature", None)}
    # Checked with the key it now carries, it verifies: the key must come out of band.
    assert audit.verify_export(exported, audit.read_key_files([exported / "key.pub"])).ok


def test_audit_export_previous_consistent(store: Store, sk: minisign.SecretKey, tmp_path: Path) -> None:
    do_export(store, sk, tmp_path / "old")
    add_entries(store, 333, start=250)
    audit.checkpoint(store, sk, now=NOW)
    do_export(store, sk, tmp_path / "new")
    report = audit.verify_export(tmp_path / "new", keys_of(sk), previous=tmp_path / "old")
    assert report.ok and report.findings == [], report.findings
    assert report.summary.entries == MIGRATED + 583


def test_audit_export_previous_with_other_history_named(store: Store, sk: minisign.SecretKey, tmp_path: Path) -> None:
    do_export(store, sk, tmp_path / "old")
    add_entries(store, 20, start=250)
    audit.checkpoint(store, sk, now=NOW)
    do_export(store, sk, tmp_path / "new")
    lines = lines_of(tmp_path / "new")
    lines[42] = lines[42].replace(b"report:", b"rep0rt:")
    write_lines(tmp_path / "new", lines)
    found = failed(tmp_path / "new", sk, previous=tmp_path / "old")
    assert ("audit.prefix_mismatch", 42) in found
    assert ("audit.inconsistent", 0) in found


def test_audit_export_previous_longer_than_new_is_truncation(store: Store, sk: minisign.SecretKey, tmp_path: Path) -> None:
    do_export(store, sk, tmp_path / "new")
    add_entries(store, 5, start=250)
    audit.checkpoint(store, sk, now=NOW)
    do_export(store, sk, tmp_path / "old")
    assert ("audit.truncated", MIGRATED + 250) in failed(tmp_path / "new", sk, previous=tmp_path / "old")


def test_audit_export_verify_needs_key_and_export(tmp_path: Path, sk: minisign.SecretKey) -> None:
    with pytest.raises(InputError):
        audit.verify_export(tmp_path, audit.TrustedKeys())
    with pytest.raises(InputError, match="not an audit export"):
        audit.verify_export(tmp_path, keys_of(sk))
    shutil.rmtree(tmp_path)
    with pytest.raises(InputError, match="not an audit export"):
        audit.verify_export(tmp_path, keys_of(sk))
