"""Many writers on one PostgreSQL store (issue 22): 4 importers of different sources and
8 handlers recording events on different clues, all at once as real processes; then
``audit verify`` and ``store check`` are clean and every write is there. Two importers
of one source serialise on the source's advisory lock (the second waits, then exit 75)."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest

from cluetool import api, keys
from cluetool.config import Home
from tests.batch_helpers import NOW, KeyHome, make_home, seal_spool, write_spool

ROOT = Path(__file__).resolve().parents[1]
IMPORTED_AT = "2026-11-01T14:00:00+08:00"
ASSIGNED_AT = "2026-11-01T15:00:00+08:00"


def pg_receiver(root: Path, url: str) -> KeyHome:
    """An internal home whose store is the PostgreSQL database ``url``, with the age
    identity ``internal``."""
    home = api.init(Home(root), now=NOW, store=url)
    return KeyHome(home=home, name="internal", info=keys.generate(home, "internal", now=NOW))


def sealed(root: Path, receiver: KeyHome, source: str, reports: int, *, seed: int, per_batch: int) -> list[Path]:
    """``reports`` reports of ``source`` sealed for ``receiver`` in batches of ``per_batch``."""
    sender = make_home(root / f"intake-{source}")
    keys.trust(receiver.home, source, sender.pub, additional=False)
    write_spool(root / f"spool-{source}", reports, seed=seed, attachments=1)
    report = seal_spool(sender, root / f"spool-{source}", root / f"out-{source}", source=source,
                        recipients=[receiver.recipient], max_reports=per_batch)
    return [Path(b.path) for b in report.batches]


def cli(home: Home, *args: str) -> list[str]:
    return [sys.executable, "-m", "cluetool", "--home", str(home.root), *args]


def run_cli(home: Home, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "CLUETOOL_HOME"}
    return subprocess.run(cli(home, *args), cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)


def _writer(home: Home, clue: str, n: int) -> list[str]:
    # One handler: three events on its own clue, one process each (as people do).
    steps = [shlex.join(cli(home, "-q", "record", clue[:12], "contacted", "--channel", "phone",
                          "--at", f"2026-11-0{2 + i}T10:0{n % 10}:00+08:00", "--note", f"call {i}"))
             for i in range(3)]
    return ["bash", "-c", " && ".join(steps)]


def test_four_importers_and_eight_event_writers_at_once(tmp_path: Path, pg_url: str) -> None:
    receiver = pg_receiver(tmp_path / "internal", pg_url)
    home = receiver.home
    # Eight clues imported and assigned first: the handlers' clues.
    first = sealed(tmp_path, receiver, "pre", 8, seed=9100, per_batch=8)
    done = run_cli(home, "-q", "import", "--identity", "internal", "--at", IMPORTED_AT, *map(str, first))
    assert done.returncode == 0, done.stderr
    done = run_cli(home, "-q", "assign", "--at", ASSIGNED_AT)
    assert done.returncode in (0, 1), done.stderr
    with psycopg.connect(pg_url) as pg:
        clues = [r[0] for r in pg.execute("SELECT submission_id FROM assignments ORDER BY submission_id")]
        before_events = pg.execute("SELECT count(*) FROM events").fetchone()[0]
    assert len(clues) >= 8, "the shipped rules assign every sample kind"
    batches = {f"src-{i}": sealed(tmp_path, receiver, f"src-{i}", 6, seed=9200 + i, per_batch=2) for i in range(4)}

    env = {k: v for k, v in os.environ.items() if k != "CLUETOOL_HOME"}
    procs = [subprocess.Popen(cli(home, "-q", "import", "--wait", "120", "--identity", "internal",
                                  "--at", IMPORTED_AT, *map(str, paths)),
                              cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for paths in batches.values()]
    procs += [subprocess.Popen(_writer(home, clue, n), cwd=ROOT, env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True) for n, clue in enumerate(clues[:8])]
    for p in procs:
        out, err = p.communicate(timeout=900)
        assert p.returncode == 0, (p.args, err[-2000:])

    with psycopg.connect(pg_url) as pg:
        assert pg.execute("SELECT count(*) FROM reports").fetchone()[0] == 8 + 4 * 6
        assert pg.execute("SELECT count(*) FROM batches").fetchone()[0] == 1 + 4 * 3
        assert dict(pg.execute("SELECT source, last_sequence FROM sources").fetchall()) == {
            "pre": 1, **{s: 3 for s in batches}}
        assert pg.execute("SELECT count(*) FROM events").fetchone()[0] == before_events + 8 * 3
        seqs = [r[0] for r in pg.execute("SELECT seq FROM audit_log ORDER BY seq")]
        ids = [r[0] for r in pg.execute("SELECT id FROM reports ORDER BY id")]
    assert seqs == list(range(len(seqs)))
    assert len(set(ids)) == len(ids) == 32
    for args in (("audit", "verify", "--key", "internal"), ("store", "check")):
        done = run_cli(home, *args)
        assert done.returncode == 0, (args, done.stderr)


def test_two_importers_of_one_source_serialise_then_busy(tmp_path: Path, pg_url: str) -> None:
    receiver = pg_receiver(tmp_path / "internal", pg_url)
    [batch] = sealed(tmp_path, receiver, "one", 2, seed=9300, per_batch=2)
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(receiver.home.root)], cwd=ROOT, stdin=subprocess.PIPE,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked", holder.stderr
        started = time.monotonic()
        done = run_cli(receiver.home, "import", "--wait", "1", "--identity", "internal", "--at", IMPORTED_AT, str(batch))
        assert done.returncode == 75, done.stderr
        assert "busy" in done.stderr and time.monotonic() - started >= 1
    finally:
        holder.communicate("go\n", timeout=60)
    done = run_cli(receiver.home, "-q", "import", "--identity", "internal", "--at", IMPORTED_AT, str(batch))
    assert done.returncode == 0, done.stderr


# Holds source "one"'s import lock in an open write transaction until told to go on.
HOLD = """
import sys
from cluetool.config import Home
from cluetool.home import open_store
with open_store(Home(__import__("pathlib").Path(sys.argv[1]))) as store, store.write() as tx:
    tx.lock("source:one")
    print("locked", flush=True)
    sys.stdin.readline()
"""


@pytest.mark.parametrize("other", ["two"])
def test_importers_of_different_sources_do_not_wait_for_the_source_lock(tmp_path: Path, pg_url: str, other: str) -> None:
    receiver = pg_receiver(tmp_path / "internal", pg_url)
    [batch] = sealed(tmp_path, receiver, other, 2, seed=9400, per_batch=2)
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(receiver.home.root)], cwd=ROOT, stdin=subprocess.PIPE,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked", holder.stderr
        done = run_cli(receiver.home, "-q", "import", "--wait", "1", "--identity", "internal", "--at", IMPORTED_AT, str(batch))
        assert done.returncode == 0, done.stderr
    finally:
        holder.communicate("go\n", timeout=60)
