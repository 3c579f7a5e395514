"""Which store a location names: the SQLite file (a path) or PostgreSQL (a
``postgresql://`` URL), opened or created with the same arguments (issue 22)."""

from __future__ import annotations

import os
import re
from datetime import datetime
from pathlib import Path

from cluetool.errors import InputError, StateError
from cluetool.store.db import Store
from cluetool.store.pgstore import check_no_password, is_url

_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def password_from_env(name: str | None) -> str | None:
    """The password in the environment variable ``name`` (``None`` without a name).

    Raises:
        StateError: the name is not a variable name, or the variable is unset or empty.
    """
    if name is None:
        return None
    if not _ENV_NAME.match(name):
        raise InputError(f'"{name}" is not an environment variable name')
    value = os.environ.get(name)
    if not value:
        raise StateError(f"the store password variable {name} is not set",
                         hint=f"export {name} before running cluetool, or use PGPASSFILE")
    return value


def open_location(location: Path | str, *, blobs_dir: Path, wait: float = 10.0, readonly: bool = False,
                  password_env: str | None = None, blobs_in_db: bool = False) -> Store:
    """The store at ``location``, opened (and, for SQLite, migrated forward).
    ``blobs_in_db``: a PostgreSQL store's blobs are in its tables, not in ``blobs_dir``
    (``cluetool.store.pgstore.make_blobs`` chooses)."""
    if is_url(location):
        from cluetool.store.pgstore import PgStore

        url = str(location)
        check_no_password(url)
        return PgStore.open_url(url, blobs_dir=blobs_dir, wait=wait, readonly=readonly,
                                password=password_from_env(password_env), blobs_in_db=blobs_in_db)
    _no_blobs_in_db(blobs_in_db)
    return Store.open(Path(location), wait=wait, blobs_dir=blobs_dir, readonly=readonly)


def _no_blobs_in_db(blobs_in_db: bool) -> None:
    if blobs_in_db:
        raise StateError("blobs_in_db needs a PostgreSQL store; an SQLite store keeps its blobs as files",
                         hint="remove blobs_in_db from config.toml, or use --store postgresql://... (docs/operations.md)")


def create_location(location: Path | str, *, blobs_dir: Path, now: datetime, password_env: str | None = None,
                    blobs_in_db: bool = False) -> Store:
    """Create the store at ``location`` (an existing one is opened instead)."""
    if is_url(location):
        from cluetool.store.pgstore import PgStore

        url = str(location)
        check_no_password(url)
        return PgStore.create_url(url, blobs_dir=blobs_dir, now=now, exist_ok=True,
                                  password=password_from_env(password_env), blobs_in_db=blobs_in_db)
    _no_blobs_in_db(blobs_in_db)
    return Store.create(Path(location), exist_ok=True, now=now, blobs_dir=blobs_dir)

