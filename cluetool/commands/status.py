"""``cluetool status`` and ``cluetool code new``."""

from __future__ import annotations

from typing import Annotated

import typer

from cluetool.commands.common import FormatOpt, HomeOpt, fmt_of, home_arg


def run(
    code: Annotated[str, typer.Argument(help="The reporter's query code, XXXX-XXXX-XXXX-XXXX-C; quote it (C may be * ~ $ =).", show_default=False)],
    home: HomeOpt = None,
    fmt: FormatOpt = None,
) -> None:
    """Show the public stage of a report (received, assigned, under_verification, closed).

    A mistyped code is refused by its check symbol (exit 2) before any lookup; an
    unknown code exits 1. Never shows content, units or people. At the intake (a home
    without a store) the latest status feed answers, with its time (as_of). Quote the
    code in a shell: its check symbol may be * ~ $ or =.

    Example: cluetool status '2C77-B793-V5PJ-46SP-$'
    """
    from cluetool import api
    from cluetool.output import emit

    found = api.status(home_arg(home), code)
    emit(found, fmt_of(fmt), columns=["stage", "as_of"] if hasattr(found, "as_of") else ["stage"])


def new(fmt: FormatOpt = None) -> None:
    """Make a new query code (80 random bits, Crockford base32, mod-37 check symbol).

    The code is shown once and given to the reporter; only its sha256 travels.

    Example: cluetool code new --format json
    """
    from cluetool import api
    from cluetool.output import emit

    emit(api.new_code(), fmt_of(fmt))
