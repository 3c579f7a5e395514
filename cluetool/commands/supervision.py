"""``cluetool sample``, ``stats`` and ``report`` (issue 23, docs/supervision.md)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from cluetool.commands.common import AtOpt, FormatOpt, HomeOpt, QuietOpt, fmt_of, home_arg, now_of, quiet_of
from cluetool.output import Format

WaitOpt = Annotated[float, typer.Option("--wait", help="Seconds to wait for a store locked by another process.")]
AsOfOpt = Annotated[Optional[str], typer.Option("--as-of", help="Count as of the end of this local date, YYYY-MM-DD (default: today).", show_default=False)]


def sample(
    month: Annotated[Optional[str], typer.Option("--month", help="The month of receipt to draw from, YYYY-MM.", show_default=False)] = None,
    size: Annotated[Optional[int], typer.Option("--size", help="Draw this many clues.", show_default=False)] = None,
    rate: Annotated[Optional[str], typer.Option("--rate", help="Draw this fraction of the eligible clues (rounded up), e.g. 0.05.", show_default=False)] = None,
    redraw: Annotated[bool, typer.Option("--redraw", help="Draw a month again (needs --reason).")] = False,
    reason: Annotated[Optional[str], typer.Option("--reason", help="Why the month is drawn again (the audit log keeps its HMAC).", show_default=False)] = None,
    out: Annotated[Optional[Path], typer.Option("--out", help="Write the draw file (for the auditor) here.", show_default=False)] = None,
    show: Annotated[bool, typer.Option("--show", help="Show the month's latest draw again instead of drawing.")] = False,
    verify: Annotated[Optional[Path], typer.Option("--verify", help="Recompute this draw file offline (with --export and --key).", show_default=False)] = None,
    export: Annotated[Optional[Path], typer.Option("--export", help="The audit export to recompute the draw from.", show_default=False)] = None,
    key: Annotated[Optional[list[Path]], typer.Option("--key", help="The audit log's public key, obtained out of band (repeatable).", show_default=False)] = None,
    at: AtOpt = None,
    wait: WaitOpt = 10.0,
    quiet: QuietOpt = False,
    home: HomeOpt = None,
    fmt: FormatOpt = None,
) -> None:
    """Draw the monthly callback sample of clues whose reporter left a real name or a
    contact, seeded from the latest signed audit checkpoint, or check a draw offline.

    The draw is an audit entry; a month is drawn once unless --redraw --reason. An
    auditor recomputes it from an audit export with --verify (exit 1 on any difference).

    Example: cluetool sample --month 2026-10 --size 20 --out draw-2026-10.json
    """
    from cluetool import api
    from cluetool.output import emit, info

    quiet_of(quiet)
    if verify is not None:
        check = api.sample_verify(verify, export, list(key or []))
        emit(check, fmt_of(fmt), rows="findings", columns=["code", "message"])
        info(f"draw of {check.month}: {check.drawn} of {check.eligible} eligible; "
             + ("recomputed, the same" if check.ok else f"{len(check.findings)} finding(s)"))
        raise typer.Exit(0 if check.ok else 1)
    if show:
        result = api.sample_show(home_arg(home), month=month or "", out=out, wait=wait)
    else:
        result = api.sample_draw(home_arg(home), month=month or "", size=size, rate=rate, now=now_of(at),
                                 redraw=redraw, reason=reason, out=out, wait=wait)
    emit(result, fmt_of(fmt), rows="clues", columns=["rank", "clue", "unit", "phone"])


def stats(
    as_of: AsOfOpt = None,
    months: Annotated[int, typer.Option("--months", help="Monthly counts for this many months up to --as-of.")] = 12,
    soon: Annotated[int, typer.Option("--soon", help="due_soon: due within this many days.")] = 2,
    wait: WaitOpt = 10.0,
    quiet: QuietOpt = False,
    home: HomeOpt = None,
    fmt: FormatOpt = None,
) -> None:
    """Backlog by age per unit and region, obligations by state per unit and rule, and
    monthly counts by kind, crime target, industry and region with the change on the
    month before.

    Example: cluetool stats --as-of 2026-11-30 --format json
    """
    from cluetool import api

    quiet_of(quiet)
    result = api.stats(home_arg(home), now=now_of(None), as_of=as_of, months=months, soon_days=soon, wait=wait)
    _render_stats(result, fmt_of(fmt))


_STATS_TABLES = (
    ("backlog", "backlog (open clues by age)", ["category", "unit", "region", "region_name", "bucket", "count"]),
    ("obligations", "obligations by state", ["unit", "rule", "state", "count"]),
    ("monthly", "reports received per month", ["month", "dimension", "code", "count", "previous", "change", "change_pct"]),
)


def _render_stats(result: object, fmt: Format) -> None:
    from cluetool.output import emit, render_table

    if fmt is Format.json:
        emit(result, fmt)  # type: ignore[arg-type]
        return
    for rows, title, columns in _STATS_TABLES:
        if fmt is Format.jsonl:
            emit(result, fmt, rows=rows)  # type: ignore[arg-type]
            continue
        print(f"== {title}, as of {result.as_of} ==")  # type: ignore[attr-defined]
        render_table(getattr(result, rows), columns, sys.stdout)
        print()


def report(
    out: Annotated[Path, typer.Option("--out", help="Directory to write index.html and the charts (*.svg) into.")],
    as_of: AsOfOpt = None,
    months: Annotated[int, typer.Option("--months", help="Monthly figures for this many months up to --as-of.")] = 12,
    wait: WaitOpt = 10.0,
    quiet: QuietOpt = False,
    home: HomeOpt = None,
    fmt: FormatOpt = None,
) -> None:
    """Write the statistics as a static HTML page with bar and line charts (inline SVG; no
    JavaScript, nothing loaded from the network), for reading in any browser.

    Example: cluetool report --out reports/2026-11 --as-of 2026-11-30
    """
    from cluetool.output import emit
    from cluetool import api

    quiet_of(quiet)
    result = api.report(home_arg(home), out, now=now_of(None), as_of=as_of, months=months, wait=wait)
    emit(result, fmt_of(fmt), columns=["directory", "as_of", "charts"])
