"""The sending side's chain state per source, and the seal journal (crash recovery).

``state/seal/SOURCE.json`` holds the last sealed sequence and manifest hash.
``state/seal/SOURCE.journal.json`` exists only while a batch is being committed: it is
written (fsynced) *before* the batch file is renamed into place, and removed after the
sealed submissions are moved and the state advanced. On the next run a journal means:
the batch file exists → finish the commit (roll forward); it does not → forget it (roll
back). So a sequence is never used for two different batch files.
"""

from __future__ import annotations

import fcntl
import os
import time
from pathlib import Path

import msgspec

from cluetool.config import Home, fsync_dir, make_private_dir, shown, write_private_file
from cluetool.errors import BusyError, StateError
from cluetool.model.batch import ZERO_HASH


class SealState(msgspec.Struct, kw_only=True):
    source: str
    sequence: int = 0
    manifest_sha256: str = ZERO_HASH


class Journal(msgspec.Struct, kw_only=True):
    source: str
    sequence: int
    manifest_sha256: str
    batch_path: str
    done_dir: str
    submissions: list[str]  # absolute paths of the spool entries sealed in the batch
    # [submission id, query-code hash] of each, for the register (``cluetool.batch.register``)
    sealed: list[list[str]] = []
    sealed_at: str = ""  # RFC 3339 UTC; for the register's batch row (issue 23)


def _dir(home: Home) -> Path:
    d = home.state_dir / "seal"
    make_private_dir(home.state_dir)
    make_private_dir(d)
    return d


def load_state(home: Home, source: str) -> SealState:
    path = _dir(home) / f"{source}.json"
    try:
        return msgspec.json.decode(path.read_bytes(), type=SealState)
    except FileNotFoundError:
        return SealState(source=source)
    except (OSError, msgspec.DecodeError, msgspec.ValidationError):
        raise StateError(f'seal state "{path}" is unreadable', hint="restore it from backup; never guess a sequence") from None


def save_state(home: Home, state: SealState) -> None:
    write_private_file(_dir(home) / f"{state.source}.json", msgspec.json.encode(state))


def load_journal(home: Home, source: str) -> Journal | None:
    path = _dir(home) / f"{source}.journal.json"
    try:
        return msgspec.json.decode(path.read_bytes(), type=Journal)
    except FileNotFoundError:
        return None
    except (OSError, msgspec.DecodeError, msgspec.ValidationError):
        raise StateError(f'seal journal "{path}" is unreadable', hint="inspect it by hand before sealing again") from None


def save_journal(home: Home, journal: Journal) -> None:
    write_private_file(_dir(home) / f"{journal.source}.journal.json", msgspec.json.encode(journal))


def drop_journal(home: Home, source: str) -> None:
    path = _dir(home) / f"{source}.journal.json"
    path.unlink(missing_ok=True)
    fsync_dir(path.parent)


class FileLock:
    """An exclusive flock on ``path`` (created 0600), waiting up to ``wait`` seconds; freed
    on exit or when the process dies. Raises ``BusyError(message)`` when it stays taken."""

    def __init__(self, path: Path, *, wait: float = 0.0, message: str) -> None:
        self._path = path
        self._wait = wait
        self._message = message
        self._fd: int | None = None

    def __enter__(self) -> FileLock:
        fd = os.open(self._path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        deadline = time.monotonic() + max(self._wait, 0.0)
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    os.close(fd)
                    raise BusyError(self._message, hint="try again when it has finished, or raise --wait") from None
                time.sleep(min(0.05, max(deadline - time.monotonic(), 0.0)))
        self._fd = fd
        return self

    def __exit__(self, *exc: object) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None


class SourceLock(FileLock):
    """An exclusive, process-wide lock on sealing for one source (flock; freed on exit or kill)."""

    def __init__(self, home: Home, source: str, *, wait: float = 0.0) -> None:
        super().__init__(_dir(home) / f"{source}.lock", wait=wait, message="another seal of this source is running")


def spool_lock_path(spool: Path) -> Path:
    """The lock file beside a spool (``SPOOL.lock``): one seal of a spool at a time."""
    return spool.with_name(spool.name + ".lock")


class SpoolLock(FileLock):
    """An exclusive lock on one spool, whatever the home or source of the seal."""

    def __init__(self, spool: Path, *, wait: float = 0.0) -> None:
        super().__init__(spool_lock_path(spool), wait=wait, message=f'another seal of the spool "{shown(spool)}" is running')
