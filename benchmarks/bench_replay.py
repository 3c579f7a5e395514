"""Benchmark ``store check --replay`` (``cluetool.audit.replay``) on a store of --clues
clues (default 1,000,000; --quick 50,000), each imported (two obligations), assigned by
the rules (one more obligation, one met), and given one handling event with a note:
about 3 audit entries, 2 events and 3 obligations per clue, written as the writers
write them (entries with obligation images, notes as HMAC).

Reports the replay time (target: under 60 s for 1,000,000 clues) and its ratio to a
baseline run in the same script: reading every audit entry and every state row once
(what any replay must at least do).

Usage: .venv/bin/python benchmarks/bench_replay.py [--clues N] [--quick] [--dir DIR]
Exit status: 0 when it ran (a missed target is reported as MISS).
"""

from __future__ import annotations

import argparse
import hashlib
import resource
import shutil
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import msgspec

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cluetool.audit.replay import replay_state  # noqa: E402
from cluetool.keys.audit_secret import keyed_text  # noqa: E402
from cluetool.store import Store  # noqa: E402
from cluetool.store.audit_entries import NewEntry, append_entries, format_time  # noqa: E402
from cluetool.store.stateimages import IMAGE_KEY, image  # noqa: E402

NOW = datetime(2026, 11, 24, 2, 0, 0, tzinfo=timezone.utc)
SECRET = bytes(range(32))
UNITS = ("cn.police", "cn.ago", "cn.discipline")


def build(store: Store, clues: int) -> None:
    imported, assigned, recorded = NOW, NOW + timedelta(hours=1), NOW + timedelta(hours=2)
    ti, ta, tr = format_time(imported), format_time(assigned), format_time(recorded)
    with store.write() as tx:
        tx.executemany("INSERT OR IGNORE INTO units (id, name, type, region, updated_at) VALUES (?, ?, 'x', NULL, ?)",
                       [(u, u, ti) for u in UNITS])
        tx.execute("INSERT INTO sources (source, last_sequence, last_manifest_sha256, updated_at) VALUES"
                   " ('intake-bj', 1, ?, ?)", ("a" * 64, ti))
        tx.execute("INSERT INTO batches (id, source, sequence, manifest_sha256, previous_sha256, payload_sha256, signer,"
                   " created_at, imported_at, reports, attachments) VALUES (1, 'intake-bj', 1, ?, ?, ?, 'x', ?, ?, ?, 0)",
                   ("a" * 64, "0" * 64, "b" * 64, ti, ti, clues))
    step = 50_000
    for first in range(0, clues, step):
        ids = range(first + 1, min(first + step, clues) + 1)
        sids = {i: f"{i:08x}-1f2e-4d3c-8b7a-{i * 7919 % 16**12:012x}" for i in ids}
        reports, stages, events, assigns, obligations, entries = [], [], [], [], [], []
        for i in ids:
            sid = sids[i]
            reports.append((i, sid, "gang_crime", ti, ti, 1, hashlib.sha256(sid.encode()).hexdigest(),
                            hashlib.sha256(b"q" + sid.encode()).hexdigest(), None, 1, 0, None, b"{}"))
            unit = UNITS[i % 3]
            ev1, ev2 = 2 * i - 1, 2 * i
            o1, o2, o3 = 3 * i - 2, 3 * i - 1, 3 * i
            obligations += [
                (o1, i, sid, "assign_imported", None, None, "2026-11-26", 0, "met", ta, ev1, ti),
                (o2, i, sid, "contact_reporter", None, None, "2026-12-08", 0, "open", None, None, ti),
                (o3, i, sid, "transfer_gang_to_police", ev1, unit, "2026-12-01", 0, "open", None, None, ta),
            ]
            img = {o[0]: image((o[0], o[3], o[5], o[4], o[6], o[7], "open", None, None)) for o in obligations[-3:]}
            entries.append(NewEntry(at=imported, actor="cluetool-import", action="report.import", object=sid, details={
                "batch": "intake-bj/1", "report_sha256": reports[-1][7], "attachments": [],
                IMAGE_KEY: [img[o1], img[o2]]}))
            met = image((o1, "assign_imported", None, None, "2026-11-26", 0, "met", ta, ev1))
            entries.append(NewEntry(at=assigned, actor="cluetool-handling", action="clue.assign", object=f"report:{sid}",
                                    details={"event_id": ev1, "unit": unit, "rule": "gang_default",
                                             "assignment_rules_sha256": "c" * 64, IMAGE_KEY: [met, img[o3]]}))
            note = f"reached reporter {i}"
            entries.append(NewEntry(at=recorded, actor="cluetool-handling", action="event.record", object=f"report:{sid}",
                                    details={"event_id": ev2, "event": "contacted", "event_at": tr, "unit": unit,
                                             "to_unit": None, "channel": "phone", "duplicate_of": None,
                                             "note_hmac_sha256": keyed_text(SECRET, note), IMAGE_KEY: []}))
            stages.append((i, "assigned"))
            events += [(ev1, i, sid, "assigned", ta, None, unit, None, None, ta),
                       (ev2, i, sid, "contacted", tr, unit, None, "phone", note, tr)]
            assigns.append((i, sid, unit, ta, "gang_default", None, ev1))
        with store.write() as tx:
            tx.executemany("INSERT INTO reports VALUES (" + ",".join("?" * 13) + ")", reports)
            tx.executemany("INSERT INTO report_stages VALUES (?, ?)", stages)
            tx.executemany("INSERT INTO events VALUES (" + ",".join("?" * 10) + ")", events)
            tx.executemany("INSERT INTO assignments VALUES (" + ",".join("?" * 7) + ")", assigns)
            tx.executemany("INSERT INTO obligations (id, report_id, submission_id, rule_id, trigger_event_id, unit,"
                           " due_date, provisional, state, met_at, met_event_id, created_at)"
                           " VALUES (" + ",".join("?" * 12) + ")", obligations)
            append_entries(tx, entries)


