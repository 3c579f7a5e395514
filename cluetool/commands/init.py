"""``cluetool init``."""

from __future__ import annotations

import msgspec

from cluetool.commands.common import FormatOpt, HomeOpt, fmt_of, home_arg


class HomeReady(msgspec.Struct, frozen=True, kw_only=True):
    """What ``init`` prints with ``--format``: the home and its store."""

    schema: str = "cluetool.init/1"
    home: str
    store: str


def run(home: HomeOpt = None, fmt: FormatOpt = None) -> None:
    """Create a cluetool home: config.toml, keys/, trusted/, rules/, blobs/ and store.db (mode 0700/0600).

    Idempotent: an existing home keeps its files. With --format, the home and its store
    are printed as a record too.

    Example: cluetool init --home /srv/cluetool
    """
    from datetime import datetime, timezone

    from cluetool import api
    from cluetool.commands.common import GLOBALS
    from cluetool.output import emit, info

    made = api.init(home_arg(home), now=datetime.now(timezone.utc))
    info(f'home ready at "{made.root}"')
    if fmt is not None or GLOBALS.fmt_given:
        emit(HomeReady(home=str(made.root), store=str(made.store_file)), fmt_of(fmt))
