"""Benchmark the PostgreSQL store (issue 22), against baselines run in this script.

A throwaway PostgreSQL cluster is started for the run (``tests/pgcluster.py``: Unix
socket only, with ``fsync`` on, as in production) and removed at the end.

(1) Import throughput: batches of --batch-size (default 10,000) small reports (about
    2 KiB each, no attachments; written as ``benchmarks/bench_import.py`` writes them)
    imported into a PostgreSQL store by ``import_batches`` (everything ``cluetool
    import`` does after start-up). Baseline: a bare ``COPY`` of the same rows (read back
    from the store) into a fresh table with the reports table's columns and indexes,
    one transaction. Also: how long the batch's transaction holds the audit lock (the
    part importers of other sources cannot overlap), against the whole batch. Then 2
    importers of different sources at once (two processes, ``cluetool import``) against
    1 importer the same way (start-up included in both) and against one ``COPY`` of all
    their rows, with the importers' CPU time (the machine's cores bound the gain).
(2) ``deadlines --fail-on overdue`` over --clues (default 1,000,000) clues with three
    obligations each, on PostgreSQL and on SQLite, built and timed as
    ``benchmarks/bench_deadlines.py`` does; baseline: a raw ``count(*)`` of the overdue
    range on the same database. Target: under 1 s on both.
(3) ``store migrate-to`` of an SQLite store of --migrate-reports (default 1,000,000)
    reports (one obligation each): time and peak RSS of the migrating process, against
    a process that only reads every row of the same SQLite store (the floor).

Prints figures; exit 0 (1 with --check when a target is missed).

Usage: .venv/bin/python benchmarks/bench_postgresql.py [--quick] [--clues N] [--migrate-reports N]
       [--batch-size N] [--batches N] [--dir DIR] [--check]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import timezone
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))

import psycopg  # noqa: E402

import bench_deadlines as bd  # noqa: E402
import bench_import as bi  # noqa: E402
from cluetool import api, keys  # noqa: E402
from cluetool.config import Home, init_home  # noqa: E402
from cluetool.ingest import import_batches  # noqa: E402
from cluetool.store import Store  # noqa: E402
from cluetool import ingest  # noqa: E402
from cluetool.store.pgstore import PgStore, PgTx  # noqa: E402
from tests import pgcluster  # noqa: E402

NOW = bi.NOW


class Cluster:
    def __init__(self, base: Path) -> None:
        self.base = base
        self.conninfo = pgcluster.start(base, durable=True)
        self.n = 0

    def new_db(self) -> str:
        self.n += 1
        name = f"bench_{self.n}_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(self.conninfo, autocommit=True) as c:
            c.execute(f"CREATE DATABASE {name} TEMPLATE template0 ENCODING 'UTF8'")
        return f"postgresql://{pgcluster.APP_ROLE}@/{name}?host={self.base}"

    def stop(self) -> None:
        pgcluster.stop(self.base)

    def cpu(self) -> float:
        """CPU seconds of the server so far: the postmaster, its live children and the
        children it has reaped (closed backends)."""
        tick = os.sysconf("SC_CLK_TCK")
        pid = int((self.base / "data" / "postmaster.pid").read_text().split()[0])

        def fields(p: int | str) -> list[str]:
            try:
                text = Path(f"/proc/{p}/stat").read_text()
            except OSError:
                return []
            return text[text.rindex(")") + 2:].split()  # from field 3 (state) on

        total = sum(map(int, fields(pid)[11:15]))  # utime stime cutime cstime
        for entry in os.listdir("/proc"):
            f = fields(entry) if entry.isdigit() else []
            if f and int(f[1]) == pid:  # ppid
                total += int(f[11]) + int(f[12])
        return total / tick


class LockWaits:
    """Samples ``pg_stat_activity`` every 10 ms while running: the share of samples in
    which some backend waits for an advisory lock (an importer waiting for another)."""

    def __init__(self, url: str) -> None:
        import threading

        self.samples = self.waiting = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(url,), daemon=True)
        self._thread.start()

    def _run(self, url: str) -> None:
        with psycopg.connect(url, autocommit=True) as c:
            while not self._stop.wait(0.01):
                n = c.execute("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
                              " AND wait_event = 'advisory' AND datname = current_database()").fetchone()[0]
                self.samples += 1
                self.waiting += n > 0

    def stop(self) -> float:
        self._stop.set()
        self._thread.join()
        return self.waiting / max(1, self.samples)


def _pg_receiver(work: Path, url: str, sources: list[str]) -> tuple[Home, dict[str, bi.Writer]]:
    writers = {}
    receiver = api.init(Home(work / "internal"), now=NOW, store=url)
    info = keys.generate(receiver, "internal", now=NOW)
    for source in sources:
        sender = init_home(work / f"intake-{source}")
        keys.generate(sender, "main", now=NOW)
        keys.trust(receiver, source, sender.keys_dir / "main.pub")
        out = work / f"out-{source}"
        out.mkdir()
        writers[source] = bi.Writer(sender, info.age_recipient, out)
    return receiver, writers


def _write(writer: bi.Writer, source: str, reports: list[tuple[str, bytes]]) -> Path:
    bi.SOURCE = source  # the writer names its source from the module's constant
    return writer.write(reports)


def _copy_baseline(url: str, batch_ids: list[int]) -> float:
    """A bare COPY of the stored rows of ``batch_ids`` into a fresh table like reports."""
    with psycopg.connect(url, autocommit=True) as c:
        c.execute("DROP TABLE IF EXISTS copy_reports")
        c.execute("CREATE TABLE copy_reports (LIKE reports INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING INDEXES)")
        rows = c.execute("SELECT * FROM reports WHERE batch_id = ANY(%s) ORDER BY id", (batch_ids,)).fetchall()
        start = time.perf_counter()
        with c.transaction():
            with c.cursor().copy("COPY copy_reports FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        elapsed = time.perf_counter() - start
        c.execute("DROP TABLE copy_reports")
    return elapsed


class AuditLockShare:
    """How long an import's transaction holds the audit lock: from the moment it is
    granted to the end of ``import_batch`` (its commit), against the whole of
    ``import_batch`` (the part importers of other sources cannot overlap)."""

    def __init__(self) -> None:
        self.granted: list[float] = []
        self.held = self.total = 0.0
        real_lock, real_batch = PgTx.lock, ingest.import_batch

        def lock(tx: PgTx, name: str) -> None:
            real_lock(tx, name)
            if name == "audit":
                self.granted.append(time.perf_counter())

        def import_batch(*args: object, **kwargs: object) -> object:
            self.granted.clear()
            start = time.perf_counter()
            out = real_batch(*args, **kwargs)  # type: ignore[arg-type]
            end = time.perf_counter()
            self.total, self.held = end - start, end - min(self.granted, default=end)
            return out

        PgTx.lock = lock  # type: ignore[method-assign]
        ingest.import_batch = import_batch  # type: ignore[assignment]


def _batch_ids(url: str) -> list[int]:
    with psycopg.connect(url) as c:
        return [r[0] for r in c.execute("SELECT id FROM batches ORDER BY id")]


def bench_import(work: Path, cluster: Cluster, batch_size: int, batches: int) -> None:
    template = bi.Template()
    rng = bi.random.Random(20261205)
    counter = [0]

    def reports() -> list[tuple[str, bytes]]:
        out = [template.make(rng, counter[0] + i) for i in range(batch_size)]
        counter[0] += batch_size
        return out

    url = cluster.new_db()
    home, writers = _pg_receiver(work / "one", url, ["intake-a"])  # (batch 1 records the rules in force)
    print(f"(1) import into PostgreSQL: {batches} batch(es) of {batch_size:,} reports of {template.size:,} bytes")
    share = AuditLockShare()
    for i in range(batches):
        path = _write(writers["intake-a"], "intake-a", reports())
        start = time.perf_counter()
        result = import_batches([path], home=home, now=NOW, identity="internal")
        took = time.perf_counter() - start
        assert result.ok, result.problems[:3]
        base = _copy_baseline(url, _batch_ids(url)[-1:])
        print(f"    batch {i + 1}: import {took:6.2f}s = {batch_size / took:8,.0f} reports/s;"
              f" bare COPY {base:6.3f}s = {batch_size / base:9,.0f} rows/s; ratio {took / base:5.1f}x;"
              f" audit lock held {share.held:5.3f}s of the batch's {share.total:5.2f}s ({share.held / share.total:4.0%})")

    # 1 importer against 2 at once, as processes (start-up included in both).
    rates: dict[int, float] = {}
    for n in (1, 2):
        url = cluster.new_db()
        sources = [f"intake-{c}" for c in "ab"[:n]]
        home, writers = _pg_receiver(work / f"conc{n}", url, [*sources, "intake-w"])
        # A store in use: its first import (not timed) records the rules in force, under
        # the audit lock for its whole transaction (the rules.changed entry).
        warm = _write(writers["intake-w"], "intake-w", [template.make(rng, 10**9 + n)])
        assert import_batches([warm], home=home, now=NOW, identity="internal").ok
        paths = [_write(writers[s], s, reports()) for s in sources]
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        waits = LockWaits(url)
        server = cluster.cpu()
        start = time.perf_counter()
        procs = [subprocess.Popen([sys.executable, "-m", "cluetool", "--home", str(home.root), "-q", "import",
                                   "--wait", "600", "--identity", "internal", str(p)], env=env,
                                  stdout=subprocess.DEVNULL) for p in paths]
        codes, cpu = [], 0.0
        for p in procs:  # wait4: the CPU time of each importer and its worker processes
            _, status, usage = os.wait4(p.pid, 0)
            p.returncode = os.waitstatus_to_exitcode(status)
            codes.append(p.returncode)
            cpu += usage.ru_utime + usage.ru_stime
        took = time.perf_counter() - start
        waited = waits.stop()
        time.sleep(0.5)  # the importers' backends end and are reaped
        server = cluster.cpu() - server
        assert codes == [0] * n, codes
        base = _copy_baseline(url, _batch_ids(url)[1:])  # (not the warm-up batch)
        total = n * batch_size
        rates[n] = total / took
        print(f"    {n} importer(s) at once: {total:,} reports in {took:6.2f}s = {total / took:8,.0f} reports/s;"
              f" CPU: importers {cpu:5.2f}s + server {server:5.2f}s = {(cpu + server) / took:4.2f} cores;"
              f" a backend waits for a lock {waited:4.0%} of the time; bare COPY of them {base:6.3f}s; ratio {took / base:5.1f}x")
    print(f"    2 importers against 1: {rates[2] / rates[1]:4.2f}x the throughput"
          f" ({os.cpu_count()} CPUs; load {os.getloadavg()[0]:.2f})")


def bench_deadlines(work: Path, cluster: Cluster, clues: int, repeat: int) -> bool:
    print(f"(2) deadlines --fail-on overdue over {clues:,} clues (3 obligations each)")
    ok = bd.bench_deadlines(work / "sqlite", clues, repeat)  # prints the SQLite figures
    url = cluster.new_db()
    root = work / "pg-deadlines"
    t = time.perf_counter()
    home = init_home(root, store=url)
    store = PgStore.create_url(url, blobs_dir=home.blobs_dir, now=NOW)
    bd._fill(store, clues, templates=None, obligations_per_clue=3)
    store.execute("ANALYZE")
    store.close()
    print(f"deadlines (PostgreSQL): store with {clues:,} clues built in {time.perf_counter() - t:.1f} s")
    bd.deadlines(home, now=NOW)
    with psycopg.connect(url) as c:
        best_base = min(bd._timed(lambda: c.execute(
            "SELECT count(*) FROM obligations WHERE state = 'open' AND due_date < %s", (bd.AS_OF.isoformat(),)).fetchone())
            for _ in range(repeat))

    def run(states: tuple[str, ...]) -> tuple[int, int]:
        rep = bd.deadlines(home, now=NOW, as_of=bd.AS_OF, fail_on="overdue", states=states)
        bd.emit(rep, bd.Format.jsonl, rows="obligations", out=bd.io.StringIO())
        return len(rep.obligations), rep.counts["overdue"]

    for label, states in (("all unmet", ()), ("--state overdue", ("overdue",))):
        rows, overdue = run(states)
        best = min(bd._timed(lambda: run(states)) for _ in range(repeat))
        ok &= best < 1.0
        print(f"deadlines --fail-on overdue (PostgreSQL, {label}): {best:.3f} s for {rows:,} rows ({overdue:,} overdue);"
              f" raw count(*) baseline {best_base * 1000:.1f} ms; ratio {best / best_base:.0f}x;"
              f" target < 1 s: {'met' if best < 1.0 else 'MISSED'}")
    return ok


_CHILD_MIGRATE = """
import resource, sys, time
from pathlib import Path
from cluetool.store import Store
from cluetool.store.pgmigrate import migrate_to
src = Store.open(Path(sys.argv[1]), readonly=True)
t = time.perf_counter()
report = migrate_to(src, sys.argv[2], blobs_dir=Path(sys.argv[1]).parent / "blobs")
print(time.perf_counter() - t, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, report.audit_root,
      sum(x.rows for x in report.tables))
