"""``stats`` (issue 23) against a straightforward reference: a random store written with
SQL (reports of every kind, some without a region; assigned, re-assigned, contacted and
closed events at random times up to now, some after the as-of dates; obligations open, met, met
late after the cutoff, met without a time, cancelled, provisional on an unknown calendar
year, due around the National Day and Spring Festival holidays), and the same tables
computed here by reading every row in Python with the documented rules
(docs/supervision.md, "What stats counts"). Every date is explicit."""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from datetime import date, datetime, time, timedelta, timezone
from collections.abc import Iterator
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from cluetool.config import init_home
from cluetool.home import create_store
from cluetool.store import Store, obligation_stats
from tests.pgfixture import create_database, drop_database, url_of
from cluetool.supervision.stats import BUCKETS, compute_stats, region_label

NOW = datetime(2026, 12, 5, 2, 0, tzinfo=timezone.utc)
ZONE = ZoneInfo("Asia/Shanghai")
KINDS = ("police_misconduct", "gang_crime", "industry_disorder")
UNITS = [f"u{n}" for n in range(4)]
RULES = ("assign_imported", "contact_reporter", "transfer_gang_to_police")
# Due dates around the holidays (National Day 2025 and 2026, Spring Festival 2026) and,
# provisional, in 2027 (a year the calendar does not know yet).
DUES = ["2025-09-30", "2025-10-01", "2025-10-08", "2025-10-09", "2026-02-13", "2026-02-24", "2026-09-30",
        "2026-10-08", "2026-11-23", "2026-11-24", "2026-11-25", "2026-11-26", "2026-11-27", "2026-12-04",
        "2026-12-05", "2026-12-07"]
PROVISIONAL_DUES = ["2027-01-04", "2027-02-08"]
# Before all data, inside it (month ends and firsts: the month and bucket bounds), today
# and after all data.
AS_OF = [date(2025, 5, 1), date(2025, 10, 1), date(2026, 1, 31), date(2026, 2, 24), date(2026, 3, 1),
         date(2026, 11, 24), date(2026, 11, 30), date(2026, 12, 5), date(2027, 1, 10)]
FIRST_DATA = date(2025, 6, 1)
# The ways stats may take to the same answers: the obligation counts as index ranges, as
# a scan (sorted, or in index order) or chosen by the as-of date; the backlog on two
# connections of one snapshot or on one.
MODES = {"auto": {}, "ranges": {"RANGES_FROM": -1.0, "MET_LATER_RANGES_FROM": -1.0},
         "scan-sorted": {"RANGES_FROM": 2.0, "SORT_BELOW": 2.0, "MET_LATER_RANGES_FROM": 2.0},
         "scan-ordered": {"RANGES_FROM": 2.0, "SORT_BELOW": -1.0}, "one-connection": {"tries": 0}}


def _ts(dt: datetime) -> str:
    return dt.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _random_time(rng: random.Random, lo: datetime, hi: datetime) -> datetime:
    return lo + timedelta(seconds=rng.randrange(int((hi - lo).total_seconds())))


class World:
    def __init__(self) -> None:
        self.reports: list[tuple[int, str, str, str | None, int]] = []  # id, kind, received, region, contact
        self.codes: list[tuple[int, str, str, str]] = []
        self.events: list[tuple[int, str, str]] = []  # report, event, at
        self.assignments: dict[int, str] = {}
        self.obligations: list[tuple[int, str, str | None, str, str, str | None, str]] = []


