"""A store built from the bundled samples the way ``samples/demo.sh`` builds it (seal,
carry, import, assign, record), once per session, for the sample / stats / report tests.

Every time is explicit. The samples were received from January to October 2026 (+08:00);
what the tests count is written in the tests as known answers.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cluetool.cli import app
from samples.make_samples import generate

SEALED_AT = "2026-11-01T09:00:00+08:00"
IMPORTED_AT = "2026-11-01T14:00:00+08:00"
ASSIGNED_AT = "2026-11-01T15:00:00+08:00"

runner = CliRunner()


def cli(*args: str, ok: tuple[int, ...] = (0,)) -> str:
    """Run cluetool in-process; return stdout (the exit code must be one of ``ok``)."""
    r = runner.invoke(app, list(args), env={"CLUETOOL_HOME": None, "CLUETOOL_DEBUG": None}, catch_exceptions=False)
    assert r.exit_code in ok, (args, r.exit_code, r.stdout, r.stderr)
    return r.stdout


class Built:
    """The two homes and what the build knows about them."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.intake = root / "intake-home"
        self.internal = root / "internal-home"
        self.log_key = root / "log-key.pub"
        self.contacted: str = ""

    def copy(self, dest: Path) -> Built:
        shutil.copytree(self.root, dest / "built", symlinks=True)
        out = Built(dest / "built")
        out.contacted = self.contacted
        return out


@pytest.fixture(scope="session")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    root = tmp_path_factory.mktemp("supervision") / "demo"
    root.mkdir()
    b = Built(root)
    spool = root / "spool"
    generate(spool)
    cli("--home", str(b.internal), "init")
    cli("--home", str(b.internal), "-q", "keys", "generate", "internal")
    recipient = cli("--home", str(b.internal), "keys", "export", "internal", "--age").strip()
    cli("--home", str(b.intake), "init")
    cli("--home", str(b.intake), "-q", "keys", "generate", "main")
    (root / "intake-bj.pub").write_text(cli("--home", str(b.intake), "keys", "export", "main", "--minisign"))
    cli("--home", str(b.intake), "-q", "seal", str(spool), "--source", "intake-bj", "--to", recipient,
        "--out", str(root / "outbox"), "--max-reports", "25", "--at", SEALED_AT, ok=(0, 1))
    cli("--home", str(b.internal), "-q", "keys", "trust", "intake-bj", str(root / "intake-bj.pub"))
    batches = sorted(str(p) for p in (root / "outbox").glob("*.clue"))
    cli("--home", str(b.internal), "-q", "import", "--identity", "internal", "--at", IMPORTED_AT, *batches)
    cli("--home", str(b.internal), "-q", "assign", "--at", ASSIGNED_AT, ok=(0, 1))
    clues = json.loads(cli("--home", str(b.internal), "-f", "json", "ledger"))
    first = sorted(e["clue"] for e in clues["entries"])[0]
    b.contacted = first
    cli("--home", str(b.internal), "-q", "record", first, "contacted", "--channel", "phone",
        "--at", "2026-11-02T10:00:00+08:00")
    shutil.copy(b.internal / "keys" / "internal.pub", b.log_key)
    return b
