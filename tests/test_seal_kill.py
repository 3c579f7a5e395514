"""``seal`` killed with SIGKILL at random moments, then run again: no partial batch, no
lost submission, no sequence ever used for two different batches (sealstate's commit
protocol, docs/format.md).

One unkilled run is measured first (and one run over an empty spool, the start-up cost);
the kill delays are spread, seeded, over [0.9 × start-up, full run], so most
kills land while batches are being written, committed and moved.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cluetool.batch.reader import manifest_sha256_of
from cluetool.batch.register import Register
from cluetool.batch.verify import check_batch, verify_batches
from samples import media
from samples.make_samples import valid_submission, write_submission
from tests.batch_helpers import SOURCE, KeyHome, batch_index, lookup_for, make_home, seal_spool

TRIALS = 24
MAX_TRIALS = 60
PER_TRIAL = 48
MAX_REPORTS = 8


class _Pool:
    """Distinct real media files, made once and drawn from for every trial (fast)."""

    def __init__(self, rng: random.Random) -> None:
        self.files = {
            "jpg": [media.make_jpeg(rng, 400, 300) for _ in range(40)],
            "mp3": [media.make_mp3(rng, frames=300) for _ in range(20)],
            "mp4": [media.make_mp4(rng, seconds=15) for _ in range(20)],
        }

    def __call__(self, rng: random.Random, kind: str) -> bytes:
        return rng.choice(self.files[kind])


def _fill(spool: Path, trial: int, pool: _Pool) -> list[str]:
    spool.mkdir(parents=True, exist_ok=True)
    names = []
    for i in range(PER_TRIAL):
        report, files, _ = valid_submission(random.Random(f"kill-{trial}-{i}"), i, attachments=2, media_maker=pool)
        write_submission(spool / report["submission_id"], report, files)
        names.append(report["submission_id"])
    return names


def _command(kh: KeyHome, spool: Path, out: Path) -> list[str]:
    return [sys.executable, "-m", "cluetool", "seal", str(spool), "--source", SOURCE, "--to", kh.recipient,
            "--out", str(out), "--max-reports", str(MAX_REPORTS), "--home", str(kh.root), "--format", "json"]


def _timed_run(cmd: list[str]) -> float:
    start = time.monotonic()
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    elapsed = time.monotonic() - start
    assert proc.returncode == 0, proc.stderr
    return elapsed


class _Ledger:
    """Everything ever seen in the out dir: sequence → manifest hash, batch → submission ids."""

    def __init__(self, kh: KeyHome, out: Path) -> None:
        self.kh, self.out = kh, out
        self.manifests: dict[int, str] = {}
        self.members: dict[str, set[str]] = {}
        self.owner: dict[str, str] = {}

    def snapshot(self, *, decrypt: bool) -> list[Path]:
        """Record every ``*.clue`` now in the out dir; each must be a complete, valid batch."""
        batches = sorted(self.out.glob("*.clue"))
        lookup = lookup_for(self.kh.public_key())
        for path in batches:
            sequence = int(path.stem.rsplit("-", 1)[1])
            check, problems, _ = check_batch(path, lookup)
            assert check.ok, (path.name, [(p.code, p.message) for p in problems])
            digest = manifest_sha256_of(path)
            assert self.manifests.setdefault(sequence, digest) == digest, f"sequence {sequence} reused with another manifest"
            if decrypt and path.name not in self.members:
                sha, entries = batch_index(path, self.kh)
                assert sha == digest
                ids = {e.submission_id for e in entries}
                for sid in ids:
                    assert self.owner.setdefault(sid, path.name) == path.name, f"{sid} sealed twice"
                self.members[path.name] = ids
        return batches


def test_seal_sigkill_at_random_moments_recovers_without_loss_or_reuse(tmp_path: Path) -> None:
    rng = random.Random(20261124)
    pool = _Pool(random.Random(1))
    kh = make_home(tmp_path / "home")
    out, spool, done = tmp_path / "out", tmp_path / "spool", tmp_path / "spool.done"
    ledger = _Ledger(kh, out)

    (tmp_path / "empty").mkdir()
    startup = _timed_run(_command(kh, tmp_path / "empty", out))
    all_names = _fill(spool, -1, pool)
    full = _timed_run(_command(kh, spool, out))
    ledger.snapshot(decrypt=True)
    # Spread the kills over the run, ending a little before its measured end (later runs
    # are faster than the first, cold one).
    low = 0.9 * startup
    high = max(low + 0.85 * (full - low), startup + 0.05)

    killed = interrupted = rolled_forward = 0
    trial = 0
    # At least TRIALS trials; on a loaded machine, more (up to MAX_TRIALS) with the kill
    # window pulled earlier after each run that finished first, until enough kills landed.
    while trial < TRIALS or (trial < MAX_TRIALS and (killed < TRIALS // 2 or interrupted == 0)):
        names = _fill(spool, trial, pool)
        all_names += names
        proc = subprocess.Popen(_command(kh, spool, out), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                stdin=subprocess.DEVNULL)
        time.sleep(rng.uniform(low, high))
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=60)
        killed += proc.returncode == -signal.SIGKILL
        if proc.returncode != -signal.SIGKILL:
            # finished first: the run is faster now than when measured (a loaded machine
            # measures a slow start-up); pull the whole window earlier, not only its end
            low *= 0.9
            high = max(low + 0.02, low + 0.7 * (high - low))
        left = sum(1 for n in names if (spool / n).exists())
        interrupted += 0 < left < PER_TRIAL

        # whatever the kill left behind: every visible .clue is complete and consistent
        ledger.snapshot(decrypt=False)

        report = seal_spool(kh, spool, out, max_reports=MAX_REPORTS)  # recovery run
        assert report.ok and report.quarantined == []
        rolled_forward += len(report.recovered)
        assert not list(out.glob(".*partial*")), "a partial batch was left behind"
        assert list(spool.iterdir()) == []
        ledger.snapshot(decrypt=True)

        # no submission lost or duplicated: each is in exactly one done/<batch>/ and that batch's index
        for name in names:
            homes = [d.name for d in done.iterdir() if (d / name).is_dir()]
            assert len(homes) == 1, (name, homes)
            assert name in ledger.members[f"{homes[0]}.clue"]
        # the register (written from the journal) holds exactly what was sealed, and where:
        # a rolled-back batch left nothing in it (else its submissions would have been
        # quarantined as re-sent by the recovery run above)
        with Register(kh.home) as register:
            assert all(register.batch_of_id(sid) == batch for sid, batch in ledger.owner.items())
            assert register._conn is not None
            assert register._conn.execute("SELECT count(*) FROM sealed_ids").fetchone()[0] == len(ledger.owner)
        for folder in {d for d in done.iterdir() if any((d / n).is_dir() for n in names)}:
            shutil.rmtree(folder)  # checked; keep the disk use of the test small
        trial += 1

    batches = sorted(out.glob("*.clue"))
    assert [int(p.stem.rsplit("-", 1)[1]) for p in batches] == list(range(1, len(batches) + 1))
    assert set(ledger.owner) == set(all_names)
    assert sum(len(v) for v in ledger.members.values()) == len(all_names)
    assert verify_batches(batches, lookup_for(kh.public_key()), chain=True).ok
    # an auditor's view: the CLI, no home, the signer's public key only
    env = {k: v for k, v in os.environ.items() if k != "CLUETOOL_HOME"}
    cli = subprocess.run([sys.executable, "-m", "cluetool", "verify", "--chain", "--signer", str(kh.pub), *map(str, batches)],
                         capture_output=True, text=True, timeout=60, env=env, stdin=subprocess.DEVNULL)
    assert cli.returncode == 0, cli.stdout + cli.stderr
    print(f"start-up {startup:.2f}s, run {full:.2f}s, {killed}/{trial} killed, {interrupted} mid-seal, "
          f"{rolled_forward} commits rolled forward, {len(batches)} batches")
    # the delays were spread over the run: most runs died, several of them half-way
    assert killed >= TRIALS // 2, (killed, startup, full)
    if interrupted == 0:
        pytest.fail(f"no kill landed mid-seal (start-up {startup:.2f}s, run {full:.2f}s); widen the spool")
    shutil.rmtree(out)
