"""The README's tour runs as written (issue 21): its commands are extracted and run, in
order, in one bash in a scratch directory, with `cluetool` on PATH under a fixed clock
that moves one minute per run (tests/frozen_cluetool.py), so the result never depends on
today's date. A line whose comment says "exit N" must exit N; every other line exit 0."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CLOCK = "2026-11-03T09:00:00+08:00"  # after the tour's --at times, before its --as-of


def tour_lines(readme: str) -> list[tuple[int, str, int]]:
    """(README line number, command, expected exit) for every command of the tour's block."""
    start = readme.index("## A short tour")
    fence = readme.index("```sh\n", start) + len("```sh\n")
    block_end = readme.index("\n```\n", fence)
    first_line = readme.count("\n", 0, fence) + 1
    out = []
    for i, line in enumerate(readme[fence:block_end].splitlines()):
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        comment = text.partition(" #")[2]
        expect = re.search(r"\bexit (\d+)\b", comment)
        out.append((first_line + i, text, int(expect.group(1)) if expect else 0))
    return out


def _script(lines: list[tuple[int, str, int]]) -> str:
    body = ["set -o pipefail"]
    for number, command, expect in lines:
        body += [
            command,
            f'rc=$?; if [ "$rc" -ne {expect} ]; then '
            f'echo "README.md:{number}: exit $rc, expected {expect}: "{shlex.quote(command)} >&2; exit 99; fi',
        ]
    return "\n".join(body) + "\necho TOUR-DONE\n"


def test_readme_tour_every_command_runs_as_written(tmp_path: Path) -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    lines = tour_lines(readme)
    commands = " ".join(c for _, c, _ in lines)
    assert len(lines) >= 35
    for word in ("seal", "verify", "import", "status", "assign", "record", "deadlines", "audit verify",
                 "audit prove", "audit check-proof", "audit witness", "store backup", "store restore"):
        assert f"cluetool {word}" in commands or f"cluetool audit {word}" in commands, word
    assert [n for n, _, e in lines if e == 1], "the tour shows findings (exit 1) too"

    work = tmp_path / "repo"
    (work / "bin").mkdir(parents=True)
    (work / "samples").symlink_to(ROOT / "samples")
    wrapper = work / "bin" / "cluetool"
    wrapper.write_text(f"#!/bin/sh\nexec {shlex.quote(sys.executable)} {shlex.quote(str(ROOT / 'tests' / 'frozen_cluetool.py'))} \"$@\"\n")
    wrapper.chmod(0o755)
    script = tmp_path / "tour.sh"
    script.write_text(_script(lines), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLUETOOL")}
    env.update({
        "PATH": os.pathsep.join([str(work / "bin"), str(Path(sys.executable).parent), "/usr/bin", "/bin"]),
        "HOME": str(tmp_path / "user-home"),
        "PYTHONPATH": str(ROOT),
        "CLUETOOL_TEST_CLOCK": CLOCK,
        "CLUETOOL_TEST_CLOCK_COUNTER": str(tmp_path / "clock-runs"),
        "NO_COLOR": "1",
    })
    proc = subprocess.run(["bash", str(script)], cwd=work, env=env, capture_output=True, text=True, timeout=1200)
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert proc.stdout.rstrip().endswith("TOUR-DONE")

    tour = work / "tour"
    assert (tour / "internal.age").read_text().startswith("age1")
    assert list((tour / "outbox").glob("intake-bj-*.clue"))
    assert (tour / "auditor.vkey").read_text().strip()
    assert (tour / "restored" / "store.db").is_file()
    # The clock moved forward once per cluetool run, from the fixed start.
    assert int((tmp_path / "clock-runs").read_text()) == commands.count("cluetool ")


def test_readme_tour_parser_reads_expected_exits() -> None:
    readme = "## A short tour\n\n```sh\n# a comment\ncluetool a   # exit 1: findings\ncluetool b\n```\n"
    assert tour_lines(readme) == [(5, "cluetool a   # exit 1: findings", 1), (6, "cluetool b", 0)]
