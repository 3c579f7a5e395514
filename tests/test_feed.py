"""The status feed (issue 23): export on the internal side, import at the intake; status
CODE at the intake; the receipt's batches confirmed and purged from SPOOL.done/, and no
other; gap, replay, fork and tamper cases; authenticate, then parse."""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import tarfile
from datetime import timedelta
from pathlib import Path

import msgspec
import pytest

from cluetool import api, keys
from cluetool.batch.register import Register
from cluetool.errors import FindingsError, InputError, StateError
from cluetool.feed import service as feed_service
from cluetool.feed.export import build_feed, code_lines
from cluetool.feed.intakedb import db_path
from cluetool.model import querycode
from cluetool.model.feed import ReceiptBatch
from tests.batch_helpers import SOURCE, make_home
from tests.feed_helpers import EXPORT_AT, FEED_SOURCE, Sides, make_sides
from tests.fault_helpers import tree


@pytest.fixture(params=["sqlite", "postgresql"])
def sides(tmp_path: Path, request: pytest.FixtureRequest) -> Sides:
    """The two sides, the internal store in SQLite and in PostgreSQL (issue 22)."""
    s = make_sides(tmp_path, request.getfixturevalue("pg_url") if request.param == "postgresql" else None)
    s.seal(6, seed=2301)  # three batches of two
    return s


def members_of(path: Path) -> list[tuple[str, bytes]]:
    with tarfile.open(path) as tf:
        return [(m.name, tf.extractfile(m).read()) for m in tf.getmembers()]  # type: ignore[union-attr]


def write_tar(path: Path, members: list[tuple[str, bytes]]) -> Path:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as tf:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), 0o644
            tf.addfile(info, io.BytesIO(data))
    path.write_bytes(buf.getvalue())
    return path


def signed_feed(s: Sides, path: Path, *, sequence: int = 1, previous: str = "0" * 64, codes: bytes = b"", count: int = 0,
                receipt: list[ReceiptBatch] | None = None, source: str = FEED_SOURCE) -> Path:
    """A feed signed with the internal key, with whatever content the test needs."""
    parts = build_feed(source=source, sequence=sequence, previous=previous, now=EXPORT_AT, signer=s.internal.secret_key(),
                       codes=codes, code_count=count, receipt=receipt or [])
    names = ("manifest.json", "manifest.json.minisig", "codes.txt", "receipt.json")
    return write_tar(path / f"{source}-{sequence:08d}.status", list(zip(names, parts)))


def intake_picture(s: Sides) -> dict[str, str]:
    """The intake's done directory and feed database, byte for byte."""
    pic = {f"done/{k}": v for k, v in tree(s.done).items()}
    if db_path(s.intake.home).exists() and (rows := _db_rows(s)):
        pic["db"] = str(sorted(json.dumps(x) for x in rows))
    return pic


def _db_rows(s: Sides) -> list[list[object]]:
    import sqlite3

    with sqlite3.connect(db_path(s.intake.home)) as conn:
        return [[t, *map(str, r)] for t in ("feeds", "codes", "receipt") for r in conn.execute(f"SELECT * FROM {t}")]


# --------------------------------------------------------------------------- both sides


def test_feed_export_import_purges_exactly_the_imported_batches(sides: Sides) -> None:
    s = sides
    s.import_(s.batches[:2])
    exported = s.export()
    assert (exported.sequence, exported.codes, exported.batches) == (1, 4, 2)
    before = tree(s.done / "intake-bj-00000003")
    report = s.import_feed(exported.path)
    assert report.ok and report.status == "imported", report.problems
    assert [(b.batch, b.status, b.submissions) for b in report.batches] == [
        ("intake-bj-00000001.clue", "purged", 2), ("intake-bj-00000002.clue", "purged", 2)]
    assert s.done_dirs() == ["intake-bj-00000003"]
    assert tree(s.done / "intake-bj-00000003") == before  # never a batch the receipt does not name
    log = [json.loads(line) for line in feed_service.purge_log(s.intake.home).read_text().splitlines()]
    assert [(e["batch"], e["submissions"], e["confirmed_by"]) for e in log] == [
        ("intake-bj-00000001.clue", 2, "internal-00000001.status"), ("intake-bj-00000002.clue", 2, "internal-00000001.status")]
    with Register(s.intake.home) as reg:
        rows = {r.batch: r for r in reg.batches()}
    assert rows["intake-bj-00000001.clue"].purged_at is not None and rows["intake-bj-00000003.clue"].confirmed_at is None

    # the next feed, after batch 3 was imported, purges it too
    s.import_(s.batches[2:])
    second = s.export(at=EXPORT_AT + timedelta(days=1))
    report = s.import_feed(second.path, now=EXPORT_AT + timedelta(days=1, hours=1))
    assert report.ok and [(b.batch, b.status) for b in report.batches] == [("intake-bj-00000003.clue", "purged")]
    assert s.done_dirs() == []


