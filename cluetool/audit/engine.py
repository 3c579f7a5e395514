"""The checking engine of ``audit verify`` (docs/audit.md), shared by the store, export and
checkpoint paths: entries fed in order are checked (leaf hash, canonical form, seq) and
the roots at the requested sizes computed; the findings and the report structs.

Findings carry stable codes (API, like ``validate``'s):

- ``audit.leaf_mismatch`` — a stored leaf hash is not ``SHA-256(0x00 || entry)`` (the
  entry or its hash was edited); ``seq`` names it.
- ``audit.noncanonical`` — an entry is not the canonical JSON of ``{seq, at, actor,
  action, object, details}``; ``seq`` names it.
- ``audit.seq_gap`` — stored rows skip sequence numbers (entries deleted); ``seq`` is the
  first missing one.
- ``audit.seq_mismatch`` — an entry's own ``seq`` is not its position (entries inserted,
  removed with renumbering, swapped or moved); ``seq`` is the first position of the run.
- ``audit.truncated`` — fewer entries than a checkpoint signed; ``seq`` is the first
  missing one.
- ``audit.inconsistent`` — the tree at a checkpoint's size does not have its signed root,
  or two checkpoints are not consistent: something below that size changed after it
  was signed. ``seq`` is the start of the narrowest interval the checkpoints allow
  (the size of the last checkpoint that still matches); a change that keeps entries
  canonical and leaf hashes matching cannot be pinned to one entry by a root alone
  (compare with an earlier export, ``--previous``, for that: ``audit.prefix_mismatch``).
- ``audit.checkpoint_signature`` — a checkpoint is not signed by the given key(s).
- ``audit.checkpoint_malformed`` — not a checkpoint note, or its row differs from it.
- ``audit.checkpoint_order`` — a later checkpoint signs a smaller tree (a log never shrinks).
- ``audit.origin`` — checkpoints of different origins (log identities) in one log.
- ``audit.extra_entries`` — an export holds entries its checkpoint does not cover.
- ``audit.prefix_mismatch`` — an export's entry differs from the previous export's.
- ``audit.proof_invalid`` — a proof file does not verify.
- ``audit.no_checkpoint`` (warning) — nothing has been signed yet.

Speed: rows stream in chunks of 4096 (``cluetool.store.audit_queries.iter_row_chunks``). A
chunk in which everything is in order is checked in bulk: leaf hashes in one list
comprehension, canonical form by decoding all entries with one msgspec call and
comparing the re-encoding with the original bytes, and the tree by hashing the chunk as
one perfect subtree. Any anomaly sends the chunk through the per-entry path, which names
the entry and uses ``cluetool.formats.canonical`` (the writer's definition) as the judge.
"""

from __future__ import annotations

import gc
import hashlib
import re
from contextlib import contextmanager
from collections.abc import Callable, Iterable, Iterator
from typing import Annotated, Any, Literal

import msgspec

from cluetool.errors import FindingsError
from cluetool.formats.canonical import NonCanonicalError, loads_canonical
from cluetool.formats.merkle import EMPTY_ROOT, RootAccumulator, perfect_root
from cluetool.store import audit_queries as sql

Progress = Callable[[int, int], None]


SCHEMA = "cluetool.audit-verify/1"


MAX_PER_CODE = 100


_FIELDS = {"seq", "at", "actor", "action", "object", "details"}


_AT = r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{6}Z"


_AT_RE = re.compile(_AT)


_DIGITS_TO_ZERO = bytes.maketrans(b"0123456789", b"0000000000")


_AT_TEMPLATE = b"0000-00-00T00:00:00.000000Z\n"


_LEAF_HASHER = hashlib.sha256(b"\x00")


_sha256 = hashlib.sha256


_NonEmpty = Annotated[str, msgspec.Meta(min_length=1)]


# canonical.py: integers only within the IEEE-754 safe range.
_SafeInt = Annotated[int, msgspec.Meta(ge=-(2**53 - 1), le=2**53 - 1)]


_Scalar = str | _SafeInt | float | bool | None


