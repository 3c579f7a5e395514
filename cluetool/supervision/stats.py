"""``stats``: the backlog (堰塞湖), the obligations and the monthly trends (态势分析) as of
a date, from SQL aggregations over indexed columns (``cluetool.store.supervision``);
docs/supervision.md, "What stats counts".

Everything is judged as of the end of a local date (``as_of``, default today): reports
received by then; events recorded at a time before then; obligations created before
then, an obligation met later counting as unmet. Ages are whole local days since
receipt. The unit of a backlog row is the clue's current holder.
"""

from __future__ import annotations

import threading
from collections import defaultdict, deque
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import msgspec

from cluetool.config import Home, resolve_home
from cluetool.errors import InputError
from cluetool.model.codes import INDUSTRIES, KINDS, TARGETS
from cluetool.home import open_store
from cluetool.store import supervision as q
from cluetool.store.audit_entries import format_time
from cluetool.validate.regions import lookup

if TYPE_CHECKING:
    from cluetool.store.db import Tx

STATS_SCHEMA = "cluetool.stats/1"
#: Age buckets in whole days since receipt: (label, lowest age, highest age or None).
BUCKETS: tuple[tuple[str, int, int | None], ...] = (
    ("0-7d", 0, 7), ("8-30d", 8, 30), ("31-90d", 31, 90), ("91-180d", 91, 180), (">180d", 181, None))
CATEGORIES = ("unassigned", "assigned_not_contacted", "open_past_due")
OBLIGATION_STATES = ("overdue", "due_soon", "open", "met", "met_late", "cancelled")
DIMENSIONS = ("total", "kind", "target", "industry", "region")


class BacklogRow(msgspec.Struct, frozen=True, kw_only=True):
    """Open clues of one category, unit, region (province) and age bucket."""

    category: str
    unit: str | None
    region: str
    region_name: str
    bucket: str
    count: int
    table: str = "backlog"


class ObligationRow(msgspec.Struct, frozen=True, kw_only=True):
    """Obligations of one unit and rule in one state."""

    unit: str | None
    rule: str
    state: str
    count: int
    table: str = "obligations"


class MonthRow(msgspec.Struct, frozen=True, kw_only=True):
    """Reports received in a month with one value of a dimension, and the change since
    the month before (``change_pct`` null when the month before had none)."""

    month: str
    dimension: str
    code: str
    label: str
    count: int
    previous: int
    change: int
    change_pct: float | None
    table: str = "monthly"


class Stats(msgspec.Struct, kw_only=True):
    """``stats``: the three tables, as of the end of the local date ``as_of``."""

    as_of: str
    timezone: str
    months: list[str]
    buckets: list[str]
    backlog: list[BacklogRow]
    obligations: list[ObligationRow]
    monthly: list[MonthRow]
    schema: str = STATS_SCHEMA


def _local_midnight(day: date, zone: ZoneInfo) -> str:
    return format_time(datetime.combine(day, time(0), tzinfo=zone))


def _months_back(day: date, n: int) -> list[date]:
    """The first days of the ``n`` months up to ``day``'s, oldest first."""
    out = [day.replace(day=1)]
    while len(out) < n:
        out.insert(0, (out[0] - timedelta(days=1)).replace(day=1))
    return out


def region_label(prefix: str) -> str:
    """The province's name for a 2-digit prefix ("" when unknown)."""
    if len(prefix) != 2:
        return ""
    r = lookup(prefix + "0000")
    return r.name if r is not None else ""


def _label(dimension: str, code: str) -> str:
    if dimension == "kind":
        return KINDS.get(code, ("", ""))[0]
    if dimension == "target":
        return TARGETS.get(code, ("", ""))[0]
    if dimension == "industry":
        return INDUSTRIES.get(code, ("", ""))[0]
    if dimension == "region":
        return region_label(code)
    return "合计"


