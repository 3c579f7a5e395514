"""Submission and attachment validation (schemas/report.schema.json).

``validate_paths`` checks submission directories and spools and returns a
``ValidationReport`` with one ``Finding`` per problem; it reads the submissions and
nothing else. Finding codes are listed in ``cluetool.validate.submission`` (reading and
schema), ``cluetool.validate.fields`` (field rules) and
``cluetool.validate.attachments`` (attachment files).
"""

from __future__ import annotations

from cluetool.validate.submission import (
    REPORT_MAX_BYTES,
    SubmissionResult,
    Summary,
    ValidatedSubmission,
    ValidationReport,
    validate_paths,
    validate_submission,
    validate_submission_model,
)

__all__ = [
    "REPORT_MAX_BYTES",
    "SubmissionResult",
    "Summary",
    "ValidatedSubmission",
    "ValidationReport",
    "validate_paths",
    "validate_submission",
    "validate_submission_model",
]
