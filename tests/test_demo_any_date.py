"""``make run`` gives the same result on any date: the demo's commands are run with the
clock frozen at several dates (a December with next year's calendar unknown, New Year's
Eve, a date in 2028) and what they stored is the same each time."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CLOCKS = ["2026-12-05T09:00:00+08:00", "2026-12-31T23:30:00+08:00", "2028-07-15T12:00:00+08:00"]


@pytest.fixture(scope="module")
def spool(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("samples")
    subprocess.run([sys.executable, str(ROOT / "samples" / "make_samples.py"), "--out", str(base / "spool")],
                   check=True, capture_output=True)
    return base


def _outcome(demo: Path) -> dict[str, list[tuple]]:
    conn = sqlite3.connect(demo / "internal-home" / "store.db")
    try:
        return {
            "obligations": conn.execute(
                "SELECT submission_id, rule_id, unit, due_date, state, provisional, unknown_years, met_at"
                " FROM obligations ORDER BY submission_id, rule_id, id").fetchall(),
            "events": conn.execute("SELECT submission_id, event, at, unit, to_unit FROM events"
                                   " ORDER BY submission_id, id").fetchall(),
            "reports": conn.execute("SELECT submission_id, received_at, imported_at, report_sha256 FROM reports"
                                    " ORDER BY submission_id").fetchall(),
        }
    finally:
        conn.close()


def _run_demo(spool: Path, workdir: Path, clock: str) -> tuple[dict[str, list[tuple]], str]:
    demo = workdir / "demo"
    shutil.copytree(spool, demo)
    env = {**os.environ, "CLUETOOL": f"{sys.executable} {ROOT / 'tests' / 'frozen_cluetool.py'}",
           "CLUETOOL_TEST_CLOCK": clock, "PYTHONPATH": str(ROOT)}
    env.pop("CLUETOOL_HOME", None)
    done = subprocess.run(["bash", str(ROOT / "samples" / "demo.sh"), str(demo)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return _outcome(demo), done.stdout


def test_demo_gives_the_same_result_on_any_date(spool: Path, tmp_path: Path) -> None:
    results = [_run_demo(spool, tmp_path / str(n), clock) for n, clock in enumerate(CLOCKS)]
    first, stdout = results[0]
    assert first["reports"] and first["events"] and first["obligations"]
    # The demo's own times, not the clock: imported on 2026-11-01 (06:00 UTC).
    assert {r[2] for r in first["reports"]} == {"2026-11-01T06:00:00.000000Z"}
    assert "overdue" in stdout
    for outcome, _ in results[1:]:
        assert outcome == first
