"""The key filter: which submission ids, query-code hashes and fingerprint values the
store may hold (schema version 3, DESIGN §7).

These keys are random, so the store indexes them per era of 65,536 reports (an index
spanning the whole store would take a page write per insert once it is much larger
than a batch). Finding a key then takes one probe per era; the filter spares nearly
all of those probes: a key it has never seen is certainly not stored.

It is a scalable Bloom filter (Almeida et al., "Scalable Bloom Filters", 2007) of
"blocked" parts: each key sets 4 bits of one 64-bit word, chosen by a 64-bit BLAKE2b
hash of the key and its kind. A part has 16 bits (a quarter of a word) per key of its
capacity, which keeps false positives near 0.5 % per part; when the newest part is full, a
new one with twice the capacity takes the next keys. So a key is looked up in at
most a few words, and an import rewrites only the newest part (about 2 bytes per key).

The filter lives in the store (tables ``key_filter`` and ``key_filter_coverage``) and is
written in the same transaction as the keys it describes. It is derived data: it holds
the keys of every report up to ``key_filter_coverage.report_id``, and ``load`` adds the
keys of any later report (after the migration to version 3, all of them). A filter
never forgets a key, so a key it does not know is not in the store.
"""

from __future__ import annotations

import hashlib
import sys
from array import array
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cluetool.store.db import Store, Tx

# The kinds of key, hashed with the key so that equal strings of two kinds differ.
SUBMISSION = b"s"
QUERY_CODE = b"q"
FINGERPRINT = b"f"

FIRST_CAPACITY = 1 << 18  # keys in part 0; each further part doubles it
_KEYS_PER_WORD = 4  # 16 bits per key
_INDEX_MASK = (1 << 40) - 1


def key_hash(kind: bytes, key: str) -> int:
    """The 64-bit hash of one key of ``kind`` (``SUBMISSION``, ``QUERY_CODE``, ``FINGERPRINT``)."""
    return int.from_bytes(hashlib.blake2b(kind + key.encode("utf-8"), digest_size=8).digest(), "little")


def row_key_hashes(submission_id: str, query_code_sha256: str, fingerprint_values: Iterable[str]) -> list[int]:
    """The hashes of a report's keys: its submission id, query-code hash and each
    fingerprint value, in that order."""
    return [
        key_hash(SUBMISSION, submission_id),
        key_hash(QUERY_CODE, query_code_sha256),
        *(key_hash(FINGERPRINT, v) for v in fingerprint_values),
    ]


def _mask(h: int) -> int:
    # Bits 40-63 of the hash pick the 4 bits within the word; bits 0-39 pick the word.
    return (1 << ((h >> 40) & 63)) | (1 << ((h >> 46) & 63)) | (1 << ((h >> 52) & 63)) | (1 << (h >> 58))


class _Part:
    __slots__ = ("part", "capacity", "keys", "words", "dirty")

    def __init__(self, part: int, capacity: int, keys: int, words: array) -> None:
        self.part = part
        self.capacity = capacity
        self.keys = keys
        self.words = words
        self.dirty = False


def _words(n: int, data: bytes | None = None) -> array:
    words = array("Q")
    if data is None:
        words.frombytes(bytes(8 * n))
    else:
        words.frombytes(data)
    if sys.byteorder != "little":
        words.byteswap()
    return words


def _to_bytes(words: array) -> bytes:
    if sys.byteorder == "little":
        return words.tobytes()
    copy = array("Q", words)
    copy.byteswap()
    return copy.tobytes()


