"""Chain rules for runs of batches (docs/format.md): gaps, replays, forks, reorders, links.

Pure logic over what verification established; the receiving side's state (last accepted
sequence and manifest hash per source, and the ledger of accepted manifests) is passed in.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from itertools import groupby

import msgspec

from cluetool.model.batch import ZERO_HASH, BatchProblem


class ChainLink(msgspec.Struct, frozen=True, kw_only=True):
    batch: str
    source: str
    sequence: int
    manifest_sha256: str
    previous: str
    position: int


class ChainStart(msgspec.Struct, frozen=True, kw_only=True):
    """The last batch a receiver accepted from a source."""

    sequence: int
    manifest_sha256: str


def check_chain(
    links: Sequence[ChainLink],
    *,
    start: Callable[[str], ChainStart | None] = lambda _s: None,
    accepted: Callable[[str, int], str | None] = lambda _s, _n: None,
    allow_gap: bool = False,
) -> list[BatchProblem]:
    """Every gap, replay, fork, reorder and broken link among ``links``.

    ``start(source)`` gives the receiver's last accepted batch (None: unknown, e.g. an
    auditor without a home). ``accepted(source, sequence)`` gives the manifest hash the
    receiver accepted for that sequence, if any. ``allow_gap`` suppresses gap problems
    (the caller records the reason).
    """
    problems: list[BatchProblem] = []
    by_source = sorted(links, key=lambda link: (link.source, link.position))
    for source, group in groupby(by_source, key=lambda link: link.source):
        run = list(group)
        problems += _reorders(run)
        problems += _check_source(source, run, start(source), accepted, allow_gap)
    return problems


def _reorders(run: list[ChainLink]) -> list[BatchProblem]:
    out = []
    for a, b in zip(run, run[1:]):
        if b.sequence < a.sequence:
            out.append(BatchProblem(
                batch=b.batch, code="chain.reorder",
                message=f"sequence {b.sequence} comes after sequence {a.sequence} ({a.batch})",
            ))
    return out


def _check_source(
    source: str,
    run: list[ChainLink],
    last: ChainStart | None,
    accepted: Callable[[str, int], str | None],
    allow_gap: bool,
) -> list[BatchProblem]:
    out: list[BatchProblem] = []
    seen: dict[int, ChainLink] = {}
    fresh: list[ChainLink] = []
    for link in sorted(run, key=lambda link: (link.sequence, link.position)):
        earlier = seen.get(link.sequence)
        if earlier is not None:
            if earlier.manifest_sha256 == link.manifest_sha256:
                out.append(_p(link, "chain.replay", f"sequence {link.sequence} given twice (also {earlier.batch})"))
            else:
                out.append(_p(link, "chain.fork", f"sequence {link.sequence} differs from {earlier.batch}: a fork"))
            continue
        seen[link.sequence] = link
        if last is not None and link.sequence <= last.sequence:
            known = accepted(source, link.sequence)
            if known is None and link.sequence == last.sequence:
                known = last.manifest_sha256
            if known is not None and known != link.manifest_sha256:
                out.append(_p(link, "chain.fork", f"sequence {link.sequence} of {source} was accepted with another manifest: a fork"))
            elif known is None and link.sequence < last.sequence:
                out.append(_p(link, "chain.stale", f"sequence {link.sequence} of {source} was skipped (a gap) and later batches accepted"))
            else:
                out.append(_p(link, "chain.replay", f"sequence {link.sequence} of {source} was already accepted"))
            continue
        fresh.append(link)

    prev_seq = last.sequence if last is not None else None
    prev_hash = last.manifest_sha256 if last is not None else None
    for link in fresh:
        if link.sequence == 1 and link.previous != ZERO_HASH:
            out.append(_p(link, "chain.previous", "sequence 1 must have an all-zero previous hash"))
        if prev_seq is not None and link.sequence > prev_seq + 1:
            if not allow_gap:
                missing = f"{prev_seq + 1}" if link.sequence == prev_seq + 2 else f"{prev_seq + 1}..{link.sequence - 1}"
                out.append(_p(link, "chain.gap", f"sequence {missing} of {source} missing before {link.sequence}"))
        elif prev_seq is not None and prev_hash is not None and link.previous != prev_hash:
            out.append(_p(link, "chain.previous", f"previous hash does not match the manifest of sequence {prev_seq}"))
        prev_seq, prev_hash = link.sequence, link.manifest_sha256
    return out


def _p(link: ChainLink, code: str, message: str) -> BatchProblem:
    return BatchProblem(batch=link.batch, code=code, message=message)
