"""Writing and reading audit entries (docs/audit.md), inside the store's transactions.

An entry is the canonical JSON (``cluetool.formats.canonical``) of
``{seq, at, actor, action, object, details}``; its leaf hash is RFC 6962 §2.1
``SHA-256(0x00 || entry)``. Entries are written by ``append_entry`` in the same
transaction as the change they record, so both commit or neither does.

An entry is metadata, never content: callers pass ids and hashes only (a submission id,
a batch's manifest sha256, a rule id, a key id) and never report text, names, phone
numbers or secrets. No check can recognise content in general; ``append_entry`` enforces
a shape that leaves little room for it: ``details`` is a flat object whose values are
strings of at most 200 characters, integers, booleans, null, or lists of those.

Conventions: ``object`` is ``<type>:<id>`` (``report:<submission_id>``,
``batch:<manifest sha256>``, ``source:<name>``, ``unit:<id>``) or ``store``; ``action``
is ``<area>.<verb>`` (``store.migrate``, ``batch.import``, ``clue.assign``). ``at`` is
RFC 3339 UTC with ``Z`` and always six fractional digits, so entries sort as strings.
``seq`` starts at 0 and equals the Merkle leaf index.

The Merkle tree, checkpoints and proofs are ``cluetool.audit``'s; this module only
stores and streams leaves.
"""

from __future__ import annotations

import functools
import hashlib
import sqlite3
from collections.abc import Iterator, Sequence
from datetime import datetime, timezone
from typing import Any, Protocol

import msgspec

from cluetool.model.store import AuditEntry

_ENCODER = msgspec.json.Encoder(order="sorted")


class Db(Protocol):
    """A ``Store`` or a ``Tx`` (``cluetool.store.db``), as far as the audit SQL needs one;
    named structurally so that this module does not import ``db`` (which imports it)."""

    def execute(self, sql: str, params: Any = ..., /) -> sqlite3.Cursor: ...

    def executemany(self, sql: str, rows: Any, /) -> sqlite3.Cursor: ...

    def lock(self, name: str, /) -> None: ...


MAX_STRING = 200
_LEAF_PREFIX = b"\x00"  # RFC 6962 §2.1: leaf hashes are domain-separated by 0x00.
_FETCH = 4096


def format_time(at: datetime) -> str:
    """RFC 3339 UTC with ``Z`` and microseconds, e.g. ``2026-11-24T02:00:00.000000Z``.

    Raises:
        ValueError: ``at`` is naive (no time zone).
    """
    if at.utcoffset() is None:  # naive (or a zone that gives no offset)
        raise ValueError("timestamp must be time-zone aware")
    return _utc_text(at)


@functools.lru_cache(maxsize=8192)
def _utc_text(at: datetime) -> str:
    # An import formats each report's receipt time three times (row, codes, audit
    # entry), and bulk writes stamp many rows with one instant: equal instants (equal
    # aware datetimes, whatever their zones) give the same text, so they are cached.
    utc = at.astimezone(timezone.utc)
    if utc.year < 1000:  # isoformat pads the year to four digits, strftime does not
        return utc.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return utc.replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def leaf_hash(entry: bytes) -> bytes:
    """RFC 6962 §2.1 leaf hash of an entry's bytes."""
    return hashlib.sha256(_LEAF_PREFIX + entry).digest()


def _check_label(name: str, value: str) -> None:
    if not isinstance(value, str) or not value or len(value) > MAX_STRING:
        raise ValueError(f"audit {name} must be a non-empty string of at most {MAX_STRING} characters")


_SAFE_INT = 2**53 - 1


def _check_scalar(key: str, value: Any) -> None:
    if value is None or isinstance(value, bool):
        return
    if isinstance(value, int):
        if abs(value) > _SAFE_INT:
            raise ValueError(f"audit detail {key!r} is an integer outside the safe range")
        return
    if isinstance(value, str):
        if len(value) > MAX_STRING:
            raise ValueError(
                f"audit detail {key!r} is longer than {MAX_STRING} characters: "
                "an entry holds ids and hashes, not content"
            )
        return
    raise ValueError(f"audit detail {key!r} must be a string, integer, boolean or null")


def check_details(details: dict[str, Any]) -> None:
    """The allow-list on ``details`` (see the module docstring).

    Raises:
        ValueError: a key or value outside it.
    """
    if not isinstance(details, dict):
        raise ValueError("audit details must be an object")
    for key, value in details.items():
        if not isinstance(key, str) or not key or len(key) > 64:
            raise ValueError("audit detail keys must be non-empty strings of at most 64 characters")
        t = type(value)
        if (t is str and len(value) <= MAX_STRING) or t is bool or value is None:
            continue  # the common values, settled without a call (bulk imports)
        if isinstance(value, list):
            for item in value:
                _check_scalar(key, item)
        else:
            _check_scalar(key, value)


