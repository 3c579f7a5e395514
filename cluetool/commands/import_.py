"""``cluetool import`` (``import`` is a keyword, hence the file name)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from cluetool.commands.common import (
    AtOpt, FormatOpt, HomeOpt, PassEnvOpt, PassFileOpt, QuietOpt, calendar_notice, fmt_of, home_arg, now_of, quiet_of,
)


def run(
    batches: Annotated[list[Path], typer.Argument(help="Batch files (.clue), imported in this order.", show_default=False)],
    identity: Annotated[str, typer.Option("--identity", help="Key name of the age identity that decrypts.")] = "main",
    wait: Annotated[float, typer.Option("--wait", help="Seconds to wait for a store locked by another process.")] = 10.0,
    allow_gap: Annotated[bool, typer.Option("--allow-gap", help="Accept a sequence gap (needs --reason; recorded in the audit log).")] = False,
    reason: Annotated[Optional[str], typer.Option("--reason", help="Why a gap is accepted.", show_default=False)] = None,
    passphrase_file: PassFileOpt = None,
    passphrase_env: PassEnvOpt = None,
    at: AtOpt = None,
    quiet: QuietOpt = False,
    home: HomeOpt = None,
    fmt: FormatOpt = None,
) -> None:
    """Verify, decrypt, re-validate and store batches: each one all or nothing.

    Re-importing a batch is a no-op that says so (exit 0); a fork, replay, gap, bad
    signature or invalid report rejects the batch (exit 1); a busy store exits 75. A
    report already stored with the same bytes is skipped (resent); one whose submission
    id or query code collides with a different stored report is held for `held resolve`
    and the rest of its batch is imported.

    Example: cluetool import inbox/intake-bj-00000001.clue
    """
    from cluetool import api
    from cluetool.errors import InputError
    from cluetool.commands.progress import working
    from cluetool.output import emit

    if allow_gap != (reason is not None):
        raise InputError("--allow-gap and --reason go together")
    quiet_of(quiet)
    now = now_of(at)
    passphrase = api.read_passphrase(passphrase_file, passphrase_env)
    with working(f"importing {len(batches)} batch(es)"):  # a spinner on a terminal only
        report = api.import_batches(batches, home=home_arg(home), now=now, identity=identity,
                                    passphrase=passphrase, wait=wait, allow_gap_reason=reason)
    calendar_notice(home, now)
    emit(report, fmt_of(fmt), rows="batches" if report.ok else "problems",
         columns=["batch", "status", "sequence", "reports", "attachments", "duplicates", "resent", "held", "decrypted_by"] if report.ok else ["batch", "code", "message"])
    raise typer.Exit(0 if report.ok else 1)
