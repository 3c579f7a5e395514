"""What every handling command loads: units, rules, and the clue named
on the command line (cluetool/store/migrations.py, cluetool/data/rules/)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from cluetool.config import Home
from cluetool.errors import InputError
from cluetool.handling import obligations as ob
from cluetool.rules.assignment import AssignmentRules, load_assignment_rules
from cluetool.rules.toml_util import rules_hash
from cluetool.rules.units import Unit, load_units
from cluetool.store import Store, Tx
from cluetool.store import handling as h
from cluetool.store import queries as q
from cluetool.store.audit_entries import append_entry

ACTOR = "cluetool-handling"


def units_path(home: Home) -> Path:
    return home.rules_dir / "units.toml"


def load_home_units(home: Home) -> dict[str, Unit]:
    """``rules/units.toml`` of the home.

    Raises:
        InputError: malformed (file, line and field named) or missing.
    """
    return load_units(units_path(home))


def load_home_assignment(home: Home, units: dict[str, Unit]) -> tuple[AssignmentRules, str]:
    """``rules/assignment.toml`` checked against the units, and its hash.

    Raises:
        InputError: malformed (file, line and field named) or missing.
    """
    rules = load_assignment_rules(home.rules_dir / "assignment.toml", units)
    return rules, rules_hash(list(rules))


def require_unit(units: dict[str, Unit], unit_id: str, option: str) -> Unit:
    """The unit named by a command-line option.

    Raises:
        InputError: not a unit of units.toml.
    """
    unit = units.get(unit_id)
    if unit is None:
        raise InputError(f'{option}: unknown unit "{unit_id}"', hint="units are listed in rules/units.toml")
    return unit


def sync(tx: Tx, units: dict[str, Unit], *, now: datetime) -> None:
    """Bring the ``units`` table up to units.toml, with an audit entry when it changed."""
    changed = h.sync_units(tx, units, now=now)
    if changed:
        append_entry(tx, at=now, actor=ACTOR, action="units.changed", object="rules:units",
                     details={"units_sha256": rules_hash(units), "changed": sorted(changed)})


def resolve(db: Store | Tx, clue: str) -> str:
    """The submission id a CLUE argument names (a unique prefix of ≥ 8 characters).

    Raises:
        InputError: too short, unknown, or ambiguous (candidates listed).
    """
    return q.resolve_clue_prefix(db, clue)


def utc(at: datetime) -> datetime:
    """``at`` in UTC.

    Raises:
        InputError: ``at`` has no time zone (an ambiguous instant).
    """
    if at.tzinfo is None or at.utcoffset() is None:
        raise InputError(f"time {at.isoformat()} has no time zone", hint="write it as 2026-03-02T09:00:00+08:00 or with Z")
    return at.astimezone(timezone.utc)


@dataclass(frozen=True)
class Loaded:
    """Units and the deadline context of a home, loaded once per command."""

    units: dict[str, Unit]
    ctx: ob.DeadlineContext


def load(home: Home, *, strict: bool) -> Loaded:
    """Units and deadline rules of the home.

    Raises:
        InputError: a malformed rule file or time zone.
    """
    return Loaded(units=load_home_units(home), ctx=ob.deadline_context(home, strict=strict))
