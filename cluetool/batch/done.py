"""The intake's ``SPOOL.done/``: which sealed batches still lie there unconfirmed (``seal``
warns about old ones), and the purge of a batch a status feed's receipt confirmed.

Each batch's submissions sit in ``SPOOL.done/<batch name without .clue>/`` (moved there
by ``seal``; the register's ``sealed_batches`` row names the directory). A purge is all
or nothing per batch and survives a kill at any point:

1. the register records the purge's start and the number of submissions (fsynced, WAL);
2. the batch directory is renamed to ``SPOOL.done/.purge-<name>`` (one atomic rename:
   from here on the batch is gone from ``SPOOL.done/``) and the parent fsynced;
3. that directory is deleted and the parent fsynced;
4. the register records the purge as finished, and the purge log gets its line.

A rerun finds a row with a start but no finish and completes the steps still to do
(the directory still in place: from 2; only ``.purge-<name>`` left: from 3; nothing
left: 4), so a batch is never half in ``SPOOL.done/``.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

import msgspec

from cluetool.batch.register import Register, SealedBatchRow
from cluetool.config import fsync_dir, make_private_dir, shown, text_path
from cluetool.model.feed import StaleDone

PURGE_PREFIX = ".purge-"


def utc_stamp(at: datetime) -> str:
    """RFC 3339 UTC with ``Z``, to the second."""
    return at.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse_stamp(text: str) -> datetime | None:
    try:
        return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
    except ValueError:
        return None


def stale_done(register: Register, done: Path, *, now: datetime, days: int) -> list[StaleDone]:
    """Batches in ``done`` not confirmed by a receipt and sealed more than ``days`` days
    before ``now``. A directory the register has no row for (sealed by an older
    cluetool) is dated by its modification time."""
    try:
        names = sorted(n for n in os.listdir(done) if not n.startswith("."))
    except FileNotFoundError:
        return []
    rows = {r.batch: r for r in register.batches()}
    out = []
    for name in names:
        path = done / name
        if not path.is_dir():
            continue
        row = rows.get(f"{name}.clue")
        if row is not None and row.confirmed_at is not None:
            continue  # confirmed and kept on purpose (--keep-done)
        sealed = _parse_stamp(row.sealed_at) if row is not None else None
        if sealed is None:
            sealed = datetime.fromtimestamp(path.stat().st_mtime, timezone.utc)
        age = now - sealed
        if age.total_seconds() > days * 86400:
            out.append(StaleDone(batch=f"{name}.clue", done_dir=shown(path), sealed_at=utc_stamp(sealed), days=age.days))
    return out


def _count(path: Path) -> int:
    try:
        return sum(1 for _ in os.scandir(path))
    except FileNotFoundError:
        return 0


def purge_batch(register: Register, row: SealedBatchRow, *, now: datetime, log: Path) -> int:
    """Delete the confirmed batch ``row``'s submissions from ``SPOOL.done/`` (see the
    module docstring for the steps); return how many were deleted. Idempotent.

    Raises:
        OSError: the directory cannot be renamed or removed (the caller reports it).
    """
    if row.confirmed_at is None:
        raise ValueError(f"batch {row.batch} is not confirmed")  # a bug: never purge an unconfirmed batch
    if row.purged_at is not None:
        return row.purge_count or 0
    batch_dir = text_path(row.done_dir)
    trash = batch_dir.with_name(PURGE_PREFIX + batch_dir.name)
    count = row.purge_count
    if batch_dir.exists():
        if count is None:
            count = _count(batch_dir)
            register.start_purge(row.batch, count)
        if trash.exists():  # a leftover of an older, interrupted purge of the same name
            shutil.rmtree(trash)
        os.rename(batch_dir, trash)
        fsync_dir(batch_dir.parent)
    if trash.exists():
        shutil.rmtree(trash)
        fsync_dir(trash.parent)
    count = count or 0
    register.finish_purge(row.batch, utc_stamp(now))
    _log(log, {"at": utc_stamp(now), "batch": row.batch, "source": row.source, "sequence": row.sequence,
               "manifest_sha256": row.manifest_sha256, "submissions": count, "done_dir": row.done_dir,
               "confirmed_by": row.confirmed_by})
    return count


def _log(log: Path, record: dict[str, object]) -> None:
    """Append one JSON line to the purge log and fsync it (a line lost to a kill between
    the register's finish and here is the only thing a crash can cost: the register
    still holds the batch, its count and the time)."""
    make_private_dir(log.parent)
    fd = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, msgspec.json.encode(record, order="sorted") + b"\n")
        os.fsync(fd)
    finally:
        os.close(fd)


def pending_purges(register: Register) -> list[SealedBatchRow]:
    """Confirmed batches whose purge has not finished."""
    return [r for r in register.batches() if r.confirmed_at is not None and r.purged_at is None]


def purge_confirmed(
    register: Register, rows: list[SealedBatchRow], *, now: datetime, log: Path,
    on_purged: Callable[[SealedBatchRow, int], None] = lambda _r, _n: None,
) -> None:
    """Purge each of ``rows`` in turn."""
    for row in rows:
        on_purged(row, purge_batch(register, row, now=now, log=log))


__all__ = ["PURGE_PREFIX", "pending_purges", "purge_batch", "purge_confirmed", "stale_done", "utc_stamp"]
