"""Benchmark: ``validate_paths`` over a spool of sample-shaped submissions, and ``cluetool --help``.

Generates --count submissions (sample reports of all three kinds, 1-2 real jpg/mp3/mp4
attachments each, drawn from a pool of sample media) into a temporary spool, then
times ``validate_paths`` on one core (best of --repeat) and prints submissions per
second. The baseline measured in the same script is the I/O floor: reading and
SHA-256-hashing every file of the spool; the ratio says how much validation costs on
top of just touching the bytes. Then times ``python -m cluetool --help`` in a fresh
process (best of 5) against ``python -c pass``.

Targets: >= 1,000 submissions/s, --help < 200 ms.

Usage: .venv/bin/python benchmarks/bench_validate.py [--count N] [--size BYTES] [--repeat N] [--dir DIR]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import random
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from cluetool.validate import validate_paths  # noqa: E402
from samples import media  # noqa: E402
from samples.make_samples import valid_submission, write_submission  # noqa: E402

NOW = datetime(2026, 11, 24, tzinfo=timezone.utc)


def make_spool(spool: Path, count: int, size: int) -> int:
    """Write ``count`` submissions; returns the number of attachment bytes written."""
    rng = random.Random(2026)
    # A pool of real media; a jpg of roughly ``size`` bytes (its dimensions scale).
    side = max(8, int((size / 1.2) ** 0.5))
    pool = {
        "jpg": [media.make_jpeg(rng, side, side) for _ in range(8)],
        "mp3": [media.make_mp3(rng, frames=max(1, size // 418)) for _ in range(4)],
        "mp4": [media.make_mp4(rng) for _ in range(4)],
    }
    total = 0
    for i in range(count):
        sub_rng = random.Random(rng.getrandbits(64))
        report, files, _ = valid_submission(
            sub_rng, i, media_maker=lambda r, t: r.choice(pool[t]), attachments=1 + i % 2
        )
        write_submission(spool / f"{i:05d}-{report['submission_id'][:8]}", report, files)
        total += sum(len(b) for b in files.values())
    return total


def hash_all(spool: Path) -> None:
    for d in sorted(spool.iterdir()):
        for f in sorted(d.iterdir()):
            hashlib.sha256(f.read_bytes()).digest()


def best(fn, repeat: int) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def startup_ms(args: list[str]) -> float:
    times = []
    for _ in range(5):
        t = time.perf_counter()
        subprocess.run([sys.executable, *args], check=True, stdout=subprocess.DEVNULL, cwd=ROOT)
        times.append(time.perf_counter() - t)
    return min(times) * 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=2000, help="submissions to generate (default 2000)")
    parser.add_argument("--size", type=int, default=4096, help="approximate bytes per jpg/mp3 attachment (default 4096)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per measurement; the best is kept")
    parser.add_argument("--dir", type=Path, default=None, help="where to create the temporary spool")
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})  # one core

    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        spool = Path(tmp) / "spool"
        t = time.perf_counter()
        nbytes = make_spool(spool, args.count, args.size)
        print(f"generated {args.count} submissions ({nbytes / 1e6:.1f} MB of attachments) "
              f"in {time.perf_counter() - t:.1f} s")
        report = validate_paths([spool], now=NOW)  # warm-up: imports, region table, libmagic
        assert report.ok, report.findings[:3]
        t_validate = best(lambda: validate_paths([spool], now=NOW), args.repeat)
        t_hash = best(lambda: hash_all(spool), args.repeat)
    rate = args.count / t_validate
    print(f"validate_paths      {t_validate:7.3f} s   {rate:8.0f} submissions/s (target >= 1000)")
    print(f"baseline read+hash  {t_hash:7.3f} s   {args.count / t_hash:8.0f} submissions/s")
    print(f"ratio validate / read+hash: {t_validate / t_hash:.1f}")

    help_ms = startup_ms(["-m", "cluetool", "--help"])
    python_ms = startup_ms(["-c", "pass"])
    print(f"cluetool --help     {help_ms:7.1f} ms (best of 5; target < 200 ms)")
    print(f"python -c pass      {python_ms:7.1f} ms (baseline); ratio {help_ms / python_ms:.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
