"""The report: ``report.json`` of a submission (schemas/report.schema.json).

msgspec Structs, a tagged union on ``kind``. ``schemas/report.schema.json`` is generated
from them (``python -m cluetool.model.schemas --write schemas``). The Structs describe the
*normal form*: ``validate`` first NFKC-normalises every string and strips surrounding
white space (``normalise_strings``), so that full-width digits or a stray space are not
errors; the stored report bytes are never changed.

Decisions taken here where domain.md is a proposal (each is stable API from
``cluetool.report/1`` on):

- The four blocks of the form are ``reporter``, ``subjects``, ``facts`` and
  ``umbrella``; ``prior_reports`` and ``attachments`` follow. Every block is required
  (the intake writes ``[]`` / ``"unknown"`` rather than leaving one out), so that a
  missing block is an intake bug that ``validate`` names.
- ``reporter``: ``type`` (individual | unit) and ``identity`` (real_name | anonymous)
  are two fields, as on the form. A real-name individual carries ``individual``, a
  real-name unit carries ``unit``; an anonymous reporter carries neither and may carry
  ``contact`` (phone / email / note; at least one of them), which triggers the 30-day
  contact rule. These per-variant requirements are checked by ``validate``
  (``reporter.variant``) because a JSON Schema generated from Structs cannot say them.
- ``submission_id`` is a UUID in lower-case hyphenated form, so that a clue has one
  spelling. ``received_at`` and ``declaration.at`` are RFC 3339 date-times; ``validate``
  requires the offset. Dates of events (``start_date``, ``end_date``) are calendar
  dates; a prior report's ``when`` may have month precision (``YYYY-MM``).
- Subjects: kind 1 lists officers (``Officer``); kind 2 lists persons, units and groups
  (tagged on ``type``); kind 3 lists persons and units (domain.md §5.2: "individual/unit,
  as in kind 2"). A subject's ID number or USCC is optional and only soft-checked.
- Facts: kind 3 has a primary ``industry`` plus ``secondary_industries``; its problem
  codes (``INDnn-xx``) must belong to one of them (``P99``/``UNK`` fit any). ``ongoing``
  is a yes/no/unknown dropdown. Multi-selects are non-empty lists; "not known" is the
  list ``["UNK"]`` (``["unknown"]`` for word-valued lists).
- ``umbrella`` is common to all three kinds (kind 1 "是否涉及黑恶势力", kind 3 "涉及监管部门/
  公职人员" both lead to the umbrella block): ``status`` yes requires at least one record;
  no / unknown allow none.
- Free-text sizes are capped (names 100, short text 200, description 20,000 characters)
  to bound what an untrusted report can make us hold; lists are capped too.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date, datetime
from typing import Annotated, Any, Literal, Union

import msgspec

from cluetool.model.codes import (
    AgeBucket,
    Amount,
    AttachmentType,
    Channel,
    ChargeCode,
    Gender,
    GroupSize,
    Harm,
    Identity,
    IndustryCode,
    IndustryProblemCode,
    Means,
    Nature,
    OfficialRank,
    OrganLevel,
    OrganType,
    PoliceProblemCode,
    PriorChannel,
    PriorResult,
    Relation,
    ReporterType,
    TargetCode,
    Tristate,
    UmbrellaBehaviour,
    UmbrellaUnitType,
    VictimCount,
)

SCHEMA = "cluetool.report/1"

Uuid = Annotated[
    str,
    msgspec.Meta(
        pattern=r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$",
        description="UUID from the intake, lower-case hyphenated form",
    ),
]
Sha256Hex = Annotated[str, msgspec.Meta(pattern=r"^[0-9a-f]{64}$", description="SHA-256, lower-case hex")]
RegionCode = Annotated[
    str, msgspec.Meta(pattern=r"^[0-9]{6}$", description="GB/T 2260 region code, current, 6 digits")
]
Name = Annotated[str, msgspec.Meta(min_length=1, max_length=100)]
ShortText = Annotated[str, msgspec.Meta(max_length=200)]
Description = Annotated[str, msgspec.Meta(min_length=1, max_length=20000)]
IdText = Annotated[str, msgspec.Meta(min_length=1, max_length=40)]
PhoneText = Annotated[str, msgspec.Meta(min_length=1, max_length=40)]
MonthOrDate = Annotated[
    str,
    msgspec.Meta(
        pattern=r"^[0-9]{4}-(0[1-9]|1[0-2])(-(0[1-9]|[12][0-9]|3[01]))?$",
        description="YYYY-MM or YYYY-MM-DD",
    ),
]
FileName = Annotated[str, msgspec.Meta(min_length=1, max_length=255)]


class _Block(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    pass


# ---------------------------------------------------------------------------- envelope


class Declaration(_Block, kw_only=True):
    """The truthfulness pledge (如实反映承诺): accepted, and when."""

    accepted: bool
    at: datetime


class Address(_Block, kw_only=True):
    """A region code plus free-text detail."""

    region: RegionCode
    detail: ShortText = ""


# ---------------------------------------------------------------------------- reporter


class Individual(_Block, kw_only=True):
    """A real-name individual reporter: 姓名, 身份证号 (GB 11643), 手机号, 现住址."""

    name: Name
    id_number: IdText
    mobile: PhoneText
    address: Address


class Unit(_Block, kw_only=True):
    """A real-name unit reporter: 单位名称, 统一社会信用代码 (GB 32100), 联系人, 联系电话, 地址."""

    name: Name
    uscc: IdText
    contact_person: Name
    phone: PhoneText
    address: Address


class Contact(_Block, kw_only=True):
    """Optional contact details of an anonymous reporter (the 30-day contact rule applies)."""

    phone: PhoneText | None = None
    email: Annotated[str, msgspec.Meta(min_length=3, max_length=254)] | None = None
    note: ShortText = ""


class Reporter(_Block, kw_only=True):
    """举报人: individual or unit, real-name or anonymous."""

    type: ReporterType
    identity: Identity
    individual: Individual | None = None
    unit: Unit | None = None
    contact: Contact | None = None
    relation: Relation = "unknown"


# ---------------------------------------------------------------------------- subjects


class Officer(_Block, kw_only=True):
    """A reported political-legal officer (kind 1)."""

    name: Name
    gender: Gender = "unknown"
    unit_name: Name
    organ_type: OrganType
    organ_level: OrganLevel
    unit_region: RegionCode
    position: ShortText = ""
    badge_number: ShortText = ""


class PersonSubject(_Block, kw_only=True, tag_field="type", tag="person"):
    """A reported person (kinds 2 and 3)."""

    name: Name
    alias: ShortText = ""
    gender: Gender = "unknown"
    age: AgeBucket = "unknown"
    id_number: IdText | None = None
    region: RegionCode | None = None
    workplace: ShortText = ""
    position: ShortText = ""
    is_official: Tristate = "unknown"


class UnitSubject(_Block, kw_only=True, tag_field="type", tag="unit"):
    """A reported unit (kinds 2 and 3)."""

    name: Name
    uscc: IdText | None = None
    address: Address | None = None
    legal_representative: ShortText = ""


class GroupMember(_Block, kw_only=True):
    """A known member of a reported group."""

    name: Name
    alias: ShortText = ""
    gender: Gender = "unknown"


class GroupSubject(_Block, kw_only=True, tag_field="type", tag="group"):
    """A reported group (团伙, kind 2)."""

    name: Name
    size: GroupSize
    region: RegionCode | None = None
    members: Annotated[list[GroupMember], msgspec.Meta(max_length=50)] = []


GangSubject = Union[PersonSubject, UnitSubject, GroupSubject]
IndustrySubject = Union[PersonSubject, UnitSubject]

# ---------------------------------------------------------------------------- facts


def _multi(item: Any, n: int) -> Any:
    return Annotated[list[item], msgspec.Meta(min_length=1, max_length=n)]


class PoliceFacts(_Block, kw_only=True):
    """Facts of a kind-1 report (domain.md §5.2)."""

    problems: _multi(PoliceProblemCode, 20)  # type: ignore[valid-type]
    start_date: date
    end_date: date | None = None
    ongoing: Tristate
    region: RegionCode
    place_detail: ShortText = ""
    case_number: ShortText = ""
    involves_gang: Tristate
    description: Description


class GangFacts(_Block, kw_only=True):
    """Facts of a kind-2 report (domain.md §5.2)."""

    targets: _multi(TargetCode, 20)  # type: ignore[valid-type]
    nature: Nature
    charges: _multi(ChargeCode, 30)  # type: ignore[valid-type]
    industries: Annotated[list[IndustryCode], msgspec.Meta(max_length=20)] = []
    region: RegionCode
    place_detail: ShortText = ""
    start_date: date
    end_date: date | None = None
    ongoing: Tristate
    means: _multi(Means, 10)  # type: ignore[valid-type]
    harm: Harm
    victims: VictimCount
    amount: Amount
    description: Description


class IndustryFacts(_Block, kw_only=True):
    """Facts of a kind-3 report (domain.md §5.2)."""

    industry: IndustryCode
    secondary_industries: Annotated[list[IndustryCode], msgspec.Meta(max_length=20)] = []
    problems: _multi(IndustryProblemCode, 30)  # type: ignore[valid-type]
    region: RegionCode
    place_detail: ShortText = ""
    start_date: date
    end_date: date | None = None
    ongoing: Tristate
    officials_involved: Tristate
    description: Description


# ---------------------------------------------------------------------------- umbrella, prior


class UmbrellaRecord(_Block, kw_only=True):
    """One official suspected of shielding the gang (保护伞, domain.md §1.4)."""

    name: Name
    workplace: ShortText = ""
    position: ShortText = ""
    unit_type: UmbrellaUnitType
    rank: OfficialRank
    region: RegionCode | None = None
    behaviours: _multi(UmbrellaBehaviour, 12)  # type: ignore[valid-type]
    note: Annotated[str, msgspec.Meta(max_length=5000)] = ""


class Umbrella(_Block, kw_only=True):
    """保护伞情况: yes / no / unknown, and the records when yes."""

    status: Tristate
    records: Annotated[list[UmbrellaRecord], msgspec.Meta(max_length=20)] = []


class PriorReport(_Block, kw_only=True):
    """One earlier report of the same matter elsewhere."""

    channel: PriorChannel
    when: MonthOrDate
    unit: ShortText = ""
    result: PriorResult


class PriorReports(_Block, kw_only=True):
    """是否向其他部门反映过: yes / no / unknown, and the records when yes."""

    status: Tristate
    records: Annotated[list[PriorReport], msgspec.Meta(max_length=20)] = []


class Attachment(_Block, kw_only=True):
    """One attachment file in the submission directory."""

    file: FileName
    type: AttachmentType
    size: Annotated[int, msgspec.Meta(ge=0)]
    sha256: Sha256Hex
    note: ShortText = ""


# ---------------------------------------------------------------------------- the report


class _ReportBase(_Block, kw_only=True, tag_field="kind"):
    schema: Literal["cluetool.report/1"]
    submission_id: Uuid
    received_at: datetime
    channel: Channel
    query_code_sha256: Sha256Hex
    declaration: Declaration
    reporter: Reporter
    umbrella: Umbrella
    prior_reports: PriorReports
    attachments: Annotated[list[Attachment], msgspec.Meta(max_length=1000)]


class PoliceMisconductReport(_ReportBase, kw_only=True, tag="police_misconduct"):
    """政法干警违纪违法线索: misconduct by political-legal officers."""

    subjects: Annotated[list[Officer], msgspec.Meta(min_length=1, max_length=50)]
    facts: PoliceFacts


class GangCrimeReport(_ReportBase, kw_only=True, tag="gang_crime"):
    """涉黑涉恶违法犯罪线索: gang / organised crime."""

    subjects: Annotated[list[GangSubject], msgspec.Meta(min_length=1, max_length=50)]
    facts: GangFacts


class IndustryDisorderReport(_ReportBase, kw_only=True, tag="industry_disorder"):
    """扫黑除恶中涉及行业乱象问题: rackets in an industry."""

    subjects: Annotated[list[IndustrySubject], msgspec.Meta(min_length=1, max_length=50)]
    facts: IndustryFacts


Report = Union[PoliceMisconductReport, GangCrimeReport, IndustryDisorderReport]

#: ``kind`` -> its Report Struct.
REPORT_TYPES: dict[str, type[msgspec.Struct]] = {
    "police_misconduct": PoliceMisconductReport,
    "gang_crime": GangCrimeReport,
    "industry_disorder": IndustryDisorderReport,
}


class ReportDecodeError(ValueError):
    """``report.json`` is not JSON or does not match the report schema."""


# Full-width ASCII (U+FF01..U+FF5E) and the ideographic space: the characters that keep
# Chinese text from being NFKC-normalised as typed (，：（）１２３). Each one's
# compatibility decomposition is one ASCII character.
_FULLWIDTH_RE = re.compile("[\uff01-\uff5e\u3000]")


def _fullwidth_to_ascii(m: re.Match[str]) -> str:
    c = m.group()
    return " " if c == "\u3000" else chr(ord(c) - 0xFEE0)


def nfkc(value: str) -> str:
    """``unicodedata.normalize("NFKC", value)``, faster for typical Chinese text.

    NFKC is compatibility decomposition, canonical ordering, then composition. Replacing
    full-width ASCII by its decomposition first leaves the decomposition of the whole
    string unchanged, so the result is the same; when nothing else needs normalising,
    the quick check then settles it without the full algorithm (about a fifth of the
    time for a sentence with full-width punctuation)."""
    if unicodedata.is_normalized("NFKC", value):
        return value
    value = _FULLWIDTH_RE.sub(_fullwidth_to_ascii, value)
    return value if unicodedata.is_normalized("NFKC", value) else unicodedata.normalize("NFKC", value)


def normalise_text(value: str) -> str:
    """NFKC, then strip surrounding white space (full-width digits become ASCII)."""
    if not value.isascii():
        value = nfkc(value)
    return value.strip()


def normalise_strings(data: Any) -> Any:
    """A copy of decoded JSON with every string (keys excluded) run through ``normalise_text``."""
    t = type(data)
    if t is str:
        return normalise_text(data)
    if t is dict:
        return {k: normalise_text(v) if type(v) is str else normalise_strings(v) for k, v in data.items()}
    if t is list:
        return [normalise_text(v) if type(v) is str else normalise_strings(v) for v in data]
    if isinstance(data, str):  # str subclasses, for completeness
        return normalise_text(data)
    return data


def decode_report(data: bytes) -> Report:
    """Decode ``report.json`` bytes (normalising strings first) into a Report.

    This is the schema check only; ``cluetool.validate`` adds the field rules (check
    digits, regions, dates) and reports every problem rather than the first.

    Raises:
        ReportDecodeError: not UTF-8 JSON, or the first schema violation found.
    """
    try:
        raw = msgspec.json.decode(data)
    except (msgspec.DecodeError, UnicodeDecodeError) as exc:
        raise ReportDecodeError(f"invalid JSON: {exc}") from None
    except RecursionError:
        raise ReportDecodeError("invalid JSON: nested too deeply") from None
    try:
        return msgspec.convert(normalise_strings(raw), Report)  # type: ignore[arg-type]
    except RecursionError:
        raise ReportDecodeError("invalid report: nested too deeply") from None
    except msgspec.ValidationError as exc:
        raise ReportDecodeError(f"invalid report: {exc}") from None


def encode_report(report: msgspec.Struct) -> bytes:
    """Encode a Report as JSON (keys sorted), as the sample generator writes it."""
    return msgspec.json.encode(report, order="sorted")
