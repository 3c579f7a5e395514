"""``cluetool seal``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from cluetool.commands.common import AtOpt, FormatOpt, HomeOpt, PassEnvOpt, PassFileOpt, fmt_of, home_arg, now_of


def _size(text: str | None) -> int | None:
    from cluetool.errors import InputError

    if text is None:
        return None
    units = {"": 1, "K": 1024, "M": 1024**2, "G": 1024**3, "KIB": 1024, "MIB": 1024**2, "GIB": 1024**3}
    t = text.strip().upper()
    num = t.rstrip("KMGIB")
    unit = t[len(num):]
    if not num.isdigit() or unit not in units:
        raise InputError(f"invalid size {text!r}: use e.g. 500M, 2G or a number of bytes")
    return int(num) * units[unit]


def run(
    spool: Annotated[Path, typer.Argument(help="Spool directory of submissions.", show_default=False)],
    source: Annotated[str, typer.Option("--source", help="Source name, e.g. intake-bj.", show_default=False)],
    to: Annotated[list[str], typer.Option("--to", help="age1… recipient or recipients file (repeatable).", show_default=False)],
    out: Annotated[Path, typer.Option("--out", help="Directory for the batch files.", show_default=False)],
    key: Annotated[str, typer.Option("--key", help="Signing key name in the home.")] = "main",
    quarantine: Annotated[Optional[Path], typer.Option("--quarantine", help="Where invalid submissions go (default SPOOL.quarantine).", show_default=False)] = None,
    done: Annotated[Optional[Path], typer.Option("--done", help="Where sealed submissions go (default SPOOL.done).", show_default=False)] = None,
    max_reports: Annotated[int, typer.Option("--max-reports", help="At most N reports per batch.")] = 5000,
    max_bytes: Annotated[str, typer.Option("--max-bytes", help="At most SIZE of submissions per batch (e.g. 500M; a larger submission goes alone).")] = "1G",
    wait: Annotated[float, typer.Option("--wait", help="Seconds to wait while another seal of the spool or source runs (then exit 75).")] = 10.0,
    warn_done_days: Annotated[int, typer.Option("--warn-done-days", help="Warn about batches in the done directory that no status-feed receipt confirmed after N days.", min=0)] = 7,
    passphrase_file: PassFileOpt = None,
    passphrase_env: PassEnvOpt = None,
    at: AtOpt = None,
    home: HomeOpt = None,
    fmt: FormatOpt = None,
) -> None:
    """Validate a spool and seal the valid submissions into the next signed, encrypted batch(es).

    Invalid submissions move to the quarantine directory with a reason.json (named on
    stderr, one line each, and in the output); sealed ones move to the done directory,
    one folder per batch. Metadata that could identify a reporter (GPS, device serial...)
    is a warning line on stderr; the submission is sealed unchanged. Exit 1 if anything
    was quarantined. A batch holds at most
    --max-reports reports (default 5000) and --max-bytes of submissions (default 1G).

    Example: cluetool seal spool/ --source intake-bj --key intake-bj --to recipients.txt --out outbox/
    """
    from cluetool import api
    from cluetool.commands.progress import working
    from cluetool.output import Format, emit, warn

    passphrase = api.read_passphrase(passphrase_file, passphrase_env)
    with working(f'sealing "{spool}"'):  # a spinner on a terminal only
        report = api.seal(
            spool, home=home_arg(home), source=source, recipients=to, out_dir=out,
            now=now_of(at), key=key, passphrase=passphrase,
            quarantine=quarantine, done=done, max_reports=max_reports, max_bytes=_size(max_bytes), wait=wait,
            warn_done_days=warn_done_days,
        )
    emit(report, fmt_of(fmt), rows="batches",
         columns=["batch", "sequence", "reports", "attachments", "payload_size", "payload_sha256"])
    if report.quarantined and fmt_of(fmt) is not Format.json:
        emit(report, fmt_of(fmt), rows="quarantined", columns=["submission", "codes", "path"])
    for q in report.quarantined:
        warn(f'quarantined "{q.submission}": {", ".join(q.codes)} (see {q.path}/reason.json)')
    for w in report.warnings:  # identifying metadata: sealed all the same, but handlers should know
        warn(f'"{w.submission}" {w.path}: {w.code}: {w.message}')
    for old in report.stale_done:
        warn(f"batch {old.batch} sealed {old.days} days ago is still in {old.done_dir}: no status-feed receipt confirmed it "
             "(carry a feed from the internal side and run feed import)")
    raise typer.Exit(0 if report.ok else 1)
