"""Large batches are re-validated by worker processes: the result must be exactly the
sequential one (same rows, same order, same problems)."""

from __future__ import annotations

from pathlib import Path

import pytest

import cluetool.ingest as ingest
from cluetool.config import Home
from tests.batch_helpers import write_spool
from tests.test_import import Pair, connect, pair, snapshot  # noqa: F401 - fixtures


def _reports(home: Home) -> list[tuple[str, str, bytes]]:
    with connect(home) as conn:
        return conn.execute("SELECT submission_id, report_sha256, report_json FROM reports ORDER BY id").fetchall()


def test_import_parallel_validation_equals_sequential(pair: Pair, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_spool(pair.root / "spool", 9, seed=8101, attachments=0)
    [batch] = pair.seal(pair.root / "spool")
    monkeypatch.setattr(ingest, "PARALLEL_MIN_REPORTS", 1)
    monkeypatch.setattr(ingest, "_CHUNK", 2)  # several chunks, one partial
    result = pair.import_([batch])
    assert result.ok and result.batches[0].reports == 9
    assert ingest._pool is not None  # the workers did the validation
    stored = _reports(pair.home)
    sealed = sorted((pair.root / "spool.done").glob("*/*/report.json"))
    assert sorted(r[2] for r in stored) == sorted(p.read_bytes() for p in sealed)


def test_import_parallel_validation_rejects_invalid_report(pair: Pair, monkeypatch: pytest.MonkeyPatch) -> None:
    import cluetool.batch.seal as seal_mod

    names = write_spool(pair.root / "spool", 5, seed=8102, attachments=0)
    bad = pair.root / "spool" / names[3] / "report.json"
    bad.write_bytes(bad.read_bytes().replace(b'"received_at": "2026', b'"received_at": "2099'))
    real = seal_mod.validate_submission_model

    def lenient(path: Path, **kwargs: object) -> object:  # the intake lets the bad report through
        checked = real(path, **kwargs)
        if path.name == names[3]:
            checked.result.ok, checked.result.findings = True, []
        return checked

    monkeypatch.setattr(seal_mod, "validate_submission_model", lenient)
    [batch] = pair.seal(pair.root / "spool")
    monkeypatch.setattr(ingest, "PARALLEL_MIN_REPORTS", 1)
    monkeypatch.setattr(ingest, "_CHUNK", 2)
    before = snapshot(pair.home)
    result = pair.import_([batch])
    assert not result.ok and {p.code for p in result.problems} == {"report.invalid"}
    assert any(names[3] in p.message for p in result.problems)
    assert snapshot(pair.home).counts == before.counts
