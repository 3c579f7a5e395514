"""Benchmark ``feed export`` (``cluetool.feed.export``) of a store of --codes reports
(default 1,000,000; --quick 50,000) and 2,000 imported batches, and ``feed import`` of
the file it wrote at an intake that sealed none of the batches.

Reports the export time (target: under 10 s for 1,000,000 codes) and its ratio to a
baseline run in the same script on the same store: the standard tools doing the same
job, ``sqlite3 -separator ' ' store.db "SELECT hash, stage ... ORDER BY hash" >
codes.txt``, ``sha256sum codes.txt``, ``minisign -S`` of a manifest and ``tar -cf``
of the three files (a key made with ``minisign -G -W``). The import time is printed
for information (no target).

Usage: .venv/bin/python benchmarks/bench_feed.py [--codes N] [--quick] [--repeat R] [--dir DIR]
Exit status: 0 when it ran (a missed target is reported as MISS).
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cluetool import keys  # noqa: E402
from cluetool.config import init_home  # noqa: E402
from cluetool.feed.export import export_feed  # noqa: E402
from cluetool.feed.service import import_feed  # noqa: E402
from cluetool.store import Store  # noqa: E402

NOW = datetime(2026, 11, 24, 2, 0, 0, tzinfo=timezone.utc)
STAGES = ("received", "assigned", "under_verification", "closed")
BATCHES = 2000


def build(store: Store, codes: int) -> None:
    """``codes`` reports with random-looking query-code hashes and mixed stages, written
    by column name (whatever other columns a schema version has are filled generically)."""
    cols = [(r[1], r[2], r[3]) for r in store.execute("PRAGMA table_info(reports)")]
    ti = "2026-11-24T02:00:00.000000Z"
    per_batch = max(1, codes // BATCHES)
    with store.write() as tx:
        tx.execute("INSERT INTO sources (source, last_sequence, last_manifest_sha256, updated_at) VALUES"
                   " ('intake-bj', ?, ?, ?)", (BATCHES, hashlib.sha256(b"m%d" % BATCHES).hexdigest(), ti))
        tx.executemany(
            "INSERT INTO batches (id, source, sequence, manifest_sha256, previous_sha256, payload_sha256, signer,"
            " created_at, imported_at, reports, attachments) VALUES (?, 'intake-bj', ?, ?, ?, ?, 'x', ?, ?, ?, 0)",
            [(n, n, hashlib.sha256(b"m%d" % n).hexdigest(), hashlib.sha256(b"m%d" % (n - 1)).hexdigest() if n > 1 else "0" * 64,
              hashlib.sha256(b"p%d" % n).hexdigest(), ti, ti, per_batch) for n in range(1, BATCHES + 1)])
    step = 50_000
    for first in range(0, codes, step):
        rows, stages = [], []
        for i in range(first + 1, min(first + step, codes) + 1):
            sid = f"{i:08x}-1f2e-4d3c-8b7a-{i * 7919 % 16**12:012x}"
            values = {"id": i, "era": i >> 16, "submission_id": sid, "kind": "gang_crime", "received_at": ti,
                      "imported_at": ti, "batch_id": min(BATCHES, 1 + (i - 1) // per_batch),
                      "report_sha256": hashlib.sha256(sid.encode()).hexdigest(),
                      "query_code_sha256": hashlib.sha256(b"q" + sid.encode()).hexdigest(),
                      "reporter_has_contact": 1, "real_name": 0, "report_json": b"{}"}
            rows.append(tuple(values.get(name, 0 if notnull else None) for name, _t, notnull in cols))
            stages.append((i, STAGES[i % 4]))
        with store.write() as tx:
            if any(c[0] == "era" for c in cols):
                tx.executemany("INSERT OR IGNORE INTO report_eras (era) VALUES (?)", {(r[1],) for r in rows})
            tx.executemany(f"INSERT INTO reports ({', '.join(c[0] for c in cols)}) VALUES ({', '.join('?' * len(cols))})", rows)
            tx.executemany("INSERT INTO report_stages (report_id, stage) VALUES (?, ?)", stages)


def baseline(work: Path, db: Path, mini_key: Path) -> float:
    out = work / "base"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir()
    t0 = time.perf_counter()
    with open(out / "codes.txt", "wb") as f:
        subprocess.run(["sqlite3", "-separator", " ", str(db),
                        "SELECT r.query_code_sha256, s.stage FROM reports r JOIN report_stages s ON s.report_id = r.id"
                        " ORDER BY r.query_code_sha256"], stdout=f, check=True)
    digest = subprocess.run(["sha256sum", "codes.txt"], cwd=out, capture_output=True, check=True).stdout.split()[0]
    (out / "manifest.json").write_bytes(b'{"codes.txt":"' + digest + b'"}')
    subprocess.run(["minisign", "-S", "-s", str(mini_key), "-m", "manifest.json", "-t", "bench"], cwd=out,
                   check=True, capture_output=True)
    subprocess.run(["tar", "--format=ustar", "-cf", "feed.tar", "manifest.json", "manifest.json.minisig", "codes.txt"],
                   cwd=out, check=True)
    return time.perf_counter() - t0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--codes", type=int, default=None, help="reports (default 1,000,000; --quick 50,000)")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--repeat", type=int, default=None, help="runs of each (default 3; --quick 1); the fastest counts")
    ap.add_argument("--dir", type=Path, default=None, help="work directory (default: a temporary one)")
    args = ap.parse_args()
    codes = args.codes or (50_000 if args.quick else 1_000_000)
    repeat = args.repeat or (1 if args.quick else 3)
    for tool in ("sqlite3", "sha256sum", "minisign", "tar"):
        if shutil.which(tool) is None:
            print(f"bench_feed: {tool} not installed; no baseline, skipped")
            return 0
    work = Path(tempfile.mkdtemp(prefix="bench-feed-", dir=args.dir))
    try:
        t0 = time.perf_counter()
        internal = init_home(work / "internal")
        keys.generate(internal, "internal", now=NOW)
        store = Store.create(internal.store_file, now=NOW)
        build(store, codes)
        print(f"built {codes:,} reports and {BATCHES:,} batches in {time.perf_counter() - t0:.1f} s")
        subprocess.run(["minisign", "-G", "-W", "-p", str(work / "b.pub"), "-s", str(work / "b.key")],
                       check=True, capture_output=True)
        base = min(baseline(work, internal.store_file, work / "b.key") for _ in range(repeat))
        times, paths = [], []
        for n in range(repeat):
            t0 = time.perf_counter()
            report = export_feed(internal, store, source="internal", out_dir=work / "feeds", now=NOW + timedelta(minutes=n),
                                 key="internal")
            times.append(time.perf_counter() - t0)
            paths.append(Path(report.path))
        took = min(times)
        size = paths[0].stat().st_size
        per_million = took * 1_000_000 / codes
        print(f"feed export of {codes:,} codes ({size / 2**20:.0f} MiB): {took:.2f} s ({per_million:.1f} s per 1,000,000;"
              f" target < 10 s {'OK' if per_million < 10 else 'MISS'}); baseline (sqlite3 | sha256sum, minisign, tar)"
              f" {base:.2f} s, ratio {took / base:.2f}")
        store.close()
        intake = init_home(work / "intake")
        keys.trust(intake, "internal", internal.keys_dir / "internal.pub")
        t0 = time.perf_counter()
        imported = import_feed(intake, paths[0], now=NOW + timedelta(hours=1))
        took_in = time.perf_counter() - t0
        assert imported.ok and imported.codes == codes, imported.problems
        print(f"feed import of the same file at an intake: {took_in:.2f} s (no target; ratio to the export baseline"
              f" {took_in / base:.2f})")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
