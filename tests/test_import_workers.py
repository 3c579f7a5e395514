"""Import worker processes die with the import (issue 16, failure 3): after SIGKILL,
SIGTERM or SIGINT of an import whose workers are busy, no worker is left within 2 s,
and a reader of the import's stdout sees end-of-file (a cron job or ``$(…)`` does not
hang)."""

from __future__ import annotations

import multiprocessing
import os
import select
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from tests.batch_helpers import write_spool
from tests.test_import import RECEIVER_KEY, Pair, pair  # noqa: F401 - fixture

ROOT = Path(__file__).resolve().parents[1]

# The import runs in a child process with its workers made slow: each worker marks
# itself busy (a file named by its pid) and then sleeps far longer than the test.
# SIGINT as at a terminal: a runner started in the background (``make test &``) has
# SIGINT ignored, and Python keeps an ignored SIGINT ignored in its children.
SCRIPT = textwrap.dedent("""
    import os, signal, sys, time
    from pathlib import Path
    signal.signal(signal.SIGINT, signal.default_int_handler)
    import cluetool.ingest as ingest
    markers = Path(sys.argv[1])
    ingest.PARALLEL_MIN_REPORTS = 1
    ingest._CHUNK = 1
    def slow(*args):
        (markers / str(os.getpid())).touch()
        time.sleep(120)
    ingest.check_report = slow
    from cluetool.cli import main
    sys.argv = ["cluetool", *sys.argv[2:]]
    main()
""")


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            state = f.read().rsplit(b")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state not in (b"Z", b"X")  # a zombie has ended (its new parent may not reap it)


def _children(pid: int) -> set[int]:
    out = set()
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat", "rb") as f:
                    ppid = int(f.read().rsplit(b")", 1)[1].split()[1])
            except (FileNotFoundError, ProcessLookupError):
                continue
            if ppid == pid:
                out.add(int(entry))
    return out


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc")
@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM, signal.SIGINT], ids=lambda s: s.name)
def test_import_workers_killed_parent_no_survivor_within_2s(pair: Pair, tmp_path: Path, sig: signal.Signals) -> None:
    if "fork" not in multiprocessing.get_all_start_methods() or len(os.sched_getaffinity(0)) < 2:
        pytest.skip("import workers need fork and two CPUs")
    write_spool(pair.root / "spool", 4, seed=8161, attachments=0)
    [batch] = pair.seal(pair.root / "spool")
    script = tmp_path / "slow_import.py"
    script.write_text(SCRIPT)
    markers = tmp_path / "markers"
    markers.mkdir()
    proc = subprocess.Popen(
        [sys.executable, str(script), str(markers), "--home", str(pair.home.root), "import",
         "--identity", RECEIVER_KEY, str(batch)],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL, cwd=ROOT,
    )
    try:
        deadline = time.monotonic() + 60
        while not any(markers.iterdir()):
            assert proc.poll() is None, "the import ended before its workers started"
            assert time.monotonic() < deadline, "no worker started"
            time.sleep(0.05)
        workers = _children(proc.pid)
        assert {int(p.name) for p in markers.iterdir()} <= workers
        os.kill(proc.pid, sig)
        killed_at = time.monotonic()
        # The pipe reaches end-of-file only when no process holds its write end.
        assert proc.stdout is not None
        fd = proc.stdout.fileno()
        eof = False
        while not eof and time.monotonic() - killed_at < 2.0:
            ready, _, _ = select.select([fd], [], [], 0.05)
            if ready:
                eof = os.read(fd, 65536) == b""
        assert eof, "the import's stdout is still held open 2 s after the kill"
        while any(_alive(w) for w in workers) and time.monotonic() - killed_at < 2.0:
            time.sleep(0.02)
        survivors = [w for w in workers if _alive(w)]
        assert not survivors, f"workers {survivors} outlived the import"
        assert proc.wait(timeout=5) in (-int(sig), 130)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for w in _children(proc.pid) | {int(p.name) for p in markers.iterdir()}:
            if _alive(w):
                os.kill(w, signal.SIGKILL)
