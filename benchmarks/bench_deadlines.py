"""Benchmark: ``deadlines --fail-on overdue`` on a big store, and ``assign`` throughput.

1. deadlines: builds a store with --clues reports (default 1,000,000) and three
   obligations each (3,000,000): ``assign_imported`` (met), ``contact_reporter`` and
   ``transfer_gang_to_police``, received evenly from 2025-01-01 to 2026-11-18; of the last
   45 days' duties half are still open, of older ones 0.5 % (the overdue backlog): per
   1,000,000 clues about 68,500 unmet obligations, 46,500 of them overdue. Then times
   ``cluetool.api.deadlines(fail_on="overdue")`` (rules check, query of
   every unmet obligation, counts) plus rendering it as jsonl, which is what the command
   does, best of --repeat; and the same with ``--state overdue``. The baseline is the
   floor: one raw ``SELECT count(*)`` of the overdue range with ``sqlite3``. The reports'
   bytes are not read by this query, so they are small placeholders here.
   Target: under 1 second.
2. assign: --assign-clues (default 100,000) unassigned reports with real sample bytes
   (the sample generator's reports, ids substituted), each with its open
   ``assign_imported`` obligation; times ``assign`` by the rules (events, assignments,
   stage, obligations met and started, one audit entry each, one transaction). The
   baseline is reading and matching the same clues without writing anything (the dry
   run). Target: at least 20,000 clues per second.

Usage: .venv/bin/python benchmarks/bench_deadlines.py [--clues N] [--assign-clues N] [--repeat N] [--quick] [--dir DIR]
"""

from __future__ import annotations

import argparse
import io
import json
import random
import sqlite3
import sys
import tempfile
import time
import uuid
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import msgspec  # noqa: E402

from cluetool.config import init_home  # noqa: E402
from cluetool.api import assign, deadlines  # noqa: E402
from cluetool.output import Format, emit  # noqa: E402
from cluetool.rules.from_report import facts_from_json  # noqa: E402
from cluetool.store import Store  # noqa: E402
from samples.make_samples import valid_submission  # noqa: E402

NOW = datetime(2026, 11, 24, 2, 0, tzinfo=timezone.utc)
AS_OF = date(2026, 11, 24)
T0 = datetime(2025, 1, 1, tzinfo=timezone.utc)


