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
"""

from __future__ import annotations

import hashlib
import hmac
import os
import sqlite3
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec

from cluetool.audit.engine import AuditFinding, AuditReport, no_gc
from cluetool.config import Home
from cluetool.errors import StateError
from cluetool.keys.audit_secret import load_audit_secret, secret_path
from cluetool.model.store import StoreProblem

SCHEMA = "cluetool.state-replay/1"
MAX_LISTED = 1000
_STAGE_RANK = {"received": 0, "assigned": 1, "under_verification": 2, "closed": 3}
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


class _Details(msgspec.Struct, kw_only=True):
    # Only what replay reads; other detail fields are skipped by the decoder.
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
    # A deadline recomputation (``rules.changed``): "ID OLD NEW" per changed due date,
    # the ids still provisional after it, the ids it cancelled.
    changes: Any = None
    still_provisional: Any = None
    cancelled_ids: Any = None


class _Entry(msgspec.Struct):
    seq: int
    at: str
    action: str
    object: str
    details: _Details


_decode = msgspec.json.Decoder(_Entry).decode

_SCRATCH = """
CREATE TABLE stages (sid TEXT PRIMARY KEY, stage TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE events (id INTEGER PRIMARY KEY, sid TEXT, event TEXT, at TEXT, unit TEXT, to_unit TEXT,
                     channel TEXT, note TEXT, recorded_at TEXT);
CREATE TABLE assignments (sid TEXT PRIMARY KEY, unit TEXT, assigned_at TEXT, rule_id TEXT, reason TEXT,
                          event_id INTEGER) WITHOUT ROWID;
CREATE TABLE images (n INTEGER PRIMARY KEY, id INTEGER, sid TEXT, rule_id TEXT, unit TEXT, trigger_event_id INTEGER,
                     due_date TEXT, provisional INTEGER, state TEXT, met_at TEXT, met_event_id INTEGER, at TEXT);
CREATE TABLE obligations (id INTEGER PRIMARY KEY, sid TEXT, rule_id TEXT, unit TEXT, trigger_event_id INTEGER,
                          due_date TEXT, provisional INTEGER, state TEXT, met_at TEXT, met_event_id INTEGER,
                          created_at TEXT, loose INTEGER NOT NULL DEFAULT 0, last_n INTEGER);
CREATE TABLE no_images (sid TEXT PRIMARY KEY) WITHOUT ROWID;
"""
# The obligations as the log leaves them: each row's last image, created at its first,
# loose when still open at a recomputation that recorded no images.
_FINAL = """
INSERT INTO obligations
SELECT i.id, i.sid, i.rule_id, i.unit, i.trigger_event_id, i.due_date, i.provisional, i.state, i.met_at,
       i.met_event_id, f.at, i.state = 'open' AND i.n < ?, i.n
FROM (SELECT id, min(n) AS first, max(n) AS last FROM images GROUP BY id) g
JOIN images i ON i.n = g.last JOIN images f ON f.n = g.first
"""


def _sid(obj: str) -> str:
    return obj[7:] if obj.startswith("report:") else obj


def _digest(keyed: Any, plain: Any) -> str | None:
    if isinstance(keyed, str):
        return "hmac:" + keyed
    if isinstance(plain, str):
        return "sha256:" + plain
    return None


class _Builder:
    """Applies entries to the scratch database in bulk."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self.stage: dict[str, str] = {}
        self.assignment: dict[str, tuple[Any, ...]] = {}  # final state only: assign and transfer interleave
        self.events: list[tuple[Any, ...]] = []
        self.images: list[tuple[Any, ...]] = []
        self.no_images: list[tuple[str]] = []
        self.n = 0  # images so far (the images table's n)
        self.loose_below = 0  # images before the last recomputation that recorded none
        # Recomputed due dates and cancellations, applied after the images: (n, ...).
        self.due_changes: list[tuple[str, int, int, int]] = []
        self.cancels: list[tuple[int, int]] = []

    def flush(self) -> None:
        self.conn.executemany("INSERT OR REPLACE INTO events VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", self.events)
        self.conn.executemany("INSERT INTO images VALUES (" + ",".join("?" * 12) + ")", self.images)
        self.events, self.images = [], []

    def advance(self, sid: str, stage: str) -> None:
        old = self.stage.get(sid)
        if old is None or _STAGE_RANK[stage] > _STAGE_RANK[old]:
            self.stage[sid] = stage

    def entry(self, e: _Entry) -> None:
        d = e.details
        action = e.action
        if action == "report.import":
            sid = e.object
            self.advance(sid, "received")
            if d.obligations is None:
                self.no_images.append((sid,))
        elif action == "clue.assign":
            sid = _sid(e.object)
            reason = _digest(d.reason_hmac_sha256, d.reason_sha256)
            self.events.append((d.event_id, sid, "assigned", e.at, d.previous_unit, d.unit, None, reason, e.at))
            self.assignment[sid] = (sid, d.unit, e.at, d.rule, reason, d.event_id)
            self.advance(sid, "assigned")
        elif action == "event.record":
            sid = _sid(e.object)
            event = d.event
            self.events.append((d.event_id, sid, event, d.event_at, d.unit, d.to_unit, d.channel,
                                _digest(d.note_hmac_sha256, d.note_sha256), e.at))
            if event == "transferred":
                self.assignment[sid] = (sid, d.to_unit, d.event_at, None, None, d.event_id)
            if event in _EVENT_STAGE:
                self.advance(sid, _EVENT_STAGE[event])
        elif action == "rules.changed" and d.obligations is None:
            if d.changes is None and d.cancelled_ids is None:
                self.loose_below = self.n + 1  # written before recomputations were itemised
            else:
                still = set(d.still_provisional or ())
                for change in d.changes or ():
                    oid, _old, new = str(change).split(" ")
                    self.due_changes.append((new, int(int(oid) in still), int(oid), self.n))
                self.cancels += [(int(oid), self.n) for oid in d.cancelled_ids or ()]
        if d.obligations:
            sid = _sid(e.object)
            at = e.at
            for img in d.obligations:
                f = img.split("|")
                if len(f) != 9:
                    raise ValueError("malformed obligation image")
                self.n += 1
                self.images.append((self.n, int(f[0]), sid, f[1], f[2] or None, int(f[3]) if f[3] else None, f[4],
                                    int(f[5]), f[6], f[7] or None, int(f[8]) if f[8] else None, at))
        if len(self.images) + len(self.events) >= 50000:
            self.flush()

    def finish(self) -> None:
        self.flush()
        self.conn.executemany("INSERT INTO stages VALUES (?, ?)", self.stage.items())
        self.conn.executemany("INSERT INTO assignments VALUES (?, ?, ?, ?, ?, ?)", self.assignment.values())
        self.conn.executemany("INSERT OR IGNORE INTO no_images VALUES (?)", self.no_images)
        self.conn.execute(_FINAL, (self.loose_below,))
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
            return int(hmac.compare_digest(hmac.new(secret, data, hashlib.sha256).hexdigest(), value))
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
             add: Callable[[StateDifference], None]) -> None:
    conn.create_function("note_matches", 2, matches, deterministic=True)
    for table, scratch, key, columns, texts in _TABLES:
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


