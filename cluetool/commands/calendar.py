"""``cluetool calendar show|check|add``: the working-day calendar and its yearly update."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from cluetool.commands.common import AtOpt, FormatOpt, HomeOpt, fmt_of, home_arg, now_of


def show(
    year: Annotated[Optional[int], typer.Argument(help="The year (default: this year).", metavar="YEAR", show_default=False)] = None,
    home: HomeOpt = None,
    fmt: FormatOpt = None,
) -> None:
    """List the rest days and make-up working days cluetool uses for a year, and their source.

    Days not listed follow the plain rule (Mon-Fri work, Sat-Sun rest). Exit 1 when the
    year is unknown to every source.

    Example: cluetool calendar show 2026 --format json
    """
    from cluetool import api
    from cluetool.output import emit, info

    report = api.calendar_show(home_arg(home), year if year is not None else now_of(None).year)
    info(f"{report.year}: {report.source}")
    emit(report, fmt_of(fmt), rows="days", columns=["date", "weekday", "kind", "name"])
    raise typer.Exit(0 if report.known else 1)


def check(
    as_of: Annotated[Optional[str], typer.Option("--as-of", help="Check the year after this date, YYYY-MM-DD (default: today).", metavar="DATE", show_default=False)] = None,
    home: HomeOpt = None,
    fmt: FormatOpt = None,
) -> None:
    """List the years with a known schedule; exit 1 when the year after today is unknown.

    Meant for a November cron reminder: add the year with `calendar add` once published.

    Example: cluetool calendar check --as-of 2026-11-15
    """
    from cluetool import api
    from cluetool.output import emit, warn

    day = api.parse_date(as_of, "--as-of") or now_of(None).date()
    report = api.calendar_check(home_arg(home), as_of=day)
    emit(report, fmt_of(fmt), rows="years", columns=["year", "source"])
    if not report.ok:
        warn(f"the {report.next_year} working-day calendar is unknown: add it with "
             f"`cluetool calendar add {report.next_year} --from FILE` once published (docs/calendar.md)")
    raise typer.Exit(0 if report.ok else 1)


def add(
    year: Annotated[int, typer.Argument(help="The year the entry is for.", metavar="YEAR", show_default=False)],
    source_file: Annotated[Path, typer.Option("--from", help="TOML file with the year's published schedule.", metavar="FILE", show_default=False)],
    at: AtOpt = None,
    wait: Annotated[float, typer.Option("--wait", help="Seconds to wait for a store locked by another process.")] = 10.0,
    home: HomeOpt = None,
    fmt: FormatOpt = None,
) -> None:
    """Check a year's published schedule and add it to rules/calendar.toml (audited).

    Every provisional due date is recomputed at once. The entry lists every holiday by
    name and the make-up working days (weekend days); see docs/calendar.md.

    Example: cluetool calendar add 2027 --from calendar-2027.toml
    """
    from cluetool import api
    from cluetool.output import emit

    report = api.calendar_add(home_arg(home), year, source_file, now=now_of(at), wait=wait)
    emit(report, fmt_of(fmt), columns=["year", "source", "rest_days", "workdays", "recomputed"])


COMMANDS = {"show": show, "check": check, "add": add}
