"""The store's schema as an ordered list of forward-only migrations.

``MIGRATIONS[i]`` takes a store from schema version ``i`` to ``i + 1``; version 0 is an
empty file, and ``PRAGMA user_version`` holds the version a store is at. There are no
down-migrations: a store newer than the running cluetool is refused (exit 3).

Adding a version: append one ``Migration`` whose script does the change. Do not edit a
released script (stores in the field ran the old text; its sha256 is in their audit log).
The runner (``cluetool.store.db``) gives each script:

- one ``BEGIN IMMEDIATE`` transaction, in which it also sets ``user_version`` and writes
  the ``store.migrate`` audit entry; a failure anywhere rolls all of it back;
- ``PRAGMA foreign_keys=OFF`` for the duration, then ``PRAGMA foreign_key_check`` before
  the commit, so that a script may rebuild a table the way SQLite documents
  (https://sqlite.org/lang_altertable.html#otheralter: create ``new_X``, copy, drop ``X``,
  rename ``new_X`` to ``X``, recreate indexes and triggers).

So a script must not contain ``BEGIN``, ``COMMIT``, ``ROLLBACK`` or ``PRAGMA
user_version``. ``tests/test_store_migrations.py`` migrates a store holding data from
every earlier version to the latest one; give it seed rows for the new version.

Schema notes (version 1)
------------------------
- Plain (not STRICT) tables with CHECK constraints, so that any SQLite >= 3.24 (UPSERT)
  can open a store; Python 3.11 builds bundle 3.37 or newer.
- Timestamps are TEXT, RFC 3339 in UTC with ``Z`` and microseconds
  (``2026-11-24T02:00:00.000000Z``), so that string order is time order. Dates are TEXT
  ``YYYY-MM-DD``. Hashes are lower-case hex TEXT, except Merkle hashes (BLOB, 32 bytes).
- ``reports.report_json`` holds the exact bytes of the validated report (the evidence);
  the other columns are facts derived from it for indexing. ``stage`` is the public
  stage shown by ``status`` (cluetool/model/querycode.py).
- ``sources`` is the chain state per source, ``batches`` the receive ledger.
- ``fingerprints`` is keyed by ``value`` first (WITHOUT ROWID) so that de-duplication
  at import is one index probe per fingerprint.
- ``obligations`` are deadline instances materialised when their trigger is recorded
  (cluetool/data/rules/). Only ``open``, ``met``, ``met_late`` and ``cancelled`` are stored;
  ``due_soon`` and ``overdue`` depend on the as-of date and are computed by the query,
  which the indexes on ``(state, due_date)`` and ``(unit, state, due_date)`` serve.
- ``audit_log.seq`` starts at **0**: it is the RFC 6962 leaf index, so ``audit prove
  SEQ`` needs no translation. ``entry`` is the canonical JSON of the entry and
  ``leaf_hash`` its RFC 6962 leaf hash. Triggers make ``audit_log`` and ``checkpoints``
  append-only against bugs (not against someone with the file: that is what the Merkle
  tree and the signed checkpoints are for; a test simulating tampering drops the
  triggers first).
- ``PRAGMA application_id`` marks the file as a cluetool store, so that some other
  SQLite file at ``user_version`` 0 is never mistaken for an empty store and migrated.

Schema notes (version 2, see the comment above ``_V2``)
--------------------------------------------------------
- ``reports.id`` is an integer allocated in import order; ``fingerprints``,
  ``obligations``, ``events``, ``assignments`` and ``report_stages`` name reports by it
  (events, assignments and obligations keep a copy of the submission id for listings), so the indexes an import
  grows at random places are only the report's submission id, its query-code hash and
  its fingerprint values (each random-key index costs a page write per insert once it
  is larger than a batch: that is what made late batches of a big import slower).
- ``report_stages`` holds the public stage (``stage`` left ``reports``); ``reports.facts``
  the rule facts derived at import (NULL: derive from ``report_json``).
- Fingerprint values are 128-bit (32 hex digits).

Schema notes (version 3, see the comment above ``_V3``)
--------------------------------------------------------
- Submission ids, query-code hashes and fingerprint values are indexed per era of
  65,536 reports (``era = id >> 16``), unique across eras by the store's own check
  against the key filter (``key_filter``; its module ``store/keyfilter.py`` went with v6).

Schema notes (version 4 and 5, see the comments above ``_V4`` and ``_V5``)
--------------------------------------------------------
- v4: ``held_reports`` / ``held_attachments``, reports held at import for a person to settle.
- v5: ``obligations.unknown_years`` names the calendar years a provisional due date depends on.

Schema notes (version 6, see the comment above ``_V6``)
--------------------------------------------------------
- No eras and no key filter any more: ``reports.submission_id`` and
  ``reports.query_code_sha256`` are plain ``UNIQUE`` columns, fingerprints are keyed by
  ``(value, report_id)``, and ``duplicates`` refers to ``reports (submission_id)`` again.
  Uniqueness is the database's, whoever writes (docs/decisions.md, issue 18).

Schema notes (version 7, supervision, see the comment above ``_V_SUPERVISION``)
-------------------------------------------------------------------------------
- ``reports_callback`` (partial) and ``reports_received`` index the receipt time for the
  callback sample and the statistics; ``report_codes`` holds each report's crime-target
  and industry codes (derived at import, with the receipt time copied) and
  ``sample_draws`` the monthly callback draws (issue 23, docs/supervision.md).

Schema notes (version 8, stats speed, see the comment above ``_V_STATS``)
-------------------------------------------------------------------------
- Indexes only: ``events_report_event`` (report, event, time), ``reports_kind_province``
  (kind, province prefix of the region, receipt time; an index on an expression) and
  ``report_codes_code`` (dim, code, receipt time), so that ``stats`` counts index ranges
  and probes instead of sorting a million rows. No answer depends on them.

Schema notes (version 9, see the comment above ``_V_STATS_OBLIGATIONS``)
-------------------------------------------------------------------------
- Indexes only: ``obligations_rule_unit_met`` (rule, unit, state, met time, due date,
  creation time) replaces ``obligations_rule_unit``, and ``obligations_created`` (creation
  time first), so that ``stats`` counts the obligations as index ranges, correcting
  for those created after the cutoff. No answer depends on them.
"""

