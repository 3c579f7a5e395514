"""Usage errors are one `cluetool: error:` line and one `cluetool: hint:` line, exit 2 (issue 21)."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from cluetool.cli import app

runner = CliRunner()


def _usage(*args: str) -> tuple[str, str]:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 2, (result.stdout, result.stderr)
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 2, result.stderr
    assert lines[0].startswith("cluetool: error: ") and lines[1].startswith("cluetool: hint: "), lines
    assert "Usage:" not in result.stderr and "Error:" not in result.stderr and "Value error" not in result.stderr
    return lines[0].removeprefix("cluetool: error: "), lines[1].removeprefix("cluetool: hint: ")


def test_usage_global_format_yaml() -> None:
    error, hint = _usage("--format", "yaml", "audit", "log")
    assert error == "invalid value for '--format' / '-f': 'yaml' is not one of 'table', 'json', 'jsonl'"
    assert hint == "run 'cluetool --help' for its usage"


def test_usage_command_format_yaml() -> None:
    error, hint = _usage("audit", "log", "--format", "yaml")
    assert "'yaml' is not one of 'table', 'json', 'jsonl'" in error
    assert hint == "run 'cluetool audit log --help' for its usage"


def test_usage_unknown_option() -> None:
    error, hint = _usage("keys", "generate", "X", "--bogus")
    assert error == "no such option: --bogus"
    assert hint == "run 'cluetool keys generate --help' for its usage"


def test_usage_unknown_command() -> None:
    error, hint = _usage("nosuch")
    assert error == "no such command 'nosuch'"
    assert hint == "run 'cluetool --help' for its usage"


def test_usage_missing_argument_lists_choices_on_one_line() -> None:
    error, _ = _usage("completion")
    assert error == "missing argument 'SHELL'; choose from bash, zsh, fish"


@pytest.mark.parametrize("args", [["completion", "tcsh"], ["-f", "xml", "status", "X"]])
def test_usage_bad_choice(args: list[str]) -> None:
    error, _ = _usage(*args)
    assert "is not one of" in error


def test_usage_group_without_command_still_shows_its_help() -> None:
    result = runner.invoke(app, ["keys"])
    assert "Commands:" in result.stdout + result.stderr
