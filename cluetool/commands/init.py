"""``cluetool init``."""

from __future__ import annotations

from cluetool.commands.common import HomeOpt, home_of


def run(home: HomeOpt = None) -> None:
    """Create a cluetool home: config.toml, keys/, trusted/, rules/, blobs/ and store.db (mode 0700/0600).

    Idempotent: an existing home keeps its files.

    Example: cluetool init --home /srv/cluetool
    """
    from datetime import datetime, timezone

    from cluetool.config import resolve_home
    from cluetool.output import info
    from cluetool.services import init

    root = resolve_home(home_of(home)).root
    init(root, now=datetime.now(timezone.utc))
    info(f'home ready at "{root}"')
