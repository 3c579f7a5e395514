"""The store: create/open, pragmas and modes, refusal of foreign or newer files, audit
entries in the same transaction, and the query interface (cluetool/store/migrations.py, docs/audit.md)."""

from __future__ import annotations

import hashlib
import io
import os
import sqlite3
import stat
from datetime import datetime, timedelta, timezone
from pathlib import Path

import psycopg
import pytest

from cluetool.errors import InputError, StateError
from cluetool.formats.canonical import dumps
from cluetool.model.store import Fingerprint, ReportAttachment, ReportRow, ReportStage
from cluetool.store import Store, queries
from cluetool.store.audit_entries import append_entry, audit_size, iter_entries
from cluetool.store.integrity import check_store
from cluetool.store.migrations import APPLICATION_ID, latest_version
from cluetool.store.pgstore import PgStore

NOW = datetime(2026, 11, 24, 2, 0, 0, tzinfo=timezone.utc)
CST = timezone(timedelta(hours=8))


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def fp(text: str) -> str:
    """A fingerprint value (128 bits, 32 hex digits)."""
    return sha(text)[:32]


def make_report(submission_id: str, *, n: int = 0, attachments: list[ReportAttachment] | None = None,
                fingerprints: list[Fingerprint] | None = None) -> ReportRow:
    body = dumps({"submission_id": submission_id, "n": n})
    return ReportRow(
        submission_id=submission_id,
        kind="gang_crime",
        received_at=datetime(2026, 11, 20, 20, 0, tzinfo=timezone.utc) + timedelta(seconds=n),
        report_sha256=hashlib.sha256(body).hexdigest(),
        query_code_sha256=sha(f"code-{submission_id}"),
        region="110105",
        reporter_has_contact=True,
        real_name=n % 2 == 0,
        report_json=body,
        attachments=attachments or [],
        fingerprints=fingerprints or [],
    )


@pytest.fixture(params=["sqlite", "postgresql"])
def store(tmp_path: Path, request: pytest.FixtureRequest):
    """A new store in SQLite and in PostgreSQL (issue 22)."""
    from tests.test_audit import make_store

    # (On PostgreSQL the log is padded to the SQLite store's migration entries: a seq
    # means the same on both.)
    s = make_store(tmp_path / "home", request.getfixturevalue("pg_url") if request.param == "postgresql" else None)
    yield s
    s.close()


def import_batch(store: Store, reports: list[ReportRow], *, sequence: int = 1, source: str = "intake-bj") -> int:
    manifest = sha(f"manifest-{source}-{sequence}")
    with store.write() as tx:
        batch = queries.insert_batch(
            tx,
            source=source,
            sequence=sequence,
            manifest_sha256=manifest,
            previous_sha256="0" * 64,
            payload_sha256=sha(f"payload-{sequence}"),
            signer="0123456789abcdef",
            created_at="2026-11-24T02:00:00Z",
            imported_at=NOW,
            reports=len(reports),
            attachments=0,
        )
        queries.insert_reports(tx, batch_id=batch.id, imported_at=NOW, reports=reports)
        queries.set_source_state(
            tx, source=source, last_sequence=sequence, last_manifest_sha256=manifest, updated_at=NOW
        )
        append_entry(tx, at=NOW, actor="test", action="batch.import", object=f"batch:{manifest}",
                     details={"reports": len(reports)})
    return batch.id


# -- create / open -------------------------------------------------------------------------


def test_store_create_sets_modes_wal_foreign_keys_and_latest_version(tmp_path: Path) -> None:
    path = tmp_path / "home" / "store.db"
    with Store.create(path, now=NOW) as s:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
        assert stat.S_IMODE((path.parent / "blobs").stat().st_mode) == 0o700
        for suffix in ("-wal", "-shm"):
            side = Path(f"{path}{suffix}")
            if side.exists():
                assert stat.S_IMODE(side.stat().st_mode) == 0o600
        assert s.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert s.execute("PRAGMA foreign_keys").fetchone()[0] == 1
        assert s.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
        assert s.execute("PRAGMA temp_store").fetchone()[0] == 2  # MEMORY
        assert s.schema_version == latest_version()
        assert s.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID


