"""Importers of different sources overlap on PostgreSQL (issue 22): an import does all
of its work before it takes the audit lock, which it holds only for its last writes and
the commit (cluetool/store/pending_audit.py). What a serial order would have given still
holds when two imports meet: a report both carry is stored once (the later import sees
it as re-sent, after a retry), and two reports sharing a fingerprint are linked once.

Each test holds the audit lock in a process of its own, starts importers as processes,
and waits (by polling ``pg_locks``) until each is where the test wants it; nothing is
timed."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import psycopg
import pytest

from cluetool import keys
from samples.make_samples import write_submission
from tests.batch_helpers import KeyHome, make_home, seal_spool
from tests.test_import import gang_with_id, submission
from tests.test_pg_concurrency import IMPORTED_AT, ROOT, cli, pg_receiver, run_cli

# Holds the audit lock in an open write transaction until told to go on.
HOLD_AUDIT = """
import sys
from pathlib import Path
from cluetool.config import Home
from cluetool.home import open_store
with open_store(Home(Path(sys.argv[1]))) as store, store.write() as tx:
    tx.lock("audit")
    print("locked", flush=True)
    sys.stdin.readline()
"""

# Backends waiting for a lock of ``locktype``, with the tables they hold a row lock on.
_WAITERS = """
SELECT w.pid, array(SELECT DISTINCT c.relname FROM pg_locks h JOIN pg_class c ON c.oid = h.relation
                    WHERE h.pid = w.pid AND h.granted AND h.mode = 'RowExclusiveLock' AND c.relkind = 'r')
