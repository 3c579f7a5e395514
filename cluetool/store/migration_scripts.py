"""The released schema scripts, one per version (``cluetool.store.migrations`` lists them).

A released script is never edited: stores in the field ran its text, and its sha256 is in
their audit log (``store.migrate``). Each is run by the migration runner in
``cluetool.store.db`` under the rules in ``cluetool.store.migrations``' docstring.
"""

from __future__ import annotations

# 'CLUE' in ASCII; PRAGMA application_id (https://sqlite.org/pragma.html#pragma_application_id).
APPLICATION_ID = 0x434C5545


_V1 = f"""
PRAGMA application_id = {APPLICATION_ID};

-- Chain state per source (docs/format.md): the last accepted sequence and manifest hash.
CREATE TABLE sources (
    source               TEXT PRIMARY KEY NOT NULL,
    last_sequence        INTEGER NOT NULL CHECK (last_sequence >= 0),
    last_manifest_sha256 TEXT NOT NULL CHECK (length(last_manifest_sha256) = 64),
    updated_at           TEXT NOT NULL
);

-- The receive ledger: every imported batch, once.
CREATE TABLE batches (
    id               INTEGER PRIMARY KEY,
    source           TEXT NOT NULL
                     REFERENCES sources (source) DEFERRABLE INITIALLY DEFERRED,
    sequence         INTEGER NOT NULL CHECK (sequence >= 1),
    manifest_sha256  TEXT NOT NULL UNIQUE CHECK (length(manifest_sha256) = 64),
    previous_sha256  TEXT NOT NULL CHECK (length(previous_sha256) = 64),
    payload_sha256   TEXT NOT NULL CHECK (length(payload_sha256) = 64),
    signer           TEXT NOT NULL,
    created_at       TEXT NOT NULL,
    imported_at      TEXT NOT NULL,
    reports          INTEGER NOT NULL CHECK (reports >= 0),
    attachments      INTEGER NOT NULL CHECK (attachments >= 0),
    allow_gap_reason TEXT,
    UNIQUE (source, sequence)
);

CREATE TABLE reports (
    submission_id        TEXT PRIMARY KEY NOT NULL,
    kind                 TEXT NOT NULL
                         CHECK (kind IN ('police_misconduct', 'gang_crime', 'industry_disorder')),
    received_at          TEXT NOT NULL,
    imported_at          TEXT NOT NULL,
    batch_id             INTEGER NOT NULL REFERENCES batches (id),
    report_sha256        TEXT NOT NULL CHECK (length(report_sha256) = 64),
    query_code_sha256    TEXT NOT NULL UNIQUE CHECK (length(query_code_sha256) = 64),
    region               TEXT,
    reporter_has_contact INTEGER NOT NULL CHECK (reporter_has_contact IN (0, 1)),
    real_name            INTEGER NOT NULL CHECK (real_name IN (0, 1)),
    stage                TEXT NOT NULL DEFAULT 'received'
                         CHECK (stage IN ('received', 'assigned', 'under_verification', 'closed')),
    report_json          BLOB NOT NULL
);
CREATE INDEX reports_batch ON reports (batch_id);
CREATE INDEX reports_stage_received ON reports (stage, received_at);
CREATE INDEX reports_real_name_received ON reports (real_name, received_at);
CREATE INDEX reports_kind_received ON reports (kind, received_at);
CREATE INDEX reports_region ON reports (region);

-- Attachment blobs by content (the bytes are in blobs/<sha[:2]>/<sha>).
CREATE TABLE attachments (
    sha256 TEXT PRIMARY KEY NOT NULL CHECK (length(sha256) = 64),
    size   INTEGER NOT NULL CHECK (size >= 0),
    type   TEXT NOT NULL CHECK (type IN ('jpg', 'mp3', 'mp4'))
);

CREATE TABLE report_attachments (
    submission_id TEXT NOT NULL REFERENCES reports (submission_id),
    file          TEXT NOT NULL,
    sha256        TEXT NOT NULL REFERENCES attachments (sha256),
    note          TEXT,
    PRIMARY KEY (submission_id, file)
) WITHOUT ROWID;
CREATE INDEX report_attachments_sha256 ON report_attachments (sha256);

CREATE TABLE fingerprints (
    value         TEXT NOT NULL,
    submission_id TEXT NOT NULL REFERENCES reports (submission_id),
    kind          TEXT NOT NULL,
    PRIMARY KEY (value, submission_id, kind)
) WITHOUT ROWID;
CREATE INDEX fingerprints_submission ON fingerprints (submission_id);

CREATE TABLE duplicates (
    submission_id TEXT NOT NULL REFERENCES reports (submission_id),
    duplicate_of  TEXT NOT NULL REFERENCES reports (submission_id),
    reason        TEXT NOT NULL,
    state         TEXT NOT NULL DEFAULT 'open'
                  CHECK (state IN ('open', 'confirmed', 'rejected')),
    found_at      TEXT NOT NULL,
    decided_at    TEXT,
    PRIMARY KEY (submission_id, duplicate_of),
    CHECK (submission_id <> duplicate_of)
) WITHOUT ROWID;
CREATE INDEX duplicates_of ON duplicates (duplicate_of);
CREATE INDEX duplicates_state ON duplicates (state);

-- Handling units (units.toml, cluetool/data/rules/).
CREATE TABLE units (
    id         TEXT PRIMARY KEY NOT NULL,
    name       TEXT NOT NULL,
    type       TEXT NOT NULL,
    region     TEXT,
    updated_at TEXT NOT NULL
);

-- Handling events; assignments and transfers are events too, so both ends' transfer
-- ledgers come out of this table.
CREATE TABLE events (
    id            INTEGER PRIMARY KEY,
    submission_id TEXT NOT NULL REFERENCES reports (submission_id),
    event         TEXT NOT NULL,
    at            TEXT NOT NULL,
    unit          TEXT REFERENCES units (id),
    to_unit       TEXT REFERENCES units (id),
    channel       TEXT,
    note          TEXT,
    recorded_at   TEXT NOT NULL
);
CREATE INDEX events_submission ON events (submission_id, at);
CREATE INDEX events_event_at ON events (event, at);
CREATE INDEX events_unit_at ON events (unit, at);
CREATE INDEX events_to_unit_at ON events (to_unit, at);

-- The current handling unit of each assigned clue (its history is in events).
CREATE TABLE assignments (
    submission_id TEXT PRIMARY KEY NOT NULL REFERENCES reports (submission_id),
    unit          TEXT NOT NULL REFERENCES units (id),
    assigned_at   TEXT NOT NULL,
    rule_id       TEXT,
    reason        TEXT,
    event_id      INTEGER REFERENCES events (id)
);
CREATE INDEX assignments_unit ON assignments (unit);

-- Deadline instances (cluetool/data/rules/).
CREATE TABLE obligations (
    id               INTEGER PRIMARY KEY,
    submission_id    TEXT NOT NULL REFERENCES reports (submission_id),
    rule_id          TEXT NOT NULL,
    trigger_event_id INTEGER REFERENCES events (id),
    unit             TEXT REFERENCES units (id),
    due_date         TEXT NOT NULL,
    provisional      INTEGER NOT NULL DEFAULT 0 CHECK (provisional IN (0, 1)),
    state            TEXT NOT NULL DEFAULT 'open'
                     CHECK (state IN ('open', 'met', 'met_late', 'cancelled')),
    met_at           TEXT,
    met_event_id     INTEGER REFERENCES events (id),
    created_at       TEXT NOT NULL
);
CREATE INDEX obligations_state_due ON obligations (state, due_date);
CREATE INDEX obligations_unit_state_due ON obligations (unit, state, due_date);
CREATE INDEX obligations_submission ON obligations (submission_id, rule_id);

-- The audit trail (docs/audit.md): seq is the RFC 6962 leaf index, from 0.
CREATE TABLE audit_log (
    seq       INTEGER PRIMARY KEY CHECK (seq >= 0),
    entry     BLOB NOT NULL,
    leaf_hash BLOB NOT NULL CHECK (length(leaf_hash) = 32)
);
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only');
END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only');
END;

-- Signed checkpoints of the audit tree (C2SP tlog-checkpoint notes).
CREATE TABLE checkpoints (
    id   INTEGER PRIMARY KEY,
    size INTEGER NOT NULL CHECK (size >= 0),
    root BLOB NOT NULL CHECK (length(root) = 32),
    note TEXT NOT NULL,
    at   TEXT NOT NULL
);
CREATE INDEX checkpoints_size ON checkpoints (size);
CREATE TRIGGER checkpoints_no_update BEFORE UPDATE ON checkpoints
BEGIN
    SELECT RAISE(ABORT, 'checkpoints are append-only');
END;
CREATE TRIGGER checkpoints_no_delete BEFORE DELETE ON checkpoints
BEGIN
    SELECT RAISE(ABORT, 'checkpoints are append-only');
END;
"""


