"""Help is the documentation: every command has a help paragraph and an example, and
the README leads with the two commands."""

from __future__ import annotations

from pathlib import Path

from typer.main import get_command

from cluetool.cli import app

ROOT = Path(__file__).resolve().parents[1]


def _commands(group: object, prefix: str = "") -> list[tuple[str, object]]:
    out = []
    for name, cmd in getattr(group, "commands", {}).items():
        full = f"{prefix} {name}".strip()
        if getattr(cmd, "commands", None):
            out += _commands(cmd, full)
        else:
            out.append((full, cmd))
    return out


COMMANDS = _commands(get_command(app))


def test_docs_every_command_has_help_and_an_example() -> None:
    assert len(COMMANDS) >= 10
    for name, cmd in COMMANDS:
        text = getattr(cmd, "help", "") or ""
        assert len(text.strip()) > 20, f"{name} has no help"
        assert "Example: cluetool " in text, f"{name} has no Example line"


def test_docs_every_option_has_help() -> None:
    for name, cmd in COMMANDS:
        for param in getattr(cmd, "params", []):
            if param.param_type_name == "option":
                assert getattr(param, "help", None), f"{name} {param.opts} has no help"


def test_docs_readme_leads_with_the_two_commands() -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    head = text[: text.index("## ")]
    assert "make run" in head and "make test" in head


def test_docs_keys_readme_exists() -> None:
    text = (ROOT / "keys" / "README.md").read_text(encoding="utf-8")
    for word in ("Generate", "Back up", "Trust", "Rotate", "Destroy", "minisign -V", "age -d"):
        assert word in text




def test_docs_readme_puts_cluetool_on_path_after_the_two_commands() -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    tour = text.index("## ")
    for line in (". .venv/bin/activate", "pipx install .", "pip install ."):
        where = text.find(line)
        assert 0 <= text.index("make test") < where < tour, line
