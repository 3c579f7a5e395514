"""``cluetool validate``: exit codes, parsed stdout, empty stderr on json runs."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cluetool.cli import app
from samples.make_samples import generate, valid_submission, write_submission

runner = CliRunner()


@pytest.fixture(scope="module")
def spools(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("cli")
    good = root / "good"
    for i in range(6):
        report, files, _ = valid_submission(random.Random(i), i)
        write_submission(good / report["submission_id"], report, files)
    mixed = root / "mixed" / "spool"
    generate(mixed)
    return good, mixed


def test_cli_validate_valid_spool_exits_0(spools: tuple[Path, Path]) -> None:
    result = runner.invoke(app, ["validate", str(spools[0])], catch_exceptions=False)
    assert result.exit_code == 0
    assert result.stdout == ""
    assert result.stderr.startswith("cluetool: 6 submission(s): 6 valid, 0 invalid")


def test_cli_validate_findings_exit_1_table_lists_them(spools: tuple[Path, Path]) -> None:
    result = runner.invoke(app, ["validate", str(spools[1])], catch_exceptions=False)
    assert result.exit_code == 1
    assert "reporter.id_checksum" in result.stdout and "invalid-reporter.id_checksum" in result.stdout
    assert len(result.stderr.splitlines()) == 1


def test_cli_validate_json_parses_with_schema_and_empty_stderr(spools: tuple[Path, Path]) -> None:
    result = runner.invoke(app, ["validate", str(spools[1]), "--format", "json"], catch_exceptions=False)
    assert result.exit_code == 1
    assert result.stderr == ""
    doc = json.loads(result.stdout)
    assert doc["schema"] == "cluetool.validate/1" and doc["ok"] is False
    assert doc["summary"]["submissions"] == len(doc["results"]) and doc["summary"]["valid"] >= 60
    assert {"submission", "path", "code", "message", "severity"} == set(doc["findings"][0])


def test_cli_validate_global_json_flag_valid_spool_ok(spools: tuple[Path, Path]) -> None:
    result = runner.invoke(app, ["-f", "json", "validate", str(spools[0])], catch_exceptions=False)
    assert result.exit_code == 0 and result.stderr == ""
    assert json.loads(result.stdout)["ok"] is True


def test_cli_validate_jsonl_lines_parse(spools: tuple[Path, Path]) -> None:
    result = runner.invoke(app, ["validate", str(spools[1]), "-f", "jsonl"], catch_exceptions=False)
    assert result.exit_code == 1 and result.stderr == ""
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert lines and all(set(line) == {"submission", "path", "code", "message", "severity"} for line in lines)


def test_cli_validate_missing_path_exits_2_one_line(tmp_path: Path) -> None:
    result = runner.invoke(app, ["validate", str(tmp_path / "nope")], catch_exceptions=False)
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert result.stderr.startswith("cluetool: error: cannot read") and "nope" in result.stderr


def test_cli_validate_missing_path_json_mode_still_exits_2(tmp_path: Path) -> None:
    result = runner.invoke(app, ["validate", str(tmp_path / "nope"), "-f", "json"], catch_exceptions=False)
    assert result.exit_code == 2 and result.stdout == ""


def test_cli_validate_home_limits_apply(tmp_path: Path) -> None:
    report, files, _ = valid_submission(random.Random(3), 0, attachments=1)
    write_submission(tmp_path / "sub", report, files)
    home = tmp_path / "home"
    home.mkdir()
    (home / "config.toml").write_text("[limits]\nmp3 = 10\njpg = 10\nmp4 = 10\n", encoding="utf-8")
    plain = runner.invoke(app, ["validate", str(tmp_path / "sub"), "-f", "json"], catch_exceptions=False)
    assert plain.exit_code == 0
    limited = runner.invoke(app, ["validate", str(tmp_path / "sub"), "--home", str(home), "-f", "json"],
                            catch_exceptions=False)
    assert limited.exit_code == 1
    assert {f["code"] for f in json.loads(limited.stdout)["findings"]} == {"attachment.too_large"}


def test_cli_validate_no_args_is_usage_error() -> None:
    result = runner.invoke(app, ["validate"], catch_exceptions=False)
    assert result.exit_code == 2
