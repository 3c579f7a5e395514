"""Benchmark ``audit verify`` and inclusion proofs on a large audit log (docs/audit.md).

Measures, in one run, on a fresh store of --entries audit entries (default 1,000,000;
--quick: 100,000) written directly with ``executemany`` (canonical entries with their
correct leaf hashes, like ``append_entry`` writes them) and 4 checkpoints signed with
``cluetool.audit.checkpoint`` along the way:

(a) ``verify_store`` (recompute every leaf hash, check canonical form and seq, the tree,
    the roots at every checkpoint, the signatures) vs merely SHA-256-hashing the same
    entry bytes in a Python loop (``for e in entries: sha256(e).digest()``, bytes held
    in memory): the ratio (target <= 4.0, issue 20; large logs use every core: ``cluetool.audit.parallel``);
(b) ``prove_inclusion`` for --proofs random entries (default 200) against the latest
    checkpoint, warm tree cache: p50 and max (target < 50 ms each); plus the first proof
    after deleting the cache (a one-off rebuild, O(n));
(c) ``checkpoint`` times (incremental: each reads the entries since the previous one).

The fastest of --repeat runs counts for (a) (the machine is shared).

Usage: .venv/bin/python benchmarks/bench_audit.py [--entries N] [--quick] [--repeat N]
       [--proofs N] [--dir DIR] [--check]
Exit status: 0 when it ran (a missed target is reported as MISS), 1 with --check and a
missed target.
"""

from __future__ import annotations

import argparse
import hashlib
import random
import resource
import shutil
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cluetool import audit  # noqa: E402
from cluetool.audit import parallel  # noqa: E402
from cluetool.audit.tree import cache_dir_for  # noqa: E402
from cluetool.formats import minisign  # noqa: E402
from cluetool.formats.canonical import dumps  # noqa: E402
from cluetool.store import Store  # noqa: E402
from cluetool.store.audit_entries import audit_size, format_time, iter_entries, leaf_hash  # noqa: E402

NOW = datetime(2026, 11, 24, 2, 0, 0, tzinfo=timezone.utc)
ACTIONS = ("report.import", "report.import", "report.import", "batch.import", "clue.assign", "duplicate.found")


def entry(seq: int) -> bytes:
    """A realistic entry: ids and hashes, like an import's ``report.import``."""
    action = ACTIONS[seq % len(ACTIONS)]
    return dumps({
        "seq": seq,
        "at": format_time(NOW + timedelta(milliseconds=seq)),
        "actor": "cluetool-import",
        "action": action,
        "object": f"{seq:08x}-1f2e-4d3c-8b7a-{seq * 7919 % 16**12:012x}",
        "details": {
            "batch": f"intake-bj/{seq // 500}",
            "report_sha256": hashlib.sha256(seq.to_bytes(8, "big")).hexdigest(),
            "attachments": [hashlib.sha256(b"a" + seq.to_bytes(8, "big")).hexdigest()] if seq % 2 else [],
        },
    })


def build(store: Store, total: int, sk: minisign.SecretKey) -> list[float]:
    """Append entries up to total - 1 (the first are the store's migrations) with 4 checkpoints."""
    cut = [total * k // 4 for k in range(1, 5)]
    seq = audit_size(store)
    times = []
    for end in cut:
        while seq < end:
            stop = min(end, seq + 50_000)
            rows = []
            for s in range(seq, stop):
                e = entry(s)
                rows.append((s, e, leaf_hash(e)))
            with store.write() as tx:
                tx.executemany("INSERT INTO audit_log (seq, entry, leaf_hash) VALUES (?, ?, ?)", rows)
            seq = stop
        t0 = time.perf_counter()
        audit.checkpoint(store, sk, now=NOW)
        times.append(time.perf_counter() - t0)
    return times


def _cpu() -> float:
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def baseline(entries: list[bytes]) -> float:
    sha256 = hashlib.sha256
    t0 = time.perf_counter()
    for e in entries:
        sha256(e).digest()
    return time.perf_counter() - t0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--entries", type=int, default=None, help="log size (default 1,000,000; --quick 100,000)")
    ap.add_argument("--quick", action="store_true", help="a smoke run on a small log")
    ap.add_argument("--repeat", type=int, default=None, help="runs of (a); the fastest counts (default 3; --quick 1)")
    ap.add_argument("--proofs", type=int, default=200, help="random inclusion proofs to time")
    ap.add_argument("--dir", type=Path, default=None, help="work directory (default: a temporary one)")
    ap.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    args = ap.parse_args()
    total = args.entries or (100_000 if args.quick else 1_000_000)
    repeat = args.repeat or (1 if args.quick else 3)
    work = Path(tempfile.mkdtemp(prefix="bench-audit-", dir=args.dir))
    missed = False
    try:
        sk = minisign.SecretKey.generate()
        keys = audit.TrustedKeys(raw=[sk.public_key.key])
        t0 = time.perf_counter()
        store = Store.create(work / "store.db", now=NOW)
        cp_times = build(store, total, sk)
        print(f"generated {total:,} entries and 4 checkpoints in {time.perf_counter() - t0:.1f} s")
        print("checkpoint times (s): " + ", ".join(f"{t:.3f}" for t in cp_times)
              + "  (the first reads every entry; later ones only the new quarter)")

        entries = [e.entry for e in iter_entries(store)]
        print(f"average entry: {sum(map(len, entries)) / len(entries):.0f} bytes")
        base, ours, cpu, base_cpu = [], [], [], []
        for _ in range(repeat):
            c0 = _cpu()
            base.append(baseline(entries))
            base_cpu.append(_cpu() - c0)
            t0, c0 = time.perf_counter(), _cpu()
            report = audit.verify_store(store, keys)
            ours.append(time.perf_counter() - t0)
            cpu.append(_cpu() - c0)
            if not report.ok:
                print("verify found problems in a clean log:", report.findings[:3])
                return 2
        del entries
        ratio = min(ours) / min(base)
        ok = ratio <= 4.0
        missed |= not ok
        print(f"(a) audit verify {min(ours):.2f} s vs sha256 loop {min(base):.2f} s: ratio {ratio:.2f} "
              f"(target <= 4.0, {parallel.workers()} workers) {'OK' if ok else 'MISS'}")
        print(f"    CPU of audit verify (all processes) {min(cpu):.2f} s: {min(cpu) / min(base_cpu):.2f}x the loop's CPU "
              f"(the wall-clock ratio on {parallel.workers()} idle cores is about this divided by {parallel.workers()})")

        rng = random.Random(7)
        shutil.rmtree(cache_dir_for(store))
        t0 = time.perf_counter()
        audit.prove_inclusion(store, rng.randrange(total))
        cold = time.perf_counter() - t0
        times = []
        for _ in range(args.proofs):
            seq = rng.randrange(total)
            t0 = time.perf_counter()
            proof = audit.prove_inclusion(store, seq)
            times.append(time.perf_counter() - t0)
            assert proof.leaf_index == seq
        p50, worst = statistics.median(times) * 1000, max(times) * 1000
        ok = worst < 50
        missed |= not ok
        print(f"(b) inclusion proof, {args.proofs} random entries of {total:,}: p50 {p50:.1f} ms, max {worst:.1f} ms "
              f"(target < 50 ms) {'OK' if ok else 'MISS'}; first proof with a cold cache {cold:.2f} s")
        size = sum(p.stat().st_size for p in cache_dir_for(store).glob("tier*.bin"))
        print(f"    tree cache: {size / 1024:.0f} KiB")
        store.close()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 1 if (missed and args.check) else 0


if __name__ == "__main__":
    sys.exit(main())
