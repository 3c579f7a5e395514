"""A store built from the bundled samples the way ``samples/demo.sh`` builds it (seal,
carry, import, assign, record), once per session, for the sample / stats / report tests.

Every time is explicit. The samples were received from January to October 2026 (+08:00);
what the tests count is written in the tests as known answers.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cluetool.cli import app
from samples.make_samples import generate
from tests.pgfixture import create_database, drop_database, url_of

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
    """The two homes and what the build knows about them. ``pg``: for a store in
    PostgreSQL, the cluster's connection string and the store's database."""

    def __init__(self, root: Path, pg: tuple[str, str] | None = None) -> None:
        self.root = root
        self.intake = root / "intake-home"
        self.internal = root / "internal-home"
        self.log_key = root / "log-key.pub"
        self.contacted: str = ""
        self.pg = pg
        self._clones: list[str] = []

    def copy(self, dest: Path) -> Built:
        """A copy of both homes (and of the store's database, a database of its own)."""
        shutil.copytree(self.root, dest / "built", symlinks=True)
        pg = None
        if self.pg is not None:
            cluster, name = self.pg
            clone = create_database(cluster, template=name)
            self._clones.append(clone)
            config = dest / "built" / "internal-home" / "config.toml"
            config.write_text(config.read_text().replace(url_of(cluster, name), url_of(cluster, clone)))
            pg = (cluster, clone)
        out = Built(dest / "built", pg)
        out.contacted = self.contacted
        return out


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def built(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Iterator[Built]:
    """The build, its store in SQLite and in PostgreSQL (issue 22)."""
    root = tmp_path_factory.mktemp("supervision") / "demo"
    root.mkdir()
    store: list[str] = []
    if request.param == "postgresql":
        cluster = str(request.getfixturevalue("pg_cluster"))
        name = create_database(cluster)
        store = ["--store", url_of(cluster, name)]
        b = Built(root, (cluster, name))
    else:
        b = Built(root)
    try:
        _build(b, store)
        yield b
    finally:
        if b.pg is not None:
            for name in [*b._clones, b.pg[1]]:
                drop_database(b.pg[0], name)


def _build(b: Built, store: list[str]) -> None:
    root = b.root
    spool = root / "spool"
    generate(spool)
    cli("--home", str(b.internal), "init", *store)
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
