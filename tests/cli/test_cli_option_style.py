"""One option style (issue 21): --home, -f/--format and -q/--quiet on every command as well
as globally, the same meaning in both places; init and keys export print records with
--format; metavars are words."""

from __future__ import annotations

import json
from pathlib import Path

from typer.main import get_command
from typer.testing import CliRunner

from cluetool.cli import app
from cluetool.commands.style import SHARED

runner = CliRunner()


def _leaves(group: object, prefix: str = "") -> list[tuple[str, object]]:
    out = []
    for name, cmd in getattr(group, "commands", {}).items():
        full = f"{prefix} {name}".strip()
        out += _leaves(cmd, full) if getattr(cmd, "commands", None) else [(full, cmd)]
    return out


def run(*args: object, home: Path | None = None) -> object:
    env = {"CLUETOOL_HOME": str(home) if home else None, "CLUETOOL_DEBUG": None}
    return runner.invoke(app, [str(a) for a in args], env=env, catch_exceptions=False)


def test_option_style_every_command_takes_home_format_and_quiet_with_short_forms() -> None:
    root = get_command(app)
    leaves = _leaves(root)
    assert len(leaves) >= 40
    for path, cmd in leaves:
        opts = {o for p in cmd.params for o in p.opts}  # type: ignore[attr-defined]
        for wanted in (*SHARED, "-f", "-q"):
            assert wanted in opts, f"cluetool {path} lacks {wanted}"
    assert {"--home", "--format", "-f", "--quiet", "-q"} <= {o for p in root.params for o in p.opts}


def test_option_style_quiet_after_the_command(tmp_path: Path) -> None:
    home = tmp_path / "h"
    init = run("init", "-q", "--home", home)
    assert init.exit_code == 0 and init.stderr == ""
    gen = run("keys", "generate", "x", "-q", home=home)
    assert gen.exit_code == 0, gen.stderr
    chk = run("audit", "checkpoint", "-q", "--key", "x", home=home)
    assert chk.exit_code == 0 and chk.stderr == "" and chk.stdout == ""
    loud = run("init", "--home", home)
    assert loud.exit_code == 0 and "home ready" in loud.stderr


def test_option_style_home_and_format_mean_the_same_before_and_after_the_command(tmp_path: Path) -> None:
    home = tmp_path / "h"
    assert run("--home", home, "-q", "init").exit_code == 0
    assert run("--home", home, "-q", "keys", "generate", "main").exit_code == 0
    before = run("--home", home, "-f", "json", "keys", "list")
    after = run("keys", "list", "--home", home, "-f", "json")
    assert before.exit_code == after.exit_code == 0 and json.loads(before.stdout) == json.loads(after.stdout)
    # a command that does not declare them itself takes them too (code new has no home)
    code = run("code", "new", "--home", home, "-f", "jsonl")
    assert code.exit_code == 0 and json.loads(code.stdout.splitlines()[0])
    # the command's own value wins over the global one
    mixed = run("--format", "table", "keys", "list", "--home", home, "--format", "json")
    assert mixed.exit_code == 0 and json.loads(mixed.stdout)


def test_option_style_init_and_keys_export_print_records_with_format(tmp_path: Path) -> None:
    home = tmp_path / "h"
    made = run("init", "--home", home, "-f", "json")
    assert made.exit_code == 0, made.stderr
    doc = json.loads(made.stdout)
    assert doc["schema"] == "cluetool.init/1" and doc["home"] == str(home) and doc["store"].endswith("store.db")
    assert run("init", "--home", home).stdout == ""  # no --format: messages only, as before
    assert run("-q", "keys", "generate", "main", home=home).exit_code == 0
    raw = run("keys", "export", "main", "--age", home=home)
    assert raw.exit_code == 0 and raw.stdout.startswith("age1")
    rec = run("keys", "export", "main", "-f", "json", home=home)
    assert rec.exit_code == 0, rec.stderr
    doc = json.loads(rec.stdout)
    assert doc["name"] == "main" and doc["age_recipient"] == raw.stdout.strip()
    assert doc["minisign_public_key"] in run("keys", "export", "main", home=home).stdout


def test_option_style_usage_line_and_help_use_words() -> None:
    result = run("seal", "--help")
    assert result.exit_code == 0
    assert "Usage: cluetool seal [OPTIONS] SPOOL" in result.stdout
    for word in ("--to RECIPIENT", "--out DIR", "--max-bytes SIZE", "--home DIR", "-f, --format FORMAT", "-q, --quiet"):
        assert word in result.stdout, word
    assert "<" not in result.stdout and "list[" not in result.stdout
    verify = run("verify", "--help").stdout
    assert "BATCHES..." in verify and "--signer FILE" in verify
