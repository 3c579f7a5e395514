"""Validation of report bytes that did not come from a submission directory (the
receiving side re-validates what a batch carries: a trusted signer vouches for the
transfer, not for the content)."""

from __future__ import annotations

import hashlib
from datetime import datetime

import msgspec

from cluetool.model.findings import Finding
from cluetool.model.report import Attachment, Report
from cluetool.validate import fields
from cluetool.validate.submission import _UNPARSED, REPORT_FILE, REPORT_MAX_BYTES, _check_report, _parse, cap_findings


class ReportCheck(msgspec.Struct, kw_only=True):
    """Field-level validation of one report's bytes (attachments are checked apart)."""

    submission: str
    submission_id: str | None
    kind: str | None
    ok: bool
    findings: list[Finding]
    report_sha256: str
    attachments: list[Attachment]
    report: Report | None = None  # the decoded (normalised) report, when ok


def validate_report_bytes(raw: bytes, *, now: datetime, submission: str) -> ReportCheck:
    """Every schema and field rule of ``report.json`` applied to ``raw``.

    Raises:
        ValueError: ``now`` is naive.
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    ctx = fields.Context(submission, now)
    submission_id = kind = None
    attachments: list[Attachment] = []
    if len(raw) > REPORT_MAX_BYTES:
        ctx.add(REPORT_FILE, "report.too_large", f"{REPORT_FILE} is larger than {REPORT_MAX_BYTES} bytes")
    else:
        data = _parse(raw, ctx)
        if data is not _UNPARSED:
            submission_id, kind, attachments, bad = _check_report(data, ctx)
            for name in sorted(bad):
                ctx.add("attachments", "attachment.declaration", f'attachment "{name}" is not declared correctly')
    ok = not any(f.severity == "error" for f in ctx.findings)
    return ReportCheck(
        submission=submission, submission_id=submission_id, kind=kind, ok=ok,
        findings=cap_findings(ctx.findings, submission), report_sha256=hashlib.sha256(raw).hexdigest(), attachments=attachments,
        report=ctx.report if ok else None,
    )
