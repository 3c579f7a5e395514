"""Two processes on one store (cluetool/store/migrations.py): the second writer waits up to ``wait``
seconds, then gets ``BusyError`` (exit 75); a writer killed mid-transaction leaves no
trace. The other process is a real subprocess holding a real SQLite lock."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from datetime import datetime, timezone
from pathlib import Path

import pytest

from cluetool.errors import BusyError, ExitCode
from cluetool.store import Store, queries
from cluetool.store.audit_entries import append_entry, audit_size
from cluetool.store.integrity import check_store
from cluetool.store.migrations import latest_version

NOW = datetime(2026, 11, 24, 2, 0, tzinfo=timezone.utc)
ROOT = Path(__file__).resolve().parents[1]
MIGRATED = latest_version()  # a new store's audit log starts with one entry per migration

# The child takes the write lock through the same API, says so, then follows its orders.
CHILD = textwrap.dedent(
    """
    import sys, time
    from datetime import datetime, timezone
    from pathlib import Path
    from cluetool.model.store import ReportRow
    from cluetool.store import Store, queries

    now = datetime(2026, 11, 24, 2, 0, tzinfo=timezone.utc)
    store = Store.open(Path(sys.argv[1]))
    with store.write() as tx:
        batch = queries.insert_batch(
            tx, source="intake-bj", sequence=1, manifest_sha256="1" * 64, previous_sha256="0" * 64,
            payload_sha256="2" * 64, signer="0123456789abcdef", created_at="2026-11-24T02:00:00Z",
            imported_at=now, reports=500, attachments=0)
        queries.set_source_state(tx, source="intake-bj", last_sequence=1, last_manifest_sha256="1" * 64,
                                 updated_at=now)
        queries.insert_reports(tx, batch_id=batch.id, imported_at=now, reports=[
            ReportRow(submission_id=f"{i:08x}-0000-4000-8000-000000000000", kind="gang_crime",
                      received_at=now, report_sha256=f"{i:064x}", query_code_sha256=f"{i + 1:064x}",
                      region=None, reporter_has_contact=False, real_name=False, report_json=b"{}")
            for i in range(500)])
        print("locked", flush=True)
        order = sys.stdin.readline().strip()
        if order.startswith("sleep"):
            time.sleep(float(order.split()[1]))
    print("committed", flush=True)
    """
)


@pytest.fixture
def path(tmp_path: Path) -> Path:
    p = tmp_path / "store.db"
    Store.create(p, now=NOW).close()
    return p


@pytest.fixture
def holder(path: Path):
    """Start a child that holds the write lock mid-import; yields the process."""
    proc = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline().strip()
    if line != "locked":
        proc.kill()
        _, err = proc.communicate()
        pytest.fail(f"child did not take the lock: {err.strip()[-500:]}")
    yield proc
    if proc.poll() is None:
        proc.kill()
    proc.communicate()


def test_store_write_while_other_process_writes_raises_busy(path: Path, holder: subprocess.Popen) -> None:
    with Store.open(path, wait=0.5) as store:
        with pytest.raises(BusyError) as info:
            with store.write() as tx:
                append_entry(tx, at=NOW, actor="t", action="a.b", object="store", details={})
        assert info.value.exit_code == ExitCode.TEMPFAIL == 75
        assert str(info.value) == "store is locked by another process"
        assert info.value.hint == "try again, or raise --wait"
        # Readers are not blocked by the writer (WAL) and see none of its rows yet.
        assert queries.get_batch_by_sequence(store, "intake-bj", 1) is None
        assert audit_size(store) == MIGRATED


def test_store_write_waits_for_lock_then_succeeds(path: Path, holder: subprocess.Popen) -> None:
    assert holder.stdin is not None
    holder.stdin.write("sleep 0.3\n")
    holder.stdin.flush()
    with Store.open(path, wait=30) as store:
        with store.write() as tx:
            append_entry(tx, at=NOW, actor="t", action="a.b", object="store", details={})
        assert queries.get_batch_by_sequence(store, "intake-bj", 1) is not None
        assert store.execute("SELECT count(*) FROM reports").fetchone()[0] == 500
        assert audit_size(store) == MIGRATED + 1
    out, err = holder.communicate(timeout=30)
    assert (out.strip(), err) == ("committed", "")
    assert holder.returncode == 0


def test_store_writer_killed_mid_import_leaves_no_half_import(path: Path, holder: subprocess.Popen) -> None:
    holder.kill()
    holder.wait(timeout=30)
    with Store.open(path, wait=5) as store:
        assert store.execute("SELECT count(*) FROM reports").fetchone()[0] == 0
        assert queries.get_batch_by_sequence(store, "intake-bj", 1) is None
        assert check_store(store).ok
        with store.write() as tx:  # the dead process's lock is gone
            append_entry(tx, at=NOW, actor="t", action="a.b", object="store", details={})
        assert audit_size(store) == MIGRATED + 1
