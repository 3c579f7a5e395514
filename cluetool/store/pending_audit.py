"""An import's audit entries, held back until the end of its transaction (issue 22).

On PostgreSQL several importers of different sources write at once, but the audit log
is one gap-free sequence: its appends are serialised by the audit lock, held from the
first append to the commit. An import therefore prepares its entries as it goes
(checked and encoded, without their ``seq``: ``prepare_entries``) and takes the lock
only at the very end, to number and append them all and commit. Everything before
(decrypting, validating, storing reports, blobs, obligations and ledger rows) overlaps
with other importers. On SQLite (one writer at a time) the entries come out the same.

What a serial order would have seen: an import that ran alongside another one did not
see the other's reports while it stored its own. At the end, under the lock, the
reports committed since this transaction began (their ``report.import`` entries lie
above the log size it saw first) are compared with this batch's fingerprints, and the
duplicate links a serial import would have found are added (``late_links``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import msgspec

from cluetool.model.store import AuditEntry, DuplicateLink, ReportRow
from cluetool.store import queries as q
from cluetool.store.audit_entries import Db, NewEntry, append_prepared, audit_size, prepare_entries

# Canonical JSON sorts keys: every report.import entry starts with these bytes.
_IMPORT_PREFIX = b'{"action":"report.import"'


class PendingAudit:
    """The audit entries of one import transaction, numbered and appended by ``append``."""

    def __init__(self, tx: Db) -> None:
        self.tx = tx
        self.first_seen = audit_size(tx)  # the log as this transaction first saw it
        self._bodies: list[bytes] = []
        self._fingerprints: dict[str, list[str]] = {}  # value -> this batch's submission ids

    def add(self, entries: Sequence[NewEntry]) -> None:
        """Entries to append at the end, in this order.

        Raises:
            ValueError: as ``append_entry``.
        """
        self._bodies += prepare_entries(entries)

    def stored(self, rows: Iterable[ReportRow]) -> None:
        """Reports this transaction stored (their fingerprints, for ``late_links``)."""
        for r in rows:
            for f in r.fingerprints:
                self._fingerprints.setdefault(f.value, []).append(r.submission_id)

    def lock(self) -> None:
        """Take the audit lock (held to the end of the transaction)."""
        self.tx.lock("audit")

    def late_links(self, known: Iterable[DuplicateLink]) -> list[DuplicateLink]:
        """Under the lock: the links from this batch's reports to reports another import
        committed while this transaction ran (found by no query of it), not in ``known``."""
        size = audit_size(self.tx)
        if size <= self.first_seen or not self._fingerprints:
            return []
        others: set[str] = set()
        for (raw,) in self.tx.execute(
            "SELECT entry FROM audit_log WHERE seq >= ? AND substr(entry, 1, ?) = ? ORDER BY seq",
            (self.first_seen, len(_IMPORT_PREFIX), _IMPORT_PREFIX),
        ):
            others.add(msgspec.json.decode(bytes(raw), type=_Object).object)
        if not others:
            return []
        have = {(d.submission_id, d.duplicate_of) for d in known}
        links: dict[tuple[str, str], str] = {}
        for m in q.find_reports_by_fingerprints(self.tx, self._fingerprints):
            if m.submission_id not in others:
                continue
            for mine in self._fingerprints[m.value]:
                if (mine, m.submission_id) not in have:
                    links.setdefault((mine, m.submission_id), f"same {m.kind.replace('_', ' ')}")
        return [DuplicateLink(submission_id=a, duplicate_of=b, reason=why) for (a, b), why in sorted(links.items())]

    def append(self, entries: Sequence[NewEntry] = ()) -> list[AuditEntry]:
        """Under the lock: number and append every entry added, then ``entries``."""
        return append_prepared(self.tx, [*self._bodies, *prepare_entries(entries)])


class _Object(msgspec.Struct):
    object: str


__all__ = ["PendingAudit"]
