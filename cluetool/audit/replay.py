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
  A ``rules.changed`` entry without images (written before images existed) leaves the
  due dates, provisional flags and states of the then open obligations unknown: those
  fields are not compared until a later image of the row.

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
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import msgspec

from cluetool.audit.engine import AuditFinding, AuditReport
from cluetool.config import Home
from cluetool.errors import StateError
from cluetool.keys.audit_secret import load_audit_secret, secret_path
from cluetool.model.store import StoreProblem
from cluetool.store.stateimages import IMAGE_KEY

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


class _Entry(msgspec.Struct):
    seq: int
    at: str
    action: str
    object: str
    details: dict[str, Any]


_decode = msgspec.json.Decoder(_Entry).decode

_SCRATCH = """
CREATE TABLE stages (sid TEXT PRIMARY KEY, stage TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE events (id INTEGER PRIMARY KEY, sid TEXT, event TEXT, at TEXT, unit TEXT, to_unit TEXT,
                     channel TEXT, note TEXT, recorded_at TEXT);
CREATE TABLE assignments (sid TEXT PRIMARY KEY, unit TEXT, assigned_at TEXT, rule_id TEXT, reason TEXT,
                          event_id INTEGER) WITHOUT ROWID;
CREATE TABLE obligations (id INTEGER PRIMARY KEY, sid TEXT, rule_id TEXT, unit TEXT, trigger_event_id INTEGER,
                          due_date TEXT, provisional INTEGER, state TEXT, met_at TEXT, met_event_id INTEGER,
                          created_at TEXT, loose INTEGER NOT NULL DEFAULT 0);
CREATE TABLE no_images (sid TEXT PRIMARY KEY) WITHOUT ROWID;
"""


def _sid(obj: str) -> str:
    return obj[len("report:"):] if obj.startswith("report:") else obj


def _text_digest(details: dict[str, Any], name: str) -> str | None:
    keyed = details.get(f"{name}_hmac_sha256")
    if isinstance(keyed, str):
        return "hmac:" + keyed
    plain = details.get(f"{name}_sha256")
    if isinstance(plain, str):
        return "sha256:" + plain
    return None


def _int(value: str) -> int | None:
    return None if value == "" else int(value)


def _none(value: str) -> str | None:
    return None if value == "" else value


