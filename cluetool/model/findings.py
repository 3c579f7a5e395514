"""Findings: one record per problem found in a submission (schemas/report.schema.json)."""

from __future__ import annotations

from typing import Literal

import msgspec

Severity = Literal["error", "warning"]


class Finding(msgspec.Struct, frozen=True, kw_only=True):
    """One problem in one submission.

    ``code`` is stable API (e.g. ``attachment.type_mismatch``, ``reporter.id_checksum``);
    ``path`` is the JSON path in ``report.json`` (``reporter.id_number``) or the file name
    of an attachment; ``submission`` names the submission directory. Warnings are shown
    but do not make a submission invalid.
    """

    submission: str
    path: str
    code: str
    message: str
    severity: Severity = "error"
