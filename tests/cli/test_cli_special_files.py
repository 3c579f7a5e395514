"""Special files given where a batch or submission belongs fail at once (exit 2 or a
finding), never hang the command."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from cluetool.formats import minisign


def _run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "CLUETOOL_HOME"}
    return subprocess.run([sys.executable, "-m", "cluetool", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=30, stdin=subprocess.DEVNULL, env=env)


@pytest.mark.parametrize("command", [["verify", "--signer", "key.pub"], ["--home", "home", "import"]])
def test_cli_batch_command_on_fifo_exits_2_without_hanging(tmp_path: Path, command: list[str]) -> None:
    os.mkfifo(tmp_path / "batch.clue")
    (tmp_path / "key.pub").write_text(minisign.SecretKey.generate().public_key.to_file_text())
    if "import" in command:
        assert _run("--home", "home", "init", cwd=tmp_path).returncode == 0
        assert _run("--home", "home", "keys", "generate", "main", cwd=tmp_path).returncode == 0
    result = _run(*command, "batch.clue", cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith('cluetool: error: cannot read batch "batch.clue": not a regular file')


def test_cli_validate_spool_with_fifos_reports_findings(tmp_path: Path) -> None:
    spool = tmp_path / "spool"
    (spool / "s1").mkdir(parents=True)
    os.mkfifo(spool / "p")
    os.mkfifo(spool / "s1" / "report.json")
    result = _run("-f", "jsonl", "validate", "spool", cwd=tmp_path)
    assert result.returncode == 1 and result.stderr == ""
    assert '"spool.stray_entry"' in result.stdout and '"report.not_regular"' in result.stdout
