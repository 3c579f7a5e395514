"""``seal`` killed with SIGKILL while it quarantines (issue 16, failure 7): after the next
run every invalid submission is in exactly one box, each box holds its reason.json and
its submission, no box is empty or left half-built, and no box was doubled (NAME.2).

The kill delays are spread, seeded, over [0.8 x start-up, full run] of a spool of
invalid submissions only (one unkilled run is measured first).
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.batch_helpers import SOURCE, make_home, seal_spool, write_spool

TRIALS = 12
MAX_TRIALS = 30
PER_TRIAL = 30


def _fill(spool: Path, trial: int) -> list[str]:
    names = write_spool(spool, PER_TRIAL, seed=9000 + trial, attachments=0)
    for name in names:
        (spool / name / "report.json").write_bytes(b"{")  # invalid: quarantined
    return names


def _command(home: Path, recipient: str, spool: Path, out: Path) -> list[str]:
    return [sys.executable, "-m", "cluetool", "--home", str(home), "seal", str(spool), "--source", SOURCE,
            "--to", recipient, "--out", str(out)]


def test_quarantine_sigkill_at_random_moments_boxes_whole_and_single(tmp_path: Path) -> None:
    rng = random.Random(20261205)
    kh = make_home(tmp_path / "home")
    spool, out = tmp_path / "spool", tmp_path / "out"
    quarantine = tmp_path / "spool.quarantine"
    every: list[str] = _fill(spool, -1)
    start = time.monotonic()
    subprocess.run(_command(kh.root, kh.recipient, spool, out), capture_output=True, timeout=120, stdin=subprocess.DEVNULL)
    full = time.monotonic() - start
    (tmp_path / "empty").mkdir()
    start = time.monotonic()
    subprocess.run(_command(kh.root, kh.recipient, tmp_path / "empty", out), capture_output=True, timeout=120,
                   stdin=subprocess.DEVNULL)
    startup = time.monotonic() - start
    low, high = 0.8 * startup, max(full, startup + 0.05)

    killed = partial = trial = 0
    # At least TRIALS trials; on a loaded machine more (up to MAX_TRIALS), the window
    # pulled earlier after each run that finished before its kill.
    while trial < TRIALS or (trial < MAX_TRIALS and (killed < TRIALS // 3 or partial == 0)):
        every += _fill(spool, trial)
        proc = subprocess.Popen(_command(kh.root, kh.recipient, spool, out), stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
        time.sleep(rng.uniform(low, high))
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=60)
        killed += proc.returncode == -signal.SIGKILL
        if proc.returncode != -signal.SIGKILL:
            low, high = 0.8 * low, max(0.8 * low + 0.02, 0.8 * low + 0.7 * (high - low))

        report = seal_spool(kh, spool, out)  # the next run
        assert report.batches == [] and all(q.codes for q in report.quarantined)
        partial += 0 < len(report.quarantined) < PER_TRIAL  # the kill landed mid-quarantine
        assert list(spool.iterdir()) == []
        boxes = sorted(os.listdir(quarantine))
        assert not [b for b in boxes if b.startswith(".")], "a half-built box was left"
        assert boxes == sorted(every), "a submission is missing from quarantine or was boxed twice"
        for box in boxes:
            assert sorted(os.listdir(quarantine / box)) == ["reason.json", "submission"], box
            assert (quarantine / box / "submission" / "report.json").read_bytes() == b"{"
        trial += 1
    print(f"start-up {startup:.2f}s, run {full:.2f}s, {killed}/{trial} killed, {partial} mid-quarantine")
    assert killed >= TRIALS // 3 and partial >= 1, (killed, partial, startup, full)
