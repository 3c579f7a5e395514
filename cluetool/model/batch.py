"""The batch manifest and the payload index (docs/format.md), and the records that verify,
seal and import report about batches."""

from __future__ import annotations

import re
from typing import Literal

import msgspec

from cluetool.model.feed import StaleDone
from cluetool.model.findings import Finding

BATCH_FORMAT = "cluetool-batch/1"
ZERO_HASH = "0" * 64
SOURCE_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
MEMBERS = ("manifest.json", "manifest.json.minisig", "payload.age")


class PayloadInfo(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    size: int = msgspec.field()
    sha256: str


class Counts(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    reports: int
    attachments: int


class Manifest(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """``manifest.json``: canonical JSON, reveals no report content."""

    format: Literal["cluetool-batch/1"]
    source: str
    sequence: int
    previous: str
    created_at: str
    signer: str
    recipients: list[str]
    payload: PayloadInfo
    counts: Counts

    def trusted_comment(self) -> str:
        """The minisign trusted comment that binds the signature to this manifest."""
        return f"{BATCH_FORMAT} source={self.source} sequence={self.sequence} previous={self.previous}"

    def file_name(self) -> str:
        return batch_file_name(self.source, self.sequence)


def key_id_hex16(key_id: bytes) -> str:
    """A minisign key id as 16 upper-case hex digits (the little-endian uint64, zero-padded,
    as minisign 0.12 prints it; 0.11 drops leading zeros)."""
    return f"{int.from_bytes(key_id, 'little'):016X}"


def signature_comment(signer: str) -> str:
    """The untrusted comment cluetool writes in ``manifest.json.minisig`` (checked too:
    minisign does not sign it, but a changed byte in a batch must not pass unnoticed)."""
    return f"signature from cluetool key {signer}"


def batch_file_name(source: str, sequence: int) -> str:
    return f"{source}-{sequence:08d}.clue"


class IndexEntry(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """One report of a payload's ``index.json``."""

    submission_id: str
    report_sha256: str
    attachments: list[str]


class BatchProblem(msgspec.Struct, kw_only=True):
    """A problem found in a batch or a chain of batches (stable ``code``)."""

    batch: str
    code: str
    message: str


class BatchCheck(msgspec.Struct, kw_only=True):
    """What verification established about one batch file."""

    batch: str
    ok: bool
    source: str | None = None
    sequence: int | None = None
    manifest_sha256: str | None = None
    previous: str | None = None
    signer: str | None = None
    payload_sha256: str | None = None
    reports: int | None = None
    attachments: int | None = None
    decrypted: bool = False
    already_imported: bool = False  # verify --chain with a store: the store's ledger holds it
    decrypted_by: str | None = None  # the key name of the identity that decrypted (maybe retired/NAME-ID)


class VerifyReport(msgspec.Struct, kw_only=True):
    """The result of ``verify``: ``schema`` is the version marker of this document."""

    ok: bool
    batches: list[BatchCheck]
    problems: list[BatchProblem]
    schema: str = "cluetool.verify/1"


class SealedBatch(msgspec.Struct, kw_only=True):
    batch: str
    path: str
    source: str
    sequence: int
    manifest_sha256: str
    payload_sha256: str
    payload_size: int
    reports: int
    attachments: int
    record: str = "batch"


class Quarantined(msgspec.Struct, kw_only=True):
    """A submission ``seal`` moved to the quarantine (``path``), with its error codes;
    ``record`` tells these rows from batch rows in ``seal``'s JSONL output."""

    submission: str
    path: str
    codes: list[str]
    record: str = "quarantined"


class SealReport(msgspec.Struct, kw_only=True):
    ok: bool
    batches: list[SealedBatch]
    quarantined: list[Quarantined]
    recovered: list[str] = msgspec.field(default_factory=list)
    # Identifying metadata in sealed attachments (EXIF GPS, serials, ...): not a failure.
    warnings: list[Finding] = msgspec.field(default_factory=list)
    # Batches still in SPOOL.done/ with no receipt, older than --warn-done-days (issue 23).
    stale_done: list[StaleDone] = msgspec.field(default_factory=list)
    schema: str = "cluetool.seal/1"
