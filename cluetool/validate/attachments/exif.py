"""EXIF metadata that could identify a reporter (CIPA DC-008 / TIFF 6.0 IFDs).

Read from the ``Exif`` APP1 segment of a JPEG (at most 64 KiB, so the parse is
bounded): IFD0, the Exif IFD and the GPS IFD, each entry count bounded by the segment,
each IFD visited once. Returned as ``(code, field, value)``; nothing is changed.

================  ==========================================================
code              fields
================  ==========================================================
metadata.gps      GPSLatitude/GPSLongitude (with their refs), GPSAltitude
metadata.device   Make, Model, LensMake, LensModel
metadata.serial   BodySerialNumber, LensSerialNumber
metadata.owner    Artist, Copyright, CameraOwnerName
================  ==========================================================
"""

from __future__ import annotations

import struct

_IFD0_TAGS = {0x010F: ("metadata.device", "Make"), 0x0110: ("metadata.device", "Model"),
              0x013B: ("metadata.owner", "Artist"), 0x8298: ("metadata.owner", "Copyright")}
_EXIF_TAGS = {0xA430: ("metadata.owner", "CameraOwnerName"), 0xA431: ("metadata.serial", "BodySerialNumber"),
              0xA433: ("metadata.device", "LensMake"), 0xA434: ("metadata.device", "LensModel"),
              0xA435: ("metadata.serial", "LensSerialNumber")}
_EXIF_IFD, _GPS_IFD = 0x8769, 0x8825
_SIZES = {1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 7: 1, 9: 4, 10: 8}
_VALUE_MAX = 200


def _ifd(tiff: bytes, offset: int, e: str) -> dict[int, tuple[int, int, bytes]]:
    """The entries of the IFD at ``offset``: tag -> (type, count, raw value bytes)."""
    if offset < 8 or offset + 2 > len(tiff):
        return {}
    (n,) = struct.unpack_from(e + "H", tiff, offset)
    out: dict[int, tuple[int, int, bytes]] = {}
    for k in range(min(n, (len(tiff) - offset - 2) // 12)):
        tag, typ, count = struct.unpack_from(e + "HHI", tiff, offset + 2 + 12 * k)
        size = _SIZES.get(typ, 0) * count
        if not size:
            continue
        at = offset + 2 + 12 * k + 8
        if size > 4:
            (at,) = struct.unpack_from(e + "I", tiff, at)
        if at + size <= len(tiff):
            out[tag] = (typ, count, tiff[at:at + min(size, 256)])
    return out


def _text(raw: bytes) -> str:
    return raw.split(b"\x00", 1)[0].decode("utf-8", "replace").strip()[:_VALUE_MAX]


def _rationals(raw: bytes, e: str, count: int) -> list[float]:
    vals = []
    for k in range(min(count, len(raw) // 8)):
        num, den = struct.unpack_from(e + "II", raw, 8 * k)
        vals.append(num / den if den else 0.0)
    return vals


def _degrees(entry: tuple[int, int, bytes] | None, ref: tuple[int, int, bytes] | None, e: str) -> str | None:
    if entry is None or entry[0] != 5:
        return None
    d = _rationals(entry[2], e, entry[1]) + [0.0, 0.0, 0.0]
    value = d[0] + d[1] / 60 + d[2] / 3600
    sign = _text(ref[2]) if ref is not None and ref[0] == 2 else ""
    return f"{value:.6f}{sign}"


def exif_metadata(tiff: bytes) -> list[tuple[str, str, str]]:
    """Identifying EXIF fields of a TIFF structure (the APP1 body after ``Exif\\0\\0``)."""
    if len(tiff) < 8 or tiff[:4] not in (b"II*\x00", b"MM\x00*"):
        return []
    e = "<" if tiff[:2] == b"II" else ">"
    (first,) = struct.unpack_from(e + "I", tiff, 4)
    out: list[tuple[str, str, str]] = []
    ifd0 = _ifd(tiff, first, e)
    _strings(_IFD0_TAGS, ifd0, out)
    seen = {first}
    exif_at = _pointer(ifd0.get(_EXIF_IFD), e)
    if exif_at is not None and exif_at not in seen:
        seen.add(exif_at)
        _strings(_EXIF_TAGS, _ifd(tiff, exif_at, e), out)
    gps_at = _pointer(ifd0.get(_GPS_IFD), e)
    if gps_at is not None and gps_at not in seen:
        gps = _ifd(tiff, gps_at, e)
        lat, lon = _degrees(gps.get(2), gps.get(1), e), _degrees(gps.get(4), gps.get(3), e)
        if lat is not None or lon is not None:
            out.append(("metadata.gps", "GPSLatitude/GPSLongitude", f"{lat or '?'}, {lon or '?'}"))
        alt = gps.get(6)
        if alt is not None and alt[0] == 5:
            out.append(("metadata.gps", "GPSAltitude", f"{_rationals(alt[2], e, 1)[0]:.1f} m"))
    return out


def _pointer(entry: tuple[int, int, bytes] | None, e: str) -> int | None:
    if entry is None or entry[0] not in (4, 13) or len(entry[2]) < 4:
        return None
    return int(struct.unpack_from(e + "I", entry[2])[0])


def _strings(tags: dict[int, tuple[str, str]], ifd: dict[int, tuple[int, int, bytes]],
             out: list[tuple[str, str, str]]) -> None:
    for tag, (code, name) in tags.items():
        entry = ifd.get(tag)
        if entry is not None and entry[0] in (2, 7, 1):
            value = _text(entry[2])
            if value:
                out.append((code, name, value))