def test_store_create_under_permissive_umask_still_private(tmp_path: Path) -> None:
    old = os.umask(0o000)
    try:
        path = tmp_path / "store.db"
        Store.create(path, now=NOW).close()
    finally:
        os.umask(old)
    for f in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        if f.exists():
            assert stat.S_IMODE(f.stat().st_mode) == 0o600, f


def test_store_create_records_migration_in_audit_log(store: Store) -> None:
    entries = list(iter_entries(store))
    assert [e.seq for e in entries] == list(range(latest_version()))
    record = entries[0].record()
    assert record.action == "store.migrate"
    # SQLite: one entry per migration; PostgreSQL: the schema at its version at once.
    assert record.details["from"] == 0 and record.details["to"] == (1 if store.backend == "sqlite" else latest_version())
    assert record.at == "2026-11-24T02:00:00.000000Z"


def test_store_create_existing_raises_state_error(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    Store.create(path, now=NOW).close()
    with pytest.raises(StateError, match="already exists"):
        Store.create(path)


def test_store_create_exist_ok_opens_existing(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    Store.create(path, now=NOW).close()
    with Store.create(path, exist_ok=True) as s:
        assert s.schema_version == latest_version()
        assert audit_size(s) == latest_version()  # no second round of migrations


def test_store_open_reopens_and_keeps_data(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    with Store.create(path, now=NOW) as s:
        import_batch(s, [make_report("aaaaaaaa-0000-4000-8000-000000000001")])
    with Store.open(path) as s:
        assert queries.get_source_state(s, "intake-bj") is not None
        assert s.schema_version == latest_version()


def test_store_open_missing_raises_not_initialised(tmp_path: Path) -> None:
    with pytest.raises(StateError, match="store not initialised") as info:
        Store.open(tmp_path / "store.db")
    assert info.value.hint is not None and "cluetool init" in info.value.hint
    assert not (tmp_path / "store.db").exists()  # opening never creates


def test_store_open_empty_file_raises_not_initialised(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    path.write_bytes(b"")
    with pytest.raises(StateError, match="store not initialised"):
        Store.open(path)


def test_store_open_newer_schema_raises_state_error(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    Store.create(path, now=NOW).close()
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {latest_version() + 1}")
    conn.close()
    with pytest.raises(StateError) as info:
        Store.open(path)
    assert str(info.value) == (
        f"store schema v{latest_version() + 1} is newer than this cluetool (v{latest_version()})"
    )
    assert info.value.hint == "upgrade cluetool"
    assert info.value.exit_code == 3


def test_store_open_not_sqlite_raises_state_error(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    path.write_bytes(b"this is not a database, just text that is long enough " * 40)
    with pytest.raises(StateError, match="store damaged") as info:
        Store.open(path)
    assert info.value.hint is not None


def test_store_open_other_sqlite_file_raises_state_error(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE t (x)")
    conn.commit()
    conn.close()
    with pytest.raises(StateError, match="not a cluetool store"):
        Store.open(path)
    conn = sqlite3.connect(path)
    assert conn.execute("SELECT name FROM sqlite_master").fetchall() == [("t",)]  # untouched
    conn.close()


def test_store_open_unreadable_raises_state_error(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    Store.create(path, now=NOW).close()
    os.chmod(path, 0o000)
    try:
        if os.geteuid() != 0:
            with pytest.raises(StateError):
                Store.open(path)
            return
        # root reads any file: the same open, in a child that has dropped to an unprivileged user
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child reports through its exit status only
            code = 3
            try:
                os.setgid(65534)
                os.setuid(65534)
                Store.open(path)
                code = 1
            except StateError:
                code = 0
            except BaseException:
                code = 2
            os._exit(code)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0, "an unreadable store must raise StateError"
    finally:
        os.chmod(path, 0o600)


def test_store_write_nested_raises(store: Store) -> None:
    with store.write():
        with pytest.raises(RuntimeError):
            with store.write():
                pass


# -- audit entries -------------------------------------------------------------------------


def test_audit_append_entry_canonical_bytes_and_leaf_hash(store: Store) -> None:
    at = datetime(2026, 11, 24, 10, 0, 0, 123456, tzinfo=CST)
    with store.write() as tx:
        entry = append_entry(tx, at=at, actor="alice", action="clue.assign",
                             object="report:abc", details={"unit": "u1", "ids": ["a", "b"], "n": 3, "x": None})
    seq = latest_version()
    expected = (
        b'{"action":"clue.assign","actor":"alice","at":"2026-11-24T02:00:00.123456Z",'
        b'"details":{"ids":["a","b"],"n":3,"unit":"u1","x":null},"object":"report:abc","seq":'
        + str(seq).encode() + b"}"
    )
    assert entry.seq == seq
    assert entry.entry == expected
    assert entry.leaf_hash == hashlib.sha256(b"\x00" + expected).digest()
    stored = list(iter_entries(store, start=seq))
    assert stored == [entry]
    assert stored[0].record().details == {"ids": ["a", "b"], "n": 3, "unit": "u1", "x": None}


def test_audit_append_entry_seq_increments_from_zero(store: Store) -> None:
    with store.write() as tx:
        a = append_entry(tx, at=NOW, actor="t", action="a.b", object="store", details={})
        b = append_entry(tx, at=NOW, actor="t", action="a.b", object="store", details={})
    assert (a.seq, b.seq) == (latest_version(), latest_version() + 1)
    assert [e.seq for e in iter_entries(store)] == list(range(latest_version() + 2))


def test_audit_rollback_leaves_neither_change_nor_entry(store: Store) -> None:
    before = audit_size(store)
    with pytest.raises(ZeroDivisionError):
        with store.write() as tx:
            queries.set_source_state(tx, source="intake-bj", last_sequence=1,
                                     last_manifest_sha256=sha("m"), updated_at=NOW)
            append_entry(tx, at=NOW, actor="t", action="source.set", object="source:intake-bj", details={})
            1 / 0
    assert queries.get_source_state(store, "intake-bj") is None
    assert audit_size(store) == before


@pytest.mark.parametrize(
    "details",
    [
        {"description": "x" * 201},
        {"nested": {"a": 1}},
        {"ratio": 0.5},
        {"names": ["ok", "y" * 201]},
        {"": "empty key"},
    ],
    ids=["long_string", "nested_object", "float", "long_in_list", "empty_key"],
)
def test_audit_append_entry_content_like_details_refused(store: Store, details: dict) -> None:
    before = audit_size(store)
    with store.write() as tx:
        with pytest.raises(ValueError):
            append_entry(tx, at=NOW, actor="t", action="a.b", object="store", details=details)
    assert audit_size(store) == before


def test_audit_append_entry_naive_time_refused(store: Store) -> None:
    with store.write() as tx:
        with pytest.raises(ValueError, match="time-zone"):
            append_entry(tx, at=datetime(2026, 1, 1), actor="t", action="a.b", object="store", details={})


def test_audit_log_is_append_only(store: Store) -> None:
    # SQLite: the triggers; PostgreSQL: UPDATE and DELETE revoked from the application role.
    refused = (sqlite3.IntegrityError, StateError)
    with pytest.raises(refused, match="append-only|permission denied"):
        with store.write() as tx:
            tx.execute("UPDATE audit_log SET leaf_hash = ? WHERE seq = 0", (b"\0" * 32,))
    with pytest.raises(refused, match="append-only|permission denied"):
        with store.write() as tx:
            tx.execute("DELETE FROM audit_log")
    assert audit_size(store) == latest_version()


def test_audit_record_rejects_non_canonical_entry(store: Store) -> None:
    entry = next(iter_entries(store))
    forged = type(entry)(seq=entry.seq, entry=entry.entry.replace(b",", b", ", 1), leaf_hash=entry.leaf_hash)
    with pytest.raises(ValueError, match="not a valid record"):
        forged.record()


def test_audit_iter_entries_streams_many(store: Store) -> None:
    with store.write() as tx:
        for i in range(5000):
            append_entry(tx, at=NOW, actor="t", action="a.b", object=f"report:{i}", details={"i": i})
    total = 0
    for e in iter_entries(store, start=latest_version()):
        assert e.leaf_hash == hashlib.sha256(b"\x00" + e.entry).digest()
        total += 1
    assert total == 5000


# -- sources and batches -------------------------------------------------------------------


def test_queries_source_state_roundtrip_and_update(store: Store) -> None:
    assert queries.get_source_state(store, "intake-bj") is None
    with store.write() as tx:
        queries.set_source_state(tx, source="intake-bj", last_sequence=1, last_manifest_sha256=sha("1"),
                                 updated_at=NOW)
    with store.write() as tx:
        queries.set_source_state(tx, source="intake-bj", last_sequence=2, last_manifest_sha256=sha("2"),
                                 updated_at=NOW + timedelta(days=1))
    state = queries.get_source_state(store, "intake-bj")
    assert state is not None
    assert (state.last_sequence, state.last_manifest_sha256, state.updated_at) == (
        2, sha("2"), "2026-11-25T02:00:00.000000Z")
    assert [s.source for s in queries.list_source_states(store)] == ["intake-bj"]


def test_queries_batch_lookup_by_manifest_and_sequence(store: Store) -> None:
    batch_id = import_batch(store, [make_report("aaaaaaaa-0000-4000-8000-000000000001")], sequence=7)
    by_manifest = queries.get_batch_by_manifest(store, sha("manifest-intake-bj-7"))
    by_sequence = queries.get_batch_by_sequence(store, "intake-bj", 7)
    assert by_manifest is not None and by_manifest == by_sequence
    assert (by_manifest.id, by_manifest.sequence, by_manifest.reports) == (batch_id, 7, 1)
    assert queries.get_batch_by_manifest(store, sha("other")) is None
    assert queries.get_batch_by_sequence(store, "intake-bj", 8) is None


def test_queries_insert_batch_twice_raises_input_error(store: Store) -> None:
    import_batch(store, [], sequence=1)
    with pytest.raises(InputError, match="already in the store"):
        import_batch(store, [], sequence=1)
    assert queries.get_source_state(store, "intake-bj").last_sequence == 1  # type: ignore[union-attr]


# -- reports -------------------------------------------------------------------------------


def put_blob(store: Store, content: bytes, file: str, note: str | None = None) -> ReportAttachment:
    digest, size = store.blobs.put(io.BytesIO(content))
    return ReportAttachment(sha256=digest, size=size, type="jpg", file=file, note=note)


def test_queries_insert_reports_stores_exact_bytes_and_facts(store: Store) -> None:
    att = put_blob(store, b"jpeg", "a.jpg", "photo")
    report = make_report("aaaaaaaa-0000-4000-8000-000000000001", attachments=[att],
                         fingerprints=[Fingerprint(kind="subject", value=fp("zhang san"))])
    report = ReportRow(**{**{f: getattr(report, f) for f in report.__struct_fields__},
                          "received_at": datetime(2026, 11, 21, 4, 0, tzinfo=CST)})
    import_batch(store, [report])
    row = store.execute(
        "SELECT received_at, report_json, stage, real_name FROM reports JOIN report_stages ON report_id = id"
        " WHERE submission_id = ?",
        (report.submission_id,),
    ).fetchone()
    assert row == ("2026-11-20T20:00:00.000000Z", report.report_json, "received", 1)
    assert store.execute("SELECT sha256, size, type FROM attachments").fetchall() == [(att.sha256, 4, "jpg")]
    assert store.execute("SELECT file, note FROM report_attachments").fetchall() == [("a.jpg", "photo")]


def test_queries_insert_reports_shared_attachment_stored_once(store: Store) -> None:
    att = put_blob(store, b"same", "x.jpg")
    import_batch(store, [make_report("aaaaaaaa-0000-4000-8000-000000000001", attachments=[att]),
                         make_report("aaaaaaaa-0000-4000-8000-000000000002", n=1, attachments=[att])])
    assert store.execute("SELECT count(*) FROM attachments").fetchone()[0] == 1
    assert store.execute("SELECT count(*) FROM report_attachments").fetchone()[0] == 2


def test_queries_insert_reports_existing_id_rolls_back_whole_batch(store: Store) -> None:
    first = make_report("aaaaaaaa-0000-4000-8000-000000000001")
    import_batch(store, [first], sequence=1)
    size = audit_size(store)
    fresh = make_report("aaaaaaaa-0000-4000-8000-000000000002", n=1)
    again = make_report("aaaaaaaa-0000-4000-8000-000000000001", n=2)
    with pytest.raises(InputError, match="aaaaaaaa-0000-4000-8000-000000000001 is already in the store"):
        import_batch(store, [fresh, again], sequence=2)
    assert queries.existing_submission_ids(store, [fresh.submission_id, first.submission_id]) == {
        first.submission_id
    }
    assert queries.get_batch_by_sequence(store, "intake-bj", 2) is None
    assert queries.get_source_state(store, "intake-bj").last_sequence == 1  # type: ignore[union-attr]
    assert audit_size(store) == size


def test_queries_report_by_query_code_returns_public_stage_only(store: Store) -> None:
    report = make_report("aaaaaaaa-0000-4000-8000-000000000001")
    import_batch(store, [report])
    assert queries.report_by_query_code_sha256(store, report.query_code_sha256) == ReportStage(stage="received")
    assert queries.report_by_query_code_sha256(store, sha("unknown")) is None


def test_queries_find_reports_by_fingerprints(store: Store) -> None:
    shared, own = fp("id-110105199001011234"), fp("photo")
    import_batch(store, [
        make_report("aaaaaaaa-0000-4000-8000-000000000001",
                    fingerprints=[Fingerprint(kind="subject", value=shared)]),
        make_report("bbbbbbbb-0000-4000-8000-000000000002", n=1,
                    fingerprints=[Fingerprint(kind="subject", value=shared),
                                  Fingerprint(kind="attachment", value=own)]),
    ])
    found = queries.find_reports_by_fingerprints(store, [shared, fp("nothing")])
    assert [(m.submission_id, m.value) for m in found] == [
        ("aaaaaaaa-0000-4000-8000-000000000001", shared),
        ("bbbbbbbb-0000-4000-8000-000000000002", shared),
    ]
    many = [fp(str(i)) for i in range(1200)] + [own]  # more than one IN chunk
    assert [(m.submission_id, m.kind) for m in queries.find_reports_by_fingerprints(store, many)] == [
        ("bbbbbbbb-0000-4000-8000-000000000002", "attachment")
    ]


# -- clue prefixes -------------------------------------------------------------------------


@pytest.fixture
def clues(store: Store) -> Store:
    import_batch(store, [
        make_report("3f2a9c10-aaaa-4000-8000-000000000001", n=0),
        make_report("3f2a9c10-bbbb-4000-8000-000000000002", n=1),
        make_report("7d41e0b2-cccc-4000-8000-000000000003", n=2),
    ])
    return store


def test_queries_resolve_clue_prefix_unique_returns_id(clues: Store) -> None:
    assert queries.resolve_clue_prefix(clues, "7d41e0b2") == "7d41e0b2-cccc-4000-8000-000000000003"
    assert queries.resolve_clue_prefix(clues, "3f2a9c10-b") == "3f2a9c10-bbbb-4000-8000-000000000002"
    full = "3f2a9c10-aaaa-4000-8000-000000000001"
    assert queries.resolve_clue_prefix(clues, full) == full


def test_queries_resolve_clue_prefix_ambiguous_lists_candidates(clues: Store) -> None:
    with pytest.raises(InputError) as info:
        queries.resolve_clue_prefix(clues, "3f2a9c10")
    assert "ambiguous" in str(info.value)
    assert "3f2a9c10-aaaa-4000-8000-000000000001" in str(info.value)
    assert "3f2a9c10-bbbb-4000-8000-000000000002" in str(info.value)


def test_queries_resolve_clue_prefix_too_short_raises(clues: Store) -> None:
    with pytest.raises(InputError, match="too short"):
        queries.resolve_clue_prefix(clues, "7d41e0b")


def test_queries_resolve_clue_prefix_none_raises(clues: Store) -> None:
    with pytest.raises(InputError, match='no clue "7d41e0b3"'):
        queries.resolve_clue_prefix(clues, "7d41e0b3")


# -- check -----------------------------------------------------------------------------------


def test_store_check_clean_store_ok(store: Store) -> None:
    report = check_store(store)
    assert report.ok and report.problems == [] and report.schema == "cluetool.store-check/1"


def test_store_check_finds_broken_foreign_key_and_permissions(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    Store.create(path, now=NOW).close()
    conn = sqlite3.connect(path)
    conn.execute("INSERT INTO report_attachments (report_id, submission_id, file, sha256) VALUES (7, 'x', 'f', ?)",
                 (sha("nothing"),))
    conn.commit()
    conn.close()
    os.chmod(path, 0o644)
    with Store.open(path) as s:
        report = check_store(s)
    assert not report.ok
    assert {p.code for p in report.problems} >= {"store.foreign_key", "store.permissions"}


def test_store_open_damaged_database_raises_state_error(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    with Store.create(path, now=NOW) as s:
        import_batch(s, [make_report("aaaaaaaa-0000-4000-8000-000000000001")])
        s.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    data = bytearray(path.read_bytes())
    data[100:] = b"\xa5" * (len(data) - 100)  # keep the 100-byte header, garble every page
    path.write_bytes(bytes(data))
    with pytest.raises(StateError, match="store damaged: run `cluetool store check`"):
        with Store.open(path) as s:
            check_store(s)


def test_store_execute_outside_write_cannot_write(store: Store) -> None:
    # SQLite: query_only; PostgreSQL: read-only transactions but in write().
    refused = (sqlite3.OperationalError, psycopg.errors.ReadOnlySqlTransaction)
    with pytest.raises(refused, match="readonly|read-only"):
        store.execute("INSERT INTO units VALUES ('u', 'n', 'police', NULL, 'x')")
    with store.read() as tx:
        with pytest.raises(refused, match="readonly|read-only"):
            tx.execute("INSERT INTO units VALUES ('u', 'n', 'police', NULL, 'x')")
    assert store.execute("SELECT count(*) FROM units").fetchone()[0] == 0


def test_store_tx_used_after_block_raises(store: Store) -> None:
    with store.write() as tx:
        pass
    with pytest.raises(RuntimeError, match="ended"):
        tx.execute("SELECT 1")


def test_queries_insert_reports_without_blob_raises_state_error(store: Store) -> None:
    att = ReportAttachment(sha256=sha("absent"), size=6, type="jpg", file="a.jpg")
    with pytest.raises(StateError, match="not in the blob store"):
        import_batch(store, [make_report("aaaaaaaa-0000-4000-8000-000000000001", attachments=[att])])
    assert store.execute("SELECT count(*) FROM reports").fetchone()[0] == 0


def test_audit_encode_entry_is_canonical_json_for_every_allowed_value() -> None:
    from datetime import datetime, timezone

    from cluetool.formats.canonical import dumps, loads_canonical
    from cluetool.store.audit_entries import encode_entry

    details = {"z": "汉字 and \"quotes\" \\ \u2028", "a": [1, -2, 2**53 - 1, True, None, "x"], "m": False, "n": None}
    entry = encode_entry(seq=7, at=datetime(2026, 11, 24, tzinfo=timezone.utc), actor="t", action="a.b",
                         object="o", details=details)
    assert dumps(loads_canonical(entry)) == entry
    with pytest.raises(ValueError):
        encode_entry(seq=0, at=datetime(2026, 11, 24, tzinfo=timezone.utc), actor="t", action="a", object="o",
                     details={"big": 2**53})


def test_audit_prepared_entries_numbered_at_the_end_are_the_canonical_entries(store: Store) -> None:
    # An import prepares its entries before it takes the audit lock and numbers them at
    # the end (cluetool/store/pending_audit.py): the same bytes as appending them at once.
    from cluetool.store.audit_entries import NewEntry, append_prepared, encode_entry, prepare_entries

    details = [{"z": "汉字 and \"quotes\" \\ \u2028 \"seq\":1}", "a": [1, -2, True, None, "x"]}, {}, {"seq": 3}]
    news = [NewEntry(at=NOW + timedelta(microseconds=i), actor="t", action="a.b", object=f"report:{i}\"seq\"", details=d)
            for i, d in enumerate(details)]
    prepared = prepare_entries(news)
    with store.write() as tx:
        append_entry(tx, at=NOW, actor="t", action="a.b", object="store", details={})  # numbered meanwhile
        appended = append_prepared(tx, prepared)
    first = latest_version() + 1
    assert [a.seq for a in appended] == [first, first + 1, first + 2]
    for a, e in zip(appended, news, strict=True):
        assert a.entry == encode_entry(seq=a.seq, at=e.at, actor=e.actor, action=e.action, object=e.object, details=e.details)
        assert a.leaf_hash == hashlib.sha256(b"\x00" + a.entry).digest()
    assert list(iter_entries(store, start=first)) == appended
    with pytest.raises(ValueError):
        prepare_entries([NewEntry(at=NOW, actor="t", action="a.b", object="o", details={"n": 0.5})])
