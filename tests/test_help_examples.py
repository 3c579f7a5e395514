"""Every example in every help text runs (issue 21).

The "Example: cluetool …" lines are read from the commands' own help (the walk that
writes docs/cli.md) and run, as written, in one bash in a scratch world built step by
step around them: an intake home at /srv/cluetool, an internal home, sample submissions,
batches, an auditor. `cluetool` on PATH runs under a fixed clock that moves one minute per
run (tests/frozen_cluetool.py), so nothing depends on today's date.

Only three things are rewritten, because they cannot exist as written on a test machine:
absolute example paths (/srv, /media, /run) live under the scratch directory, the
example key id 9F3A0C2E11D84B7A (a random key's id in real life) becomes the id of the
key the world rotated out, and the example PostgreSQL URL becomes a fresh database of the
tests' throwaway cluster (tests/pgfixture.py; where none can be started, a server that
is not there: the example must then fail with exit 3, "cannot connect"). Each example's exit status is stated below; a new command's
example must be added here (the test fails until it is).
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from cluetool import clidoc

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE_KEY_ID = "9F3A0C2E11D84B7A"
EXAMPLE_PG_URL = "postgresql://cluetool@db.internal/cluetool"

CALENDAR_2027 = """\
year = 2027
source = "TEST DATA, not the real 2027 schedule"
workdays = [2027-02-20]

