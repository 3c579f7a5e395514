"""One seal per spool (issue 16, failure 6) and atomic quarantine (failure 7)."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

import cluetool.batch.quarantine as quarantine_mod
import cluetool.batch.seal as seal_mod
from cluetool.batch import sealstate
from cluetool.cli import app
from cluetool.errors import StateError
from tests.batch_helpers import SOURCE, KeyHome, make_home, seal_spool, write_spool
from tests.fault_helpers import ROOT, cluetool_cmd, tree


@pytest.fixture
def setup(tmp_path: Path) -> tuple[KeyHome, Path, list[str]]:
    kh = make_home(tmp_path / "intake")
    spool = tmp_path / "spool"
    names = write_spool(spool, 6, seed=8167, attachments=1)
    return kh, spool, names


def _args(kh: KeyHome, spool: Path, out: Path, source: str = SOURCE) -> list[str]:
    return ["--home", str(kh.root), "-f", "json", "seal", str(spool), "--source", source, "--to", kh.recipient, "--out", str(out)]


def test_seal_spool_locked_waits_then_exits_75(setup: tuple[KeyHome, Path, list[str]], tmp_path: Path) -> None:
    kh, spool, _ = setup
    before = tree(spool)
    with sealstate.SpoolLock(spool.resolve()):
        r = CliRunner().invoke(app, [*_args(kh, spool, tmp_path / "out"), "--wait", "0.3"], catch_exceptions=False)
    assert r.exit_code == 75, r.output
    assert r.stderr.startswith("cluetool: error: another seal of the spool") and r.stdout == ""
    assert tree(spool) == before
    r = CliRunner().invoke(app, [*_args(kh, spool, tmp_path / "out"), "--wait", "0.3"], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    assert not any(spool.iterdir())


def test_seal_two_seals_one_spool_each_submission_sealed_once(setup: tuple[KeyHome, Path, list[str]], tmp_path: Path) -> None:
    kh, spool, names = setup
    other = make_home(tmp_path / "intake-2")
    procs = [
        subprocess.Popen(cluetool_cmd(*_args(home, spool, tmp_path / f"out-{i}", source), "--wait", "60"),
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
        for i, (home, source) in enumerate([(kh, SOURCE), (other, "intake-sh")])
    ]
    results = [(p.wait(timeout=120), *p.communicate()) for p in procs]
    assert [rc for rc, _, _ in results] == [0, 0], results
    docs = [json.loads(out) for _, out, _ in results]
    assert [q for d in docs for q in d["quarantined"]] == []
    assert sum(b["reports"] for d in docs for b in d["batches"]) == len(names)
    done = spool.with_name("spool.done")
    assert sorted(p.name for p in done.glob("*/*")) == sorted(names)


def _break_one(spool: Path, name: str) -> None:
    (spool / name / "report.json").write_bytes(b"{")


def test_quarantine_error_moving_in_leaves_no_box(setup: tuple[KeyHome, Path, list[str]], tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    kh, spool, names = setup
    _break_one(spool, names[2])
    real = os.rename

    def failing(src: Any, dst: Any) -> None:
        if Path(os.fsdecode(dst)).name == "submission":
            raise OSError(28, "No space left on device")
        real(src, dst)

    monkeypatch.setattr(seal_mod.os, "rename", failing)
    with pytest.raises(StateError):
        seal_spool(kh, spool, tmp_path / "out")
    monkeypatch.setattr(seal_mod.os, "rename", real)
    quarantine = spool.with_name("spool.quarantine")
    assert list(quarantine.iterdir()) == []  # no box without its submission
    assert (spool / names[2]).is_dir()
    report = seal_spool(kh, spool, tmp_path / "out")
    [q] = report.quarantined
    assert Path(q.path) == quarantine / names[2]  # not NAME.2
    assert (quarantine / names[2] / "submission" / "report.json").read_bytes() == b"{"


def test_quarantine_killed_before_box_rename_next_seal_finishes_it(setup: tuple[KeyHome, Path, list[str]], tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    kh, spool, names = setup
    _break_one(spool, names[2])

    def killed(*args: Any) -> Path:
        raise SystemExit(137)  # as if SIGKILL landed between the two renames

    monkeypatch.setattr(quarantine_mod, "_rename_box", killed)
    with pytest.raises(SystemExit):
        seal_spool(kh, spool, tmp_path / "out")
    monkeypatch.undo()
    quarantine = spool.with_name("spool.quarantine")
    [tmp] = list(quarantine.iterdir())
    assert tmp.name.startswith(".box.tmp-")  # hidden: no half-built box is visible
    report = seal_spool(kh, spool, tmp_path / "out")
    assert report.quarantined == []  # it was quarantined by the killed run, finished now
    assert sorted(p.name for p in quarantine.iterdir()) == [names[2]]
    box = quarantine / names[2]
    assert sorted(p.name for p in box.iterdir()) == ["reason.json", "submission"]
    assert sum(b.reports for b in report.batches) == len(names) - 1


def test_quarantine_entry_with_longest_name(setup: tuple[KeyHome, Path, list[str]], tmp_path: Path) -> None:
    kh, spool, names = setup
    long = "x" * 255  # NAME_MAX: the temporary box name must not grow from it
    (spool / long).write_bytes(b"not a submission")
    report = seal_spool(kh, spool, tmp_path / "out")
    [q] = report.quarantined
    assert q.codes == ["spool.stray_entry"] and Path(q.path).name == long
    assert sum(b.reports for b in report.batches) == len(names)
