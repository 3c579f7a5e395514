"""`audit prove` writes the proof file into a pipe or with --out; the README's proof recipe
runs as written (issue 21)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path


from cluetool.cli import app
from tests.cli.test_cli_audit import home, invoke  # noqa: F401 - the fixture
from tests.test_audit import MIGRATED

ROOT = Path(__file__).resolve().parents[2]


def test_prove_writes_the_proof_file_into_a_pipe(home: Path) -> None:  # noqa: F811
    assert invoke(["audit", "checkpoint", "-q"], home).exit_code == 0
    result = invoke(["audit", "prove", "42"], home)  # CliRunner's stdout is not a terminal
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["type"] == "inclusion" and doc["leaf_index"] == 42 and doc["tree_size"] == MIGRATED + 120
    table = invoke(["--format", "table", "audit", "prove", "42"], home)
    assert table.exit_code == 0 and not table.stdout.lstrip().startswith("{")


def test_prove_out_file_then_check_proof(home: Path, tmp_path: Path) -> None:  # noqa: F811
    assert invoke(["audit", "checkpoint", "-q"], home).exit_code == 0
    out = tmp_path / "p.json"
    result = invoke(["--format", "table", "audit", "prove", "7", "--out", str(out)], home)
    assert result.exit_code == 0 and result.stdout == "" and str(out) in result.stderr
    assert json.loads(out.read_text())["leaf_index"] == 7
    check = invoke(["-f", "json", "audit", "check-proof", str(out), "--key", str(home / "keys" / "main.pub")], None)
    assert check.exit_code == 0 and json.loads(check.stdout)["signature_checked"] is True


def test_readme_proof_recipe_runs_as_written(home: Path, tmp_path: Path) -> None:  # noqa: F811
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    recipe = re.search(r"^(cluetool audit prove .*check-proof.*?)\s*(#.*)?$", readme, re.M)
    assert recipe is not None
    assert invoke(["audit", "checkpoint", "-q"], home).exit_code == 0
    bindir = Path(sys.executable).parent
    assert (bindir / "cluetool").exists()
    env = {**os.environ, "CLUETOOL_HOME": str(home), "PATH": f"{bindir}{os.pathsep}{os.environ['PATH']}"}
    env.pop("CLUETOOL_DEBUG", None)
    scratch = tmp_path / "auditor"  # an auditor's directory holding the log's public key
    scratch.mkdir()
    key_path = scratch / re.search(r"--key (\S+)", recipe.group(1)).group(1)  # where the README keeps it
    key_path.parent.mkdir(parents=True, exist_ok=True)
    key_path.write_bytes((home / "keys" / "main.pub").read_bytes())
    done = subprocess.run(["bash", "-e", "-c", recipe.group(1)], cwd=scratch, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert json.loads((scratch / "proof.json").read_text())["type"] == "inclusion"
    assert "inclusion proof verified" in done.stderr
