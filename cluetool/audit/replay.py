"""State from the log (issue 20): rebuild the public stages, events, assignments and
obligations from the audit entries alone, in a scratch database, and compare them row by
row with the store (``store check --replay``, ``audit verify --state``).

What each entry contributes:

- ``report.import`` (object: the submission id): stage ``received``; obligations from its
  images (``cluetool.store.stateimages``).
- ``clue.assign`` (object ``report:<id>``): the ``assigned`` event ``event_id`` (from
  ``previous_unit`` to ``unit``, at and recorded at the entry's ``at``, the reason as its
  note), the assignment (``unit``, ``rule``, ``reason``, ``event_id``), stage ``assigned``,
  obligation images.
- ``event.record``: the event (``event_id``, ``event``, ``event_at``, ``unit``,
  ``to_unit``, ``channel``, the note), a transfer's new assignment, the stage the event
  moves the clue to, obligation images.
- any other entry carrying obligation images (e.g. a deadline recomputation): the images.
  A ``rules.changed`` entry (a deadline recomputation) lists ``"ID OLD NEW"`` per due date
  it changed, the ids still provisional and the ids it cancelled; one written before
  recomputations were itemised leaves the due dates, provisional flags and states of the
  then open obligations unknown: those fields are not compared until a later image.

Notes and reasons are compared through their keyed hash (the home's audit secret), or the
plain SHA-256 that older entries hold. Clues whose ``report.import`` entry holds no
images (written by an older version) are left out of the obligations comparison; the
report says how many.

Each difference names its table and row: ``report_stages``/``assignments`` by
submission id, ``events``/``obligations`` by id, and the columns that differ (or
``missing`` from the store, ``extra`` in the store, i.e. not in the log).

Speed: a large log is replayed by two processes at once, each reading the whole log on
its own read-only snapshot into a scratch database of its own: one rebuilds and compares
stages, events and assignments, the other the obligations (each image an upsert of its
row, then the comparison). Each part decodes only the detail fields it reads. A small log takes one
pass (both parts on one connection).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import shutil
import sqlite3
import tempfile
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import msgspec

from cluetool.audit.engine import AuditFinding, AuditReport, no_gc
from cluetool.audit.parallel import workers
from cluetool.config import Home
from cluetool.errors import StateError
from cluetool.home import open_store
from cluetool.keys.audit_secret import load_audit_secret, secret_path
from cluetool.model.store import StoreProblem
from cluetool.store.statecopy import copy_state

SCHEMA = "cluetool.state-replay/1"
MAX_LISTED = 1000
_STAGES = ("received", "assigned", "under_verification", "closed")
_STAGE_RANK = {stage: rank for rank, stage in enumerate(_STAGES)}
_EVENT_STAGE = {"verified": "under_verification", "reviewed": "under_verification", "closed": "closed"}


class StateDifference(msgspec.Struct, frozen=True, kw_only=True):
    """One row where the store and the log disagree."""

    table: str
    key: str
    problem: str  # "missing" (in the log, not the store), "extra" (in the store only) or "differs"
    columns: list[str] = []


class ReplayReport(msgspec.Struct, kw_only=True):
    ok: bool
    entries: int
    differences: list[StateDifference]
    unlisted: int = 0
    clues_without_images: int = 0
    schema: str = SCHEMA


class _StateDetails(msgspec.Struct, kw_only=True):
    # What the stages, events and assignments part reads; other fields are skipped.
    event_id: Any = None
    event: Any = None
    event_at: Any = None
    unit: Any = None
    previous_unit: Any = None
    to_unit: Any = None
    channel: Any = None
    rule: Any = None
    note_hmac_sha256: Any = None
    note_sha256: Any = None
    reason_hmac_sha256: Any = None
    reason_sha256: Any = None


class _ObligationDetails(msgspec.Struct, kw_only=True):
    # What the obligations part reads. A deadline recomputation (``rules.changed``):
    # "ID OLD NEW" per changed due date, the ids still provisional after it, the ids it
    # cancelled.
    obligations: Any = None
    changes: Any = None
    still_provisional: Any = None
    cancelled_ids: Any = None


class _Details(msgspec.Struct, kw_only=True):
    # Both parts in one pass: the fields of both.
    event_id: Any = None
    event: Any = None
    event_at: Any = None
    unit: Any = None
    previous_unit: Any = None
    to_unit: Any = None
    channel: Any = None
    rule: Any = None
    note_hmac_sha256: Any = None
    note_sha256: Any = None
    reason_hmac_sha256: Any = None
    reason_sha256: Any = None
    obligations: Any = None
    changes: Any = None
    still_provisional: Any = None
    cancelled_ids: Any = None


class _Entry(msgspec.Struct):
    seq: int
    at: str
    action: str
    object: str
    details: _Details


class _StateEntry(msgspec.Struct):
    seq: int
    at: str
    action: str
    object: str
    details: _StateDetails


class _ObligationEntry(msgspec.Struct):
    seq: int
    at: str
    action: str
    object: str
    details: _ObligationDetails


STATE, OBLIGATIONS = "state", "obligations"
_PARTS = (STATE, OBLIGATIONS)
_DECODERS = {
    (STATE, OBLIGATIONS): msgspec.json.Decoder(_Entry).decode,
    (STATE,): msgspec.json.Decoder(_StateEntry).decode,
    (OBLIGATIONS,): msgspec.json.Decoder(_ObligationEntry).decode,
}
# Logs this long (entries) are replayed by two processes.
PARALLEL_MIN = 100_000

_SCRATCH = {
    STATE: """
