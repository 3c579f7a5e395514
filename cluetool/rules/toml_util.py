"""Strict loading of the rule files (cluetool/data/rules/): one-line errors naming file, line and field.

Every rule file in a home's ``rules/`` (and the defaults shipped in ``cluetool/data/rules``)
goes through ``load_toml`` and ``convert``. A malformed file is an ``InputError`` (exit 2)
whose message reads, for example::

    invalid rules file "rules/deadlines.toml": line 14: deadline[2].within.unit: invalid enum value 'work'

``tomllib`` reports the line of a syntax error but not where a parsed value came from, so
``TomlDoc.line_of`` finds the line of a field by scanning the text for the ``[[table]]``
header and the ``key =`` line under it. Rule files are operator-written tables, which this
covers; when a field cannot be placed (written as an inline array of tables, say) the
message names the nearest enclosing line it can find, or no line at all.
"""

from __future__ import annotations

import hashlib
import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path
from typing import Any, TypeVar

import msgspec

from cluetool.errors import InputError, StateError
from cluetool.formats import canonical

__all__ = [
    "ID_PATTERN",
    "MAX_RULE_FILE_BYTES",
    "TomlDoc",
    "Where",
    "convert",
    "format_where",
    "load_toml",
    "rules_hash",
    "shipped_rules_dir",
]

T = TypeVar("T")

#: The shape of every rule and unit id: lower-case words joined by ".", "_" or "-".
ID_PATTERN = r"^[a-z0-9]+(?:[._-][a-z0-9]+)*$"

#: Rule files are small; a bigger one is a mistake (or hostile), not a rule set.
MAX_RULE_FILE_BYTES = 8 * 1024 * 1024

#: A field's place in the document: ("deadline", 2, "within", "unit").
Where = tuple[str | int, ...]

_TOML_POSITION = re.compile(r"^(?P<what>.*) \(at line (?P<line>\d+), column (?P<col>\d+)\)$")
_MSGSPEC_PATH_PART = re.compile(r"\.([^.\[\]]+)|\[(\d+)\]")
_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")


def shipped_rules_dir() -> Path:
    """The directory of default rule files shipped in the package (``init`` copies them)."""
    return Path(str(files("cluetool") / "data" / "rules"))


def format_where(where: Where) -> str:
    """``("deadline", 2, "within")`` → ``deadline[2].within``."""
    out = ""
    for part in where:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else part
    return out


@dataclass(frozen=True)
class TomlDoc:
    """A parsed rule file: its path (for messages), its text (for line numbers) and data."""

    path: Path
    text: str
    data: dict[str, Any]
    kind: str = "rules file"

    def line_of(self, where: Where) -> int | None:
        """The 1-based line where the field at ``where`` is written, or its nearest parent."""
        return _line_of(self.text, where)

    def error(self, where: Where, what: str) -> InputError:
        """An ``InputError`` for a problem with the field at ``where``."""
        parts = [f'invalid {self.kind} "{self.path}"']
        line = self.line_of(where) if where else None
        if line is not None:
            parts.append(f"line {line}")
        if where:
            parts.append(format_where(where))
        parts.append(_one_line(what))
        return InputError(": ".join(parts))


def load_toml(path: Path, kind: str = "rules file") -> TomlDoc:
    """Read and parse a TOML rule file strictly (UTF-8, size-limited).

    Raises:
        InputError: the file is missing, too big, not UTF-8 or not TOML (the message
            names the file and the line).
        StateError: the file exists but cannot be read.
    """
    try:
        with path.open("rb") as f:
            raw = f.read(MAX_RULE_FILE_BYTES + 1)
    except FileNotFoundError:
        raise InputError(
            f'cannot read {kind} "{path}": no such file',
            hint="run cluetool init to install the default rules, or copy them from the package",
        ) from None
    except IsADirectoryError:
        raise InputError(f'cannot read {kind} "{path}": is a directory') from None
    except OSError as exc:
        raise StateError(f'cannot read {kind} "{path}": {exc.strerror}') from None
    if len(raw) > MAX_RULE_FILE_BYTES:
        raise InputError(f'cannot read {kind} "{path}": larger than {MAX_RULE_FILE_BYTES} bytes')
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise InputError(f'cannot read {kind} "{path}": line {line}: not UTF-8') from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f'cannot read {kind} "{path}": {_describe_toml_error(exc)}') from None
    return TomlDoc(path=path, text=text, data=data, kind=kind)


def convert(doc: TomlDoc, value: Any, type_: type[T], where: Where = ()) -> T:
    """``msgspec.convert`` with a validation error turned into a file/line/field message.

    Raises:
        InputError: ``value`` does not fit ``type_``.
    """
    try:
        return msgspec.convert(value, type_)
    except msgspec.ValidationError as exc:
        sub, what = _split_validation(str(exc))
        raise doc.error((*where, *sub), what) from None


