"""The exception hierarchy. Each class carries its exit code; ``cli.py`` is the one place
that turns them into process exit codes (README.md, "Exit status").

Messages never contain secrets or report content: they name files, batches, fields.
"""

from __future__ import annotations

import errno
from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    FINDINGS = 1
    USAGE = 2
    STATE = 3
    CALENDAR = 4
    INTERNAL = 70
    TEMPFAIL = 75
    INTERRUPTED = 130


class ClueError(Exception):
    """Base of every error cluetool reports to a user; ``str(e)`` is the one-line message."""

    exit_code: ExitCode = ExitCode.INTERNAL

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


class FindingsError(ClueError):
    """Raised by ``raise_for_findings()`` for library callers: the work found problems."""

    exit_code = ExitCode.FINDINGS


class InputError(ClueError):
    """Input cannot be read at all: missing file, not a batch, malformed file, bad flag."""

    exit_code = ExitCode.USAGE


class StateError(ClueError):
    """The home, store or keystore is missing or unusable."""

    exit_code = ExitCode.STATE


class CalendarError(ClueError):
    """A deadline cannot be computed: the working-day calendar for a year is unknown."""

    exit_code = ExitCode.CALENDAR


class BusyError(ClueError):
    """The store is locked by another process; try again."""

    exit_code = ExitCode.TEMPFAIL


class ConflictRolledBack(BusyError):
    """The database ended the transaction to resolve a conflict with another one (a
    deadlock or a serialisation failure, PostgreSQL); nothing of it was written, and
    running it again is expected to succeed. A caller that can redo its transaction
    does so; otherwise it is reported as busy (exit 75)."""


_CAUSES = {
    errno.ENOSPC: "disk full",
    errno.EDQUOT: "disk quota exceeded",
    errno.EROFS: "read-only file system",
    errno.EIO: "I/O error",
    errno.EFBIG: "file too large (file size limit)",
    errno.EACCES: "permission denied",
    errno.EPERM: "operation not permitted",
}


def os_cause(exc: OSError) -> str:
    """A short, lower-case cause for a message: "disk full", "read-only file system"…"""
    cause = _CAUSES.get(exc.errno or 0)
    if cause is None:
        cause = (exc.strerror or type(exc).__name__).lower()
    return cause