def encode_entry(
    *, seq: int, at: datetime, actor: str, action: str, object: str, details: dict[str, Any]
) -> bytes:
    """The canonical bytes of an entry (what auditors recompute leaf hashes over).

    Raises:
        ValueError: a field outside the allow-list, or a naive ``at``.
    """
    _check_label("actor", actor)
    _check_label("action", action)
    return _encode(seq, format_time(at), actor, action, object, details)


def _encode(seq: int, at: str, actor: str, action: str, object: str, details: dict[str, Any]) -> bytes:
    # actor and action checked by the caller (once per distinct value in bulk).
    _check_label("object", object)
    check_details(details)
    doc = {"seq": seq, "at": at, "actor": actor, "action": action, "object": object, "details": details}
    # The checks above leave only strings, safe integers, booleans, null and lists of
    # them: canonical JSON is then exactly the sorted-key msgspec encoding (the same
    # bytes as ``canonical.dumps``, without its generic walk).
    return _ENCODER.encode(doc)


def append_entry(
    tx: Db, *, at: datetime, actor: str, action: str, object: str, details: dict[str, Any]
) -> AuditEntry:
    """Append one entry in ``tx`` (it commits or rolls back with the change it records).

    ``seq`` is the next leaf index, allocated inside the write transaction, which holds
    the store's write lock, so no other writer can take the same number.

    Raises:
        ValueError: a field outside the allow-list, or a naive ``at``.
    """
    tx.lock("audit")  # audit appends are serialised: one gap-free sequence (PostgreSQL)
    row = tx.execute("SELECT max(seq) FROM audit_log").fetchone()
    seq = 0 if row[0] is None else row[0] + 1
    entry = encode_entry(seq=seq, at=at, actor=actor, action=action, object=object, details=details)
    digest = leaf_hash(entry)
    tx.execute("INSERT INTO audit_log (seq, entry, leaf_hash) VALUES (?, ?, ?)", (seq, entry, digest))
    return AuditEntry(seq=seq, entry=entry, leaf_hash=digest)


class NewEntry(msgspec.Struct, frozen=True, kw_only=True):
    """One entry to append with ``append_entries``."""

    at: datetime
    actor: str
    action: str
    object: str
    details: dict[str, Any]


def append_entries(tx: Db, entries: Sequence[NewEntry]) -> list[AuditEntry]:
    """Append several entries in ``tx``, in order, with one statement (bulk imports).

    Raises:
        ValueError: as ``append_entry``.
    """
    tx.lock("audit")
    row = tx.execute("SELECT max(seq) FROM audit_log").fetchone()
    first = 0 if row[0] is None else row[0] + 1
    # A bulk run stamps its entries with a few instants and actions: each is formatted
    # and checked once.
    times: dict[datetime, str] = {}
    labels: set[tuple[str, str]] = set()
    out = []
    for i, e in enumerate(entries):
        at = times.get(e.at)
        if at is None:
            at = times[e.at] = format_time(e.at)
        if (e.actor, e.action) not in labels:
            _check_label("actor", e.actor)
            _check_label("action", e.action)
            labels.add((e.actor, e.action))
        entry = _encode(first + i, at, e.actor, e.action, e.object, e.details)
        out.append(AuditEntry(seq=first + i, entry=entry, leaf_hash=leaf_hash(entry)))
    tx.executemany("INSERT INTO audit_log (seq, entry, leaf_hash) VALUES (?, ?, ?)",
                   ((a.seq, a.entry, a.leaf_hash) for a in out))
    return out


def audit_size(db: Db) -> int:
    """The number of entries (the tree size), assuming ``seq`` runs 0..n-1.

    ``audit verify`` checks that assumption by streaming with ``iter_entries``.
    """
    row = db.execute("SELECT max(seq) FROM audit_log").fetchone()
    return 0 if row[0] is None else row[0] + 1


def iter_entries(db: Db, start: int = 0) -> Iterator[AuditEntry]:
    """Stream the stored entries with ``seq >= start`` in ``seq`` order, as stored.

    One SELECT statement, so one consistent snapshot, fetched in chunks: memory stays
    constant for millions of entries. Entries are not decoded or checked here; use
    ``AuditEntry.record()`` and recompute ``leaf_hash`` to verify.
    """
    cur = db.execute(
        "SELECT seq, entry, leaf_hash FROM audit_log WHERE seq >= ? ORDER BY seq", (start,)
    )
    return stream_entries(cur)


def stream_entries(cur: sqlite3.Cursor) -> Iterator[AuditEntry]:
    """``AuditEntry`` records from a cursor over (seq, entry, leaf_hash), fetched in
    chunks (memory stays constant); the cursor is closed at the end."""
    cur.arraysize = _FETCH
    try:
        while True:
            rows = cur.fetchmany()
            if not rows:
                return
            for seq, entry, digest in rows:
                yield AuditEntry(seq=seq, entry=bytes(entry), leaf_hash=bytes(digest))
    finally:
        cur.close()