def _build(root: Path, seed: int, url: str | None = None) -> tuple[Path, World]:
    rng = random.Random(seed)
    home = init_home(root, store=url)
    store = create_store(home, now=NOW)
    w = World()
    t0, t1 = datetime(2025, 6, 1, tzinfo=timezone.utc), datetime(2026, 12, 4, tzinfo=timezone.utc)
    with store.write() as tx:
        tx.executemany("INSERT INTO units VALUES (?, ?, 'police', NULL, ?)", [(u, u, _ts(NOW)) for u in UNITS])
        tx.execute("INSERT INTO sources VALUES ('s', 1, ?, ?)", ("0" * 64, _ts(NOW)))
        tx.execute(
            "INSERT INTO batches (id, source, sequence, manifest_sha256, previous_sha256, payload_sha256, signer,"
            " created_at, imported_at, reports, attachments) VALUES (1, 's', 1, ?, ?, ?, 'x', 'x', ?, 400, 0)",
            ("a" * 64, "0" * 64, "b" * 64, _ts(NOW)))
        event_id = 0
        for rid in range(1, 401):
            sid = f"{rid:08x}-0000-4000-8000-{rid:012x}"
            kind = rng.choice(KINDS)
            received = _random_time(rng, t0, t1)
            # Near local midnight now and then: the month and bucket bounds are local.
            if rng.random() < 0.1:
                local = received.astimezone(ZONE)
                received = datetime.combine(local.date(), time(0), tzinfo=ZONE) - timedelta(seconds=rng.choice([1, 0]))
            region = None if rng.random() < 0.1 else rng.choice(["11", "41", "44", "65"]) + "0105"
            contact = int(rng.random() < 0.6)
            w.reports.append((rid, kind, _ts(received), region, contact))
            tx.execute(
                "INSERT INTO reports (id, submission_id, kind, received_at, imported_at, batch_id, report_sha256,"
                " query_code_sha256, region, reporter_has_contact, real_name, facts, report_json)"
                " VALUES (?, ?, ?, ?, ?, 1, ?, ?, ?, ?, 0, NULL, ?)",
                (rid, sid, kind, _ts(received), _ts(received), "c" * 64, f"{rid:064x}", region, contact, b"{}"))
            tx.execute("INSERT INTO report_stages (report_id) VALUES (?)", (rid,))
            dims = [("target", c) for c in rng.sample(["T01", "T04", "T08"], rng.randint(0, 2))]
            dims += [("industry", c) for c in rng.sample(["IND01", "IND02"], rng.randint(0, 2))]
            for dim, code in dims:
                w.codes.append((rid, dim, code, _ts(received)))
                tx.execute("INSERT INTO report_codes VALUES (?, ?, ?, ?)", (rid, dim, code, _ts(received)))
            unit = None
            for event in ("assigned", "assigned", "contacted", "closed", "verified"):
                if rng.random() < (0.8 if event == "assigned" and unit is None else 0.3):
                    at = _random_time(rng, received, NOW)  # nothing recorded is later than now
                    event_id += 1
                    to = rng.choice(UNITS) if event == "assigned" else None
                    unit = to or unit
                    w.events.append((rid, event, _ts(at)))
                    tx.execute("INSERT INTO events (id, report_id, submission_id, event, at, unit, to_unit, recorded_at)"
                               " VALUES (?, ?, ?, ?, ?, ?, ?, ?)", (event_id, rid, sid, event, _ts(at), None, to, _ts(at)))
                    if event == "assigned":
                        w.assignments[rid] = to
                        tx.execute("INSERT INTO assignments VALUES (?, ?, ?, ?, 'r', NULL, ?) ON CONFLICT (report_id)"
                                   " DO UPDATE SET unit = excluded.unit, assigned_at = excluded.assigned_at,"
                                   " event_id = excluded.event_id", (rid, sid, to, _ts(at), event_id))
            for rule in RULES:
                if rng.random() < 0.3:
                    continue
                created = min(NOW, _random_time(rng, received, received + timedelta(days=40)))
                provisional = rng.random() < 0.15
                due = rng.choice(PROVISIONAL_DUES if provisional else DUES)
                state = rng.choice(["open", "open", "met", "met", "met_late", "cancelled"])
                met_at = None
                if state in ("met", "met_late") and rng.random() < 0.95:
                    met_at = _ts(min(NOW, _random_time(rng, created - timedelta(days=2), created + timedelta(days=200))))
                ounit = rng.choice([None, *UNITS])
                w.obligations.append((rid, rule, ounit, due, state, met_at, _ts(created)))
                tx.execute(
                    "INSERT INTO obligations (report_id, submission_id, rule_id, unit, due_date, provisional, state,"
                    " met_at, created_at, unknown_years) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (rid, sid, rule, ounit, due, int(provisional), state, met_at, _ts(created),
                     "2027" if provisional else ""))
    store.close()
    return home.root, w


def _midnight(day: date) -> str:
    return _ts(datetime.combine(day, time(0), tzinfo=ZONE))


def _bucket(received: str, day: date) -> str:
    for label, lo, hi in BUCKETS:
        if hi is None or received >= _midnight(day - timedelta(days=hi)):
            return label
    raise AssertionError