class _Builder:
    """Applies entries to the scratch database, batching statements of one kind."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self.stage: dict[str, str] = {}
        self.assignment: dict[str, tuple[Any, ...]] = {}  # final state only: assign and transfer interleave
        self.pending: dict[str, list[tuple[Any, ...]]] = {}
        self.images_seen = 0

    def _add(self, sql: str, row: tuple[Any, ...]) -> None:
        rows = self.pending.setdefault(sql, [])
        rows.append(row)
        if len(rows) >= 20000:
            self.flush()

    def flush(self) -> None:
        # Each statement kind touches its own rows (events once each; obligation images
        # are one kind, applied in entry order), so kinds may be applied one after another.
        for sql, rows in self.pending.items():
            self.conn.executemany(sql, rows)
        self.pending = {}

    def advance(self, sid: str, stage: str) -> None:
        old = self.stage.get(sid)
        if old is None or _STAGE_RANK[stage] > _STAGE_RANK[old]:
            self.stage[sid] = stage

    def images(self, sid: str, at: str, images: list[Any]) -> None:
        for img in images:
            f = str(img).split("|")
            if len(f) != 9:
                raise ValueError("malformed obligation image")
            self._add(
                "INSERT INTO obligations (id, sid, rule_id, unit, trigger_event_id, due_date, provisional, state, met_at,"
                " met_event_id, created_at, loose) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, 0)"
                " ON CONFLICT (id) DO UPDATE SET rule_id = ?3, unit = ?4, trigger_event_id = ?5, due_date = ?6,"
                " provisional = ?7, state = ?8, met_at = ?9, met_event_id = ?10, loose = 0",
                (int(f[0]), sid, f[1], _none(f[2]), _int(f[3]), f[4], int(f[5]), f[6], _none(f[7]), _int(f[8]), at),
            )

    def entry(self, e: _Entry) -> None:
        d = e.details
        images = d.get(IMAGE_KEY)
        if e.action == "report.import":
            sid = e.object
            self.advance(sid, "received")
            if images is None:
                self._add("INSERT OR IGNORE INTO no_images (sid) VALUES (?)", (sid,))
        elif e.action == "clue.assign":
            sid = _sid(e.object)
            reason = _text_digest(d, "reason")
            self._add("INSERT OR REPLACE INTO events VALUES (?, ?, 'assigned', ?, ?, ?, NULL, ?, ?)",
                      (d.get("event_id"), sid, e.at, d.get("previous_unit"), d.get("unit"), reason, e.at))
            self.assignment[sid] = (sid, d.get("unit"), e.at, d.get("rule"), reason, d.get("event_id"))
            self.advance(sid, "assigned")
        elif e.action == "event.record":
            sid = _sid(e.object)
            event = d.get("event")
            self._add("INSERT OR REPLACE INTO events VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                      (d.get("event_id"), sid, event, d.get("event_at"), d.get("unit"), d.get("to_unit"),
                       d.get("channel"), _text_digest(d, "note"), e.at))
            if event == "transferred":
                self.assignment[sid] = (sid, d.get("to_unit"), d.get("event_at"), None, None, d.get("event_id"))
            if event in _EVENT_STAGE:
                self.advance(sid, _EVENT_STAGE[event])
        elif e.action == "rules.changed" and images is None:
            self.flush()
            self.conn.execute("UPDATE obligations SET loose = 1 WHERE state = 'open'")
        if images:
            self.images_seen += len(images)
            self.images(_sid(e.object), e.at, images)

    def finish(self) -> None:
        self.flush()
        self.conn.executemany("INSERT INTO stages VALUES (?, ?)", self.stage.items())
        self.conn.executemany("INSERT INTO assignments VALUES (?, ?, ?, ?, ?, ?)", self.assignment.values())


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


# Each comparison: the table's name in findings, the key, the store side and the
# scratch side as (key, columns...) selects, and the columns compared.
_STORE_STAGES = ("SELECT r.submission_id, s.stage FROM store.report_stages s JOIN store.reports r ON r.id = s.report_id")
_STORE_EVENTS = ("SELECT e.id, r.submission_id, e.event, e.at, e.unit, e.to_unit, e.channel, e.note, e.recorded_at"
                 " FROM store.events e LEFT JOIN store.reports r ON r.id = e.report_id")
_STORE_ASSIGNMENTS = ("SELECT r.submission_id, a.unit, a.assigned_at, a.rule_id, a.reason, a.event_id"
                      " FROM store.assignments a LEFT JOIN store.reports r ON r.id = a.report_id")
_STORE_OBLIGATIONS = ("SELECT o.id, r.submission_id AS sid, o.rule_id, o.unit, o.trigger_event_id, o.due_date, o.provisional,"
                      " o.state, o.met_at, o.met_event_id, o.created_at FROM store.obligations o"
                      " LEFT JOIN store.reports r ON r.id = o.report_id")

_TABLES: list[tuple[str, str, str, list[str], set[str]]] = [
    ("report_stages", _STORE_STAGES, "SELECT sid, stage FROM stages", ["stage"], set()),
    ("events", _STORE_EVENTS, "SELECT id, sid, event, at, unit, to_unit, channel, note, recorded_at FROM events",
     ["submission_id", "event", "at", "unit", "to_unit", "channel", "note", "recorded_at"], {"note"}),
    ("assignments", _STORE_ASSIGNMENTS, "SELECT sid, unit, assigned_at, rule_id, reason, event_id FROM assignments",
     ["unit", "assigned_at", "rule_id", "reason", "event_id"], {"reason"}),
    ("obligations", _STORE_OBLIGATIONS,
     "SELECT id, sid, rule_id, unit, trigger_event_id, due_date, provisional, state, met_at, met_event_id, created_at,"
     " loose FROM obligations",
     ["submission_id", "rule_id", "unit", "trigger_event_id", "due_date", "provisional", "state", "met_at",
      "met_event_id", "created_at"], set()),
]
_LOOSE = {"due_date", "provisional", "state", "met_at", "met_event_id"}


def _rows(conn: sqlite3.Connection, sql: str, skip_no_images: bool) -> Iterator[tuple[Any, ...]]:
    if skip_no_images:
        # Both sides name the submission id ``sid``.
        sql = f"SELECT * FROM ({sql}) WHERE coalesce(sid, '') NOT IN (SELECT sid FROM no_images)"
    cur = conn.execute(f"{sql} ORDER BY 1")
    cur.arraysize = 4096
    while rows := cur.fetchmany():
        yield from rows


def _compare(conn: sqlite3.Connection, matches: Callable[[str | None, str | None], int],
             add: Callable[[StateDifference], None]) -> None:
    for table, store_sql, scratch_sql, columns, texts in _TABLES:
        skip = table == "obligations"
        a = _rows(conn, store_sql, skip)
        b = _rows(conn, scratch_sql, skip)
        x, y = next(a, None), next(b, None)
        while x is not None or y is not None:
            if y is None or (x is not None and _key(x[0]) < _key(y[0])):
                add(StateDifference(table=table, key=str(x[0]), problem="extra"))  # type: ignore[index]
                x = next(a, None)
            elif x is None or _key(y[0]) < _key(x[0]):
                add(StateDifference(table=table, key=str(y[0]), problem="missing"))
                y = next(b, None)
            else:
                loose = table == "obligations" and y[-1] == 1
                bad = []
                for i, col in enumerate(columns, 1):
                    if loose and col in _LOOSE:
                        continue
                    if col in texts:
                        if not matches(x[i], y[i]):
                            bad.append(col)
                    elif x[i] != y[i]:
                        bad.append(col)
                if bad:
                    add(StateDifference(table=table, key=str(x[0]), problem="differs", columns=bad))
                x, y = next(a, None), next(b, None)


def _key(value: Any) -> tuple[int, Any]:
    # SQLite orders integers before text; NULL keys (a row whose report is gone) first.
    if value is None:
        return (0, 0)
    return (1, value) if isinstance(value, int) else (2, value)


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
