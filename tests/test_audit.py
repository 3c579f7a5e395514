"""The audit trail as a library (docs/audit.md): the tree over the store, checkpoints, proofs,
listings, the tree cache, and what an end-to-end run writes into the log."""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime, timedelta, timezone
from pathlib import Path

import msgspec
import pytest

from cluetool import api, audit, keys
from cluetool.config import Home
from cluetool.home import open_store
from cluetool.audit.tree import AuditTree, cache_dir_for
from cluetool.errors import FindingsError, InputError, StateError
from cluetool.formats import minisign
from cluetool.formats.merkle import MerkleTree
from cluetool.formats.note import NoteVerifier, open_note, parse_checkpoint
from cluetool.store import Store
from cluetool.store.audit_entries import append_entry, audit_size, iter_entries
from cluetool.store.migrations import latest_version
from cluetool.store.pgstore import PgStore
from tests.batch_helpers import sample_spool  # noqa: F401  (fixture)
from tests.pgfixture import tamper_pg

NOW = datetime(2026, 11, 24, 2, 0, 0, tzinfo=timezone.utc)
MIGRATED = latest_version()  # a new store's audit log starts with one store.migrate entry per migration


# --------------------------------------------------------------------------- helpers


def make_store(path: Path, url: str | None = None) -> Store:
    """A fresh store whose log holds entries 0 .. MIGRATED - 1: an SQLite store's
    migrations; on PostgreSQL (``url``, issue 22) its one ``store.migrate`` entry and
    ``MIGRATED - 1`` padding entries, so that a seq means the same on both."""
    if url is None:
        return Store.create(path / "store.db", now=NOW)
    store = PgStore.create_url(url, blobs_dir=path / "blobs", now=NOW)
    with store.write() as tx:
        for i in range(1, MIGRATED):
            append_entry(tx, at=NOW, actor="cluetool-test", action="test.padding", object="store", details={"padding": i})
    return store


def backend_url(request: pytest.FixtureRequest) -> str | None:
    """For a fixture parameterised over ``STORES``: a fresh PostgreSQL database's URL, or
    ``None`` for SQLite."""
    return str(request.getfixturevalue("pg_url")) if request.param == "postgresql" else None


STORES = ["sqlite", "postgresql"]


def init_home_on(root: Path, url: str | None) -> Home:
    """``api.init`` of a home whose store is SQLite (``url`` None) or the PostgreSQL
    database ``url``; on PostgreSQL its log is padded as ``make_store`` pads it, so that
    a seq means the same on both."""
    home = api.init(Home(root), now=NOW, store=url)
    if url is not None:
        with open_store(home) as store:
            size = audit_size(store)
            with store.write() as tx:
                for i in range(size, MIGRATED):
                    append_entry(tx, at=NOW, actor="cluetool-test", action="test.padding", object="store", details={"padding": i})
    return home


def add_entries(store: Store, count: int, *, start: int = 0, at: datetime = NOW) -> None:
    """Import-like activity: ``count`` entries, ids and hashes only.

    Entry ``i`` (``"n": i``, object ``report:{i:08d}``, at ``at + i`` seconds) lands at
    seq ``MIGRATED + i`` in a fresh store.
    """
    with store.write() as tx:
        for i in range(start, start + count):
            append_entry(
                tx, at=at + timedelta(seconds=i), actor="cluetool-import" if i % 3 else "cluetool-assign",
                action="report.import" if i % 3 else "clue.assign", object=f"report:{i:08d}",
                details={"batch": f"intake-bj/{i // 100}", "report_sha256": f"{i:064x}", "n": i},
            )


def keys_of(sk: minisign.SecretKey) -> audit.TrustedKeys:
    return audit.TrustedKeys(raw=[sk.public_key.key])