class _Record(msgspec.Struct, forbid_unknown_fields=True):
    # Fields in sorted order: the sorted encoder re-encodes a canonical entry exactly.
    action: _NonEmpty
    actor: _NonEmpty
    at: str
    # The writer's allow-list (flat scalars or lists of them); anything else takes the
    # exact path, which judges it by canonical.py alone.
    details: dict[str, _Scalar | list[_Scalar]]
    object: _NonEmpty
    seq: Annotated[int, msgspec.Meta(ge=0, le=2**53 - 1)]


_DECODER = msgspec.json.Decoder(_Record)


_ENCODER = msgspec.json.Encoder(order="sorted")


class AuditFinding(msgspec.Struct, frozen=True, kw_only=True):
    """One problem found in the audit trail (``code`` is stable API)."""

    code: str
    message: str
    seq: int | None = None
    checkpoint: int | None = None
    severity: Literal["error", "warning"] = "error"


class AuditSummary(msgspec.Struct, kw_only=True):
    entries: int
    root: str
    checkpoints: int
    checkpoints_verified: int
    latest_checkpoint_size: int | None
    unsigned_entries: int
    witnessed_checkpoints: int = 0


class AuditReport(msgspec.Struct, kw_only=True):
    """The result of ``audit verify``: ``ok`` is false when any finding is an error."""

    ok: bool
    findings: list[AuditFinding]
    summary: AuditSummary
    schema: str = SCHEMA

    def raise_for_findings(self) -> None:
        """Raises: FindingsError: the audit trail failed verification."""
        if not self.ok:
            first = next(f for f in self.findings if f.severity == "error")
            raise FindingsError(f"audit trail failed verification: {first.code}: {first.message}")


class _Findings:
    def __init__(self) -> None:
        self.items: list[AuditFinding] = []
        self.counts: dict[str, int] = {}

    def add(self, code: str, message: str, *, seq: int | None = None, checkpoint: int | None = None,
            severity: Literal["error", "warning"] = "error") -> None:
        n = self.counts.get(code, 0) + 1
        self.counts[code] = n
        if n <= MAX_PER_CODE:
            self.items.append(AuditFinding(code=code, message=message, seq=seq, checkpoint=checkpoint, severity=severity))

    def done(self) -> list[AuditFinding]:
        for code, n in self.counts.items():
            if n > MAX_PER_CODE:
                self.items.append(AuditFinding(code=code, message=f"{n - MAX_PER_CODE} more {code} findings not listed"))
        return self.items


class _Target:
    """A signed checkpoint the tree must match: ``label`` names it in findings."""

    def __init__(self, ident: int | None, size: int, root: bytes, label: str, *, ordered: bool = True) -> None:
        self.ident, self.size, self.root, self.label = ident, size, root, label
        # The log's own checkpoints come in signing order; witnessed ones in any order.
        self.ordered = ordered


