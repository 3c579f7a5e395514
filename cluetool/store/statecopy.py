"""A snapshot of a store's state tables and audit log in an SQLite file, for the replay
of the log (``store check --replay``, ``audit verify --state``; ``cluetool.audit.replay``)
on a PostgreSQL store (issue 22).

The replay rebuilds the state in a scratch SQLite database and compares it with the
store's tables through ``ATTACH``; for a PostgreSQL store, the rows it compares against
are first copied, in one read snapshot (``REPEATABLE READ``), into an SQLite file with the
same tables and columns: the audit log, the reports' ids and submission ids, stages,
events, assignments and obligations. Values keep their types (the PostgreSQL schema's
text, integers and ``bytea`` are SQLite's TEXT, INTEGER and BLOB), so the comparison is
the one the SQLite store gets. Rows are streamed through a server-side cursor: memory
stays bounded whatever the store's size. The file is written with journalling off (a
scratch copy: the caller removes it) and is 0600.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cluetool.store.db import Store

# Each table: its columns (as the replay's comparison reads them) with their SQLite types.
TABLES: dict[str, list[tuple[str, str]]] = {
    "audit_log": [("seq", "INTEGER PRIMARY KEY"), ("entry", "BLOB")],
    "reports": [("id", "INTEGER PRIMARY KEY"), ("submission_id", "TEXT")],
    "report_stages": [("report_id", "INTEGER PRIMARY KEY"), ("stage", "TEXT")],
    "events": [("id", "INTEGER PRIMARY KEY"), ("report_id", "INTEGER"), ("event", "TEXT"), ("at", "TEXT"),
               ("unit", "TEXT"), ("to_unit", "TEXT"), ("channel", "TEXT"), ("note", "TEXT"), ("recorded_at", "TEXT")],
    "assignments": [("report_id", "INTEGER PRIMARY KEY"), ("unit", "TEXT"), ("assigned_at", "TEXT"),
                    ("rule_id", "TEXT"), ("reason", "TEXT"), ("event_id", "INTEGER")],
    "obligations": [("id", "INTEGER PRIMARY KEY"), ("report_id", "INTEGER"), ("rule_id", "TEXT"), ("unit", "TEXT"),
                    ("trigger_event_id", "INTEGER"), ("due_date", "TEXT"), ("provisional", "INTEGER"),
                    ("state", "TEXT"), ("met_at", "TEXT"), ("met_event_id", "INTEGER"), ("created_at", "TEXT")],
}
_ROWS = 5000


def copy_state(store: Store, dest: Path) -> dict[str, int]:
    """Copy the state tables and the audit log of ``store`` (a PostgreSQL store) into a
    new SQLite file ``dest``, in one read snapshot; the rows copied per table.

    Raises:
        StateError: the store cannot be read (as its transactions raise).
    """
    fd = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.close(fd)
    out = sqlite3.connect(dest, isolation_level=None)
    counts: dict[str, int] = {}
    try:
        out.executescript("PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF;")
        out.execute("BEGIN")
        for table, cols in TABLES.items():
            out.execute(f"CREATE TABLE {table} ({', '.join(f'{c} {t}' for c, t in cols)})")
        with store.read():
            raw = store._conn.raw
            for table, cols in TABLES.items():
                names = [c for c, _t in cols]
                insert = f"INSERT INTO {table} VALUES ({', '.join('?' * len(names))})"
                n = 0
                with raw.cursor(name=f"cluetool_state_copy_{table}") as cur:
                    cur.itersize = _ROWS
                    cur.execute(f"SELECT {', '.join(names)} FROM {table} ORDER BY {names[0]}")
                    while rows := cur.fetchmany(_ROWS):
                        out.executemany(insert, rows)
                        n += len(rows)
                counts[table] = n
        out.execute("COMMIT")
    finally:
        out.close()
    return counts
