"""Obligation row images for audit entries (issue 20: state derived from the log).

An audit entry that creates or changes obligations carries, in ``details["obligations"]``,
one *image* per obligation row it created or changed, as the row stands after the
change: ``id|rule_id|unit|trigger_event_id|due_date|provisional|state|met_at|met_event_id``
(empty for NULL; ``provisional`` 0 or 1). Ids, rule ids, units and dates only, never
content. A row's ``submission_id`` is the entry's object and its ``created_at`` the
entry's ``at`` when the image first appears. ``cluetool.audit.replay`` rebuilds the
obligations table from these images alone.

Writers take a snapshot of the rows of the reports they touch before their change
(``images_of_reports``) and record ``changed_images`` afterwards.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from cluetool.store.audit_entries import Db

IMAGE_KEY = "obligations"
_COLUMNS = "id, report_id, rule_id, unit, trigger_event_id, due_date, provisional, state, met_at, met_event_id"
_CHUNK = 500


def image(row: Sequence[Any]) -> str:
    """The image of ``(id, rule_id, unit, trigger_event_id, due_date, provisional, state,
    met_at, met_event_id)``."""
    return "|".join(["" if v is None else str(v) for v in row])


def images_of_reports(db: Db, report_ids: Iterable[int]) -> dict[int, dict[int, str]]:
    """``{report id: {obligation id: image}}`` of every obligation of these reports."""
    out: dict[int, dict[int, str]] = {}
    ids = list(report_ids)
    for i in range(0, len(ids), _CHUNK):
        part = ids[i : i + _CHUNK]
        marks = ",".join("?" * len(part))
        for r in db.execute(f"SELECT {_COLUMNS} FROM obligations WHERE report_id IN ({marks})", part):
            out.setdefault(r[1], {})[r[0]] = image((r[0], *r[2:]))
    return out


def report_id_of(db: Db, submission_id: str) -> int | None:
    row = db.execute("SELECT id FROM reports WHERE submission_id = ?",
                     (submission_id,)).fetchone()
    return None if row is None else int(row[0])


def changed_images(before: Mapping[int, str], after: Mapping[int, str]) -> list[str]:
    """Images of the rows that are new or differ, in id order."""
    return [img for oid, img in sorted(after.items()) if before.get(oid) != img]