class _Engine:
    """Checks entries fed in order and computes the roots at the requested sizes."""

    def __init__(self, findings: _Findings, sizes: Iterable[int], ranges: list[tuple[int, int]] = ()) -> None:  # type: ignore[assignment]
        self.f = findings
        self.position = 0  # leaves seen (the tree size so far)
        self.expected_seq = 0  # the next stored seq (differs from position after a gap)
        self.acc = RootAccumulator()
        self.sizes = sorted(set(sizes))
        self.roots: dict[int, bytes] = {0: EMPTY_ROOT}
        self._next = [s for s in self.sizes if s > 0]
        self._run: tuple[int, int, int] | None = None  # (offset, first ref, last ref)
        self.ranges = sorted(ranges)
        self.range_hashes: dict[tuple[int, int], bytes] = {}
        self._range_acc: RootAccumulator | None = None
        # With keep_stacks, the perfect subtrees at each requested size too (for a block
        # of the log checked on its own: ``cluetool.audit.parallel``).
        self.stacks: dict[int, list[tuple[int, bytes]]] | None = None

    # -- per entry ------------------------------------------------------------------

    def _flush_run(self) -> None:
        if self._run is None:
            return
        off, a, b = self._run
        self._run = None
        if a == b:
            msg = f"the entry at seq {a} carries seq {a - off}: entries were swapped, moved or renumbered"
        else:
            msg = (f"entries at seq {a}..{b} carry seq {a - off}..{b - off} (shifted by {off}): "
                   f"an entry was {'inserted' if off > 0 else 'removed'} at or before seq {a}")
        self.f.add("audit.seq_mismatch", msg, seq=a)

    def _seq_field(self, ref: int, value: int) -> None:
        off = ref - value
        run = self._run
        if run is not None and (off != run[0] or ref != run[2] + 1):
            self._flush_run()
            run = None
        if off == 0:
            return
        self._run = (off, ref, ref) if run is None else (off, run[1], ref)

    def _one(self, colseq: int | None, entry: bytes, stored: bytes | None) -> bytes:
        if colseq is not None and colseq != self.expected_seq:
            self._flush_run()
            first, last = self.expected_seq, colseq - 1
            what = f"entry {first} is" if first == last else f"entries {first}..{last} are"
            self.f.add("audit.seq_gap", f"{what} missing from the log", seq=first)
            self.expected_seq = colseq
        ref = colseq if colseq is not None else self.expected_seq
        lh = _sha256(b"\x00" + entry).digest()
        if stored is not None and stored != lh:
            self.f.add("audit.leaf_mismatch", f"entry {ref} does not hash to its stored leaf hash: it was edited", seq=ref)
        problem, seq_value = _exact_check(entry)
        if problem is not None:
            self._flush_run()
            self.f.add("audit.noncanonical", f"entry {ref} {problem}", seq=ref)
        elif seq_value is not None:
            self._seq_field(ref, seq_value)
        self._leaf(lh)
        self.expected_seq += 1
        return lh

    def _leaf(self, lh: bytes) -> None:
        pos = self.position
        if self.ranges:
            self._feed_range(pos, lh)
        self.acc.append_subtree(lh, 0)
        self.position = pos + 1
        if self._next and self._next[0] == self.position:
            self._reached()

    def _reached(self) -> None:
        self.roots[self.position] = self.acc.root()
        if self.stacks is not None:
            self.stacks[self.position] = self.acc.subtrees()
        self._next.pop(0)

    def _feed_range(self, pos: int, lh: bytes) -> None:
        while self.ranges and self.ranges[0][1] <= pos:
            self.ranges.pop(0)
        if not self.ranges or pos < self.ranges[0][0]:
            return
        a, b = self.ranges[0]
        if pos == a:
            self._range_acc = RootAccumulator()
        assert self._range_acc is not None
        self._range_acc.append_subtree(lh, 0)
        if pos == b - 1:
            self.range_hashes[(a, b)] = self._range_acc.root()

    # -- per chunk -------------------------------------------------------------------

    def feed(self, rows: list[tuple[int | None, bytes, bytes | None]]) -> None:
        if not rows:
            return
        if self._fast(rows):
            return
        for colseq, entry, stored in rows:
            self._one(colseq, entry, stored)

    def _fast(self, rows: list[tuple[int | None, bytes, bytes | None]]) -> bool:
        n = len(rows)
        first = rows[0][0]
        if first is not None:
            if first != self.expected_seq or rows[-1][0] != first + n - 1:
                return False
        else:
            first = self.expected_seq
        _, entries, stored = zip(*rows)
        leaf = _LEAF_HASHER.copy
        computed = []
        append = computed.append
        for e in entries:
            h = leaf()
            h.update(e)
            append(h.digest())
        if stored[0] is not None and list(stored) != computed:
            return False
        # An entry holding a newline would shift the lines against the entries; the
        # comparison below catches it (the encoder never writes a raw newline).
        try:
            recs = _DECODER.decode_lines(b"\n".join(entries))
        except (msgspec.DecodeError, msgspec.ValidationError):
            return False
        if len(recs) != n or _ENCODER.encode(recs) != b"[" + b",".join(entries) + b"]":
            return False
        if [r.seq for r in recs] != list(range(first, first + n)):
            return False
        # Every ``at`` has the writer's form: digits where the template has 0, the rest
        # exactly (one translate and one comparison instead of a regular expression).
        if ("\n".join([r.at for r in recs]) + "\n").encode("utf-8", "replace").translate(_DIGITS_TO_ZERO) != _AT_TEMPLATE * n:
            return False
        # Everything in order: the tree.
        self._flush_run()
        pos = self.position
        if (self.ranges or n & (n - 1) or pos % n
                or (self._next and self._next[0] < pos + n)):
            for lh in computed:
                self._leaf(lh)
        else:
            self.acc.append_subtree(perfect_root(b"".join(computed)), n.bit_length() - 1)
            self.position = pos + n
            if self._next and self._next[0] == self.position:
                self._reached()
        self.expected_seq += n
        return True

    def finish(self) -> bytes:
        self._flush_run()
        return self.acc.root()


