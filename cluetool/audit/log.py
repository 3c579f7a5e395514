"""The audit log as an RFC 6962 Merkle tree over the store's entries (DESIGN §9): roots at
any size, inclusion and consistency proofs, and ``audit log`` listings.

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
import hashlib
import os
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal

import msgspec

from cluetool.config import make_private_dir
from cluetool.errors import FindingsError, InputError, StateError
from cluetool.formats.merkle import EMPTY_ROOT, HASH_SIZE, InvalidProof, verify_consistency, verify_inclusion
from cluetool.model.store import AuditRecord
from cluetool.store import Store
from cluetool.store import auditlog as sql
from cluetool.store.audit import audit_size, format_time, leaf_hash

BITS = 8
_MAGIC = b"cluetool-audit-tree-cache/1\n".ljust(32, b"\0")
_HEADER = 64
_sha256 = hashlib.sha256


def node(left: bytes, right: bytes) -> bytes:
    """RFC 6962 §2.1 interior node hash."""
    return _sha256(b"\x01" + left + right).digest()


def perfect_root(hashes: bytes) -> bytes:
    """MTH of a power-of-two run of subtree hashes given concatenated (level by level)."""
    level = hashes
    while len(level) > HASH_SIZE:
        level = b"".join([_sha256(b"\x01" + level[i : i + 64]).digest() for i in range(0, len(level), 64)])
    return level


def combine(parts: list[bytes]) -> bytes:
    """MTH of a range given its perfect subtrees, largest (leftmost) first."""
    h = parts[-1]
    for left in reversed(parts[:-1]):
        h = node(left, h)
    return h


def _split(n: int) -> int:
    # RFC 9162 §2.1.1: the largest power of two strictly smaller than n.
    return 1 << ((n - 1).bit_length() - 1)


def decompose(start: int, end: int) -> list[tuple[int, int]]:
    """``(height, index)`` of the perfect aligned subtrees that make up ``[start, end)``
    (``start`` a multiple of the largest power of two <= ``end - start``)."""
    parts = []
    pos = start
    while pos < end:
        height = (end - pos).bit_length() - 1
        parts.append((height, pos >> height))
        pos += 1 << height
    return parts


def inclusion_ranges(index: int, size: int) -> list[tuple[int, int]]:
    """The ranges whose MTH form RFC 9162 §2.1.3.1 PATH(index, D[size]), sibling first."""
    out = []
    start, end = 0, size
    while end - start > 1:
        mid = start + _split(end - start)
        if index < mid:
            out.append((mid, end))
            end = mid
        else:
            out.append((start, mid))
            start = mid
    out.reverse()
    return out


def consistency_ranges(size1: int, size2: int) -> list[tuple[int, int]]:
    """The ranges whose MTH form RFC 9162 §2.1.4.1 PROOF(size1, D[size2]) (empty for the
    trivial cases size1 == 0 or size1 == size2, as transparency-dev does)."""
    if size1 == 0 or size1 == size2:
        return []
    out = []
    start, end, whole = 0, size2, True
    while size1 != end:
        mid = start + _split(end - start)
        if size1 <= mid:
            out.append((mid, end))
            end = mid
        else:
            out.append((start, mid))
            start = mid
            whole = False
    if not whole:
        out.append((start, end))
    out.reverse()
    return out


class CompactRange:
    """Streaming MTH of leaves appended from index 0, with whole aligned perfect subtrees
    appendable at once (``append_subtree``); O(log n) memory."""

    __slots__ = ("size", "_stack")

    def __init__(self) -> None:
        self.size = 0
        self._stack: list[tuple[int, bytes]] = []

    def append_subtree(self, h: bytes, height: int = 0) -> None:
        if self.size & ((1 << height) - 1):
            raise ValueError("subtree is not aligned")
        self.size += 1 << height
        stack = self._stack
        # Equal heights merge (the binary carry of the size), left subtree first.
        while stack and stack[-1][0] == height:
            h = node(stack.pop()[1], h)
            height += 1
        stack.append((height, h))

    def root(self) -> bytes:
        if not self._stack:
            return EMPTY_ROOT
        return combine([h for _, h in self._stack])


# --------------------------------------------------------------------------- tree cache


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


# --------------------------------------------------------------------------- proofs


class InclusionProof(msgspec.Struct, kw_only=True, tag_field="type", tag="inclusion"):
    """An inclusion proof of one entry against a signed checkpoint (hashes in hex)."""

    leaf_index: int
    tree_size: int
    leaf_hash: str
    proof: list[str]
    checkpoint: str
    entry: str | None = None
    schema: str = "cluetool.audit-proof/1"


class ConsistencyProof(msgspec.Struct, kw_only=True, tag_field="type", tag="consistency"):
    """A consistency proof between two tree sizes; the checkpoint notes at those sizes
    are included when the store has them."""

    from_size: int
    to_size: int
    from_root: str
    to_root: str
    proof: list[str]
    from_checkpoint: str | None = None
    to_checkpoint: str | None = None
    schema: str = "cluetool.audit-proof/1"


def _latest(store: Store) -> sql.CheckpointRow:
    cp = sql.latest_checkpoint(store)
    if cp is None:
        raise StateError("the audit log has no checkpoint yet", hint="run: cluetool audit checkpoint")
    return cp


def _mismatch(what: str) -> FindingsError:
    return FindingsError(f"the audit log does not match its signed checkpoint: {what}", hint="run: cluetool audit verify")


def prove_inclusion(store: Store, seq: int, *, cache_dir: Path | None | Literal["default"] = "default") -> InclusionProof:
    """An inclusion proof of entry ``seq`` against the latest checkpoint.

    The leaf hash is recomputed from the entry, and the proof is verified against the
    checkpoint's root before it is returned.

    Raises:
        StateError: no checkpoint yet.
        InputError: ``seq`` is not covered by the latest checkpoint.
        FindingsError: the stored log no longer matches the checkpoint.
    """
    with store.read() as tx:
        cp = _latest(tx)  # type: ignore[arg-type]
        if not isinstance(seq, int) or not 0 <= seq < cp.size:
            raise InputError(
                f"entry {seq} is not covered by the latest checkpoint ({cp.size} entries)",
                hint="run: cluetool audit checkpoint" if seq >= cp.size else None,
            )
        entry = sql.get_entry(tx, seq)  # type: ignore[arg-type]
        if entry is None:
            raise _mismatch(f"entry {seq} is missing")
        lh = leaf_hash(entry.entry)
        with AuditTree(tx, cache_dir=cache_dir) as tree:
            if tree.size < cp.size:
                raise _mismatch(f"the log holds {tree.size} entries, the checkpoint {cp.size}")
            for attempt in (0, 1):
                proof = tree.inclusion_proof(seq, cp.size)
                try:
                    verify_inclusion(lh, seq, cp.size, proof, cp.root)
                    break
                except InvalidProof:
                    if attempt:
                        raise _mismatch(f"entry {seq} is not in the signed tree") from None
                    tree.reset()
    return InclusionProof(
        leaf_index=seq, tree_size=cp.size, leaf_hash=lh.hex(), proof=[p.hex() for p in proof],
        checkpoint=cp.note, entry=entry.entry.decode("utf-8", "replace"),
    )


def prove_consistency(
    store: Store, size1: int, size2: int | None = None, *, cache_dir: Path | None | Literal["default"] = "default"
) -> ConsistencyProof:
    """A consistency proof from tree size ``size1`` to ``size2`` (default: the latest
    checkpoint's size). Roots at sizes with a stored checkpoint must equal it.

    Raises:
        StateError: no checkpoint and no ``size2``.
        InputError: sizes out of range.
        FindingsError: the stored log no longer matches a checkpoint at those sizes.
    """
    with store.read() as tx:
        if size2 is None:
            size2 = _latest(tx).size  # type: ignore[arg-type]
        if size1 < 0 or size1 > size2:
            raise InputError(f"--from {size1} must be between 0 and --to {size2}")
        cps = [sql.checkpoint_with_size(tx, s) for s in (size1, size2)]  # type: ignore[arg-type]
        with AuditTree(tx, cache_dir=cache_dir) as tree:
            if size2 > tree.size:
                raise InputError(f"--to {size2} exceeds the log size {tree.size}")
            for attempt in (0, 1):
                roots = [tree.root(size1), tree.root(size2)]
                proof = tree.consistency_proof(size1, size2)
                bad = [cp for cp, r in zip(cps, roots) if cp is not None and cp.root != r]
                try:
                    if bad:
                        raise InvalidProof("root differs from checkpoint")
                    verify_consistency(size1, size2, proof, roots[0], roots[1])
                    break
                except InvalidProof:
                    if attempt:
                        raise _mismatch(f"the tree at size {bad[0].size if bad else size2} differs") from None
                    tree.reset()
    return ConsistencyProof(
        from_size=size1, to_size=size2, from_root=roots[0].hex(), to_root=roots[1].hex(),
        proof=[p.hex() for p in proof],
        from_checkpoint=cps[0].note if cps[0] else None, to_checkpoint=cps[1].note if cps[1] else None,
    )


def tree_root(store: Store, size: int | None = None, *, cache_dir: Path | None | Literal["default"] = "default") -> tuple[int, bytes]:
    """``(size, root)`` of the log (or of its first ``size`` entries) from the stored leaf
    hashes (use ``verify_store`` to check those against the entries)."""
    with store.read() as tx, AuditTree(tx, cache_dir=cache_dir) as tree:
        size = tree.size if size is None else size
        return size, tree.root(size)


# --------------------------------------------------------------------------- audit log


class AuditLog(msgspec.Struct, kw_only=True):
    """``audit log``: the entries that match the filters, in seq order."""

    entries: list[AuditRecord]
    schema: str = "cluetool.audit-log/1"


def parse_time(value: str, what: str) -> str:
    """``--since``/``--until``: a date (``2026-11-24``, midnight UTC) or an RFC 3339 time
    with offset, as the stored ``at`` form.

    Raises:
        InputError: neither.
    """
    try:
        if len(value) == 10:
            at = datetime.fromisoformat(value).replace(tzinfo=timezone.utc)
        else:
            at = datetime.fromisoformat(value.replace("Z", "+00:00"))
            if at.tzinfo is None:
                raise ValueError
    except ValueError:
        raise InputError(f"invalid {what} {value!r}: give a date (YYYY-MM-DD) or an RFC 3339 time with offset") from None
    return format_time(at)


def list_entries(
    store: Store, *, object: str | None = None, action: str | None = None, actor: str | None = None,
    since: str | None = None, until: str | None = None, limit: int | None = None,
) -> AuditLog:
    """Entries matching the filters (see ``cluetool.store.auditlog.find_entries``).

    Raises:
        InputError: a bad time or limit.
        FindingsError: a matching entry is not a valid record (the log was damaged).
    """
    if limit is not None and limit < 0:
        raise InputError("--limit must not be negative")
    s = parse_time(since, "--since") if since else None
    u = parse_time(until, "--until") if until else None
    out = []
    with store.read() as tx:
        for e in sql.find_entries(tx, object=object, action=action, actor=actor, since=s, until=u, limit=limit):  # type: ignore[arg-type]
            try:
                out.append(e.record())
            except ValueError:
                raise FindingsError(f"audit entry {e.seq} is not a valid record", hint="run: cluetool audit verify") from None
    return AuditLog(entries=out)

