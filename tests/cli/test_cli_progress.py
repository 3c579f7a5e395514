"""Progress and colour only for a person at a terminal (issue 21): under a pseudo-terminal
seal, verify, import, store check and audit verify show a live line on stderr; in a pipe
(cron, scripts) and with --quiet nothing of it; colour only on a terminal, and never
with NO_COLOR."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
from pathlib import Path

import pytest

CLUETOOL = [sys.executable, "-m", "cluetool"]
ANSI = b"\x1b["


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "CLUETOOL_HOME", "CLUETOOL_DEBUG")}
    env.update({"TERM": "xterm", "COLUMNS": "100"}, **extra)
    return env


def on_terminal(args: list[str], **extra: str) -> tuple[int, bytes]:
    """Run with stderr on a pseudo-terminal (stdout a pipe); everything the terminal got."""
    master, slave = pty.openpty()
    proc = subprocess.Popen([*CLUETOOL, *args], stdout=subprocess.PIPE, stderr=slave, env=_env(**extra))
    os.close(slave)
    seen = b""
    while True:
        ready, _, _ = select.select([master], [], [], 0.2)
        if ready:
            try:
                data = os.read(master, 65536)
            except OSError:  # the other end closed
                break
            if not data:
                break
            seen += data
        elif proc.poll() is not None:
            break
    proc.wait(timeout=120)
    os.close(master)
    return proc.returncode, seen


def in_pipe(args: list[str], **extra: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([*CLUETOOL, *args], capture_output=True, env=_env(**extra), timeout=120)


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("progress") / "home"
    assert in_pipe(["--home", str(root), "-q", "init"]).returncode == 0
    assert in_pipe(["--home", str(root), "-q", "keys", "generate", "main"]).returncode == 0
    return root


@pytest.mark.parametrize(("args", "line"), [
    (["store", "check"], b"cluetool: checking the store"),
    (["audit", "verify"], b"cluetool: verifying the audit trail"),
    (["verify", "missing.clue"], b"cluetool: verifying 1 batch(es)"),
    (["import", "missing.clue"], b"cluetool: importing 1 batch(es)"),
    (["seal", "no-spool", "--source", "s", "--to", "x", "--out", "out"], b'cluetool: sealing "no-spool"'),
], ids=["store-check", "audit-verify", "verify", "import", "seal"])
def test_progress_shown_on_a_terminal_absent_in_a_pipe_and_with_quiet(home: Path, args: list[str], line: bytes) -> None:
    _, seen = on_terminal(["--home", str(home), *args])
    assert line in seen, seen[:400]
    piped = in_pipe(["--home", str(home), *args])
    assert line not in piped.stderr and ANSI not in piped.stderr and b"\r" not in piped.stderr, piped.stderr
    _, quiet = on_terminal(["--home", str(home), "-q", *args])
    assert line not in quiet


def test_progress_leaves_the_result_and_exit_code_alone(home: Path) -> None:
    code, seen = on_terminal(["--home", str(home), "store", "check"])
    piped = in_pipe(["--home", str(home), "store", "check"])
    assert code == piped.returncode == 0
    assert b"store check: no problems" in seen and piped.stderr == b"cluetool: store check: no problems\n"


def test_colour_only_on_a_terminal_and_never_with_no_color(tmp_path: Path) -> None:
    args = ["--home", str(tmp_path / "nowhere"), "status", "2C77-B793-V5PJ-46SP-$"]
    code, seen = on_terminal(args)
    assert code == 3 and b"\x1b[1;31merror:\x1b[0m" in seen
    code, plain = on_terminal(args, NO_COLOR="1")
    assert code == 3 and ANSI not in plain and b"cluetool: error: " in plain
    piped = in_pipe(args)
    assert piped.returncode == 3 and ANSI not in piped.stderr and piped.stderr.startswith(b"cluetool: error: ")
