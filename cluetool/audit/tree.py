"""The store's audit log as an RFC 6962 Merkle tree (docs/audit.md): roots and proof hashes at
any size, served from a tier cache (the hashing is ``cluetool.formats.merkle``'s).

Proofs without rebuilding the tree
----------------------------------
Every hash a proof or a root needs is the MTH of a range that splits into perfect,
aligned subtrees (RFC 9162 §2.1: PATH and PROOF only name such ranges), so all that is
needed is the hash of a perfect subtree of height ``h`` at index ``j``. The tree cache
keeps those hashes in *tiers*: tier ``t`` (t >= 1) holds, 32 bytes each, the hashes of
the complete perfect subtrees of ``256**t`` leaves; tier 0 is the ``leaf_hash`` column of
``audit_log`` itself. A subtree of height ``h`` is then the perfect root of at most 128
consecutive hashes of tier ``h // 8`` (one range read), so a root or a proof costs
O(log n) reads of at most 128 hashes and at most ~255 hashes per read, whatever the
size of the log: about 3 ms for a proof in a 1,000,000-entry log (``benchmarks/
bench_audit.py``). For a million entries the cache is ~128 KiB.

The tiers live in ``<store dir>/state/audit-tree/tier<t>.bin`` (the home's ``state/``):
a 64-byte header (magic, then the leaf hash of entry 0, so that a cache never serves a
different log) followed by the hashes. They are append-only and brought up to date
under an exclusive ``flock`` whenever a root or proof is needed: only the entries
appended since the last use are read (``checkpoint`` does this after every import, so
the cache stays warm). The cache is derived data: deleting it is harmless, and it is
never trusted. Every proof is checked against the signed checkpoint before it is
returned; if that fails the cache is rebuilt from the store once, and if it still fails
the store no longer matches its checkpoint (``audit verify`` says where).
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from typing import Any, Literal

from cluetool.config import make_private_dir
from cluetool.errors import InputError, StateError
from cluetool.formats.merkle import EMPTY_ROOT, HASH_SIZE, combine, consistency_ranges, decompose, inclusion_ranges, perfect_root
from cluetool.store import Store
from cluetool.store import audit_queries as sql
from cluetool.store.audit_entries import audit_size

BITS = 8


_MAGIC = b"cluetool-audit-tree-cache/1\n".ljust(32, b"\0")


_HEADER = 64


class _Tier:
    """One tier file (or an in-memory tier when the store has no directory to use)."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._mem = bytearray()
        self._anchor = b""

    def open(self, anchor: bytes) -> int:
        """Hash count after checking the header; a foreign or damaged file is reset."""
        if self.path is None:
            if self._anchor != anchor:
                self._anchor, self._mem = anchor, bytearray()
            return len(self._mem) // HASH_SIZE
        try:
            with open(self.path, "rb") as f:
                header = f.read(_HEADER)
                size = os.fstat(f.fileno()).st_size
        except FileNotFoundError:
            header, size = b"", 0
        if header != _MAGIC + anchor or (size - _HEADER) % HASH_SIZE:
            self.reset(anchor)
            return 0
        return (size - _HEADER) // HASH_SIZE

    def reset(self, anchor: bytes) -> None:
        if self.path is None:
            self._anchor, self._mem = anchor, bytearray()
            return
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, _MAGIC + anchor)
        finally:
            os.close(fd)

    def truncate(self, count: int) -> None:
        if self.path is None:
            del self._mem[count * HASH_SIZE :]
        else:
            os.truncate(self.path, _HEADER + count * HASH_SIZE)

    def append(self, data: bytes) -> None:
        if not data:
            return
        if self.path is None:
            self._mem += data
            return
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND)
        try:
            os.write(fd, data)
        finally:
            os.close(fd)

    def read(self, index: int, count: int) -> bytes:
        if self.path is None:
            data = bytes(self._mem[index * HASH_SIZE : (index + count) * HASH_SIZE])
        else:
            fd = os.open(self.path, os.O_RDONLY)
            try:
                data = os.pread(fd, count * HASH_SIZE, _HEADER + index * HASH_SIZE)
            finally:
                os.close(fd)
        if len(data) != count * HASH_SIZE:
            raise StateError("audit tree cache is shorter than expected", hint="remove state/audit-tree and retry")
        return data


def cache_dir_for(store: Store) -> Path:
    """``<store dir>/state/audit-tree`` (the home's ``state/``)."""
    return Path(store.path).parent / "state" / "audit-tree"


