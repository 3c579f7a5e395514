"""One test per finding code: a valid baseline report with one thing changed.

Also the sample spool: every valid sample validates clean, every invalid sample yields
the finding code it is named after, and the generator is byte-for-byte deterministic.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
from collections.abc import Callable
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from cluetool.config import Limits
from cluetool.errors import FindingsError, InputError
from cluetool.validate import REPORT_MAX_BYTES, validate_paths, validate_submission
from cluetool.validate import ids
from samples import media
from samples.make_samples import generate, render, valid_submission, write_submission

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=timezone.utc)
POLICE, GANG, INDUSTRY, UNIT_REAL, ANON_CONTACT = 0, 1, 2, 3, 6

Report = dict[str, Any]


def baseline(index: int) -> Report:
    report, _, _ = valid_submission(random.Random(1000 + index), index, attachments=0)
    report["received_at"] = "2026-06-15T10:00:00+08:00"
    report["declaration"]["at"] = "2026-06-15T09:50:00+08:00"
    report["facts"].update({"start_date": "2025-01-10", "ongoing": "unknown"})
    report["facts"].pop("end_date", None)
    report["umbrella"] = {"status": "unknown", "records": []}
    report["prior_reports"] = {"status": "no", "records": []}
    return report


def run(tmp_path: Path, report: Report | bytes, files: dict[str, bytes] | None = None, name: str = "sub"):
    d = tmp_path / name
    write_submission(d, report, files or {})
    return validate_submission(d, now=NOW)


def codes_of(result) -> dict[str, str]:
    return {f.code: f.severity for f in result.findings}


@pytest.mark.parametrize("index", [POLICE, GANG, INDUSTRY, UNIT_REAL, ANON_CONTACT, 9, 12, 15])
def test_fields_baseline_is_valid(tmp_path: Path, index: int) -> None:
    result = run(tmp_path, baseline(index))
    assert result.findings == [] and result.ok
    assert result.kind == baseline(index)["kind"]
    assert result.report_sha256 == hashlib.sha256((tmp_path / "sub" / "report.json").read_bytes()).hexdigest()


def _set(path: str, value: Any) -> Callable[[Report], None]:
    def mutate(r: Report) -> None:
        *parents, last = path.split(".")
        node: Any = r
        for p in parents:
            node = node[int(p)] if isinstance(node, list) else node[p]
        if isinstance(node, list):
            node[int(last)] = value
        else:
            node[last] = value
    return mutate


def _delete(path: str) -> Callable[[Report], None]:
    def mutate(r: Report) -> None:
        *parents, last = path.split(".")
        node: Any = r
        for p in parents:
            node = node[int(p)] if isinstance(node, list) else node[p]
        del node[last]
    return mutate


def _id(region: str = "110105", birth: date = date(1980, 5, 6), seq: int = 12) -> str:
    return ids.make_resident_id(region, birth, seq)


def _bad_check(value: str) -> str:
    return value[:-1] + ("0" if value[-1] != "0" else "1")


def _uscc_bad_inner() -> str:
    first17 = "91110105" + "MA01ABCD" + "0"
    if ids.org_code_check_char("MA01ABCD") == "0":
        first17 = first17[:-1] + "1"
    return first17 + ids.uscc_check_char(first17)


def _uscc_region(region: str, dept: str = "9", cat: str = "1") -> str:
    return ids.make_uscc(dept, cat, region, "MA01ABCD")


IND = "reporter.individual"
CASES: list[tuple[str, str, int, Callable[[Report], None]]] = [
    # (code, severity, baseline, mutation)
    ("envelope.received_at_offset", "error", POLICE, _set("received_at", "2026-06-15T10:00:00")),
    ("envelope.received_at_future", "error", POLICE, _set("received_at", "2026-11-24T20:30:00+08:00")),
    ("envelope.received_at_too_old", "error", POLICE, _set("received_at", "2017-12-31T23:59:59+08:00")),
    ("declaration.not_accepted", "error", GANG, _set("declaration.accepted", False)),
    ("declaration.at_offset", "error", GANG, _set("declaration.at", "2026-06-15T09:50:00")),
    ("declaration.at_after_received", "error", GANG, _set("declaration.at", "2026-06-15T11:00:00+08:00")),
    ("reporter.variant", "error", POLICE, _delete(IND)),
    ("reporter.variant", "error", ANON_CONTACT, _set("reporter.unit", {"name": "某单位", "uscc": "91350100M000100Y43",
                                                                       "contact_person": "张三", "phone": "13812345678",
                                                                       "address": {"region": "110105"}})),
    ("reporter.id_legacy", "error", POLICE, _set(f"{IND}.id_number", "110105491231002")),
    ("reporter.id_format", "error", POLICE, _set(f"{IND}.id_number", "11010519491231002Z")),
    ("reporter.id_checksum", "error", POLICE, _set(f"{IND}.id_number", _bad_check(_id()))),
    ("reporter.id_region", "error", POLICE, _set(f"{IND}.id_number", _id(region="241234"))),
    ("reporter.id_birthdate", "error", POLICE, _set(f"{IND}.id_number", _id(birth=date(2026, 9, 1)))),
    ("reporter.id_region_unknown", "warning", POLICE, _set(f"{IND}.id_number", _id(region="371200"))),
    ("reporter.id_age", "warning", POLICE, _set(f"{IND}.id_number", _id(birth=date(2015, 1, 1)))),
    ("reporter.mobile", "error", POLICE, _set(f"{IND}.mobile", "12012345678")),
    ("reporter.phone", "error", UNIT_REAL, _set("reporter.unit.phone", "12345")),
    ("reporter.contact_empty", "error", ANON_CONTACT, _set("reporter.contact", {})),
    ("reporter.contact_phone", "error", ANON_CONTACT, _set("reporter.contact", {"phone": "555-1234"})),
    ("reporter.contact_email", "error", ANON_CONTACT, _set("reporter.contact", {"email": "not-an-address"})),
    ("unit.uscc_format", "error", UNIT_REAL, _set("reporter.unit.uscc", "91350100M000100YS3")),
    ("unit.uscc_checksum", "error", UNIT_REAL, _set("reporter.unit.uscc", "91350100M000100Y44")),
    ("unit.uscc_category", "warning", UNIT_REAL, _set("reporter.unit.uscc", _uscc_region("110105", "9", "9"))),
    ("unit.uscc_region_unknown", "warning", UNIT_REAL, _set("reporter.unit.uscc", _uscc_region("371200"))),
    ("unit.uscc_inner_checksum", "warning", UNIT_REAL, _set("reporter.unit.uscc", _uscc_bad_inner())),
    ("subject.id_checksum", "warning", GANG, _set("subjects.0.id_number", _bad_check(_id()))),
    ("subject.uscc_checksum", "warning", INDUSTRY, _set("subjects.0.uscc", "91350100M000100Y44")),
    ("region.unknown", "error", GANG, _set("facts.region", "500105")),
    ("region.unknown", "error", POLICE, _set("subjects.0.unit_region", "110100")),
    ("region.unknown", "error", POLICE, _set(f"{IND}.address.region", "999999")),
    ("facts.description_short", "error", INDUSTRY, _set("facts.description", "乱收费  乱收费 乱收费 乱收费")),
    ("facts.start_date_future", "error", POLICE, _set("facts.start_date", "2026-06-16")),
    ("facts.end_date_future", "error", POLICE, _set("facts.end_date", "2026-07-01")),
    ("facts.end_before_start", "error", POLICE, _set("facts.end_date", "2024-12-31")),
    ("facts.end_date_ongoing", "error", GANG, lambda r: r["facts"].update(ongoing="yes", end_date="2025-06-01")),
    ("facts.problem_industry", "error", INDUSTRY, lambda r: r["facts"].update(
        industry="IND01", secondary_industries=[], problems=["IND04-01"])),
    ("report.unknown_not_alone", "error", GANG, _set("facts.targets", ["T01", "UNK"])),
    ("report.duplicate_value", "error", GANG, _set("facts.means", ["threat", "threat"])),
    ("umbrella.records_missing", "error", GANG, _set("umbrella", {"status": "yes", "records": []})),
    ("umbrella.records_unexpected", "error", GANG, _set("umbrella", {"status": "no", "records": [
        {"name": "李某", "unit_type": "ORG_PSB", "rank": "unknown", "behaviours": ["U03"]}]})),
    ("prior_reports.records_missing", "error", POLICE, _set("prior_reports", {"status": "yes", "records": []})),
    ("prior_reports.records_unexpected", "error", POLICE, _set("prior_reports", {"status": "unknown", "records": [
        {"channel": "110", "when": "2025-03", "result": "in_progress"}]})),
    ("prior_reports.when_invalid", "error", POLICE, _set("prior_reports", {"status": "yes", "records": [
        {"channel": "110", "when": "2025-02-30", "result": "in_progress"}]})),
    ("prior_reports.when_future", "error", POLICE, _set("prior_reports", {"status": "yes", "records": [
        {"channel": "110", "when": "2026-07", "result": "in_progress"}]})),
    ("report.schema", "error", GANG, _set("facts.start_date", "2025-13-01")),
    ("report.schema", "error", GANG, _set("subjects", [])),
    ("report.schema", "error", GANG, _set("submission_id", "not-a-uuid")),
    ("report.schema", "error", POLICE, _set("declaration.accepted", "yes")),
    ("report.schema", "error", POLICE, _set("attachments", None)),
    ("report.missing_field", "error", POLICE, _set("attachments", [{"file": "a.jpg"}])),
    ("report.schema_version", "error", POLICE, _set("schema", "cluetool.report/2")),
    ("report.unknown_field", "error", POLICE, _set("facts.colour", "red")),
    ("report.unknown_field", "error", POLICE, _set("extra", 1)),
    ("report.missing_field", "error", INDUSTRY, _delete("facts.industry")),
    ("report.missing_field", "error", GANG, _delete("umbrella")),
    ("report.missing_field", "error", GANG, _delete("kind")),
    ("report.missing_field", "error", GANG, _delete("subjects.0.type")),
    ("report.dropdown_value", "error", GANG, _set("facts.targets", ["T12"])),
    ("report.dropdown_value", "error", GANG, _set("kind", "traffic")),
    ("report.dropdown_value", "error", GANG, _set("subjects.0.type", "animal")),
]


@pytest.mark.parametrize(("code", "severity", "index", "mutate"), CASES,
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_fields_mutation_yields_code(tmp_path: Path, code: str, severity: str, index: int,
                                     mutate: Callable[[Report], None]) -> None:
    report = baseline(index)
    mutate(report)
    result = run(tmp_path, report)
    found = codes_of(result)
    assert found.get(code) == severity, result.findings
    assert result.ok is (severity == "warning" and all(s == "warning" for s in found.values()))


def test_fields_many_problems_all_reported(tmp_path: Path) -> None:
    report = baseline(POLICE)
    report["reporter"]["individual"]["mobile"] = "123"
    report["reporter"]["individual"]["address"]["region"] = "999999"
    report["facts"]["problems"] = ["P77", "P78"]
    report["umbrella"]["colour"] = 1
    report["declaration"]["accepted"] = False
    report["prior_reports"] = {"status": "yes", "records": []}
    result = run(tmp_path, report)
    paths = [(f.code, f.path) for f in result.findings]
    assert ("reporter.mobile", "reporter.individual.mobile") in paths
    assert ("region.unknown", "reporter.individual.address.region") in paths
    assert ("report.dropdown_value", "facts.problems[0]") in paths
    assert ("report.dropdown_value", "facts.problems[1]") in paths
    assert ("report.unknown_field", "umbrella.colour") in paths
    assert ("declaration.not_accepted", "declaration.accepted") in paths
    assert ("prior_reports.records_missing", "prior_reports.records") in paths


def test_fields_only_fine_after_normalisation_is_valid_and_bytes_kept(tmp_path: Path) -> None:
    report = baseline(POLICE)
    fw = lambda s: "".join(chr(ord(c) + 0xFEE0) if c.isalnum() else c for c in s)  # noqa: E731
    ind = report["reporter"]["individual"]
    ind["id_number"] = " " + fw(ind["id_number"][:6]) + " " + ind["id_number"][6:].lower()
    ind["mobile"] = "+86 " + ind["mobile"][:3] + "-" + ind["mobile"][3:]
    report["facts"]["region"] = fw(report["facts"]["region"])
    report["query_code_sha256"] = " " + report["query_code_sha256"] + " "
    raw = render(report)
    result = run(tmp_path, raw)
    assert result.findings == []
    assert (tmp_path / "sub" / "report.json").read_bytes() == raw


def test_submission_no_report_json(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    result = validate_submission(tmp_path / "sub", now=NOW)
    assert codes_of(result) == {"report.missing": "error"} and result.report_sha256 is None


def test_submission_report_symlink_not_followed(tmp_path: Path) -> None:
    (tmp_path / "real.json").write_bytes(render(baseline(POLICE)))
    (tmp_path / "sub").mkdir()
    os.symlink(tmp_path / "real.json", tmp_path / "sub" / "report.json")
    assert "report.not_regular" in codes_of(validate_submission(tmp_path / "sub", now=NOW))


def test_submission_report_too_large(tmp_path: Path) -> None:
    report = baseline(POLICE)
    report["facts"]["place_detail"] = "x" * (REPORT_MAX_BYTES + 1)
    assert codes_of(run(tmp_path, report)) == {"report.too_large": "error"}


def test_submission_report_not_utf8(tmp_path: Path) -> None:
    raw = render(baseline(POLICE)).decode("utf-8").encode("gb18030")
    assert codes_of(run(tmp_path, raw)) == {"report.encoding": "error"}


def test_submission_report_bom_reported_other_checks_run(tmp_path: Path) -> None:
    report = baseline(POLICE)
    report["facts"]["region"] = "999999"
    found = codes_of(run(tmp_path, b"\xef\xbb\xbf" + render(report)))
    assert found == {"report.bom": "error", "region.unknown": "error"}


@pytest.mark.parametrize("raw", [b"{", b"", b'{"a": NaN}', b"{} []", b'{"a": "\\ud800"}'])
def test_submission_report_json_invalid(tmp_path: Path, raw: bytes) -> None:
    assert codes_of(run(tmp_path, raw)) == {"report.json_invalid": "error"}


def test_submission_report_duplicate_key(tmp_path: Path) -> None:
    raw = render(baseline(GANG)).replace(b'"nature":', b'"nature": "unknown", "nature":', 1)
    assert codes_of(run(tmp_path, raw)) == {"report.duplicate_key": "error"}


@pytest.mark.parametrize("depth", [33, 5000, 200000])
def test_submission_report_too_deep(tmp_path: Path, depth: int) -> None:
    raw = b'{"kind": "gang_crime", "facts": ' + b"[" * depth + b"]" * depth + b"}"
    assert codes_of(run(tmp_path, raw)) == {"report.too_deep": "error"}


@pytest.mark.parametrize("raw", [b"[]", b'"x"', b"3", b"null"])
def test_submission_report_not_object(tmp_path: Path, raw: bytes) -> None:
    assert codes_of(run(tmp_path, raw)) == {"report.schema": "error"}


def _with_attachment(report: Report, name: str, atype: str, data: bytes) -> dict[str, bytes]:
    report["attachments"].append({"file": name, "type": atype, "size": len(data),
                                  "sha256": hashlib.sha256(data).hexdigest(), "note": ""})
    return {name: data}


def test_attachments_valid_media_pass(tmp_path: Path) -> None:
    report = baseline(GANG)
    rng = random.Random(1)
    files = {**_with_attachment(report, "a.jpg", "jpg", media.make_jpeg(rng)),
             **_with_attachment(report, "b.mp3", "mp3", media.make_mp3(rng)),
             **_with_attachment(report, "c.mp4", "mp4", media.make_mp4(rng))}
    assert run(tmp_path, report, files).findings == []


@pytest.mark.parametrize(("code", "make"), [
    ("attachment.type_mismatch", lambda rng: media.elf_renamed()),
    ("attachment.trailing_data", media.jpeg_with_trailing_zip),
    ("attachment.truncated", media.truncated_jpeg),
])
def test_attachments_bad_content_reported(tmp_path: Path, code: str, make: Callable[[random.Random], bytes]) -> None:
    report = baseline(INDUSTRY)
    files = _with_attachment(report, "x.jpg", "jpg", make(random.Random(2)))
    assert code in codes_of(run(tmp_path, report, files))


def test_attachments_sha_mismatch_and_undeclared(tmp_path: Path) -> None:
    report = baseline(INDUSTRY)
    files = _with_attachment(report, "x.jpg", "jpg", media.make_jpeg(random.Random(3)))
    report["attachments"][0]["sha256"] = "a" * 64
    files["stray.mp3"] = media.make_mp3(random.Random(4))
    found = codes_of(run(tmp_path, report, files))
    assert {"attachment.sha256_mismatch", "attachment.undeclared"} <= set(found)


def test_attachments_schema_bad_item_file_not_also_undeclared(tmp_path: Path) -> None:
    report = baseline(INDUSTRY)
    files = _with_attachment(report, "x.jpg", "jpg", media.make_jpeg(random.Random(3)))
    report["attachments"][0]["type"] = "gif"
    found = codes_of(run(tmp_path, report, files))
    assert found == {"report.dropdown_value": "error"}


def test_attachments_limits_apply(tmp_path: Path) -> None:
    report = baseline(INDUSTRY)
    files = _with_attachment(report, "x.jpg", "jpg", media.make_jpeg(random.Random(3)))
    d = tmp_path / "sub"
    write_submission(d, report, files)
    result = validate_submission(d, now=NOW, limits=Limits(jpg=10))
    assert "attachment.too_large" in codes_of(result)


def test_validate_submission_naive_now_rejected(tmp_path: Path) -> None:
    write_submission(tmp_path / "sub", baseline(POLICE), {})
    with pytest.raises(ValueError):
        validate_submission(tmp_path / "sub", now=datetime(2026, 1, 1))


# ---------------------------------------------------------------------------- paths, spools


def test_paths_missing_path_raises_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file"):
        validate_paths([tmp_path / "nope"], now=NOW)


def test_paths_file_path_raises_input_error(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("x")
    with pytest.raises(InputError, match="not a directory"):
        validate_paths([tmp_path / "f"], now=NOW)


def test_paths_spool_stray_entries_and_hidden_ignored(tmp_path: Path) -> None:
    spool = tmp_path / "spool"
    write_submission(spool / "a", baseline(POLICE), {})
    (spool / "notes.txt").write_text("x")
    os.symlink(spool / "a", spool / "b")
    (spool / ".tmp-123").mkdir()
    report = validate_paths([spool], now=NOW)
    assert [(f.submission, f.code) for f in report.findings] == [("b", "spool.stray_entry"),
                                                                  ("notes.txt", "spool.stray_entry")]
    assert report.summary.submissions == 1 and report.summary.valid == 1 and not report.ok
    with pytest.raises(FindingsError):
        report.raise_for_findings()


def test_paths_duplicate_submission_id_in_spool(tmp_path: Path) -> None:
    spool = tmp_path / "spool"
    write_submission(spool / "a", baseline(POLICE), {})
    write_submission(spool / "b", baseline(POLICE), {})
    report = validate_paths([spool], now=NOW)
    assert [f.code for f in report.findings] == ["spool.duplicate_submission_id"]
    assert report.summary.invalid == 1


def test_paths_submission_and_spool_mixed(tmp_path: Path) -> None:
    write_submission(tmp_path / "one", baseline(GANG), {})
    write_submission(tmp_path / "spool" / "two", baseline(INDUSTRY), {})
    report = validate_paths([tmp_path / "one", tmp_path / "spool"], now=NOW)
    assert report.ok and [r.submission for r in report.results] == ["one", "two"]
    assert report.schema == "cluetool.validate/1"


# ---------------------------------------------------------------------------- the sample spool


@pytest.fixture(scope="module")
def sample_spool(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("samples") / "spool"
    generate(out)
    return out


def test_samples_valid_ones_validate_clean(sample_spool: Path) -> None:
    report = validate_paths([sample_spool], now=NOW)
    valid = [r for r in report.results if not r.submission.startswith("invalid-")]
    assert len(valid) >= 60
    assert all(r.ok and r.findings == [] for r in valid), [r.findings for r in valid if r.findings]
    assert {r.kind for r in valid} == {"police_misconduct", "gang_crime", "industry_disorder"}


def test_samples_invalid_ones_yield_intended_code(sample_spool: Path) -> None:
    report = validate_paths([sample_spool], now=NOW)
    invalid = [r for r in report.results if r.submission.startswith("invalid-")]
    assert len({r.submission for r in invalid}) >= 12
    for r in invalid:
        intended = r.submission.removeprefix("invalid-")
        assert not r.ok and intended in {f.code for f in r.findings}, (r.submission, r.findings)


def test_samples_cover_reporter_variants_and_attachments(sample_spool: Path) -> None:
    variants, types, regions_seen, counts = set(), set(), set(), set()
    for d in sample_spool.iterdir():
        if d.name.startswith("invalid-"):
            continue
        r = json.loads((d / "report.json").read_text(encoding="utf-8"))
        rep = r["reporter"]
        variants.add((rep["type"], rep["identity"], "contact" in rep))
        types |= {a["type"] for a in r["attachments"]}
        counts.add(len(r["attachments"]))
        regions_seen.add(r["facts"]["region"][:2])
    assert {("individual", "real_name", False), ("unit", "real_name", False), ("individual", "anonymous", True),
            ("individual", "anonymous", False), ("unit", "anonymous", True), ("unit", "anonymous", False)} <= variants
    assert types == {"jpg", "mp3", "mp4"} and counts == {0, 1, 2} and len(regions_seen) >= 10


def test_samples_codes_file_matches_hashes(sample_spool: Path) -> None:
    from cluetool.model.querycode import code_sha256

    codes = json.loads((sample_spool.parent / "sample-codes.json").read_text(encoding="utf-8"))
    d = next(p for p in sample_spool.iterdir() if not p.name.startswith("invalid-"))
    r = json.loads((d / "report.json").read_text(encoding="utf-8"))
    assert code_sha256(codes[r["submission_id"]]) == r["query_code_sha256"]


def _tree(root: Path) -> dict[str, bytes]:
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(filenames):
            p = Path(dirpath) / name
            rel = str(p.relative_to(root))
            out[rel] = ("->" + os.readlink(p)).encode() if p.is_symlink() else p.read_bytes()
    return out


def test_samples_generation_is_byte_identical(sample_spool: Path, tmp_path: Path) -> None:
    generate(tmp_path / "spool")
    assert _tree(tmp_path) == _tree(sample_spool.parent)


def test_samples_different_seed_differs(sample_spool: Path, tmp_path: Path) -> None:
    generate(tmp_path / "spool", seed=1)
    assert _tree(tmp_path) != _tree(sample_spool.parent)
