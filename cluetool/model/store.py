"""Records that cross the store boundary (cluetool/store/migrations.py, docs/audit.md): what ``cluetool.store`` takes
and returns. No SQL types leak past these Structs: timestamps are RFC 3339 UTC strings
with ``Z``, hashes are lower-case hex (64 characters) except Merkle leaf hashes, which
are the 32 raw bytes.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

import msgspec

from cluetool.formats.canonical import NonCanonicalError, dumps, loads_canonical

ReportKind = Literal["police_misconduct", "gang_crime", "industry_disorder"]
AttachmentType = Literal["jpg", "mp3", "mp4"]
# The public stages a reporter may see with a query code (cluetool/model/querycode.py).
Stage = Literal["received", "assigned", "under_verification", "closed"]
Severity = Literal["error", "warning", "info"]

STORE_CHECK_SCHEMA = "cluetool.store-check/1"


class SourceState(msgspec.Struct, frozen=True, kw_only=True):
    """Per source: the last accepted batch sequence and the sha256 of its manifest."""

    source: str
    last_sequence: int
    last_manifest_sha256: str
    updated_at: str


class BatchRecord(msgspec.Struct, frozen=True, kw_only=True):
    """One row of the receive ledger: a batch that was imported."""

    id: int
    source: str
    sequence: int
    manifest_sha256: str
    previous_sha256: str
    payload_sha256: str
    signer: str
    created_at: str
    imported_at: str
    reports: int
    attachments: int
    allow_gap_reason: str | None = None


class ReportAttachment(msgspec.Struct, frozen=True, kw_only=True):
    """An attachment of one report: the blob (by sha256) and its name and note there."""

    sha256: str
    size: int
    type: AttachmentType
    file: str
    note: str | None = None


class Fingerprint(msgspec.Struct, frozen=True, kw_only=True):
    """A de-duplication fingerprint (cluetool/store/migrations.py): ``kind`` names how ``value`` was made
    (e.g. ``subject``, ``attachment``); ``value`` is an opaque string, usually a hash."""

    kind: str
    value: str


class ReportRow(msgspec.Struct, frozen=True, kw_only=True):
    """A validated report as the import step hands it to the store.

    ``report_json`` is the exact bytes of ``reports/<submission_id>.json`` from the batch;
    the other fields are the indexed facts derived from it. ``received_at`` must be
    time-zone aware; the store keeps it in UTC so that it sorts. ``facts`` is the JSON
    of the ``ClueFacts`` the handling rules see (``cluetool.rules.facts``), derived from
    ``report_json`` at import so that bulk ``assign`` need not decode every report
    again; None leaves them to be derived when needed.
    """

    submission_id: str
    kind: ReportKind
    received_at: datetime
    report_sha256: str
    query_code_sha256: str
    region: str | None
    reporter_has_contact: bool
    real_name: bool
    report_json: bytes
    facts: bytes | None = None
    attachments: list[ReportAttachment] = msgspec.field(default_factory=list)
    fingerprints: list[Fingerprint] = msgspec.field(default_factory=list)


class ReportStage(msgspec.Struct, frozen=True, kw_only=True):
    """What ``status CODE`` may reveal about a report: its public stage, nothing else."""

    stage: Stage


class FingerprintMatch(msgspec.Struct, frozen=True, kw_only=True):
    """A stored report that carries one of the fingerprints looked up."""

    submission_id: str
    kind: str
    value: str


class DuplicateLink(msgspec.Struct, frozen=True, kw_only=True):
    """A possible duplicate (核查比对): ``submission_id`` shares a fingerprint with the
    earlier ``duplicate_of``; a person confirms or rejects it (cluetool/store/migrations.py)."""

    submission_id: str
    duplicate_of: str
    reason: str
    state: Literal["open", "confirmed", "rejected"] = "open"
    found_at: str = ""


class AuditRecord(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The decoded content of an audit entry (docs/audit.md): ids and hashes, never content."""

    seq: int
    at: str
    actor: str
    action: str
    object: str
    details: dict[str, Any]


class AuditEntry(msgspec.Struct, frozen=True, kw_only=True):
    """One stored audit-log leaf: ``entry`` is the canonical JSON bytes of an
    ``AuditRecord`` and ``leaf_hash`` is RFC 6962 ``SHA-256(0x00 || entry)`` as stored."""

    seq: int
    entry: bytes
    leaf_hash: bytes

    def record(self) -> AuditRecord:
        """Decode ``entry``.

        Raises:
            ValueError: the bytes are not the canonical JSON of an audit record.
        """
        try:
            value = loads_canonical(self.entry)
            record = msgspec.convert(value, AuditRecord)
        except (NonCanonicalError, msgspec.ValidationError) as exc:
            raise ValueError(f"audit entry {self.seq} is not a valid record: {exc}") from None
        if dumps(record) != self.entry:
            raise ValueError(f"audit entry {self.seq} is not a valid record: not canonical")
        return record


class StoreProblem(msgspec.Struct, frozen=True, kw_only=True):
    """One problem found by ``Store.check`` (stable ``code``).

    Codes: ``store.integrity``, ``store.foreign_key``, ``store.permissions``,
    ``blob.missing``, ``blob.tampered``, ``blob.not_regular``, ``blob.permissions``,
    ``blob.orphan`` (info: harmless, removable), ``blob.stray`` (info: a file that is not
    a blob, such as a temporary file left by a crash), ``report.changed``,
    ``report.audit_mismatch``, ``report.audit_missing`` (a stored report differs from
    its ``report_sha256`` or from its import's audit entry), ``store.text_damaged``
    (stored text that is not UTF-8: a damaged page).
    """

    code: str
    severity: Severity
    object: str
    message: str


# Blob checks report the same record; the alias names what the blob store yields.
BlobProblem = StoreProblem


class StoreCheckReport(msgspec.Struct, kw_only=True):
    """The result of ``Store.check``: ``ok`` is false when any problem is an error."""

    schema: str = STORE_CHECK_SCHEMA
    ok: bool
    problems: list[StoreProblem]
    removed: list[str] = []  # what ``store check --repair`` removed before checking