def tamper(store: Store, *statements: str | tuple[str, tuple[object, ...]]) -> None:
    """Raw SQL on the store file, as someone with the file would: triggers dropped first
    (on PostgreSQL: as the superuser, triggers off)."""
    if isinstance(store, PgStore):
        tamper_pg(store.url, statements)
        return
    conn = sqlite3.connect(store.path)
    try:
        conn.execute("DROP TRIGGER IF EXISTS audit_log_no_update")
        conn.execute("DROP TRIGGER IF EXISTS audit_log_no_delete")
        conn.execute("DROP TRIGGER IF EXISTS checkpoints_no_update")
        conn.execute("DROP TRIGGER IF EXISTS checkpoints_no_delete")
        for s in statements:
            if isinstance(s, tuple):
                conn.execute(*s)
            else:
                conn.execute(s)
        conn.commit()
    finally:
        conn.close()


def entry_bytes(store: Store, seq: int) -> bytes:
    return next(e.entry for e in iter_entries(store, seq) if e.seq == seq)


@pytest.fixture
def sk() -> minisign.SecretKey:
    return minisign.SecretKey.generate()


@pytest.fixture(params=STORES)
def store(tmp_path: Path, request: pytest.FixtureRequest) -> Store:
    s = make_store(tmp_path, backend_url(request))
    yield s
    s.close()


# --------------------------------------------------------------------------- the tree


