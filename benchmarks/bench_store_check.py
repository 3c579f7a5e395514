"""Benchmark: what ``store check`` pays for re-hashing every stored report (issue 16).

Builds a store of --reports real sample reports (default 20,000; --quick 2,000), stored
the way ``import`` stores them (rows, report.import audit entries; no attachments), then
times, best of --repeat:

- baseline: the checks ``store check`` made before issue 16 (``PRAGMA integrity_check``,
  foreign keys, key indexes, file modes, blobs);
- the added checks: every report re-hashed against its row and its import's audit entry
  (one SQL join), and every table read with a strict UTF-8 decoder (damaged text);
- the whole ``check_store``.

Prints each as a ratio to the baseline. Target: the whole check at most 3x the
baseline (it reads every report once more, and every table once).

Usage: .venv/bin/python benchmarks/bench_store_check.py [--reports N] [--repeat N] [--quick] [--dir DIR]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from cluetool.config import init_home  # noqa: E402
from cluetool.ingest import check_report  # noqa: E402
from cluetool.store import Store  # noqa: E402
from cluetool.store import queries as q  # noqa: E402
from cluetool.store.audit_entries import NewEntry, append_entries  # noqa: E402
from cluetool.store.integrity import check_store, report_problems, text_problems  # noqa: E402
from cluetool.store.queries import iter_attachment_hashes  # noqa: E402
from samples.make_samples import valid_submission  # noqa: E402

NOW = datetime(2026, 11, 24, 2, 0, tzinfo=timezone.utc)


def _fill(store: Store, count: int) -> None:
    rng = random.Random(16)
    templates = [json.loads(json.dumps(valid_submission(random.Random(i), i, attachments=0)[0])) for i in range(50)]
    with store.write() as tx:
        q.set_source_state(tx, source="bench", last_sequence=1, last_manifest_sha256="a" * 64, updated_at=NOW)
        batch = q.insert_batch(tx, source="bench", sequence=1, manifest_sha256="a" * 64, previous_sha256="0" * 64,
                               payload_sha256="b" * 64, signer="0123456789abcdef", created_at="2026-11-24T00:00:00Z",
                               imported_at=NOW, reports=count, attachments=0)
        for base in range(0, count, 2000):
            rows = []
            for i in range(base, min(count, base + 2000)):
                doc = dict(templates[i % len(templates)])
                doc["submission_id"] = str(uuid.UUID(int=rng.getrandbits(128), version=4))
                doc["query_code_sha256"] = f"{rng.getrandbits(256):064x}"
                raw = json.dumps(doc, ensure_ascii=False, indent=2).encode()
                checked = check_report(doc["submission_id"], raw, [], NOW, "bench")
                assert checked.row is not None, checked.problems
                rows.append(checked.row)
            q.insert_reports(tx, batch_id=batch.id, imported_at=NOW, reports=rows)
            append_entries(tx, [NewEntry(at=NOW, actor="cluetool-import", action="report.import", object=r.submission_id,
                                         details={"batch": "bench/1", "report_sha256": r.report_sha256, "attachments": []})
                                for r in rows])


def _best(fn, repeat: int) -> float:  # type: ignore[no-untyped-def]
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--reports", type=int, default=20_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--quick", action="store_true", help="2,000 reports")
    ap.add_argument("--dir", type=Path, default=None)
    args = ap.parse_args()
    count = 2_000 if args.quick else args.reports
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        home = init_home(Path(tmp) / "home")
        with Store.create(home.store_file, now=NOW, blobs_dir=home.blobs_dir) as store:
            t = time.perf_counter()
            _fill(store, count)
            print(f"store check: {count:,} reports stored in {time.perf_counter() - t:.1f} s")

            def baseline() -> None:
                store._check_database()
                list(store.blobs.check(iter_attachment_hashes(store)))

            base = _best(baseline, args.repeat)
            rehash = _best(lambda: list(report_problems(store)), args.repeat)
            text = _best(lambda: text_problems(store), args.repeat)
            whole = _best(store.check, args.repeat)
            assert check_store(store).ok
    print(f"  baseline (integrity, keys, modes, blobs): {base:.3f} s")
    print(f"  report re-hash + audit join: {rehash:.3f} s = {rehash / base:.2f}x baseline")
    print(f"  strict UTF-8 read of every table: {text:.3f} s = {text / base:.2f}x baseline")
    print(f"  whole store check: {whole:.3f} s = {whole / base:.2f}x baseline (target <= 3x)")
    return 0 if whole <= 3 * base else 1


if __name__ == "__main__":
    sys.exit(main())
