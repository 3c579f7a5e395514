"""Shared option aliases and the per-run global state set by the root callback."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer

from cluetool.output import Format

if TYPE_CHECKING:
    from cluetool.api import Home


class _Globals:
    home: Path | None = None
    fmt: Format = Format.table
    fmt_given: bool = False  # --format on the root (fmt is table when it was not)
    debug: bool = False


GLOBALS = _Globals()

HomeOpt = Annotated[
    Optional[Path],
    # readable=False: an unreadable home is the core's to report (exit 3), not a usage error.
    typer.Option("--home", help="The cluetool home (default: $CLUETOOL_HOME).", show_default=False, readable=False),
]
FormatOpt = Annotated[
    Optional[Format],
    typer.Option("--format", "-f", help="Output format: table, json or jsonl.", show_default=False),
]


def home_of(home: Path | None) -> Path | None:
    """The command's --home, else the global one (``None`` lets core read CLUETOOL_HOME)."""
    return home if home is not None else GLOBALS.home


def home_arg(home: Path | None) -> Home:
    """The home named by the command's --home, the global one or ``CLUETOOL_HOME``.

    Raises:
        StateError: none is given.
    """
    from cluetool import api

    return api.resolve_home(home_of(home))


def fmt_of(fmt: Format | None) -> Format:
    return fmt if fmt is not None else GLOBALS.fmt


def proof_format(fmt: Format | None) -> Format:
    """A proof's format: as given, else JSON (the proof file) unless stdout is a terminal."""
    import sys

    if fmt is not None:
        return fmt
    if GLOBALS.fmt_given:
        return GLOBALS.fmt
    return Format.table if sys.stdout.isatty() else Format.json


AtOpt = Annotated[
    Optional[str],
    typer.Option("--at", help="Act as of this instant, RFC 3339 with offset (default: now); for reproducible runs.",
                 metavar="TIME", show_default=False),
]
# The passphrase of a key is never an argument (it would show in ps and shell history):
# a file or an environment variable, declared once for every command that opens a key.
PassFileOpt = Annotated[
    Optional[Path],
    typer.Option("--passphrase-file", help="Read the key's passphrase from this file.", show_default=False),
]
PassEnvOpt = Annotated[
    Optional[str],
    typer.Option("--passphrase-env", help="Read the key's passphrase from this environment variable.",
                 show_default=False),
]
StorePasswordEnvOpt = Annotated[
    Optional[str],
    typer.Option("--store-password-env", metavar="VAR",
                 help="The environment variable holding the PostgreSQL password (else libpq's PGPASSFILE).",
                 show_default=False),
]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="Silence informational messages and notices.")]
StrictCalendarOpt = Annotated[
    bool,
    typer.Option("--strict-calendar", help="Exit 4 instead of counting a year no calendar source knows as Mon-Fri "
                 "(provisional)."),
]


def now_of(at: str | None) -> datetime:
    """The instant ``--at`` names, else the clock (UTC).

    Raises:
        InputError: not an RFC 3339 time with an offset.
    """
    if at is None:
        return datetime.now(timezone.utc)
    from cluetool import api

    parsed = api.parse_time(at, "--at")
    assert parsed is not None
    return parsed.astimezone(timezone.utc)


def quiet_of(quiet: bool) -> None:
    """A command's own ``--quiet`` adds to the global one."""
    if quiet:
        from cluetool.output import set_quiet

        set_quiet(True)


def calendar_notice(home: Path | None, at: datetime) -> None:
    """Warn on stderr (unless quiet) when next year's working-day calendar is still
    unknown from 1 November on; commands that count deadlines call this."""
    from cluetool import api
    from cluetool.errors import ClueError
    from cluetool.output import advise

    try:
        message = api.calendar_notice(home_arg(home), at)
    except ClueError:
        return
    if message:
        advise(message)