# Version 2: keys and indexes for imports of millions of reports (issue 6) and bulk
# assignment (issue 8). Every index on a random key (a UUID, a hash) costs a page write
# per insert once it outgrows a batch, so an import now touches three of them (report
# id, query-code hash, fingerprint value) instead of six:
# - reports get an integer ``id`` (assigned in import order); fingerprints, obligations,
#   events and assignments are indexed by it, so those indexes grow at the end only;
# - fingerprints are 128 bits (32 hex digits) and name the report by ``id``;
# - the mutable public stage moves to ``report_stages`` (a narrow row per report), so
#   that ``assign`` does not rewrite 2 KiB report rows;
# - ``reports.facts`` keeps the JSON of the ClueFacts the handling rules see, derived at
#   import (NULL for older rows and whenever a later version changes how facts are
#   derived: then they are derived from ``report_json`` when needed);
# - the ``reports`` indexes on kind / real_name / stage / region, which no query used, go.
_V2 = """
CREATE TABLE new_reports (
    id                   INTEGER PRIMARY KEY,
    submission_id        TEXT NOT NULL UNIQUE,
    kind                 TEXT NOT NULL
                         CHECK (kind IN ('police_misconduct', 'gang_crime', 'industry_disorder')),
    received_at          TEXT NOT NULL,
    imported_at          TEXT NOT NULL,
    batch_id             INTEGER NOT NULL REFERENCES batches (id),
    report_sha256        TEXT NOT NULL CHECK (length(report_sha256) = 64),
    query_code_sha256    TEXT NOT NULL UNIQUE CHECK (length(query_code_sha256) = 64),
    region               TEXT,
    reporter_has_contact INTEGER NOT NULL CHECK (reporter_has_contact IN (0, 1)),
    real_name            INTEGER NOT NULL CHECK (real_name IN (0, 1)),
    facts                BLOB,
    report_json          BLOB NOT NULL
);
INSERT INTO new_reports (id, submission_id, kind, received_at, imported_at, batch_id, report_sha256,
                         query_code_sha256, region, reporter_has_contact, real_name, report_json)
    SELECT rowid, submission_id, kind, received_at, imported_at, batch_id, report_sha256,
           query_code_sha256, region, reporter_has_contact, real_name, report_json
    FROM reports ORDER BY rowid;

-- The public stage shown by status (cluetool/model/querycode.py), one narrow row per report.
CREATE TABLE report_stages (
    report_id INTEGER PRIMARY KEY REFERENCES reports (id),
    stage     TEXT NOT NULL DEFAULT 'received'
              CHECK (stage IN ('received', 'assigned', 'under_verification', 'closed'))
);
INSERT INTO report_stages (report_id, stage) SELECT rowid, stage FROM reports ORDER BY rowid;

CREATE TABLE new_fingerprints (
    value     TEXT NOT NULL CHECK (length(value) = 32),
    report_id INTEGER NOT NULL REFERENCES reports (id),
    kind      TEXT NOT NULL,
    PRIMARY KEY (value, report_id)
) WITHOUT ROWID;
INSERT OR IGNORE INTO new_fingerprints (value, report_id, kind)
    SELECT substr(f.value, 1, 32), r.id, f.kind
    FROM fingerprints f JOIN new_reports r ON r.submission_id = f.submission_id;

CREATE TABLE new_obligations (
    id               INTEGER PRIMARY KEY,
    report_id        INTEGER NOT NULL REFERENCES reports (id),
    submission_id    TEXT NOT NULL,  -- the report's, copied for the deadline listing
    rule_id          TEXT NOT NULL,
    trigger_event_id INTEGER REFERENCES events (id),
    unit             TEXT REFERENCES units (id),
    due_date         TEXT NOT NULL,
    provisional      INTEGER NOT NULL DEFAULT 0 CHECK (provisional IN (0, 1)),
    state            TEXT NOT NULL DEFAULT 'open'
                     CHECK (state IN ('open', 'met', 'met_late', 'cancelled')),
    met_at           TEXT,
    met_event_id     INTEGER REFERENCES events (id),
    created_at       TEXT NOT NULL
);
INSERT INTO new_obligations (id, report_id, submission_id, rule_id, trigger_event_id, unit, due_date,
                             provisional, state, met_at, met_event_id, created_at)
    SELECT o.id, r.id, o.submission_id, o.rule_id, o.trigger_event_id, o.unit, o.due_date,
           o.provisional, o.state, o.met_at, o.met_event_id, o.created_at
    FROM obligations o JOIN new_reports r ON r.submission_id = o.submission_id ORDER BY o.id;

CREATE TABLE new_events (
    id            INTEGER PRIMARY KEY,
    report_id     INTEGER NOT NULL REFERENCES reports (id),
    submission_id TEXT NOT NULL,  -- the report's, copied for the ledgers
    event         TEXT NOT NULL,
    at            TEXT NOT NULL,
    unit          TEXT REFERENCES units (id),
    to_unit       TEXT REFERENCES units (id),
    channel       TEXT,
    note          TEXT,
    recorded_at   TEXT NOT NULL
);
INSERT INTO new_events (id, report_id, submission_id, event, at, unit, to_unit, channel, note, recorded_at)
    SELECT e.id, r.id, e.submission_id, e.event, e.at, e.unit, e.to_unit, e.channel, e.note, e.recorded_at
    FROM events e JOIN new_reports r ON r.submission_id = e.submission_id ORDER BY e.id;

-- The current handling unit of each assigned clue, one row per report.
CREATE TABLE new_assignments (
    report_id     INTEGER PRIMARY KEY REFERENCES reports (id),
    submission_id TEXT NOT NULL,  -- the report's, copied
    unit          TEXT NOT NULL REFERENCES units (id),
    assigned_at   TEXT NOT NULL,
    rule_id       TEXT,
    reason        TEXT,
    event_id      INTEGER REFERENCES events (id)
);
INSERT INTO new_assignments (report_id, submission_id, unit, assigned_at, rule_id, reason, event_id)
    SELECT r.id, a.submission_id, a.unit, a.assigned_at, a.rule_id, a.reason, a.event_id
    FROM assignments a JOIN new_reports r ON r.submission_id = a.submission_id;

DROP TABLE obligations;
DROP TABLE assignments;
DROP TABLE events;
DROP TABLE fingerprints;
DROP TABLE reports;
ALTER TABLE new_reports RENAME TO reports;
ALTER TABLE new_fingerprints RENAME TO fingerprints;
ALTER TABLE new_obligations RENAME TO obligations;
ALTER TABLE new_events RENAME TO events;
ALTER TABLE new_assignments RENAME TO assignments;

CREATE INDEX reports_batch ON reports (batch_id);
CREATE INDEX fingerprints_report ON fingerprints (report_id);
CREATE INDEX obligations_state_due ON obligations (state, due_date);
CREATE INDEX obligations_unit_state_due ON obligations (unit, state, due_date);
CREATE INDEX obligations_report ON obligations (report_id, rule_id);
CREATE INDEX events_report ON events (report_id, at);
CREATE INDEX events_event_at ON events (event, at);
CREATE INDEX events_unit_at ON events (unit, at);
CREATE INDEX events_to_unit_at ON events (to_unit, at);
CREATE INDEX assignments_unit ON assignments (unit);
"""


