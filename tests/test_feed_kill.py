"""``feed import`` killed with SIGKILL at random moments, then run again: every batch
directory in SPOOL.done/ is at each moment either intact, byte for byte, or gone (a purge
is all or nothing per batch); the rerun finishes every purge; a batch the receipt does
not name is never touched (docs/feed.md, "Purging").

One unkilled run is measured first (and the start-up cost); the kill delays are spread,
seeded, over [0.9 × start-up, full run]; the window closes in on the purge (later after a
kill that landed before it began, earlier after one that landed after it ended or a run
that finished first) until enough kills landed mid-purge.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from cluetool.batch.register import Register
from cluetool.feed import service as feed_service
from tests.fault_helpers import tree
from tests.feed_helpers import make_sides

TRIALS = 10
MAX_TRIALS = 40
IMPORT_AT = "2026-11-25T11:00:00+08:00"


def _command(home: Path, feed: Path) -> list[str]:
    return [sys.executable, "-m", "cluetool", "feed", "import", str(feed), "--home", str(home), "--at", IMPORT_AT,
            "--format", "json"]


def _run(cmd: list[str]) -> float:
    start = time.monotonic()
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return time.monotonic() - start


def test_feed_import_killed_at_random_moments_purges_whole_batches_only(tmp_path: Path) -> None:
    rng = random.Random(2323)
    s = make_sides(tmp_path / "w")
    s.seal(30, seed=2324, max_reports=3, attachments=2)  # ten batches of three
    named, unnamed = s.batches[:7], s.batches[7:]
    s.import_(named)
    feed = Path(s.export().path)
    home, done = s.intake.root, s.done
    originals = {p.name: tree(p) for p in done.iterdir()}
    assert len(originals) == 10
    keep = tmp_path / "pristine"
    shutil.copytree(home, keep / "intake", symlinks=True)
    shutil.copytree(done, keep / "done", symlinks=True)

    def restore() -> None:
        shutil.rmtree(home)
        shutil.rmtree(done)
        shutil.copytree(keep / "intake", home, symlinks=True)
        shutil.copytree(keep / "done", done, symlinks=True)

    startup = _run([sys.executable, "-m", "cluetool", "feed", "import", "--help"])
    full = _run(_command(home, feed))
    low = 0.9 * startup
    high = max(low + 0.9 * (full - low), startup + 0.05)

    killed = mid_purge = trial = 0
    while trial < TRIALS or (trial < MAX_TRIALS and (killed < TRIALS // 2 or mid_purge == 0)):
        restore()
        proc = subprocess.Popen(_command(home, feed), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                stdin=subprocess.DEVNULL)
        delay = rng.uniform(low, high)
        time.sleep(delay)
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=60)
        was_killed = proc.returncode == -signal.SIGKILL
        killed += was_killed
        if not was_killed:  # finished before the kill: aim earlier
            high = max(low + 0.01, delay)

        # whatever the kill left: each batch directory intact or gone; unnamed ones intact
        for name, original in originals.items():
            path = done / name
            if path.exists():
                assert tree(path) == original, f"{name} half purged"
        for b in unnamed:
            assert tree(done / b.stem) == originals[b.stem]
        gone = sum(1 for b in named if not (done / b.stem).exists())
        started = any(p.name.startswith(".purge-") for p in done.iterdir())
        mid_purge += 0 < gone < len(named) or started
        if was_killed and gone == 0 and not started:  # killed before the purge began: aim later
            low = min(delay, high - 0.01)
        elif was_killed and gone == len(named) and not started:  # killed after it ended: aim earlier
            high = max(low + 0.01, delay)

        # the rerun finishes
        rerun = subprocess.run(_command(home, feed), capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
        assert rerun.returncode == 0, rerun.stdout + rerun.stderr
        assert json.loads(rerun.stdout)["status"] in ("imported", "already_imported")
        assert sorted(p.name for p in done.iterdir()) == sorted(b.stem for b in unnamed)
        for b in unnamed:
            assert tree(done / b.stem) == originals[b.stem]
        with Register(s.intake.home) as reg:
            rows = {r.batch: r for r in reg.batches()}
        for b in named:
            assert rows[b.name].purged_at is not None and rows[b.name].purge_count == 3, rows[b.name]
        for b in unnamed:
            assert rows[b.name].confirmed_at is None and rows[b.name].purged_at is None
        log = [json.loads(line)["batch"] for line in feed_service.purge_log(s.intake.home).read_text().splitlines()]
        assert len(log) == len(set(log)) and set(log) <= {b.name for b in named}  # never twice; lost only to a kill
        trial += 1

    print(f"start-up {startup:.2f}s, run {full:.2f}s, {killed}/{trial} killed, {mid_purge} mid-purge")
    assert killed >= TRIALS // 2, (killed, startup, full)
    assert mid_purge > 0, f"no kill landed mid-purge (start-up {startup:.2f}s, run {full:.2f}s)"
