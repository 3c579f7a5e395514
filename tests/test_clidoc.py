"""docs/cli.md and the man page docs/cluetool.1 are generated from the app by one
generator (cluetool/clidoc.py, `make docs`); a stale committed copy fails here."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from cluetool import clidoc

ROOT = Path(__file__).resolve().parents[1]


def test_clidoc_markdown_is_not_stale() -> None:
    fresh = clidoc.markdown(clidoc.walk())
    committed = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    assert committed == fresh, "docs/cli.md is stale: run `make docs` and commit the result"


def test_clidoc_man_page_is_not_stale() -> None:
    fresh = clidoc.man(clidoc.walk())
    committed = (ROOT / "docs" / "cluetool.1").read_text(encoding="utf-8")
    assert committed == fresh, "docs/cluetool.1 is stale: run `make docs` and commit the result"


def test_clidoc_both_name_every_command_and_option_from_the_same_walk() -> None:
    docs = clidoc.walk()
    md, roff = clidoc.markdown(docs), clidoc.man(docs)
    leaves = [d for d in docs[1:] if not d.is_group]
    assert {"cluetool seal", "cluetool audit prove", "cluetool keys root generate"} <= {d.path for d in leaves}
    for d in leaves:
        assert f"### {d.path}\n" in md
        assert f".SS {d.path.replace('-', chr(92) + '-')}\n" in roff
        for term, _ in d.options:
            assert f"- `{term}`:" in md, (d.path, term)
    assert roff.startswith('.\\"') and "\n.TH CLUETOOL 1 " in roff and "\n.SH ENVIRONMENT\n" in roff
    assert "Exit status: 0 nothing wrong" in md
    assert roff.isascii(), "plain groff reads ASCII only: others as \\[uXXXX]"


def test_clidoc_writes_the_files_make_docs_names(tmp_path: Path) -> None:
    subprocess.run([sys.executable, "-m", "cluetool.clidoc", "--markdown", str(tmp_path / "cli.md"),
                    "--man", str(tmp_path / "cluetool.1")], check=True, cwd=ROOT)
    assert (tmp_path / "cli.md").read_text(encoding="utf-8") == (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    assert (tmp_path / "cluetool.1").read_text(encoding="utf-8") == (ROOT / "docs" / "cluetool.1").read_text(encoding="utf-8")
    assert "docs:" in (ROOT / "Makefile").read_text(encoding="utf-8")
