"""``Store.read_pair`` (issue 23, stats on two cores): two read transactions, on two
connections, that see one snapshot, or the second one left out. Every time is explicit."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

import pytest

from cluetool.store import Store, Tx
from cluetool.store import db as store_db

NOW = datetime(2026, 11, 24, 2, 0, tzinfo=timezone.utc)


def _unit(store: Store, n: int) -> None:
    with store.write() as tx:
        tx.execute("INSERT INTO units VALUES (?, ?, 'police', NULL, ?)", (f"u{n}", f"u{n}", "2026-11-24T02:00:00.000000Z"))


def _units(tx: Tx) -> int:
    return int(tx.execute("SELECT count(*) FROM units").fetchone()[0])


@pytest.fixture
def stores(tmp_path: Path) -> Iterator[tuple[Store, Store]]:
    writer = Store.create(tmp_path / "store.db", now=NOW, blobs_dir=tmp_path / "blobs")
    _unit(writer, 0)
    reader = Store.open(tmp_path / "store.db", readonly=True, blobs_dir=tmp_path / "blobs")
    yield writer, reader
    reader.close()
    writer.close()


def test_second_transaction_is_another_connection_on_the_same_snapshot(stores: tuple[Store, Store]) -> None:
    writer, reader = stores
    with reader.read_pair() as (tx, other):
        assert other is not None and other.store is not reader
        _unit(writer, 1)  # committed after both began: neither sees it
        seen: list[int] = []
        worker = threading.Thread(target=lambda: seen.append(_units(other)))  # the second one serves another thread
        worker.start()
        worker.join()
        assert seen == [1] and _units(tx) == 1
    with reader.read() as tx:
        assert _units(tx) == 2


def test_a_commit_between_the_two_begins_is_seen_and_tried_again(stores: tuple[Store, Store],
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    writer, reader = stores
    read = Store.read
    commits = iter([2, 3])

    @contextmanager
    def read_after_a_commit(self: Store) -> Iterator[Tx]:
        if self is reader:  # between the second connection's probe and this one's begin
            n = next(commits, None)
            if n is not None:
                _unit(writer, n)
        with read(self) as tx:
            yield tx

    monkeypatch.setattr(Store, "read", read_after_a_commit)
    with reader.read_pair() as (tx, other):
        # The first two tries met a commit; the third found none: one snapshot, the latest.
        assert other is not None
        assert _units(tx) == _units(other) == 3


def test_commits_every_time_leave_one_connection(stores: tuple[Store, Store], monkeypatch: pytest.MonkeyPatch) -> None:
    _, reader = stores
    versions = iter(range(100))
    monkeypatch.setattr(store_db, "_data_version", lambda tx: next(versions))
    with reader.read_pair(tries=3) as (tx, other):
        assert other is None and _units(tx) == 1


def test_no_second_connection_without_tries(stores: tuple[Store, Store]) -> None:
    _, reader = stores
    with reader.read_pair(tries=0) as (tx, other):
        assert other is None and _units(tx) == 1
