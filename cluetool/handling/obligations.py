"""The deadline engine: what a due date needs, and keeping stored obligations up to the
rules and the calendar in force (cluetool/data/rules/).

- ``DeadlineContext`` is what computing a due date needs: the deadline rules, the
  working-day calendar (``rules/calendar.toml`` over chinese-calendar), the platform's
  time zone, and the hash of all of that (``rules_hash``).
- Intake of work never stops because of the calendar: a year no source knows is counted
  Mon–Fri, and the obligation is stored provisional with the years it depends on
  (``unknown_years``). Only a caller that asks for ``strict`` (``--strict-calendar``)
  gets ``CalendarError`` (exit 4).
- ``materialise_import_obligations`` stores the obligations whose trigger is
  ``received`` or ``imported`` for the reports of one import.
- ``ensure_rules_current`` notices that the rules in force changed (deadline rules,
  calendar overrides, the chinese-calendar data, the time zone, or this engine's
  version) and recomputes, in the caller's transaction, every open obligation and every
  provisional one already met (its due date becomes firm; its ``met``/``met_late``
  judgement stays). It writes one ``rules.changed`` audit entry with the old and new
  hashes and, per obligation whose due date or firmness changed, its id and old and new
  due dates (ids and dates only, never report content).

Where the hash in force is kept: the audit log is the record (the latest
``rules.changed`` entry) and a one-line file in the home's ``state/`` dir,
``deadline-rules``, caches ``<seq> <hash>`` of that entry. The file is written inside
the write transaction (under the store's write lock), so it always names the newest
entry any writer made; it is trusted only if the audit entry at that ``seq`` really is a
``rules.changed`` entry with that hash, so a rolled-back transaction or a store restored
from a backup falls back to scanning the audit log.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import chinese_calendar
import msgspec

from cluetool.config import Home
from cluetool.errors import InputError
from cluetool.formats.canonical import dumps as canonical_dumps
from cluetool.model.store import ReportRow
from cluetool.rules.calendar import (
    DueDate,
    Period,
    WorkCalendar,
    YearOverride,
    due_date,
    load_calendar_overrides,
    local_date,
)
from cluetool.rules.deadlines import DeadlineRule, load_deadline_rules
from cluetool.rules.deadlines import rules_hash as _rules_hash
from cluetool.rules.facts import ClueFacts, evaluate
from cluetool.rules.from_report import facts_from_json
from cluetool.rules.units import Unit, load_units
from cluetool.store import Store, Tx
from cluetool.store import handling as h
from cluetool.store.audit_entries import append_entry
from cluetool.store.audit_queries import get_entry

__all__ = [
    "DeadlineContext",
    "deadline_context",
    "ensure_rules_current",
    "home_timezone",
    "import_deadline_context",
    "judge_met",
    "materialise_import_obligations",
    "rules_current",
    "specs_for",
]

RULES_ACTION = "rules.changed"
STATE_FILE = "deadline-rules"
ENGINE_ACTOR = "cluetool"
# Part of the rules hash: bump it when how due dates are counted or stored changes, and
# every store recomputes its obligations once (2: unknown years stored per obligation).
ENGINE_VERSION = 2


@dataclass
class DeadlineContext:
    """Deadline rules, working-day calendar and time zone: what a due date needs.

    ``rules_hash`` covers all of them (and chinese-calendar's version and years), so a
    change to any is noticed by ``ensure_rules_current``. ``calendar.assume_weekdays``
    is False only for a strict caller (``--strict-calendar``).
    """

    rules: tuple[DeadlineRule, ...]
    calendar: WorkCalendar
    tz: ZoneInfo
    rules_hash: str
    deadline_rules_sha256: str
    calendar_sha256: str
    state_file: Path
    overrides: Mapping[int, YearOverride] = field(default_factory=dict)
    _due: dict[tuple[date, int, str], DueDate] = field(default_factory=dict, repr=False)

    @property
    def by_id(self) -> dict[str, DeadlineRule]:
        return {r.id: r for r in self.rules}

    @property
    def strict(self) -> bool:
        return not self.calendar.assume_weekdays

    def due(self, trigger_at: datetime, period: Period) -> DueDate:
        """The due date of a duty triggered at ``trigger_at``; memoised per local date,
        since a run computes the same few periods for many clues.

        Raises:
            CalendarError: a needed year is unknown and the context is strict.
        """
        start = local_date(trigger_at, self.tz)
        key = (start, period.days, period.unit)
        hit = self._due.get(key)
        if hit is None:
            # due_date counts from the trigger's local date; pass that date's local
            # midnight so the memo key and the computation agree.
            hit = due_date(self.calendar, datetime.combine(start, datetime.min.time(), self.tz), period, self.tz)
            self._due[key] = hit
        return hit


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InputError(f'unknown time zone "{name}" in config.toml', hint='use an IANA name such as "Asia/Shanghai"') from None


def home_timezone(home: Home) -> ZoneInfo:
    """The platform's time zone from the home's config.toml.

    Raises:
        InputError: not a known IANA time zone, or a malformed config.
    """
    return _zone(home.config().timezone)


def calendar_sha256(overrides: Mapping[int, YearOverride]) -> str:
    """The hash of the override years (what ``rules.changed`` records of the calendar)."""
    return hashlib.sha256(
        canonical_dumps([
            {"year": ov.year, "source": ov.source, "holidays": sorted(d.isoformat() for d in ov.rest_days),
             "workdays": sorted(d.isoformat() for d in ov.workdays)}
            for ov in (overrides[y] for y in sorted(overrides))
        ])
    ).hexdigest()


def deadline_context(home: Home, *, strict: bool = False, overrides: Mapping[int, YearOverride] | None = None) -> DeadlineContext:
    """Load ``rules/deadlines.toml``, ``rules/calendar.toml`` and the time zone of a home.

    ``overrides`` replaces the home's calendar.toml (``calendar add`` computes with the
    file it is about to write).

    Raises:
        InputError: a malformed rule file (file, line and field named) or time zone.
        StateError: a rule file cannot be read.
    """
    rules = tuple(load_deadline_rules(home.rules_dir / "deadlines.toml"))
    if overrides is None:
        overrides = load_calendar_overrides(home.rules_dir / "calendar.toml")
    tz_name = home.config().timezone
    tz = _zone(tz_name)
    d_hash = _rules_hash(rules)
    c_hash = calendar_sha256(overrides)
    years = sorted(WorkCalendar().known_years)
    whole = hashlib.sha256(
        canonical_dumps(
            {
                "deadlines": d_hash,
                "calendar": c_hash,
                "chinese_calendar": [getattr(chinese_calendar, "__version__", "?"), years[0], years[-1]],
                "timezone": tz_name,
                "engine": ENGINE_VERSION,
            }
        )
    ).hexdigest()
    return DeadlineContext(
        rules=rules, calendar=WorkCalendar(overrides, assume_weekdays=not strict), tz=tz, rules_hash=whole,
        deadline_rules_sha256=d_hash, calendar_sha256=c_hash, state_file=home.state_dir / STATE_FILE,
        overrides=overrides,
    )


def specs_for(
    ctx: DeadlineContext,
    facts: ClueFacts,
    trigger: str,
    trigger_at: datetime,
    *,
    handler: Unit | None = None,
) -> list[tuple[DeadlineRule, DueDate]]:
    """``(rule, due)`` of every duty ``trigger`` creates for the clue.

    The same selection as ``cluetool.rules.deadlines.obligations_for`` (the rule's
    trigger, its predicate, and no ``done_to`` duty owed to the handler's own type),
    with due dates memoised in the context.

    Raises:
        CalendarError: a needed year is unknown and the context is strict.
    """
    out = []
    for rule in ctx.rules:
        if rule.when != trigger or not evaluate(rule.applies, facts):
            continue
        if handler is not None and rule.done_to is not None and handler.type == rule.done_to:
            continue
        out.append((rule, ctx.due(trigger_at, rule.within)))
    return out


def judge_met(due: date, met_at: datetime, tz: ZoneInfo) -> str:
    """``met`` if met on or before the due date (local), else ``met_late``."""
    return "met" if local_date(met_at, tz) <= due else "met_late"


def import_deadline_context(tx: Tx, *, home: Home, imported_at: datetime) -> DeadlineContext:
    """The context an import's obligations are computed with (unknown years counted as
    Mon–Fri, stored provisional), after bringing the store up to the rules in force
    (``ensure_rules_current``, which may write ``rules.changed`` in ``tx``).

    Raises:
        InputError: a malformed rule file (the import then stores nothing).
    """
    ctx = deadline_context(home)
    ensure_rules_current(tx, ctx, home=home, now=imported_at)
    return ctx


def materialise_import_obligations(
    tx: Tx, rows: Sequence[ReportRow], *, home: Home, imported_at: datetime, facts: Sequence[ClueFacts] | None = None,
    report_ids: Sequence[int] | None = None, ctx: DeadlineContext | None = None,
) -> int:
    """Store the ``received`` / ``imported`` obligations of freshly imported reports, in
    the import's transaction; the number stored.

    Never blocked by the calendar: unknown years are counted as Mon–Fri and the
    obligation is stored provisional. Also brings the store up to the rules in force
    (``ensure_rules_current``) first, so that old and new obligations agree.

    ``facts`` (one per row) saves decoding the reports again when the caller has them;
    ``report_ids`` (one per row, as ``insert_reports`` returned them) saves looking
    each report up by its submission id. ``ctx`` from ``import_deadline_context``
    lets an import store its obligations chunk by chunk with one context.

    Raises:
        InputError: a malformed rule file (the import then stores nothing).
    """
    if ctx is None:
        ctx = import_deadline_context(tx, home=home, imported_at=imported_at)
    if not any(r.when in ("received", "imported") for r in ctx.rules):
        return 0
    new: list[h.NewObligation] = []
    if facts is None:
        facts = [facts_from_json(row.report_json) for row in rows]
    ids: Sequence[int | None] = [None] * len(rows) if report_ids is None else report_ids
    for row, fact, report_id in zip(rows, facts, ids, strict=True):
        for trigger, at in (("received", row.received_at), ("imported", imported_at)):
            for rule, due in specs_for(ctx, fact, trigger, at):
                new.append(h.NewObligation(submission_id=row.submission_id, rule_id=rule.id, due=due.due,
                                           unknown_years=due.unknown_years, created_at=imported_at,
                                           report_id=report_id))
    return h.insert_obligations(tx, new)


# -- the rules in force ------------------------------------------------------------------


def _read_state(path: Path) -> tuple[int, str] | None:
    try:
        text = path.read_text(encoding="ascii").split()
        return int(text[0]), text[1]
    except (OSError, ValueError, IndexError, UnicodeDecodeError):
        return None


def _write_state(path: Path, seq: int, digest: str) -> None:
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as f:
        f.write(f"{seq} {digest}\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def _rules_entry(raw: bytes) -> str | None:
    """The ``new`` hash of a ``rules.changed`` entry, or None for any other entry."""
    try:
        doc = msgspec.json.decode(raw)
    except msgspec.DecodeError:
        return None
    if not isinstance(doc, dict) or doc.get("action") != RULES_ACTION:
        return None
    new = (doc.get("details") or {}).get("new")
    return new if isinstance(new, str) else None


# Canonical JSON sorts keys, so every rules entry starts with the same bytes.
_ENTRY_PREFIX = b'{"action":"' + RULES_ACTION.encode() + b'"'


def recorded_rules_hash(db: Store | Tx, state_file: Path) -> str | None:
    """The hash of the rules the store's obligations were last computed under (None
    before the first ``rules.changed`` entry). See the module docstring."""
    cached = _read_state(state_file)
    if cached is not None:
        entry = get_entry(db, cached[0])
        if entry is not None and _rules_entry(entry.entry) == cached[1]:
            # The cache names the newest rules entry any writer made (it is written under
            # the write lock), and this store holds that entry: it is the one in force.
            return cached[1]
    raw = h.latest_entry_with_prefix(db, _ENTRY_PREFIX)
    return None if raw is None else _rules_entry(raw)


def rules_current(db: Store | Tx, ctx: DeadlineContext) -> bool:
    """True if the store's obligations were computed under ``ctx``'s rules."""
    return recorded_rules_hash(db, ctx.state_file) == ctx.rules_hash


def ensure_rules_current(
    tx: Tx, ctx: DeadlineContext, *, home: Home, now: datetime, actor: str = ENGINE_ACTOR,
    units: Mapping[str, Unit] | None = None,
) -> int | None:
    """Recompute obligations if the rules in force changed; None if they did not, else
    the number of obligations touched. Writes one ``rules.changed`` entry in ``tx``.

    Per open obligation: its rule gone, its trigger no longer the rule's, its predicate
    no longer true, or a ``done_to`` duty now owed to its own holder's type: cancelled.
    Otherwise the due date is counted again from the same trigger. A provisional
    obligation already met gets its due date counted again (and firm, when the years it
    depends on are known now); its ``met``/``met_late`` judgement stays.

    Raises:
        CalendarError: a recomputed due date needs an unknown year and ``ctx`` is strict
            (the transaction then rolls back).
        InputError: units.toml is malformed (only read when a rule has ``done_to``).
    """
    old = recorded_rules_hash(tx, ctx.state_file)
    if old == ctx.rules_hash:
        return None
    # Under the audit lock from here, and read again: another writer (an importer of
    # another source, on PostgreSQL) may have brought the store up to these rules since.
    tx.lock("audit")
    old = recorded_rules_hash(tx, ctx.state_file)
    if old == ctx.rules_hash:
        return None
    changes: list[h.DueChange] = []
    cancelled: list[int] = []
    if old is not None:
        if units is None and any(r.done_to is not None for r in ctx.rules):
            units = load_units(home.rules_dir / "units.toml")
        changes, cancelled = _recompute(tx, ctx, units or {})
        h.cancel_obligations(tx, cancelled)
        h.update_due(tx, changes)
    entry = append_entry(
        tx, at=now, actor=actor, action=RULES_ACTION, object="rules:deadlines",
        details={
            "old": old, "new": ctx.rules_hash, "deadline_rules_sha256": ctx.deadline_rules_sha256,
            "calendar_sha256": ctx.calendar_sha256, "recomputed": len(changes) + len(cancelled),
            "cancelled": len(cancelled), "cancelled_ids": cancelled,
            # "ID OLD NEW" per obligation whose due date or firmness changed; the ids of
            # those still provisional after it are listed apart.
            "changes": [f"{c.id} {c.old_due.isoformat()} {c.due.isoformat()}" for c in changes],
            "still_provisional": [c.id for c in changes if c.unknown_years],
        },
    )
    _write_state(ctx.state_file, entry.seq, ctx.rules_hash)
    return len(changes) + len(cancelled)


def _recompute(tx: Tx, ctx: DeadlineContext, units: Mapping[str, Unit]) -> tuple[list[h.DueChange], list[int]]:
    by_id = ctx.by_id
    cancel: list[int] = []
    changes: list[h.DueChange] = []
    facts_cache: tuple[str, ClueFacts] | None = None
    for ob, received_at, imported_at, raw in list(h.iter_recomputable(tx)):
        rule = by_id.get(ob.rule_id)
        is_open = ob.state == "open"
        if rule is None:
            if is_open:
                cancel.append(ob.id)
            continue
        if rule.when == "received":
            at: datetime | None = received_at
        elif rule.when == "imported":
            at = imported_at
        else:
            at = ob.trigger_at if ob.trigger_event == rule.when else None
        if at is None:
            if is_open:
                cancel.append(ob.id)
            continue
        if is_open:
            if facts_cache is None or facts_cache[0] != ob.submission_id:
                facts_cache = (ob.submission_id, facts_from_json(raw))
            if not evaluate(rule.applies, facts_cache[1]):
                cancel.append(ob.id)
                continue
            holder = units.get(ob.unit) if ob.unit else None
            if holder is not None and rule.done_to is not None and holder.type == rule.done_to:
                cancel.append(ob.id)
                continue
        due = ctx.due(at, rule.within)
        if (due.due, due.unknown_years) != (ob.due, ob.unknown_years):
            changes.append(h.DueChange(id=ob.id, old_due=ob.due, due=due.due, unknown_years=due.unknown_years))
    return changes, cancel
