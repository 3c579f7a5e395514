"""JSON Schema files generated from the model Structs (``schemas/``).

``python -m cluetool.model.schemas --write schemas`` writes them; ``--check schemas`` exits
1 when a committed file differs from what the Structs generate (``tests/test_schemas.py``
runs the same check). Output is deterministic: JSON with sorted keys, two-space indent,
UTF-8 (labels stay readable) and a trailing newline.

The schema describes the normal form of a report (see ``cluetool.model.report``):
``validate`` accepts anything that NFKC-normalises to it and adds the rules a schema
cannot state (check digits, known regions, dates, per-variant reporter fields).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import msgspec

from cluetool.model.report import SCHEMA, Report

DIALECT = "https://json-schema.org/draft/2020-12/schema"


def report_schema() -> dict[str, Any]:
    """The JSON Schema of ``report.json``."""
    schema = msgspec.json.schema(Report)
    return {
        "$schema": DIALECT,
        "$id": f"urn:{SCHEMA}",
        "title": "cluetool report.json",
        "description": (
            f"A citizen's report as written by the intake ({SCHEMA}), generated from "
            "cluetool/model/report.py; do not edit by hand."
        ),
        **schema,
    }


#: File name -> generator.
SCHEMAS = {"report.schema.json": report_schema}


def render(schema: dict[str, Any]) -> str:
    """Deterministic text of a schema: sorted keys, indent 2, trailing newline."""
    return json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def stale(directory: Path) -> list[str]:
    """Names of the schema files in ``directory`` that are missing or out of date."""
    out = []
    for name, make in SCHEMAS.items():
        path = directory / name
        try:
            current = path.read_text(encoding="utf-8")
        except OSError:
            current = None
        if current != render(make()):
            out.append(name)
    return out


def write(directory: Path) -> list[Path]:
    """Write every schema file into ``directory``; returns the paths written."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, make in SCHEMAS.items():
        path = directory / name
        path.write_text(render(make()), encoding="utf-8")
        written.append(path)
    return written


def main(argv: Sequence[str] | None = None) -> int:
    """Developer entry point (``make schemas``); returns the exit status."""
    parser = argparse.ArgumentParser(prog="python -m cluetool.model.schemas")
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--write", metavar="DIR", type=Path, help="write the schema files into DIR")
    group.add_argument("--check", metavar="DIR", type=Path, help="exit 1 if DIR's schema files are stale")
    args = parser.parse_args(argv)
    if args.write is not None:
        write(args.write)
        return 0
    bad = stale(args.check)
    for name in bad:
        sys.stderr.write(
            f"schemas: error: {args.check / name} is stale; run: python -m cluetool.model.schemas --write {args.check}\n"
        )
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
