"""Benchmark ``cluetool import``: peak memory against batch size, and time against the
standard tools, with the cost of the hash pass that authenticates a batch first.

(a) Peak RSS of ``cluetool import`` of one batch of valid reports padded to 1 MiB each
    (report.json as the intake writes it, then spaces), at two sizes: --small-reports
    and --reports (default 256 and 2,048 reports: 256 MiB and 2 GiB; --quick 16 and
    128). Target: each under 128 MiB, and flat (the big run's peak about the small one's).
(b) Peak RSS of ``cluetool import`` of one batch of 8 large MP4 attachments over 2
    submissions, --size bytes in all (default 1 GiB; --quick 128 MiB). Target: under
    128 MiB.
(c) Time of (b)'s import against the baseline, in this script on the same batch:
    ``tar -xf BATCH`` + ``age -d -i KEY payload.age | tar -x`` + ``sha256sum`` of every
    extracted file + ``sync``. Target: at most 1.2x.
(d) The extra hash pass of authenticate-then-parse: the first read of ``payload.age``
    hashes all of it before anything is decrypted. Timed alone (hashlib SHA-256 over the
    payload member read from the batch file, page cache warm, as import reads it) and as
    a share of (c)'s import time.

Peak RSS is the largest of the command's processes (RUSAGE_CHILDREN of a fresh wrapper,
which includes the import's worker processes). Each import gets a fresh copy of a
receiving home whose store is empty. Prints figures and MISS for a missed target; exit
0 (2 when a step fails).

Usage: .venv/bin/python benchmarks/bench_import_memory.py [--quick] [--reports N]
       [--small-reports N] [--size SIZE] [--repeat N] [--dir DIR] [--keep]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))

import bench_seal as bs  # noqa: E402

MiB = 1 << 20
GiB = 1 << 30
RSS_TARGET = 128 * MiB
TIME_TARGET = 1.2
SOURCE = bs.SOURCE


def _padded_spool(spool: Path, count: int) -> int:
    """``count`` distinct valid submissions (samples/make_samples.py, seeded) whose
    report.json is padded with spaces to 1 MiB (no attachments)."""
    import random

    from samples.make_samples import valid_submission

    spool.mkdir(parents=True)
    for i in range(count):
        report, _files, _code = valid_submission(random.Random(f"bench-memory-{i}"), i, attachments=0)
        text = (json.dumps(report, ensure_ascii=False, indent=2, sort_keys=True) + "\n").encode("utf-8")
        d = spool / report["submission_id"]
        d.mkdir()
        (d / "report.json").write_bytes(text + b" " * (MiB - 64 - len(text)))
    return count


def _attachment_spool(spool: Path, template: dict[str, Any], total: int) -> None:
    """8 MP4 attachments of total/8 bytes over 2 submissions."""
    import random

    rng = random.Random(8)
    spool.mkdir(parents=True)
    each = total // 8
    for s in range(2):
        tmp = spool / f".incoming-{s}"
        tmp.mkdir()
        big: dict[str, tuple[int, str]] = {}
        names = []
        for i in range(4):
            name = f"video-{i + 1}.mp4"
            big[name] = bs._write_big_mp4(tmp / name, each, rng)
            names.append((name, "mp4", None))
        d = bs._write_submission(spool, template, names, big)
        for name, _k, _d in names:
            os.rename(tmp / name, d / name)
        tmp.rmdir()


def _seal(s: bs.Setup, spool: Path, out: Path) -> Path:
    # Every batch is sequence 1 (each import goes into a fresh store).
    shutil.rmtree(s.home / "state" / "seal", ignore_errors=True)
    t = bs._run(bs._seal_cmd(s, spool, out), s.work, bs._env())
    doc = json.loads(t.stdout)
    if not doc["ok"] or len(doc["batches"]) != 1:
        raise bs.BenchError(f"seal did not make one clean batch: {t.stdout[:300]!r}")
    return Path(doc["batches"][0]["path"])


def _receiver(s: bs.Setup) -> Path:
    """A receiving home (store, identity, the intake trusted), copied fresh for each import."""
    template = s.work / "receiver"
    if not template.exists():
        shutil.copytree(s.home / "keys", template / "keys")
        bs._cluetool("init", "--home", str(template))
        bs._cluetool("keys", "trust", SOURCE, str(s.signer_pub), "--home", str(template))
    run = s.work / "receiver-run"
    shutil.rmtree(run, ignore_errors=True)
    shutil.copytree(template, run)
    return run


def _import(s: bs.Setup, batch: Path, expect_reports: int) -> bs.Timing:
    home = _receiver(s)
    t = bs._run([sys.executable, "-m", "cluetool", "import", str(batch), "--home", str(home), "--format", "json"],
                s.work, bs._env())
    doc = json.loads(t.stdout or b"{}")
    if not doc.get("ok") or doc["batches"][0]["reports"] != expect_reports:
        raise bs.BenchError(f"import failed: {t.stdout[:300]!r}")
    return t


def _baseline(s: bs.Setup, batch: Path) -> bs.Timing:
    out = s.work / "baseline-out"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir()
    key = s.home / "keys" / "main.age"
    cmd = ["bash", "-c", (
        f'set -e -o pipefail; cd "{out}" && "{s.tar}" -xf "{batch}" && mkdir payload && '
        f'"{s.age}" -d -i "{key}" payload.age | "{s.tar}" -x -C payload && '
        f'find . -type f -print0 | xargs -0 "{s.sha256sum}" > /dev/null && sync'
    )]
    t = bs._run(cmd, s.work)
    shutil.rmtree(out, ignore_errors=True)
    return t


def _hash_pass(batch: Path) -> tuple[float, int]:
    """Seconds to hash payload.age as import's first read does (warm cache), and its size."""
    from cluetool.batch.payload import HashedPayload
    from cluetool.batch.reader import open_batch

    with open_batch(batch) as b:  # warm the page cache
        while b.payload.read(1 << 20):
            pass
    with open_batch(batch) as b:
        t = time.perf_counter()
        h = HashedPayload()
        h.read_from(b.payload)
        return time.perf_counter() - t, h.size


