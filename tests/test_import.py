"""``import`` (library): verify exactly as ``verify --chain``, decrypt with the home's
identity, re-validate every report and attachment, store everything in one transaction;
idempotence, forks, replays and gaps; all or nothing; locks; no plaintext outside the
store; audit entries without content; duplicate links; ``store check`` on blobs.

The shared helpers at the top (``Pair``, ``snapshot``...) are also used by
``test_import_kill.py``, ``test_status.py`` and ``tests/cli/test_cli_import.py``.
"""

from __future__ import annotations

import copy
import hashlib
import io
import json
import os
import random
import shutil
import sqlite3
import stat
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec
import pytest

from cluetool import api, keys
from cluetool.batch import seal as seal_mod
from cluetool.batch import writer as batch_writer
from cluetool.batch.verify import InnerVisitor, check_batch
from cluetool.config import Home
from cluetool.errors import BusyError, InputError, StateError
from cluetool.home import open_store
from cluetool.formats import age, canonical, minisign, ustar
from cluetool.ingest import ImportReport, import_batches
from cluetool.model.fingerprints import fingerprints
from cluetool.model.batch import Manifest, PayloadInfo, key_id_hex16
from cluetool.model.report import decode_report
from cluetool.store import latest_version
from samples import media
from samples.make_samples import render, valid_submission, write_submission
from tests.pgfixture import PgTestConnection
from tests.batch_helpers import (
    NOW,
    SOURCE,
    KeyHome,
    assemble_files,
    copy_submissions,
    lookup_for,
    make_home,
    read_members,
    sample_spool,  # noqa: F401 - fixture
    seal_spool,
    valid_names,
    write_spool,
)

ROOT = Path(__file__).resolve().parents[1]
RECEIVER_KEY = "internal"

# --------------------------------------------------------------------------- shared helpers


@dataclass
class Pair:
    """An intake home (signing key) and an internal home (store, age identity) that
    trusts the intake key for SOURCE: the two sides of the air gap."""

    root: Path
    sender: KeyHome
    receiver: KeyHome

    @property
    def home(self) -> Any:
        return self.receiver.home

    def seal(self, spool: Path, out: Path | None = None, *, sender: KeyHome | None = None, **kwargs: Any) -> list[Path]:
        report = seal_spool(sender or self.sender, spool, out or self.root / "out",
                            recipients=[self.receiver.recipient], **kwargs)
        return [Path(b.path) for b in report.batches]

    def import_(self, paths: list[Path], **kwargs: Any) -> ImportReport:
        kwargs.setdefault("identity", RECEIVER_KEY)
        kwargs.setdefault("now", NOW)
        return import_batches(paths, home=self.home, **kwargs)


def make_pair(root: Path, store: str | None = None) -> Pair:
    """``store``: a ``postgresql://`` URL for the receiver's store (else ``store.db``)."""
    sender = make_home(root / "intake")
    if store is not None:  # the store is named at init, before the keys
        api.init(Home(root / "internal"), now=NOW, store=store)
    receiver = make_home(root / "internal", RECEIVER_KEY)
    keys.trust(receiver.home, SOURCE, sender.pub)
    api.init(receiver.home, now=NOW)
    return Pair(root=root, sender=sender, receiver=receiver)


def connect(home: Any) -> Any:
    """A connection to the home's store, whichever backend: ``execute`` takes the
    store modules' SQL (``cluetool.store.pgsql`` translates it for PostgreSQL)."""
    location = home.store_location
    if isinstance(location, str):
        return PgTestConnection(location)
    return sqlite3.connect(home.store_file, isolation_level=None)


def table_counts(home: Any) -> dict[str, int]:
    with connect(home) as conn:
        if isinstance(conn, PgTestConnection):
            tables = conn.tables()
        else:
            tables = [r[0] for r in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")]
        return {t: conn.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] for t in tables}


def blob_files(home: Any) -> set[str]:
    """Every file under blobs/ (blobs, temp files, strays), relative."""
    root = home.blobs_dir
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}


@dataclass
class Snapshot:
    counts: dict[str, int]
    dump: list[str]
    blobs: set[str]


def snapshot(home: Any) -> Snapshot:
    """Row counts of every table, the full SQL dump and the blob files."""
    with connect(home) as conn:
        dump = list(conn.iterdump())
    return Snapshot(counts=table_counts(home), dump=dump, blobs=blob_files(home))


def assert_unchanged(before: Snapshot, home: Any) -> None:
    after = snapshot(home)
    assert after.counts == before.counts
    assert after.blobs == before.blobs, "an import left blob files behind"
    assert after.dump == before.dump


def audit_entries(home: Any) -> list[dict[str, Any]]:
    with connect(home) as conn:
        return [json.loads(bytes(r[0])) for r in conn.execute("SELECT entry FROM audit_log ORDER BY seq")]


def actions(home: Any) -> list[str]:
    return [e["action"] for e in audit_entries(home)]


