"""``stats``' obligation counts: per unit and rule, how many obligations were in each
state as of a date (issue 23; docs/supervision.md, "What stats counts").

The rules, for the obligations created before ``cutoff`` (UTC text: the end of the local
date ``as_of``): ``cancelled`` as stored; ``met`` and ``met_late`` as stored when met
before the cutoff; unmet (open, or met at or after the cutoff) by due date: ``overdue``
before ``as_of``, ``due_soon`` up to ``soon``, ``open`` later; a met row without a met
time is neither.

Two ways to the same counts:

- ``_scan``: one pass over the obligations created before the cutoff, testing each. It
  is the plain statement, run as it is on PostgreSQL (whose planner picks its own plan)
  and on SQLite when the cutoff is not late in the obligations' creation times.
- ``_ranges`` (SQLite, a later cutoff): SQLite counts an index range without testing the
  rows in it, and testing a row costs several times more than stepping over it. So,
  per (rule, unit) found by a loose index scan of ``obligations_rule_unit_met`` (rule,
  unit, state, met time, due date, creation time; schema version 9), each state is a
  range of that index: cancelled; met (and met late) with a met time before the cutoff;
  open without a met time and due before ``as_of``, up to ``soon``, or later. The
  obligations those ranges count but were created at or after the cutoff are taken off
  again, read from ``obligations_created`` (none for an as-of date of today: nothing is
  created in the future). The unmet rows that no range holds (met at or after the
  cutoff, or open with a met time) are tested one by one: for a recent cutoff, few.

``tests/test_stats_reference.py`` compares both with a row-by-row computation, for as-of
dates before, inside and after the data.
"""

from __future__ import annotations

from datetime import datetime
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cluetool.store.db import Store, Tx

    Db = Store | Tx

STATES = ("overdue", "due_soon", "open", "met", "met_late", "cancelled")
#: ``_ranges`` when at least this share of the obligations' creation-time span lies
#: before the cutoff (an estimate, for speed only: every way gives the same counts).
#: Measured at 3,000,000 obligations: a range steps over a row in about 0.15 us, the
#: scan tests one in about 0.35 us in index order, and sorting adds about as much again;
#: the rows ``_ranges`` takes off again are sorted.
RANGES_FROM = 0.8
#: ``overdue_rows`` finds the obligations met after the cutoff as ranges of met times
#: from this share on; below it (an early as-of date: most were met after it, few due
#: before it), through ``obligations_state_due``, the due dates before ``as_of``.
MET_LATER_RANGES_FROM = 0.15
#: Below this share the scan reads the rows created before the cutoff and sorts them;
#: above it, every row in (rule, unit, state) order.
SORT_BELOW = 0.3

Counts = dict[tuple[str | None, str], dict[str, int]]


def obligation_states(db: Db, *, cutoff: str, as_of: str, soon: str) -> list[tuple[str | None, str, str, int]]:
    """``(unit, rule, state, count)`` of the obligations created before ``cutoff``, judged
    on the local date ``as_of`` with ``due_soon`` up to ``soon`` (see the module
    docstring); states with no obligation are left out."""
    store = getattr(db, "store", db)
    counts: Counts = {}
    if getattr(store, "backend", "sqlite") != "sqlite":
        _scan(db, counts, cutoff=cutoff, as_of=as_of, soon=soon, index="")
    else:
        share = _created_before(db, cutoff)
        if share == 0.0:
            return []
        if share >= RANGES_FROM:
            _ranges(db, counts, cutoff=cutoff, as_of=as_of, soon=soon)
        else:  # the rows created before the cutoff, sorted, or all of them in group order
            index = "obligations_created" if share < SORT_BELOW else "obligations_rule_unit_met"
            _scan(db, counts, cutoff=cutoff, as_of=as_of, soon=soon, index=f" INDEXED BY {index}")
    return [(unit, rule, state, n) for (unit, rule), per in counts.items() for state, n in per.items() if n]


def _created_before(db: Db, cutoff: str) -> float:
    """About which share of the obligations was created before ``cutoff``: the share of
    the span of their creation times (two probes of ``obligations_created``); 0.0 when
    none was."""
    lo, hi = db.execute("SELECT (SELECT min(created_at) FROM obligations),"
                        " (SELECT max(created_at) FROM obligations)").fetchone()
    if lo is None or cutoff <= lo:
        return 0.0
    return _share_before(lo, hi, cutoff)