def _mib(n: int) -> str:
    return f"{n / MiB:.0f}"


def _verdict(ok: bool) -> str:
    return "ok" if ok else "MISS"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\nUsage:")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="smoke run: 16 and 128 reports, 128 MiB of attachments")
    parser.add_argument("--reports", type=int, default=None, help="1 MiB reports in the big batch of (a) (default 2048)")
    parser.add_argument("--small-reports", type=int, default=None, help="1 MiB reports in the small batch of (a) (default 256)")
    parser.add_argument("--size", type=bs._size_arg, default=None, help="bytes of attachments for (b)-(d) (default 1G)")
    parser.add_argument("--repeat", type=int, default=1, help="runs of (c)'s two commands; the fastest counts (default 1)")
    parser.add_argument("--dir", type=Path, default=None, help="parent of the temporary directory")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = parser.parse_args(argv)
    big = args.reports or (128 if args.quick else 2048)
    small = args.small_reports or (16 if args.quick else 256)
    size = args.size or (128 * MiB if args.quick else GiB)
    parent = args.dir or (Path(os.environ["TMPDIR"]) if os.environ.get("TMPDIR") else ROOT / "build")
    parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="bench_import_memory.", dir=parent))
    try:
        s = bs._setup(work)
        template = bs._template(work)
        print(f"import memory benchmark: {os.cpu_count()} CPUs, work dir {work}")
        rss: dict[str, int] = {}
        for label, count in (("small", small), ("big", big)):
            spool = work / f"reports-{label}" / "spool"
            _padded_spool(spool, count)
            batch = _seal(s, spool, work / f"out-{label}")
            shutil.rmtree(spool.parent)
            t = _import(s, batch, count)
            rss[label] = t.rss
            print(f"(a) import of {count} reports of 1 MiB ({_mib(batch.stat().st_size)} MiB batch): "
                  f"{t.seconds:.1f} s, peak RSS {_mib(t.rss)} MiB  [{_verdict(t.rss < RSS_TARGET)} < 128 MiB]")
            batch.unlink()
            sys.stdout.flush()
        print(f"    peak RSS big/small: {rss['big'] / rss['small']:.2f}x for {big / small:.0f}x the reports")

        spool = work / "attachments" / "spool"
        _attachment_spool(spool, template, size)
        batch = _seal(s, spool, work / "out-attachments")
        shutil.rmtree(spool.parent)
        ours = min((_import(s, batch, 2) for _ in range(args.repeat)), key=lambda t: t.seconds)
        theirs = min((_baseline(s, batch) for _ in range(args.repeat)), key=lambda t: t.seconds)
        print(f"(b) import of 8 MP4 attachments ({_mib(batch.stat().st_size)} MiB batch): peak RSS {_mib(ours.rss)} MiB  "
              f"[{_verdict(ours.rss < RSS_TARGET)} < 128 MiB]")
        ratio = ours.seconds / theirs.seconds
        print(f"(c) import {ours.seconds:.2f} s vs tar -x + age -d | tar -x + sha256sum + sync {theirs.seconds:.2f} s: "
              f"{ratio:.2f}x  [{_verdict(ratio <= TIME_TARGET)} <= {TIME_TARGET}x]")
        seconds, payload = _hash_pass(batch)
        print(f"(d) the authenticating hash pass over payload.age ({_mib(payload)} MiB): {seconds:.2f} s, "
              f"{payload / seconds / MiB:.0f} MiB/s, {seconds / ours.seconds:.0%} of the import time")
        return 0
    except bs.BenchError as exc:
        print(f"bench_import_memory: {exc}", file=sys.stderr)
        return 2
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