FROM pg_locks w WHERE NOT w.granted AND w.locktype = %s
"""


def waiters(url: str, locktype: str, count: int, *procs: subprocess.Popen[str]) -> dict[int, set[str]]:
    """Wait until ``count`` backends wait for a lock of ``locktype`` (a generous bound,
    only against a hang); each one's pid and the tables it wrote rows to. ``procs``
    (the importers) must still be running meanwhile."""
    with psycopg.connect(url, autocommit=True) as pg:
        for _ in range(1200):
            for p in procs:
                assert p.poll() is None, p.communicate()
            found = {pid: set(tables) for pid, tables in pg.execute(_WAITERS, (locktype,))}
            if len(found) >= count:
                return found
            time.sleep(0.1)
    raise AssertionError(f"no {count} backend(s) waiting for a {locktype} lock")


class Holder:
    """A process holding the audit lock until ``release``."""

    def __init__(self, home: Any) -> None:
        self.proc = subprocess.Popen([sys.executable, "-c", HOLD_AUDIT, str(home.root)], cwd=ROOT,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None and self.proc.stdout.readline().strip() == "locked", self.proc.stderr

    def release(self) -> None:
        if self.proc.returncode is None:
            self.proc.communicate("go\n", timeout=60)


def source_batch(root: Path, receiver: KeyHome, source: str, reports: list[tuple[dict[str, Any], dict[str, bytes]]]) -> Path:
    """One batch of ``source`` (a signing home of its own, trusted by the receiver) with ``reports``."""
    sender = make_home(root / f"intake-{source}")
    keys.trust(receiver.home, source, sender.pub, additional=False)
    for report, files in reports:
        write_submission(root / f"spool-{source}" / report["submission_id"], report, files)
    sealed = seal_spool(sender, root / f"spool-{source}", root / f"out-{source}", source=source,
                        recipients=[receiver.recipient])
    [batch] = sealed.batches
    return Path(batch.path)


def in_use(tmp_path: Path, url: str) -> KeyHome:
    """A receiver whose store is in use: a first import (source "pre") recorded the rules
    in force (that ``rules.changed`` entry is written under the audit lock, held from
    there on; later imports hold it only at their end)."""
    receiver = pg_receiver(tmp_path / "internal", url)
    done = run_cli(receiver.home, "-q", "import", "--identity", "internal", "--at", IMPORTED_AT,
                   str(source_batch(tmp_path, receiver, "pre", [submission(9600, 0)])))
    assert done.returncode == 0, done.stderr
    return receiver


def start_import(home: Any, batch: Path) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if k != "CLUETOOL_HOME"}
    return subprocess.Popen(cli(home, "-q", "import", "--wait", "120", "--identity", "internal", "--at", IMPORTED_AT,
                                str(batch)), cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finish(proc: subprocess.Popen[str]) -> str:
    out, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err[-2000:]
    return out


def entries(url: str) -> list[tuple[str, str, dict[str, Any]]]:
    import json

    with psycopg.connect(url) as pg:
        docs = [json.loads(bytes(r[0])) for r in pg.execute("SELECT entry FROM audit_log ORDER BY seq")]
    return [(d["action"], d["object"], d["details"]) for d in docs]


def verify_clean(home: Any) -> None:
    for args in (("audit", "verify", "--key", "internal"), ("store", "check")):
        done = run_cli(home, *args)
        assert done.returncode == 0, (args, done.stderr)


def test_importer_stores_everything_before_it_waits_for_the_audit_lock(tmp_path: Path, pg_url: str) -> None:
    receiver = in_use(tmp_path, pg_url)
    batch = source_batch(tmp_path, receiver, "one", [submission(9601 + i, i, attachments=1) for i in range(3)])
    holder = Holder(receiver.home)
    try:
        importer = start_import(receiver.home, batch)
        [(_, tables)] = waiters(pg_url, "advisory", 1, importer).items()
        # Waiting for the audit lock with its ledger row, reports, fingerprints and
        # obligations written, and no audit entry yet.
        assert {"batches", "reports", "report_attachments", "fingerprints", "obligations"} <= tables, tables
        assert "audit_log" not in tables and "duplicates" not in tables
    finally:
        holder.release()
    finish(importer)
    actions = [a for a, _, _ in entries(pg_url)]
    assert actions[-4:] == ["batch.import", "report.import", "report.import", "report.import"], actions
    verify_clean(receiver.home)


def test_one_report_in_two_sources_at_once_stored_once_then_resent(tmp_path: Path, pg_url: str) -> None:
    receiver = in_use(tmp_path, pg_url)
    shared = submission(9701, 0)
    first = source_batch(tmp_path, receiver, "one", [shared, submission(9702, 1)])
    second = source_batch(tmp_path, receiver, "two", [shared, submission(9703, 2)])
    holder = Holder(receiver.home)
    try:
        one = start_import(receiver.home, first)
        waiters(pg_url, "advisory", 1, one)  # "one" stored its reports and waits for the audit lock
        two = start_import(receiver.home, second)
        waiters(pg_url, "transactionid", 1, one, two)  # "two" waits for "one"'s commit to insert the shared report
    finally:
        holder.release()
    finish(one)
    finish(two)
    sid = shared[0]["submission_id"]
    log = entries(pg_url)
    assert [(a, o) for a, o, _ in log if o == sid] == [("report.import", sid), ("report.resent", sid)]
    with psycopg.connect(pg_url) as pg:
        assert pg.execute("SELECT count(*) FROM reports").fetchone()[0] == 1 + 3
        assert dict(pg.execute("SELECT source, last_sequence FROM sources").fetchall()) == {"pre": 1, "one": 1, "two": 1}
    verify_clean(receiver.home)


def test_shared_subject_id_in_two_sources_at_once_linked_once(tmp_path: Path, pg_url: str) -> None:
    receiver = in_use(tmp_path, pg_url)
    a = gang_with_id(9801)
    b, _ = submission(9802, 1)
    b["subjects"][0].update(type="person", id_number=a["subjects"][0]["id_number"], name="另一人")
    first = source_batch(tmp_path, receiver, "one", [(a, {})])
    second = source_batch(tmp_path, receiver, "two", [(b, {})])
    holder = Holder(receiver.home)
    try:
        # Both store their report (neither sees the other's) and wait for the audit lock.
        one = start_import(receiver.home, first)
        waiters(pg_url, "advisory", 1, one)
        two = start_import(receiver.home, second)
        waiters(pg_url, "advisory", 2, one, two)
    finally:
        holder.release()
    finish(one)
    finish(two)
    log = entries(pg_url)
    order = [o for act, o, _ in log if act == "report.import"]
    later, earlier = (b["submission_id"], a["submission_id"]) if order.index(a["submission_id"]) < order.index(b["submission_id"]) \
        else (a["submission_id"], b["submission_id"])
    # As if imported one after the other: the later report linked to the earlier, once.
    with psycopg.connect(pg_url) as pg:
        links = pg.execute("SELECT submission_id, duplicate_of, reason FROM duplicates").fetchall()
    assert [(s, d) for s, d, _ in links] == [(later, earlier)] and "subject id" in links[0][2]
    found = [(o, d["duplicate_of"]) for act, o, d in log if act == "duplicate.found"]
    assert found == [(later, earlier)]
    verify_clean(receiver.home)


def test_one_query_code_in_two_sources_at_once_held_once(tmp_path: Path, pg_url: str) -> None:
    # Two different reports with the same query code: the one imported later is held as a
    # collision, as one after the other; neither batch is refused (after a retry).
    receiver = in_use(tmp_path, pg_url)
    a, _ = submission(9901, 0)
    b, _ = submission(9902, 1)
    b["query_code_sha256"] = a["query_code_sha256"]
    first = source_batch(tmp_path, receiver, "one", [(a, {}), submission(9903, 2)])
    second = source_batch(tmp_path, receiver, "two", [(b, {}), submission(9904, 3)])
    holder = Holder(receiver.home)
    try:
        one = start_import(receiver.home, first)
        waiters(pg_url, "advisory", 1, one)  # "one" stored its reports and waits for the audit lock
        two = start_import(receiver.home, second)
        waiters(pg_url, "transactionid", 1, one, two)  # "two" waits for "one"'s commit on the query code
    finally:
        holder.release()
    finish(one)
    finish(two)
    with psycopg.connect(pg_url) as pg:
        stored = {r[0] for r in pg.execute("SELECT submission_id FROM reports")}
        held = pg.execute("SELECT submission_id, reason, collides_with FROM held_reports").fetchall()
    assert a["submission_id"] in stored and b["submission_id"] not in stored
    assert len(stored) == 1 + 3
    assert held == [(b["submission_id"], "query_code.collision", a["submission_id"])]
    verify_clean(receiver.home)


def test_deadlock_is_a_conflict_that_rolled_back_and_import_redoes_its_batch(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # PostgreSQL resolves a deadlock (e.g. an import holding the audit lock early for a
    # rules change, waiting for a blob another import wrote and is about to commit) by
    # ending one transaction: that import runs its batch again, as after a race; a
    # lock not granted in time stays plain busy (exit 75).
    from psycopg import errors as pg_errors

    from cluetool import ingest
    from cluetool.errors import BusyError, ConflictRolledBack
    from cluetool.store.pgstore import PgStore
    from tests.batch_helpers import write_spool
    from tests.test_import import make_pair

    fake = type("Fake", (), {"location": "postgresql://x@/db"})()
    for exc in (pg_errors.DeadlockDetected("deadlock detected"), pg_errors.SerializationFailure("could not serialize")):
        assert isinstance(PgStore._translate_pg(fake, exc), ConflictRolledBack)  # type: ignore[arg-type]
    busy = PgStore._translate_pg(fake, pg_errors.LockNotAvailable("lock timeout"))  # type: ignore[arg-type]
    assert isinstance(busy, BusyError) and not isinstance(busy, ConflictRolledBack)

    pair = make_pair(tmp_path)
    write_spool(pair.root / "spool", 3, seed=8170, attachments=0)
    [batch] = pair.seal(pair.root / "spool")
    real, calls = ingest._import_batch, []

    def deadlocked_once(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        if len(calls) == 1:
            raise ConflictRolledBack("deadlock detected")
        return real(*args, **kwargs)

    monkeypatch.setattr(ingest, "_import_batch", deadlocked_once)
    report = pair.import_([batch])
    assert len(calls) == 2 and report.ok and report.batches[0].status == "imported"

    def deadlocked_always(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        raise ConflictRolledBack("deadlock detected")

    calls.clear()
    monkeypatch.setattr(ingest, "_import_batch", deadlocked_always)
    write_spool(pair.root / "spool2", 1, seed=8171, attachments=0)
    [again] = pair.seal(pair.root / "spool2")
    with pytest.raises(ConflictRolledBack):  # (exit 75 from the command)
        pair.import_([again])
    assert len(calls) == ingest._ATTEMPTS