def codes(report: ImportReport) -> set[str]:
    return {p.code for p in report.problems}


def reports_per_batch(home: Any) -> list[tuple[int, int, int]]:
    """(batch id, ledger report count, stored report count) per ledger row."""
    with connect(home) as conn:
        return list(conn.execute(
            "SELECT b.id, b.reports, (SELECT count(*) FROM reports r WHERE r.batch_id = b.id) FROM batches b ORDER BY b.id"))


def lenient_seal(monkeypatch: pytest.MonkeyPatch) -> None:
    """Let ``seal`` pass submissions its validator rejects: builds batches that are
    signed by a trusted key but carry invalid content."""
    real = seal_mod.validate_submission_model

    def lenient(path: Path, **kwargs: Any) -> Any:
        checked = real(path, **kwargs)
        result = checked.result
        assert result.submission_id is not None and result.report_sha256 is not None and checked.report is not None
        return msgspec.structs.replace(checked, result=msgspec.structs.replace(result, ok=True, findings=[]))

    monkeypatch.setattr(seal_mod, "validate_submission_model", lenient)
    # seal also judges attachment contents while it streams them into the payload
    monkeypatch.setattr(batch_writer, "judge_stream", lambda *args, **kwargs: None)


class _Index(InnerVisitor):
    def __init__(self) -> None:
        self.entries: list[Any] = []

    def index(self, entries: list[Any]) -> None:
        self.entries = list(entries)


def inner_index(pair: Pair, batch: Path) -> list[Any]:
    """The index.json of a batch sealed for the pair (verified and decrypted)."""
    visitor = _Index()
    check, problems, _ = check_batch(batch, lookup_for(pair.sender.public_key()),
                                     identities=[pair.receiver.identity()], visitor=visitor)
    assert check.ok and check.decrypted, [(p.code, p.message) for p in problems]
    return visitor.entries


def submission(seed: int, index: int, *, attachments: int = 0) -> tuple[dict[str, Any], dict[str, bytes]]:
    report, files, _code = valid_submission(random.Random(seed), index, attachments=attachments)
    return report, files


def seal_with_bad_attachment(pair: Pair, monkeypatch: pytest.MonkeyPatch, data: bytes, *, seed: int) -> tuple[Path, dict[str, Any]]:
    """A batch sealed leniently (``lenient_seal``) from three valid submissions with
    attachments and a fourth whose extra ``evidence.jpg`` is ``data``; the batch and the
    fourth submission's report."""
    spool = pair.root / "spool"
    write_spool(spool, 3, seed=seed)  # valid, with attachments: their blobs must not stay
    report, files = submission(seed + 1, 2)
    files["evidence.jpg"] = data
    report["attachments"].append({"file": "evidence.jpg", "type": "jpg", "size": len(data),
                                  "sha256": hashlib.sha256(data).hexdigest(), "note": ""})
    write_submission(spool / report["submission_id"], report, files)
    lenient_seal(monkeypatch)
    [batch] = pair.seal(spool)
    return batch, report


def gang_with_id(seed: int) -> dict[str, Any]:
    """A gang_crime report (no attachments) whose first subject has an ID number."""
    for i in range(200):
        report, _ = submission(seed * 1000 + i, 1)
        if report["kind"] == "gang_crime" and report["subjects"][0].get("id_number"):
            return report
    raise AssertionError("no gang_crime sample with an ID number")


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(params=["sqlite", "postgresql"])
def pair(tmp_path: Path, request: pytest.FixtureRequest) -> Pair:
    """The pair, its receiver's store in SQLite and in PostgreSQL (issue 22)."""
    url = request.getfixturevalue("pg_url") if request.param == "postgresql" else None
    return make_pair(tmp_path, url)


@pytest.fixture
def sqlite_pair(tmp_path: Path) -> Pair:
    """For what only the SQLite store has (its file, pragmas, file modes)."""
    return make_pair(tmp_path)


@pytest.fixture
def three(pair: Pair) -> list[Path]:
    """Three batches of two reports, one attachment each."""
    write_spool(pair.root / "spool", 6, seed=7101)
    batches = pair.seal(pair.root / "spool", max_reports=2)
    assert len(batches) == 3
    return batches


@pytest.fixture(scope="module")
def samples_imported(tmp_path_factory: pytest.TempPathFactory, sample_spool: Path) -> tuple[Pair, list[Path], Path]:
    """The bundled sample spool sealed in batches of 25 and imported (once per module)."""
    root = tmp_path_factory.mktemp("samples-import")
    pair = make_pair(root)
    spool = root / "spool"
    copy_submissions(sample_spool, spool, valid_names(sample_spool))
    batches = pair.seal(spool, max_reports=25)
    result = pair.import_(batches)
    assert result.ok, result.problems
    return pair, batches, root / "spool.done"


# --------------------------------------------------------------------------- init