# Version 3: no index on a random key spans the whole store any more. At version 2 each
# imported report still went into three B-trees keyed by random values (submission id,
# query-code hash, fingerprint value); once such a tree is much larger than a batch,
# nearly every insert dirties a page of its own, and an import of 10,000 reports into a
# store of 1,000,000 wrote about 50 MB more to the WAL and back than the first batch.
# Now those keys are indexed per *era* (``era = id >> 16``: 65,536 reports in import
# order), so an import writes into the newest era's part of each index only:
# - ``reports.era`` and ``fingerprints.era``; the indexes are ``(era, key)``; UNIQUE
#   holds per era, and the store keeps the keys unique across eras (queries.py checks
#   every new key against ``key_filter`` and looks up the keys it may hold);
# - ``report_eras`` lists the eras in use: look-ups by key run ``era IN (SELECT era
#   FROM report_eras)``, one index probe per era;
# - ``key_filter`` is a Bloom filter over every stored key (see
#   the former ``store/keyfilter.py``); it answers "certainly new" for nearly every key
#   of an import, so only the few others are looked up in every era. It is derived
#   data: ``key_filter_coverage`` says up to which report id it holds the keys, and the
#   store adds the rest when it next writes (here: every report, on the first import).
_V3 = """
CREATE TABLE new_reports (
    id                   INTEGER PRIMARY KEY,
    era                  INTEGER NOT NULL CHECK (era = id >> 16),
    submission_id        TEXT NOT NULL,
    kind                 TEXT NOT NULL
                         CHECK (kind IN ('police_misconduct', 'gang_crime', 'industry_disorder')),
    received_at          TEXT NOT NULL,
    imported_at          TEXT NOT NULL,
    batch_id             INTEGER NOT NULL REFERENCES batches (id),
    report_sha256        TEXT NOT NULL CHECK (length(report_sha256) = 64),
    query_code_sha256    TEXT NOT NULL CHECK (length(query_code_sha256) = 64),
    region               TEXT,
    reporter_has_contact INTEGER NOT NULL CHECK (reporter_has_contact IN (0, 1)),
    real_name            INTEGER NOT NULL CHECK (real_name IN (0, 1)),
    facts                BLOB,
    report_json          BLOB NOT NULL
);
INSERT INTO new_reports (id, era, submission_id, kind, received_at, imported_at, batch_id, report_sha256,
                         query_code_sha256, region, reporter_has_contact, real_name, facts, report_json)
    SELECT id, id >> 16, submission_id, kind, received_at, imported_at, batch_id, report_sha256,
           query_code_sha256, region, reporter_has_contact, real_name, facts, report_json
    FROM reports ORDER BY id;

CREATE TABLE new_fingerprints (
    era       INTEGER NOT NULL,
    value     TEXT NOT NULL CHECK (length(value) = 32),
    report_id INTEGER NOT NULL REFERENCES reports (id) CHECK (era = report_id >> 16),
    kind      TEXT NOT NULL,
    PRIMARY KEY (era, value, report_id)
) WITHOUT ROWID;
INSERT INTO new_fingerprints (era, value, report_id, kind)
    SELECT report_id >> 16, value, report_id, kind FROM fingerprints ORDER BY report_id >> 16, value, report_id;

-- A foreign key needs a unique parent column, and submission ids are unique per era
-- only: attachments now name their report by id; duplicate links keep the submission
-- ids (the store writes them only for reports it has just looked up).
CREATE TABLE new_report_attachments (
    report_id     INTEGER NOT NULL REFERENCES reports (id),
    submission_id TEXT NOT NULL,  -- the report's, copied
    file          TEXT NOT NULL,
    sha256        TEXT NOT NULL REFERENCES attachments (sha256),
    note          TEXT,
    PRIMARY KEY (report_id, file)
) WITHOUT ROWID;
INSERT INTO new_report_attachments (report_id, submission_id, file, sha256, note)
    SELECT r.id, a.submission_id, a.file, a.sha256, a.note
    FROM report_attachments a JOIN new_reports r ON r.submission_id = a.submission_id;

CREATE TABLE new_duplicates (
    submission_id TEXT NOT NULL,
    duplicate_of  TEXT NOT NULL,
    reason        TEXT NOT NULL,
    state         TEXT NOT NULL DEFAULT 'open'
                  CHECK (state IN ('open', 'confirmed', 'rejected')),
    found_at      TEXT NOT NULL,
    decided_at    TEXT,
    PRIMARY KEY (submission_id, duplicate_of),
    CHECK (submission_id <> duplicate_of)
) WITHOUT ROWID;
INSERT INTO new_duplicates SELECT submission_id, duplicate_of, reason, state, found_at, decided_at FROM duplicates;

DROP TABLE report_attachments;
DROP TABLE duplicates;
DROP TABLE fingerprints;
DROP TABLE reports;
ALTER TABLE new_reports RENAME TO reports;
ALTER TABLE new_fingerprints RENAME TO fingerprints;
ALTER TABLE new_report_attachments RENAME TO report_attachments;
ALTER TABLE new_duplicates RENAME TO duplicates;
CREATE INDEX report_attachments_sha256 ON report_attachments (sha256);
CREATE INDEX duplicates_of ON duplicates (duplicate_of);
CREATE INDEX duplicates_state ON duplicates (state);

CREATE INDEX reports_batch ON reports (batch_id);
CREATE UNIQUE INDEX reports_era_submission ON reports (era, submission_id);
CREATE UNIQUE INDEX reports_era_query_code ON reports (era, query_code_sha256);
CREATE INDEX fingerprints_report ON fingerprints (report_id);

CREATE TABLE report_eras (era INTEGER PRIMARY KEY);
INSERT INTO report_eras (era) SELECT DISTINCT era FROM reports;

-- Parts of the filter, each with twice the capacity of the one before; ``words`` are
-- little-endian 64-bit words.
CREATE TABLE key_filter (
    part     INTEGER PRIMARY KEY CHECK (part >= 0),
    capacity INTEGER NOT NULL CHECK (capacity > 0),
    keys     INTEGER NOT NULL CHECK (keys >= 0),
    words    BLOB NOT NULL
);
CREATE TABLE key_filter_coverage (
    id        INTEGER PRIMARY KEY CHECK (id = 1),
    report_id INTEGER NOT NULL  -- the filter holds the keys of every report up to this id
);
"""

