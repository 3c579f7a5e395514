"""``cluetool validate``."""

from __future__ import annotations

from pathlib import Path

import typer

from cluetool.commands.common import AtOpt, FormatOpt, HomeOpt, fmt_of, home_of, now_of


def run(
    paths: list[Path] = typer.Argument(
        ..., help="Submission directories (holding report.json) or spools of them.",
        show_default=False,
    ),
    at: AtOpt = None,
    home: HomeOpt = None,
    fmt: FormatOpt = None,
) -> None:
    """Check submissions, or spools of submissions, and list every problem found.

    Exits 1 when any submission is invalid (warnings alone exit 0); 2 when a path cannot
    be read. Limits come from the home's config.toml when a home is given, else defaults.

    Example: cluetool validate spool/ --format json
    """
    from cluetool import api
    from cluetool.output import Format, emit, info

    report = api.validate(paths, now=now_of(at), home=api.optional_home(home_of(home)))
    out = fmt_of(fmt)
    emit(report, out, rows="findings", columns=["submission", "path", "code", "severity", "message"])
    if out is Format.table:
        s = report.summary
        info(f"{s.submissions} submission(s): {s.valid} valid, {s.invalid} invalid; "
             f"{s.errors} error(s), {s.warnings} warning(s)")
    raise typer.Exit(0 if report.ok else 1)

