"""``audit log``: the entries matching filters, decoded (docs/audit.md)."""

from __future__ import annotations

from datetime import datetime, timezone

import msgspec

from cluetool.errors import FindingsError, InputError
from cluetool.model.store import AuditRecord
from cluetool.store import Store
from cluetool.store import audit_queries as sql
from cluetool.store.audit_entries import format_time

class AuditLog(msgspec.Struct, kw_only=True):
    """``audit log``: the entries that match the filters, in seq order."""

    entries: list[AuditRecord]
    schema: str = "cluetool.audit-log/1"


def parse_time(value: str, what: str) -> str:
    """``--since``/``--until``: a date (``2026-11-24``, midnight UTC) or an RFC 3339 time
    with offset, as the stored ``at`` form.

    Raises:
        InputError: neither.
    """
    try:
        if len(value) == 10:
            at = datetime.fromisoformat(value).replace(tzinfo=timezone.utc)
        else:
            at = datetime.fromisoformat(value.replace("Z", "+00:00"))
            if at.tzinfo is None:
                raise ValueError
    except ValueError:
        raise InputError(f"invalid {what} {value!r}: give a date (YYYY-MM-DD) or an RFC 3339 time with offset") from None
    return format_time(at)


def list_entries(
    store: Store, *, object: str | None = None, action: str | None = None, actor: str | None = None,
    since: str | None = None, until: str | None = None, limit: int | None = None,
) -> AuditLog:
    """Entries matching the filters (see ``cluetool.store.audit_queries.find_entries``).

    Raises:
        InputError: a bad time or limit.
        FindingsError: a matching entry is not a valid record (the log was damaged).
    """
    if limit is not None and limit < 0:
        raise InputError("--limit must not be negative")
    s = parse_time(since, "--since") if since else None
    u = parse_time(until, "--until") if until else None
    out = []
    with store.read() as tx:
        for e in sql.find_entries(tx, object=object, action=action, actor=actor, since=s, until=u, limit=limit):  # type: ignore[arg-type]
            try:
                out.append(e.record())
            except ValueError:
                raise FindingsError(f"audit entry {e.seq} is not a valid record", hint="run: cluetool audit verify") from None
    return AuditLog(entries=out)