# Version 4: reports held at import (issue 15), a plain table with constraints: a report
# whose submission id or query code collides with a different stored report is kept
# here, with its bytes and why, until a person settles it (kept, or discarded: bytes
# erased, hash kept). Its attachments stay referenced through ``held_attachments``.
_V4 = """
CREATE TABLE held_reports (
    id                INTEGER PRIMARY KEY,
    submission_id     TEXT NOT NULL,
    query_code_sha256 TEXT NOT NULL CHECK (length(query_code_sha256) = 64),
    report_sha256     TEXT NOT NULL CHECK (length(report_sha256) = 64),
    batch_id          INTEGER NOT NULL REFERENCES batches (id),
    held_at           TEXT NOT NULL,
    reason            TEXT NOT NULL CHECK (reason IN ('submission_id.collision', 'query_code.collision')),
    collides_with     TEXT NOT NULL,
    report_json       BLOB NOT NULL,
    state             TEXT NOT NULL DEFAULT 'held' CHECK (state IN ('held', 'kept', 'discarded')),
    resolved_at       TEXT,
    resolution_reason TEXT,
    CHECK ((state = 'held') = (resolved_at IS NULL)),
    CHECK ((state = 'held') = (resolution_reason IS NULL)),
    CHECK (state = 'discarded' OR length(report_json) > 0),
    UNIQUE (submission_id, report_sha256)
);
CREATE INDEX held_reports_state ON held_reports (state);
CREATE TABLE held_attachments (
    held_id INTEGER NOT NULL REFERENCES held_reports (id),
    sha256  TEXT NOT NULL REFERENCES attachments (sha256),
    PRIMARY KEY (held_id, sha256)
) WITHOUT ROWID;
CREATE INDEX held_attachments_sha256 ON held_attachments (sha256);
"""