def parse_day(value: date | str | None, option: str = "--as-of") -> date | None:
    """A local date as given (``YYYY-MM-DD``).

    Raises:
        InputError: another shape.
    """
    if value is None or isinstance(value, date):
        return value
    try:
        return date.fromisoformat(value) if len(value) == 10 else date.fromisoformat("x")
    except ValueError:
        raise InputError(f'{option}: "{value}" is not a date YYYY-MM-DD') from None


def compute_stats(home: Home | Path | None, *, now: datetime, as_of: date | str | None = None, months: int = 12,
                  soon_days: int = 2, wait: float = 10.0) -> Stats:
    """The statistics as of the end of ``as_of`` (default: the local date at ``now``), with
    the monthly counts of the ``months`` months up to ``as_of``'s.

    Raises:
        InputError: ``months`` or ``soon_days`` out of range.
        StateError: the home or store is unusable.
    """
    as_of = parse_day(as_of)
    if not 1 <= months <= 120:
        raise InputError(f"--months: {months} is not between 1 and 120")
    if soon_days < 0:
        raise InputError("--soon must not be negative")
    home = home if isinstance(home, Home) else resolve_home(home)
    tz = home.config().timezone
    zone = ZoneInfo(tz)
    day = as_of if as_of is not None else now.astimezone(zone).date()
    cutoff = _local_midnight(day + timedelta(days=1), zone)
    bounds = [_local_midnight(day - timedelta(days=hi), zone) for _, _, hi in BUCKETS if hi is not None]
    labels = [b[0] for b in BUCKETS]
    # One month more than shown: the first one's month-on-month change needs it.
    spans = [(m.strftime("%Y-%m"), _local_midnight(m, zone),
              min(_local_midnight((m + timedelta(days=32)).replace(day=1), zone), cutoff))
             for m in _months_back(day, months + 1)]
    as_of_text, soon = day.isoformat(), (day + timedelta(days=soon_days)).isoformat()
    past = cutoff <= format_time(now)
    with open_store(home, wait=wait, readonly=True) as store, store.read_pair() as (tx, other):
        span = q.received_span(tx, cutoff)
        slices = _slices(span[0] if span else None, cutoff, bounds)
        tasks: list[tuple[Any, Callable[[Tx], Any]]] = [
            ("states", lambda db: q.obligation_states(db, cutoff=cutoff, as_of=as_of_text, soon=soon)),
            ("overdue", lambda db: q.overdue_rows(db, cutoff=cutoff, as_of=as_of_text, buckets=bounds,
                                                  met_later=past)),
            ("counts", lambda db: q.month_counts(db, spans)),
            ("codes", lambda db: q.code_counts(db, spans)),
        ]
        for lo, hi, b in slices:
            tasks.append((("assigned_not_contacted", b), lambda db, lo=lo, hi=hi: q.not_contacted_rows(
                db, cutoff=cutoff, lo=lo, hi=hi)))
            tasks.append((("unassigned", b), lambda db, lo=lo, hi=hi: q.unassigned_rows(
                db, cutoff=cutoff, lo=lo, hi=hi)))
        done = run_tasks(tasks, [tx] if other is None else [tx, other])
    table: dict[tuple[str, str | None, str, int], int] = defaultdict(int)
    for key, rows in done:
        if isinstance(key, tuple):
            category, b = key
            for *unit, region, n in rows:
                table[(category, unit[0] if unit else None, region, b)] += n
    results = {key: rows for key, rows in done if not isinstance(key, tuple)}
    for unit, region, b, n in results["overdue"]:
        table[("open_past_due", unit, region, b)] += n
    backlog = [BacklogRow(category=cat, unit=unit, region=region, region_name=region_label(region),
                          bucket=labels[b], count=n) for (cat, unit, region, b), n in table.items() if n]
    obligations = [ObligationRow(unit=unit, rule=rule, state=state, count=n)
                   for unit, rule, state, n in results["states"]]
    counts, codes = results["counts"], results["codes"]
    monthly = _monthly([s[0] for s in spans], counts, codes)
    backlog.sort(key=lambda r: (CATEGORIES.index(r.category), r.unit or "", r.region, labels.index(r.bucket)))
    obligations.sort(key=lambda r: (r.unit or "", r.rule, OBLIGATION_STATES.index(r.state)))
    return Stats(as_of=day.isoformat(), timezone=tz, months=[s[0] for s in spans[1:]], buckets=labels,
                 backlog=backlog, obligations=obligations, monthly=monthly)


