"""The one place where a home's store is opened or created.

Everything that works on a home's store (``cluetool.api``, import, handling, audit,
backup) gets it from ``open_store(home)``; nothing else calls ``Store.open`` with a
home's paths. A store backend other than the SQLite file ``store.db`` is chosen here,
from the home's ``config.toml``.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from cluetool.config import Home
from cluetool.errors import InputError, StateError
from cluetool.store import Store
from cluetool.store.backend import create_location, open_location, password_from_env
from cluetool.store.pgmigrate import MigrateReport, migrate_to
from cluetool.store.pgstore import check_no_password, is_url


def open_store(home: Home, *, wait: float = 10.0, readonly: bool = False) -> Store:
    """The store of an initialised home, migrated forward (read-only for commands that
    only read: they work on a read-only mount).

    Raises:
        StateError: missing home or store, newer schema, unreadable.
        BusyError: the store stays locked for more than ``wait`` seconds.
    """
    home.check()
    config = home.config()
    return open_location(home.store_location, blobs_dir=home.blobs_dir, wait=wait, readonly=readonly,
                         password_env=config.store_password_env, blobs_in_db=config.blobs_in_db)


def create_store(home: Home, *, now: datetime) -> Store:
    """Create the home's store at the latest schema (an existing one is opened and
    migrated instead).

    Raises:
        StateError: the store cannot be created or is unusable.
    """
    config = home.config()
    return create_location(home.store_location, blobs_dir=home.blobs_dir, now=now,
                           password_env=config.store_password_env, blobs_in_db=config.blobs_in_db)


def has_store(home: Home) -> bool:
    """Whether the home has a store yet (a sender's home may have none; a home whose
    config.toml names a PostgreSQL store has one)."""
    return is_url(home.store_location) or home.store_file.exists()


def check_store_url(url: str | None, what: str) -> str | None:
    """``url`` if it names a PostgreSQL store (``postgresql://`` or ``postgres://``)
    without a password; ``None`` stays ``None`` (the SQLite file).

    Raises:
        InputError: another scheme, or a password in it.
    """
    if url is None:
        return None
    if not is_url(url):
        scheme = url.split("://", 1)[0] if "://" in url else url
        raise InputError(f'{what}: "{scheme}" is not a postgresql:// URL',
                         hint="e.g. postgresql://cluetool@db.internal/cluetool (no password in it)")
    try:
        check_no_password(url)
    except StateError as exc:
        raise InputError(f"{what}: {exc.message}", hint=exc.hint) from None
    return url


def migrate_store(home: Home, url: str, *, password_env: str | None = None, blobs_in_db: bool = False) -> MigrateReport:
    """Copy the home's SQLite store into the empty PostgreSQL database at ``url`` and
    prove the copy (``cluetool.store.pgmigrate``); with ``blobs_in_db`` the blob files
    too, into the database's tables. The SQLite store is opened read-only and stays the
    home's store: ``config.toml`` is not changed.

    Raises:
        StateError: the home's store is not SQLite, the database is not empty or cannot
            be reached, or the copy failed (nothing kept).
    """
    home.check()
    if not isinstance(home.store_location, Path):
        raise StateError(f"the home's store is already {home.store_location}", hint="migrate-to copies an SQLite store")
    with open_store(home, readonly=True) as src:
        return migrate_to(src, url, blobs_dir=home.blobs_dir, password=password_from_env(password_env),
                          blobs_in_db=blobs_in_db)


__all__ = ["check_store_url", "create_store", "has_store", "migrate_store", "open_store"]
