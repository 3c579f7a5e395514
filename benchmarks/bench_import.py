"""Benchmark ``cluetool import``: throughput of small reports and its scaling.

(1) Throughput: batches of --batch-size (default 10,000) small reports (about 2 KiB of
    report.json each, no attachments) are imported into a fresh store, one
    ``import_batches`` call per batch, i.e. everything ``cluetool import`` does after
    start-up: verify (signature, payload hash, chain), decrypt, re-validate every
    report, fingerprints, duplicate look-up, the ledger, and one audit entry per report,
    in one transaction. Reported as reports/second (target >= 10,000/s) and as the
    ratio to the baseline: a bare ``executemany`` of the same rows (submission_id,
    kind, received_at, ..., report_json) into a fresh SQLite table with the store's
    indexes on those columns, WAL and ``synchronous=FULL``, one transaction, measured
    in this script.
(2) Scaling: --total reports (default 1,000,000, the issue's scale; --quick: 100,000)
    imported in batches of --batch-size into one store (schema v6: plain UNIQUE
    submission ids and query codes); the time of the last batch against the first
    (target <= 2x, issue 18), with the times at every tenth of the run.
(3) Budget (a fresh store): where one batch's CPU goes, best of --batches batches:
    the importing process's CPU, and of it the CPU spent inside the store's SQL
    statements and its COMMIT (the writes of every row, index and audit entry, then
    the WAL's fsync and checkpoint); the worker processes' CPU (read from /proc); and
    the re-validation of the same reports in this process alone (the code the workers
    run). From these, the floor this machine sets on one batch of this code:
    max(importing process, all CPU / cores); and the rate the store's writes alone
    would allow if nothing else cost anything. Linux only (the workers' CPU comes from
    /proc); elsewhere it is skipped.

The batches are written directly with ``cluetool.formats`` (ustar, age, minisign,
canonical), as ``cluetool/batch/writer.py`` writes them, from one valid report of
``samples/make_samples.py`` (police_misconduct, one subject, about 2 KiB) with a fresh
submission_id, query code hash and subject name per report (distinct subjects: no
duplicate links, as for unrelated reports). Building a batch is not timed; each batch
file is deleted once imported (1M reports are about 2 GB of batches).

--profile runs one more batch under cProfile and prints where the time goes. Prints
figures, asserts nothing. Exit status 0; 2 on a failed import.

Usage: .venv/bin/python benchmarks/bench_import.py [--quick] [--big] [--total N]
       [--batch-size N] [--batches N] [--profile] [--dir DIR]
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import os
import hashlib
import io
import json
import pstats
import random
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from cluetool import api, ingest, keys  # noqa: E402
from cluetool.config import Home, init_home  # noqa: E402
from cluetool.formats import age, canonical, minisign, ustar  # noqa: E402
from cluetool.ingest import import_batches  # noqa: E402
from cluetool.model import querycode  # noqa: E402
from cluetool.store import db  # noqa: E402
from cluetool.model.batch import (  # noqa: E402
    BATCH_FORMAT,
    ZERO_HASH,
    Counts,
    IndexEntry,
    Manifest,
    PayloadInfo,
    batch_file_name,
    key_id_hex16,
)
from samples.make_samples import render, valid_submission  # noqa: E402

NOW = datetime(2026, 11, 24, 2, 0, 0, tzinfo=timezone.utc)
SOURCE = "intake-bench"
THROUGHPUT_TARGET = 10_000.0
SCALING_TARGET = 2.0
SID_MARK = "00000000-0000-4000-8000-000000000000"
QC_MARK = "f" * 64
NAME_MARK = "甲乙丙丁"
# Given-name characters: 4 of them give 60**4 ≈ 13 million distinct subject names.
NAME_CHARS = "伟芳娜秀敏静丽强磊军洋勇艳杰娟涛明超兰霞平刚桂英华建国志红玉海燕春梅德福晓东文斌宏宇欣怡子轩浩然雨婷俊思远佳琪立新振鹏飞鑫鹤松柏"


class Template:
    """One valid ~2 KiB report with three marks to replace per report."""

    def __init__(self) -> None:
        for seed in range(2000):
            report, _files, _code = valid_submission(random.Random(seed), 0, attachments=0)
            if report["kind"] != "police_misconduct" or len(report["subjects"]) != 1:
                continue
            size = len(render(report))
            if 1900 <= size <= 2300:
                break
        else:
            raise SystemExit("bench_import: no template report of about 2 KiB")
        name = report["subjects"][0]["name"]
        report["submission_id"] = SID_MARK
        report["query_code_sha256"] = QC_MARK
        report["subjects"][0]["name"] = NAME_MARK
        report["facts"]["description"] = report["facts"]["description"].replace(name, NAME_MARK)
        self.parts = render(report).decode("utf-8")
        self.size = len(render(report))

    def make(self, rng: random.Random, n: int) -> tuple[str, bytes]:
        sid = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        qc = querycode.code_sha256(querycode.new_code(rng))
        name = "".join(NAME_CHARS[(n // len(NAME_CHARS) ** i) % len(NAME_CHARS)] for i in range(4))
        text = self.parts.replace(SID_MARK, sid).replace(QC_MARK, qc).replace(NAME_MARK, "龙" + name)
        return sid, text.encode("utf-8")


class Writer:
    """Writes batches of one source the way ``seal`` does (docs/format.md)."""

    def __init__(self, sender: Home, recipient: str, out: Path) -> None:
        self.signer = keys.load_signing_key(sender, "main")
        self.recipients = [age.X25519Recipient.parse(recipient)]
        self.out = out
        self.sequence = 0
        self.previous = ZERO_HASH

    def write(self, reports: list[tuple[str, bytes]]) -> Path:
        self.sequence += 1
        entries = [IndexEntry(submission_id=sid, report_sha256=hashlib.sha256(data).hexdigest(), attachments=[])
                   for sid, data in reports]
        index = canonical.dumps(entries)
        plain = io.BytesIO()
        with ustar.UstarWriter(plain) as w:
            w.add("index.json", len(index), index)
            for sid, data in reports:
                w.add(f"reports/{sid}.json", len(data), data)
        payload = io.BytesIO()
        age.encrypt(io.BytesIO(plain.getvalue()), payload, self.recipients)
        body = payload.getvalue()
        manifest = Manifest(
            format=BATCH_FORMAT, source=SOURCE, sequence=self.sequence, previous=self.previous,
            created_at=NOW.strftime("%Y-%m-%dT%H:%M:%SZ"), signer=key_id_hex16(self.signer.key_id),
            recipients=[str(r) for r in self.recipients],
            payload=PayloadInfo(size=len(body), sha256=hashlib.sha256(body).hexdigest()),
            counts=Counts(reports=len(reports), attachments=0),
        )
        manifest_bytes = canonical.dumps(manifest)
        sig = minisign.sign(self.signer, manifest_bytes, trusted_comment=manifest.trusted_comment(),
                            untrusted_comment=f"signature from cluetool key {key_id_hex16(self.signer.key_id)}").encode()
        path = self.out / batch_file_name(SOURCE, self.sequence)
        with open(path, "wb") as f:
            written = 0
            for name, data in (("manifest.json", manifest_bytes), ("manifest.json.minisig", sig), ("payload.age", body)):
                block = ustar.member_header(name, len(data)) + data + bytes(ustar.padding(len(data)))
                f.write(block)
                written += len(block)
            f.write(ustar.end_of_archive(written))
        self.previous = hashlib.sha256(manifest_bytes).hexdigest()
        return path


class Bench:
    def __init__(self, work: Path, batch_size: int, seed: int = 20261124) -> None:
        self.work = work
        self.batch_size = batch_size
        self.rng = random.Random(seed)
        self.template = Template()
        self.counter = 0
        sender = init_home(work / "intake")
        keys.generate(sender, "main", now=NOW)
        self.receiver = init_home(work / "internal")
        info = keys.generate(self.receiver, "internal", now=NOW)
        keys.trust(self.receiver, SOURCE, sender.keys_dir / "main.pub")
        api.init(self.receiver, now=NOW)
        (work / "out").mkdir()
        self.writer = Writer(sender, info.age_recipient, work / "out")

    def reports(self) -> list[tuple[str, bytes]]:
        out = [self.template.make(self.rng, self.counter + i) for i in range(self.batch_size)]
        self.counter += self.batch_size
        return out

    def import_one(self, reports: list[tuple[str, bytes]], profile: cProfile.Profile | None = None) -> float:
        path = self.writer.write(reports)
        start = time.perf_counter()
        if profile is not None:
            profile.enable()
        result = import_batches([path], home=self.receiver, now=NOW, identity="internal")
        if profile is not None:
            profile.disable()
        elapsed = time.perf_counter() - start
        path.unlink()
        if not result.ok or result.batches[0].reports != len(reports):
            print(f"bench_import: import failed: {[(p.code, p.message) for p in result.problems][:3]}", file=sys.stderr)
            raise SystemExit(2)
        return elapsed


def baseline(work: Path, reports: list[tuple[str, bytes]]) -> float:
    """A bare executemany of the same rows into a fresh table (same columns and indexes)."""
    db = work / f"baseline-{time.monotonic_ns()}.db"
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = FULL")
    conn.execute(
        "CREATE TABLE reports (submission_id TEXT PRIMARY KEY, kind TEXT NOT NULL, received_at TEXT NOT NULL,"
        " imported_at TEXT NOT NULL, batch_id INTEGER NOT NULL, report_sha256 TEXT NOT NULL,"
        " query_code_sha256 TEXT NOT NULL UNIQUE, region TEXT, reporter_has_contact INTEGER NOT NULL,"
        " real_name INTEGER NOT NULL, stage TEXT NOT NULL DEFAULT 'received', report_json BLOB NOT NULL)")
    for sql in ("CREATE INDEX r_batch ON reports (batch_id)", "CREATE INDEX r_stage ON reports (stage, received_at)",
                "CREATE INDEX r_real ON reports (real_name, received_at)", "CREATE INDEX r_kind ON reports (kind, received_at)",
                "CREATE INDEX r_region ON reports (region)"):
        conn.execute(sql)
    parsed = [(sid, json.loads(data), data) for sid, data in reports]  # row values prepared outside the timing
    rows = [(sid, r["kind"], r["received_at"], "2026-11-24T02:00:00.000000Z", 1, hashlib.sha256(data).hexdigest(),
             r["query_code_sha256"], r["facts"]["region"], 0, int(r["reporter"]["identity"] == "real_name"), data)
            for sid, r, data in parsed]
    start = time.perf_counter()
    conn.execute("BEGIN")
    conn.executemany("INSERT INTO reports (submission_id, kind, received_at, imported_at, batch_id, report_sha256,"
                     " query_code_sha256, region, reporter_has_contact, real_name, report_json)"
                     " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
    conn.execute("COMMIT")
    elapsed = time.perf_counter() - start
    conn.close()
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    return elapsed


def throughput(work: Path, batch_size: int, batches: int, profile: bool) -> None:
    bench = Bench(work / "throughput", batch_size)
    print(f"(1) throughput: {batches} batch(es) of {batch_size:,} reports of {bench.template.size:,} bytes, no attachments")
    ratios, rates = [], []
    for i in range(batches):
        reports = bench.reports()
        base = baseline(work, reports)
        t = bench.import_one(reports)
        rates.append(batch_size / t)
        ratios.append(t / base)
        print(f"    batch {i + 1}: import {t:6.2f}s = {batch_size / t:9,.0f} reports/s;"
              f" bare executemany {base:6.3f}s = {batch_size / base:11,.0f} rows/s; ratio {t / base:6.1f}x")
    best = max(rates)
    verdict = "ok" if best >= THROUGHPUT_TARGET else "MISS"
    print(f"    best {best:,.0f} reports/s (target >= {THROUGHPUT_TARGET:,.0f}/s: {verdict});"
          f" ratio to bare executemany {min(ratios):.1f}x")
    if batches > 2:
        print(f"    median {statistics.median(rates):,.0f} reports/s; median ratio {statistics.median(ratios):.1f}x")
    if profile:
        prof = cProfile.Profile()
        bench.import_one(bench.reports(), prof)
        print("    cProfile of one more batch import (top 25 by cumulative, then by own time):")
        out = io.StringIO()
        stats = pstats.Stats(prof, stream=out)
        stats.sort_stats("cumulative").print_stats(25)
        stats.sort_stats("tottime").print_stats(20)
        print("\n".join("      " + line for line in out.getvalue().splitlines() if line.strip()))


def _children_cpu() -> dict[int, float]:
    """CPU seconds of each child process of this one (the import's workers), from /proc."""
    out: dict[int, float] = {}
    tick = os.sysconf("SC_CLK_TCK")
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == os.getpid():
            out[int(pid)] = (int(fields[11]) + int(fields[12])) / tick
    return out


@contextlib.contextmanager
def _store_timer(acc: dict[str, float]):  # type: ignore[no-untyped-def]
    """Adds the CPU time of this thread inside the store's SQL statements to acc["sql"]
    and inside its commits to acc["commit"] (the rows are built before the clock starts;
    SQLite runs in the calling thread)."""
    execute, executemany, write = db.Tx.execute, db.Tx.executemany, db.Store.write

    def timed_execute(self, sql, params=()):  # type: ignore[no-untyped-def]
        start = time.thread_time()
        try:
            return execute(self, sql, params)
        finally:
            acc["sql"] += time.thread_time() - start

    def timed_executemany(self, sql, rows):  # type: ignore[no-untyped-def]
        rows = list(rows)
        start = time.thread_time()
        try:
            return executemany(self, sql, rows)
        finally:
            acc["sql"] += time.thread_time() - start

    @contextlib.contextmanager
    def timed_write(self, **kwargs):  # type: ignore[no-untyped-def]
        cm = write(self, **kwargs)
        tx = cm.__enter__()
        try:
            yield tx
        except BaseException:
            if not cm.__exit__(*sys.exc_info()):
                raise
        else:
            start = time.thread_time()
            cm.__exit__(None, None, None)
            acc["commit"] += time.thread_time() - start

    db.Tx.execute, db.Tx.executemany, db.Store.write = timed_execute, timed_executemany, timed_write  # type: ignore[method-assign]
    try:
        yield
    finally:
        db.Tx.execute, db.Tx.executemany, db.Store.write = execute, executemany, write  # type: ignore[method-assign]


def budget(work: Path, batch_size: int, batches: int) -> None:
    if not Path("/proc/self/stat").exists():
        print("(3) budget: skipped (no /proc to read the workers' CPU from)")
        return
    bench = Bench(work / "budget", batch_size)
    cores = len(os.sched_getaffinity(0))
    print(f"(3) budget: CPU seconds per batch of {batch_size:,} reports, {cores} cores (best of {batches} batches)")
    rows: list[tuple[float, float, float, float, float, float]] = []
    for _ in range(batches):
        reports = bench.reports()
        path = bench.writer.write(reports)
        acc = {"sql": 0.0, "commit": 0.0}
        before, cpu = _children_cpu(), time.process_time()
        start = time.perf_counter()
        with _store_timer(acc):
            result = import_batches([path], home=bench.receiver, now=NOW, identity="internal")
        wall = time.perf_counter() - start
        main_cpu = time.process_time() - cpu
        after = _children_cpu()
        workers = sum(t - before.get(pid, 0.0) for pid, t in after.items())
        path.unlink()
        if not result.ok or result.batches[0].reports != len(reports):
            print(f"bench_import: import failed: {[(p.code, p.message) for p in result.problems][:3]}", file=sys.stderr)
            raise SystemExit(2)
        cpu = time.process_time()
        for sid, data in reports:  # the workers' code, here in one process
            ingest.check_report(sid, data, (), NOW, path.name)
        alone = time.process_time() - cpu
        rows.append((wall, main_cpu, acc["sql"], acc["commit"], workers, alone))
    wall, main_cpu, sql, commit, workers, alone = min(rows)
    floor = max(main_cpu, (main_cpu + workers) / cores)
    print(f"    import {wall:.2f}s wall ({batch_size / wall:,.0f} reports/s); importing process {main_cpu:.2f}s CPU,"
          f" of which SQL statements {sql:.2f}s and COMMIT {commit:.2f}s; workers {workers:.2f}s CPU")
    print(f"    re-validation alone, in one process: {alone:.2f}s CPU ({batch_size / alone:,.0f} reports/s per core)")
    print(f"    floor: max(importing process, all CPU / {cores} cores) = {floor:.2f}s ({batch_size / floor:,.0f} reports/s);"
          f" the store's writes alone (SQL + COMMIT, nothing else): {sql + commit:.2f}s"
          f" ({batch_size / (sql + commit):,.0f} reports/s)")


def scaling(work: Path, batch_size: int, total: int) -> None:
    bench = Bench(work / "scaling", batch_size)
    n = max(2, total // batch_size)
    print(f"(2) scaling: {n * batch_size:,} reports in {n} batches of {batch_size:,} into one store")
    times: list[float] = []
    start = time.monotonic()
    for i in range(n):
        times.append(bench.import_one(bench.reports()))
        if (i + 1) % max(1, n // 10) == 0 or i == n - 1:
            print(f"    after {(i + 1) * batch_size:>9,} reports: batch {times[-1]:6.2f}s"
                  f" ({batch_size / times[-1]:8,.0f} reports/s), {time.monotonic() - start:7.1f}s so far", flush=True)
    first = min(times[:3]) if len(times) >= 3 else times[0]
    last = min(times[-3:]) if len(times) >= 3 else times[-1]
    ratio = times[-1] / times[0]
    verdict = "ok" if ratio <= SCALING_TARGET else "MISS"
    print(f"    last batch / first batch: {ratio:.2f}x (target <= {SCALING_TARGET}: {verdict});"
          f" best of the last 3 / best of the first 3: {last / first:.2f}x")
    size = sum(p.stat().st_size for p in bench.receiver.root.glob("store.db*"))
    print(f"    store size {size / 2**20:,.0f} MiB")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="one throughput batch, 100,000 reports for scaling")
    parser.add_argument("--big", action="store_true", help="1,000,000 reports for scaling (the default)")
    parser.add_argument("--total", type=int, default=None, help="reports for scaling (overrides --big)")
    parser.add_argument("--batch-size", type=int, default=10_000, help="reports per batch (default 10,000)")
    parser.add_argument("--batches", type=int, default=None, help="throughput batches (default 3; --quick: 1)")
    parser.add_argument("--profile", action="store_true", help="cProfile one more throughput batch")
    parser.add_argument("--dir", type=Path, default=None, help="work directory (default: a temporary one)")
    args = parser.parse_args(argv)
    total = args.total or (100_000 if args.quick and not args.big else 1_000_000)
    batches = args.batches or (1 if args.quick else 3)
    work = Path(tempfile.mkdtemp(prefix="bench-import-", dir=args.dir))
    try:
        throughput(work, args.batch_size, batches, args.profile)
        scaling(work, args.batch_size, total)
        budget(work, args.batch_size, batches)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