# Version 5: an obligation counted across a year that no calendar source knows names
# those years (``unknown_years``: "2027" or "2027,2028"; "" when firm), so that
# ``deadlines`` can say what a provisional due date waits for and the engine can make it
# firm as soon as the year is known. Older provisional rows get their years when the
# engine recomputes them (its version is part of the rules hash, so it does, once).
_V5 = """
ALTER TABLE obligations ADD COLUMN unknown_years TEXT NOT NULL DEFAULT ''
    CHECK (unknown_years NOT GLOB '*[^0-9,]*');
"""

# Version 6: uniqueness is a constraint again (issue 18). Version 3 kept submission ids
# and query codes unique across eras by the store's own check against a Bloom filter, so
# a write that did not go through ``insert_reports`` (a later migration, a repair in the
# sqlite3 shell, a second backend) could store a duplicate. Now:
# - ``reports`` loses ``era``; ``submission_id`` and ``query_code_sha256`` are UNIQUE;
# - ``fingerprints`` loses ``era`` (primary key ``(value, report_id)`` as at version 2);
# - ``duplicates`` names both reports through a foreign key on ``reports (submission_id)``;
# - ``report_eras``, ``key_filter`` and ``key_filter_coverage`` go.
# Integer report ids, ``report_stages``, ``reports.facts`` and the attachment rows keyed
# by report id stay. A store that holds a key twice (possible at version 3 to 5) is
# refused by the copy into ``new_reports``: the migration rolls back, the store is kept.
_V6 = """
CREATE TABLE new_reports (
    id                   INTEGER PRIMARY KEY,
    submission_id        TEXT NOT NULL UNIQUE,
    kind                 TEXT NOT NULL
                         CHECK (kind IN ('police_misconduct', 'gang_crime', 'industry_disorder')),
    received_at          TEXT NOT NULL,
    imported_at          TEXT NOT NULL,
    batch_id             INTEGER NOT NULL REFERENCES batches (id),
    report_sha256        TEXT NOT NULL CHECK (length(report_sha256) = 64),
    query_code_sha256    TEXT NOT NULL UNIQUE CHECK (length(query_code_sha256) = 64),
    region               TEXT,
    reporter_has_contact INTEGER NOT NULL CHECK (reporter_has_contact IN (0, 1)),
    real_name            INTEGER NOT NULL CHECK (real_name IN (0, 1)),
    facts                BLOB,
    report_json          BLOB NOT NULL
);
INSERT INTO new_reports (id, submission_id, kind, received_at, imported_at, batch_id, report_sha256,
                         query_code_sha256, region, reporter_has_contact, real_name, facts, report_json)
    SELECT id, submission_id, kind, received_at, imported_at, batch_id, report_sha256,
           query_code_sha256, region, reporter_has_contact, real_name, facts, report_json
    FROM reports ORDER BY id;

CREATE TABLE new_fingerprints (
    value     TEXT NOT NULL CHECK (length(value) = 32),
    report_id INTEGER NOT NULL REFERENCES reports (id),
    kind      TEXT NOT NULL,
    PRIMARY KEY (value, report_id)
) WITHOUT ROWID;
INSERT INTO new_fingerprints (value, report_id, kind)
    SELECT value, report_id, kind FROM fingerprints ORDER BY value, report_id;

CREATE TABLE new_duplicates (
    submission_id TEXT NOT NULL REFERENCES reports (submission_id),
    duplicate_of  TEXT NOT NULL REFERENCES reports (submission_id),
    reason        TEXT NOT NULL,
    state         TEXT NOT NULL DEFAULT 'open'
                  CHECK (state IN ('open', 'confirmed', 'rejected')),
    found_at      TEXT NOT NULL,
    decided_at    TEXT,
    PRIMARY KEY (submission_id, duplicate_of),
    CHECK (submission_id <> duplicate_of)
) WITHOUT ROWID;
INSERT INTO new_duplicates (submission_id, duplicate_of, reason, state, found_at, decided_at)
    SELECT submission_id, duplicate_of, reason, state, found_at, decided_at FROM duplicates;

DROP TABLE duplicates;
DROP TABLE fingerprints;
DROP TABLE reports;
DROP TABLE report_eras;
DROP TABLE key_filter;
DROP TABLE key_filter_coverage;
ALTER TABLE new_reports RENAME TO reports;
ALTER TABLE new_fingerprints RENAME TO fingerprints;
ALTER TABLE new_duplicates RENAME TO duplicates;
CREATE INDEX reports_batch ON reports (batch_id);
CREATE INDEX fingerprints_report ON fingerprints (report_id);
CREATE INDEX duplicates_of ON duplicates (duplicate_of);
CREATE INDEX duplicates_state ON duplicates (state);
"""

