"""Identifier validators: resident ID (GB 11643-1999), USCC (GB 32100-2015), phone numbers.

docs/reference/domain.md §4. Own code rather than python-stdnum, which rejects valid
residence-permit (81/82/83) and foreigner PR (9…) numbers and letter-first USCCs.

Checks return ``IdProblem``s (a code suffix, a message, hard or soft); the caller adds
the block prefix (``reporter.``, ``unit.``, ``subject.``) and the severity. Messages
never repeat the identifier (personal data).
"""

from __future__ import annotations

import operator
import re
import unicodedata
from datetime import date
from typing import NamedTuple

from cluetool.validate import regions


class IdProblem(NamedTuple):
    code: str  # suffix, e.g. "id_checksum"
    message: str
    hard: bool


# White space (``str.isspace``: re's ``\s`` on str patterns is the same test) and hyphens.
_SPACE_OR_HYPHEN = re.compile(r"[\s-]")


def normalise_id(value: str) -> str:
    """NFKC, drop white space and hyphens, upper-case (``１１０…ｘ`` -> ``110…X``)."""
    text = value if value.isascii() and value.isalnum() else unicodedata.normalize("NFKC", value)
    return _SPACE_OR_HYPHEN.sub("", text).upper()


# ---------------------------------------------------------------------------- GB 11643

# ISO 7064 MOD 11-2: weight of position i (0-based) is 2^(17-i) mod 11.
_ID_WEIGHTS = [pow(2, 17 - i, 11) for i in range(17)]
_ID_CHECK = "10X98765432"
_ID_RE = re.compile(r"^[0-9]{17}[0-9X]$")
FIRST_GEN_END = date(2013, 1, 1)


def resident_id_check_char(first17: str) -> str:
    """The GB 11643 check character of 17 digits."""
    return _ID_CHECK[sum(map(operator.mul, map(int, first17[:17]), _ID_WEIGHTS)) % 11]


def make_resident_id(region: str, birth: date, sequence: int) -> str:
    """An 18-character ID number with a correct check character (for samples and tests)."""
    first17 = f"{region}{birth:%Y%m%d}{sequence:03d}"
    return first17 + resident_id_check_char(first17)


def upgrade_first_generation(number15: str) -> str:
    """The 18-digit form of a 15-digit first-generation number (19 + check character)."""
    first17 = number15[:6] + "19" + number15[6:]
    return first17 + resident_id_check_char(first17)


def _age(birth: date, on: date) -> int:
    return on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))


def check_resident_id(value: str, *, today: date) -> list[IdProblem]:
    """Problems with a 居民身份证号码 (GB 11643-1999); ``today`` bounds the birth date.

    Hard: length 18, 17 digits + ``[0-9X]``, the check character, a real birth date not
    after ``today``, a known province prefix (or a leading 9 for foreigners' permanent
    residence cards). Soft: a county code unknown to the current region table, an age
    under 14 or over 110.
    """
    n = normalise_id(value)
    if len(n) == 15 and n.isdigit():
        return [IdProblem(
            "id_legacy",
            "15-digit first-generation ID numbers stopped being valid on 2013-01-01; give the 18-digit number",
            True,
        )]
    if not _ID_RE.match(n):
        return [IdProblem("id_format", "an ID number is 17 digits and a check character 0-9 or X", True)]
    problems: list[IdProblem] = []
    if resident_id_check_char(n[:17]) != n[17]:
        problems.append(IdProblem("id_checksum", "the ID number's check character is wrong (GB 11643)", True))
    foreigner = n[0] == "9"
    province = n[1:3] if foreigner else n[0:2]
    if not regions.province_prefix_valid(province):
        problems.append(IdProblem("id_region", "the ID number's province code does not exist", True))
    elif not foreigner and not _id_region_known(n[:6]):
        problems.append(IdProblem(
            "id_region_unknown",
            "the ID number's address code is not a current region (it may be historical)",
            False,
        ))
    try:
        birth = date(int(n[6:10]), int(n[10:12]), int(n[12:14]))
    except ValueError:
        problems.append(IdProblem("id_birthdate", "the ID number's birth date is not a real date", True))
        return problems
    if birth > today:
        problems.append(IdProblem("id_birthdate", "the ID number's birth date is in the future", True))
    else:
        age = _age(birth, today)
        if age < 14 or age > 110:
            problems.append(IdProblem("id_age", f"the ID number gives an age of {age}", False))
    return problems


def _id_region_known(code: str) -> bool:
    # 810000 / 820000 / 830000 head 港澳台居民居住证 numbers.
    return regions.is_known(code) or code in ("810000", "820000", "830000")


# ---------------------------------------------------------------------------- GB 32100

USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_VALUE = {c: i for i, c in enumerate(USCC_ALPHABET)}
_USCC_WEIGHTS = [pow(3, i, 31) for i in range(17)]
# GB 11714 organisation code: digits 0-9, letters A=10 … Z=35.
_ORG_WEIGHTS = [3, 7, 9, 10, 5, 8, 4, 2]
_ORG_RE = re.compile(r"^[0-9A-Z]{8}[0-9X]$")

