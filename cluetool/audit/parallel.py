"""``audit verify`` on every core: the log is cut into blocks of 2**16 entries, each
checked by a worker process on its own read-only connection (rows read in bulk, each
leaf hashed once, the canonical form checked, each block hashed as one perfect subtree),
and the blocks are joined into the tree in order.

A block's subtrees are aligned in the whole tree (blocks start at multiples of their
size), so the root at any size is the blocks before it plus that block's own subtrees
up to the size. Only a log whose smallest stored ``seq`` is 0 is split (into blocks up to
the largest); a block that does not hold exactly its range of rows, or in which anything
is out of order (a gap, a moved entry), makes the caller fall back to the sequential
pass, which names each problem precisely. Other
findings (an edited entry, a non-canonical one) are found the same way in either pass.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sqlite3
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

import msgspec

from cluetool.audit.engine import AuditFinding, _Engine, _Findings, no_gc
from cluetool.formats.merkle import EMPTY_ROOT, RootAccumulator

BLOCK = 1 << 16
_CHUNK = 4096
_MMAP = 1 << 40
# No seq column: the rows come in seq order from the range, so as many rows as the range
# is long are exactly its seqs (the integer primary key is unique); the engine counts.
_ROW = "SELECT NULL, CAST(entry AS BLOB), CAST(leaf_hash AS BLOB) FROM audit_log WHERE seq >= ? AND seq < ? ORDER BY seq"


class BlockResult(msgspec.Struct, kw_only=True):
    start: int
    end: int
    in_order: bool
    subtrees: list[tuple[int, bytes]]
    stacks: dict[int, list[tuple[int, bytes]]]
    findings: list[AuditFinding]


def check_block(path: str, start: int, end: int, sizes: Sequence[int]) -> BlockResult:
    """Check entries ``start <= seq < end`` of the store at ``path`` on a connection of
    its own; ``sizes`` are the absolute tree sizes in ``(start, end]`` whose subtrees
    are wanted."""
    f = _Findings()
    engine = _Engine(f, [s - start for s in sizes])
    engine.stacks = {}
    engine.expected_seq = start
    conn = sqlite3.connect(f"{Path(path).resolve().as_uri()}?mode=ro", uri=True)
    try:
        conn.execute(f"PRAGMA mmap_size = {_MMAP}")
        cur = conn.execute(_ROW, (start, end))
        cur.arraysize = _CHUNK
        with no_gc():
            while rows := cur.fetchmany():
                engine.feed(rows)
    finally:
        conn.close()
    engine.finish()
    in_order = (engine.position == end - start and engine.expected_seq == end
                and not f.counts.get("audit.seq_gap") and not f.counts.get("audit.seq_mismatch"))
    return BlockResult(start=start, end=end, in_order=in_order, subtrees=engine.acc.subtrees(),
                       stacks={s + start: st for s, st in engine.stacks.items()}, findings=f.done())


def _run(args: tuple[str, int, int, list[int]]) -> bytes:
    # Results cross the process boundary as MessagePack (small: subtrees and findings).
    return msgspec.msgpack.encode(check_block(*args))


_decode = msgspec.msgpack.Decoder(BlockResult).decode


_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # glibc's mallopt parameter numbers (malloc.h)


def _worker_init() -> None:
    """In a worker process: the chunk-sized buffers (a few MiB each) from the heap, kept
    for the next chunk. By default glibc maps each afresh or trims the heap after it, and
    faulting those pages in again cost about a sixth of a block's time. Not glibc (or no
    libc found): nothing to do."""
    try:
        mallopt = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").mallopt
    except (OSError, AttributeError):
        return
    mallopt(_M_MMAP_THRESHOLD, 64 << 20)
    mallopt(_M_TRIM_THRESHOLD, 256 << 20)


def workers() -> int:
    return max(1, min(len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1), 8))


def verify_blocks(path: str, total: int, sizes: Sequence[int], f: _Findings,
                  progress: Callable[[int, int], None] | None = None, *, block: int | None = None) -> _Engine | None:
    """The tree over entries ``0 .. total - 1`` with the roots at ``sizes``, as an
    ``_Engine`` holding ``position`` and ``roots`` (findings go to ``f``), or ``None``
    when a block is out of order (use the sequential pass). ``block`` (a power of two,
    a multiple of 4096 or smaller than it) defaults to ``BLOCK``."""
    block = block or BLOCK
    jobs = [(path, a, min(a + block, total), [s for s in sizes if a < s <= min(a + block, total)])
            for a in range(0, total, block)]
    n = min(workers(), len(jobs))
    if n > 1:
        with ProcessPoolExecutor(max_workers=n, mp_context=get_context("fork"), initializer=_worker_init) as pool:
            results = _join(map(_decode, pool.map(_run, jobs)), total, progress)
    else:
        results = _join((check_block(*j) for j in jobs), total, progress)
    if results is None:
        return None
    acc, roots, found = results
    for x in found:
        f.add(x.code, x.message, seq=x.seq, checkpoint=x.checkpoint, severity=x.severity)
    engine = _Engine(f, [])
    engine.acc, engine.position, engine.expected_seq = acc, total, total
    engine.roots = {0: EMPTY_ROOT, **roots}
    return engine


def _join(results: object, total: int, progress: Callable[[int, int], None] | None
          ) -> tuple[RootAccumulator, dict[int, bytes], list[AuditFinding]] | None:
    acc = RootAccumulator()
    roots: dict[int, bytes] = {}
    found: list[AuditFinding] = []
    for r in results:  # type: ignore[attr-defined]
        if not r.in_order:
            return None
        for size, stack in r.stacks.items():
            part = acc.copy()
            for height, h in stack:
                part.append_subtree(h, height)
            roots[size] = part.root()
        for height, h in r.subtrees:
            acc.append_subtree(h, height)
        found += r.findings
        if progress is not None:
            progress(r.end, total)
    return acc, roots, found
