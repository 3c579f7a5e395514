"""``import`` streams (issue 15, case 4): reports go into the transaction chunk by chunk
as they are checked, while the payload is still being decrypted, so an import holds a
few chunks in memory, never the whole batch."""

from __future__ import annotations

from typing import Any

import pytest

from cluetool import ingest
from tests.batch_helpers import write_spool
from tests.test_import import Pair, pair, reports_per_batch  # noqa: F401 - fixture


@pytest.mark.parametrize("parallel", [False, True])
def test_import_writes_chunks_while_the_payload_streams(pair: Pair, monkeypatch: pytest.MonkeyPatch, parallel: bool) -> None:
    write_spool(pair.root / "spool", 7, seed=2001, attachments=1)
    [batch] = pair.seal(pair.root / "spool")
    events: list[str] = []
    real_report, real_write, real_attachment = ingest._Collector.report, ingest._ChunkWriter.write, ingest._Collector.attachment

    def report(self: Any, entry: Any, data: bytes) -> None:
        events.append("report")
        real_report(self, entry, data)

    def write(self: Any, chunk: list[Any]) -> None:
        events.append(f"write {len(chunk)}")
        real_write(self, chunk)

    def attachment(self: Any, *args: Any) -> Any:
        events.append("attachment")
        return real_attachment(self, *args)

    monkeypatch.setattr(ingest._Collector, "report", report)
    monkeypatch.setattr(ingest._ChunkWriter, "write", write)
    monkeypatch.setattr(ingest._Collector, "attachment", attachment)
    monkeypatch.setattr(ingest, "_CHUNK", 2)
    monkeypatch.setattr(ingest, "_MAX_INFLIGHT", 1)
    if parallel:
        monkeypatch.setattr(ingest, "PARALLEL_MIN_REPORTS", 1)
    result = pair.import_([batch])
    assert result.ok, result.problems
    assert result.batches[0].reports == 7
    writes = [i for i, e in enumerate(events) if e.startswith("write")]
    last_report = max(i for i, e in enumerate(events) if e == "report")
    first_attachment = events.index("attachment")
    # written before the last report was even decrypted, and before any attachment
    assert writes and writes[0] < last_report < first_attachment
    assert sum(int(events[i].split()[1]) for i in writes) == 7
    # never more than a chunk in the writer's hands, nor more than a few chunks pending
    assert max(int(events[i].split()[1]) for i in writes) <= 2
    assert reports_per_batch(pair.home) == [(1, 7, 7)]


def test_import_chunk_ends_at_a_byte_bound(pair: Pair, monkeypatch: pytest.MonkeyPatch) -> None:
    write_spool(pair.root / "spool", 5, seed=2002, attachments=0)
    [batch] = pair.seal(pair.root / "spool")
    sizes: list[int] = []
    real_write = ingest._ChunkWriter.write

    def write(self: Any, chunk: list[Any]) -> None:
        sizes.append(len(chunk))
        real_write(self, chunk)

    monkeypatch.setattr(ingest._ChunkWriter, "write", write)
    monkeypatch.setattr(ingest, "_CHUNK_BYTES", 1)  # every report ends a chunk
    assert pair.import_([batch]).ok
    assert sizes == [1, 1, 1, 1, 1]