def test_feed_status_at_intake_from_feed(sides: Sides) -> None:
    s = sides
    s.import_(s.batches[:2])
    s.import_feed(s.export().path)
    imported = s.sids_in(s.batches[:2])
    assert len(imported) == 4
    for sid in imported:
        got = api.status(s.intake.home, s.codes[sid])
        assert (got.stage, getattr(got, "as_of", None)) == ("received", "2026-11-25T02:00:00Z")
        assert api.status(s.internal.home, s.codes[sid]).stage == "received"  # the store's own answer
    [sealed_not_imported, _] = s.sids_in(s.batches[2:])
    with pytest.raises(FindingsError):
        api.status(s.intake.home, s.codes[sealed_not_imported])
    with pytest.raises(InputError):  # the check symbol still comes first
        api.status(s.intake.home, s.codes[imported[0]][:-1] + ("0" if s.codes[imported[0]][-1] != "0" else "1"))


def test_feed_status_at_intake_without_feed_is_state_error(sides: Sides) -> None:
    with pytest.raises(StateError):
        api.status(sides.intake.home, next(iter(sides.codes.values())))


def test_feed_status_at_intake_initialised_with_a_store_answers_from_feed(sides: Sides) -> None:
    s = sides
    api.init(s.intake.home, now=EXPORT_AT)  # `cluetool init` makes an (empty) store at the intake too
    code = s.codes[s.sids_in(s.batches[:1])[0]]
    with pytest.raises(FindingsError, match="^query code not found$"):
        api.status(s.intake.home, code)
    s.import_(s.batches[:1])
    s.import_feed(s.export().path)
    got = api.status(s.intake.home, code)
    assert (got.stage, getattr(got, "as_of", None)) == ("received", "2026-11-25T02:00:00Z")
    with pytest.raises(FindingsError, match="latest status feed"):
        api.status(s.intake.home, s.codes[s.sids_in(s.batches[1:])[0]])


def test_feed_codes_file_holds_hashes_and_stages_only(sides: Sides) -> None:
    s = sides
    s.import_(s.batches)
    path = Path(s.export().path)
    m = dict(members_of(path))
    lines = m["codes.txt"].decode().splitlines()
    assert lines == sorted(f"{querycode.code_sha256(c)} received" for c in s.codes.values())
    receipt = json.loads(m["receipt.json"])["batches"]
    assert receipt == [{"manifest_sha256": hashlib.sha256(members_of(b)[0][1]).hexdigest(), "sequence": i, "source": SOURCE}
                       for i, b in enumerate(s.batches, 1)]
    for sid, code in s.codes.items():
        assert sid.encode() not in path.read_bytes() and code.encode() not in path.read_bytes()


def test_feed_keep_done_confirms_and_keeps_then_next_import_purges(sides: Sides) -> None:
    s = sides
    s.import_(s.batches[:1])
    first = s.export()
    report = s.import_feed(first.path, keep_done=True)
    assert report.ok and [(b.batch, b.status, b.submissions) for b in report.batches] == [("intake-bj-00000001.clue", "kept", 2)]
    assert s.done_dirs() == ["intake-bj-00000001", "intake-bj-00000002", "intake-bj-00000003"]
    again = s.import_feed(first.path)  # the same feed again: already imported, and now the purge
    assert again.status == "already_imported" and [(b.batch, b.status) for b in again.batches] == [("intake-bj-00000001.clue", "purged")]
    assert s.done_dirs() == ["intake-bj-00000002", "intake-bj-00000003"]