def _cpu() -> float:
    """CPU seconds of this process and its finished children (a large log is replayed by two processes)."""
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def baseline(store: Store) -> float:
    t0 = time.perf_counter()
    decode = msgspec.json.decode
    for (raw,) in store.execute("SELECT entry FROM audit_log"):
        decode(raw)
    for table in ("report_stages", "events", "assignments", "obligations"):
        for _ in store.execute(f"SELECT * FROM {table}"):
            pass
    return time.perf_counter() - t0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clues", type=int, default=None, help="clues (default 1,000,000; --quick 50,000)")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--dir", type=Path, default=None, help="work directory (default: a temporary one)")
    args = ap.parse_args()
    clues = args.clues or (50_000 if args.quick else 1_000_000)
    work = Path(tempfile.mkdtemp(prefix="bench-replay-", dir=args.dir))
    try:
        t0 = time.perf_counter()
        store = Store.create(work / "store.db", now=NOW)
        build(store, clues)
        print(f"built {clues:,} clues in {time.perf_counter() - t0:.1f} s")
        base = baseline(store)
        t0, c0 = time.perf_counter(), _cpu()
        report = replay_state(work / "store.db", secret=SECRET, scratch_dir=work)
        took, cpu = time.perf_counter() - t0, _cpu() - c0
        if not report.ok:
            print("replay found differences in a consistent store:", report.differences[:3])
            return 2
        per_million = took * 1_000_000 / clues
        print(f"replay of {report.entries:,} entries: {took:.1f} s ({per_million:.0f} s per 1,000,000 clues; "
              f"target < 60 s {'OK' if per_million < 60 else 'MISS'}); baseline read {base:.1f} s, ratio {took / base:.1f}; "
              f"CPU of all processes {cpu:.1f} s ({cpu * 1_000_000 / clues:.0f} s per 1,000,000 clues; a large log is replayed "
              f"by two processes, so on two idle cores the wall time is about half of that)")
        store.close()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