def _reference(w: World, day: date, soon_days: int = 2) -> tuple[Counter, Counter, Counter]:
    cutoff = _midnight(day + timedelta(days=1))
    as_of, soon = day.isoformat(), (day + timedelta(days=soon_days)).isoformat()
    had: dict[int, set[str]] = defaultdict(set)
    for rid, event, at in w.events:
        if at < cutoff:
            had[rid].add(event)
    info = {r[0]: r for r in w.reports}
    backlog: Counter = Counter()
    for rid, _kind, received, region, contact in w.reports:
        if received >= cutoff or "closed" in had[rid]:
            continue
        prov = (region or "")[:2]
        if "assigned" not in had[rid]:
            backlog[("unassigned", None, prov, _bucket(received, day))] += 1
        elif contact and "contacted" not in had[rid]:
            backlog[("assigned_not_contacted", w.assignments.get(rid), prov, _bucket(received, day))] += 1
    due: set[tuple[int, str | None]] = set()
    states: Counter = Counter()
    for rid, rule, unit, due_date, state, met_at, created in w.obligations:
        if created >= cutoff:
            continue
        if state == "cancelled":
            states[(unit, rule, "cancelled")] += 1
            continue
        if state in ("met", "met_late") and met_at is None:
            continue  # met without a time: neither met by the cutoff nor unmet
        if state in ("met", "met_late") and met_at < cutoff:
            states[(unit, rule, state)] += 1
            continue
        when = "overdue" if due_date < as_of else "due_soon" if due_date <= soon else "open"
        states[(unit, rule, when)] += 1
        if when == "overdue":
            due.add((rid, unit))
    for rid, unit in due:
        _, _, received, region, _ = info[rid]
        backlog[("open_past_due", unit, (region or "")[:2], _bucket(received, day))] += 1
    monthly: Counter = Counter()
    for rid, kind, received, region, _ in w.reports:
        if received < cutoff:
            month = datetime.strptime(received, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc)
            m = month.astimezone(ZONE).strftime("%Y-%m")
            for key in (("total", ""), ("kind", kind), ("region", (region or "")[:2])):
                monthly[(m, *key)] += 1
    for rid, dim, code, received in w.codes:
        if received < cutoff:
            month = datetime.strptime(received, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc)
            monthly[(month.astimezone(ZONE).strftime("%Y-%m"), dim, code)] += 1
    return +backlog, +states, +monthly


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, World]:
    return _build(tmp_path_factory.mktemp("stats-ref") / "home", seed=2314)


@pytest.fixture(scope="module")
def pg_world(pg_cluster: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, World]]:
    # The same world in a PostgreSQL store (a database of its own for the module).
    name = create_database(pg_cluster)
    try:
        yield _build(tmp_path_factory.mktemp("stats-ref-pg") / "home", seed=2314, url=url_of(pg_cluster, name))
    finally:
        drop_database(pg_cluster, name)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("day", AS_OF, ids=str)
def test_stats_equals_reference_computation_on_random_store(world: tuple[Path, World], day: date, mode: str,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    home, w = world
    settings = dict(MODES[mode])
    if "tries" in settings:
        pair = Store.read_pair
        monkeypatch.setattr(Store, "read_pair", lambda self, tries=3: pair(self, tries=settings["tries"]))
    for name, value in settings.items():
        if name != "tries":
            monkeypatch.setattr(obligation_stats, name, value)
    s = compute_stats(home, now=NOW, as_of=day, months=24)
    backlog, states, monthly = _reference(w, day)
    assert bool(backlog) == (day >= FIRST_DATA), "the random store gives every as-of date in it some backlog"
    got_backlog = Counter({(r.category, r.unit, r.region, r.bucket): r.count for r in s.backlog})
    assert len(got_backlog) == len(s.backlog)  # one row per key
    assert got_backlog == backlog
    assert all(r.region_name == region_label(r.region) for r in s.backlog)
    assert Counter({(r.unit, r.rule, r.state): r.count for r in s.obligations}) == states
    shown = set(s.months)
    assert Counter({(r.month, r.dimension, r.code): r.count for r in s.monthly if r.count}) == Counter(
        {k: n for k, n in monthly.items() if k[0] in shown})


@pytest.mark.parametrize("day", AS_OF, ids=str)
def test_stats_on_postgresql_equals_reference_computation(pg_world: tuple[Path, World], day: date) -> None:
    home, w = pg_world
    s = compute_stats(home, now=NOW, as_of=day, months=24)
    backlog, states, monthly = _reference(w, day)
    assert Counter({(r.category, r.unit, r.region, r.bucket): r.count for r in s.backlog}) == backlog
    assert len(s.backlog) == len(backlog)
    assert Counter({(r.unit, r.rule, r.state): r.count for r in s.obligations}) == states
    shown = set(s.months)
    assert Counter({(r.month, r.dimension, r.code): r.count for r in s.monthly if r.count}) == Counter(
        {k: n for k, n in monthly.items() if k[0] in shown})


def test_stats_reference_store_covers_the_hard_cases(world: tuple[Path, World]) -> None:
    _, w = world
    assert any(o[4] in ("met", "met_late") and o[5] is None for o in w.obligations)
    assert any(o[3] in PROVISIONAL_DUES for o in w.obligations)
    assert any(r[3] is None for r in w.reports)
    assert Counter(e[1] for e in w.events)["assigned"] > len(w.assignments)  # re-assignments
    # Events after an as-of date (they must not count then).
    assert any(e[2] > _midnight(date(2026, 11, 25)) for e in w.events)
