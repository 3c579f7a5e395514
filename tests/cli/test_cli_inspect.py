"""``cluetool inspect``: identifying metadata per attachment, in table, json and jsonl."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cluetool.cli import app
from tests.corpus import hostile


@pytest.fixture
def files(tmp_path: Path) -> Path:
    d = tmp_path / "att"
    d.mkdir()
    (d / "a.jpg").write_bytes(hostile.jpeg_with_exif())
    (d / "b.mp3").write_bytes(hostile.mp3_with_personal_frames())
    (d / "c.mp4").write_bytes(hostile.mp4_with_location())
    (d / "notes.txt").write_bytes(b"plain text")
    return d


def invoke(*args: str):
    return CliRunner().invoke(app, ["inspect", *args], catch_exceptions=False)


def test_cli_inspect_json_lists_metadata_per_file(files: Path) -> None:
    before = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in files.iterdir()}
    r = invoke(str(files), "-f", "json")
    assert r.exit_code == 0 and r.stderr == ""
    doc = json.loads(r.stdout)
    assert doc["schema"] == "cluetool.inspect/1"
    by_name = {Path(f["path"]).name: f for f in doc["files"]}
    assert sorted(by_name) == ["a.jpg", "b.mp3", "c.mp4", "notes.txt"]
    assert {m["code"] for m in by_name["a.jpg"]["metadata"]} == {"metadata.gps", "metadata.device",
                                                                  "metadata.serial", "metadata.owner"}
    assert {m["field"] for m in by_name["b.mp3"]["metadata"]} == {"ID3 TXXX", "ID3 COMM", "ID3 PRIV"}
    assert {m["code"] for m in by_name["c.mp4"]["metadata"]} == {"metadata.location", "metadata.device"}
    assert by_name["notes.txt"]["type"] is None and by_name["notes.txt"]["problems"][0].startswith("inspect.unknown_type")
    assert by_name["a.jpg"]["sha256"] == before["a.jpg"]
    assert {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in files.iterdir()} == before  # nothing changed


def test_cli_inspect_jsonl_one_row_per_field(files: Path) -> None:
    r = invoke(str(files / "a.jpg"), str(files / "c.mp4"), "-f", "jsonl")
    assert r.exit_code == 0 and r.stderr == ""
    rows = [json.loads(line) for line in r.stdout.splitlines()]
    assert len(rows) == 9
    assert all(set(row) == {"path", "type", "code", "field", "value"} for row in rows)
    gps = next(row for row in rows if row["code"] == "metadata.gps")
    assert gps["value"] == "39.904167N, 116.391667E" and gps["type"] == "jpg"


def test_cli_inspect_table_has_columns_and_values(files: Path) -> None:
    r = invoke(str(files / "b.mp3"), "-f", "table")
    assert r.exit_code == 0
    header = r.stdout.splitlines()[0].split()
    assert header == ["path", "type", "code", "field", "value"]
    assert "13800138000" in r.stdout and "owner@example.invalid" in r.stdout
    assert "1 file(s), 3 identifying metadata field(s)" in r.stderr


def test_cli_inspect_missing_path_exits_2(tmp_path: Path) -> None:
    r = invoke(str(tmp_path / "nope.jpg"))
    assert r.exit_code == 2
    assert r.stderr.startswith("cluetool: error: cannot read")
