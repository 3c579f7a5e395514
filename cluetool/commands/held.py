"""``cluetool held list`` and ``cluetool held resolve``."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Annotated, Optional

import typer

from cluetool.commands.common import FormatOpt, HomeOpt, fmt_of, home_arg

_COLUMNS = ["id", "submission_id", "batch", "reason", "collides_with", "state", "held_at"]


def list_(
    all_states: Annotated[bool, typer.Option("--all", help="Also kept and discarded reports.")] = False,
    home: HomeOpt = None,
    fmt: FormatOpt = None,
) -> None:
    """List reports an import held because they collide with a different stored report
    (same submission id or query code); settle each with `held resolve`.

    Example: cluetool held list --format json
    """
    from cluetool import api
    from cluetool.output import emit

    emit(api.held_list(home_arg(home), all_states=all_states), fmt_of(fmt), rows="held", columns=_COLUMNS)


def resolve(
    held_id: Annotated[int, typer.Argument(help="The held report's id (from `held list`).", show_default=False)],
    keep_both: Annotated[bool, typer.Option("--keep-both", help="Keep it in the store beside the report it collides with.")] = False,
    discard: Annotated[bool, typer.Option("--discard", help="Discard it (its bytes are erased; its hash stays on record).")] = False,
    reason: Annotated[Optional[str], typer.Option("--reason", help="Why (recorded in the store; the audit log keeps its HMAC).", show_default=False)] = None,
    home: HomeOpt = None,
    fmt: FormatOpt = None,
) -> None:
    """Settle a held report: --keep-both or --discard, with a --reason; audited.

    Example: cluetool held resolve 1 --discard --reason "intake re-sent a corrected copy"
    """
    from cluetool import api
    from cluetool.errors import InputError
    from cluetool.output import emit

    if keep_both == discard or reason is None:
        raise InputError("held resolve needs exactly one of --keep-both and --discard, and a --reason")
    held = api.held_resolve(home_arg(home), held_id, keep=keep_both, reason=reason, now=datetime.now(timezone.utc))
    emit(held, fmt_of(fmt), columns=_COLUMNS)
