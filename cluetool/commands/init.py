"""``cluetool init``."""

from __future__ import annotations

from cluetool.commands.common import HomeOpt, home_of


def run(home: HomeOpt = None) -> None:
    """Create a cluetool home: config.toml, keys/, trusted/, rules/, blobs/, all mode 0700.

    Idempotent: an existing home keeps its files.

    Example: cluetool init --home /srv/cluetool
    """
    from cluetool.config import init_home, resolve_home
    from cluetool.output import info

    root = resolve_home(home_of(home)).root
    init_home(root)
    info(f'home ready at "{root}"')