from __future__ import annotations

import hashlib
import sqlite3
from dataclasses import dataclass

from cluetool.store.migration_scripts import (  # the released scripts, text unchanged
    _V1,
    _V2,
    _V3,
    _V4,
    _V5,
    _V6,
    _V_STATS,
    _V_STATS_OBLIGATIONS,
    _V_SUPERVISION,
    APPLICATION_ID,  # re-exported: the runner (store/db.py) checks a file by it
)


@dataclass(frozen=True)
class Migration:
    """One forward step of the schema: from ``version - 1`` to ``version``."""

    version: int
    name: str
    script: str

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.script.encode("utf-8")).hexdigest()

    def statements(self) -> list[str]:
        """The script split into single statements (``sqlite3`` runs one at a time)."""
        return split_statements(self.script)


MIGRATIONS: list[Migration] = [
    Migration(version=1, name="initial schema", script=_V1),
    Migration(version=2, name="integer report ids, narrow stages, fewer random-key indexes", script=_V2),
    Migration(version=3, name="random-key indexes per era of 65,536 reports, with a key filter", script=_V3),
    Migration(version=4, name="reports held at import for a person to settle", script=_V4),
    Migration(version=5, name="obligations name the unknown calendar years they depend on", script=_V5),
    Migration(version=6, name="plain UNIQUE submission ids and query codes, no eras, no key filter", script=_V6),
    Migration(version=7, name="supervision: callback and receipt-time indexes, report codes, sample draws",
              script=_V_SUPERVISION),
    Migration(version=8, name="stats: indexes for per-report event probes and per-kind, province and code month ranges",
              script=_V_STATS),
    Migration(version=9, name="stats: obligations by rule, unit, state and met time, and by creation time",
              script=_V_STATS_OBLIGATIONS),
]


def latest_version() -> int:
    """The schema version this cluetool writes (the last migration's)."""
    return MIGRATIONS[-1].version if MIGRATIONS else 0


def pending(current: int, target: int | None = None) -> list[Migration]:
    """The migrations that take a store from ``current`` to ``target`` (default latest)."""
    stop = latest_version() if target is None else target
    return [m for m in MIGRATIONS if current < m.version <= stop]


def split_statements(script: str) -> list[str]:
    """Split an SQL script at the semicolons that end statements.

    ``sqlite3.complete_statement`` knows about comments, string literals and trigger
    bodies, so a ``;`` inside any of them does not split.

    Raises:
        ValueError: text after the last complete statement.
    """
    statements: list[str] = []
    buf = ""
    for part in script.split(";")[:-1]:
        buf += part + ";"
        if sqlite3.complete_statement(buf):
            statements.append(buf.strip())
            buf = ""
    rest = buf + script.split(";")[-1]
    leftover = [ln for ln in rest.splitlines() if ln.strip() and not ln.strip().startswith("--")]
    if leftover:
        raise ValueError("SQL script has an incomplete statement at its end")
    return statements