def _share_before(lo: str, hi: str, cutoff: str) -> float:
    """The share of the span ``[lo, hi]`` (stored times) before ``cutoff``."""
    try:
        a, b, c = (datetime.fromisoformat(t.replace("Z", "+00:00")) for t in (lo, hi, cutoff))
    except ValueError:  # not a stored time: either way gives the same counts
        return 1.0
    span = (b - a).total_seconds()
    return 1.0 if span <= 0 else min(1.0, (c - a).total_seconds() / span)


def _add(counts: Counts, unit: str | None, rule: str, state: str, n: int) -> None:
    per = counts.setdefault((unit, rule), dict.fromkeys(STATES, 0))
    per[state] += n


def _scan(db: Db, counts: Counts, *, cutoff: str, as_of: str, soon: str, index: str) -> None:
    # Positional parameters only (the PostgreSQL adapter translates ``?``). Unmet as of
    # the cutoff: open, or met (late) at or after it; a met row without a time is neither.
    unmet = "(state = 'open' OR met_at >= ?)"
    cur = db.execute(
        "SELECT unit, rule_id, state, count(*), count(CASE WHEN met_at < ? THEN 1 END),"
        f" count(CASE WHEN {unmet} AND due_date < ? THEN 1 END),"
        f" count(CASE WHEN {unmet} AND due_date >= ? AND due_date <= ? THEN 1 END),"
        f" count(CASE WHEN {unmet} AND due_date > ? THEN 1 END)"
        f" FROM obligations{index} WHERE created_at < ? GROUP BY rule_id, unit, state",
        (cutoff, cutoff, as_of, cutoff, as_of, soon, cutoff, soon, cutoff),
    )
    for unit, rule, state, total, before, overdue, due_soon, later in cur.fetchall():
        if state == "cancelled":
            _add(counts, unit, rule, "cancelled", int(total))
            continue
        if state in ("met", "met_late"):
            _add(counts, unit, rule, state, int(before))
        _add(counts, unit, rule, "overdue", int(overdue))
        _add(counts, unit, rule, "due_soon", int(due_soon))
        _add(counts, unit, rule, "open", int(later))


# The (rule, unit) pairs of the obligations, by a loose index scan of
# ``obligations_rule_unit_met`` (one probe per pair); the pairs without a unit are
# added for every rule (``min`` skips NULL), a probe that may find nothing.
_PAIRS = (
    "WITH RECURSIVE rules (r) AS (SELECT min(rule_id) FROM obligations"
    "  UNION ALL SELECT (SELECT min(x.rule_id) FROM obligations x WHERE x.rule_id > rules.r)"
    "  FROM rules WHERE rules.r IS NOT NULL),"
    " rule_units (r, u) AS (SELECT rules.r, (SELECT min(x.unit) FROM obligations x WHERE x.rule_id = rules.r)"
    "  FROM rules WHERE rules.r IS NOT NULL"
    "  UNION ALL SELECT rule_units.r, (SELECT min(x.unit) FROM obligations x WHERE x.rule_id = rule_units.r"
    "   AND x.unit > rule_units.u) FROM rule_units WHERE rule_units.u IS NOT NULL),"
    " pairs (r, u) AS (SELECT r, u FROM rule_units WHERE u IS NOT NULL"
    "  UNION ALL SELECT r, NULL FROM rules WHERE r IS NOT NULL)"
)


def _range(state: str, cond: str) -> str:
    return (f"(SELECT count(*) FROM obligations o WHERE o.rule_id = pairs.r AND o.unit IS pairs.u"
            f" AND o.state = '{state}'{cond})")


_DUE = "CASE WHEN o.due_date < ?2 THEN 'overdue' WHEN o.due_date <= ?3 THEN 'due_soon' ELSE 'open' END"