class AuditTree:
    """Roots and proofs over the store's audit log, served from the tier cache.

    Use as a context manager (it holds the cache lock): ``with AuditTree(store) as t``.
    ``cache_dir=None`` keeps the tiers in memory (rebuilt by each instance).
    """

    def __init__(self, store: Any, *, cache_dir: Path | None | Literal["default"] = "default", bits: int = BITS) -> None:
        self.db = store
        self.bits = bits
        self.fanout = 1 << bits
        if cache_dir == "default":
            cache_dir = cache_dir_for(store.store if hasattr(store, "store") else store)
        self.dir: Path | None = cache_dir if isinstance(cache_dir, Path) else None
        self._tiers: list[_Tier] = []
        self._lock_fd: int | None = None
        self.size = 0
        self._memo: dict[tuple[int, int], bytes] = {}

    def __enter__(self) -> AuditTree:
        if self.dir is not None:
            try:
                make_private_dir(self.dir)
                self._lock_fd = os.open(self.dir / "lock", os.O_RDWR | os.O_CREAT, 0o600)
                fcntl.flock(self._lock_fd, fcntl.LOCK_EX)
            except OSError:
                # No writable state directory: serve from memory (correct, only slower).
                if self._lock_fd is not None:
                    os.close(self._lock_fd)
                    self._lock_fd = None
                self.dir = None
        self.sync()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._lock_fd is not None:
            os.close(self._lock_fd)  # releases the flock
            self._lock_fd = None

    def _tier(self, t: int) -> _Tier:
        while len(self._tiers) < t:
            n = len(self._tiers) + 1
            self._tiers.append(_Tier(None if self.dir is None else self.dir / f"tier{n}.bin"))
        return self._tiers[t - 1]

    def sync(self, size: int | None = None) -> None:
        """Bring the tiers up to ``size`` entries (default: the current log size).

        Raises:
            StateError: the log has a gap below ``size``.
        """
        self._memo.clear()
        self.size = audit_size(self.db) if size is None else size
        if self.size == 0:
            return
        anchor = sql.leaf_hash_range(self.db, 0, 1)
        t = 1
        while (need := self.size >> (self.bits * t)) > 0:
            tier = self._tier(t)
            have = tier.open(anchor)
            if have > need:
                tier.truncate(need)
                have = need
            if have < need:
                block = self.fanout
                out = bytearray()
                if t == 1:
                    for hashes in sql.iter_leaf_hash_blocks(self.db, have * block, need * block, block):
                        out += perfect_root(hashes)
                else:
                    below = self._tier(t - 1)
                    for j in range(have, need):
                        out += perfect_root(below.read(j * block, block))
                tier.append(bytes(out))
            t += 1

    def reset(self) -> None:
        """Drop the cache and rebuild it from the store."""
        for tier in self._tiers:
            tier.reset(b"")
        self._tiers = []
        self.sync(self.size)

    def subtree(self, height: int, index: int) -> bytes:
        """MTH of leaves ``[index * 2**height, (index + 1) * 2**height)``."""
        key = (height, index)
        hit = self._memo.get(key)
        if hit is not None:
            return hit
        t = height // self.bits
        r = height - t * self.bits
        first, count = index << r, 1 << r
        if t == 0:
            hashes = sql.leaf_hash_range(self.db, first, count)
        else:
            hashes = self._tier(t).read(first, count)
        h = perfect_root(hashes)
        self._memo[key] = h
        return h

    def range_hash(self, start: int, end: int) -> bytes:
        return combine([self.subtree(h, j) for h, j in decompose(start, end)])

    def _check(self, size: int) -> int:
        if not isinstance(size, int) or size < 0 or size > self.size:
            raise InputError(f"tree size {size} is not between 0 and the log size {self.size}")
        return size

    def root(self, size: int | None = None) -> bytes:
        size = self._check(self.size if size is None else size)
        return EMPTY_ROOT if size == 0 else self.range_hash(0, size)

    def inclusion_proof(self, index: int, size: int) -> list[bytes]:
        size = self._check(size)
        if not 0 <= index < size:
            raise InputError(f"entry {index} is not in a tree of {size} entries")
        return [self.range_hash(a, b) for a, b in inclusion_ranges(index, size)]

    def consistency_proof(self, size1: int, size2: int) -> list[bytes]:
        size2 = self._check(size2)
        if not 0 <= size1 <= size2:
            raise InputError(f"tree size {size1} is not between 0 and {size2}")
        return [self.range_hash(a, b) for a, b in consistency_ranges(size1, size2)]
