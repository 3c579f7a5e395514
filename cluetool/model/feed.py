"""The status feed (``.status`` file, internal → intake, issue 23) and the records that
``feed export``, ``feed import`` and the intake's purge of ``SPOOL.done/`` report.

A ``.status`` file is a ustar archive of four members, in order: ``manifest.json``
(canonical JSON, below), ``manifest.json.minisig`` (minisign, prehashed), ``codes.txt``
(one line per report: the hex SHA-256 of its query code, a space, its public stage;
sorted by hash) and ``receipt.json`` (canonical JSON: the batches the internal store
imported, per source, with sequence and manifest hash). Nothing in it is secret, so
nothing is encrypted. See docs/feed.md.
"""

from __future__ import annotations

import re
from typing import Literal

import msgspec

FEED_FORMAT = "cluetool-status/1"
FEED_MEMBERS = ("manifest.json", "manifest.json.minisig", "codes.txt", "receipt.json")
DATA_MEMBERS = FEED_MEMBERS[2:]
STAGES = ("received", "assigned", "under_verification", "closed")
# One line of codes.txt: 64 lower-case hex digits, a space, a public stage, a newline.
CODE_LINE_RE = re.compile(rb"[0-9a-f]{64} (?:received|assigned|under_verification|closed)\n")


class FeedMember(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    name: str
    size: int
    sha256: str


class FeedCounts(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    codes: int
    batches: int


class FeedManifest(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """``manifest.json`` of a ``.status`` file (canonical JSON)."""

    format: Literal["cluetool-status/1"]
    source: str
    sequence: int
    previous: str
    created_at: str
    signer: str
    members: list[FeedMember]
    counts: FeedCounts

    def trusted_comment(self) -> str:
        """The minisign trusted comment that binds the signature to this manifest."""
        return f"{FEED_FORMAT} source={self.source} sequence={self.sequence} previous={self.previous}"

    def file_name(self) -> str:
        return feed_file_name(self.source, self.sequence)


def feed_file_name(source: str, sequence: int) -> str:
    return f"{source}-{sequence:08d}.status"


class ReceiptBatch(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """One batch the internal store imported (``receipt.json``)."""

    source: str
    sequence: int
    manifest_sha256: str


class Receipt(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """``receipt.json``: every batch imported, sorted by source and sequence."""

    batches: list[ReceiptBatch]


class FeedExportReport(msgspec.Struct, kw_only=True):
    """The result of ``feed export``."""

    file: str
    path: str
    source: str
    sequence: int
    manifest_sha256: str
    codes: int
    batches: int
    created_at: str
    recovered: str | None = None  # an export a kill interrupted, finished first
    schema: str = "cluetool.feed-export/1"


PurgeStatus = Literal["purged", "kept", "already_purged", "not_sealed_here", "mismatch"]


class ConfirmedBatch(msgspec.Struct, kw_only=True):
    """What ``feed import`` did about one batch of the receipt at this intake."""

    batch: str
    source: str
    sequence: int
    status: PurgeStatus
    submissions: int = 0  # submissions deleted from SPOOL.done/ (or kept there)
    done_dir: str | None = None


class FeedProblem(msgspec.Struct, kw_only=True):
    """A reason a ``.status`` file was refused (stable ``code``)."""

    file: str
    code: str
    message: str


class FeedImportReport(msgspec.Struct, kw_only=True):
    """The result of ``feed import``: ``status`` is imported, already_imported or refused."""

    ok: bool
    file: str
    status: str
    source: str | None = None
    sequence: int | None = None
    manifest_sha256: str | None = None
    created_at: str | None = None
    codes: int = 0
    batches: list[ConfirmedBatch] = msgspec.field(default_factory=list)
    problems: list[FeedProblem] = msgspec.field(default_factory=list)
    schema: str = "cluetool.feed-import/1"


class StaleDone(msgspec.Struct, kw_only=True):
    """A batch whose submissions are still in ``SPOOL.done/`` unconfirmed, older than
    ``--warn-done-days`` (``seal`` warns about each)."""

    batch: str
    done_dir: str
    sealed_at: str
    days: int