def test_feed_receipt_with_other_manifest_hash_is_mismatch_not_purged(sides: Sides, tmp_path: Path) -> None:
    s = sides
    before = intake_picture(s)
    forged = [ReceiptBatch(source=SOURCE, sequence=1, manifest_sha256="ab" * 32)]
    report = s.import_feed(signed_feed(s, tmp_path, receipt=forged, count=0))
    assert not report.ok and [p.code for p in report.problems] == ["receipt.mismatch"]
    assert [(b.batch, b.status) for b in report.batches] == [("intake-bj-00000001.clue", "mismatch")]
    assert {k: v for k, v in intake_picture(s).items() if k != "db"} == {k: v for k, v in before.items() if k != "db"}


def test_feed_receipt_naming_other_intakes_batches_purges_nothing(sides: Sides, tmp_path: Path) -> None:
    s = sides
    before = tree(s.done)
    other = [ReceiptBatch(source="intake-sh", sequence=1, manifest_sha256="cd" * 32)]
    report = s.import_feed(signed_feed(s, tmp_path, receipt=other))
    assert report.ok and report.batches == []
    assert tree(s.done) == before


# --------------------------------------------------------------------------- chain: gap, replay, fork


def test_feed_chain_gap_refused_then_allowed(sides: Sides, tmp_path: Path) -> None:
    s = sides
    s.import_feed(s.export().path)
    s.export(at=EXPORT_AT + timedelta(hours=1))  # sequence 2 never carried
    third = s.export(at=EXPORT_AT + timedelta(hours=2))
    refused = s.import_feed(third.path)
    assert not refused.ok and [p.code for p in refused.problems] == ["chain.gap"] and "--allow-gap" in refused.problems[0].message
    assert s.import_feed(third.path, allow_gap=True).status == "imported"


def test_feed_chain_replay_of_older_feed_refused(sides: Sides) -> None:
    s = sides
    first = s.export()
    s.import_feed(first.path)
    s.import_(s.batches[:1])
    s.import_feed(s.export(at=EXPORT_AT + timedelta(hours=1)).path)
    before = intake_picture(s)
    replay = s.import_feed(first.path)
    assert not replay.ok and [p.code for p in replay.problems] == ["chain.replay"]
    assert intake_picture(s) == before
    assert api.status(s.intake.home, s.codes[s.sids_in(s.batches[:1])[0]]).stage == "received"  # the newer snapshot stays


def test_feed_chain_fork_refused(sides: Sides, tmp_path: Path) -> None:
    s = sides
    s.import_feed(s.export().path)
    state = s.internal.home.state_dir / "feed" / f"{FEED_SOURCE}.json"
    saved = state.read_bytes()
    one = s.export(at=EXPORT_AT + timedelta(hours=1), out=tmp_path / "a")
    state.write_bytes(saved)  # a second sequence 2 with other content: a fork
    s.import_(s.batches[:1])
    two = s.export(at=EXPORT_AT + timedelta(hours=2), out=tmp_path / "b")
    assert one.sequence == two.sequence == 2 and one.manifest_sha256 != two.manifest_sha256
    assert s.import_feed(one.path).ok
    before = intake_picture(s)
    fork = s.import_feed(two.path)
    assert not fork.ok and [p.code for p in fork.problems] == ["chain.fork"]
    assert intake_picture(s) == before


def test_feed_from_second_source_refused(sides: Sides, tmp_path: Path) -> None:
    s = sides
    assert s.import_feed(s.export().path).ok
    keys.trust(s.intake.home, "internal-b", s.internal.pub)
    other = signed_feed(s, tmp_path, source="internal-b")
    report = s.import_feed(other)
    assert [p.code for p in report.problems] == ["feed.source"]


# --------------------------------------------------------------------------- tamper; authenticate, then parse


def _rewrite(path: Path, dest: Path, change: dict[str, bytes]) -> Path:
    return write_tar(dest / path.name, [(n, change.get(n, d)) for n, d in members_of(path)])