[[holiday]]
name = "New Year's Day"
days = [2027-01-01]
"""

# (kind, text, expected exit): "sh" sets the world up, "ex" runs the help example of that
# command. The examples run in this order.
WORLD: list[tuple[str, str, int]] = [
    ("sh", "mkdir -p srv media/usb media/backup run/secrets seen inbox \"$HOME/.local/share/bash-completion/completions\"", 0),
    ("sh", "printf 'root passphrase for the test\\n' > run/root-pass && chmod 600 run/root-pass", 0),
    ("sh", "printf 'audit passphrase for the test\\n' > run/secrets/audit-pass && chmod 600 run/secrets/audit-pass", 0),
    ("ex", "completion", 0),
    ("ex", "code new", 0),
    # intake side: /srv/cluetool
    ("ex", "init", 0),
    ("sh", "export CLUETOOL_HOME=$W/srv/cluetool", 0),
    ("ex", "keys generate", 0),
    ("ex", "keys show", 0),
    ("ex", "keys export", 0),
    ("ex", "keys root generate", 0),
    ("sh", "python samples/make_samples.py --out samples-out > /dev/null", 0),
    ("sh", "mkdir spool && cp -r samples-out/0025e529-7f1d-4f0b-bb37-1454e8f6d06b spool/ "
           "&& cp -r samples-out/0204a6fa-cb79-4ac9-8d84-414b3e95932a spool/sub-0001", 0),
    ("ex", "validate", 0),
    ("ex", "inspect", 0),
    # internal side: a home whose age recipient the intake seals to
    ("sh", "cluetool --home internal -q init && cluetool --home internal -q keys generate main > /dev/null", 0),
    ("sh", "cluetool --home internal keys export main --age > recipients.txt", 0),
    ("ex", "seal", 0),
    ("sh", "cp outbox/intake-bj-00000001.clue inbox/", 0),
    ("sh", "export CLUETOOL_HOME=$W/internal && cluetool -q keys trust intake-bj intake-bj.pub > /dev/null", 0),
    ("ex", "verify", 0),
    ("ex", "import", 0),
    ("ex", "status", 0),
    ("ex", "duplicates", 0),
    # another intake's report reusing a query code already stored: held at import for a person
    ("sh", "mkdir spool2 && cp -r samples-out/050d95b9-9371-491d-b6e5-b2535ab2bde3 spool2/ && python -c '"
           "import json,sys; a,b=(json.load(open(p)) for p in sys.argv[1:]); b[\"query_code_sha256\"]=a[\"query_code_sha256\"]; "
           "json.dump(b,open(sys.argv[2],\"w\"),ensure_ascii=False)' samples-out/0025e529-7f1d-4f0b-bb37-1454e8f6d06b/report.json "
           "spool2/050d95b9-9371-491d-b6e5-b2535ab2bde3/report.json && "
           "cluetool --home intake-sh -q init && cluetool --home intake-sh -q keys generate main > /dev/null && "
           "cluetool --home intake-sh keys export main --minisign > intake-sh.pub && "
           "cluetool -q keys trust intake-sh intake-sh.pub > /dev/null && "
           "cluetool --home intake-sh -q seal spool2 --source intake-sh --to recipients.txt --out outbox-sh/ > /dev/null && "
           "cluetool -q import outbox-sh/intake-sh-00000001.clue > /dev/null", 0),
    ("ex", "held list", 0),
    ("ex", "held resolve", 0),
    # the status feed back to the intake (docs/feed.md)
    ("ex", "feed export", 0),
    ("sh", "cp outbox/internal-00000001.status inbox/ && "
           "cluetool --home srv/cluetool -q keys trust internal internal/keys/main.pub > /dev/null && "
           "export CLUETOOL_HOME=$W/srv/cluetool", 0),
    ("ex", "feed import", 0),
    ("sh", "export CLUETOOL_HOME=$W/internal", 0),
    ("ex", "assign", 0),
    ("sh", "export CLUETOOL_TEST_CLOCK=2026-11-03T09:00:00+08:00 && echo 0 > \"$CLUETOOL_TEST_CLOCK_COUNTER\"  # the next day", 0),
    ("ex", "record", 0),
    ("ex", "deadlines", 1),  # exit 1: some duties are overdue by 2026-11-24
    ("ex", "ledger", 0),
    ("ex", "calendar show", 0),
    ("ex", "calendar check", 1),  # exit 1: November, and the 2027 schedule is unknown
    ("sh", f"cat > calendar-2027.toml <<'EOF'\n{CALENDAR_2027}EOF", 0),
    ("ex", "calendar add", 0),
    ("ex", "store check", 0),
    # audit trail
    ("ex", "audit checkpoint", 0),
    # supervision: the callback sample (seeded from the checkpoint), statistics, the report
    ("ex", "sample", 0),
    ("ex", "stats", 0),
    ("ex", "report", 0),
    ("ex", "audit log", 0),
    ("ex", "audit prove", 0),
    ("sh", "cp internal/keys/main.pub home.pub && cp internal/keys/main.pub log.pub", 0),
    ("ex", "audit check-proof", 0),
    ("ex", "audit export", 0),
    ("sh", "cp audit-2026-11/checkpoint.txt seen/checkpoint.txt", 0),
    ("ex", "audit verify", 0),
    # entry 17 of this world is the held report's discard; its reason is the held resolve example's
    ("sh", "printf 'intake re-sent a corrected copy' > reason.txt", 0),
    ("ex", "audit confirm-text", 0),
    ("sh", "cluetool --home auditor -q init && cluetool --home auditor -q keys generate auditor > /dev/null && "
           "cp auditor/keys/auditor.key auditor.key", 0),
    ("ex", "audit witness", 0),
    ("sh", "cluetool -f json audit witness --export audit-2026-11 --key auditor.key --state again.state "
           "--log-key log.pub --out again.txt | python -c 'import json,sys; print(json.load(sys.stdin)[\"witness_key\"])' "
           "> auditor.vkey", 0),
    ("ex", "audit cosignatures import", 0),
    ("ex", "store backup", 0),
    ("ex", "store restore", 0),
    ("ex", "store migrate-to", 0),  # exit 3 where no PostgreSQL can be started (see above)
    ("ex", "audit key generate", 0),
    # a key rotation, then the old key is revoked on the receiver and destroyed at the sender
    ("sh", "export CLUETOOL_HOME=$W/srv/cluetool && "
           "OLD_KEY_ID=$(cluetool keys show intake-bj -f json | python -c 'import json,sys; print(json.load(sys.stdin)[\"key_id\"])')", 0),
    ("ex", "keys rotate", 0),
    ("sh", "cp srv/cluetool/keys/intake-bj.rotation.minisig . && cluetool keys export intake-bj --minisign > intake-bj.pub", 0),
    ("ex", "keys list", 0),
    ("sh", "export CLUETOOL_HOME=$W/internal", 0),
    ("ex", "keys trust", 0),
    ("ex", "keys trusted", 0),
    ("ex", "keys untrust", 0),
    ("sh", "export CLUETOOL_HOME=$W/srv/cluetool", 0),
    ("ex", "keys destroy", 0),
]


def help_examples() -> dict[str, list[str]]:
    """Command (without the leading "cluetool ") -> its help's example command lines."""
    out: dict[str, list[str]] = {}
    for doc in clidoc.walk()[1:]:
        lines = [p.removeprefix("Example: ") for p in doc.paragraphs if p.startswith("Example: ")]
        if lines:
            out[doc.path.removeprefix("cluetool ")] = lines
    return out


def as_run(example: str, pg_url: str = EXAMPLE_PG_URL) -> str:
    text = re.sub(r"(?<![\w./~$])/(srv|media|run)/", r"$W/\1/", example)
    return text.replace(EXAMPLE_KEY_ID, "$OLD_KEY_ID").replace(EXAMPLE_PG_URL, pg_url)


