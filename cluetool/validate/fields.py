"""Field rules: what a form would enforce beyond the schema (schemas/report.schema.json).

Each ``check_*`` function takes one block, already decoded into its Struct (strings
NFKC-normalised), and returns findings; a block that failed the schema is not passed
here, so one broken block does not hide the problems of the others.

Finding codes (stable API; ``path`` is the JSON path in ``report.json``):

==================================  ========  =============================================
code                                severity  meaning
==================================  ========  =============================================
envelope.received_at_offset         error     ``received_at`` has no UTC offset
envelope.received_at_future         error     ``received_at`` after ``now`` (+5 min skew)
envelope.received_at_too_old        error     ``received_at`` before 2018-01-01 (+08:00)
declaration.not_accepted            error     the truthfulness pledge was not accepted
declaration.at_offset               error     ``declaration.at`` has no UTC offset
declaration.at_after_received       error     pledge time after ``received_at`` (+5 min)
reporter.variant                    error     blocks present/missing for type × identity
reporter.id_legacy                  error     15-digit first-generation ID number
reporter.id_format                  error     not 17 digits + ``[0-9X]``
reporter.id_checksum                error     GB 11643 check character wrong
reporter.id_region                  error     province prefix does not exist
reporter.id_birthdate               error     birth date not a date, or in the future
reporter.id_region_unknown          warning   county code not current (may be historical)
reporter.id_age                     warning   age under 14 or over 110 at receipt
reporter.mobile                     error     not a mainland mobile number
reporter.phone                      error     unit phone neither mobile nor landline
reporter.contact_empty              error     ``contact`` given with nothing in it
reporter.contact_phone              error     contact phone neither mobile nor landline
reporter.contact_email              error     contact e-mail not ``local@domain.tld``
unit.uscc_format                    error     length, alphabet, positions 3-8 not digits
unit.uscc_checksum                  error     GB 32100 check character wrong
unit.uscc_category                  warning   unknown department / category pair
unit.uscc_region_unknown            warning   registration region not current
unit.uscc_inner_checksum            warning   GB 11714 organisation code check wrong
subject.id_* / subject.uscc_*       warning   the same checks on a reported person's ID
                                              number or unit's USCC (optional, soft)
region.unknown                      error     a region field is not a current GB/T 2260 code
facts.description_short             error     under 20 characters (NFKC, white space removed)
facts.start_date_future             error     start date after the date of receipt
facts.end_date_future               error     end date after the date of receipt
facts.end_before_start              error     end date before start date
facts.end_date_ongoing              error     an end date on a matter still ongoing
facts.problem_industry              error     kind 3 problem code of another industry
report.unknown_not_alone            error     "not known" chosen together with values
report.duplicate_value              error     the same value twice in a multi-select
umbrella.records_missing            error     status yes without records
umbrella.records_unexpected         error     records with status no / unknown
prior_reports.records_missing       error     status yes without records
prior_reports.records_unexpected    error     records with status no / unknown
prior_reports.when_invalid          error     not a real date
prior_reports.when_future           error     after the date of receipt
==================================  ========  =============================================

Dates of events are compared with the date of receipt (``received_at`` in its own
offset), falling back to ``now`` when ``received_at`` is unusable.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from datetime import date, datetime, timedelta, timezone
from typing import Any

from cluetool.model.codes import UNKNOWN_VALUES
from cluetool.model.findings import Finding, Severity
from cluetool.model.report import (
    Contact,
    Declaration,
    GangFacts,
    GroupSubject,
    IndustryFacts,
    Officer,
    PersonSubject,
    PoliceFacts,
    PriorReports,
    Reporter,
    Umbrella,
    UnitSubject,
)
from cluetool.validate import ids, regions

#: Clock skew allowed between the intake and the validator.
CLOCK_SKEW = timedelta(minutes=5)
#: The platform opened in 2018; nothing was received before this.
EARLIEST_RECEIPT = datetime(2018, 1, 1, tzinfo=timezone(timedelta(hours=8)))
#: Minimum length of a facts description, in characters after NFKC with white space removed.
DESCRIPTION_MIN_CHARS = 20
_CHINA = timezone(timedelta(hours=8))
_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]+$")


class Context:
    """What the rules of one submission share: its name, ``now`` and the receipt time."""

    def __init__(self, submission: str, now: datetime) -> None:
        self.submission = submission
        self.now = now
        self.received: datetime | None = None
        self.findings: list[Finding] = []
        # The decoded report when it matched the schema as a whole (the fast path), so
        # callers need not decode and normalise it again.
        self.report: Any = None

    @property
    def received_date(self) -> date:
        if self.received is not None:
            return self.received.date()
        return self.now.astimezone(_CHINA).date()

    def add(self, path: str, code: str, message: str, severity: Severity = "error") -> None:
        self.findings.append(
            Finding(submission=self.submission, path=path, code=code, message=message, severity=severity)
        )


def _aware(dt: datetime) -> datetime:
    # A missing offset is reported separately; compare it as China time meanwhile.
    return dt if dt.tzinfo is not None else dt.replace(tzinfo=_CHINA)


# ---------------------------------------------------------------------------- envelope


def check_received_at(ctx: Context, received_at: datetime) -> None:
    if received_at.tzinfo is None:
        ctx.add("received_at", "envelope.received_at_offset", "received_at must carry a UTC offset (RFC 3339)")
    at = _aware(received_at)
    ctx.received = at
    if at > ctx.now + CLOCK_SKEW:
        ctx.add("received_at", "envelope.received_at_future", "received_at is in the future")
    if at < EARLIEST_RECEIPT:
        ctx.add("received_at", "envelope.received_at_too_old", "received_at is before 2018-01-01, when the platform opened")


def check_declaration(ctx: Context, decl: Declaration) -> None:
    if not decl.accepted:
        ctx.add("declaration.accepted", "declaration.not_accepted", "the truthfulness declaration was not accepted")
    if decl.at.tzinfo is None:
        ctx.add("declaration.at", "declaration.at_offset", "declaration.at must carry a UTC offset (RFC 3339)")
    if ctx.received is not None and _aware(decl.at) > ctx.received + CLOCK_SKEW:
        ctx.add("declaration.at", "declaration.at_after_received", "the declaration was accepted after receipt")


# ---------------------------------------------------------------------------- reporter


def _region(ctx: Context, path: str, code: str | None) -> None:
    if code is not None and not regions.is_known(code):
        ctx.add(path, "region.unknown", f"region code {code} is not a current GB/T 2260 code ({regions.DATA_VINTAGE})")


def _id_problems(ctx: Context, path: str, prefix: str, problems: Iterable[ids.IdProblem], *, soft: bool) -> None:
    for p in problems:
        severity: Severity = "error" if p.hard and not soft else "warning"
        ctx.add(path, f"{prefix}.{p.code}", p.message, severity)


def _phone_ok(value: str) -> bool:
    return ids.is_mobile(value) or ids.is_landline(value)


def check_reporter(ctx: Context, r: Reporter) -> None:
    expected = {
        ("individual", "real_name"): ("individual",),
        ("unit", "real_name"): ("unit",),
    }.get((r.type, r.identity), ())
    present = {"individual": r.individual is not None, "unit": r.unit is not None, "contact": r.contact is not None}
    allowed = set(expected) | ({"contact"} if r.identity == "anonymous" else set())
    for block, here in present.items():
        if block in expected and not here:
            ctx.add(f"reporter.{block}", "reporter.variant", f"a {r.identity} {r.type} reporter needs reporter.{block}")
        elif here and block not in allowed:
            ctx.add(f"reporter.{block}", "reporter.variant", f"a {r.identity} {r.type} reporter has no reporter.{block}")
    if r.individual is not None:
        p = r.individual
        _id_problems(ctx, "reporter.individual.id_number", "reporter",
                     ids.check_resident_id(p.id_number, today=ctx.received_date), soft=False)
        if not ids.is_mobile(p.mobile):
            ctx.add("reporter.individual.mobile", "reporter.mobile", "not a mainland mobile number (1[3-9] and 9 digits)")
        _region(ctx, "reporter.individual.address.region", p.address.region)
    if r.unit is not None:
        u = r.unit
        _id_problems(ctx, "reporter.unit.uscc", "unit", ids.check_uscc(u.uscc), soft=False)
        if not _phone_ok(u.phone):
            ctx.add("reporter.unit.phone", "reporter.phone", "neither a mobile number nor a landline (0AA-NNNNNNNN)")
        _region(ctx, "reporter.unit.address.region", u.address.region)
    if r.contact is not None:
        check_contact(ctx, r.contact)


def check_contact(ctx: Context, c: Contact) -> None:
    if not c.phone and not c.email and not c.note:
        ctx.add("reporter.contact", "reporter.contact_empty", "contact is given but has no phone, email or note")
    if c.phone is not None and not _phone_ok(c.phone):
        ctx.add("reporter.contact.phone", "reporter.contact_phone", "neither a mobile number nor a landline")
    if c.email is not None and not _EMAIL_RE.match(c.email):
        ctx.add("reporter.contact.email", "reporter.contact_email", "not an e-mail address")


# ---------------------------------------------------------------------------- subjects


def check_subjects(ctx: Context, subjects: Sequence[Any]) -> None:
    for i, s in enumerate(subjects):
        at = f"subjects[{i}]"
        if isinstance(s, Officer):
            _region(ctx, f"{at}.unit_region", s.unit_region)
        elif isinstance(s, PersonSubject):
            _region(ctx, f"{at}.region", s.region)
            if s.id_number is not None:
                _id_problems(ctx, f"{at}.id_number", "subject",
                             ids.check_resident_id(s.id_number, today=ctx.received_date), soft=True)
        elif isinstance(s, UnitSubject):
            if s.address is not None:
                _region(ctx, f"{at}.address.region", s.address.region)
            if s.uscc is not None:
                _id_problems(ctx, f"{at}.uscc", "subject", ids.check_uscc(s.uscc), soft=True)
        elif isinstance(s, GroupSubject):
            _region(ctx, f"{at}.region", s.region)


# ---------------------------------------------------------------------------- facts


def _multi(ctx: Context, path: str, values: Sequence[str]) -> None:
    seen: set[str] = set()
    for i, v in enumerate(values):
        if v in seen:
            ctx.add(f"{path}[{i}]", "report.duplicate_value", f"{v} is chosen twice")
        seen.add(v)
    if len(values) > 1 and seen & UNKNOWN_VALUES:
        ctx.add(path, "report.unknown_not_alone", "'not known' cannot be chosen together with other values")


def _dates(ctx: Context, start: date, end: date | None, ongoing: str) -> None:
    received = ctx.received_date
    if start > received:
        ctx.add("facts.start_date", "facts.start_date_future", "the start date is after the date of receipt")
    if end is not None:
        if end > received:
            ctx.add("facts.end_date", "facts.end_date_future", "the end date is after the date of receipt")
        if end < start:
            ctx.add("facts.end_date", "facts.end_before_start", "the end date is before the start date")
        if ongoing == "yes":
            ctx.add("facts.end_date", "facts.end_date_ongoing", "an end date is given but the matter is ongoing")


def _description(ctx: Context, text: str) -> None:
    n = sum(map(len, text.split()))  # characters other than white space
    if n < DESCRIPTION_MIN_CHARS:
        ctx.add("facts.description", "facts.description_short",
                f"the description has {n} characters; at least {DESCRIPTION_MIN_CHARS} are needed")


def check_facts(ctx: Context, f: PoliceFacts | GangFacts | IndustryFacts) -> None:
    _region(ctx, "facts.region", f.region)
    _dates(ctx, f.start_date, f.end_date, f.ongoing)
    _description(ctx, f.description)
    if isinstance(f, PoliceFacts):
        _multi(ctx, "facts.problems", f.problems)
    elif isinstance(f, GangFacts):
        for name in ("targets", "charges", "industries", "means"):
            _multi(ctx, f"facts.{name}", getattr(f, name))
    else:
        _multi(ctx, "facts.secondary_industries", f.secondary_industries)
        _multi(ctx, "facts.problems", f.problems)
        industries = {f.industry, *f.secondary_industries}
        for i, p in enumerate(f.problems):
            if "-" in p and p.split("-")[0] not in industries:
                ctx.add(f"facts.problems[{i}]", "facts.problem_industry",
                        f"problem {p} belongs to industry {p.split('-')[0]}, which is not chosen")


# ---------------------------------------------------------------------------- umbrella, prior


def _status_records(ctx: Context, block: str, status: str, records: Sequence[Any]) -> None:
    if status == "yes" and not records:
        ctx.add(f"{block}.records", f"{block}.records_missing", f"{block}.status is yes but there are no records")
    elif status != "yes" and records:
        ctx.add(f"{block}.records", f"{block}.records_unexpected", f"{block}.status is {status} but records are given")


def check_umbrella(ctx: Context, u: Umbrella) -> None:
    _status_records(ctx, "umbrella", u.status, u.records)
    for i, rec in enumerate(u.records):
        _region(ctx, f"umbrella.records[{i}].region", rec.region)
        _multi(ctx, f"umbrella.records[{i}].behaviours", rec.behaviours)


def check_prior_reports(ctx: Context, p: PriorReports) -> None:
    _status_records(ctx, "prior_reports", p.status, p.records)
    received = ctx.received_date
    for i, rec in enumerate(p.records):
        parts = [int(x) for x in rec.when.split("-")]
        try:
            first_day = date(parts[0], parts[1], parts[2] if len(parts) == 3 else 1)
        except ValueError:
            ctx.add(f"prior_reports.records[{i}].when", "prior_reports.when_invalid", "not a real date")
            continue
        if first_day > received:
            ctx.add(f"prior_reports.records[{i}].when", "prior_reports.when_future", "after the date of receipt")