@pytest.mark.parametrize("case, code", [
    ("codes", "member.sha256"),
    ("receipt", "member.sha256"),
    ("manifest", "signature.invalid"),
    ("untrusted_comment", "signature.comment"),
    ("extra_member", "feed.layout"),
    ("renamed", "feed.name"),
])
def test_feed_tampered_refused_and_nothing_changes(sides: Sides, tmp_path: Path, case: str, code: str) -> None:
    s = sides
    s.import_(s.batches[:1])
    path = Path(s.export().path)
    m = dict(members_of(path))
    work = tmp_path / "tampered"
    work.mkdir()
    if case == "codes":
        bad = _rewrite(path, work, {"codes.txt": m["codes.txt"].replace(b"received", b"closed\x00\x00", 1)})
    elif case == "receipt":
        bad = _rewrite(path, work, {"receipt.json": m["receipt.json"].replace(b'"sequence":1', b'"sequence":2')})
    elif case == "manifest":
        bad = _rewrite(path, work, {"manifest.json": m["manifest.json"].replace(b'"batches":1', b'"batches":0')})
    elif case == "untrusted_comment":
        sig = m["manifest.json.minisig"].split(b"\n", 1)
        bad = _rewrite(path, work, {"manifest.json.minisig": b"untrusted comment: edited\n" + sig[1]})
    elif case == "extra_member":
        bad = write_tar(work / path.name, [*members_of(path), ("extra.txt", b"x")])
    else:
        bad = work / "internal-00000002.status"
        shutil.copy(path, bad)
    before = intake_picture(s)
    report = s.import_feed(bad)
    assert not report.ok and [p.code for p in report.problems] == [code]
    assert intake_picture(s) == before


def test_feed_signed_by_untrusted_key_refused(sides: Sides, tmp_path: Path) -> None:
    s = sides
    stranger = make_home(tmp_path / "stranger", "internal")
    s.internal = stranger  # the same names, another key
    api.init(stranger.home, now=EXPORT_AT)
    path = Path(s.export().path)
    report = s.import_feed(path)
    assert [p.code for p in report.problems] == ["signature.untrusted"]


def test_feed_key_trusted_for_another_source_only_refused(sides: Sides, tmp_path: Path) -> None:
    s = sides
    # The internal key signs a feed named for source "intake-bj", which the intake does not trust it for.
    report = s.import_feed(signed_feed(s, tmp_path, source=SOURCE))
    assert [p.code for p in report.problems] == ["signature.untrusted"]


def test_feed_not_a_tar_is_input_error(sides: Sides, tmp_path: Path) -> None:
    (tmp_path / "x.status").write_bytes(b"hello" * 200)
    with pytest.raises(InputError):
        sides.import_feed(tmp_path / "x.status")


