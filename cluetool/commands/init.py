"""``cluetool init``."""

from __future__ import annotations

from typing import Annotated, Optional

import msgspec
import typer

from cluetool.commands.common import FormatOpt, HomeOpt, StorePasswordEnvOpt, fmt_of, home_arg


class HomeReady(msgspec.Struct, frozen=True, kw_only=True):
    """What ``init`` prints with ``--format``: the home and its store (a file, or a
    ``postgresql://`` URL, which never holds a password)."""

    schema: str = "cluetool.init/1"
    home: str
    store: str


StoreOpt = Annotated[
    Optional[str],
    typer.Option("--store", metavar="URL",
                 help="A postgresql:// URL (no password in it): the store is that PostgreSQL database instead of store.db.",
                 show_default=False),
]


BlobsInDbOpt = Annotated[
    bool,
    typer.Option("--blobs-in-db",
                 help="With --store: keep attachment blobs in the database's tables (written in each batch's transaction) instead of files in blobs/."),
]


def run(home: HomeOpt = None, store: StoreOpt = None, store_password_env: StorePasswordEnvOpt = None,
        blobs_in_db: BlobsInDbOpt = False, fmt: FormatOpt = None) -> None:
    """Create a cluetool home: config.toml, keys/, trusted/, rules/, blobs/ and store.db (mode 0700/0600).

    Idempotent: an existing home keeps its files. With --store postgresql://... the store
    is that PostgreSQL database (docs/postgresql.md) and config.toml names it; with
    --blobs-in-db as well, attachment blobs are rows of its tables rather than files that
    several importer machines must share (docs/operations.md). With --format, the home
    and its store are printed as a record too.

    Example: cluetool init --home /srv/cluetool
    """
    from datetime import datetime, timezone

    from cluetool import api
    from cluetool.commands.common import GLOBALS
    from cluetool.output import emit, info

    made = api.init(home_arg(home), now=datetime.now(timezone.utc), store=store, store_password_env=store_password_env,
                    blobs_in_db=blobs_in_db)
    info(f'home ready at "{made.root}"')
    if fmt is not None or GLOBALS.fmt_given:
        emit(HomeReady(home=str(made.root), store=str(made.store_location)), fmt_of(fmt))