"""
_CHILD_READ = """
import resource, sys, time
from pathlib import Path
from cluetool.store import Store
from cluetool.store.pgmigrate import TABLES
src = Store.open(Path(sys.argv[1]), readonly=True)
t = time.perf_counter()
n = 0
with src.read():
    for table in TABLES:
        cur = src.execute(f"SELECT * FROM {table}")
        while rows := cur.fetchmany(2000):
            n += len(rows)
print(time.perf_counter() - t, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, n)
"""


def bench_migrate(work: Path, cluster: Cluster, reports: int) -> None:
    root = work / "migrate"
    home = init_home(root)
    t = time.perf_counter()
    store = Store.create(home.store_file, now=NOW, blobs_dir=home.blobs_dir)
    bd._fill(store, reports, templates=None, obligations_per_clue=1)
    store.close()
    size = home.store_file.stat().st_size
    print(f"(3) migrate-to: SQLite store of {reports:,} reports ({size / 1e9:.2f} GB) built in {time.perf_counter() - t:.1f} s")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    read = subprocess.run([sys.executable, "-c", _CHILD_READ, str(home.store_file)], env=env, capture_output=True,
                          text=True, check=True).stdout.split()
    url = cluster.new_db()
    done = subprocess.run([sys.executable, "-c", _CHILD_MIGRATE, str(home.store_file), url], env=env,
                          capture_output=True, text=True)
    if done.returncode != 0:
        print(f"    migrate-to failed: {done.stderr[-2000:]}")
        return
    took, rss, root_hex, rows = done.stdout.split()
    print(f"    migrate-to: {float(took):.1f} s, peak RSS {int(rss) / 1024:.0f} MiB, {int(rows):,} rows, audit root {root_hex[:16]}…;"
          f" reading every row only: {float(read[0]):.1f} s, peak RSS {int(read[1]) / 1024:.0f} MiB;"
          f" ratio {float(took) / float(read[0]):.1f}x")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--batch-size", type=int, default=10_000)
    ap.add_argument("--batches", type=int, default=3)
    ap.add_argument("--clues", type=int, default=1_000_000)
    ap.add_argument("--migrate-reports", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--quick", action="store_true", help="2,000-report batches, 100,000 clues and reports")
    ap.add_argument("--only", choices=["import", "deadlines", "migrate"], action="append")
    ap.add_argument("--dir", type=Path, default=None)
    ap.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    args = ap.parse_args()
    if args.quick:
        args.batch_size, args.batches, args.clues, args.migrate_reports = 2_000, 2, 100_000, 100_000
    if pgcluster.bindir() is None:
        print("bench_postgresql: no PostgreSQL binaries (initdb, pg_ctl): skipped")
        return 0
    only = set(args.only or ["import", "deadlines", "migrate"])
    ok = True
    with tempfile.TemporaryDirectory(dir=args.dir, prefix="bench-pg-") as tmp:
        work = Path(tmp)
        cluster = Cluster(Path(tempfile.mkdtemp(prefix="bench-pgcluster-")))
        try:
            if "import" in only:
                bench_import(work, cluster, args.batch_size, args.batches)
            if "deadlines" in only:
                ok &= bench_deadlines(work, cluster, args.clues, args.repeat)
            if "migrate" in only:
                bench_migrate(work, cluster, args.migrate_reports)
        finally:
            cluster.stop()
    return 1 if args.check and not ok else 0


if __name__ == "__main__":
    sys.exit(main())
