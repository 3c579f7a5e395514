"""``seal`` (library): validation and quarantine, batch splitting, the done folders, the
report, recipients, and the chain across runs (docs/format.md)."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

import msgspec
import pytest

from cluetool.batch import seal as seal_module
from cluetool.batch import sealstate
from cluetool.batch.seal import parse_recipients
from cluetool.batch.writer import age_size
from cluetool.batch.verify import verify_batches
from cluetool.errors import BusyError, InputError, StateError
from cluetool.formats import age
from cluetool.model.batch import ZERO_HASH
from tests.batch_helpers import (
    NOW,
    SOURCE,
    batch_index,
    copy_submissions,
    invalid_names,
    lookup_for,
    make_home,
    manifest_of,
    read_members,
    sample_spool,  # noqa: F401 - fixture
    seal_spool,
    sha256_hex,
    valid_names,
    write_spool,
)


@pytest.fixture
def kh(tmp_path: Path):
    return make_home(tmp_path / "home")


def _ids_in(path: Path, kh) -> set[str]:
    _sha, entries = batch_index(path, kh)
    return {e.submission_id for e in entries}


# --------------------------------------------------------------------------- the sample spool


def test_seal_sample_spool_quarantines_invalid_and_seals_valid(tmp_path: Path, sample_spool: Path, kh) -> None:
    spool = tmp_path / "spool"
    shutil.copytree(sample_spool, spool, symlinks=True)
    good, bad = valid_names(spool), invalid_names(spool)
    assert len(good) == 60 and len(bad) == 24

    report = seal_spool(kh, spool, tmp_path / "out", max_reports=40)

    assert report.ok is False  # something was quarantined: the CLI exits 1
    assert [b.sequence for b in report.batches] == [1, 2]
    assert [b.reports for b in report.batches] == [40, 20]
    assert sorted(q.submission for q in report.quarantined) == bad
    quarantine = tmp_path / "spool.quarantine"
    for q in report.quarantined:
        box = quarantine / q.submission
        assert Path(q.path) == box
        assert (box / "submission").is_dir() and (box / "submission" / "report.json").exists()
        reason = json.loads((box / "reason.json").read_bytes())
        assert reason["submission"] == q.submission
        expected_code = q.submission.removeprefix("invalid-")
        assert expected_code in {f["code"] for f in reason["findings"]}
        assert expected_code in q.codes
        assert all({"code", "message", "path"} <= set(f) for f in reason["findings"])
    assert list(spool.iterdir()) == []
    sealed: set[str] = set()
    for b in report.batches:
        done = tmp_path / "spool.done" / Path(b.batch).stem
        in_done = {p.name for p in done.iterdir()}
        assert len(in_done) == b.reports
        assert _ids_in(Path(b.path), kh) == in_done  # valid sample dirs are named by submission_id
        assert not (in_done & sealed)
        sealed |= in_done
    assert sealed == set(good)


def test_seal_custom_quarantine_and_done_dirs_used(tmp_path: Path, sample_spool: Path, kh) -> None:
    spool = tmp_path / "spool"
    names = copy_submissions(sample_spool, spool, valid_names(sample_spool)[:2] + ["invalid-reporter.mobile"])
    report = seal_spool(kh, spool, tmp_path / "out", quarantine=tmp_path / "q", done=tmp_path / "d")
    assert [q.submission for q in report.quarantined] == ["invalid-reporter.mobile"]
    assert (tmp_path / "q" / "invalid-reporter.mobile" / "reason.json").is_file()
    assert {p.name for p in (tmp_path / "d" / f"{SOURCE}-00000001").iterdir()} == set(names[:2])
    assert not (tmp_path / "spool.quarantine").exists() and not (tmp_path / "spool.done").exists()


def test_seal_all_valid_report_ok_and_fields_match_batch(tmp_path: Path, kh) -> None:
    spool = tmp_path / "spool"
    names = write_spool(spool, 3, seed=1, attachments=2)
    report = seal_spool(kh, spool, tmp_path / "out")
    assert report.ok is True and report.quarantined == [] and report.schema == "cluetool.seal/1"
    (b,) = report.batches
    path = Path(b.path)
    assert b.batch == f"{SOURCE}-00000001.clue" == path.name and path.parent == (tmp_path / "out").resolve()
    members = read_members(path)
    assert list(members) == ["manifest.json", "manifest.json.minisig", "payload.age"]
    m = msgspec.json.decode(members["manifest.json"])
    assert b.manifest_sha256 == sha256_hex(members["manifest.json"])
    assert b.payload_sha256 == sha256_hex(members["payload.age"]) == m["payload"]["sha256"]
    assert b.payload_size == len(members["payload.age"]) == m["payload"]["size"]
    assert b.reports == m["counts"]["reports"] == 3
    unique = {a for n in names for a in (spool.parent / "spool.done" / path.stem / n).iterdir() if a.name != "report.json"}
    assert b.attachments == m["counts"]["attachments"] == len({hashlib.sha256(a.read_bytes()).hexdigest() for a in unique})
    assert m["source"] == SOURCE and m["sequence"] == 1 and m["previous"] == ZERO_HASH
    assert m["signer"] == kh.info.key_id and m["recipients"] == [kh.recipient]
    assert m["created_at"] == "2026-11-24T02:00:00Z" and m["format"] == "cluetool-batch/1"
    assert _ids_in(path, kh) == set(names)


def test_seal_manifest_reveals_no_report_content(tmp_path: Path, kh) -> None:
    spool = tmp_path / "spool"
    names = write_spool(spool, 2, seed=2)
    report = seal_spool(kh, spool, tmp_path / "out")
    raw = read_members(Path(report.batches[0].path))["manifest.json"]
    for name in names:
        assert name.encode() not in raw
    assert set(msgspec.json.decode(raw)) == {
        "format", "source", "sequence", "previous", "created_at", "signer", "recipients", "payload", "counts",
    }


def test_seal_identical_attachments_stored_once(tmp_path: Path, kh) -> None:
    spool = tmp_path / "spool"
    (name,) = write_spool(spool, 1, seed=3, attachments=1)
    src = spool / name
    report_json = json.loads((src / "report.json").read_bytes())
    # another report (its own id and query code) with the same attachment
    copy = dict(report_json, submission_id="0f6b2d7e-3a39-4c1c-9f4e-2c1a5b7d9e11",
                query_code_sha256=hashlib.sha256(b"another code").hexdigest())
    dst = spool / copy["submission_id"]
    shutil.copytree(src, dst)
    (dst / "report.json").write_text(json.dumps(copy, ensure_ascii=False, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    report = seal_spool(kh, spool, tmp_path / "out")
    (b,) = report.batches
    assert (b.reports, b.attachments) == (2, 1)
    _sha, entries = batch_index(Path(b.path), kh)
    assert entries[0].attachments == entries[1].attachments and len(entries[0].attachments) == 1


def test_seal_empty_spool_writes_nothing(tmp_path: Path, kh) -> None:
    (tmp_path / "spool").mkdir()
    report = seal_spool(kh, tmp_path / "spool", tmp_path / "out")
    assert report.ok is True and report.batches == [] and report.quarantined == []
    assert list((tmp_path / "out").iterdir()) == []
    assert sealstate.load_state(kh.home, SOURCE).sequence == 0


def test_seal_hidden_entries_ignored(tmp_path: Path, kh) -> None:
    spool = tmp_path / "spool"
    write_spool(spool, 1, seed=4)
    (spool / ".intake-tmp").mkdir()
    report = seal_spool(kh, spool, tmp_path / "out")
    assert len(report.batches) == 1 and report.quarantined == []
    assert (spool / ".intake-tmp").is_dir()


# --------------------------------------------------------------------------- splitting


def test_seal_max_reports_splits_into_consecutive_batches(tmp_path: Path, kh) -> None:
    spool = tmp_path / "spool"
    names = write_spool(spool, 7, seed=5)
    report = seal_spool(kh, spool, tmp_path / "out", max_reports=3)
    assert [(b.sequence, b.reports) for b in report.batches] == [(1, 3), (2, 3), (3, 1)]
    seen: list[str] = []
    for b in report.batches:
        seen += sorted(_ids_in(Path(b.path), kh))
    assert sorted(seen) == sorted(names) and len(seen) == len(set(seen))
    # in spool order (sorted by name), consecutive
    assert [sorted(_ids_in(Path(b.path), kh)) for b in report.batches] == [sorted(names)[0:3], sorted(names)[3:6], sorted(names)[6:]]


def test_seal_max_bytes_splits_by_submission_size(tmp_path: Path, kh) -> None:
    spool = tmp_path / "spool"
    names = sorted(write_spool(spool, 6, seed=6, attachments=1))
    sizes = {n: sum(f.stat().st_size for f in (spool / n).iterdir()) for n in names}
    limit = max(sizes.values()) * 2
    report = seal_spool(kh, spool, tmp_path / "out", max_bytes=limit)
    assert len(report.batches) >= 3
    total = 0
    for b in report.batches:
        ids = _ids_in(Path(b.path), kh)
        assert sum(sizes[i] for i in ids) <= limit
        total += len(ids)
    assert total == 6
    # greedy and consecutive: the next submission would not have fitted
    order = [sorted(_ids_in(Path(b.path), kh)) for b in report.batches]
    flat = [n for batch in order for n in batch]
    assert flat == names
    for batch, nxt in zip(order, order[1:]):
        assert sum(sizes[i] for i in batch) + sizes[nxt[0]] > limit


def test_seal_max_bytes_smaller_than_one_submission_still_seals_it_alone(tmp_path: Path, kh) -> None:
    spool = tmp_path / "spool"
    write_spool(spool, 2, seed=7)
    report = seal_spool(kh, spool, tmp_path / "out", max_bytes=1)
    assert [b.reports for b in report.batches] == [1, 1]


@pytest.mark.parametrize("limits", [{"max_reports": 0}, {"max_bytes": 0}, {"max_reports": -1}])
def test_seal_nonpositive_limits_raise_input_error(tmp_path: Path, kh, limits: dict[str, int]) -> None:
    write_spool(tmp_path / "spool", 1, seed=8)
    with pytest.raises(InputError, match="positive"):
        seal_spool(kh, tmp_path / "spool", tmp_path / "out", **limits)


# --------------------------------------------------------------------------- chain across runs


def test_seal_second_run_continues_sequence_and_chain(tmp_path: Path, kh) -> None:
    spool = tmp_path / "spool"
    write_spool(spool, 3, seed=9)
    first = seal_spool(kh, spool, tmp_path / "out", max_reports=2)
    write_spool(spool, 2, seed=10)
    second = seal_spool(kh, spool, tmp_path / "out")
    assert [b.sequence for b in first.batches] == [1, 2]
    assert [b.sequence for b in second.batches] == [3]
    paths = sorted((tmp_path / "out").glob("*.clue"))
    assert [p.name for p in paths] == [f"{SOURCE}-0000000{i}.clue" for i in (1, 2, 3)]
    prev = ZERO_HASH
    for p in paths:
        m = manifest_of(p)
        assert m["previous"] == prev
        prev = sha256_hex(read_members(p)["manifest.json"])
    state = sealstate.load_state(kh.home, SOURCE)
    assert (state.sequence, state.manifest_sha256) == (3, prev)
    report = verify_batches(paths, lookup_for(kh.public_key()), chain=True)
    assert report.ok, report.problems
    assert {p.name for p in (tmp_path / "spool.done").iterdir()} == {p.stem for p in paths}


def test_seal_sources_have_independent_chains(tmp_path: Path, kh) -> None:
    write_spool(tmp_path / "a", 1, seed=11)
    write_spool(tmp_path / "b", 1, seed=12)
    ra = seal_spool(kh, tmp_path / "a", tmp_path / "out", source="intake-a")
    rb = seal_spool(kh, tmp_path / "b", tmp_path / "out", source="intake-b")
    assert (ra.batches[0].batch, rb.batches[0].batch) == ("intake-a-00000001.clue", "intake-b-00000001.clue")
    assert manifest_of(Path(rb.batches[0].path))["previous"] == ZERO_HASH


def test_seal_batch_file_in_the_way_raises_state_error_and_keeps_it(tmp_path: Path, kh) -> None:
    write_spool(tmp_path / "spool", 1, seed=13)
    out = tmp_path / "out"
    out.mkdir()
    (out / f"{SOURCE}-00000001.clue").write_bytes(b"someone else's file")
    with pytest.raises(StateError, match="already exists") as err:
        seal_spool(kh, tmp_path / "spool", out)
    assert err.value.hint and "never reuse a sequence" in err.value.hint
    assert (out / f"{SOURCE}-00000001.clue").read_bytes() == b"someone else's file"
    assert len(list((tmp_path / "spool").iterdir())) == 1


def test_seal_stale_partial_files_removed(tmp_path: Path, kh) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / f".{SOURCE}-00000007.clue.partial").write_bytes(b"half a batch")
    write_spool(tmp_path / "spool", 1, seed=14)
    seal_spool(kh, tmp_path / "spool", out)
    assert sorted(p.name for p in out.iterdir()) == [f"{SOURCE}-00000001.clue"]


def test_seal_while_source_locked_raises_busy(tmp_path: Path, kh) -> None:
    write_spool(tmp_path / "spool", 1, seed=15)
    with sealstate.SourceLock(kh.home, SOURCE):
        with pytest.raises(BusyError):
            seal_spool(kh, tmp_path / "spool", tmp_path / "out")
    assert len(seal_spool(kh, tmp_path / "spool", tmp_path / "out").batches) == 1


def test_seal_unreadable_state_raises_state_error(tmp_path: Path, kh) -> None:
    write_spool(tmp_path / "spool", 1, seed=16)
    state = kh.home.state_dir / "seal"
    state.mkdir(parents=True, exist_ok=True)
    (state / f"{SOURCE}.json").write_bytes(b"{not json")
    with pytest.raises(StateError, match="unreadable"):
        seal_spool(kh, tmp_path / "spool", tmp_path / "out")


# --------------------------------------------------------------------------- crash recovery (deterministic)


class _Crash(Exception):
    pass


def test_seal_crash_after_batch_linked_rolls_forward(tmp_path: Path, kh, monkeypatch: pytest.MonkeyPatch) -> None:
    spool = tmp_path / "spool"
    names = write_spool(spool, 2, seed=17)

    def crash(_home: object, _journal: object) -> None:
        raise _Crash

    monkeypatch.setattr(seal_module, "_finish", crash)
    with pytest.raises(_Crash):
        seal_spool(kh, spool, tmp_path / "out")
    batch = tmp_path / "out" / f"{SOURCE}-00000001.clue"
    assert batch.is_file() and sealstate.load_journal(kh.home, SOURCE) is not None
    first_bytes = batch.read_bytes()
    monkeypatch.undo()

    report = seal_spool(kh, spool, tmp_path / "out")
    assert report.recovered == [batch.name] and report.batches == []
    assert batch.read_bytes() == first_bytes
    assert sealstate.load_journal(kh.home, SOURCE) is None
    assert sealstate.load_state(kh.home, SOURCE).sequence == 1
    assert {p.name for p in (tmp_path / "spool.done" / batch.stem).iterdir()} == set(names)
    assert list(spool.iterdir()) == []


def test_seal_crash_before_batch_linked_rolls_back(tmp_path: Path, kh, monkeypatch: pytest.MonkeyPatch) -> None:
    spool = tmp_path / "spool"
    names = write_spool(spool, 2, seed=18)

    def crash(_src: object, _dst: object) -> None:
        raise _Crash

    monkeypatch.setattr(seal_module.os, "link", crash)
    with pytest.raises(_Crash):
        seal_spool(kh, spool, tmp_path / "out")
    monkeypatch.undo()
    assert not list((tmp_path / "out").glob("*.clue"))
    assert sealstate.load_journal(kh.home, SOURCE) is not None

    report = seal_spool(kh, spool, tmp_path / "out")
    assert report.recovered == [] and [b.sequence for b in report.batches] == [1]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [f"{SOURCE}-00000001.clue"]
    assert _ids_in(Path(report.batches[0].path), kh) == set(names)


def test_seal_submission_changed_while_sealing_quarantined(tmp_path: Path, kh, monkeypatch: pytest.MonkeyPatch) -> None:
    spool = tmp_path / "spool"
    names = sorted(write_spool(spool, 3, seed=19, attachments=1))
    victim = names[1]
    real = seal_module.validate_submission_model

    def validate_then_tamper(path: Path, **kw: object):
        result = real(path, **kw)
        if path.name == victim:
            att = next(p for p in path.iterdir() if p.name != "report.json")
            att.write_bytes(att.read_bytes() + b"\x00")
        return result

    monkeypatch.setattr(seal_module, "validate_submission_model", validate_then_tamper)
    report = seal_spool(kh, spool, tmp_path / "out")
    assert report.ok is False
    assert [(q.submission, q.codes) for q in report.quarantined] == [(victim, ["submission.changed"])]
    reason = json.loads((tmp_path / "spool.quarantine" / victim / "reason.json").read_bytes())
    assert reason["findings"][0]["code"] == "submission.changed"
    (b,) = report.batches
    assert b.sequence == 1 and _ids_in(Path(b.path), kh) == {names[0], names[2]}


# --------------------------------------------------------------------------- recipients and keys


def test_seal_recipients_file_with_comments_and_two_recipients(tmp_path: Path, kh) -> None:
    other = make_home(tmp_path / "other")
    rfile = tmp_path / "recipients.txt"
    rfile.write_text(f"# the platform\n{kh.recipient}\n\n  # the auditor\n{other.recipient}\n", encoding="utf-8")
    write_spool(tmp_path / "spool", 1, seed=20)
    report = seal_spool(kh, tmp_path / "spool", tmp_path / "out", recipients=[str(rfile)])
    path = Path(report.batches[0].path)
    assert manifest_of(path)["recipients"] == [kh.recipient, other.recipient]
    ok = verify_batches([path], lookup_for(kh.public_key()), identities=[other.identity()])
    assert ok.ok and ok.batches[0].decrypted
    assert len(read_members(path)["payload.age"]) == report.batches[0].payload_size


def test_seal_string_and_file_recipients_combined(tmp_path: Path, kh) -> None:
    other = make_home(tmp_path / "other")
    write_spool(tmp_path / "spool", 1, seed=21)
    report = seal_spool(kh, tmp_path / "spool", tmp_path / "out", recipients=[kh.recipient, str(other.age_pub)])
    assert manifest_of(Path(report.batches[0].path))["recipients"] == [kh.recipient, other.recipient]


def test_parse_recipients_none_given_raises_input_error() -> None:
    with pytest.raises(InputError, match="no recipients"):
        parse_recipients([])


def test_parse_recipients_comment_only_file_raises_input_error(tmp_path: Path) -> None:
    f = tmp_path / "r.txt"
    f.write_text("# nobody yet\n", encoding="utf-8")
    with pytest.raises(InputError, match="no recipients"):
        parse_recipients([str(f)])


def test_parse_recipients_malformed_raises_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="invalid age recipient"):
        parse_recipients(["age1notarecipient"])
    f = tmp_path / "r.txt"
    f.write_text("ssh-ed25519 AAAA\n", encoding="utf-8")
    with pytest.raises(InputError, match="invalid age recipient"):
        parse_recipients([str(f)])


def test_parse_recipients_missing_file_raises_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="cannot read recipients file"):
        parse_recipients([str(tmp_path / "nope.txt")])


def test_seal_no_recipients_raises_before_touching_spool(tmp_path: Path, kh) -> None:
    spool = tmp_path / "spool"
    write_spool(spool, 1, seed=22)
    with pytest.raises(InputError):
        seal_spool(kh, spool, tmp_path / "out", recipients=[str(tmp_path / "empty")])
    assert len(list(spool.iterdir())) == 1 and not (tmp_path / "out").exists()


def test_seal_key_option_signs_with_that_key(tmp_path: Path, kh) -> None:
    from cluetool import keys

    other = keys.generate(kh.home, "second", now=NOW)
    write_spool(tmp_path / "spool", 1, seed=23)
    report = _seal(kh, tmp_path, key="second")
    path = Path(report.batches[0].path)
    assert manifest_of(path)["signer"] == other.key_id != kh.info.key_id
    from cluetool.formats import minisign

    second_pub = minisign.PublicKey.parse((kh.home.keys_dir / "second.pub").read_text())
    assert verify_batches([path], lookup_for(second_pub)).ok
    wrong = verify_batches([path], lookup_for(kh.public_key()))
    assert [p.code for p in wrong.problems] == ["signature.untrusted"]


def _seal(kh, tmp_path: Path, **kw: object):
    return seal_spool(kh, tmp_path / "spool", tmp_path / "out", **kw)


def test_seal_missing_key_raises_state_error(tmp_path: Path, kh) -> None:
    write_spool(tmp_path / "spool", 1, seed=24)
    with pytest.raises(StateError, match="not found"):
        _seal(kh, tmp_path, key="nosuchkey")


def test_seal_group_readable_key_raises_state_error(tmp_path: Path, kh) -> None:
    write_spool(tmp_path / "spool", 1, seed=25)
    os.chmod(kh.key_file, 0o640)
    with pytest.raises(StateError) as err:
        _seal(kh, tmp_path)
    assert str(kh.key_file) in err.value.message and err.value.hint and "chmod 600" in err.value.hint
    assert len(list((tmp_path / "spool").iterdir())) == 1


@pytest.mark.parametrize("source", ["Intake", "-x", "intake_bj", "a" * 64, ""])
def test_seal_invalid_source_raises_input_error(tmp_path: Path, kh, source: str) -> None:
    write_spool(tmp_path / "spool", 1, seed=26)
    with pytest.raises(InputError, match="invalid source"):
        _seal(kh, tmp_path, source=source)


def test_seal_spool_not_a_directory_raises_input_error(tmp_path: Path, kh) -> None:
    with pytest.raises(InputError, match="cannot read spool"):
        seal_spool(kh, tmp_path / "nope", tmp_path / "out")


def test_seal_without_home_raises_state_error(tmp_path: Path, kh) -> None:
    from cluetool.config import Home

    bogus = type(kh)(home=Home(tmp_path / "nohome"), name="main", info=kh.info)
    write_spool(tmp_path / "spool", 1, seed=27)
    with pytest.raises(StateError, match="no cluetool home"):
        seal_spool(bogus, tmp_path / "spool", tmp_path / "out")


@pytest.mark.parametrize("plaintext", [0, 1, 65535, 65536, 65537, 3 * 65536])
@pytest.mark.parametrize("recipients", [1, 3])
@pytest.mark.parametrize("hybrid", [False, True], ids=["x25519", "hybrid"])
def test_age_size_matches_real_encryption(plaintext: int, recipients: int, hybrid: bool) -> None:
    import io

    kind = age.HybridIdentity if hybrid else age.X25519Identity
    recips = [kind.generate().recipient for _ in range(recipients)]
    buf = io.BytesIO()
    with age.EncryptWriter(buf, recips) as w:
        w.write(b"\x00" * plaintext)
    assert age_size(plaintext, recipients, hybrid=hybrid) == len(buf.getvalue())


# --------------------------------------------------------------------------- bugs found


@pytest.mark.parametrize("stray", ["file", "symlink"])
def test_seal_stray_spool_entry_quarantined_rest_sealed(tmp_path: Path, kh, stray: str) -> None:
    spool = tmp_path / "spool"
    names = write_spool(spool, 2, seed=28)
    if stray == "file":
        (spool / "notes.txt").write_text("left here by an operator\n", encoding="utf-8")
    else:
        (elsewhere,) = write_spool(tmp_path / "elsewhere", 1, seed=30)
        (spool / "notes.txt").symlink_to(tmp_path / "elsewhere" / elsewhere)
    report = seal_spool(kh, spool, tmp_path / "out")
    assert [q.submission for q in report.quarantined] == ["notes.txt"]
    assert "spool.stray_entry" in report.quarantined[0].codes
    assert _ids_in(Path(report.batches[0].path), kh) == set(names)


def test_seal_out_dir_inside_spool_refused_or_left_alone(tmp_path: Path, kh) -> None:
    spool = tmp_path / "spool"
    names = write_spool(spool, 2, seed=31)
    try:
        report = seal_spool(kh, spool, spool / "outbox")
    except InputError:
        assert sorted(p.name for p in spool.iterdir() if p.name != "outbox") == sorted(names)
        return
    assert report.quarantined == [] and (spool / "outbox" / f"{SOURCE}-00000001.clue").is_file()


def test_seal_duplicate_submission_id_quarantines_the_second(tmp_path: Path, kh) -> None:
    spool = tmp_path / "spool"
    (name,) = write_spool(spool, 1, seed=29)
    shutil.copytree(spool / name, spool / "zz-resubmitted")
    report = seal_spool(kh, spool, tmp_path / "out")
    assert [q.submission for q in report.quarantined] == ["zz-resubmitted"]
    assert "spool.duplicate_submission_id" in report.quarantined[0].codes
    assert _ids_in(Path(report.batches[0].path), kh) == {name}
