"""Content-addressed attachment blobs (cluetool/store/migrations.py): atomic, idempotent, verified writes
and a check that finds missing, tampered, orphaned and exposed blobs."""

from __future__ import annotations

import hashlib
import io
import os
import stat
from datetime import datetime, timezone
from pathlib import Path

import pytest

from cluetool.errors import InputError, StateError
from cluetool.model.store import ReportAttachment, ReportRow
from cluetool.store import BlobStore, Store, queries
from cluetool.store.audit_entries import append_entry
from cluetool.store.integrity import check_store
from cluetool.store.pgstore import PgStore

NOW = datetime(2026, 11, 24, 2, 0, tzinfo=timezone.utc)
JPEG = b"\xff\xd8\xff\xe0" + bytes(range(256)) * 10 + b"\xff\xd9"
JPEG_SHA = hashlib.sha256(JPEG).hexdigest()


def files_under(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())


@pytest.fixture
def blobs(tmp_path: Path) -> BlobStore:
    return BlobStore(tmp_path / "blobs")


def test_blobs_put_writes_content_addressed_private_file(blobs: BlobStore) -> None:
    sha, size = blobs.put(io.BytesIO(JPEG))
    assert (sha, size) == (JPEG_SHA, len(JPEG))
    path = blobs.root / sha[:2] / sha
    assert path.read_bytes() == JPEG
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE(blobs.root.stat().st_mode) == 0o700
    assert files_under(blobs.root) == [path]  # no temporary file left
    with blobs.open(sha) as f:
        assert f.read() == JPEG


def test_blobs_put_twice_is_idempotent(blobs: BlobStore) -> None:
    first = blobs.put(io.BytesIO(JPEG), expected_sha256=JPEG_SHA)
    mtime = (blobs.root / JPEG_SHA[:2] / JPEG_SHA).stat().st_mtime_ns
    assert blobs.put(io.BytesIO(JPEG), expected_sha256=JPEG_SHA) == first
    assert (blobs.root / JPEG_SHA[:2] / JPEG_SHA).stat().st_mtime_ns == mtime
    assert len(files_under(blobs.root)) == 1


def test_blobs_put_mismatch_raises_and_leaves_nothing(blobs: BlobStore) -> None:
    with pytest.raises(InputError, match="does not match"):
        blobs.put(io.BytesIO(JPEG + b"trailing"), expected_sha256=JPEG_SHA)
    assert files_under(blobs.root) == []
    assert not blobs.exists(JPEG_SHA)


def test_blobs_put_replaces_tampered_existing_blob(blobs: BlobStore) -> None:
    blobs.put(io.BytesIO(JPEG))
    path = blobs.root / JPEG_SHA[:2] / JPEG_SHA
    path.write_bytes(b"tampered")
    blobs.put(io.BytesIO(JPEG), expected_sha256=JPEG_SHA)
    assert path.read_bytes() == JPEG


def test_blobs_put_malformed_expected_sha_raises(blobs: BlobStore) -> None:
    with pytest.raises(InputError, match="not a sha256"):
        blobs.put(io.BytesIO(JPEG), expected_sha256=JPEG_SHA.upper())


def test_blobs_open_missing_raises_state_error(blobs: BlobStore) -> None:
    with pytest.raises(StateError, match="missing"):
        blobs.open("0" * 64)


def test_blobs_open_rejects_path_like_names(blobs: BlobStore) -> None:
    with pytest.raises(InputError):
        blobs.open("../../etc/passwd")


# -- check -----------------------------------------------------------------------------------


@pytest.fixture(params=["sqlite", "postgresql"])
def store(tmp_path: Path, request: pytest.FixtureRequest):
    """A new store in SQLite and in PostgreSQL (issue 22), its blobs in ``tmp_path/blobs``."""
    if request.param == "sqlite":
        s = Store.create(tmp_path / "store.db", now=NOW)
    else:
        s = PgStore.create_url(request.getfixturevalue("pg_url"), blobs_dir=tmp_path / "blobs", now=NOW)
    yield s
    s.close()