def rules_hash(rules: Iterable[msgspec.Struct] | Mapping[str, msgspec.Struct]) -> str:
    """SHA-256 (hex) of the canonical JSON of parsed rules, for audit entries on a change.

    The hash covers the parsed values (with defaults filled in), so comments and layout
    of the file do not change it; set-valued fields are sorted first.
    """
    items = list(rules.values()) if isinstance(rules, Mapping) else list(rules)
    builtins = msgspec.to_builtins(items, order="sorted")
    return hashlib.sha256(canonical.dumps(builtins)).hexdigest()


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _describe_toml_error(exc: tomllib.TOMLDecodeError) -> str:
    # tomllib says "Invalid value (at line 2, column 5)"; put the place first, as in
    # every other rule-file message.
    text = str(exc)
    m = _TOML_POSITION.match(text)
    if m is None:
        return _one_line(text[:1].lower() + text[1:])
    what = m["what"]
    what = what[:1].lower() + what[1:]
    return f"line {m['line']}, column {m['col']}: {_one_line(what)}"


def _split_validation(text: str) -> tuple[Where, str]:
    # msgspec: "Expected `int` >= 1 - at `$.deadline[0].within.days`",
    # "Object missing required field `id` - at `$.rule[3]`",
    # "Object contains unknown field `foo` - at `$.unit[0]`" (no " - at" at the top level).
    what, sep, at = text.partition(" - at `")
    where: list[str | int] = []
    if sep:
        for key, index in _MSGSPEC_PATH_PART.findall(at.rstrip("`").removeprefix("$")):
            where.append(int(index) if index else key)
    for prefix in ("Object contains unknown field `", "Object missing required field `"):
        if what.startswith(prefix):
            field = what[len(prefix):].rstrip("`")
            where.append(field)
            what = "unknown field" if "unknown" in prefix else "required field is missing"
            break
    else:
        what = what[:1].lower() + what[1:]
    return tuple(where), what


# --- locating a field in the text -----------------------------------------------------


@dataclass(frozen=True)
class _Line:
    number: int
    header: tuple[str, ...] | None  # the key path of a [table] or [[array]] header
    array: bool  # [[array]] header
    key: str | None  # the first key of a "key = value" line


def _scan(text: str) -> list[_Line]:
    out: list[_Line] = []
    in_string: str | None = None  # the delimiter of a multi-line string we are inside
    for number, line in enumerate(text.splitlines(), start=1):
        if in_string is not None:
            if line.count(in_string) % 2 == 1:
                in_string = None
            continue
        stripped = line.strip()
        header: tuple[str, ...] | None = None
        array = False
        key: str | None = None
        if stripped.startswith("[[") and "]]" in stripped:
            header, array = _dotted(stripped[2 : stripped.index("]]")]), True
        elif stripped.startswith("[") and "]" in stripped:
            header = _dotted(stripped[1 : stripped.index("]")])
        elif stripped and not stripped.startswith("#") and "=" in stripped:
            dotted = _dotted(stripped.split("=", 1)[0])
            key = dotted[0] if dotted else None
            for delim in ('"""', "'''"):
                if line.count(delim) % 2 == 1:
                    in_string = delim
        out.append(_Line(number, header, array, key))
    return out


def _dotted(text: str) -> tuple[str, ...]:
    parts = []
    for part in text.split("."):
        part = part.strip()
        if len(part) >= 2 and part[0] == part[-1] and part[0] in "\"'":
            part = part[1:-1]
        elif not _BARE_KEY.fullmatch(part):
            return ()
        parts.append(part)
    return tuple(parts)


def _line_of(text: str, where: Where) -> int | None:
    lines = _scan(text)
    # The body of the table searched so far is lines[start:end]; ``table`` is its header.
    start, end, table = 0, _next_header(lines, 0), ()
    found: int | None = None
    i = 0
    while i < len(where):
        part = where[i]
        if isinstance(part, int):
            return found
        key_line = next((ln for ln in lines[start:end] if ln.key == part), None)
        if key_line is not None:
            # Whatever is left of ``where`` sits inside this value (an inline table or an
            # array) on the same line, or on lines we do not try to place.
            return key_line.number
        sub = (*table, part)
        if i + 1 < len(where) and isinstance(where[i + 1], int):
            hit = _nth_array_header(lines, sub, where[i + 1], start)  # type: ignore[arg-type]
            i += 2
        else:
            hit = next((k for k in range(start, len(lines)) if lines[k].header == sub and not lines[k].array), None)
            if hit is None:  # an array of tables named as a whole: its first header
                hit = _nth_array_header(lines, sub, 0, start)
            i += 1
        if hit is None:
            return found
        start, found, table = hit + 1, lines[hit].number, sub
        end = _next_header(lines, start)
    return found


def _next_header(lines: list[_Line], start: int) -> int:
    return next((k for k in range(start, len(lines)) if lines[k].header is not None), len(lines))


def _nth_array_header(lines: list[_Line], header: tuple[str, ...], n: int, start: int) -> int | None:
    seen = -1
    for k in range(start, len(lines)):
        ln = lines[k]
        if ln.array and ln.header == header:
            seen += 1
            if seen == n:
                return k
    return None