class KeyFilter:
    """The filter of one write transaction: ``load`` it, ``add`` and ask, then ``save``."""

    def __init__(self, parts: list[_Part], coverage: int) -> None:
        self._parts = parts
        self.coverage = coverage

    @property
    def keys(self) -> int:
        return sum(p.keys for p in self._parts)

    def __contains__(self, h: int) -> bool:
        """Whether the key with hash ``h`` may be stored (``False``: it certainly is not)."""
        m = _mask(h)
        i = h & _INDEX_MASK
        for p in self._parts:
            if p.words[i % len(p.words)] & m == m:
                return True
        return False

    def add(self, hashes: Sequence[int]) -> list[int]:
        """Record keys by their hashes; return the positions in ``hashes`` of those the
        filter may have held before (each of the others is certainly new)."""
        seen: list[int] = []
        parts = self._parts
        i = 0
        while i < len(hashes):
            if not parts or parts[-1].keys >= parts[-1].capacity:
                capacity = 2 * parts[-1].capacity if parts else FIRST_CAPACITY
                parts.append(_Part(len(parts), capacity, 0, _words(capacity // _KEYS_PER_WORD)))
            part = parts[-1]
            older = parts[:-1]
            words = part.words
            n = len(words)
            stop = min(len(hashes), i + part.capacity - part.keys)
            for j in range(i, stop):
                h = hashes[j]
                m = _mask(h)
                k = h & _INDEX_MASK
                w = words[k % n]
                if w & m == m or any(p.words[k % len(p.words)] & m == m for p in older):
                    seen.append(j)
                words[k % n] = w | m
            part.keys += stop - i
            part.dirty = True
            i = stop
        return seen


def _read(db: Store | Tx) -> KeyFilter | None:
    # The stored filter as it is; None if its parts do not fit together.
    rows = db.execute("SELECT part, capacity, keys, words FROM key_filter ORDER BY part").fetchall()
    parts = [
        _Part(part, capacity, keys, _words(0, words if isinstance(words, bytes) and len(words) % 8 == 0 else b""))
        for part, capacity, keys, words in rows
    ]
    row = db.execute("SELECT report_id FROM key_filter_coverage WHERE id = 1").fetchone()
    return KeyFilter(parts, 0 if row is None else int(row[0])) if _well_formed(parts) else None


def load(tx: Tx) -> KeyFilter:
    """The store's filter, brought up to date with every stored report."""
    kf = _read(tx)
    if kf is None:
        # Derived data: a filter whose parts do not fit together is built anew.
        tx.execute("DELETE FROM key_filter")
        kf = KeyFilter([], 0)
    last = int(tx.execute("SELECT coalesce(max(id), 0) FROM reports").fetchone()[0])
    if last > kf.coverage:
        _catch_up(tx, kf, last)
    return kf


def _well_formed(parts: list[_Part]) -> bool:
    capacity = FIRST_CAPACITY
    for i, p in enumerate(parts):
        if p.part != i or p.capacity != capacity or len(p.words) != capacity // _KEYS_PER_WORD or p.keys > capacity:
            return False
        capacity *= 2
    return True


def _catch_up(tx: Tx, kf: KeyFilter, last: int) -> None:
    after = kf.coverage
    rows = tx.execute("SELECT submission_id, query_code_sha256 FROM reports WHERE id > ? ORDER BY id", (after,))
    kf.add([h for sid, qc in rows for h in (key_hash(SUBMISSION, sid), key_hash(QUERY_CODE, qc))])
    kf.add([key_hash(FINGERPRINT, v) for (v,) in tx.execute(
        "SELECT value FROM fingerprints WHERE era >= ? AND report_id > ?", (after >> 16, after))])
    kf.coverage = last


def missing_keys(db: Store | Tx) -> int | None:
    """How many keys of the reports the filter claims to cover it does not hold (0 for
    a sound filter), or None if its parts do not fit together. Reads every key."""
    kf = _read(db)
    if kf is None:
        return None
    missing = 0
    for sid, qc in db.execute("SELECT submission_id, query_code_sha256 FROM reports WHERE id <= ?", (kf.coverage,)):
        missing += (key_hash(SUBMISSION, sid) not in kf) + (key_hash(QUERY_CODE, qc) not in kf)
    for (v,) in db.execute("SELECT value FROM fingerprints WHERE report_id <= ?", (kf.coverage,)):
        missing += key_hash(FINGERPRINT, v) not in kf
    return missing


def save(tx: Tx, kf: KeyFilter, coverage: int) -> None:
    """Write the parts that changed, and that the filter now covers reports up to ``coverage``."""
    for p in kf._parts:
        if p.dirty:
            tx.execute(
                "INSERT INTO key_filter (part, capacity, keys, words) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (part) DO UPDATE SET keys = excluded.keys, words = excluded.words",
                (p.part, p.capacity, p.keys, _to_bytes(p.words)),
            )
            p.dirty = False
    tx.execute(
        "INSERT INTO key_filter_coverage (id, report_id) VALUES (1, ?)"
        " ON CONFLICT (id) DO UPDATE SET report_id = excluded.report_id",
        (coverage,),
    )
    kf.coverage = coverage


__all__ = ["KeyFilter", "load", "save", "missing_keys", "key_hash", "row_key_hashes", "SUBMISSION", "QUERY_CODE", "FINGERPRINT"]
