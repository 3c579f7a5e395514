"""``seal`` isolates each submission: it seals from the validated, normalised report,
and any problem with one submission (an unexpected exception in a check included)
quarantines that one only (issue 15, cases 1 and 7)."""

from __future__ import annotations

import json
import random
import shutil
from pathlib import Path
from typing import Any

import pytest
from freezegun import freeze_time
from typer.testing import CliRunner

from cluetool.batch import seal as seal_module
from cluetool.batch import writer as batch_writer
from cluetool.cli import app
from samples.make_samples import valid_submission, write_submission
from tests.batch_helpers import (
    NOW,
    SOURCE,
    batch_index,
    invalid_names,
    make_home,
    sample_spool,  # noqa: F401 - fixture
    seal_spool,
    valid_names,
    write_spool,
)
from tests.test_import import make_pair


def _with_jpg(spool: Path, seed: int, declared_type: str) -> str:
    """A valid submission with one jpg attachment, its type written as ``declared_type``."""
    for i in range(200):
        report, files, _ = valid_submission(random.Random(seed + i), i, attachments=1)
        if report["attachments"][0]["type"] == "jpg":
            report["attachments"][0]["type"] = declared_type
            write_submission(spool / report["submission_id"], report, files)
            return str(report["submission_id"])
    raise AssertionError("no sample with a jpg")


@pytest.mark.parametrize("declared", [" jpg", "ｊｐｇ", "jpg\u3000"])
def test_seal_attachment_type_valid_after_normalisation_sealed_and_imported(tmp_path: Path, declared: str) -> None:
    pair = make_pair(tmp_path)
    spool = tmp_path / "spool"
    odd = _with_jpg(spool, 1500, declared)
    plain = write_spool(spool, 1, seed=1501)
    report = seal_spool(pair.sender, spool, tmp_path / "out", recipients=[pair.receiver.recipient])
    assert report.ok and not report.quarantined
    (b,) = report.batches
    assert b.reports == 2
    result = pair.import_([Path(b.path)])
    assert result.ok, result.problems
    assert result.batches[0].reports == 2
    assert {odd, *plain} <= {p.name for p in (tmp_path / "spool.done" / Path(b.batch).stem).iterdir()}


def test_seal_validation_raising_quarantines_that_submission_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    kh = make_home(tmp_path / "home")
    spool = tmp_path / "spool"
    names = sorted(write_spool(spool, 3, seed=1510))
    real = seal_module.validate_submission_model

    def buggy(path: Path, **kwargs: Any) -> Any:
        if path.name == names[1]:
            raise KeyError("a bug in a field check")
        return real(path, **kwargs)

    monkeypatch.setattr(seal_module, "validate_submission_model", buggy)
    report = seal_spool(kh, spool, tmp_path / "out")
    assert report.ok is False
    assert [(q.submission, q.codes) for q in report.quarantined] == [(names[1], ["submission.check_failed"])]
    reason = json.loads((tmp_path / "spool.quarantine" / names[1] / "reason.json").read_bytes())
    assert "KeyError" in reason["findings"][0]["message"] and "a bug" not in reason["findings"][0]["message"]
    (b,) = report.batches
    _sha, entries = batch_index(Path(b.path), kh)
    assert {e.submission_id for e in entries} == {names[0], names[2]}


def test_seal_attachment_check_raising_quarantines_that_submission_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    kh = make_home(tmp_path / "home")
    spool = tmp_path / "spool"
    names = sorted(write_spool(spool, 3, seed=1520, attachments=1))
    victim = names[2]
    real = batch_writer.judge_stream
    victim_report = (spool / victim / "report.json").read_text()

    def buggy(stream: Any, attachment: Any, path: str, add: Any) -> None:
        if attachment.sha256 in victim_report:
            raise ZeroDivisionError
        real(stream, attachment, path, add)

    monkeypatch.setattr(batch_writer, "judge_stream", buggy)
    report = seal_spool(kh, spool, tmp_path / "out")
    assert [(q.submission, q.codes) for q in report.quarantined] == [(victim, ["submission.check_failed"])]
    (b,) = report.batches
    _sha, entries = batch_index(Path(b.path), kh)
    assert {e.submission_id for e in entries} == set(names) - {victim}


def test_cli_seal_mixed_spool_every_invalid_kind_quarantined_every_valid_sealed(tmp_path: Path, sample_spool: Path) -> None:
    kh = make_home(tmp_path / "home")
    spool = tmp_path / "spool"
    shutil.copytree(sample_spool, spool, symlinks=True)
    odd = [_with_jpg(spool, 1530, " jpg"), _with_jpg(spool, 1540, "ｊｐｇ")]
    good, bad = valid_names(spool), invalid_names(spool)
    assert set(odd) <= set(good) and len(bad) == 24
    args = ["seal", str(spool), "--source", SOURCE, "--to", kh.recipient, "--out", str(tmp_path / "out"), "-f", "json"]
    with freeze_time(NOW):
        r = CliRunner().invoke(app, args, env={"CLUETOOL_HOME": str(kh.root), "CLUETOOL_DEBUG": None}, catch_exceptions=False)
    assert r.exit_code == 1, r.stderr
    doc = json.loads(r.stdout)
    assert sorted(q["submission"] for q in doc["quarantined"]) == bad
    assert len(r.stderr.splitlines()) == len(bad)
    sealed: set[str] = set()
    for b in doc["batches"]:
        _sha, entries = batch_index(Path(b["path"]), kh)
        sealed |= {e.submission_id for e in entries}
    assert sealed == set(good)
    assert not list(spool.iterdir())
