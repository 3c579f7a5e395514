"""Handling units from ``rules/units.toml`` (cluetool/data/rules/).

A unit is an organ that can hold a clue: the police, a discipline inspection and
supervision commission (纪检监察), a procuratorate, a court, an anti-gang office (扫黑办),
or another body (an industry regulator, say). The file is a list of tables::

    [[unit]]
    id = "bj.police"
    name = "北京市公安局"
    type = "police"
    region = "110000"

``region`` is a GB/T 2260 six-digit code; ``"000000"`` (not a GB/T 2260 code, which has no
national entry) means a national-level unit. Only the two-digit province prefix is
checked (docs/reference/domain.md §2.2: codes change, provinces do not).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import msgspec

from cluetool.rules.toml_util import ID_PATTERN, TomlDoc, convert, load_toml

__all__ = ["NATIONAL_REGION", "PROVINCE_PREFIXES", "UNIT_TYPES", "Unit", "UnitType", "load_units", "parse_units"]

UnitType = Literal["police", "discipline", "procuratorate", "court", "anti_gang_office", "other"]
UNIT_TYPES: tuple[str, ...] = ("police", "discipline", "procuratorate", "court", "anti_gang_office", "other")

#: The region of a national-level unit (GB/T 2260 has no code for the whole country).
NATIONAL_REGION = "000000"

#: GB/T 2260 province-level prefixes: 31 mainland provinces, Taiwan, Hong Kong, Macau.
PROVINCE_PREFIXES = frozenset(
    "11 12 13 14 15 21 22 23 31 32 33 34 35 36 37 41 42 43 44 45 46 50 51 52 53 54 "
    "61 62 63 64 65 71 81 82".split()
)


class Unit(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A handling unit: ``id`` (stable, used in events and assignments), display name,
    organ type and the region it is responsible for."""

    id: Annotated[str, msgspec.Meta(pattern=ID_PATTERN, max_length=64)]
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
    type: UnitType
    region: Annotated[str, msgspec.Meta(pattern=r"^\d{6}$")]


class _UnitsFile(msgspec.Struct, forbid_unknown_fields=True):
    unit: list[dict[str, object]] = msgspec.field(default_factory=list)


def load_units(path: Path) -> dict[str, Unit]:
    """Read ``units.toml``: unit id → ``Unit``, in file order.

    Raises:
        InputError: not TOML, an unknown or mistyped field, a duplicate id, a bad region
            (the message names file, line and field).
        StateError: the file exists but cannot be read.
    """
    return parse_units(load_toml(path, "units file"))


def parse_units(doc: TomlDoc) -> dict[str, Unit]:
    """The units of an already loaded document (see ``load_units``).

    Raises:
        InputError: as ``load_units``.
    """
    top = convert(doc, doc.data, _UnitsFile)
    units: dict[str, Unit] = {}
    for index, raw in enumerate(top.unit):
        unit = convert(doc, raw, Unit, ("unit", index))
        if unit.id in units:
            raise doc.error(("unit", index, "id"), f'unit "{unit.id}" is listed twice')
        if unit.region != NATIONAL_REGION and unit.region[:2] not in PROVINCE_PREFIXES:
            raise doc.error(
                ("unit", index, "region"),
                f'"{unit.region}" is not in a GB/T 2260 province (use "{NATIONAL_REGION}" for national)',
            )
        units[unit.id] = unit
    return units
