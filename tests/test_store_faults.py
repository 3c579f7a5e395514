"""The store on a read-only mount, a full disk, a damaged page, another user's home
(issue 16, failure 8): read-only commands work on a read-only mount; every store error
is exit 3 with "read-only file system", "disk full", "permission denied on PATH" or
"store damaged: run `cluetool store check`", never exit 70 or a usage error."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cluetool.cli import app
from tests.batch_helpers import write_spool
from tests.fault_helpers import ROOT, cluetool_cmd, in_mount_namespace, q
from tests.test_import import RECEIVER_KEY, Pair, make_pair



@pytest.fixture
def pair(tmp_path: Path) -> Pair:
    """SQLite only here: damaged pages, read-only mounts and full disks of the store file."""
    return make_pair(tmp_path)

READ_COMMANDS = [
    ["store", "check"],
    ["deadlines", "--as-of", "2026-11-30"],
    ["audit", "verify", "--key", RECEIVER_KEY],
    ["duplicates"],
    ["ledger"],
]


def _closed_cleanly(home: Path) -> None:
    """As after the last connection closed: everything in store.db, no -wal, no -shm."""
    with sqlite3.connect(home / "store.db") as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    for suffix in ("-wal", "-shm"):
        Path(f"{home / 'store.db'}{suffix}").unlink(missing_ok=True)


@pytest.fixture
def imported(pair: Pair) -> tuple[Pair, Path]:
    """One batch imported, a second one sealed and not yet imported."""
    write_spool(pair.root / "spool", 4, seed=8169, attachments=0)
    first, second = pair.seal(pair.root / "spool", max_reports=2)
    assert pair.import_([first]).ok
    _closed_cleanly(pair.home.root)
    return pair, second


def test_read_only_mount_read_commands_work_writes_say_read_only(imported: tuple[Pair, Path], tmp_path: Path) -> None:
    pair, second = imported
    home = pair.home.root
    writable = []
    for args in READ_COMMANDS:
        r = subprocess.run(cluetool_cmd("--home", home, "-f", "json", *args), capture_output=True, text=True, cwd=ROOT, timeout=120)
        writable.append((r.returncode, r.stdout))
    _closed_cleanly(home)
    lines = [f"mount --bind {q(home)} {q(home)}; mount -o remount,bind,ro {q(home)}", "set +e"]
    for i, args in enumerate(READ_COMMANDS):
        lines.append(f"{q(*cluetool_cmd('--home', home, '-f', 'json', *args))} > {q(tmp_path / f'out{i}')} 2> {q(tmp_path / f'err{i}')}; "
                     f"echo $? > {q(tmp_path / f'rc{i}')}")
    lines.append(f"{q(*cluetool_cmd('--home', home, 'import', '--identity', RECEIVER_KEY, second))} 2> {q(tmp_path / 'import.err')}; "
                 f"echo $? > {q(tmp_path / 'import.rc')}")
    proc = in_mount_namespace("\n".join(lines))
    assert proc.returncode == 0, proc.stderr
    for i, args in enumerate(READ_COMMANDS):
        rc = int((tmp_path / f"rc{i}").read_text())
        assert (rc, (tmp_path / f"out{i}").read_text()) == writable[i], (args, (tmp_path / f"err{i}").read_text())
        assert rc == 0, args
    assert int((tmp_path / "import.rc").read_text()) == 3
    err = (tmp_path / "import.err").read_text()
    assert err.startswith("cluetool: error: ") and "read-only file system" in err, err


def test_store_full_disk_exit_3_disk_full(imported: tuple[Pair, Path], tmp_path: Path) -> None:
    pair, second = imported
    home = pair.home.root
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    size_k = sum(-(-p.stat().st_size // 4096) * 4 for p in home.rglob("*") if p.is_file()) + 256
    proc = in_mount_namespace(
        f"mount -t tmpfs -o size={size_k}k tmpfs {q(mnt)}; cp -a {q(home)}/. {q(mnt)}/\n"
        f"dd if=/dev/zero of={q(mnt / 'filler')} bs=4k 2>/dev/null || true\n"
        f"exec {q(*cluetool_cmd('--home', mnt, 'import', '--identity', RECEIVER_KEY, second))}")
    assert proc.returncode == 3, (proc.returncode, proc.stderr)
    assert proc.stderr.startswith("cluetool: error: ") and "disk full" in proc.stderr, proc.stderr
    assert "internal error" not in proc.stderr and "restore" not in proc.stderr.split("\n")[0]


def _damage_text(store_file: Path, text: bytes) -> int:
    data = bytearray(store_file.read_bytes())
    n, i = 0, data.find(text)
    while i != -1:
        data[i] = 0xFF  # no longer UTF-8
        n += 1
        i = data.find(text, i + 1)
    store_file.write_bytes(bytes(data))
    return n


def test_damaged_text_page_exit_3_store_damaged_and_store_check_names_it(imported: tuple[Pair, Path]) -> None:
    pair, _ = imported
    assert _damage_text(pair.home.store_file, b"assign_imported") > 0
    runner = CliRunner()
    r = runner.invoke(app, ["--home", str(pair.home.root), "deadlines", "--as-of", "2026-11-30"], catch_exceptions=False)
    assert r.exit_code == 3, r.output
    assert r.stderr.splitlines()[0] == "cluetool: error: store damaged: run `cluetool store check`"
    r = runner.invoke(app, ["--home", str(pair.home.root), "-f", "json", "store", "check"], catch_exceptions=False)
    assert r.exit_code == 1
    assert "store.text_damaged" in {p["code"] for p in json.loads(r.stdout)["problems"]}


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("setpriv") is None, reason="needs root and setpriv to act as another user")
def test_other_users_home_exit_3_permission_denied(imported: tuple[Pair, Path]) -> None:
    pair, _ = imported
    home = pair.home.root
    assert home.stat().st_mode & 0o777 == 0o700
    for args in (["store", "check"], ["duplicates"]):
        r = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                            *cluetool_cmd("--home", home, *args)], capture_output=True, text=True, cwd="/", timeout=120)
        assert r.returncode == 3, (args, r.returncode, r.stderr)
        assert r.stderr.startswith(f'cluetool: error: permission denied on "{home}"'), r.stderr
        assert "Usage" not in r.stderr
