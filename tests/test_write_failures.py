"""Write failures (issue 16, failures 1 and 8): a full or read-only ``--out``, home or
store aborts the batch being written with exit 3 naming the directory and the cause;
the spool stays exactly as it was (no valid submission is quarantined) and an import
stores nothing. ENOSPC comes from a small tmpfs in a private mount namespace (skipped
where mounting is not permitted), EFBIG from RLIMIT_FSIZE (works everywhere)."""

from __future__ import annotations

import sqlite3
import subprocess
from pathlib import Path

import pytest

from cluetool import api
from cluetool.batch import sealstate
from cluetool.config import Home
from tests.batch_helpers import SOURCE, KeyHome, make_home, write_spool
from tests.fault_helpers import cluetool_cmd, in_mount_namespace, q, run_fsize_limited, tree
from tests.test_import import RECEIVER_KEY, Pair, make_pair, table_counts



@pytest.fixture
def pair(tmp_path: Path) -> Pair:
    """SQLite only here: a full disk under the store file."""
    return make_pair(tmp_path)


@pytest.fixture
def intake(tmp_path: Path) -> tuple[KeyHome, Path, Path]:
    kh = make_home(tmp_path / "intake")
    spool = tmp_path / "spool"
    write_spool(spool, 12, seed=8164, attachments=2)
    out = tmp_path / "out"
    out.mkdir()
    return kh, spool, out


def _seal_cmd(kh: KeyHome, spool: Path, out: Path) -> list[str]:
    return cluetool_cmd("--home", kh.root, "seal", spool, "--source", SOURCE, "--to", kh.recipient, "--out", out)


def _error_lines(stderr: str) -> list[str]:
    lines = stderr.splitlines()
    assert lines and lines[0].startswith("cluetool: error: "), stderr
    assert len(lines) <= 2 and all(ln.startswith("cluetool: hint: ") for ln in lines[1:]), stderr
    return lines


def _nothing_sealed(kh: KeyHome, spool: Path, out: Path, before: dict[str, str]) -> None:
    assert tree(spool) == before, "the spool changed"
    quarantine = spool.with_name(spool.name + ".quarantine")
    assert not quarantine.exists() or not any(quarantine.iterdir()), "a valid submission was quarantined"
    assert sealstate.load_state(kh.home, SOURCE).sequence == 0
    assert sealstate.load_journal(kh.home, SOURCE) is None


def test_seal_file_size_limit_aborts_batch_spool_untouched_exit_3(intake: tuple[KeyHome, Path, Path]) -> None:
    kh, spool, out = intake
    before = tree(spool)
    proc = run_fsize_limited(_seal_cmd(kh, spool, out), 64 * 1024)  # the batch is about 150 KiB
    assert proc.returncode == 3, (proc.returncode, proc.stderr)
    [error, *_] = _error_lines(proc.stderr)
    assert f'"{out}"' in error and "file too large" in error
    assert list(out.iterdir()) == []  # no partial batch left
    _nothing_sealed(kh, spool, out, before)
    # Without the limit the same run seals every submission.
    again = subprocess.run(_seal_cmd(kh, spool, out), capture_output=True, text=True, timeout=120)
    assert again.returncode == 0, again.stderr
    assert not any(spool.iterdir())


def test_seal_out_full_disk_exit_3_names_out_and_disk_full(intake: tuple[KeyHome, Path, Path], tmp_path: Path) -> None:
    kh, spool, out = intake
    before = tree(spool)
    listing = tmp_path / "listing"
    proc = in_mount_namespace(
        f"mount -t tmpfs -o size=32k tmpfs {q(out)}\n"
        f"set +e; {q(*_seal_cmd(kh, spool, out))}; rc=$?; set -e\n"
        f"ls -A {q(out)} > {q(listing)}; exit $rc")
    assert proc.returncode == 3, (proc.returncode, proc.stderr)
    [error, *_] = _error_lines(proc.stderr)
    assert f'"{out}"' in error and "disk full" in error
    assert listing.read_text() == ""
    _nothing_sealed(kh, spool, out, before)


def test_seal_home_read_only_exit_3(intake: tuple[KeyHome, Path, Path]) -> None:
    kh, spool, out = intake
    before = tree(spool)
    proc = in_mount_namespace(
        f"mount --bind {q(kh.root)} {q(kh.root)}; mount -o remount,bind,ro {q(kh.root)}\n"
        f"exec {q(*_seal_cmd(kh, spool, out))}")
    assert proc.returncode == 3, (proc.returncode, proc.stderr)
    [error, *_] = _error_lines(proc.stderr)
    assert str(kh.root) in error and "read-only file system" in error
    assert list(out.iterdir()) == []
    _nothing_sealed(kh, spool, out, before)


def _pages(root: Path) -> int:
    return sum(-(-p.stat().st_size // 4096) * 4096 for p in root.rglob("*") if p.is_file())


def test_import_full_disk_exit_3_nothing_stored(pair: Pair, tmp_path: Path) -> None:
    write_spool(pair.root / "spool", 30, seed=8165, attachments=2)
    [batch] = pair.seal(pair.root / "spool")
    home = pair.home.root
    before = table_counts(pair.home)
    mnt, after = tmp_path / "mnt", tmp_path / "after"
    mnt.mkdir()
    size_k = (_pages(home) + 96 * 1024) // 1024
    proc = in_mount_namespace(
        f"mount -t tmpfs -o size={size_k}k tmpfs {q(mnt)}; cp -a {q(home)}/. {q(mnt)}/\n"
        f"set +e; {q(*cluetool_cmd('--home', mnt, 'import', '--identity', RECEIVER_KEY, batch))}; rc=$?; set -e\n"
        f"mkdir {q(after)}; cp -a {q(mnt)}/. {q(after)}/; exit $rc")
    assert proc.returncode == 3, (proc.returncode, proc.stderr)
    [error, *_] = _error_lines(proc.stderr)
    assert "disk full" in error and str(mnt) in error
    with sqlite3.connect(after / "store.db") as conn:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")]
        counts = {t: conn.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] for t in tables}
    assert counts == before
    check = api.store_check(Home(after))
    assert check.ok, [(p.code, p.object) for p in check.problems if p.severity == "error"]


def test_seal_home_full_disk_exit_3_spool_untouched(intake: tuple[KeyHome, Path, Path], tmp_path: Path) -> None:
    kh, spool, out = intake
    before = tree(spool)
    mnt = tmp_path / "home-mnt"
    mnt.mkdir()
    cmd = cluetool_cmd("--home", mnt, "seal", spool, "--source", SOURCE, "--to", kh.recipient, "--out", out)
    proc = in_mount_namespace(
        f"mount -t tmpfs -o size=512k tmpfs {q(mnt)}; cp -a {q(kh.root)}/. {q(mnt)}/\n"
        f"dd if=/dev/zero of={q(mnt / 'filler')} bs=4k 2>/dev/null || true\n"
        f"exec {q(*cmd)}")
    assert proc.returncode == 3, (proc.returncode, proc.stderr)
    [error, *_] = _error_lines(proc.stderr)
    assert str(mnt) in error and "disk full" in error, error
    assert tree(spool) == before
    assert list(out.iterdir()) == []
