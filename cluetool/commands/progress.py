"""Progress and colour on stderr, for a person watching a terminal only (issue 21).

Shown when stderr is a terminal and neither ``--quiet`` nor ``TERM=dumb``: never in a
pipe, a log file or cron, so scripts see exactly the lines they saw before. Drawn by
rich (installed with Typer) on stderr and cleared when done (``transient``); rich leaves
colour out when ``NO_COLOR`` is set.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

Update = Callable[[int, int], None]


def wanted() -> bool:
    """Whether a person is watching stderr (a terminal, not --quiet, not TERM=dumb)."""
    from cluetool.output import is_quiet

    return sys.stderr.isatty() and not is_quiet() and os.environ.get("TERM") != "dumb"


def _console() -> Any:
    from rich.console import Console

    return Console(file=sys.stderr, highlight=False)


@contextmanager
def working(description: str) -> Iterator[Update | None]:
    """Show ``cluetool: DESCRIPTION`` with a spinner and the elapsed time while the block
    runs; the yielded ``update(done, total)`` (``None`` when nobody watches) turns it into
    a bar with a percentage."""
    if not wanted():
        yield None
        return
    from rich.progress import BarColumn, Progress, SpinnerColumn, TaskProgressColumn, TextColumn, TimeElapsedColumn

    with Progress(SpinnerColumn(), TextColumn("cluetool: {task.description}"), BarColumn(), TaskProgressColumn(),
                  TimeElapsedColumn(), console=_console(), transient=True) as bar:
        task = bar.add_task(description, total=None)

        def update(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield update
