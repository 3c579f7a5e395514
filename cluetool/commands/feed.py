"""``cluetool feed export`` (internal side) and ``cluetool feed import`` (intake)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cluetool.commands.common import (
    AtOpt, FormatOpt, HomeOpt, PassEnvOpt, PassFileOpt, QuietOpt, fmt_of, home_arg, now_of, quiet_of,
)


def export(
    out: Annotated[Path, typer.Option("--out", help="Directory for the .status file.", show_default=False)],
    source: Annotated[str, typer.Option("--source", help="The feed's source name, as the intake trusts its key (e.g. internal).", show_default=False)],
    key: Annotated[str, typer.Option("--key", help="Signing key name in the home.")] = "main",
    wait: Annotated[float, typer.Option("--wait", help="Seconds to wait for another export of this source or a busy store.")] = 10.0,
    passphrase_file: PassFileOpt = None,
    passphrase_env: PassEnvOpt = None,
    at: AtOpt = None,
    home: HomeOpt = None,
    fmt: FormatOpt = None,
) -> None:
    """Write the next signed, chained status feed (SOURCE-NNNNNNNN.status) for the intake.

    It holds the SHA-256 of every query code with its public stage, and a receipt of
    every batch imported (source, sequence, manifest hash); nothing secret, so it is
    not encrypted. Carry it to the intake and run `feed import` there.

    Example: cluetool feed export --source internal --out outbox/
    """
    from cluetool import api
    from cluetool.output import emit

    report = api.feed_export(home_arg(home), source=source, out_dir=out, now=now_of(at), key=key,
                             passphrase=api.read_passphrase(passphrase_file, passphrase_env), wait=wait)
    emit(report, fmt_of(fmt), columns=["file", "sequence", "codes", "batches", "manifest_sha256"])


def import_(
    file: Annotated[Path, typer.Argument(help="The .status file from the internal side.", show_default=False)],
    keep_done: Annotated[bool, typer.Option("--keep-done", help="Confirm the batches the receipt names but keep their submissions in the done directory.")] = False,
    allow_gap: Annotated[bool, typer.Option("--allow-gap", help="Accept a feed whose sequence skips one (each feed is a full snapshot).")] = False,
    wait: Annotated[float, typer.Option("--wait", help="Seconds to wait for another feed import.")] = 10.0,
    at: AtOpt = None,
    quiet: QuietOpt = False,
    home: HomeOpt = None,
    fmt: FormatOpt = None,
) -> None:
    """Verify a status feed (trusted key, chain), answer `status CODE` from it, and delete
    from SPOOL.done/ the submissions of every batch its receipt confirms.

    Nothing is read from the file before its signature, its signer's trust and its
    hashes are checked. A gap, replay, fork or bad signature refuses it (exit 1); the
    feed already imported is a no-op that finishes an interrupted purge (exit 0).
    Each purge is logged (stderr and state/feed/purge.log) with its batch and count.

    Example: cluetool feed import inbox/internal-00000001.status
    """
    from cluetool import api
    from cluetool.output import emit, info

    quiet_of(quiet)
    report = api.feed_import(
        home_arg(home), file, now=now_of(at), keep_done=keep_done, allow_gap=allow_gap, wait=wait,
        on_purged=lambda b: info(f"purged batch {b.batch}: {b.submissions} submission(s) deleted from {b.done_dir}"),
    )
    emit(report, fmt_of(fmt), rows="batches" if report.ok else "problems",
         columns=["batch", "status", "submissions", "done_dir"] if report.ok else ["file", "code", "message"])
    raise typer.Exit(0 if report.ok else 1)


COMMANDS = {"export": export, "import": import_}