def test_feed_nothing_parsed_before_signature_checked(sides: Sides, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    s = sides
    parsed: list[str] = []
    from cluetool.feed import reader

    real = reader.parse_manifest
    monkeypatch.setattr(reader, "parse_manifest", lambda data: parsed.append("manifest") or real(data))
    monkeypatch.setattr(feed_service, "parse_codes", lambda f: parsed.append("codes") or [])
    path = Path(s.export().path)
    m = dict(members_of(path))
    work = tmp_path / "w"
    work.mkdir()
    bad = _rewrite(path, work, {"manifest.json": m["manifest.json"].replace(b'"codes":0', b'"codes":1')})
    assert [p.code for p in s.import_feed(bad).problems] == ["signature.invalid"]
    assert parsed == []
    bad_member = _rewrite(path, work, {"codes.txt": m["codes.txt"] + b"x"})
    assert [p.code for p in s.import_feed(bad_member).problems] == ["member.size"]
    assert parsed == ["manifest"]  # the authenticated manifest only; codes.txt never


def test_feed_signed_but_malformed_codes_refused_after_authentication(sides: Sides, tmp_path: Path) -> None:
    s = sides
    before = intake_picture(s)
    report = s.import_feed(signed_feed(s, tmp_path, codes=b"not a hash received\n", count=1))
    assert [p.code for p in report.problems] == ["codes.invalid"]
    ordered = code_lines([("b" * 64, "closed"), ("a" * 64, "received")])
    assert ordered.startswith(b"a" * 64)
    unsorted = b"".join(reversed(ordered.splitlines(keepends=True)))
    report = s.import_feed(signed_feed(s, tmp_path, codes=unsorted, count=2))
    assert [p.code for p in report.problems] == ["codes.invalid"]
    assert intake_picture(s) == before


# --------------------------------------------------------------------------- seal warns without receipts


def test_seal_warns_about_unconfirmed_done_batches_older_than_warn_days(sides: Sides) -> None:
    s = sides  # batches 1-3 sealed at NOW
    from tests.feed_helpers import NOW

    spool_report = _seal_more(s, at=NOW + timedelta(days=6, hours=23), days=7)
    assert spool_report == []
    stale = _seal_more(s, at=NOW + timedelta(days=8, hours=1), days=7)
    assert [(x.batch, x.days) for x in stale] == [(f"intake-bj-0000000{i}.clue", 8) for i in (1, 2, 3)]
    # once a receipt confirmed batch 1 (kept with --keep-done), it is no longer warned about
    s.import_(s.batches[:1])
    s.import_feed(s.export().path, keep_done=True)
    stale = _seal_more(s, at=NOW + timedelta(days=9), days=7)
    assert [x.batch for x in stale] == ["intake-bj-00000002.clue", "intake-bj-00000003.clue"]


def _seal_more(s: Sides, *, at: object, days: int) -> list:
    from cluetool.batch.seal import seal

    spool = s.root / "spool"
    spool.mkdir(exist_ok=True)
    report = seal(spool, home=s.intake.home, source=SOURCE, recipients=[s.internal.recipient], out_dir=s.root / "out",
                  now=at, key=s.intake.name, warn_done_days=days)  # type: ignore[arg-type]
    return report.stale_done


def test_feed_export_recovers_interrupted_commit(sides: Sides) -> None:
    s = sides
    first = s.export()
    d = s.internal.home.state_dir / "feed"
    state = d / f"{FEED_SOURCE}.json"
    # as if killed after the file was linked and before the state advanced
    state.write_bytes(msgspec.json.encode({"source": FEED_SOURCE, "sequence": 0, "manifest_sha256": "0" * 64}))
    (d / f"{FEED_SOURCE}.journal.json").write_bytes(msgspec.json.encode(
        {"source": FEED_SOURCE, "sequence": 1, "manifest_sha256": first.manifest_sha256, "path": first.path}))
    second = s.export(at=EXPORT_AT + timedelta(hours=1))
    assert second.recovered == first.file and second.sequence == 2


# --------------------------------------------------------------------------- one batch's trouble stops only it


def test_feed_purge_failure_of_one_batch_leaves_it_whole_and_the_rest_purged(sides: Sides, monkeypatch: pytest.MonkeyPatch) -> None:
    import os as os_mod

    from cluetool.batch import done as done_mod

    s = sides
    s.import_(s.batches)
    path = s.export().path
    before = tree(s.done / "intake-bj-00000002")
    real_rename = os_mod.rename

    def rename(src: object, dst: object) -> None:
        if str(src).endswith("intake-bj-00000002"):
            raise PermissionError(13, "Permission denied")
        real_rename(src, dst)  # type: ignore[arg-type]

    monkeypatch.setattr(done_mod.os, "rename", rename)
    report = s.import_feed(path)
    assert not report.ok and [p.code for p in report.problems] == ["purge.failed"]
    assert "intake-bj-00000002.clue" in report.problems[0].message and "stays whole" in report.problems[0].message
    assert [(b.batch, b.status) for b in report.batches] == [("intake-bj-00000001.clue", "purged"), ("intake-bj-00000003.clue", "purged")]
    assert s.done_dirs() == ["intake-bj-00000002"] and tree(s.done / "intake-bj-00000002") == before
    monkeypatch.setattr(done_mod.os, "rename", real_rename)
    again = s.import_feed(path)  # fixed: the same feed again finishes it
    assert again.ok and again.status == "already_imported" and [(b.batch, b.submissions) for b in again.batches] == [
        ("intake-bj-00000002.clue", 2)]
    assert s.done_dirs() == []


def test_feed_batch_sealed_before_the_register_knew_batches_is_never_purged(sides: Sides) -> None:
    import os as os_mod
    import sqlite3

    s = sides
    register = s.intake.home.state_dir / "seal" / "register.db"
    with sqlite3.connect(register) as conn:  # as sealed by an older cluetool: no sealed_batches row
        conn.execute("DELETE FROM sealed_batches WHERE batch = 'intake-bj-00000001.clue'")
    before = tree(s.done / "intake-bj-00000001")
    s.import_(s.batches[:2])
    report = s.import_feed(s.export().path)
    assert report.ok and [b.batch for b in report.batches] == ["intake-bj-00000002.clue"]
    assert tree(s.done / "intake-bj-00000001") == before
    # seal dates it by the directory's modification time
    from tests.feed_helpers import NOW

    old = (NOW - timedelta(days=30)).timestamp()
    os_mod.utime(s.done / "intake-bj-00000001", (old, old))
    stale = _seal_more(s, at=NOW + timedelta(days=1), days=7)
    assert [(x.batch, x.days, x.sealed_at) for x in stale] == [("intake-bj-00000001.clue", 31, "2026-10-25T02:00:00Z")]
