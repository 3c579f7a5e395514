"""Deadline rules from ``rules/deadlines.toml`` and the obligations they create (cluetool/data/rules/).

A rule says: when ``when`` happens to a clue that ``applies``, the event ``done_by`` is
owed ``within`` a period counted from the trigger's local date (the trigger day is not
counted; see ``cluetool.rules.calendar``)::

    [[deadline]]
    id = "contact_reporter"
    when = "assigned"                 # received | imported | assigned | an event name
    applies = "reporter.has_contact"  # a predicate, see cluetool.rules.facts
    within = { days = 30, unit = "calendar" }
    done_by = "contacted"
    source = "12337 platform rules: reporter contacted within 30 days of receipt"

Triggers: ``received`` is the report's own ``received_at``; ``imported`` is when it entered
the store; ``assigned`` is the handling unit's receipt of the clue; any other trigger is
an event name from ``EVENTS``. ``done_by`` is an event name or ``assigned``.

What completes an obligation, beyond the event name, is data too:

- ``done_to = "police"``: the event's ``--to`` unit must be of this type (for
  ``transferred`` and ``notified``). Such a duty is about handing the clue to another
  kind of organ, so it is not created when the unit holding the clue (``handler`` in
  ``obligations_for``) is already of that type.
- ``done_count = 2`` and ``distinct = "unit"``: that many ``reviewed`` events by
  different ``--unit`` values. This is how "verification results are reviewed twice, by
  two different units" is written.
- ``before = "closed"``: the duty must be met before that event is recorded; the
  ``record`` command enforces it.

``obligations_for`` lists the duties a trigger creates, with due dates; ``completed_at``
finds when a clue's recorded events met one; ``judge`` turns a due date and that time
into a state: ``open``, ``due_soon``, ``overdue``, ``met``, ``met_late``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

import msgspec

from cluetool.rules.calendar import DEFAULT_TIMEZONE, Period, WorkCalendar, due_date, local_date
from cluetool.rules.facts import ClueFacts, Predicate, PredicateError, evaluate, parse_predicate
from cluetool.rules.toml_util import ID_PATTERN, TomlDoc, convert, load_toml, rules_hash
from cluetool.rules.units import Unit, UnitType

__all__ = [
    "DONE_EVENTS",
    "EVENTS",
    "EVENT_OPTIONS",
    "MAX_PERIOD_DAYS",
    "STATES",
    "TRIGGERS",
    "DeadlineRule",
    "EventFact",
    "ObligationSpec",
    "State",
    "completed_at",
    "judge",
    "load_deadline_rules",
    "obligations_for",
    "parse_deadline_rules",
    "rules_hash",
]

#: Handling events a user records with ``record CLUE EVENT`` (the issue's list).
EVENTS: tuple[str, ...] = (
    "accepted",
    "contacted",
    "transferred",
    "filed",
    "notified",
    "verified",
    "reviewed",
    "closed",
    "feedback",
    "duplicate",
)

#: The option each event carries: ``transferred --to UNIT``, ``reviewed --unit UNIT``…
EVENT_OPTIONS: dict[str, str] = {"transferred": "to", "notified": "to", "reviewed": "unit", "duplicate": "of"}

#: What can start a deadline: the report's receipt, its import, its assignment, an event.
TRIGGERS: tuple[str, ...] = ("received", "imported", "assigned", *EVENTS)

#: What can meet one: an assignment or an event.
DONE_EVENTS: tuple[str, ...] = ("assigned", *EVENTS)

#: Longer periods are refused as typos (a day count meant for something else).
MAX_PERIOD_DAYS = 1000

State = Literal["open", "due_soon", "overdue", "met", "met_late"]
STATES: tuple[str, ...] = ("open", "due_soon", "overdue", "met", "met_late")


class DeadlineRule(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """One deadline rule, parsed and checked; ``applies`` is in normal form (facts.Predicate)."""

    id: str
    when: str
    applies: Predicate
    within: Period
    done_by: str
    source: str
    done_to: UnitType | None = None
    done_count: int = 1
    distinct: Literal["unit"] | None = None
    before: str | None = None


class ObligationSpec(msgspec.Struct, frozen=True, kw_only=True):
    """A duty created by a trigger: which rule, by when (a local date), and from what.

    ``provisional`` is true when the due date rests on a working-day calendar that is not
    published yet; ``unknown_years`` names those years.
    """

    rule_id: str
    due: date
    provisional: bool
    trigger: str
    trigger_at: datetime
    unknown_years: tuple[int, ...] = ()


class EventFact(msgspec.Struct, frozen=True, kw_only=True):
    """A recorded event as the rules see it: name, time, and its ``--to`` / ``--unit``."""

    name: str
    at: datetime
    to: str | None = None
    unit: str | None = None


class _RawDeadline(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    id: Annotated[str, msgspec.Meta(pattern=ID_PATTERN, max_length=64)]
    when: str
    applies: str | list[Any] | dict[str, Any] = "always"
    within: Period
    done_by: str
    source: Annotated[str, msgspec.Meta(min_length=1)]
    done_to: UnitType | None = None
    done_count: Annotated[int, msgspec.Meta(ge=1, le=10)] = 1
    distinct: Literal["unit"] | None = None
    before: str | None = None


class _DeadlinesFile(msgspec.Struct, forbid_unknown_fields=True):
    deadline: list[dict[str, Any]] = msgspec.field(default_factory=list)


def load_deadline_rules(path: Path) -> list[DeadlineRule]:
    """Read ``deadlines.toml``.

    Raises:
        InputError: not TOML, an unknown or mistyped field, an unknown trigger, event or
            predicate, a bad period, a duplicate id (the message names file, line and field).
        StateError: the file exists but cannot be read.
    """
    return parse_deadline_rules(load_toml(path, "deadline rules"))


def parse_deadline_rules(doc: TomlDoc) -> list[DeadlineRule]:
    """The rules of an already loaded document (see ``load_deadline_rules``).

    Raises:
        InputError: as ``load_deadline_rules``.
    """
    top = convert(doc, doc.data, _DeadlinesFile)
    rules: list[DeadlineRule] = []
    seen: set[str] = set()
    for index, raw in enumerate(top.deadline):
        rules.append(_parse_rule(doc, ("deadline", index), raw, seen))
    return rules


def _parse_rule(doc: TomlDoc, where: tuple[str | int, ...], raw: dict[str, Any], seen: set[str]) -> DeadlineRule:
    r = convert(doc, raw, _RawDeadline, where)
    if r.id in seen:
        raise doc.error((*where, "id"), f'rule "{r.id}" is listed twice')
    seen.add(r.id)
    if r.when not in TRIGGERS:
        raise doc.error((*where, "when"), f'unknown trigger "{r.when}"; use one of {", ".join(TRIGGERS)}')
    if r.done_by not in DONE_EVENTS:
        raise doc.error((*where, "done_by"), f'unknown event "{r.done_by}"; use one of {", ".join(DONE_EVENTS)}')
    if r.done_by == r.when:
        raise doc.error((*where, "done_by"), f'"{r.done_by}" cannot both start and meet the duty')
    if r.within.days > MAX_PERIOD_DAYS:
        raise doc.error((*where, "within", "days"), f"a period longer than {MAX_PERIOD_DAYS} days")
    try:
        applies = parse_predicate(r.applies)
    except PredicateError as exc:
        raise doc.error((*where, "applies", *exc.where), exc.message) from None
    option = EVENT_OPTIONS.get(r.done_by)
    if r.done_to is not None and option != "to":
        raise doc.error((*where, "done_to"), f'"{r.done_by}" has no --to unit; done_to needs transferred or notified')
    if r.distinct == "unit":
        if option != "unit":
            raise doc.error((*where, "distinct"), f'"{r.done_by}" has no --unit; distinct = "unit" needs reviewed')
        if r.done_count < 2:
            raise doc.error((*where, "distinct"), "distinct units need done_count of 2 or more")
    if r.before is not None:
        if r.before not in EVENTS:
            raise doc.error((*where, "before"), f'unknown event "{r.before}"; use one of {", ".join(EVENTS)}')
        if r.before in (r.when, r.done_by):
            raise doc.error((*where, "before"), f'"{r.before}" is the rule\'s own trigger or completing event')
    return DeadlineRule(
        id=r.id,
        when=r.when,
        applies=applies,
        within=r.within,
        done_by=r.done_by,
        source=r.source,
        done_to=r.done_to,
        done_count=r.done_count,
        distinct=r.distinct,
        before=r.before,
    )


def obligations_for(
    rules: Sequence[DeadlineRule],
    facts: ClueFacts,
    trigger: str,
    trigger_at: datetime,
    cal: WorkCalendar,
    tz: str | ZoneInfo = DEFAULT_TIMEZONE,
    *,
    handler: Unit | None = None,
) -> list[ObligationSpec]:
    """The duties that ``trigger`` (at ``trigger_at``) creates for the clue, in rule order.

    ``handler`` is the unit holding the clue, if any: a rule whose ``done_to`` is its own
    type (a transfer to police, owed by the police) creates nothing.

    Raises:
        ValueError: ``trigger`` is not a known trigger, or ``trigger_at`` is naive.
        CalendarError: a needed calendar year is unknown (and weekdays are not assumed).
        InputError: ``tz`` is not a known time zone.
    """
    if trigger not in TRIGGERS:
        raise ValueError(f"unknown trigger {trigger!r}")
    out: list[ObligationSpec] = []
    for rule in rules:
        if rule.when != trigger or not evaluate(rule.applies, facts):
            continue
        if handler is not None and rule.done_to is not None and handler.type == rule.done_to:
            continue
        due = due_date(cal, trigger_at, rule.within, tz)
        out.append(
            ObligationSpec(
                rule_id=rule.id,
                due=due.due,
                provisional=due.provisional,
                trigger=trigger,
                trigger_at=trigger_at,
                unknown_years=due.unknown_years,
            )
        )
    return out


def completed_at(
    rule: DeadlineRule, events: Iterable[EventFact], since: datetime, units: Mapping[str, Unit]
) -> datetime | None:
    """When the clue's ``events`` met ``rule``'s duty (triggered at ``since``), or None.

    Only events at or after the trigger count. With ``done_to``, the event's ``to`` must
    be a known unit of that type; with ``distinct = "unit"``, only the first event of each
    ``unit`` counts. The answer is the time of the event that completed the count.
    """
    count = 0
    units_seen: set[str] = set()
    for event in sorted(events, key=lambda e: e.at):
        if event.name != rule.done_by or event.at < since:
            continue
        if rule.done_to is not None:
            target = units.get(event.to) if event.to is not None else None
            if target is None or target.type != rule.done_to:
                continue
        if rule.distinct == "unit":
            if event.unit is None or event.unit in units_seen:
                continue
            units_seen.add(event.unit)
        count += 1
        if count >= rule.done_count:
            return event.at
    return None


def judge(
    due: date, met_at: datetime | None, as_of: date, soon_days: int, tz: str | ZoneInfo = DEFAULT_TIMEZONE
) -> State:
    """The state of a duty due on ``due`` (a local date), as seen on the local date ``as_of``.

    Met on or before the due date (in local time) is ``met``, after it ``met_late``. Not
    met: ``overdue`` once ``as_of`` is past the due date (the due day itself is still in
    time), ``due_soon`` within ``soon_days`` of it, otherwise ``open``.

    Raises:
        ValueError: ``soon_days`` is negative, or ``met_at`` is naive.
        InputError: ``tz`` is not a known time zone.
    """
    if soon_days < 0:
        raise ValueError(f"soon_days must not be negative, not {soon_days}")
    if met_at is not None:
        return "met" if local_date(met_at, tz) <= due else "met_late"
    if as_of > due:
        return "overdue"
    if (due - as_of).days <= soon_days:
        return "due_soon"
    return "open"