def _pg_database(request: pytest.FixtureRequest) -> str | None:
    """A fresh database of the tests' cluster for the migrate-to example; ``None`` where
    no PostgreSQL can be started (and none is required: then this fails, not skips)."""
    try:
        return str(request.getfixturevalue("pg_databases")())
    except pytest.skip.Exception:
        return None


def test_help_examples_every_command_has_one_in_the_world() -> None:
    examples = help_examples()
    named = [text for kind, text, _ in WORLD if kind == "ex"]
    assert sorted(named) == sorted(examples), "add the new command's example to WORLD (or remove a stale one)"
    for command, lines in examples.items():
        for line in lines:
            assert line.startswith(f"cluetool {command}"), (command, line)


def test_help_examples_every_example_runs_as_written(tmp_path: Path, request: pytest.FixtureRequest) -> None:
    examples = help_examples()
    work = tmp_path / "w"
    pg_url = _pg_database(request)
    (work / "bin").mkdir(parents=True)
    (work / "samples").symlink_to(ROOT / "samples")
    wrapper = work / "bin" / "cluetool"
    wrapper.write_text(f"#!/bin/sh\nexec {shlex.quote(sys.executable)} "
                       f"{shlex.quote(str(ROOT / 'tests' / 'frozen_cluetool.py'))} \"$@\"\n")
    wrapper.chmod(0o755)
    body = ["set -o pipefail", f"W={shlex.quote(str(work))}"]
    for kind, text, expect in WORLD:
        commands = ([as_run(line, pg_url or f"postgresql://cluetool@/cluetool?host={work}/no-server")
                     for line in examples[text]] if kind == "ex" else [text])
        if text == "store migrate-to" and pg_url is None:
            expect = 3
        for command in commands:
            label = f"example of {text}" if kind == "ex" else "world step"
            body += [
                command,
                f'rc=$?; if [ "$rc" -ne {expect} ]; then echo {shlex.quote(label)}": exit $rc, expected {expect}: "'
                f'{shlex.quote(command)} >&2; exit 99; fi',
            ]
    script = tmp_path / "examples.sh"
    script.write_text("\n".join(body) + "\necho EXAMPLES-DONE\n", encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLUETOOL")}
    env.update({
        "PATH": os.pathsep.join([str(work / "bin"), str(Path(sys.executable).parent), "/usr/bin", "/bin"]),
        "HOME": str(tmp_path / "user-home"),
        "PYTHONPATH": str(ROOT),
        "CLUETOOL_TEST_CLOCK": "2026-11-02T09:00:00+08:00",
        "CLUETOOL_TEST_CLOCK_COUNTER": str(tmp_path / "clock-runs"),
        "NO_COLOR": "1",
    })
    proc = subprocess.run(["bash", str(script)], cwd=work, env=env, capture_output=True, text=True, timeout=1200)
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert proc.stdout.rstrip().endswith("EXAMPLES-DONE")
    # What the examples were meant to leave behind.
    assert (tmp_path / "user-home" / ".local/share/bash-completion/completions/cluetool").read_text().strip()
    assert (work / "intake-bj.pub").read_text().startswith("untrusted comment:")
    assert (work / "entry-7.proof.json").is_file() and (work / "cosigned.txt").is_file()
    assert (work / "media" / "usb" / "intake-bj.root.pub").is_file()
    assert (work / "srv" / "cluetool-restored" / "store.db").is_file()
    if pg_url is not None:  # the internal home's store, copied into PostgreSQL
        import psycopg

        with psycopg.connect(pg_url) as pg:
            assert pg.execute("SELECT count(*) FROM reports").fetchone()[0] >= 2


def test_help_examples_query_codes_are_quoted_and_valid() -> None:
    from cluetool.model import querycode

    shown = 0
    for lines in help_examples().values():
        for line in lines:
            for code in re.findall(r"[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}-\S", line):
                shown += 1
                assert f"'{code.rstrip(chr(39))}'" in line, f"unquoted query code in: {line}"
                querycode.check(code.rstrip("'"))  # raises on a wrong check symbol
    assert shown >= 1


def test_help_metavars_are_words_not_python_types() -> None:
    for doc in clidoc.walk():
        for term, _ in doc.arguments + doc.options:
            assert not re.search(r"[<>{}]|\blist\[|\bstr\b|\bint\b|\bfloat\b|\bPath\b", term), (doc.path, term)
        assert "{" not in doc.usage, doc.usage
