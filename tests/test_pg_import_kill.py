"""``import`` into a PostgreSQL store killed with SIGKILL at random moments (issue 22):
after every kill each batch is in the store whole (its batch row, all its reports,
their audit entries) or not at all, the audit log stays one gap-free sequence, and a
last unkilled run completes the import; ``audit verify`` and ``store check`` are clean.

Each trial imports the next batch not yet stored, so every trial can land anywhere in
one batch's import: one unkilled run is timed first and the kill delays are spread,
seeded, over [0.3, 1.3] times it.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import psycopg

from tests.test_pg_concurrency import IMPORTED_AT, ROOT, cli, pg_receiver, run_cli, sealed

TRIALS = 22
PER_BATCH = 10


def _state(url: str) -> tuple[dict[int, int], list[int], int]:
    with psycopg.connect(url) as pg:
        per_batch = dict(pg.execute(
            "SELECT b.sequence, count(r.id) FROM batches b LEFT JOIN reports r ON r.batch_id = b.id GROUP BY b.sequence"
        ).fetchall())
        seqs = [r[0] for r in pg.execute("SELECT seq FROM audit_log ORDER BY seq")]
        imports = pg.execute("SELECT count(*) FROM audit_log WHERE convert_from(entry, 'UTF8') LIKE '%\"action\":\"report.import\"%'"
                             ).fetchone()[0]
    return per_batch, seqs, imports


def test_import_killed_at_random_points_is_all_or_nothing(tmp_path: Path, pg_url: str) -> None:
    receiver = pg_receiver(tmp_path / "internal", pg_url)
    home = receiver.home
    batches = sealed(tmp_path, receiver, "kill", PER_BATCH * (TRIALS + 2), seed=9500, per_batch=PER_BATCH)
    assert len(batches) == TRIALS + 2
    env = {k: v for k, v in os.environ.items() if k != "CLUETOOL_HOME"}

    def command(batch: Path) -> list[str]:
        return cli(home, "-q", "import", "--identity", "internal", "--at", IMPORTED_AT, str(batch))

    start = time.monotonic()
    done = subprocess.run(command(batches[0]), cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    full = time.monotonic() - start
    assert done.returncode == 0, done.stderr
    rng = random.Random(22)
    killed = 0
    for _ in range(TRIALS):
        per_batch, _seqs, _ = _state(pg_url)
        nxt = batches[len(per_batch)]
        proc = subprocess.Popen(command(nxt), cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        time.sleep(rng.uniform(0.3, 1.3) * full)
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            killed += 1
        proc.communicate(timeout=120)
        per_batch, seqs, imports = _state(pg_url)
        # Whole or nothing: every stored batch has all its reports, each with its entry.
        assert set(per_batch.values()) == {PER_BATCH}, per_batch
        assert sorted(per_batch) == list(range(1, len(per_batch) + 1))
        assert imports == PER_BATCH * len(per_batch)
        assert seqs == list(range(len(seqs)))
    assert killed >= TRIALS // 3, f"only {killed} of {TRIALS} runs were still going when killed"

    done = subprocess.run(cli(home, "-q", "import", "--identity", "internal", "--at", IMPORTED_AT, *map(str, batches)),
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    per_batch, seqs, imports = _state(pg_url)
    assert per_batch == {n: PER_BATCH for n in range(1, len(batches) + 1)}
    assert imports == PER_BATCH * len(batches)
    for args in (("audit", "verify", "--key", "internal"), ("store", "check")):
        done = run_cli(home, *args)
        assert done.returncode == 0, (args, done.stderr)
