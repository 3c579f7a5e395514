"""Shared option aliases and the per-run global state set by the root callback."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from cluetool.output import Format


class _Globals:
    home: Path | None = None
    fmt: Format = Format.table
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


def fmt_of(fmt: Format | None) -> Format:
    return fmt if fmt is not None else GLOBALS.fmt
