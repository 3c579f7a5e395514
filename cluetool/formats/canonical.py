"""Canonical JSON as cluetool writes it for manifests, indexes and audit entries.

UTF-8, object keys sorted by code point, no insignificant whitespace, no NaN or
infinities, integers only within the IEEE-754 safe range, strings NFC-untouched (bytes
are what they are). ``loads_canonical`` accepts a document only if re-encoding it gives
back exactly the same bytes, so there is one byte string per value.

Use cluetool.seal/verify unless you are implementing the format.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

import msgspec

_SAFE_INT = 2**53 - 1
_encoder = msgspec.json.Encoder(order="sorted")


class NonCanonicalError(ValueError):
    """The bytes are valid JSON but not in canonical form (or not valid JSON at all)."""


def _check(value: Any) -> None:
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return
    if isinstance(value, int):
        if abs(value) > _SAFE_INT:
            raise NonCanonicalError("integer outside the safe range")
        return
    if isinstance(value, float):
        if not math.isfinite(value):
            raise NonCanonicalError("non-finite number")
        return
    if isinstance(value, dict):
        for k, v in value.items():
            if not isinstance(k, str):
                raise NonCanonicalError("object key is not a string")
            _check(v)
        return
    if isinstance(value, (list, tuple)):
        for v in value:
            _check(v)
        return
    raise NonCanonicalError(f"unsupported type {type(value).__name__}")


def dumps(value: Any) -> bytes:
    """Encode ``value`` (builtins or msgspec Structs) as canonical JSON bytes."""
    builtins = msgspec.to_builtins(value)
    _check(builtins)
    return _encoder.encode(builtins)


# A number token of 16 or more digits: possibly an integer beyond 2**53 - 1 (16 digits).
# Canonical JSON has no white space, so a number starts the document or follows ``:``,
# ``[`` or ``,`` (after its sign); digits inside strings (hex hashes) mostly do not.
_LONG_DIGITS = re.compile(rb"(?:^|[:\[,])-?[0-9]{16}")


def loads_canonical(data: bytes) -> Any:
    """Decode canonical JSON; raise ``NonCanonicalError`` unless ``data`` is canonical.

    Fast path: the bytes are valid UTF-8, msgspec decodes them, and re-encoding gives
    the same bytes (so no duplicate key, as msgspec keeps only the last); the walk for
    integers beyond the safe range runs only when 16 digits stand in a row. Anything
    else takes the stdlib parse below, which names the problem."""
    try:
        data.decode("utf-8")
        value = msgspec.json.decode(data)
    except (UnicodeDecodeError, msgspec.DecodeError):
        pass
    else:
        if _encoder.encode(value) == data:
            if _LONG_DIGITS.search(data):
                _check(value)
            return value
    try:
        # The stdlib parser keeps duplicate keys visible through object_pairs_hook.
        value = json.loads(data.decode("utf-8"), object_pairs_hook=_no_duplicates)
    except (UnicodeDecodeError, ValueError) as exc:
        if isinstance(exc, NonCanonicalError):
            raise
        raise NonCanonicalError("not valid UTF-8 JSON") from None
    try:
        again = dumps(value)
    except UnicodeEncodeError:  # a lone surrogate escape such as "\\ud800"
        raise NonCanonicalError("a string is not valid Unicode") from None
    if again != data:
        raise NonCanonicalError("not in canonical form")
    return value


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in pairs:
        if k in out:
            raise NonCanonicalError(f"duplicate key {k!r}")
        out[k] = v
    return out