# Supervision (issue 23): the callback sample and the statistics are range queries on the
# receipt time; these indexes serve them without reading a report row (2 KiB each):
# - ``reports_callback``: the reports whose reporter left a real name or a contact, by
#   receipt time (partial: the sample reads nothing else);
# - ``reports_received``: receipt time, kind, region and contact, for the counts and the backlog;
# - ``report_codes``: the multi-select codes (crime targets, industries) of each report,
#   with its receipt time copied, derived at import from the same facts the rules see;
#   rows of older reports are derived here from ``facts`` (or, where that is NULL, from
#   the report's own fields);
# - ``events_event_at_report``: which reports had an event (assigned, contacted, closed)
#   before a time, without reading the event rows;
# - ``obligations_rule_unit``: the obligations' states per rule and unit as of a date,
#   in index order (no sort, no row read);
# - ``sample_draws``: each callback draw (month, the canonical JSON of the draw file and
#   the audit entry that records it), so that a second draw of a month is found at once.
_V_SUPERVISION = """
CREATE INDEX reports_callback ON reports (received_at, submission_id)
    WHERE real_name = 1 OR reporter_has_contact = 1;
CREATE INDEX reports_received ON reports (received_at, kind, region, reporter_has_contact);
CREATE INDEX events_event_at_report ON events (event, at, report_id);
CREATE INDEX obligations_rule_unit ON obligations (rule_id, unit, state, due_date, met_at, created_at);

CREATE TABLE report_codes (
    report_id   INTEGER NOT NULL REFERENCES reports (id),
    dim         TEXT NOT NULL CHECK (dim IN ('target', 'industry')),
    code        TEXT NOT NULL,
    received_at TEXT NOT NULL,  -- the report's, copied
    PRIMARY KEY (report_id, dim, code)
);
CREATE INDEX report_codes_received ON report_codes (received_at, dim, code);

INSERT OR IGNORE INTO report_codes (report_id, dim, code, received_at)
    SELECT r.id, 'target', j.value, r.received_at
    FROM reports r, json_each(CAST(r.facts AS TEXT), '$.targets') j
    WHERE r.facts IS NOT NULL;
INSERT OR IGNORE INTO report_codes (report_id, dim, code, received_at)
    SELECT r.id, 'industry', j.value, r.received_at
    FROM reports r, json_each(CAST(r.facts AS TEXT), '$.industries') j
    WHERE r.facts IS NOT NULL;
INSERT OR IGNORE INTO report_codes (report_id, dim, code, received_at)
    SELECT r.id, 'target', j.value, r.received_at
    FROM reports r, json_each(CAST(r.report_json AS TEXT), '$.facts.targets') j
    WHERE r.facts IS NULL AND r.kind = 'gang_crime';
INSERT OR IGNORE INTO report_codes (report_id, dim, code, received_at)
    SELECT r.id, 'industry', j.value, r.received_at
    FROM reports r, json_each(CAST(r.report_json AS TEXT), '$.facts.industries') j
    WHERE r.facts IS NULL AND r.kind = 'gang_crime';
INSERT OR IGNORE INTO report_codes (report_id, dim, code, received_at)
    SELECT r.id, 'industry', json_extract(CAST(r.report_json AS TEXT), '$.facts.industry'), r.received_at
    FROM reports r
    WHERE r.facts IS NULL AND r.kind = 'industry_disorder';
INSERT OR IGNORE INTO report_codes (report_id, dim, code, received_at)
    SELECT r.id, 'industry', j.value, r.received_at
    FROM reports r, json_each(CAST(r.report_json AS TEXT), '$.facts.secondary_industries') j
    WHERE r.facts IS NULL AND r.kind = 'industry_disorder';

CREATE TABLE sample_draws (
    id        INTEGER PRIMARY KEY,
    month     TEXT NOT NULL CHECK (length(month) = 7),
    drawn_at  TEXT NOT NULL,
    audit_seq INTEGER NOT NULL,
    draw      BLOB NOT NULL
);
CREATE INDEX sample_draws_month ON sample_draws (month, id);
"""