def test_init_new_home_store_wal_foreign_keys_private_modes(tmp_path: Path) -> None:
    home = api.init(Home(tmp_path / "home"), now=NOW)
    assert home.store_file.is_file() and home.blobs_dir.is_dir() and home.rules_dir.is_dir()
    assert any(home.rules_dir.glob("*.toml"))
    with connect(home) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA user_version").fetchone()[0] == latest_version() >= 1
        assert conn.execute("PRAGMA page_size").fetchone()[0] == 2048
    with open_store(home) as store:
        assert store.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    for path in [home.root, *home.root.rglob("*")]:
        mode = stat.S_IMODE(path.lstat().st_mode)
        assert mode == (0o700 if path.is_dir() else 0o600), (str(path), oct(mode))
    again = api.init(Home(tmp_path / "home"), now=NOW)  # idempotent
    assert again.store_file == home.store_file and table_counts(home)["audit_log"] >= 1


def test_init_store_newer_schema_state_error_with_hint(tmp_path: Path) -> None:
    home = api.init(Home(tmp_path / "home"), now=NOW)
    with connect(home) as conn:
        conn.execute(f"PRAGMA user_version = {latest_version() + 1}")
    with pytest.raises(StateError) as err:
        api.init(home, now=NOW)
    assert "newer" in err.value.message and err.value.hint


# --------------------------------------------------------------------------- the good path


def test_import_three_batches_stores_everything_in_ledger_and_state(pair: Pair, three: list[Path]) -> None:
    result = pair.import_(three)
    assert result.ok and result.problems == []
    assert [b.status for b in result.batches] == ["imported"] * 3
    assert [b.sequence for b in result.batches] == [1, 2, 3]
    counts = table_counts(pair.home)
    assert counts["batches"] == 3 and counts["reports"] == 6 and counts["sources"] == 1
    assert counts["attachments"] == 6 and counts["report_attachments"] == 6
    assert counts["fingerprints"] > 0
    with connect(pair.home) as conn:
        state = conn.execute("SELECT last_sequence, last_manifest_sha256 FROM sources WHERE source = ?", (SOURCE,)).fetchone()
        ledger = conn.execute("SELECT manifest_sha256 FROM batches WHERE sequence = 3").fetchone()[0]
        shas = [r[0] for r in conn.execute("SELECT sha256 FROM attachments")]
        stored = [bytes(r[0]) for r in conn.execute("SELECT report_json FROM reports")]
    assert state == (3, ledger)
    # content-addressed blobs with exactly the declared bytes
    for sha in shas:
        path = pair.home.blobs_dir / sha[:2] / sha
        assert path.is_file() and stat.S_IMODE(path.stat().st_mode) == 0o600
        assert hashlib.sha256(path.read_bytes()).hexdigest() == sha
    # the reports are the exact bytes the intake validated
    spool_reports = {p.read_bytes() for p in (pair.root / "spool.done").rglob("report.json")}
    assert set(stored) == spool_reports
    assert reports_per_batch(pair.home) == [(i, 2, 2) for i in (1, 2, 3)]
    assert api.store_check(pair.home).ok


def test_import_every_batch_writes_batch_and_report_audit_entries(pair: Pair, three: list[Path]) -> None:
    before = len(audit_entries(pair.home))
    pair.import_(three)
    new = audit_entries(pair.home)[before:]
    assert [e["action"] for e in new].count("batch.import") == 3
    reported = [e["object"] for e in new if e["action"] == "report.import"]
    with connect(pair.home) as conn:
        ids = sorted(r[0] for r in conn.execute("SELECT submission_id FROM reports"))
    assert sorted(reported) == ids
    assert {e["actor"] for e in new if e["action"] in ("batch.import", "report.import")} == {"cluetool-import"}
    assert [e["seq"] for e in new] == list(range(before, before + len(new)))


def test_import_same_batches_again_already_imported_store_unchanged(pair: Pair, three: list[Path]) -> None:
    assert pair.import_(three).ok
    before = snapshot(pair.home)
    again = pair.import_(three)
    assert again.ok and [b.status for b in again.batches] == ["already_imported"] * 3
    # a copy under another name is the same batch
    copy_path = pair.root / "renamed.clue"
    shutil.copyfile(three[1], copy_path)
    assert pair.import_([copy_path]).batches[0].status == "already_imported"
    assert_unchanged(before, pair.home)