def replay_state(store_path: Path, *, secret: bytes | None, scratch_dir: Path | None = None) -> ReplayReport:
    """Rebuild the state tables from the audit entries of the store at ``store_path`` in a
    scratch database and compare them row by row with the store (one read snapshot).

    ``secret`` is the home's audit secret (for notes and reasons); without it, keyed
    notes count as differing only when the store holds none.

    Raises:
        StateError: the store cannot be read, or an entry is not a valid record (run
            ``audit verify``).
    """
    directory = tempfile.mkdtemp(prefix="cluetool-replay-", dir=scratch_dir)
    path = Path(directory) / "scratch.db"
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.executescript("PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF; PRAGMA cache_size = -65536;")
        conn.executescript(_SCRATCH)
        uri = Path(store_path).resolve().as_uri() + "?mode=ro"
        conn.execute("ATTACH DATABASE ? AS store", (uri,))
        matches = _note_matcher(secret)
        conn.execute("BEGIN")
        builder = _Builder(conn)
        count = 0
        cur = conn.execute("SELECT seq, CAST(entry AS BLOB) FROM store.audit_log ORDER BY seq")
        cur.arraysize = 8192
        with no_gc():  # millions of short-lived, acyclic objects
            while rows := cur.fetchmany():
                for seq, raw in rows:
                    try:
                        builder.entry(_decode(raw))
                    except (msgspec.DecodeError, msgspec.ValidationError, ValueError, TypeError):
                        raise StateError(f"audit entry {seq} cannot be replayed: it is not a valid record",
                                         hint="run: cluetool audit verify") from None
                    count += 1
        builder.finish()
        conn.execute("CREATE INDEX IF NOT EXISTS obligations_sid ON obligations (sid)")
        out: list[StateDifference] = []
        over = 0

        def add(d: StateDifference) -> None:
            nonlocal over
            if len(out) < MAX_LISTED:
                out.append(d)
            else:
                over += 1

        _compare(conn, matches, add)
        legacy = conn.execute("SELECT count(*) FROM no_images").fetchone()[0]
        conn.execute("ROLLBACK")
    except sqlite3.Error as exc:
        raise StateError(f'cannot replay the audit log of "{store_path}": {exc}') from None
    finally:
        conn.close()
        for name in os.listdir(directory):
            os.unlink(os.path.join(directory, name))
        os.rmdir(directory)
    return ReplayReport(ok=not out and not over, entries=count, differences=out, unlisted=over,
                        clues_without_images=int(legacy))


def replay_home(home: Home) -> ReplayReport:
    """``replay_state`` of the home's store, with its audit secret when it has one.

    Raises:
        as ``replay_state``.
    """
    home.check()
    secret = load_audit_secret(home) if secret_path(home).exists() else None
    return replay_state(home.store_file, secret=secret, scratch_dir=home.state_dir if home.state_dir.is_dir() else None)


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
