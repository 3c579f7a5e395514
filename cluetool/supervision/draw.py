"""The callback draw's algorithm and its file (docs/supervision.md), with no store: what
``sample`` runs and what an auditor's ``sample --verify`` recomputes.

- Eligible: the reports received in the month (local dates in the draw's time zone)
  whose reporter left a real name or a contact, named by submission id.
- Commitment: ``eligible_sha256`` = SHA-256 of the sorted ids, each followed by ``\\n``.
- Seed: the root hash (32 bytes) of the latest signed checkpoint of the audit log.
- Rank: ``HMAC-SHA-256(key=root, msg="cluetool-sample/1\\n" + month + "\\n" + id)``;
  ascending, ties (never seen) by id.
- Size: ``--size N`` draws ``min(N, E)``; ``--rate P`` (a decimal fraction, 0 < P <= 1)
  draws ``ceil(P * E)``, computed exactly.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import re
from collections.abc import Sequence
from datetime import datetime
from fractions import Fraction
from zoneinfo import ZoneInfo

import msgspec

from cluetool.errors import InputError

ALGORITHM = "cluetool-sample/1"
DRAW_SCHEMA = "cluetool.sample-draw/1"
_MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
_RATE = re.compile(r"^(?:0(?:\.\d{1,6})?|1(?:\.0{1,6})?|\.\d{1,6})$")


class Seed(msgspec.Struct, frozen=True, kw_only=True):
    """The checkpoint that seeds a draw: its id in the log's checkpoint list, the tree
    size and root (hex) it signs, and when it was made."""

    id: int
    size: int
    root: str
    at: str


class Draw(msgspec.Struct, frozen=True, kw_only=True):
    """The draw file (``sample --out``): everything an auditor needs, with an audit export,
    to recompute the draw. Ids only: no names, numbers or report content."""

    algorithm: str
    month: str
    timezone: str
    seed: Seed
    eligible: list[str]
    eligible_count: int
    eligible_sha256: str
    size: int | None
    rate: str | None
    drawn: list[str]
    drawn_at: str
    audit_seq: int
    redraw: bool
    reason_hmac_sha256: str | None
    schema: str = DRAW_SCHEMA


def parse_month(month: str) -> tuple[int, int]:
    """``YYYY-MM`` as (year, month).

    Raises:
        InputError: another shape.
    """
    m = _MONTH.match(month or "")
    if m is None:
        raise InputError(f'--month: "{month}" is not a month YYYY-MM')
    return int(m.group(1)), int(m.group(2))


def month_bounds(month: str, tz: str) -> tuple[datetime, datetime]:
    """The first instant of ``month`` and of the next one in time zone ``tz`` (aware).

    Raises:
        InputError: a malformed month.
    """
    year, mon = parse_month(month)
    zone = ZoneInfo(tz)
    start = datetime(year, mon, 1, tzinfo=zone)
    end = datetime(year + (mon == 12), mon % 12 + 1, 1, tzinfo=zone)
    return start, end


def parse_rate(rate: str) -> Fraction:
    """A rate as written (``0.05``), exactly.

    Raises:
        InputError: not a decimal fraction in (0, 1] with at most 6 decimals.
    """
    if not _RATE.match(rate or "") or Fraction(rate) == 0:
        raise InputError(f'--rate: "{rate}" is not a fraction in (0, 1], e.g. 0.05')
    return Fraction(rate)


def sample_size(eligible: int, *, size: int | None, rate: str | None) -> int:
    """How many of ``eligible`` reports a draw takes."""
    if size is not None:
        return min(size, eligible)
    assert rate is not None
    return min(eligible, math.ceil(parse_rate(rate) * eligible))


def commitment(eligible: Sequence[str]) -> str:
    """``eligible_sha256``: SHA-256 of the sorted ids, each followed by a newline."""
    h = hashlib.sha256()
    for sid in sorted(eligible):
        h.update(sid.encode("utf-8") + b"\n")
    return h.hexdigest()


def ranked(eligible: Sequence[str], *, root: bytes, month: str) -> list[tuple[bytes, str]]:
    """``(rank, id)`` of every eligible id, best (smallest rank) first."""
    base = hmac.new(root, f"{ALGORITHM}\n{month}\n".encode("ascii"), hashlib.sha256)
    out = []
    for sid in eligible:
        h = base.copy()
        h.update(sid.encode("utf-8"))
        out.append((h.digest(), sid))
    out.sort()
    return out


def select(eligible: Sequence[str], *, root: bytes, month: str, size: int | None, rate: str | None) -> list[str]:
    """The drawn ids, in rank order."""
    n = sample_size(len(eligible), size=size, rate=rate)
    return [sid for _, sid in ranked(eligible, root=root, month=month)[:n]]


def mask_phone(phone: str | None) -> str | None:
    """``13812345678`` -> ``138****5678``: the first three and last four digits kept (a
    number too short to mask that way shows its last two only)."""
    if not phone:
        return None
    digits = "".join(ch for ch in phone if ch.isdigit())
    if len(digits) >= 8:
        return digits[:3] + "*" * (len(digits) - 7) + digits[-4:]
    return "*" * max(len(digits) - 2, 0) + digits[-2:]


_decoder = msgspec.json.Decoder(Draw)


def read_draw(data: bytes, name: str) -> Draw:
    """A draw file's contents.

    Raises:
        InputError: not a draw file.
    """
    try:
        draw = _decoder.decode(data)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise InputError(f'cannot read draw file "{name}": {exc}') from None
    if draw.schema != DRAW_SCHEMA or draw.algorithm != ALGORITHM:
        raise InputError(f'"{name}" is not a {DRAW_SCHEMA} file of algorithm {ALGORITHM}')
    return draw