def test_import_damaged_copy_of_imported_batch_is_not_already_imported(pair: Pair, three: list[Path]) -> None:
    # Its manifest and signature are the imported batch's, but its payload is not.
    assert pair.import_(three).ok
    before = snapshot(pair.home)
    data = bytearray(three[1].read_bytes())
    data[len(data) // 2] ^= 0x01  # inside payload.age
    damaged = pair.root / "damaged.clue"
    damaged.write_bytes(bytes(data))
    result = pair.import_([damaged])
    assert not result.ok and result.batches[0].status == "rejected"
    assert "payload.sha256" in codes(result)
    assert_unchanged(before, pair.home)


def test_import_identity_option_selects_the_decrypting_key(pair: Pair, three: list[Path]) -> None:
    keys.generate(pair.home, "other", now=NOW)
    before = snapshot(pair.home)
    wrong = pair.import_(three[:1], identity="other")  # a valid identity that is not a recipient
    assert not wrong.ok and wrong.batches[0].status == "rejected"
    assert wrong.problems and all(p.batch == three[0].name for p in wrong.problems)
    assert_unchanged(before, pair.home)
    with pytest.raises(StateError):
        pair.import_(three[:1], identity="absent")
    assert pair.import_(three[:1], identity=RECEIVER_KEY).ok


# --------------------------------------------------------------------------- verify as verify --chain does


def _untrusted(pair: Pair, three: list[Path]) -> list[Path]:
    stranger = make_home(pair.root / "stranger")
    write_spool(pair.root / "spool-s", 1, seed=7102)
    return pair.seal(pair.root / "spool-s", pair.root / "out-s", sender=stranger)


def _tampered(pair: Pair, three: list[Path]) -> list[Path]:
    data = bytearray(three[0].read_bytes())
    data[-2048] ^= 0x01  # inside payload.age (the last member, before the end blocks)
    bad = pair.root / "tampered" / three[0].name
    bad.parent.mkdir()
    bad.write_bytes(bytes(data))
    return [bad]


def _gap(pair: Pair, three: list[Path]) -> list[Path]:
    return [three[1]]


def _truncated(pair: Pair, three: list[Path]) -> list[Path]:
    bad = pair.root / "cut" / three[0].name
    bad.parent.mkdir()
    bad.write_bytes(three[0].read_bytes()[:3000])
    return [bad]


def _untrusted_and_tampered(pair: Pair, three: list[Path]) -> list[Path]:
    (batch,) = _untrusted(pair, three)
    data = bytearray(batch.read_bytes())
    data[len(data) // 2] ^= 0x01  # inside payload.age: verify names both problems
    batch.write_bytes(bytes(data))
    return [batch]


@pytest.mark.parametrize("make", [_untrusted, _tampered, _gap, _truncated, _untrusted_and_tampered],
                         ids=lambda f: f.__name__.strip("_"))
def test_import_bad_batch_same_problems_as_verify_chain_nothing_stored(pair: Pair, three: list[Path], make: Any) -> None:
    paths = make(pair, three)
    expected = api.verify(paths, home=pair.receiver.home, chain=True)
    assert not expected.ok
    if make is _untrusted_and_tampered:
        assert {"signature.untrusted", "payload.sha256"} <= {p.code for p in expected.problems}
    before = snapshot(pair.home)
    result = pair.import_(paths)
    assert not result.ok and result.batches[0].status == "rejected"
    assert {(p.batch, p.code) for p in result.problems} == {(p.batch, p.code) for p in expected.problems}
    assert all(p.batch == paths[0].name and p.message for p in result.problems)
    assert_unchanged(before, pair.home)


def test_import_not_a_batch_file_rejected_with_reason(pair: Pair, tmp_path: Path) -> None:
    junk = tmp_path / "junk.clue"
    junk.write_bytes(b"not a tar archive at all" * 40)
    before = snapshot(pair.home)
    try:
        result = pair.import_([junk])
    except InputError as exc:  # the docstring allows either: a one-line reason
        assert exc.message and "\n" not in exc.message
    else:
        assert not result.ok and result.problems[0].batch == "junk.clue"
    assert_unchanged(before, pair.home)


# --------------------------------------------------------------------------- chain: fork, replay, gap


def test_import_fork_same_key_other_spool_refused_and_audited(pair: Pair) -> None:
    # Two intake homes that share the key files seal different spools: both sequence 1.
    twin = make_home(pair.root / "intake-twin")
    for f in pair.sender.home.keys_dir.iterdir():
        shutil.copy2(f, twin.home.keys_dir / f.name)
    twin = KeyHome(home=twin.home, name=pair.sender.name, info=pair.sender.info)
    write_spool(pair.root / "spool-a", 2, seed=7201)
    write_spool(pair.root / "spool-b", 2, seed=7202)
    [a] = pair.seal(pair.root / "spool-a", pair.root / "out-a")
    [b] = pair.seal(pair.root / "spool-b", pair.root / "out-b", sender=twin)
    assert a.name == b.name and a.read_bytes() != b.read_bytes()
    assert pair.import_([a]).ok
    before = snapshot(pair.home)
    result = pair.import_([b])
    assert not result.ok and "chain.fork" in codes(result)
    after = table_counts(pair.home)
    # the refused fork is evidence: one audit entry, and a checkpoint that signs it
    assert after == {**before.counts, "audit_log": before.counts["audit_log"] + 1,
                     "checkpoints": before.counts["checkpoints"] + 1}
    assert blob_files(pair.home) == before.blobs
    last = audit_entries(pair.home)[-1]
    assert last["action"] == "batch.fork_refused" and last["object"] == f"{SOURCE}/1"
    assert last["details"]["batch"] == b.name


def test_import_first_batch_sequence_two_into_empty_store_is_a_gap(pair: Pair, three: list[Path]) -> None:
    before = snapshot(pair.home)
    result = pair.import_([three[1]])
    assert codes(result) == {"chain.gap"} and result.batches[0].status == "rejected"
    assert_unchanged(before, pair.home)


def test_import_gap_refused_then_allowed_with_reason_recorded(pair: Pair, three: list[Path]) -> None:
    assert pair.import_([three[0]]).ok
    before = snapshot(pair.home)
    refused = pair.import_([three[2]])
    assert codes(refused) == {"chain.gap"}
    assert any("2" in p.message for p in refused.problems)
    assert_unchanged(before, pair.home)

    reason = "batch 2 lost in transit, ticket 4711"
    allowed = pair.import_([three[2]], allow_gap_reason=reason)
    assert allowed.ok and allowed.batches[0].status == "imported" and allowed.batches[0].gap_reason == reason
    with connect(pair.home) as conn:
        rows = dict(conn.execute("SELECT sequence, allow_gap_reason FROM batches").fetchall())
    assert rows == {1: None, 3: reason}
    gap = [e for e in audit_entries(pair.home) if e["action"] == "batch.gap_allowed"]
    assert len(gap) == 1 and gap[0]["details"]["reason"] == reason and gap[0]["object"] == f"{SOURCE}/3"

    # The skipped batch arriving late is below the chain head: refused, nothing stored.
    before = snapshot(pair.home)
    late = pair.import_([three[1]])
    assert not late.ok and codes(late) <= {"chain.replay", "chain.fork", "chain.gap", "chain.stale"}
    assert_unchanged(before, pair.home)


def test_import_allow_gap_empty_reason_input_error(pair: Pair, three: list[Path]) -> None:
    with pytest.raises(InputError):
        pair.import_([three[1]], allow_gap_reason="  ")


def test_import_allow_gap_without_gap_stores_no_reason(pair: Pair, three: list[Path]) -> None:
    result = pair.import_([three[0]], allow_gap_reason="just in case")
    assert result.ok and result.batches[0].gap_reason is None
    assert "batch.gap_allowed" not in actions(pair.home)


def test_import_replay_of_imported_sequence_in_one_call_refused(pair: Pair, three: list[Path]) -> None:
    # A batch given twice in one run: the second is a no-op, never a second copy.
    result = pair.import_([three[0], three[0]])
    assert result.ok and [b.status for b in result.batches] == ["imported", "already_imported"]
    assert table_counts(pair.home)["reports"] == 2


# --------------------------------------------------------------------------- content re-validated


def _invalid_id(report: dict[str, Any]) -> None:
    n = report["reporter"]["individual"]["id_number"]
    report["reporter"]["individual"]["id_number"] = n[:17] + ("0" if n[17] != "0" else "1")


def _future_received(report: dict[str, Any]) -> None:
    report["received_at"] = "2026-12-20T10:00:00+08:00"  # after NOW
    report["declaration"]["at"] = "2026-12-20T09:50:00+08:00"


@pytest.mark.parametrize("mutate", [_invalid_id, _future_received], ids=["id_checksum", "received_at_future"])
def test_import_trusted_batch_invalid_report_rejected_whole(pair: Pair, monkeypatch: pytest.MonkeyPatch, mutate: Any) -> None:
    spool = pair.root / "spool"
    write_spool(spool, 3, seed=7301)  # valid, with attachments: their blobs must not stay
    report, files = submission(7302, 0)  # individual real-name reporter
    assert report["reporter"]["identity"] == "real_name" and "individual" in report["reporter"]
    mutate(report)
    write_submission(spool / report["submission_id"], report, files)
    lenient_seal(monkeypatch)
    [batch] = pair.seal(spool)
    before = snapshot(pair.home)
    result = pair.import_([batch])
    assert not result.ok and result.batches[0].status == "rejected"
    assert codes(result) == {"report.invalid"}
    assert all(report["submission_id"] in p.message and p.batch == batch.name for p in result.problems)
    assert_unchanged(before, pair.home)


@pytest.mark.parametrize(("make", "code"), [
    (lambda rng: media.jpeg_with_trailing_bytes(rng), "attachment.trailing_data"),
    (lambda rng: media.jpeg_with_trailing_zip(rng), "attachment.trailing_data"),
    (lambda rng: media.truncated_jpeg(rng), "attachment.truncated"),
    (lambda rng: media.elf_renamed(), None),
], ids=["trailing_data", "trailing_zip", "truncated", "elf_as_jpg"])
def test_import_trusted_batch_bad_attachment_content_rejected_whole(
    pair: Pair, monkeypatch: pytest.MonkeyPatch, make: Any, code: str | None
) -> None:
    batch, report = seal_with_bad_attachment(pair, monkeypatch, make(random.Random(7403)), seed=7401)
    entries = inner_index(pair, batch)  # the bad attachment made it into a signed batch
    assert len(entries) == 4 and report["submission_id"] in {e.submission_id for e in entries}
    before = snapshot(pair.home)
    result = pair.import_([batch])
    assert not result.ok and result.batches[0].status == "rejected"
    assert all(c.startswith("attachment.") or c == "payload.attachment" for c in codes(result)), codes(result)
    if code is not None:
        assert code in codes(result)
    assert all(p.batch == batch.name for p in result.problems)
    assert_unchanged(before, pair.home)


def test_import_rebuilt_batch_resigned_with_invalid_report_rejected(pair: Pair) -> None:
    """The batch is taken apart and put back together by hand: one report edited (and
    its index hash), payload re-encrypted, manifest re-signed with the intake key. The
    signature and chain are fine; the content is not."""
    write_spool(pair.root / "spool", 2, seed=7501, attachments=0)
    [batch] = pair.seal(pair.root / "spool")
    members = read_members(batch)
    plain = io.BytesIO()
    age.decrypt(io.BytesIO(members["payload.age"]), plain, [pair.receiver.identity()])
    inner = {m.name: m.read() for m in ustar.iter_members(io.BytesIO(plain.getvalue()))}
    index = json.loads(inner["index.json"])
    sid = index[0]["submission_id"]
    name = f"reports/{sid}.json"
    edited = json.loads(inner[name])
    edited["facts"]["region"] = "999999"  # no such county
    inner[name] = render(edited)
    index[0]["report_sha256"] = hashlib.sha256(inner[name]).hexdigest()
    inner["index.json"] = canonical.dumps(index)
    tar = io.BytesIO()
    with ustar.UstarWriter(tar) as w:
        for n, d in inner.items():
            w.add(n, len(d), d)
    payload = io.BytesIO()
    age.encrypt(io.BytesIO(tar.getvalue()), payload, [age.X25519Recipient.parse(pair.receiver.recipient)])
    manifest = msgspec.json.decode(members["manifest.json"], type=Manifest)
    manifest.payload = PayloadInfo(size=len(payload.getvalue()), sha256=hashlib.sha256(payload.getvalue()).hexdigest())
    manifest_bytes = canonical.dumps(manifest)
    sk = pair.sender.secret_key()
    sig = minisign.sign(sk, manifest_bytes, trusted_comment=manifest.trusted_comment(),
                        untrusted_comment=f"signature from cluetool key {key_id_hex16(sk.key_id)}").encode()
    rebuilt = pair.root / "rebuilt" / batch.name
    rebuilt.parent.mkdir()
    rebuilt.write_bytes(assemble_files([("manifest.json", manifest_bytes), ("manifest.json.minisig", sig),
                                        ("payload.age", payload.getvalue())]))
    assert api.verify([rebuilt], home=pair.receiver.home, chain=True, decrypt=True, identity=RECEIVER_KEY).ok
    before = snapshot(pair.home)
    result = pair.import_([rebuilt])
    assert codes(result) == {"report.invalid"} and sid in result.problems[0].message
    assert_unchanged(before, pair.home)


# --------------------------------------------------------------------------- concurrency, temp files


LOCKER = (
    "import sqlite3, sys\n"
    "c = sqlite3.connect(sys.argv[1], isolation_level=None)\n"
    "c.execute('BEGIN IMMEDIATE')\n"
    "print('locked', flush=True)\n"
    "sys.stdin.read()\n"
    "c.execute('ROLLBACK')\n"
)
# On PostgreSQL, the lock an import of SOURCE needs is the source's advisory lock.
LOCKER_PG = (
    "import sys\n"
    "from cluetool.store.pgstore import PgStore\n"
    "from pathlib import Path\n"
    "with PgStore.open_url(sys.argv[1], blobs_dir=Path(sys.argv[2])) as s, s.write() as tx:\n"
    f"    tx.lock('source:{SOURCE}')\n"
    "    print('locked', flush=True)\n"
    "    sys.stdin.read()\n"
)


class Locker:
    """Another process holding the store's write lock until ``release()``."""

    def __init__(self, store_file: Path, url: str | None = None) -> None:
        args = [LOCKER, str(store_file)] if url is None else [LOCKER_PG, url, str(store_file.parent / "blobs")]
        self.proc = subprocess.Popen([sys.executable, "-c", *args], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True, cwd=ROOT)
        assert self.proc.stdout is not None and self.proc.stdout.readline().strip() == "locked"

    def release(self) -> None:
        if self.proc.poll() is None:
            assert self.proc.stdin is not None
            self.proc.stdin.close()
            self.proc.wait(timeout=10)
        assert self.proc.returncode == 0


@pytest.fixture
def locker(pair: Pair) -> Iterator[Locker]:
    lock = Locker(pair.home.store_file, pair.home.config().store)
    try:
        yield lock
    finally:
        lock.release()


def test_import_store_locked_busy_then_succeeds_after_release(pair: Pair, three: list[Path], locker: Locker) -> None:
    before = snapshot(pair.home)
    with pytest.raises(BusyError):
        pair.import_(three, wait=0.5)
    # Nothing stored. The blobs written before the lock was refused stay as orphans:
    # without the lock, the import cannot know that no other import references them
    # (issue 16); store check calls them harmless and --repair removes them.
    after = snapshot(pair.home)
    assert after.counts == before.counts and after.dump == before.dump
    orphans = {p.object for p in api.store_check(pair.home).problems if p.code == "blob.orphan"}
    assert {str(pair.home.blobs_dir / b) for b in after.blobs - before.blobs} == orphans
    locker.release()
    result = pair.import_(three, wait=0.5)
    assert result.ok and table_counts(pair.home)["reports"] == 6
    assert api.store_check(pair.home).ok


def _tree(root: Path, skip: Path) -> dict[str, int]:
    out = {}
    for p in root.rglob("*"):
        if skip in p.parents or p == skip:
            continue
        out[str(p.relative_to(root))] = p.lstat().st_size if p.is_file() else -1
    return out


def test_import_subprocess_writes_no_plaintext_outside_the_store(pair: Pair, three: list[Path], tmp_path: Path) -> None:
    tmpdir, cwd = tmp_path / "tmpdir", tmp_path / "cwd"
    tmpdir.mkdir()
    cwd.mkdir()
    before = _tree(tmp_path, pair.receiver.root)
    env = {**os.environ, "TMPDIR": str(tmpdir), "TEMP": str(tmpdir), "TMP": str(tmpdir)}
    env.pop("CLUETOOL_HOME", None)
    proc = subprocess.run([sys.executable, "-m", "cluetool", "--home", str(pair.receiver.root), "-f", "json",
                           "import", "--identity", RECEIVER_KEY, *map(str, three)],
                          cwd=cwd, env={**env, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["ok"] is True
    assert list(tmpdir.iterdir()) == [] and list(cwd.iterdir()) == []
    assert _tree(tmp_path, pair.receiver.root) == before
    assert table_counts(pair.home)["reports"] == 6


# --------------------------------------------------------------------------- audit entries hold no content


CONTENT_KEYS = {"name", "id_number", "mobile", "phone", "description", "contact_person", "alias", "uscc",
                "email", "detail", "place_detail", "workplace", "legal_representative", "case_number", "unit_name"}


def _content(value: Any, key: str = "") -> Iterator[str]:
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _content(v, k)
    elif isinstance(value, list):
        for v in value:
            yield from _content(v, key)
    elif isinstance(value, str) and key in CONTENT_KEYS and len(value) >= 2:
        yield value


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        for k, v in value.items():
            yield k
            yield from _strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)
    elif value is not None:
        yield str(value)


def test_import_samples_audit_entries_hold_no_report_content(samples_imported: tuple[Pair, list[Path], Path]) -> None:
    pair, batches, done = samples_imported
    reports = [json.loads(p.read_text(encoding="utf-8")) for p in done.rglob("report.json")]
    assert len(reports) == 60
    needles = {s for r in reports for s in _content(r)}
    assert any(len(n) == 18 and n[:17].isdigit() for n in needles)  # ID numbers are among them
    assert any(n.startswith("1") and len(n) == 11 and n.isdigit() for n in needles)  # mobiles too
    entries = audit_entries(pair.home)
    text = "\n".join(s for e in entries for s in _strings(e))
    with connect(pair.home) as conn:
        raw = b"\n".join(bytes(r[0]) for r in conn.execute("SELECT entry FROM audit_log")).decode("utf-8")
    leaked = sorted(n for n in needles if n in text or n in raw)
    assert leaked == []
    acts = [e["action"] for e in entries]
    assert acts.count("batch.import") == len(batches) and acts.count("report.import") == 60


def test_import_samples_status_and_ledger_consistent(samples_imported: tuple[Pair, list[Path], Path]) -> None:
    pair, batches, _ = samples_imported
    assert [n for _, n, stored in reports_per_batch(pair.home) if n == stored] == [25, 25, 10]
    with connect(pair.home) as conn:
        assert {r[0] for r in conn.execute("SELECT stage FROM report_stages")} == {"received"}
    assert api.store_check(pair.home).ok


# --------------------------------------------------------------------------- duplicates


def test_import_shared_subject_id_across_batches_linked_not_merged(pair: Pair) -> None:
    a = gang_with_id(7601)
    b, _ = submission(7602, 1)
    b["subjects"][0]["type"] = "person"
    b["subjects"][0]["id_number"] = a["subjects"][0]["id_number"]
    b["subjects"][0]["name"] = "另一人"
    write_submission(pair.root / "spool-1" / a["submission_id"], a, {})
    write_submission(pair.root / "spool-2" / b["submission_id"], b, {})
    [one] = pair.seal(pair.root / "spool-1")
    [two] = pair.seal(pair.root / "spool-2")
    assert pair.import_([one]).batches[0].duplicates == 0
    result = pair.import_([two])
    assert result.ok and result.batches[0].duplicates == 1
    [link] = api.duplicates(pair.home).duplicates
    assert (link.submission_id, link.duplicate_of, link.state) == (b["submission_id"], a["submission_id"], "open")
    assert "subject id" in link.reason
    with connect(pair.home) as conn:
        assert {r[0] for r in conn.execute("SELECT submission_id FROM reports")} == {a["submission_id"], b["submission_id"]}
    dup = [e for e in audit_entries(pair.home) if e["action"] == "duplicate.found"]
    assert [(e["object"], e["details"]["duplicate_of"]) for e in dup] == [(b["submission_id"], a["submission_id"])]


def test_import_same_attachment_across_batches_one_blob_two_reports_linked(pair: Pair) -> None:
    a, files = submission(7701, 2, attachments=1)
    b, _ = submission(7702, 0)
    b["attachments"] = copy.deepcopy(a["attachments"])
    write_submission(pair.root / "spool-1" / a["submission_id"], a, files)
    write_submission(pair.root / "spool-2" / b["submission_id"], b, files)
    [one] = pair.seal(pair.root / "spool-1")
    [two] = pair.seal(pair.root / "spool-2")
    assert pair.import_([one, two]).ok
    [link] = api.duplicates(pair.home).duplicates
    assert link.submission_id == b["submission_id"] and link.duplicate_of == a["submission_id"]
    assert link.reason == "same attachment"
    counts = table_counts(pair.home)
    assert counts["reports"] == 2 and counts["attachments"] == 1 and counts["report_attachments"] == 2
    assert len(blob_files(pair.home)) == 1


def test_fingerprints_normalise_id_numbers_and_names() -> None:
    report = gang_with_id(7801)
    other = copy.deepcopy(report)
    other["subjects"][0]["id_number"] = report["subjects"][0]["id_number"].lower()
    other["subjects"][0]["name"] = " " + report["subjects"][0]["name"] + " "
    fa = {(f.kind, f.value) for f in fingerprints(decode_report(render(report)))}
    fb = {(f.kind, f.value) for f in fingerprints(decode_report(render(other)))}
    assert {k for k, _ in fa} >= {"subject_id", "subject_name"}
    assert {v for k, v in fa if k == "subject_id"} == {v for k, v in fb if k == "subject_id"}
    assert {v for k, v in fa if k == "subject_name"} == {v for k, v in fb if k == "subject_name"}
    # only hashes: no ID number or name in a fingerprint
    assert all(len(v) == 32 and int(v, 16) >= 0 for _, v in fa)


# --------------------------------------------------------------------------- store check


def test_store_check_tampered_and_missing_blob_found(pair: Pair, three: list[Path]) -> None:
    assert pair.import_(three).ok
    assert api.store_check(pair.home).ok
    with connect(pair.home) as conn:
        shas = sorted(r[0] for r in conn.execute("SELECT sha256 FROM attachments"))
    tampered = pair.home.blobs_dir / shas[0][:2] / shas[0]
    with open(tampered, "r+b") as f:
        f.seek(100)
        byte = f.read(1)
        f.seek(100)
        f.write(bytes([byte[0] ^ 0xFF]))
    missing = pair.home.blobs_dir / shas[1][:2] / shas[1]
    missing.unlink()
    report = api.store_check(pair.home)
    assert not report.ok
    found = {(p.code, p.severity) for p in report.problems}
    assert ("blob.tampered", "error") in found and ("blob.missing", "error") in found
    assert any(shas[0] in p.object for p in report.problems if p.code == "blob.tampered")
    assert any(shas[1] in p.object for p in report.problems if p.code == "blob.missing")


def test_import_batch_with_already_stored_report_skips_it_as_resent(pair: Pair) -> None:
    names = write_spool(pair.root / "spool-1", 2, seed=7901, attachments=0)
    shutil.copytree(pair.root / "spool-1" / names[0], pair.root / "again")
    [first] = pair.seal(pair.root / "spool-1")
    # the intake seals the same submission a second time (its state restored from an
    # old backup, so its register does not know it any more)
    (pair.sender.home.state_dir / "seal" / "register.db").unlink()
    fresh = write_spool(pair.root / "spool-2", 1, seed=7902, attachments=0)
    shutil.move(pair.root / "again", pair.root / "spool-2" / names[0])
    [second] = pair.seal(pair.root / "spool-2")
    assert pair.import_([first]).ok
    result = pair.import_([second])
    assert result.ok, result.problems
    assert [(b.status, b.reports, b.resent) for b in result.batches] == [("imported", 1, 1)]
    assert [e["object"] for e in audit_entries(pair.home) if e["action"] == "report.resent"] == [names[0]]
    with connect(pair.home) as conn:
        assert conn.execute("SELECT count(*) FROM reports WHERE submission_id IN (?, ?)", (names[0], fresh[0])).fetchone()[0] == 2
