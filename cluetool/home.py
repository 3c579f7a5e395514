"""The one place where a home's store is opened or created.

Everything that works on a home's store (``cluetool.api``, import, handling, audit,
backup) gets it from ``open_store(home)``; nothing else calls ``Store.open`` with a
home's paths. A store backend other than the SQLite file ``store.db`` is chosen here,
from the home's ``config.toml``.
"""

from __future__ import annotations

from datetime import datetime

from cluetool.config import Home
from cluetool.store import Store


def open_store(home: Home, *, wait: float = 10.0, readonly: bool = False) -> Store:
    """The store of an initialised home, migrated forward (read-only for commands that
    only read: they work on a read-only mount).

    Raises:
        StateError: missing home or store, newer schema, unreadable.
        BusyError: the store stays locked for more than ``wait`` seconds.
    """
    home.check()
    return Store.open(home.store_file, wait=wait, blobs_dir=home.blobs_dir, readonly=readonly)


def create_store(home: Home, *, now: datetime) -> Store:
    """Create the home's store at the latest schema (an existing one is opened and
    migrated instead).

    Raises:
        StateError: the store cannot be created or is unusable.
    """
    return Store.create(home.store_file, exist_ok=True, now=now, blobs_dir=home.blobs_dir)


def has_store(home: Home) -> bool:
    """Whether the home has a store yet (a sender's home may have none)."""
    return home.store_file.exists()


__all__ = ["create_store", "has_store", "open_store"]
