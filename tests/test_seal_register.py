"""The intake's register of sealed submission ids and query codes (issue 15, case 2):
a re-sent id or a reused query code is quarantined at ``seal``, naming the earlier
batch, and the register is crash-safe with the seal journal."""

from __future__ import annotations

import json
import random
import shutil
from pathlib import Path
from typing import Any

import pytest

from cluetool.batch import seal as seal_module
from cluetool.batch import sealstate
from cluetool.batch.register import Register
from samples.make_samples import valid_submission, write_submission
from tests.batch_helpers import KeyHome, batch_index, make_home, seal_spool, write_spool


@pytest.fixture
def kh(tmp_path: Path) -> KeyHome:
    return make_home(tmp_path / "home")


def _reason(tmp_path: Path, spool: str, name: str) -> dict[str, Any]:
    return json.loads((tmp_path / f"{spool}.quarantine" / name / "reason.json").read_bytes())


def _sealed_ids(report: Any, kh: KeyHome) -> set[str]:
    out: set[str] = set()
    for b in report.batches:
        out |= {e.submission_id for e in batch_index(Path(b.path), kh)[1]}
    return out


def test_seal_resent_submission_id_across_spools_quarantined_naming_earlier_batch(tmp_path: Path, kh: KeyHome) -> None:
    names = write_spool(tmp_path / "spool-1", 2, seed=1701, attachments=0)
    shutil.copytree(tmp_path / "spool-1" / names[0], tmp_path / "resent")
    first = seal_spool(kh, tmp_path / "spool-1", tmp_path / "out")
    assert first.ok and first.batches[0].batch == "intake-bj-00000001.clue"
    # the intake platform sends the first submission again, beside a new one
    fresh = write_spool(tmp_path / "spool-2", 1, seed=1702, attachments=0)
    shutil.move(tmp_path / "resent", tmp_path / "spool-2" / names[0])
    second = seal_spool(kh, tmp_path / "spool-2", tmp_path / "out")
    assert second.ok is False
    assert [(q.submission, q.codes) for q in second.quarantined] == [(names[0], ["submission.resent"])]
    [finding] = _reason(tmp_path, "spool-2", names[0])["findings"]
    assert "intake-bj-00000001.clue" in finding["message"]
    assert _sealed_ids(second, kh) == set(fresh)


def test_seal_shared_query_code_within_a_spool_second_quarantined(tmp_path: Path, kh: KeyHome) -> None:
    spool = tmp_path / "spool"
    a, files_a, _ = valid_submission(random.Random(1711), 0, attachments=0)
    b, files_b, _ = valid_submission(random.Random(1712), 1, attachments=0)
    b["query_code_sha256"] = a["query_code_sha256"]
    write_submission(spool / "a-first", a, files_a)
    write_submission(spool / "b-second", b, files_b)
    report = seal_spool(kh, spool, tmp_path / "out")
    assert [(q.submission, q.codes) for q in report.quarantined] == [("b-second", ["submission.code_reused"])]
    assert "a-first" in _reason(tmp_path, "spool", "b-second")["findings"][0]["message"]
    assert _sealed_ids(report, kh) == {a["submission_id"]}


def test_seal_query_code_reused_in_later_spool_quarantined_naming_batch(tmp_path: Path, kh: KeyHome) -> None:
    a, files_a, _ = valid_submission(random.Random(1721), 0, attachments=0)
    write_submission(tmp_path / "spool-1" / a["submission_id"], a, files_a)
    seal_spool(kh, tmp_path / "spool-1", tmp_path / "out")
    b, files_b, _ = valid_submission(random.Random(1722), 1, attachments=0)
    b["query_code_sha256"] = a["query_code_sha256"]
    write_submission(tmp_path / "spool-2" / b["submission_id"], b, files_b)
    report = seal_spool(kh, tmp_path / "spool-2", tmp_path / "out")
    assert [q.codes for q in report.quarantined] == [["submission.code_reused"]] and not report.batches
    message = _reason(tmp_path, "spool-2", b["submission_id"])["findings"][0]["message"]
    assert "intake-bj-00000001.clue" in message and a["submission_id"] in message


def test_seal_register_rolled_forward_with_the_journal_after_a_crash(tmp_path: Path, kh: KeyHome, monkeypatch: pytest.MonkeyPatch) -> None:
    names = write_spool(tmp_path / "spool-1", 1, seed=1731, attachments=0)
    shutil.copytree(tmp_path / "spool-1" / names[0], tmp_path / "resent")

    def killed(home: Any, journal: Any) -> None:
        raise SystemExit("killed after the batch file was linked")

    monkeypatch.setattr(seal_module, "_finish", killed)
    with pytest.raises(SystemExit):
        seal_spool(kh, tmp_path / "spool-1", tmp_path / "out")
    monkeypatch.undo()
    assert sealstate.load_journal(kh.home, "intake-bj") is not None
    with Register(kh.home) as register:
        assert register.batch_of_id(names[0]) is None  # not yet: the journal holds it
    (tmp_path / "spool-2").mkdir()
    shutil.move(tmp_path / "resent", tmp_path / "spool-2" / names[0])
    report = seal_spool(kh, tmp_path / "spool-2", tmp_path / "out")
    assert report.recovered == ["intake-bj-00000001.clue"]
    assert [(q.submission, q.codes) for q in report.quarantined] == [(names[0], ["submission.resent"])]
    with Register(kh.home) as register:
        assert register.batch_of_id(names[0]) == "intake-bj-00000001.clue"
    assert (tmp_path / "out" / "intake-bj-00000001.clue").exists() and not report.batches


def test_seal_register_file_private(tmp_path: Path, kh: KeyHome) -> None:
    write_spool(tmp_path / "spool", 1, seed=1741, attachments=0)
    seal_spool(kh, tmp_path / "spool", tmp_path / "out")
    assert (kh.home.state_dir / "seal" / "register.db").stat().st_mode & 0o077 == 0