def _ts(dt: datetime) -> str:
    return dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _fill(store: Store, clues: int, *, templates: list[bytes] | None, obligations_per_clue: int) -> None:
    rng = random.Random(7)
    with store.write() as tx:
        tx.execute("INSERT INTO sources VALUES ('bench', 1, ?, ?)", ("0" * 64, _ts(NOW)))
        tx.execute(
            "INSERT INTO batches (id, source, sequence, manifest_sha256, previous_sha256, payload_sha256, signer,"
            " created_at, imported_at, reports, attachments) VALUES (1, 'bench', 1, ?, ?, ?, 'x', 'x', ?, ?, 0)",
            ("a" * 64, "0" * 64, "b" * 64, _ts(NOW), clues),
        )
        step = 50_000
        for base in range(0, clues, step):
            reports, obligations = [], []
            for i in range(base, min(clues, base + step)):
                sid = str(uuid.UUID(int=rng.getrandbits(128), version=4))
                received = T0 + timedelta(minutes=i * 990_000 // max(clues, 1))  # to 2026-11-18
                facts = None
                if templates is None:
                    raw = b'{"bench":true}'
                    kind, region = "gang_crime", "110105"
                else:
                    doc = json.loads(templates[i % len(templates)])
                    doc["submission_id"] = sid
                    raw = json.dumps(doc, ensure_ascii=False).encode()
                    kind, region = doc["kind"], doc["facts"]["region"]
                    facts = msgspec.json.encode(facts_from_json(raw))  # as import stores them
                reports.append((i + 1, sid, kind, _ts(received), _ts(received + timedelta(hours=1)), 1, "c" * 64,
                                f"{i:064x}", region, 1, 1, facts, raw))
                imported_due = (received + timedelta(days=7)).date().isoformat()
                if obligations_per_clue == 1:
                    obligations.append((i + 1, sid, "assign_imported", imported_due, "open", None, _ts(received)))
                    continue
                for rule, days in (("assign_imported", 7), ("contact_reporter", 31), ("transfer_gang_to_police", 8)):
                    due = (received + timedelta(days=days)).date().isoformat()
                    recent = received > NOW - timedelta(days=45)
                    met = rule == "assign_imported" or rng.random() < (0.5 if recent else 0.995)
                    obligations.append((i + 1, sid, rule, due, "met" if met else "open",
                                        _ts(received + timedelta(days=2)) if met else None, _ts(received)))
            tx.executemany(
                "INSERT INTO reports (id, submission_id, kind, received_at, imported_at, batch_id, report_sha256,"
                " query_code_sha256, region, reporter_has_contact, real_name, facts, report_json)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", reports)
            tx.executemany("INSERT INTO report_stages (report_id) VALUES (?)", ((r[0],) for r in reports))
            tx.executemany(
                "INSERT INTO obligations (report_id, submission_id, rule_id, due_date, state, met_at, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)", obligations)


def _home(root: Path, clues: int, *, templates: list[bytes] | None, obligations_per_clue: int):
    home = init_home(root)
    store = Store.create(home.store_file, now=NOW, blobs_dir=home.blobs_dir)
    _fill(store, clues, templates=templates, obligations_per_clue=obligations_per_clue)
    store.close()
    return home


def bench_deadlines(workdir: Path, clues: int, repeat: int) -> bool:
    t = time.perf_counter()
    home = _home(workdir / "deadlines", clues, templates=None, obligations_per_clue=3)
    print(f"deadlines: store with {clues:,} clues, {3 * clues:,} obligations built in {time.perf_counter() - t:.1f} s")
    deadlines(home, now=NOW)  # first run records the rules in force (rules.changed)
    conn = sqlite3.connect(home.store_file)
    best_base = min(_timed(lambda: conn.execute(
        "SELECT count(*) FROM obligations WHERE state = 'open' AND due_date < ?", (AS_OF.isoformat(),)).fetchone())
        for _ in range(repeat))
    conn.close()

    def run(states: tuple[str, ...]) -> tuple[int, int]:
        rep = deadlines(home, now=NOW, as_of=AS_OF, fail_on="overdue", states=states)
        emit(rep, Format.jsonl, rows="obligations", out=io.StringIO())
        return len(rep.obligations), rep.counts["overdue"]

    ok = True
    for label, states in (("all unmet", ()), ("--state overdue", ("overdue",))):
        rows, overdue = run(states)
        best = min(_timed(lambda: run(states)) for _ in range(repeat))
        ok &= best < 1.0
        print(f"deadlines --fail-on overdue ({label}): {best:.3f} s for {rows:,} rows ({overdue:,} overdue); "
              f"raw count(*) baseline {best_base * 1000:.1f} ms; ratio {best / best_base:.0f}x; "
              f"target < 1 s: {'met' if best < 1.0 else 'MISSED'}")
    return ok


def bench_assign(workdir: Path, clues: int) -> bool:
    templates = []
    for i in range(60):
        rep, _, _ = valid_submission(random.Random(i), i, attachments=0)
        templates.append(json.dumps(rep, ensure_ascii=False).encode())
    t = time.perf_counter()
    home = _home(workdir / "assign", clues, templates=templates, obligations_per_clue=1)
    print(f"assign: store with {clues:,} unassigned clues built in {time.perf_counter() - t:.1f} s")
    deadlines(home, now=NOW)  # records the rules in force, as any earlier command would have
    base = _timed(lambda: assign(home, now=NOW, dry_run=True))
    took = _timed(lambda: assign(home, now=NOW))
    rate = clues / took
    with Store.open(home.store_file) as store:
        assigned = store.execute("SELECT count(*) FROM assignments").fetchone()[0]
    assert assigned == clues, (assigned, clues)
    print(f"assign: {clues:,} clues in {took:.2f} s = {rate:,.0f} clues/s; dry-run baseline (read + match, no writes) "
          f"{base:.2f} s = {clues / base:,.0f} clues/s; ratio {took / base:.1f}x; "
          f"target >= 20,000/s: {'met' if rate >= 20_000 else 'MISSED'}")
    return rate >= 20_000


def _timed(fn) -> float:  # type: ignore[no-untyped-def]
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--clues", type=int, default=1_000_000, help="clues in the deadlines store (3 obligations each)")
    ap.add_argument("--assign-clues", type=int, default=100_000, help="unassigned clues for the assign run")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--quick", action="store_true", help="100,000 and 20,000 clues")
    ap.add_argument("--dir", type=Path, default=None, help="work directory (default: a temporary one)")
    ap.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    args = ap.parse_args()
    if args.quick:
        args.clues, args.assign_clues = 100_000, 20_000
    with tempfile.TemporaryDirectory(dir=args.dir, prefix="bench-deadlines-") as tmp:
        ok = bench_deadlines(Path(tmp), args.clues, args.repeat)
        ok &= bench_assign(Path(tmp), args.assign_clues)
    # Like the other benchmarks: a run that completed exits 0 and prints MISSED lines;
    # --check turns a missed target into exit 1.
    return 1 if args.check and not ok else 0


if __name__ == "__main__":
    sys.exit(main())
