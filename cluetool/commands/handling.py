"""``cluetool assign``, ``record``, ``deadlines`` and ``ledger`` (cluetool/data/rules/)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Optional

import typer

from cluetool.commands.common import (
    AtOpt,
    FormatOpt,
    HomeOpt,
    QuietOpt,
    StrictCalendarOpt,
    calendar_notice,
    fmt_of,
    home_arg,
    now_of,
    quiet_of,
)

WaitOpt = Annotated[float, typer.Option("--wait", help="Seconds to wait for a store locked by another process.")]
# Counting an unknown year as Mon-Fri is the default now; the old flag is still accepted.
AssumeOpt = Annotated[bool, typer.Option("--assume-weekdays", hidden=True, help="The default; kept for old scripts.")]


def _now() -> datetime:
    return now_of(None)


def assign(
    clue: Annotated[Optional[str], typer.Argument(help="Clue id or unique prefix (>= 8 chars), to assign by hand.", show_default=False)] = None,
    unit: Annotated[Optional[str], typer.Argument(help="Unit id from rules/units.toml.", show_default=False)] = None,
    reason: Annotated[Optional[str], typer.Option("--reason", help="Why, when assigning by hand (stored; only its sha256 is audited).", show_default=False)] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show what the rules would do; change nothing.")] = False,
    at: AtOpt = None,
    strict_calendar: StrictCalendarOpt = False,
    assume_weekdays: AssumeOpt = False,
    wait: WaitOpt = 10.0,
    quiet: QuietOpt = False,
    home: HomeOpt = None,
    fmt: FormatOpt = None,
) -> None:
    """Assign unassigned clues by rules/assignment.toml (first match wins), or one clue by hand.

    Clues no rule matches are listed and stay unassigned (exit 1, so cron notices);
    reassigning by hand records the previous unit. A due date reaching into a year no
    calendar source knows is counted Mon-Fri and marked provisional (exit 4 only with
    --strict-calendar).

    Example: cluetool assign 0025e529 bj.police --reason "gang clue, police lead"
    """
    from cluetool import api
    from cluetool.output import emit

    quiet_of(quiet)
    now = now_of(at)
    report = api.assign(home_arg(home), clue, unit, now=now, reason=reason, dry_run=dry_run,
                        strict_calendar=strict_calendar, wait=wait)
    calendar_notice(home, now)
    emit(report, fmt_of(fmt), rows="results", columns=["clue", "status", "unit", "rule", "previous_unit", "kind", "region"])
    raise typer.Exit(0 if report.ok else 1)


def record(
    clue: Annotated[str, typer.Argument(help="Clue id or unique prefix (>= 8 chars).", show_default=False)],
    event: Annotated[str, typer.Argument(help="accepted, contacted, transferred, filed, notified, verified, reviewed, closed, feedback or duplicate.", show_default=False)],
    at: Annotated[Optional[str], typer.Option("--at", help="When it happened, RFC 3339 with offset (default: now).", show_default=False)] = None,
    unit: Annotated[Optional[str], typer.Option("--unit", help="The unit acting (default: the clue's holder); required for reviewed.", show_default=False)] = None,
    to: Annotated[Optional[str], typer.Option("--to", help="Receiving unit of transferred / notified.", show_default=False)] = None,
    channel: Annotated[Optional[str], typer.Option("--channel", help="contacted: phone, sms or in_person.", show_default=False)] = None,
    of: Annotated[Optional[str], typer.Option("--of", help="duplicate: the earlier clue.", show_default=False)] = None,
    note: Annotated[Optional[str], typer.Option("--note", help="Free text (stored; only its sha256 is audited).", show_default=False)] = None,
    strict_calendar: StrictCalendarOpt = False,
    assume_weekdays: AssumeOpt = False,
    wait: WaitOpt = 10.0,
    quiet: QuietOpt = False,
    home: HomeOpt = None,
    fmt: FormatOpt = None,
) -> None:
    """Record a handling event on a clue; impossible sequences are refused (exit 2).

    Example: cluetool record 0025e529 transferred --to bj.procuratorate --at 2026-11-03T09:00:00+08:00
    """
    from cluetool import api
    from cluetool.output import emit

    quiet_of(quiet)
    now = _now()
    done = api.record(home_arg(home), clue, event, now=now, at=at, unit=unit, to=to, channel=channel, of=of,
                      note=note, strict_calendar=strict_calendar, wait=wait)
    calendar_notice(home, now if at is None else now_of(at))
    emit(done, fmt_of(fmt), columns=["event_id", "clue", "event", "at", "unit", "to_unit", "stage"])


def deadlines(
    as_of: Annotated[Optional[str], typer.Option("--as-of", help="Judge states as of this local date, YYYY-MM-DD (default: today).", show_default=False)] = None,
    soon: Annotated[int, typer.Option("--soon", help="due_soon: due within this many days.")] = 2,
    state: Annotated[Optional[list[str]], typer.Option("--state", help="Only this state (repeatable): open, due_soon, overdue, met, met_late.", show_default=False)] = None,
    unit: Annotated[Optional[str], typer.Option("--unit", help="Only duties owed by this unit.", show_default=False)] = None,
    rule: Annotated[Optional[str], typer.Option("--rule", help="Only this deadline rule.", show_default=False)] = None,
    fail_on: Annotated[Optional[str], typer.Option("--fail-on", help="Exit 1 when any obligation is overdue (or due_soon).", show_default=False)] = None,
    strict_calendar: Annotated[bool, typer.Option("--strict-calendar", help="Exit 4 while any unmet obligation is provisional (a year's calendar unknown).")] = False,
    assume_weekdays: AssumeOpt = False,
    wait: WaitOpt = 10.0,
    quiet: QuietOpt = False,
    home: HomeOpt = None,
    fmt: FormatOpt = None,
) -> None:
    """List obligations with due date and state (default: every unmet one).

    A due date counted across a year no calendar source knows is shown as provisional
    with the year it waits for; --strict-calendar exits 4 while there is one.

    Example: cluetool deadlines --as-of 2026-11-24 --fail-on overdue
    """
    from cluetool import api
    from cluetool.output import emit

    quiet_of(quiet)
    now = _now()
    report = api.deadlines(home_arg(home), now=now, as_of=as_of, soon_days=soon,
                           states=state or (), unit=unit, rule=rule, fail_on=fail_on,
                           strict_calendar=strict_calendar, wait=wait)
    calendar_notice(home, now if as_of is None else _as_of_noon(as_of))
    emit(report, fmt_of(fmt), rows="obligations", columns=["clue", "rule", "unit", "due", "state"])
    raise typer.Exit(1 if report.failed else 0)


def _as_of_noon(as_of: str) -> datetime:
    # The notice looks at the date judged: its noon in China (04:00 UTC).
    from cluetool import api

    day = api.parse_date(as_of, "--as-of")
    assert day is not None
    return now_of(f"{day.isoformat()}T04:00:00+00:00")


def ledger(
    unit: Annotated[Optional[str], typer.Option("--unit", help="Only hand-overs to or from this unit.", show_default=False)] = None,
    direction: Annotated[Optional[str], typer.Option("--direction", help="in or out (needs --unit).", show_default=False)] = None,
    date_from: Annotated[Optional[str], typer.Option("--from", help="First local date, YYYY-MM-DD.", show_default=False)] = None,
    date_to: Annotated[Optional[str], typer.Option("--to", help="Last local date, YYYY-MM-DD (inclusive).", show_default=False)] = None,
    wait: WaitOpt = 10.0,
    home: HomeOpt = None,
    fmt: FormatOpt = None,
) -> None:
    """The transfer ledger: assignments and transfers, both ends, from the events.

    Example: cluetool ledger --unit bj.police --direction in --from 2026-11-01 --to 2026-11-30
    """
    from cluetool import api
    from cluetool.output import emit

    report = api.ledger(home_arg(home), unit=unit, direction=direction, date_from=date_from,
                        date_to=date_to, wait=wait)
    emit(report, fmt_of(fmt), rows="entries", columns=["at", "event", "clue", "from_unit", "to_unit", "direction"])


COMMANDS = {"assign": assign, "record": record, "deadlines": deadlines, "ledger": ledger}
