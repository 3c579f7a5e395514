"""``audit confirm-text``: whether a given note or reason is the one an audit entry
records, for a holder of the home's audit secret (``cluetool.keys.audit_secret``).

Entries record free text only as ``<field>_hmac_sha256`` (HMAC-SHA-256 under the home's
secret). Entries written before that recorded ``<field>_sha256`` (plain SHA-256); those
are still confirmed, and say so (``keyed`` false): a plain hash can be confirmed by
anyone who guesses the text, which is why it is no longer written.
"""

from __future__ import annotations

import hashlib
import hmac

import msgspec

from cluetool.config import Home
from cluetool.errors import FindingsError, InputError
from cluetool.keys.audit_secret import keyed_text, load_audit_secret
from cluetool.store import Store
from cluetool.store import audit_queries as sql

TEXT_FIELDS = ("note", "reason")


class TextCheck(msgspec.Struct, kw_only=True):
    """The result of ``audit confirm-text``: ``matches`` says whether the text is the one
    entry ``seq`` records in ``field``."""

    seq: int
    field: str
    keyed: bool
    matches: bool
    schema: str = "cluetool.audit-confirm-text/1"


def confirm_text(home: Home, store: Store, seq: int, text: str) -> TextCheck:
    """Compare ``text`` with the note or reason recorded in entry ``seq``.

    Raises:
        InputError: no such entry, or it records no note or reason.
        FindingsError: the entry is not a valid record.
        StateError: a keyed entry and no readable audit secret.
    """
    with store.read() as tx:
        row = sql.get_entry(tx, seq)  # type: ignore[arg-type]
    if row is None:
        raise InputError(f"audit entry {seq} does not exist")
    try:
        details = row.record().details
    except ValueError:
        raise FindingsError(f"audit entry {seq} is not a valid record", hint="run: cluetool audit verify") from None
    for name in TEXT_FIELDS:
        keyed = details.get(f"{name}_hmac_sha256")
        if isinstance(keyed, str):
            ok = hmac.compare_digest(keyed_text(load_audit_secret(home), text), keyed)
            return TextCheck(seq=seq, field=name, keyed=True, matches=ok)
        plain = details.get(f"{name}_sha256")
        if isinstance(plain, str):
            ok = hmac.compare_digest(hashlib.sha256(text.encode("utf-8")).hexdigest(), plain)
            return TextCheck(seq=seq, field=name, keyed=False, matches=ok)
    raise InputError(f"audit entry {seq} records no note or reason")