# 登记管理部门码 -> 机构类别码 (GB 32100-2015 Table 1/2). An unknown pair is a warning.
USCC_CATEGORIES: dict[str, str] = {
    "1": "1239",  # 机构编制: 机关, 事业单位, 群众团体, 其他
    "2": "19",  # 外交
    "3": "1234589",  # 司法行政: 律师执业机构, 公证处, 基层法律服务所, 司法鉴定, 仲裁委员会 …
    "4": "19",  # 文化
    "5": "1239",  # 民政: 社会团体, 民办非企业单位, 基金会, 其他
    "6": "129",  # 旅游
    "7": "129",  # 宗教
    "8": "19",  # 工会
    "9": "123",  # 工商/市场监管: 企业, 个体工商户, 农民专业合作社
    "A": "19",  # 中央军委改革和编制办公室
    "N": "1239",  # 农业: 组级, 村级, 乡镇级集体经济组织, 其他
    "Y": "1",  # 其他
}


def uscc_check_char(first17: str) -> str:
    """The GB 32100 check character of 17 USCC characters."""
    total = sum(_USCC_VALUE[c] * w for c, w in zip(first17, _USCC_WEIGHTS))
    return USCC_ALPHABET[(31 - total % 31) % 31]


def _org_value(c: str) -> int:
    return int(c) if c.isdigit() else ord(c) - ord("A") + 10


def org_code_check_char(first8: str) -> str:
    """The GB 11714 check character of an 8-character organisation code."""
    r = 11 - sum(_org_value(c) * w for c, w in zip(first8, _ORG_WEIGHTS)) % 11
    return "X" if r == 10 else "0" if r == 11 else str(r)


def make_uscc(department: str, category: str, region: str, org8: str) -> str:
    """A USCC with correct inner and outer check characters (for samples and tests)."""
    first17 = department + category + region + org8 + org_code_check_char(org8)
    return first17 + uscc_check_char(first17)


def check_uscc(value: str) -> list[IdProblem]:
    """Problems with a 统一社会信用代码 (GB 32100-2015).

    Hard: 18 characters from the USCC alphabet, positions 3-8 digits, the outer check
    character. Soft: an unknown department/category pair, a region code that is not
    current (or 100000 for national registration), the inner GB 11714 check.
    """
    n = normalise_id(value)
    if len(n) != 18 or any(c not in _USCC_VALUE for c in n):
        return [IdProblem(
            "uscc_format",
            "a unified social credit code is 18 characters from 0-9 and A-Y without I, O, S, V, Z",
            True,
        )]
    if not n[2:8].isdigit():
        return [IdProblem("uscc_format", "positions 3-8 of a unified social credit code are digits", True)]
    problems: list[IdProblem] = []
    if uscc_check_char(n[:17]) != n[17]:
        problems.append(IdProblem("uscc_checksum", "the unified social credit code's check character is wrong (GB 32100)", True))
    if n[1] not in USCC_CATEGORIES.get(n[0], ""):
        problems.append(IdProblem("uscc_category", "unknown registration department / category pair", False))
    region = n[2:8]
    if region != "100000" and not regions.is_known(region):
        problems.append(IdProblem("uscc_region_unknown", "the registration region is not a current region code", False))
    org = n[8:17]
    if not _ORG_RE.match(org) or org_code_check_char(org[:8]) != org[8]:
        problems.append(IdProblem("uscc_inner_checksum", "the embedded organisation code's check character is wrong (GB 11714)", False))
    return problems


# ---------------------------------------------------------------------------- phones

_MOBILE_RE = re.compile(r"^1[3-9][0-9]{9}$")
_LANDLINE_RE = re.compile(r"^0[0-9]{2,3}-?[0-9]{7,8}(?:(?:-|#|转|ext\.?|x)[0-9]{1,6})?$", re.IGNORECASE)


_SPACE_HYPHEN_BRACKET = re.compile(r"[\s\-()]")
_SPACE_BRACKET = re.compile(r"[\s()]")


def normalise_mobile(value: str) -> str:
    """NFKC, drop spaces, hyphens and brackets, and a leading +86 / 0086 / 86 (domain.md §4.2)."""
    text = value if value.isascii() and value.isalnum() else unicodedata.normalize("NFKC", value)
    n = _SPACE_HYPHEN_BRACKET.sub("", text)
    if n.startswith("+86"):
        n = n[3:]
    elif n.startswith("0086"):
        n = n[4:]
    elif n.startswith("86") and len(n) == 13 and n[2] == "1":
        n = n[2:]
    return n


def is_mobile(value: str) -> bool:
    """True for a mainland mobile number (``^1[3-9]\\d{9}$`` after normalising)."""
    return bool(_MOBILE_RE.match(normalise_mobile(value)))


def is_landline(value: str) -> bool:
    """True for a landline: area code + number (``0AA(A)-NNNNNNN(N)``), optional extension."""
    text = value if value.isascii() and value.isalnum() else unicodedata.normalize("NFKC", value)
    n = _SPACE_BRACKET.sub("", text)
    return bool(_LANDLINE_RE.match(n))


def to_e164(mobile: str) -> str:
    """``+86`` form of a valid mobile number."""
    return "+86" + normalise_mobile(mobile)