def reference(store: Store, *contents: bytes) -> list[str]:
    """Put the blobs and a report referencing them, as an import would."""
    shas = [store.blobs.put(io.BytesIO(c))[0] for c in contents]
    atts = [ReportAttachment(sha256=s, size=len(c), type="jpg", file=f"{i}.jpg")
            for i, (s, c) in enumerate(zip(shas, contents))]
    body = b'{"r":1}'
    with store.write() as tx:
        batch = queries.insert_batch(
            tx, source="intake-bj", sequence=1, manifest_sha256="1" * 64, previous_sha256="0" * 64,
            payload_sha256="2" * 64, signer="0123456789abcdef", created_at="2026-11-24T02:00:00Z",
            imported_at=NOW, reports=1, attachments=len(atts))
        queries.set_source_state(tx, source="intake-bj", last_sequence=1, last_manifest_sha256="1" * 64,
                                 updated_at=NOW)
        queries.insert_reports(tx, batch_id=batch.id, imported_at=NOW, reports=[ReportRow(
            submission_id="aaaaaaaa-0000-4000-8000-000000000001", kind="gang_crime", received_at=NOW,
            report_sha256=hashlib.sha256(body).hexdigest(), query_code_sha256="3" * 64, region=None,
            reporter_has_contact=False, real_name=False, report_json=body, attachments=atts)])
        append_entry(tx, at=NOW, actor="cluetool-import", action="report.import",
                     object="aaaaaaaa-0000-4000-8000-000000000001",
                     details={"batch": "intake-bj/1", "report_sha256": hashlib.sha256(body).hexdigest(),
                              "attachments": shas})
    return shas


def codes(store: Store) -> list[tuple[str, str]]:
    return sorted((p.code, p.severity) for p in check_store(store).problems)


def test_blobs_check_clean_store_has_no_problems(store: Store) -> None:
    reference(store, JPEG, b"second")
    report = check_store(store)
    assert report.ok and report.problems == []


def test_blobs_check_tampered_blob_found(store: Store) -> None:
    sha, _ = reference(store, JPEG, b"second")
    path = store.blobs.root / sha[:2] / sha
    data = bytearray(path.read_bytes())
    data[10] ^= 1  # same size, one bit flipped
    path.write_bytes(bytes(data))
    report = check_store(store)
    assert not report.ok
    assert [(p.code, p.object) for p in report.problems] == [("blob.tampered", str(path))]


def test_blobs_check_missing_blob_found(store: Store) -> None:
    sha, other = reference(store, JPEG, b"second")
    (store.blobs.root / sha[:2] / sha).unlink()
    report = check_store(store)
    assert not report.ok
    assert [(p.code, sha in p.message) for p in report.problems] == [("blob.missing", True)]


def test_blobs_check_orphan_and_stray_reported_as_info(store: Store) -> None:
    reference(store, JPEG)
    store.blobs.put(io.BytesIO(b"never referenced"))  # e.g. an import that rolled back
    (store.blobs.root / ".tmp-leftover").write_bytes(b"partial")
    report = check_store(store)
    assert report.ok
    assert codes(store) == [("blob.orphan", "info"), ("blob.stray", "info")]


def test_blobs_check_wrong_permissions_found(store: Store) -> None:
    (sha,) = reference(store, JPEG)
    os.chmod(store.blobs.root / sha[:2] / sha, 0o644)
    os.chmod(store.blobs.root / sha[:2], 0o755)
    assert codes(store) == [("blob.permissions", "error"), ("blob.permissions", "error")]


def test_blobs_check_symlink_not_followed(store: Store, tmp_path: Path) -> None:
    (sha,) = reference(store, JPEG)
    path = store.blobs.root / sha[:2] / sha
    outside = tmp_path / "outside.jpg"
    outside.write_bytes(JPEG)
    path.unlink()
    path.symlink_to(outside)
    assert codes(store) == [("blob.missing", "error"), ("blob.not_regular", "error")]
