"""What an SQLite error means to the person running cluetool (issue 16): for the
store and for the seal register.

Every store error is one of: busy (exit 75), or exit 3 with a cause a person can act
on: "disk full", "read-only file system", "permission denied on PATH", or "store
damaged: run `cluetool store check`". SQLite's own text is never shown: for a damaged
page it can quote stored content.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from cluetool.errors import BusyError, ClueError, StateError

# Primary result codes (https://sqlite.org/rescode.html).
_PERM, _BUSY, _LOCKED, _READONLY, _IOERR, _CORRUPT, _FULL, _CANTOPEN, _NOTADB = 3, 5, 6, 8, 10, 11, 13, 14, 26
DAMAGED = "store damaged: run `cluetool store check`"
_DAMAGED_HINT = "if it names damage, restore the store from a backup (see docs/operations.md)"


def read_only_fs(path: Path) -> bool:
    """Whether ``path`` (or its directory) is on a file system mounted read-only."""
    for p in (path, path.parent):
        try:
            return bool(os.statvfs(p).f_flag & os.ST_RDONLY)
        except OSError:
            continue
    return False


def _full(path: Path) -> bool:
    try:
        st = os.statvfs(path.parent)
    except OSError:
        return False
    return st.f_bavail == 0 or st.f_favail == 0


def _denied(path: Path) -> Path | None:
    """The first of the store's directory, file, -wal and -shm this process may not use."""
    if not os.access(path.parent, os.R_OK | os.X_OK):
        return path.parent
    for p in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        if p.exists() and not os.access(p, os.R_OK | os.W_OK):
            return p
    if not os.access(path.parent, os.W_OK):
        return path.parent
    return None


def translate(exc: BaseException, path: Path, *, what: str = "store", damage: bool = True,
              decoding: bool = True) -> ClueError | None:
    """The ``ClueError`` an SQLite error of the database at ``path`` (a ``what``) means;
    with ``decoding``, a ``UnicodeDecodeError`` too (text read from the store). With
    ``damage=False``, ``None`` for a damaged file (the caller says what to do then)."""
    if isinstance(exc, UnicodeDecodeError):
        return StateError(DAMAGED, hint=_DAMAGED_HINT) if damage and decoding else None
    if not isinstance(exc, sqlite3.Error):
        return None
    code = getattr(exc, "sqlite_errorcode", 0) & 0xFF
    text = str(exc).lower()
    if code in (_BUSY, _LOCKED) or "database is locked" in text or "database is busy" in text:
        return BusyError(f"{what} is locked by another process", hint="try again, or raise --wait")
    if code == _FULL or "disk is full" in text:
        return StateError(f'cannot write {what} "{path}": disk full', hint="free space on its file system; nothing was changed")
    if code in (_READONLY, _PERM, _CANTOPEN, _IOERR) or "readonly database" in text or "unable to open" in text or "disk i/o error" in text:
        if read_only_fs(path):
            return StateError(f'cannot write {what} "{path}": read-only file system',
                              hint="commands that change the store need it mounted read-write")
        denied = _denied(path)
        if denied is not None:
            return StateError(f'permission denied on "{denied}"', hint="run cluetool as the user who owns the home")
        if code == _IOERR or "disk i/o error" in text:
            if _full(path):
                return StateError(f'cannot write {what} "{path}": disk full', hint="free space on its file system; nothing was changed")
            return StateError(f'cannot use {what} "{path}": I/O error', hint="check the disk; then run: cluetool store check")
        return StateError(f'cannot open {what} "{path}"', hint="check the file and its permissions")
    if code in (_CORRUPT, _NOTADB) or "malformed" in text or "not a database" in text or "could not decode" in text:
        return StateError(DAMAGED, hint=_DAMAGED_HINT) if damage else None
    return None


__all__ = ["translate", "read_only_fs", "DAMAGED"]
