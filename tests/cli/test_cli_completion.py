"""`cluetool completion bash|zsh|fish` (issue 21): the script, and the completion it drives."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cluetool.cli import app

runner = CliRunner()
BIN = Path(sys.executable).parent


def _script(shell: str) -> str:
    result = runner.invoke(app, ["completion", shell])
    assert result.exit_code == 0, result.output
    return result.stdout


def _complete(shell: str, **env: str) -> str:
    """Ask the program itself for completions, as the installed script does."""
    full = {**os.environ, "_CLUETOOL_COMPLETE": f"complete_{shell}", **env}
    done = subprocess.run([sys.executable, "-m", "cluetool"], env=full, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_completion_script_for_each_shell(shell: str) -> None:
    script = _script(shell)
    assert f"_CLUETOOL_COMPLETE=complete_{shell}" in script
    assert "cluetool" in script
    assert "_CLUETOOL_COMPLETE" not in os.environ  # the in-process request leaves no trace


def test_completion_bash_script_completes_commands_in_bash() -> None:
    script = _script("bash")
    bash = shutil.which("bash")
    assert bash is not None
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}", "SCRIPT": script}
    code = ('eval "$SCRIPT"; COMP_WORDS=(cluetool aud); COMP_CWORD=1; _cluetool_completion cluetool; '
            'echo "${COMPREPLY[@]}"; COMP_WORDS=(cluetool audit ver); COMP_CWORD=2; '
            '_cluetool_completion cluetool; echo "${COMPREPLY[@]}"')
    done = subprocess.run([bash, "--norc", "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split("\n")[:2] == ["audit", "verify"]


def test_completion_zsh_answers() -> None:
    out = _complete("zsh", _TYPER_COMPLETE_ARGS="cluetool calendar a")
    assert "add" in out and "check" not in out


def test_completion_fish_answers() -> None:
    out = _complete("fish", _TYPER_COMPLETE_ARGS="cluetool sto", _TYPER_COMPLETE_FISH_ACTION="get-args")
    assert out.split("\t")[0].strip() == "store"


def test_completion_unknown_shell_is_a_usage_error() -> None:
    result = runner.invoke(app, ["completion", "tcsh"])
    assert result.exit_code == 2
