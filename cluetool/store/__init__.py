"""The SQLite store (cluetool/store/migrations.py) and the audit entries written with every change (§9).

All SQL lives in this package. Everything above it uses:

- ``Store.open(path, wait=...)`` / ``Store.create(path)``, ``store.write()`` (a ``Tx``),
  ``store.read()``, ``store.close()``, ``store.blobs`` (``Blobs``: the files of
  ``BlobStore``, or a PostgreSQL store's ``--blobs-in-db`` rows, ``cluetool.store.blobtable``);
- ``cluetool.store.integrity.check_store(store)`` (``store check``);
- ``cluetool.store.queries``: typed functions over sources, batches, reports,
  attachments and fingerprints;
- ``cluetool.store.audit_entries``: ``append_entry`` (same transaction as the change) and
  ``iter_entries``.

The schema and its notes are in ``cluetool.store.migrations``.
"""

from __future__ import annotations

from cluetool.store.audit_entries import append_entry, iter_entries
from cluetool.store.blobs import BlobStore
from cluetool.store.db import Store, Tx
from cluetool.store.migrations import MIGRATIONS, latest_version

__all__ = ["MIGRATIONS", "BlobStore", "Store", "Tx", "append_entry", "iter_entries", "latest_version"]
