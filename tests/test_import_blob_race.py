"""Two imports carrying the same attachment (issue 16, failure 4), raced deterministically
with hooks: import B writes the blob, fails and rolls back; before B removes "its"
blob, import A finds the blob present and commits a report naming it. B must leave the
blob in place: a failed import never removes a blob a committed report references."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

import cluetool.ingest as ingest
from cluetool import api
from cluetool.ingest import import_batch
from cluetool.home import open_store
from cluetool.keys import load_identity
from cluetool.model.batch import BatchProblem
from cluetool.store import Store
from tests.batch_helpers import NOW, write_spool
from tests.test_import import RECEIVER_KEY, Pair, make_pair



@pytest.fixture(params=["sqlite", "postgresql"])
def pair(tmp_path: Path, request: pytest.FixtureRequest) -> Pair:
    """The pair, its store in SQLite and in PostgreSQL (issue 22)."""
    return make_pair(tmp_path, request.getfixturevalue("pg_url") if request.param == "postgresql" else None)


def _import(pair: Pair, batch: Path) -> Any:
    ident = load_identity(pair.home, RECEIVER_KEY)
    # Connections stay in the thread that opened them: one store per import.
    with open_store(pair.home) as store:
        return import_batch(batch, home=pair.home, store=store, identities=[ident], now=NOW)


@pytest.fixture
def batch(pair: Pair) -> Path:
    write_spool(pair.root / "spool", 1, seed=8162, attachments=1)
    [b] = pair.seal(pair.root / "spool")
    return b


def test_import_blob_race_failed_import_keeps_blob_of_committed_report(
    pair: Pair, batch: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    main = threading.current_thread()
    real_check, real_remove = ingest._ChunkWriter.check_blobs, ingest._remove_created
    a_result: dict[str, Any] = {}

    def b_fails(self: Any, store: Store) -> list[BatchProblem]:
        if threading.current_thread() is main:  # import B: fail after writing the blob
            return [BatchProblem(batch=self.batch, code="payload.attachment", message="injected failure")]
        return real_check(self, store)

    def a_commits_first(store: Store, collector: Any) -> None:
        if threading.current_thread() is main and collector is not None and collector.created:
            # B has rolled back and holds no lock; A imports the same batch now.
            t = threading.Thread(target=lambda: a_result.update(r=_import(pair, batch)))
            t.start()
            t.join(120)
        real_remove(store, collector)

    monkeypatch.setattr(ingest._ChunkWriter, "check_blobs", b_fails)
    monkeypatch.setattr(ingest, "_remove_created", a_commits_first)
    result, problems = _import(pair, batch)
    assert result.status == "rejected" and [p.message for p in problems] == ["injected failure"]
    a, a_problems = a_result["r"]
    assert a.status == "imported" and not a_problems
    blobs = [p for p in pair.home.blobs_dir.rglob("*") if p.is_file()]
    assert len(blobs) == 1, "the failed import removed a blob a committed report references"
    check = api.store_check(pair.home)
    assert check.ok, [(p.code, p.object) for p in check.problems]


def test_import_failed_alone_removes_its_blobs(pair: Pair, batch: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def fails(self: Any, store: Store) -> list[BatchProblem]:
        return [BatchProblem(batch=self.batch, code="payload.attachment", message="injected failure")]

    monkeypatch.setattr(ingest._ChunkWriter, "check_blobs", fails)
    result, _ = _import(pair, batch)
    assert result.status == "rejected"
    assert [p for p in pair.home.blobs_dir.rglob("*") if p.is_file()] == []  # nothing left behind