@pytest.mark.parametrize("bits", [1, 2, 8])
def test_audit_tree_roots_and_proofs_match_reference_tree(store: Store, bits: int) -> None:
    add_entries(store, 299)
    size = MIGRATED + 299
    ref = MerkleTree.from_leaf_hashes(e.leaf_hash for e in iter_entries(store))
    with store.read() as tx, AuditTree(tx, cache_dir=None, bits=bits) as tree:
        assert tree.size == size
        for n in (1, 2, 3, 4, 5, 8, 64, 65, 255, 256, 257, size):
            assert tree.root(n) == ref.root(n)
            for i in sorted({0, 1 % n, n // 2, n - 1}):
                assert tree.inclusion_proof(i, n) == ref.inclusion_proof(i, n)
            for m in sorted({0, 1, n // 3, n - 1, n}):
                assert tree.consistency_proof(m, n) == ref.consistency_proof(m, n)


def test_audit_tree_cache_persists_and_grows_incrementally(store: Store) -> None:
    add_entries(store, 600 - MIGRATED)  # a tree of exactly 600 leaves: 150 tier-1 hashes
    cache = cache_dir_for(store)
    with store.read() as tx, AuditTree(tx, bits=2) as tree:
        root600 = tree.root()
    assert (cache / "tier1.bin").stat().st_size == 64 + 150 * 32
    assert oct((cache / "tier1.bin").stat().st_mode & 0o777) == "0o600"
    add_entries(store, 400, start=600 - MIGRATED)
    ref = MerkleTree.from_leaf_hashes(e.leaf_hash for e in iter_entries(store))
    with store.read() as tx, AuditTree(tx, bits=2) as tree:
        assert tree.root(600) == root600 == ref.root(600)
        assert tree.root() == ref.root()
        assert tree.inclusion_proof(777, 1000) == ref.inclusion_proof(777, 1000)
    assert (cache / "tier1.bin").stat().st_size == 64 + 250 * 32


def test_audit_prove_with_corrupted_cache_rebuilds_and_is_correct(store: Store, sk: minisign.SecretKey) -> None:
    add_entries(store, 700)
    audit.checkpoint(store, sk, now=NOW)
    tier = cache_dir_for(store) / "tier1.bin"
    data = bytearray(tier.read_bytes())
    data[64:96] = bytes(32)  # a wrong subtree hash in the cache
    tier.write_bytes(bytes(data))
    proof = audit.prove_inclusion(store, 3)
    assert audit.check_proof(msgspec.json.encode(proof), keys_of(sk)).ok


def test_audit_tree_cache_of_another_log_is_not_used(tmp_path: Path, sk: minisign.SecretKey) -> None:
    a = make_store(tmp_path / "a")
    add_entries(a, 600)
    audit.checkpoint(a, sk, now=NOW)
    b = make_store(tmp_path / "b")
    add_entries(b, 600, at=NOW + timedelta(days=1))
    cache_b = cache_dir_for(b)
    cache_b.mkdir(parents=True)
    (cache_b / "tier1.bin").write_bytes((cache_dir_for(a) / "tier1.bin").read_bytes())
    info = audit.checkpoint(b, sk, now=NOW)
    ref = MerkleTree.from_leaf_hashes(e.leaf_hash for e in iter_entries(b))
    assert bytes.fromhex(info.root) == ref.root()


# --------------------------------------------------------------------------- checkpoints


def test_audit_checkpoint_signs_size_and_root_as_tlog_checkpoint(store: Store, sk: minisign.SecretKey) -> None:
    add_entries(store, 41)
    info = audit.checkpoint(store, sk, now=NOW)
    ref = MerkleTree.from_leaf_hashes(e.leaf_hash for e in iter_entries(store))
    assert info.created and info.size == MIGRATED + 41 and info.root == ref.root().hex()
    assert info.origin == audit.default_origin(sk) and info.origin.startswith("cluetool/")
    verifier = NoteVerifier.from_public_bytes(info.origin, sk.public_key.key)
    opened = open_note(info.note, [verifier])
    assert parse_checkpoint(opened.text).size == MIGRATED + 41
    assert info.at == "2026-11-24T02:00:00.000000Z"


def test_audit_checkpoint_unchanged_tree_returns_latest(store: Store, sk: minisign.SecretKey) -> None:
    add_entries(store, 5)
    first = audit.checkpoint(store, sk, now=NOW)
    again = audit.checkpoint(store, sk, now=NOW + timedelta(hours=1))
    assert not again.created and again.id == first.id
    assert len(audit.list_checkpoints(store).checkpoints) == 1


def test_audit_checkpoint_keeps_origin_and_refuses_another(store: Store, sk: minisign.SecretKey) -> None:
    add_entries(store, 5)
    audit.checkpoint(store, sk, now=NOW, origin="example.org/clue-audit")
    add_entries(store, 5, start=5)
    other = minisign.SecretKey.generate()  # a rotated key keeps the log's origin
    info = audit.checkpoint(store, other, now=NOW)
    assert info.origin == "example.org/clue-audit"
    add_entries(store, 1, start=10)
    with pytest.raises(InputError, match="origin"):
        audit.checkpoint(store, sk, now=NOW, origin="example.org/other")


def test_audit_checkpoint_refuses_to_sign_tampered_log(store: Store, sk: minisign.SecretKey) -> None:
    add_entries(store, 300)
    audit.checkpoint(store, sk, now=NOW)
    add_entries(store, 10, start=300)
    original = entry_bytes(store, 20)
    edited = original.replace(f'"n":{20 - MIGRATED},'.encode(), b'"n":91,')
    assert edited != original
    from cluetool.store.audit_entries import leaf_hash

    tamper(store, ("UPDATE audit_log SET entry = ?, leaf_hash = ? WHERE seq = 20", (edited, leaf_hash(edited))))
    # The cache still holds the signed hashes; whoever edits the file may remove it too.
    import shutil

    shutil.rmtree(cache_dir_for(store))
    with pytest.raises(FindingsError, match="no longer extends checkpoint 1"):
        audit.checkpoint(store, sk, now=NOW)
    assert len(audit.list_checkpoints(store).checkpoints) == 1


def test_audit_checkpoint_refuses_entry_not_matching_leaf_hash(store: Store, sk: minisign.SecretKey) -> None:
    add_entries(store, 10)
    seq = MIGRATED + 3  # an entry of add_entries (a store.migrate entry has no "report:")
    tamper(store, ("UPDATE audit_log SET entry = ? WHERE seq = ?", (entry_bytes(store, seq).replace(b"report:", b"rep0rt:"), seq)))
    with pytest.raises(FindingsError, match="audit.leaf_mismatch"):
        audit.checkpoint(store, sk, now=NOW)


# --------------------------------------------------------------------------- proofs


def test_audit_prove_inclusion_round_trip(store: Store, sk: minisign.SecretKey) -> None:
    add_entries(store, 1000)
    audit.checkpoint(store, sk, now=NOW)
    add_entries(store, 10, start=1000)  # unsigned tail
    signed = MIGRATED + 1000
    for seq in (0, 1, 511, 512, 999, signed - 1):
        proof = audit.prove_inclusion(store, seq)
        assert proof.tree_size == signed and proof.leaf_index == seq
        assert json.loads(proof.entry)["seq"] == seq
        result = audit.check_proof(msgspec.json.encode(proof), keys_of(sk))
        assert result.ok and result.signature_checked, result.findings
    with pytest.raises(InputError, match="newer than the latest checkpoint"):
        audit.prove_inclusion(store, signed)


def test_audit_check_proof_altered_proof_is_invalid(store: Store, sk: minisign.SecretKey) -> None:
    add_entries(store, 100)
    audit.checkpoint(store, sk, now=NOW)
    doc = msgspec.to_builtins(audit.prove_inclusion(store, 42))
    doc["proof"][1] = "00" * 32
    result = audit.check_proof(json.dumps(doc).encode(), keys_of(sk))
    assert not result.ok and [f.code for f in result.findings] == ["audit.proof_invalid"]
    doc = msgspec.to_builtins(audit.prove_inclusion(store, 42))
    doc["entry"] = doc["entry"].replace("report:", "rep0rt:")
    codes = {f.code for f in audit.check_proof(json.dumps(doc).encode(), keys_of(sk)).findings}
    assert codes == {"audit.leaf_mismatch"}


def test_audit_check_proof_other_key_fails_signature(store: Store, sk: minisign.SecretKey) -> None:
    add_entries(store, 10)
    audit.checkpoint(store, sk, now=NOW)
    data = msgspec.json.encode(audit.prove_inclusion(store, 3))
    other = keys_of(minisign.SecretKey.generate())
    result = audit.check_proof(data, other)
    assert not result.ok and [f.code for f in result.findings] == ["audit.checkpoint_signature"]
    unsigned = audit.check_proof(data, None)
    assert unsigned.ok and not unsigned.signature_checked


def test_audit_prove_consistency_between_checkpoints_round_trip(store: Store, sk: minisign.SecretKey) -> None:
    add_entries(store, 99)
    first = audit.checkpoint(store, sk, now=NOW)
    add_entries(store, 300, start=99)
    second = audit.checkpoint(store, sk, now=NOW)
    proof = audit.prove_consistency(store, first.size)
    assert (proof.from_size, proof.to_size) == (MIGRATED + 99, MIGRATED + 399)
    assert proof.from_checkpoint == first.note and proof.to_checkpoint == second.note
    assert proof.to_root == second.root
    result = audit.check_proof(msgspec.json.encode(proof), keys_of(sk))
    assert result.ok and result.signature_checked, result.findings
    doc = msgspec.to_builtins(proof)
    doc["from_root"] = "11" * 32
    bad = audit.check_proof(json.dumps(doc).encode(), keys_of(sk))
    assert "audit.proof_invalid" in {f.code for f in bad.findings}


def test_audit_check_proof_not_a_proof_is_input_error() -> None:
    with pytest.raises(InputError):
        audit.check_proof(b'{"type": "inclusion"}')


def test_audit_prove_without_checkpoint_is_state_error(store: Store) -> None:
    with pytest.raises(StateError, match="no checkpoint"):
        audit.prove_inclusion(store, 0)


# --------------------------------------------------------------------------- verify and log


def test_audit_verify_clean_log_is_ok(store: Store, sk: minisign.SecretKey) -> None:
    add_entries(store, 5000)
    audit.checkpoint(store, sk, now=NOW)
    add_entries(store, 3, start=5000)
    seen: list[tuple[int, int]] = []
    report = audit.verify_store(store, keys_of(sk), progress=lambda d, t: seen.append((d, t)))
    assert report.ok and report.findings == []
    assert report.summary.entries == MIGRATED + 5003 and report.summary.unsigned_entries == 3
    assert report.summary.checkpoints_verified == 1
    assert seen[-1] == (MIGRATED + 5003, MIGRATED + 5003)
    report.raise_for_findings()


def test_audit_verify_without_checkpoint_warns(store: Store, sk: minisign.SecretKey) -> None:
    report = audit.verify_store(store, keys_of(sk))
    assert report.ok and [(f.code, f.severity) for f in report.findings] == [("audit.no_checkpoint", "warning")]


def test_audit_log_filters(store: Store) -> None:
    add_entries(store, 30)
    assert len(audit.list_entries(store).entries) == MIGRATED + 30
    assigned = audit.list_entries(store, action="clue.assign").entries
    assert [e.seq for e in assigned] == [MIGRATED + i for i in range(0, 30, 3)]
    assert [e.object for e in audit.list_entries(store, object="report:00000007").entries] == ["report:00000007"]
    assert len(audit.list_entries(store, object="report:0000001*").entries) == 10
    assert len(audit.list_entries(store, action="report.*", actor="cluetool-import").entries) == 20
    since = audit.list_entries(store, since="2026-11-24T02:00:10Z", until="2026-11-24T02:00:20+00:00").entries
    assert [e.seq for e in since] == [MIGRATED + i for i in range(10, 20)]
    assert len(audit.list_entries(store, since="2026-11-25").entries) == 0
    assert len(audit.list_entries(store, limit=4).entries) == 4
    with pytest.raises(InputError):
        audit.list_entries(store, since="yesterday")


# --------------------------------------------------------------------------- end to end


PII_KEYS = {"name", "alias", "description", "place_detail", "note", "phone", "mobile", "email", "id_number",
            "text", "address", "detail", "contact", "unit", "credit_code", "result"}


def _pii(value: object, key: str = "") -> set[str]:
    out: set[str] = set()
    if isinstance(value, dict):
        for k, v in value.items():
            out |= _pii(v, k)
    elif isinstance(value, list):
        for v in value:
            out |= _pii(v, key)
    elif isinstance(value, str) and len(value) >= 2 and (key in PII_KEYS or "name" in key or "phone" in key):
        out.add(value)
    return out


def test_audit_entries_of_sample_run_hold_no_report_content(tmp_path: Path, sample_spool: Path) -> None:
    from cluetool import api
    from cluetool.config import Home
    from cluetool.ingest import import_batches
    from tests.batch_helpers import SOURCE, KeyHome, seal_spool

    import shutil

    spool = tmp_path / "spool"
    shutil.copytree(sample_spool, spool)
    secrets: set[str] = set()
    for sub in spool.iterdir():
        try:
            secrets |= _pii(json.loads((sub / "report.json").read_text(encoding="utf-8")))
        except (OSError, ValueError):
            continue  # an invalid sample that is not JSON: quarantined, never imported
    home = api.init(Home(tmp_path / "home"), now=NOW)
    info = keys.generate(home, "main", now=NOW)
    kh = KeyHome(home=home, name="main", info=info)
    seal_spool(kh, spool, tmp_path / "out", max_reports=25)
    keys.trust(home, SOURCE, kh.pub)
    result = import_batches(sorted((tmp_path / "out").glob("*.clue")), home=home, now=NOW, identity="main")
    assert result.ok, result.problems
    with Store.open(home.store_file) as store:
        audit.checkpoint(store, keys.load_signing_key(home, "main"), now=NOW)
        report = audit.verify_store(store, audit.home_keys(home, "main"))
        assert report.ok, report.findings
        entries = [e.entry.decode("utf-8") for e in iter_entries(store)]
    assert sum('"action":"report.import"' in e for e in entries) >= 50
    assert len(secrets) > 100
    leaks = sorted(s for s in secrets if any(s in e for e in entries))
    assert leaks == []
