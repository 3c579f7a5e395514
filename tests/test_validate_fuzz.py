"""Fuzz: untrusted report.json never makes validate raise, and the CLI exits only 0, 1 or 2."""

from __future__ import annotations

import copy
import json
import random
import tempfile
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from cluetool.cli import app
from cluetool.validate import validate_submission
from samples.make_samples import render, valid_submission

NOW = datetime(2026, 11, 24, tzinfo=timezone.utc)
BASE = [valid_submission(random.Random(i), i, attachments=0)[0] for i in range(3)]
KEYS = sorted({k for r in BASE for k in r} | {"individual", "unit", "contact", "type", "records", "status"})

json_leaf = st.one_of(st.none(), st.booleans(), st.integers(-2**70, 2**70), st.floats(allow_nan=False),
                      st.text(max_size=30), st.sampled_from(["UNK", "unknown", "yes", "T01", "110105",
                                                             "2026-01-01", "2026-01-01T00:00:00+08:00"]))
json_value = st.recursive(json_leaf, lambda inner: st.one_of(
    st.lists(inner, max_size=4),
    st.dictionaries(st.one_of(st.sampled_from(KEYS), st.text(max_size=8)), inner, max_size=5)), max_leaves=20)


def _paths(node: Any, prefix: tuple = ()) -> list[tuple]:
    out = [prefix]
    if isinstance(node, dict):
        for k, v in node.items():
            out += _paths(v, prefix + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += _paths(v, prefix + (i,))
    return out


@st.composite
def mutated_report(draw: st.DrawFn) -> bytes:
    report = copy.deepcopy(draw(st.sampled_from(BASE)))
    for _ in range(draw(st.integers(1, 4))):
        paths = [p for p in _paths(report) if p]
        path = draw(st.sampled_from(paths))
        parent: Any = report
        for key in path[:-1]:
            parent = parent[key]
        action = draw(st.sampled_from(["replace", "delete", "retype"]))
        if action == "delete" and isinstance(parent, dict):
            del parent[path[-1]]
        elif action == "retype":
            parent[path[-1]] = draw(json_leaf)
        else:
            parent[path[-1]] = draw(json_value)
        if not isinstance(report, dict):
            break
    return render(report)


raw_bytes = st.one_of(
    st.binary(max_size=200),
    json_value.map(lambda v: json.dumps(v).encode()),
    mutated_report(),
    mutated_report().map(lambda b: b[: len(b) // 2]),
    st.integers(1, 3000).map(lambda n: b'{"kind": "gang_crime", "subjects": ' + b"[{" * n + b"}]" * n + b"}"),
)

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _submission(root: Path, raw: bytes) -> Path:
    d = Path(tempfile.mkdtemp(dir=root))
    (d / "report.json").write_bytes(raw)
    return d


@FUZZ
@given(raw=raw_bytes)
def test_fuzz_validate_submission_never_raises(tmp_path_factory: Any, raw: bytes) -> None:
    d = _submission(tmp_path_factory.getbasetemp(), raw)
    result = validate_submission(d, now=NOW)
    assert result.ok == (not any(f.severity == "error" for f in result.findings))
    for f in result.findings:
        assert "\n" not in f.message and f.code


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(raw=raw_bytes, fmt=st.sampled_from(["table", "json", "jsonl"]))
def test_fuzz_cli_exit_code_in_0_1_2(tmp_path_factory: Any, raw: bytes, fmt: str) -> None:
    d = _submission(tmp_path_factory.getbasetemp(), raw)
    result = CliRunner().invoke(app, ["validate", str(d), "-f", fmt], catch_exceptions=False)
    assert result.exit_code in (0, 1, 2), result.stderr
    if fmt == "json":
        assert json.loads(result.stdout)["schema"] == "cluetool.validate/1"
        assert result.stderr == ""