# Version 8, stats speed (issue 23): indexes only, so that ``stats`` over a million clues
# counts index ranges instead of sorting rows (no index decides an answer; each query
# gives the same result without it, only slower):
# - ``events_report_event``: whether one report had an event of a kind before a time is
#   one probe (the backlog's assigned / contacted / closed tests), without an event row;
# - ``reports_kind_province``: reports per kind and province (the region's first two
#   characters) in receipt-time order, so that a month's count for one (kind, province)
#   is one range, and the (kind, province) pairs are found by a loose index scan;
# - ``report_codes_code``: the same for each crime-target and industry code.
_V_STATS = """
CREATE INDEX events_report_event ON events (report_id, event, at);
CREATE INDEX reports_kind_province ON reports (kind, substr(coalesce(region, ''), 1, 2), received_at);
CREATE INDEX report_codes_code ON report_codes (dim, code, received_at);
"""

# Version 9, stats speed (issue 23, second step): indexes only again. ``stats`` counted
# the obligations by reading every index entry (3,000,000 at a million clues) and
# testing each against the as-of date; now most of them are counted as index ranges:
# - ``obligations_rule_unit_met`` (replaces ``obligations_rule_unit``): per rule, unit
#   and stored state, the met time before the due date, so that "met before the cutoff"
#   is one range per (rule, unit, state), and an open obligation's due date (met time
#   NULL) another;
# - ``obligations_created``: the obligations created at or after a cutoff (none for an
#   as-of date of today), whose share of those ranges is taken off again, or, for an
#   early as-of date, the few created before it, counted one by one.
_V_STATS_OBLIGATIONS = """
DROP INDEX obligations_rule_unit;
CREATE INDEX obligations_rule_unit_met ON obligations (rule_id, unit, state, met_at, due_date, created_at);
CREATE INDEX obligations_created ON obligations (created_at, rule_id, unit, state, met_at, due_date);
"""