def _ranges(db: Db, counts: Counts, *, cutoff: str, as_of: str, soon: str) -> None:
    params: Any = (cutoff, as_of, soon)
    # 1. The ranges: every obligation, whenever created.
    cur = db.execute(
        f"{_PAIRS} SELECT pairs.u, pairs.r, {_range('cancelled', '')},"
        f" {_range('met', ' AND o.met_at < ?1')}, {_range('met_late', ' AND o.met_at < ?1')},"
        f" {_range('open', ' AND o.met_at IS NULL AND o.due_date < ?2')},"
        f" {_range('open', ' AND o.met_at IS NULL AND o.due_date >= ?2 AND o.due_date <= ?3')},"
        f" {_range('open', ' AND o.met_at IS NULL AND o.due_date > ?3')}"
        " FROM pairs",
        params,
    )
    for unit, rule, *ns in cur.fetchall():
        for state, n in zip(("cancelled", "met", "met_late", "overdue", "due_soon", "open"), ns, strict=True):
            if n:
                _add(counts, unit, rule, state, int(n))
    # 2. Less those created at or after the cutoff, as the ranges counted them.
    cur = db.execute(
        "SELECT o.unit, o.rule_id, CASE WHEN o.state = 'cancelled' THEN 'cancelled'"
        "  WHEN o.state IN ('met', 'met_late') AND o.met_at < ?1 THEN o.state"
        f"  WHEN o.state = 'open' AND o.met_at IS NULL THEN {_DUE} END, count(*)"
        " FROM obligations o INDEXED BY obligations_created WHERE o.created_at >= ?1 GROUP BY 1, 2, 3",
        params,
    )
    for unit, rule, state, n in cur.fetchall():
        if state is not None:
            _add(counts, unit, rule, state, -int(n))
    # 3. Plus the unmet ones no range holds (created before the cutoff, tested here):
    # met at or after the cutoff, or open with a met time: one range each.
    unmet = " UNION ALL ".join(
        f"SELECT o.unit, o.rule_id, {_DUE} AS due FROM pairs JOIN obligations o INDEXED BY obligations_rule_unit_met"
        f" ON o.rule_id = pairs.r AND o.unit IS pairs.u AND o.state = '{state}' AND o.met_at {cond}"
        " WHERE o.created_at < ?1"
        for state, cond in (("met", ">= ?1"), ("met_late", ">= ?1"), ("open", "IS NOT NULL")))
    cur = db.execute(f"{_PAIRS} SELECT unit, rule_id, due, count(*) FROM ({unmet}) GROUP BY 1, 2, 3", params)
    for unit, rule, state, n in cur.fetchall():
        _add(counts, unit, rule, state, int(n))


def overdue_rows(db: Db, *, cutoff: str, as_of: str, buckets: Sequence[str],
                 met_later: bool) -> list[tuple[str | None, str, int, int]]:
    """``(unit, region prefix, bucket index, count)`` of the clues with an obligation
    overdue on ``as_of`` (unmet as of ``cutoff``, due before ``as_of``), each clue once
    per unit. ``met_later``: also look at obligations met at or after the cutoff (an
    as-of date in the past). ``buckets`` are the receipt-time lower bounds (UTC text,
    newest first) of the age buckets; bucket ``len(buckets)`` is the oldest.

    The open ones come from ``obligations_state_due``; those met later, on SQLite and
    for a cutoff not early in the obligations' creation times, from one range of
    ``obligations_rule_unit_met`` per (rule, unit, state) (the plain statement would
    test every met obligation due before ``as_of``)."""
    case = " ".join(f"WHEN r.received_at >= ?{i + 3} THEN {i}" for i in range(len(buckets)))
    pairs, late = "WITH", ""
    sqlite = getattr(getattr(db, "store", db), "backend", "sqlite") == "sqlite"
    if met_later and sqlite and _created_before(db, cutoff) >= MET_LATER_RANGES_FROM:
        pairs = f"{_PAIRS},"
        late = "".join(
            " UNION SELECT o.report_id, o.unit FROM pairs JOIN obligations o INDEXED BY obligations_rule_unit_met"
            f" ON o.rule_id = pairs.r AND o.unit IS pairs.u AND o.state = '{state}' AND o.met_at >= ?1"
            " WHERE o.due_date < ?2 AND o.created_at < ?1" for state in ("met", "met_late"))
    elif met_later:
        late = (" UNION SELECT report_id, unit FROM obligations WHERE state IN ('met', 'met_late')"
                " AND due_date < ?2 AND met_at >= ?1 AND created_at < ?1")
    cur = db.execute(
        f"{pairs} due AS (SELECT DISTINCT report_id, unit FROM obligations WHERE state = 'open' AND due_date < ?2"
        f" AND created_at < ?1{late})"
        " SELECT due.unit, substr(coalesce(r.region, ''), 1, 2),"
        f" CASE {case} ELSE {len(buckets)} END, count(*)"
        " FROM due JOIN reports r ON r.id = due.report_id GROUP BY 1, 2, 3",
        (cutoff, as_of, *buckets),
    )
    return [(r[0], r[1], int(r[2]), int(r[3])) for r in cur.fetchall()]
