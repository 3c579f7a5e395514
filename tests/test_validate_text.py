"""Invisible and control characters in text fields and attachment names (issue 17)."""

from __future__ import annotations

import hashlib
import json
import random
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from cluetool.cli import app
from cluetool.model.fingerprints import norm as _norm
from cluetool.model.findings import Finding
from cluetool.validate import validate_submission
from cluetool.validate.content import validate_report_bytes
from cluetool.validate.submission import MAX_FINDINGS, cap_findings
from cluetool.text import classify, escape, strip_invisible, text_problems
from samples import media
from samples.make_samples import render, valid_submission, write_submission

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=timezone.utc)

# One representative set per class; each character is tried in a text field.
CLASSES: dict[str, list[str]] = {
    "text.control": ["\x00", "\x1b", "\r", "\x7f", "\x85", "\x9b", "\u2028", "\u2029"],
    "text.bidi": ["\u202a", "\u202b", "\u202c", "\u202d", "\u202e", "\u2066", "\u2067", "\u2068", "\u2069",
                  "\u200e", "\u200f", "\u061c"],
    "text.zero_width": ["\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u00ad", "\U000e0041"],
    "text.private_use": ["\ue000", "\uf8ff", "\U000f0000", "\U0010fffd"],
    "text.unassigned": ["\u0378", "\ufdd0", "\uffff", "\U0001fffe", "\U000e0080"],
}
CASES = [(code, c) for code, chars in CLASSES.items() for c in chars]


def baseline() -> dict[str, Any]:
    report, _, _ = valid_submission(random.Random(1000), 0, attachments=0)
    report["received_at"] = "2026-06-15T10:00:00+08:00"
    report["declaration"]["at"] = "2026-06-15T09:50:00+08:00"
    return report


def run(tmp_path: Path, report: dict[str, Any], files: dict[str, bytes] | None = None):
    d = tmp_path / "sub"
    write_submission(d, report, files or {})
    return validate_submission(d, now=NOW)


def test_text_baseline_valid(tmp_path: Path) -> None:
    assert run(tmp_path, baseline()).findings == []


@pytest.mark.parametrize(("code", "char"), CASES, ids=[f"{c}-U+{ord(ch):04X}" for c, ch in CASES])
def test_text_field_character_class_finding(tmp_path: Path, code: str, char: str) -> None:
    report = baseline()
    report["facts"]["description"] = report["facts"]["description"][:10] + char + report["facts"]["description"][10:]
    result = run(tmp_path, report)
    found = [f for f in result.findings if f.path == "facts.description"]
    assert [f.code for f in found] == [code]
    assert not result.ok and found[0].severity == "error"
    assert f"U+{ord(char):04X} at character 10" in found[0].message


def test_text_tab_newline_and_ordinary_text_no_findings() -> None:
    assert list(text_problems({"a": "第一行\n\t第二行 ＡＢＣ 😀 e\u0301", "b": ["\u3000全角空格"]})) == []


def test_text_every_string_field_is_checked(tmp_path: Path) -> None:
    report = baseline()
    report["reporter"]["name" if "name" in report["reporter"] else "type"] = "张\u200b三"
    report["facts"]["description"] += "\u202e"
    report["channel"] = "web\x1b"
    result = run(tmp_path, report)
    paths = {(f.path, f.code) for f in result.findings if f.code.startswith("text.")}
    assert ("facts.description", "text.bidi") in paths
    assert ("channel", "text.control") in paths
    assert any(p.startswith("reporter.") and c == "text.zero_width" for p, c in paths)


def test_text_one_finding_per_class_with_count() -> None:
    found = list(text_problems({"x": "a\u200bb\u200bc\u202e"}))
    assert [(p, c) for p, c, _ in found] == [("x", "text.zero_width"), ("x", "text.bidi")]
    assert "(2 in all)" in found[0][2]


def test_text_report_bytes_revalidation_same_findings() -> None:
    report = baseline()
    report["facts"]["description"] += "\u2067"
    check = validate_report_bytes(render(report), now=NOW, submission="s")
    assert [f.code for f in check.findings] == ["text.bidi"] and not check.ok


def test_text_attachment_name_zero_width_refused_and_printed_escaped(tmp_path: Path) -> None:
    report = baseline()
    data = media.make_jpeg(random.Random(3))
    name = "photo\u200b.jpg"
    report["attachments"] = [{"file": name, "type": "jpg", "size": len(data),
                              "sha256": hashlib.sha256(data).hexdigest(), "note": ""}]
    result = run(tmp_path, report, {name: data})
    codes = {(f.path, f.code) for f in result.findings}
    assert ("attachments[0].file", "text.zero_width") in codes
    assert ("attachments[0].file", "attachment.name_invalid") in codes
    bad = next(f for f in result.findings if f.code == "attachment.name_invalid")
    assert "\u200b" not in bad.message and "photo\\u200b.jpg" in bad.message
    out = CliRunner().invoke(app, ["validate", str(tmp_path / "sub"), "-f", "table"], catch_exceptions=False)
    assert out.exit_code == 1
    assert "\u200b" not in out.stdout and "\\u200b" in out.stdout


@pytest.mark.parametrize("fmt", ["json", "jsonl", "table"])
def test_text_output_escapes_non_printables(tmp_path: Path, fmt: str) -> None:
    report = baseline()
    report["attachments"] = [{"file": "a\u202egpj.exe", "type": "jpg", "size": 1, "sha256": "0" * 64, "note": ""}]
    write_submission(tmp_path / "sub", report, {})
    out = CliRunner().invoke(app, ["validate", str(tmp_path / "sub"), "-f", fmt], catch_exceptions=False)
    assert out.exit_code == 1
    assert all(c.isprintable() or c == "\n" for c in out.stdout)
    if fmt != "table":
        text = json.dumps([json.loads(line) for line in out.stdout.splitlines()], ensure_ascii=False)
        assert "\u202e" not in text and "U+202E" in text


def test_text_escape_is_json_compatible() -> None:
    s = "x\u200b\U000e0041\x1by"
    assert escape(s) == "x\\u200b\\udb40\\udc41\\u001by"
    assert json.loads('"' + escape(s) + '"') == s


def test_text_fingerprints_normalise_invisible_characters_away() -> None:
    assert strip_invisible("张\u200b三\u202e") == "张三"
    assert _norm("张\u200d三") == _norm("张三") == _norm("张 三")
    assert classify(strip_invisible("a\x00\u200b\ue000b")) == {}


def test_findings_capped_at_100_then_truncated_with_total(tmp_path: Path) -> None:
    report = baseline()
    report["facts"]["description"] = report["facts"]["description"]
    report["subjects"] = report["subjects"] * 1  # keep the schema valid
    raw = render(report).decode()
    # 250 unknown fields: 250 findings.
    data = json.loads(raw)
    for i in range(250):
        data[f"x{i}"] = 1
    result = run(tmp_path, data)
    assert len(result.findings) == MAX_FINDINGS + 1
    last = result.findings[-1]
    assert last.code == "findings.truncated" and last.severity == "error"
    assert "250 findings in all" in last.message


def test_cap_findings_warning_when_only_warnings_dropped() -> None:
    f = [Finding(submission="s", path="p", code="x", message="m")] * 100
    w = [Finding(submission="s", path="p", code="w", message="m", severity="warning")] * 5
    capped = cap_findings(f + w, "s")
    assert capped[-1].severity == "warning" and len(capped) == 101
    assert cap_findings(f, "s") == f
