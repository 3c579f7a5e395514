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


# Files a user of the package or the repository reads; none may send them to a
# document outside the repository (issue 18).
# (The outside folder's name is built, not written: this test names it and never reads it.)
_SHARED = "sha" + "red"
_OUTSIDE = ("DESIGN §", "DESIGN.md", "STYLE \"", f"/work/{_SHARED}", f"../{_SHARED}", f"{_SHARED}/reference")


def _texts() -> list[Path]:
    files = [ROOT / "README.md", ROOT / "CHANGELOG.md", ROOT / "keys" / "README.md"]
    files += sorted((ROOT / "docs").glob("*.md"))
    files += sorted((ROOT / "schemas").glob("*.json"))
    files += sorted(p for p in (ROOT / "cluetool").rglob("*") if p.suffix in (".py", ".toml"))
    return files


def test_docs_point_only_to_files_in_the_repository() -> None:
    for path in _texts():
        text = path.read_text(encoding="utf-8")
        for needle in _OUTSIDE:
            assert needle not in text, f"{path.relative_to(ROOT)} refers to {needle!r} outside the repository"


def test_docs_help_texts_point_only_to_files_in_the_repository() -> None:
    for name, cmd in [("", get_command(app)), *COMMANDS]:
        texts = [getattr(cmd, "help", "") or ""] + [getattr(p, "help", "") or "" for p in getattr(cmd, "params", [])]
        for sub in getattr(cmd, "commands", {}).values():
            texts.append(getattr(sub, "help", "") or "")
        for text in texts:
            assert "DESIGN" not in text and "shared/" not in text, f"cluetool {name} --help: {text[:80]!r}"


def test_docs_paths_named_in_the_docs_exist() -> None:
    # `docs/x.md`, `keys/README.md`, `cluetool/...`, `tests/...`, `schemas/...` named in the
    # README and the docs are files (or folders) of the repository.
    import re

    # (``keys/`` is also a home's folder: only its README is checked.)
    pattern = re.compile(r"(?<![\w/.-])((?:docs|schemas|tests|benchmarks|samples|cluetool)/[\w./-]*[\w/]|keys/README\.md)")
    missing = []
    for path in _texts():
        if path.suffix != ".md" or path.name in ("decisions.md", "CHANGELOG.md"):
            continue  # history: may name files that were removed since
        for found in pattern.findall(path.read_text(encoding="utf-8")):
            target = found.rstrip("/.")
            if not (ROOT / target).exists():
                missing.append(f"{path.relative_to(ROOT)} names {found}")
    assert not missing, "; ".join(missing)
