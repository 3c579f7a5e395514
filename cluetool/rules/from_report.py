"""The rules' view of a report: ``ClueFacts`` from a decoded report or its stored bytes.

Two ways in, with one answer:

- ``facts_from_report(report)`` takes a ``cluetool.model.report.Report`` (as
  ``decode_report`` returns it);
- ``facts_from_json(raw)`` takes the stored ``reports.report_json`` bytes and decodes only
  the few fields the rules look at, through a narrow msgspec Struct. ``assign`` and the
  import-time obligations use it on every clue, where ``decode_report`` (full schema,
  every string NFKC-normalised) would cost most of the time. The strings it keeps are
  normalised the same way (``normalise_text``), so that a full-width digit accepted by
  ``validate`` gives the same region here as there.

What counts (cluetool/data/rules/): ``has_contact`` is true for a real-name reporter (name, ID or
credit code and phone are mandatory there) and for an anonymous reporter who left a
phone or an e-mail address: the same test the importer uses for
``reports.reporter_has_contact``. ``industries`` are a gang report's industries, or an
industry report's primary and secondary industries; ``organ_types`` are the reported
officers' organ types (kind ``police_misconduct``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec

from cluetool.model.report import Report, normalise_text
from cluetool.rules.facts import ClueFacts

__all__ = ["facts_from_json", "facts_from_report"]


def facts_from_report(report: Report) -> ClueFacts:
    """The facts the assignment and deadline rules match on, from a decoded report."""
    kind = str(report.__struct_config__.tag)
    facts: Any = report.facts
    reporter = report.reporter
    contact = reporter.contact
    has_contact = reporter.identity == "real_name" or (
        contact is not None and bool(contact.phone or contact.email)
    )
    if kind == "gang_crime":
        industries: tuple[str, ...] = tuple(facts.industries)
        targets: tuple[str, ...] = tuple(facts.targets)
    elif kind == "industry_disorder":
        industries = (facts.industry, *facts.secondary_industries)
        targets = ()
    else:
        industries = ()
        targets = ()
    organs = tuple(s.organ_type for s in report.subjects) if kind == "police_misconduct" else ()
    return ClueFacts(
        submission_id=report.submission_id,
        kind=kind,
        region=facts.region,
        industries=_unique(industries),
        targets=_unique(targets),
        umbrella=report.umbrella.status,
        organ_types=_unique(organs),
        has_contact=has_contact,
        real_name=reporter.identity == "real_name",
        received_at=report.received_at,
    )


# -- the narrow view over the stored bytes -------------------------------------------------


class _Contact(msgspec.Struct):
    phone: str | None = None
    email: str | None = None


class _Reporter(msgspec.Struct):
    identity: str
    contact: _Contact | None = None


class _Facts(msgspec.Struct):
    region: str
    industries: list[str] = []
    industry: str | None = None
    secondary_industries: list[str] = []
    targets: list[str] = []


class _Subject(msgspec.Struct):
    organ_type: str | None = None


class _Umbrella(msgspec.Struct):
    status: str


class _View(msgspec.Struct):
    submission_id: str
    kind: str
    received_at: datetime
    reporter: _Reporter
    facts: _Facts
    umbrella: _Umbrella
    subjects: list[_Subject] = []


_decoder = msgspec.json.Decoder(_View)


def facts_from_json(raw: bytes) -> ClueFacts:
    """``facts_from_report(decode_report(raw))`` for a report that passed validation, fast.

    Raises:
        ValueError: the bytes are not a report (never for a report the store accepted).
    """
    try:
        v = _decoder.decode(raw)
    except msgspec.DecodeError as exc:
        raise ValueError(f"cannot read the stored report: {exc}") from None
    n = normalise_text
    kind = n(v.kind)
    f = v.facts
    contact = v.reporter.contact
    identity = n(v.reporter.identity)
    has_contact = identity == "real_name" or (
        contact is not None and bool((contact.phone and n(contact.phone)) or (contact.email and n(contact.email)))
    )
    if kind == "gang_crime":
        industries = tuple(n(c) for c in f.industries)
        targets = tuple(n(c) for c in f.targets)
    elif kind == "industry_disorder":
        industries = tuple(n(c) for c in ([f.industry] if f.industry else []) + f.secondary_industries)
        targets = ()
    else:
        industries = ()
        targets = ()
    organs = (
        tuple(n(s.organ_type) for s in v.subjects if s.organ_type) if kind == "police_misconduct" else ()
    )
    try:
        return ClueFacts(
            submission_id=n(v.submission_id),
            kind=kind,
            region=n(f.region),
            industries=_unique(industries),
            targets=_unique(targets),
            umbrella=n(v.umbrella.status),  # type: ignore[arg-type]
            organ_types=_unique(organs),
            has_contact=has_contact,
            real_name=identity == "real_name",
            received_at=v.received_at,
        )
    except (msgspec.ValidationError, TypeError) as exc:  # pragma: no cover - validated input
        raise ValueError(f"cannot read the stored report: {exc}") from None


def _unique(items: tuple[str, ...]) -> tuple[str, ...]:
    # Order kept (first occurrence); duplicates add nothing to a set-membership test.
    return tuple(dict.fromkeys(items))
