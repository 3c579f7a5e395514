"""Spool entry names that are not valid UTF-8, and non-ASCII names under the C locale
(issue 16, failure 2): the bad one is quarantined as ``spool.bad_name``, the rest are
sealed, and the outcome does not depend on the locale."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import msgspec

from tests.batch_helpers import SOURCE, KeyHome, make_home, seal_spool, write_spool
from tests.fault_helpers import ROOT, cluetool_cmd

GBK_NAME = "中文-1".encode("gbk")  # not valid UTF-8
CHINESE = "举报-甲"


def _rename(spool: Path, old: str, new: bytes) -> None:
    os.rename(os.fsencode(spool / old), os.fsencode(spool) + b"/" + new)


def _chinese_attachment(submission: Path) -> None:
    """Rename the submission's first attachment to a Chinese name (and declare it so)."""
    report = json.loads((submission / "report.json").read_bytes())
    old = report["attachments"][0]["file"]
    new = "照片-1" + Path(old).suffix
    os.rename(os.fsencode(submission / old), os.fsencode(submission) + b"/" + new.encode("utf-8"))
    report["attachments"][0]["file"] = new
    (submission / "report.json").write_bytes(json.dumps(report, ensure_ascii=False, indent=2).encode("utf-8"))


def _spool(root: Path) -> tuple[KeyHome, Path, list[str]]:
    kh = make_home(root / "intake")
    spool = root / "spool"
    names = write_spool(spool, 4, seed=8166, attachments=1)
    _rename(spool, names[0], GBK_NAME)
    os.rename(spool / names[1], os.fsencode(spool) + b"/" + CHINESE.encode("utf-8"))
    _chinese_attachment(Path(os.fsdecode(os.fsencode(spool) + b"/" + CHINESE.encode("utf-8"))))
    return kh, spool, names


def _done_names(spool: Path) -> set[bytes]:
    done = os.fsencode(spool) + b".done"
    return {n for batch in os.listdir(done) for n in os.listdir(done + b"/" + batch)}


def test_seal_bad_name_quarantined_rest_sealed(tmp_path: Path) -> None:
    kh, spool, names = _spool(tmp_path)
    report = seal_spool(kh, spool, tmp_path / "out")
    assert not report.ok
    [q] = report.quarantined
    assert q.codes == ["spool.bad_name"] and q.submission == GBK_NAME.decode("utf-8", "backslashreplace")
    assert sum(b.reports for b in report.batches) == 3
    assert _done_names(spool) == {CHINESE.encode("utf-8"), names[2].encode(), names[3].encode()}
    assert os.listdir(os.fsencode(spool)) == []
    box = Path(q.path)
    reason = msgspec.json.decode((box / "reason.json").read_bytes())
    assert reason["findings"][0]["code"] == "spool.bad_name"
    assert os.listdir(os.fsencode(box / "submission"))  # the submission moved in whole
    assert not list((tmp_path / "out").glob(".*partial"))


def _c_locale() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LC_") and k not in ("LANG", "LANGUAGE")}
    return {**env, "LC_ALL": "C", "PYTHONUTF8": "0", "PYTHONIOENCODING": "", "CLUETOOL_DEBUG": ""}


def test_cli_seal_and_validate_c_locale_same_outcome(tmp_path: Path) -> None:
    kh, spool, names = _spool(tmp_path)
    env = _c_locale()
    check = subprocess.run(cluetool_cmd("-f", "json", "validate", spool), capture_output=True, env=env, cwd=ROOT, timeout=120)
    assert check.returncode == 1, check.stderr
    doc = json.loads(check.stdout)
    bad = [f for f in doc["findings"] if f["severity"] == "error"]
    assert [f["code"] for f in bad] == ["spool.bad_name"]
    assert doc["summary"]["valid"] == 3  # the Chinese names (entry and attachment) are fine

    out = tmp_path / "out"
    proc = subprocess.run(
        cluetool_cmd("--home", kh.root, "-f", "json", "seal", spool, "--source", SOURCE, "--to", kh.recipient, "--out", out),
        capture_output=True, env=env, cwd=ROOT, timeout=120)
    assert proc.returncode == 1, proc.stderr
    sealed = json.loads(proc.stdout)
    assert [q["codes"] for q in sealed["quarantined"]] == [["spool.bad_name"]]
    assert sum(b["reports"] for b in sealed["batches"]) == 3
    assert _done_names(spool) == {CHINESE.encode("utf-8"), names[2].encode(), names[3].encode()}
    assert "Traceback" not in proc.stderr.decode("utf-8", "replace")
    assert not list(out.glob(".*partial"))
