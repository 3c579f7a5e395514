"""``cluetool inspect``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cluetool.commands.common import FormatOpt, fmt_of


def run(
    paths: Annotated[list[Path], typer.Argument(help="Attachment files, or directories of them.", show_default=False)],
    fmt: FormatOpt = None,
) -> None:
    """List the metadata in attachments that could identify a reporter (EXIF GPS, make,
    model and serial numbers; MP4 location; ID3 personal frames), one row per field, so
    handlers can be advised. Files are only read, never changed.

    Exit 0 when every path was read (whatever was found), 2 when one cannot be read.

    Example: cluetool inspect spool/sub-0001/ --format json
    """
    from cluetool import api
    from cluetool.output import Format, emit, info

    report = api.inspect(paths)
    out = fmt_of(fmt)
    emit(report, out, rows="items", columns=["path", "type", "code", "field", "value"])
    if out is Format.table:
        info(f"{len(report.files)} file(s), {len(report.items)} identifying metadata field(s)")