CREATE TABLE stages (sid TEXT PRIMARY KEY, stage TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE events (id INTEGER PRIMARY KEY, sid TEXT, event TEXT, at TEXT, unit TEXT, to_unit TEXT,
                     channel TEXT, note TEXT, recorded_at TEXT);
CREATE TABLE assignments (sid TEXT PRIMARY KEY, unit TEXT, assigned_at TEXT, rule_id TEXT, reason TEXT,
                          event_id INTEGER) WITHOUT ROWID;
""",
    OBLIGATIONS: """
CREATE TABLE obligations (id INTEGER PRIMARY KEY, sid TEXT, rule_id TEXT, unit TEXT, trigger_event_id INTEGER,
                          due_date TEXT, provisional INTEGER, state TEXT, met_at TEXT, met_event_id INTEGER,
                          created_at TEXT, loose INTEGER NOT NULL DEFAULT 0, last_n INTEGER);
CREATE TABLE no_images (sid TEXT PRIMARY KEY) WITHOUT ROWID;
""",
}
# The obligations as the log leaves them: each image in log order replaces the row's
# fields (last_n: the number of the image, counting all images), and the row keeps the
# created_at of its first image.
_IMAGE = f"""
INSERT INTO obligations (id, sid, rule_id, unit, trigger_event_id, due_date, provisional, state, met_at, met_event_id,
                         created_at, last_n) VALUES ({", ".join("?" * 12)})
ON CONFLICT (id) DO UPDATE SET sid = excluded.sid, rule_id = excluded.rule_id, unit = excluded.unit,
    trigger_event_id = excluded.trigger_event_id, due_date = excluded.due_date, provisional = excluded.provisional,
    state = excluded.state, met_at = excluded.met_at, met_event_id = excluded.met_event_id, last_n = excluded.last_n
"""


def _digest(keyed: Any, plain: Any) -> str | None:
    if isinstance(keyed, str):
        return "hmac:" + keyed
    if isinstance(plain, str):
        return "sha256:" + plain
    return None


class _StateBuilder:
    """Applies entries to the scratch stages, events and assignments in bulk."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self.stage: dict[str, int] = {}  # rank in _STAGES
        self.assignment: dict[str, tuple[Any, ...]] = {}  # final state only: assign and transfer interleave
        self.events: list[tuple[Any, ...]] = []

    def flush(self) -> None:
        self.conn.executemany("INSERT OR REPLACE INTO events VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", self.events)
        self.events = []

    def entry(self, e: Any) -> None:
        action = e.action
        if action == "report.import":
            sid = e.object
            if sid not in self.stage:
                self.stage[sid] = 0  # received
            return
        if action == "clue.assign":
            d = e.details
            obj = e.object
            sid = obj[7:] if obj.startswith("report:") else obj
            reason = _digest(d.reason_hmac_sha256, d.reason_sha256)
            self.events.append((d.event_id, sid, "assigned", e.at, d.previous_unit, d.unit, None, reason, e.at))
            self.assignment[sid] = (sid, d.unit, e.at, d.rule, reason, d.event_id)
            if self.stage.get(sid, -1) < 1:
                self.stage[sid] = 1  # assigned
        elif action == "event.record":
            d = e.details
            obj = e.object
            sid = obj[7:] if obj.startswith("report:") else obj
            event = d.event
            self.events.append((d.event_id, sid, event, d.event_at, d.unit, d.to_unit, d.channel,
                                _digest(d.note_hmac_sha256, d.note_sha256), e.at))
            if event == "transferred":
                self.assignment[sid] = (sid, d.to_unit, d.event_at, None, None, d.event_id)
            if event in _EVENT_STAGE:
                rank = _STAGE_RANK[_EVENT_STAGE[event]]
                if self.stage.get(sid, -1) < rank:
                    self.stage[sid] = rank
        else:
            return
        if len(self.events) >= 50000:
            self.flush()

    def finish(self) -> None:
        self.flush()
        self.conn.executemany("INSERT INTO stages VALUES (?, ?)", [(sid, _STAGES[r]) for sid, r in self.stage.items()])
        self.conn.executemany("INSERT INTO assignments VALUES (?, ?, ?, ?, ?, ?)", self.assignment.values())


class _ObligationBuilder:
    """Applies entries' obligation images (and recomputations) to the scratch obligations."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self.images: list[tuple[Any, ...]] = []
        self.no_images: list[tuple[str]] = []
        self.n = 0  # images so far (an obligation's last_n is its last image's number)
        self.loose_below = 0  # images before the last recomputation that recorded none
        # Recomputed due dates and cancellations, applied after the images: (n, ...).
        self.due_changes: list[tuple[str, int, int, int]] = []
        self.cancels: list[tuple[int, int]] = []

    def flush(self) -> None:
        self.conn.executemany(_IMAGE, self.images)
        self.images = []

    def entry(self, e: Any) -> None:
        d = e.details
        obligations = d.obligations
        action = e.action
        if action == "report.import":
            if obligations is None:
                self.no_images.append((e.object,))
        elif action == "rules.changed" and obligations is None:
            if d.changes is None and d.cancelled_ids is None:
                self.loose_below = self.n + 1  # written before recomputations were itemised
            else:
                still = set(d.still_provisional or ())
                for change in d.changes or ():
                    oid, _old, new = str(change).split(" ")
                    self.due_changes.append((new, int(int(oid) in still), int(oid), self.n))
                self.cancels += [(int(oid), self.n) for oid in d.cancelled_ids or ()]
        if obligations:
            obj = e.object
            sid = obj[7:] if obj.startswith("report:") else obj
            at = e.at
            n = self.n
            append = self.images.append
            for img in obligations:
                f = img.split("|")
                if len(f) != 9:
                    raise ValueError("malformed obligation image")
                n += 1
                append((int(f[0]), sid, f[1], f[2] or None, int(f[3]) if f[3] else None, f[4],
                        int(f[5]), f[6], f[7] or None, int(f[8]) if f[8] else None, at, n))
            self.n = n
            if len(self.images) >= 50000:
                self.flush()

    def finish(self) -> None:
        self.flush()
        self.conn.executemany("INSERT OR IGNORE INTO no_images VALUES (?)", self.no_images)
        if self.loose_below:
            # Loose: still open at a recomputation that recorded no images (as its last image left it).
            self.conn.execute("UPDATE obligations SET loose = 1 WHERE state = 'open' AND last_n < ?", (self.loose_below,))
        # A recomputation changes rows whose last image came before it (n counts images).
        self.conn.executemany("UPDATE obligations SET due_date = ?, provisional = ? WHERE id = ? AND last_n <= ?",
                              self.due_changes)
        self.conn.executemany("UPDATE obligations SET state = 'cancelled' WHERE id = ? AND last_n <= ? AND state = 'open'",
                              self.cancels)


def _note_matcher(secret: bytes | None) -> Callable[[str | None, str | None], int]:
    def matches(text: str | None, recorded: str | None) -> int:
        if text is None or recorded is None:
            return int(text is None and recorded is None)
        kind, _, value = recorded.partition(":")
        data = text.encode("utf-8")
        if kind == "sha256":
            return int(hmac.compare_digest(hashlib.sha256(data).hexdigest(), value))
        if kind == "hmac" and secret is not None:
            return int(hmac.compare_digest(hmac.digest(secret, data, "sha256").hex(), value))
        return 0

    return matches


# Each table: its name in findings, the store side as a select of (key, sid, columns…)
# named like the scratch table's columns, the scratch table, its key, and the columns
# compared (text columns through their keyed hash).
_STORE = {
    "report_stages": "SELECT r.submission_id AS sid, s.stage FROM store.report_stages s"
                     " JOIN store.reports r ON r.id = s.report_id",
    "events": "SELECT e.id, r.submission_id AS sid, e.event, e.at, e.unit, e.to_unit, e.channel, e.note, e.recorded_at"
              " FROM store.events e LEFT JOIN store.reports r ON r.id = e.report_id",
    "assignments": "SELECT r.submission_id AS sid, a.unit, a.assigned_at, a.rule_id, a.reason, a.event_id"
                   " FROM store.assignments a LEFT JOIN store.reports r ON r.id = a.report_id",
    "obligations": "SELECT o.id, r.submission_id AS sid, o.rule_id, o.unit, o.trigger_event_id, o.due_date,"
                   " o.provisional, o.state, o.met_at, o.met_event_id, o.created_at FROM store.obligations o"
                   " LEFT JOIN store.reports r ON r.id = o.report_id",
}
_TABLES: list[tuple[str, str, str, list[str], set[str]]] = [
    ("report_stages", "stages", "sid", ["stage"], set()),
    ("events", "events", "id", ["sid", "event", "at", "unit", "to_unit", "channel", "note", "recorded_at"], {"note"}),
    ("assignments", "assignments", "sid", ["unit", "assigned_at", "rule_id", "reason", "event_id"], {"reason"}),
    ("obligations", "obligations", "id",
     ["sid", "rule_id", "unit", "trigger_event_id", "due_date", "provisional", "state", "met_at", "met_event_id",
      "created_at"], set()),
]
_LOOSE = {"due_date", "provisional", "state", "met_at", "met_event_id"}
_NAMES = {"sid": "submission_id"}


def _differs(col: str, texts: set[str], loose: bool) -> str:
    if col in texts:
        return f"NOT (x.{col} IS NULL AND s.{col} IS NULL OR coalesce(note_matches(x.{col}, s.{col}), 0))"
    test = f"x.{col} IS NOT s.{col}"
    return f"(s.loose = 0 AND {test})" if loose and col in _LOOSE else test


def _compare(conn: sqlite3.Connection, matches: Callable[[str | None, str | None], int],
             add: Callable[[StateDifference], None], parts: tuple[str, ...]) -> None:
    conn.create_function("note_matches", 2, matches, deterministic=True)
    for table, scratch, key, columns, texts in _TABLES:
        if (OBLIGATIONS if table == "obligations" else STATE) not in parts:
            continue
        if key == "id":
            # Keyed by the store table's own integer primary key: joined in place.
            store = f"({_STORE[table]})"
            present = f"SELECT 1 FROM store.{table} x WHERE x.id = s.id"
        else:
            # Keyed by submission id, which the store reaches through reports: its side
            # is read once into the scratch database and indexed.
            conn.execute(f"CREATE TABLE x_{scratch} AS {_STORE[table]}")
            conn.execute(f"CREATE INDEX x_{scratch}_key ON x_{scratch} ({key})")
            store = f"x_{scratch}"
            present = f"SELECT 1 FROM {store} x WHERE x.{key} = s.{key}"
        loose = table == "obligations"
        skip = " AND coalesce({a}.sid, '') NOT IN (SELECT sid FROM no_images)" if loose else ""
        differ = " OR ".join(_differs(c, texts, loose) for c in columns)
        rows = conn.execute(
            f"SELECT x.{key}, s.{key} IS NULL, {', '.join(f'{_differs(c, texts, loose)}' for c in columns)}"
            f" FROM {store} x LEFT JOIN {scratch} s ON s.{key} = x.{key}"
            f" WHERE (s.{key} IS NULL OR {differ}){skip.format(a='x')}"
            f" UNION ALL SELECT s.{key}, 2, {', '.join('0' for _ in columns)} FROM {scratch} s"
            f" WHERE NOT EXISTS ({present}){skip.format(a='s')}"
            " ORDER BY 1"
        )
        for r in rows:
            if r[1] == 1:
                add(StateDifference(table=table, key=str(r[0]), problem="extra"))
            elif r[1] == 2:
                add(StateDifference(table=table, key=str(r[0]), problem="missing"))
            else:
                bad = [_NAMES.get(c, c) for c, d in zip(columns, r[2:]) if d]
                add(StateDifference(table=table, key=str(r[0]), problem="differs", columns=bad))


class _PartResult(msgspec.Struct, kw_only=True):
    """What one part of the replay found (it crosses the process boundary)."""

    entries: int = 0
    differences: list[StateDifference] = []
    unlisted: int = 0
    clues_without_images: int = 0
    bad_seq: int | None = None  # the first entry that is not a valid record
    error: str | None = None  # an SQLite error


def _replay_part(store_path: str, directory: str, parts: tuple[str, ...], secret: bytes | None) -> _PartResult:
    """Replay ``parts`` of the state from the log of the store at ``store_path`` in a
    scratch database of their own in ``directory`` (one read snapshot of the store)."""
    conn = sqlite3.connect(Path(directory) / f"scratch-{'-'.join(parts)}.db", isolation_level=None)
    try:
        conn.executescript("PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF; PRAGMA cache_size = -65536;")
        for part in parts:
            conn.executescript(_SCRATCH[part])
        uri = Path(store_path).resolve().as_uri() + "?mode=ro"
        conn.execute("ATTACH DATABASE ? AS store", (uri,))
        conn.execute("BEGIN")
        builders = [(_StateBuilder if part == STATE else _ObligationBuilder)(conn) for part in parts]
        apply = [b.entry for b in builders]
        decode = _DECODERS[parts]
        count = 0
        cur = conn.execute("SELECT seq, CAST(entry AS BLOB) FROM store.audit_log ORDER BY seq")
        cur.arraysize = 8192
        # Millions of acyclic objects (decoded entries, the builders' rows): the cyclic
        # collector would walk them again and again, also while the builders finish.
        with no_gc():
            while rows := cur.fetchmany():
                for seq, raw in rows:
                    try:
                        e = decode(raw)
                        for f in apply:
                            f(e)
                    except (msgspec.DecodeError, msgspec.ValidationError, ValueError, TypeError):
                        return _PartResult(bad_seq=seq)
                count += len(rows)
            for b in builders:
                b.finish()
            del builders, apply
        out: list[StateDifference] = []
        over = 0

        def add(d: StateDifference) -> None:
            nonlocal over
            if len(out) < MAX_LISTED:
                out.append(d)
            else:
                over += 1

        _compare(conn, _note_matcher(secret), add, parts)
        legacy = conn.execute("SELECT count(*) FROM no_images").fetchone()[0] if OBLIGATIONS in parts else 0
        conn.execute("ROLLBACK")
    except sqlite3.Error as exc:
        return _PartResult(error=str(exc))
    finally:
        conn.close()
    return _PartResult(entries=count, differences=out, unlisted=over, clues_without_images=int(legacy))


def _run_part(args: tuple[str, str, tuple[str, ...], bytes | None]) -> bytes:
    # The result crosses the process boundary as MessagePack.
    return msgspec.msgpack.encode(_replay_part(*args))


_decode_part = msgspec.msgpack.Decoder(_PartResult).decode


def _log_size(store_path: Path) -> int:
    uri = Path(store_path).resolve().as_uri() + "?mode=ro"
    try:
        conn = sqlite3.connect(uri, uri=True)
        try:
            row = conn.execute("SELECT max(seq) FROM audit_log").fetchone()
        finally:
            conn.close()
    except sqlite3.Error:
        return 0  # the replay itself names the problem
    return 0 if row is None or row[0] is None else int(row[0]) + 1


def replay_state(store_path: Path, *, secret: bytes | None, scratch_dir: Path | None = None,
                 parallel: bool = True, parallel_min: int = PARALLEL_MIN) -> ReplayReport:
    """Rebuild the state tables from the audit entries of the store at ``store_path`` in a
    scratch database and compare them row by row with the store (one read snapshot per
    part: stages, events and assignments; obligations).

    ``secret`` is the home's audit secret (for notes and reasons); without it, keyed
    notes count as differing only when the store holds none. A log of at least
    ``parallel_min`` entries is replayed by two processes (``parallel=False``: one pass).

    Raises:
        StateError: the store cannot be read, or an entry is not a valid record (run
            ``audit verify``).
    """
    directory = tempfile.mkdtemp(prefix="cluetool-replay-", dir=scratch_dir)
    try:
        if parallel and workers() > 1 and _log_size(store_path) >= parallel_min:
            with ProcessPoolExecutor(max_workers=1, mp_context=get_context("fork")) as pool:
                theirs = pool.submit(_run_part, (str(store_path), directory, (OBLIGATIONS,), secret))
                results = [_replay_part(str(store_path), directory, (STATE,), secret), _decode_part(theirs.result())]
        else:
            results = [_replay_part(str(store_path), directory, _PARTS, secret)]
    finally:
        for name in os.listdir(directory):
            os.unlink(os.path.join(directory, name))
        os.rmdir(directory)
    bad = [r.bad_seq for r in results if r.bad_seq is not None]
    if bad:
        raise StateError(f"audit entry {min(bad)} cannot be replayed: it is not a valid record",
                         hint="run: cluetool audit verify")
    for r in results:
        if r.error is not None:
            raise StateError(f'cannot replay the audit log of "{store_path}": {r.error}')
    found = [d for r in results for d in r.differences]
    total = len(found) + sum(r.unlisted for r in results)
    out = found[:MAX_LISTED]
    return ReplayReport(ok=total == 0, entries=results[0].entries, differences=out, unlisted=total - len(out),
                        clues_without_images=sum(r.clues_without_images for r in results))


def replay_home(home: Home) -> ReplayReport:
    """``replay_state`` of the home's store, with its audit secret when it has one. A
    PostgreSQL store's state tables and log are first copied, in one read snapshot, into
    a scratch SQLite file (``cluetool.store.statecopy``) in the home's ``state/``, which
    the replay compares against and which is removed after it.

    Raises:
        as ``replay_state``; StateError: a PostgreSQL store cannot be read.
    """
    home.check()
    secret = load_audit_secret(home) if secret_path(home).exists() else None
    scratch = home.state_dir if home.state_dir.is_dir() else None
    if isinstance(home.store_location, Path):
        return replay_state(home.store_file, secret=secret, scratch_dir=scratch)
    directory = Path(tempfile.mkdtemp(prefix="cluetool-replay-", dir=scratch))
    try:
        snapshot = directory / "store-snapshot.db"
        with open_store(home, readonly=True) as store:
            copy_state(store, snapshot)
        return replay_state(snapshot, secret=secret, scratch_dir=directory)
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def _describe(d: StateDifference) -> str:
    what = {"missing": "is in the audit log but not in the store",
            "extra": "is in the store but no audit entry made it",
            "differs": f"differs from what the audit log says ({', '.join(d.columns)})"}[d.problem]
    return f"{d.table} row {d.key} {what}"


def state_problems(report: ReplayReport) -> list[StoreProblem]:
    """The differences as ``store check`` problems (``state.<table>``, error)."""
    out = [StoreProblem(code=f"state.{d.table}", severity="error", object=f"{d.table}:{d.key}", message=_describe(d))
           for d in report.differences]
    if report.unlisted:
        out.append(StoreProblem(code="state.more", severity="error", object="store",
                                message=f"{report.unlisted} more differing rows not listed"))
    if report.clues_without_images:
        out.append(StoreProblem(code="state.no_images", severity="warning", object="obligations",
                                message=f"{report.clues_without_images} clues were imported before audit entries "
                                        "recorded obligations: their obligations are not compared"))
    return out


def with_state(report: AuditReport, replay: ReplayReport) -> AuditReport:
    """``audit verify --state``: the replay's differences added as ``audit.state_mismatch``
    findings (and its legacy-clue warning as ``audit.state_no_images``)."""
    findings = list(report.findings)
    for p in state_problems(replay):
        code = "audit.state_no_images" if p.code == "state.no_images" else "audit.state_mismatch"
        findings.append(AuditFinding(code=code, message=p.message, severity=p.severity))
    return msgspec.structs.replace(report, findings=findings,
                                   ok=not any(f.severity == "error" for f in findings))