#: Equal slices of the receipt times for the backlog (besides the age-bucket bounds), so
#: that two connections share the work about evenly whatever the data.
SLICES = 16


def _slices(first: str | None, cutoff: str, bounds: Sequence[str]) -> list[tuple[str, str, int]]:
    """``(lo, hi, bucket index)``: the receipt times ``[first, cutoff)`` (UTC text) cut
    at the age-bucket bounds (newest first) and into ``SLICES`` equal spans; each piece
    lies in one bucket. The first starts at "" (before any time)."""
    if first is None or first >= cutoff:
        return []
    cuts = {b for b in bounds if first < b < cutoff}
    try:
        a, z = (datetime.strptime(t, "%Y-%m-%dT%H:%M:%S.%fZ") for t in (first, cutoff))
    except ValueError:  # not stored times: the bucket bounds alone
        a = z = None
    if a is not None and z is not None:
        step = (z - a) / SLICES
        cuts |= {(a + step * i).strftime("%Y-%m-%dT%H:%M:%S.%fZ") for i in range(1, SLICES)}
    edges = ["", *sorted(c for c in cuts if first < c < cutoff), cutoff]
    out = []
    for lo, hi in zip(edges, edges[1:]):
        low = lo or first  # the first piece holds nothing before ``first``
        bucket = next((i for i, b in enumerate(bounds) if low >= b), len(bounds))
        out.append((lo, hi, bucket))
    return out


def run_tasks(tasks: Sequence[tuple[Any, Callable[[Tx], Any]]], dbs: Sequence[Tx]) -> list[tuple[Any, Any]]:
    """``(key, result)`` of each task, run on the transactions ``dbs`` at once: one
    thread each (this one for the first), each taking the next task in order until none
    is left. sqlite3 lets go of the GIL while a statement runs, so two connections use
    two cores. An error stops the others taking new tasks and is raised here."""
    queue = deque(tasks)
    lock = threading.Lock()
    out: list[tuple[Any, Any]] = []

    def work(db: Tx) -> None:
        while True:
            with lock:
                if not queue:
                    return
                key, task = queue.popleft()
            try:
                result = task(db)
            except BaseException:
                with lock:
                    queue.clear()
                raise
            with lock:
                out.append((key, result))

    with ThreadPoolExecutor(max_workers=max(1, len(dbs) - 1)) as pool:
        helpers = [pool.submit(work, db) for db in dbs[1:]]
        try:
            work(dbs[0])
        finally:
            errors = [f.exception() for f in helpers]
        for error in errors:
            if error is not None:
                raise error
    return out


def _monthly(months: Sequence[str], counts: Sequence[tuple[str, str, str, int]],
             codes: Sequence[tuple[str, str, str, int]]) -> list[MonthRow]:
    table: dict[tuple[str, str], dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for month, kind, region, n in counts:
        table[("total", "")][month] += n
        table[("kind", kind)][month] += n
        table[("region", region)][month] += n
    for month, dim, code, n in codes:
        table[(dim, code)][month] += n
    out = []
    for (dim, code), per in sorted(table.items(), key=lambda kv: (DIMENSIONS.index(kv[0][0]), kv[0][1])):
        if not any(per.get(m, 0) for m in months[1:]):
            continue  # seen only in the month before the first shown
        label = _label(dim, code)
        for prev_m, m in zip(months, months[1:]):
            n, prev = per.get(m, 0), per.get(prev_m, 0)
            out.append(MonthRow(month=m, dimension=dim, code=code, label=label, count=n, previous=prev,
                                change=n - prev, change_pct=round(100 * (n - prev) / prev, 1) if prev else None))
    return out
