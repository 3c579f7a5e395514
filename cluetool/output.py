"""Rendering: rows are built once (msgspec Structs) and rendered as table, json or jsonl.

stdout carries data only; messages go to stderr through ``info``/``warn``. Every
non-printable character of any output (controls, bidi overrides, zero-width characters)
is written as a ``\\uXXXX`` escape, which is also valid inside JSON strings.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Sequence
from enum import Enum
from typing import Any, TextIO

import msgspec

from cluetool.text import escape

_encoder = msgspec.json.Encoder(order="sorted")


class Format(str, Enum):
    table = "table"
    json = "json"
    jsonl = "jsonl"


_quiet = False


def set_quiet(quiet: bool) -> None:
    global _quiet
    _quiet = quiet


def is_quiet() -> bool:
    return _quiet


def paint(label: str, style: str) -> str:
    """``label`` in ``style`` (an ANSI SGR code, e.g. "1;31") when stderr is a terminal and
    ``NO_COLOR`` is unset (or empty); as is otherwise, so pipes and logs get plain text."""
    if not sys.stderr.isatty() or os.environ.get("NO_COLOR") or os.environ.get("TERM") == "dumb":
        return label
    return f"\033[{style}m{label}\033[0m"


def error_lines(message: str, hint: str | None) -> str:
    """The ``cluetool: error: …`` line and its optional ``cluetool: hint: …`` line."""
    text = f"cluetool: {paint('error:', '1;31')} {escape(message)}"
    return text + (f"\ncluetool: {paint('hint:', '1;36')} {escape(hint)}" if hint else "")


def info(message: str) -> None:
    """An informational line on stderr (silenced by ``--quiet``)."""
    if not _quiet:
        print(f"cluetool: {escape(message)}", file=sys.stderr)


def warn(message: str) -> None:
    print(f"cluetool: {paint('warning:', '1;33')} {escape(message)}", file=sys.stderr)


def advise(message: str) -> None:
    """A warning about upkeep rather than about this run's input (silenced by ``--quiet``)."""
    if not _quiet:
        warn(message)


def _cell(value: Any) -> Any:
    if isinstance(value, (list, dict)):
        if isinstance(value, list) and all(isinstance(v, (str, int)) for v in value):
            return ", ".join(str(v) for v in value)
        return _encoder.encode(value).decode()
    return value


def _printable(value: Any) -> Any:
    # Untrusted text never reaches the terminal raw: controls, bidi overrides and
    # zero-width characters become \\uXXXX.
    return escape(value) if isinstance(value, str) else value


def emit(
    doc: msgspec.Struct,
    fmt: Format,
    *,
    rows: str | None = None,
    columns: Sequence[str] | None = None,
    out: TextIO | None = None,
) -> None:
    """Write ``doc`` to stdout in ``fmt``.

    json: the whole document (it carries its own ``schema`` tag). jsonl: one line per
    item of ``doc.<rows>`` (or the document itself when ``rows`` is None). table: those
    same items as a table of ``columns``.
    """
    out = out or sys.stdout
    if fmt is Format.json:
        out.write(escape(_encoder.encode(doc).decode()) + "\n")
        return
    items: Iterable[Any] = getattr(doc, rows) if rows else [doc]
    if fmt is Format.jsonl:
        for item in items:
            out.write(escape(_encoder.encode(item).decode()) + "\n")
        return
    render_table(items, columns, out)


def render_table(items: Iterable[Any], columns: Sequence[str] | None, out: TextIO) -> None:
    from tabulate import tabulate

    table = []
    for item in items:
        row = msgspec.to_builtins(item)
        if columns is None:
            columns = list(row)
        cell = getattr(item, "cell", None)
        table.append([_printable(_cell(cell(c, row.get(c)) if cell else row.get(c))) for c in columns])
    if not table:
        return
    out.write(tabulate(table, headers=list(columns or []), tablefmt="simple") + "\n")