@contextmanager
def no_gc() -> Iterator[None]:
    """The cyclic garbage collector off while millions of acyclic objects (decoded
    entries) are made and dropped: it would otherwise run over them again and again
    (about half the time of a canonical check). Restored afterwards."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def _exact_check(entry: bytes) -> tuple[str | None, int | None]:
    """(problem, seq field) by the writer's own canonical-JSON rules."""
    try:
        value = loads_canonical(entry)
    except NonCanonicalError as exc:
        return f"is not canonical JSON ({exc})", None
    if not isinstance(value, dict) or set(value) != _FIELDS:
        return "is not an object with exactly seq, at, actor, action, object and details", None
    seq = value["seq"]
    if not isinstance(seq, int) or isinstance(seq, bool) or seq < 0:
        return "has a seq that is not a non-negative integer", None
    if not isinstance(value["at"], str) or not _AT_RE.fullmatch(value["at"]):
        return "has an at that is not an RFC 3339 UTC time with microseconds", seq
    for key in ("actor", "action", "object"):
        if not isinstance(value[key], str) or not value[key]:
            return f"has a {key} that is not a non-empty string", seq
    if not isinstance(value["details"], dict):
        return "has details that are not an object", seq
    return None, seq


def _check_targets(engine: _Engine, targets: list[_Target], f: _Findings) -> None:
    held = engine.position
    matched = 0  # the largest size known to match a checkpoint (start of the interval)
    last_size = -1
    for t in targets:
        if not t.ordered:
            continue
        if t.size < last_size:
            f.add("audit.checkpoint_order", f"{t.label} signs {t.size} entries, fewer than an earlier checkpoint ({last_size})",
                  checkpoint=t.ident, seq=t.size)
        last_size = max(last_size, t.size)
    for t in sorted(targets, key=lambda t: t.size):
        if t.size > held:
            f.add("audit.truncated", f"{t.label} signed {t.size} entries but only {held} are present: "
                  f"entries {held}..{t.size - 1} are missing", seq=held, checkpoint=t.ident)
            continue
        if engine.roots.get(t.size) == t.root:
            matched = max(matched, t.size)
            continue
        f.add("audit.inconsistent", f"the tree of the first {t.size} entries does not have the root signed in {t.label}: "
              f"an entry with seq in {matched}..{t.size - 1} was changed, inserted, removed or reordered after it was signed",
              seq=matched, checkpoint=t.ident)


def check_entries(db: Any, start: int, prefix: list[tuple[int, bytes]] = ()) -> tuple[int, list[AuditFinding], bytes]:  # type: ignore[assignment]
    """Check the entries with seq >= ``start`` (leaf hashes, canonical form, seq) and
    compute the root over them, continuing from ``prefix``: the ``(height, hash)`` perfect
    subtrees of ``[0, start)``. Returns the log size seen, the findings and the root (for
    ``checkpoint``, which signs only what it recomputed or already had signed)."""
    f = _Findings()
    engine = _Engine(f, [])
    for height, h in prefix:
        engine.acc.append_subtree(h, height)
    if engine.acc.size != start:
        raise ValueError("prefix does not cover [0, start)")
    engine.position = engine.expected_seq = start
    with no_gc():
        for chunk in sql.iter_row_chunks(db, start):
            engine.feed(chunk)  # type: ignore[arg-type]
    root = engine.finish()
    return engine.expected_seq, f.done(), root


def _report(f: _Findings, engine: _Engine, root: bytes, n_cps: int, verified: int, latest: int | None, *,
            witnessed: int = 0) -> AuditReport:
    findings = f.done()
    findings.sort(key=lambda x: (x.seq if x.seq is not None else -1, x.code))
    return AuditReport(
        ok=not any(x.severity == "error" for x in findings),
        findings=findings,
        summary=AuditSummary(
            entries=engine.position, root=root.hex(), checkpoints=n_cps, checkpoints_verified=verified,
            latest_checkpoint_size=latest, unsigned_entries=max(0, engine.position - (latest or 0)),
            witnessed_checkpoints=witnessed,
        ),
    )
