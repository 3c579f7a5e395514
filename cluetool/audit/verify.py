"""``audit verify`` and ``audit check-proof`` (DESIGN §9): recompute every leaf from its
entry, the tree, the roots at every checkpoint size, and check every checkpoint's
signature; also the same over an export (no store, no home) and proof files.

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

Speed: rows stream in chunks of 4096 (``cluetool.store.auditlog.iter_row_chunks``). A
chunk in which everything is in order is checked in bulk: leaf hashes in one list
comprehension, canonical form by decoding all entries with one msgspec call and
comparing the re-encoding with the original bytes, and the tree by hashing the chunk as
one perfect subtree. Any anomaly sends the chunk through the per-entry path, which names
the entry and uses ``cluetool.formats.canonical`` (the writer's definition) as the judge.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Annotated, Any, Literal

import msgspec

from cluetool.audit.checkpoints import TrustedKeys, open_checkpoint, split_note
from cluetool.audit.log import (
    CompactRange,
    ConsistencyProof,
    InclusionProof,
    consistency_ranges,
    perfect_root,
)
from cluetool.errors import FindingsError, InputError
from cluetool.formats.canonical import NonCanonicalError, loads_canonical
from cluetool.formats.merkle import EMPTY_ROOT, InvalidProof, verify_consistency, verify_inclusion
from cluetool.formats.note import Checkpoint, InvalidNoteSignature, NoteError
from cluetool.store import Store
from cluetool.store import auditlog as sql

Progress = Callable[[int, int], None]
SCHEMA = "cluetool.audit-verify/1"
MAX_PER_CODE = 100
_FIELDS = {"seq", "at", "actor", "action", "object", "details"}
_AT = r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{6}Z"
_AT_RE = re.compile(_AT)
_ATS_RE = re.compile(f"(?:{_AT}\n)*")
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

    def __init__(self, ident: int | None, size: int, root: bytes, label: str) -> None:
        self.ident, self.size, self.root, self.label = ident, size, root, label


class _Engine:
    """Checks entries fed in order and computes the roots at the requested sizes."""

    def __init__(self, findings: _Findings, sizes: Iterable[int], ranges: list[tuple[int, int]] = ()) -> None:  # type: ignore[assignment]
        self.f = findings
        self.position = 0  # leaves seen (the tree size so far)
        self.expected_seq = 0  # the next stored seq (differs from position after a gap)
        self.acc = CompactRange()
        self.sizes = sorted(set(sizes))
        self.roots: dict[int, bytes] = {0: EMPTY_ROOT}
        self._next = [s for s in self.sizes if s > 0]
        self._run: tuple[int, int, int] | None = None  # (offset, first ref, last ref)
        self.ranges = sorted(ranges)
        self.range_hashes: dict[tuple[int, int], bytes] = {}
        self._range_acc: CompactRange | None = None

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
        ref = colseq if colseq is not None else self.position
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
            self.roots[self.position] = self.acc.root()
            self._next.pop(0)

    def _feed_range(self, pos: int, lh: bytes) -> None:
        while self.ranges and self.ranges[0][1] <= pos:
            self.ranges.pop(0)
        if not self.ranges or pos < self.ranges[0][0]:
            return
        a, b = self.ranges[0]
        if pos == a:
            self._range_acc = CompactRange()
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
            first = self.position
        entries = [r[1] for r in rows]
        computed = [_sha256(b"\x00" + e).digest() for e in entries]
        if rows[0][2] is not None and [r[2] for r in rows] != computed:
            return False
        joined = b"\n".join(entries)
        if joined.count(b"\n") != n - 1:
            return False
        try:
            recs = _DECODER.decode_lines(joined)
        except (msgspec.DecodeError, msgspec.ValidationError):
            return False
        if len(recs) != n or _ENCODER.encode(recs) != b"[" + b",".join(entries) + b"]":
            return False
        if [r.seq for r in recs] != list(range(first, first + n)):
            return False
        if _ATS_RE.fullmatch("\n".join([r.at for r in recs]) + "\n") is None:
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
                self.roots[self.position] = self.acc.root()
                self._next.pop(0)
        self.expected_seq += n
        return True

    def finish(self) -> bytes:
        self._flush_run()
        return self.acc.root()


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


def _open(note: str, keys: TrustedKeys, label: str, ident: int | None, f: _Findings) -> Checkpoint | None:
    """The checkpoint in ``note`` (even when its signature fails, so the tree can still be
    compared); ``None`` when it is not a checkpoint note at all."""
    try:
        cp = split_note(note)
    except NoteError as exc:
        f.add("audit.checkpoint_malformed", f"{label} is not a checkpoint note: {exc}", checkpoint=ident)
        return None
    try:
        open_checkpoint(note, keys)
    except (InvalidNoteSignature, NoteError):
        f.add("audit.checkpoint_signature", f"{label} is not signed by the given key", checkpoint=ident)
    return cp


def _origins(cps: list[tuple[Checkpoint, str, int | None]], f: _Findings) -> None:
    if not cps:
        return
    origin = cps[0][0].origin
    for cp, label, ident in cps[1:]:
        if cp.origin != origin:
            f.add("audit.origin", f"{label} names origin {cp.origin!r}, not {origin!r}", checkpoint=ident)


def verify_store(store: Store, keys: TrustedKeys, *, progress: Progress | None = None) -> AuditReport:
    """Verify the store's audit trail (see the module docstring for what is checked).

    Raises:
        InputError: no public key given.
    """
    if not keys:
        raise InputError("no public key to check checkpoints with")
    f = _Findings()
    with store.read() as tx:
        rows = sql.list_checkpoints(tx)  # type: ignore[arg-type]
        total = sql.entry_count(tx)  # type: ignore[arg-type]
        targets: list[_Target] = []
        opened: list[tuple[Checkpoint, str, int | None]] = []
        verified = 0
        for r in rows:
            label = f"checkpoint {r.id} (signed {r.at})"
            before = f.counts.get("audit.checkpoint_signature", 0)
            cp = _open(r.note, keys, label, r.id, f)
            if cp is None:
                continue
            if f.counts.get("audit.checkpoint_signature", 0) == before:
                verified += 1
            if cp.size != r.size or cp.root != r.root:
                f.add("audit.checkpoint_malformed", f"{label}: the stored size or root differs from its signed note", checkpoint=r.id)
            opened.append((cp, label, r.id))
            targets.append(_Target(r.id, cp.size, cp.root, label))
        _origins(opened, f)
        engine = _Engine(f, [t.size for t in targets])
        for chunk in sql.iter_row_chunks(tx):  # type: ignore[arg-type]
            engine.feed(chunk)  # type: ignore[arg-type]
            if progress is not None:
                progress(engine.position, total)
        root = engine.finish()
    _check_targets(engine, targets, f)
    if not rows:
        f.add("audit.no_checkpoint", "no checkpoint has been signed yet", severity="warning")
    latest = targets[-1].size if targets else None
    return _report(f, engine, root, len(rows), verified, latest)


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
    for chunk in sql.iter_row_chunks(db, start):
        engine.feed(chunk)  # type: ignore[arg-type]
    root = engine.finish()
    return engine.expected_seq, f.done(), root


def _report(f: _Findings, engine: _Engine, root: bytes, n_cps: int, verified: int, latest: int | None) -> AuditReport:
    findings = f.done()
    findings.sort(key=lambda x: (x.seq if x.seq is not None else -1, x.code))
    return AuditReport(
        ok=not any(x.severity == "error" for x in findings),
        findings=findings,
        summary=AuditSummary(
            entries=engine.position, root=root.hex(), checkpoints=n_cps, checkpoints_verified=verified,
            latest_checkpoint_size=latest, unsigned_entries=max(0, engine.position - (latest or 0)),
        ),
    )


# --------------------------------------------------------------------------- exports


class ExportedCheckpoint(msgspec.Struct, kw_only=True):
    """One line of an export's ``checkpoints.jsonl``."""

    id: int
    at: str
    size: int
    note: str


ENTRIES = "entries.jsonl"
CHECKPOINT = "checkpoint.txt"
CHECKPOINTS = "checkpoints.jsonl"


def _read_text(path: Path, what: str) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(f'not an audit export: no {what} "{path}"') from None
    except (OSError, UnicodeDecodeError):
        raise InputError(f'cannot read {what} "{path}"') from None


def _export_checkpoints(directory: Path) -> list[tuple[int | None, str, str]]:
    """``(id, label, note)`` of the export's checkpoints, the latest last."""
    latest = _read_text(directory / CHECKPOINT, "checkpoint")
    out: list[tuple[int | None, str, str]] = []
    path = directory / CHECKPOINTS
    if path.exists():
        for number, line in enumerate(_read_text(path, "checkpoint list").splitlines(), 1):
            try:
                c = msgspec.json.decode(line, type=ExportedCheckpoint)
            except msgspec.MsgspecError:
                raise InputError(f'cannot read "{path}": line {number} is not a checkpoint record') from None
            out.append((c.id, f"checkpoint {c.id} (signed {c.at})", c.note))
    if not out or out[-1][2] != latest:
        out.append((None, f"the export's {CHECKPOINT}", latest))
    return out


def _iter_lines(path: Path, f: _Findings) -> Iterator[list[tuple[int | None, bytes, bytes | None]]]:
    try:
        fh = open(path, "rb")
    except FileNotFoundError:
        raise InputError(f'not an audit export: no entries file "{path}"') from None
    except OSError as exc:
        raise InputError(f'cannot read "{path}": {exc.strerror}') from None
    position = 0
    with fh:
        while True:
            lines = fh.readlines(1 << 20)
            if not lines:
                return
            chunk: list[tuple[int | None, bytes, bytes | None]] = []
            for line in lines:
                if line.endswith(b"\n"):
                    line = line[:-1]
                else:
                    f.add("audit.noncanonical", f"entry {position} is not terminated by a newline", seq=position)
                chunk.append((None, line, None))
                position += 1
                if len(chunk) == sql.CHUNK:
                    yield chunk
                    chunk = []
            if chunk:
                yield chunk


def _verify_export_into(directory: Path, keys: TrustedKeys, f: _Findings, *, progress: Progress | None,
                        ranges: list[tuple[int, int]] = ()) -> tuple[_Engine, bytes, list[_Target], int]:  # type: ignore[assignment]
    directory = Path(directory)
    if not directory.is_dir():
        raise InputError(f'not an audit export: "{directory}" is not a directory')
    targets: list[_Target] = []
    opened: list[tuple[Checkpoint, str, int | None]] = []
    verified = 0
    for ident, label, note in _export_checkpoints(directory):
        before = f.counts.get("audit.checkpoint_signature", 0)
        cp = _open(note, keys, label, ident, f)
        if cp is None:
            continue
        if f.counts.get("audit.checkpoint_signature", 0) == before:
            verified += 1
        opened.append((cp, label, ident))
        targets.append(_Target(ident, cp.size, cp.root, label))
    _origins(opened, f)
    engine = _Engine(f, [t.size for t in targets], list(ranges))
    total = (directory / ENTRIES).stat().st_size if (directory / ENTRIES).exists() else 0
    done = 0
    for chunk in _iter_lines(directory / ENTRIES, f):
        engine.feed(chunk)
        done += sum(len(c[1]) + 1 for c in chunk)
        if progress is not None:
            progress(min(done, total), total)
    root = engine.finish()
    _check_targets(engine, targets, f)
    if targets and engine.position > targets[-1].size:
        f.add("audit.extra_entries", f"the export holds {engine.position} entries but its checkpoint covers "
              f"{targets[-1].size}: entries {targets[-1].size}.. are not signed", seq=targets[-1].size)
    return engine, root, targets, verified


def verify_export(directory: Path, keys: TrustedKeys, *, previous: Path | None = None,
                  progress: Progress | None = None) -> AuditReport:
    """Verify an ``audit export`` directory with no store: every entry, the tree, the
    checkpoints' signatures and roots. With ``previous`` (an earlier export of the same
    log), also that the earlier export's entries are an exact prefix of this one's and
    that a consistency proof links the two latest checkpoints.

    Raises:
        InputError: no key given, or the directory is not an export.
    """
    if not keys:
        raise InputError("no public key to check the checkpoints with (--key FILE)")
    f = _Findings()
    ranges: list[tuple[int, int]] = []
    old_cp: Checkpoint | None = None
    if previous is not None:
        pf = _Findings()
        _, _, old_targets, _ = _verify_export_into(Path(previous), keys, pf, progress=None)
        for x in pf.done():
            f.add(x.code, f"previous export: {x.message}", seq=x.seq, checkpoint=x.checkpoint, severity=x.severity)
        old_notes = _export_checkpoints(Path(previous))
        try:
            old_cp = split_note(old_notes[-1][2])
        except NoteError:
            old_cp = None
    new_notes = _export_checkpoints(Path(directory))
    try:
        new_cp: Checkpoint | None = split_note(new_notes[-1][2])
    except NoteError:
        new_cp = None
    if old_cp is not None and new_cp is not None and old_cp.size <= new_cp.size:
        ranges = consistency_ranges(old_cp.size, new_cp.size)
    engine, root, targets, verified = _verify_export_into(Path(directory), keys, f, progress=progress, ranges=ranges)
    if previous is not None and old_cp is not None and new_cp is not None:
        _compare_previous(Path(previous), Path(directory), old_cp, new_cp, engine, f)
    latest = targets[-1].size if targets else None
    return _report(f, engine, root, len(targets), verified, latest)


def _compare_previous(previous: Path, directory: Path, old: Checkpoint, new: Checkpoint, engine: _Engine,
                      f: _Findings) -> None:
    if old.origin != new.origin:
        f.add("audit.origin", f"the previous export is of log {old.origin!r}, this one of {new.origin!r}")
    if old.size > new.size:
        f.add("audit.truncated", f"the previous export's checkpoint signed {old.size} entries, this one only "
              f"{new.size}: entries {new.size}..{old.size - 1} are gone", seq=new.size)
        return
    # The earlier export's entries must be an exact prefix of this one's.
    with open(previous / ENTRIES, "rb") as a, open(directory / ENTRIES, "rb") as b:
        for seq, (x, y) in enumerate(zip(a, b)):
            if seq >= old.size:
                break
            if x != y:
                f.add("audit.prefix_mismatch", f"entry {seq} differs from the previous export's", seq=seq)
    # And the signed heads must be linked by a consistency proof (RFC 9162 §2.1.4).
    proof = [engine.range_hashes.get(r) for r in consistency_ranges(old.size, new.size)]
    try:
        if any(p is None for p in proof):
            raise InvalidProof("the export is too short to build the proof")
        verify_consistency(old.size, new.size, proof, old.root, new.root)  # type: ignore[arg-type]
    except InvalidProof as exc:
        f.add("audit.inconsistent", f"the previous checkpoint ({old.size} entries) is not consistent with this one "
              f"({new.size} entries): {exc}", seq=0)


# --------------------------------------------------------------------------- proofs


class ProofCheck(msgspec.Struct, kw_only=True):
    """The result of ``audit check-proof``. ``signature_checked`` is false when no key
    was given: the Merkle proof then holds only against the root the file itself names."""

    ok: bool
    type: str
    signature_checked: bool
    findings: list[AuditFinding]
    tree_size: int | None = None
    leaf_index: int | None = None
    from_size: int | None = None
    origin: str | None = None
    schema: str = "cluetool.audit-proof-check/1"


def _hexes(values: list[str], what: str) -> list[bytes]:
    try:
        out = [bytes.fromhex(v) for v in values]
    except ValueError:
        raise InputError(f"proof file: {what} is not hex") from None
    return out


def _note_checkpoint(note: str, keys: TrustedKeys | None, label: str, f: _Findings) -> Checkpoint | None:
    if keys:
        try:
            return open_checkpoint(note, keys)
        except (InvalidNoteSignature, NoteError):
            f.add("audit.checkpoint_signature", f"{label} is not signed by the given key")
            try:
                return split_note(note)
            except NoteError:
                return None
    try:
        return split_note(note)
    except NoteError as exc:
        f.add("audit.checkpoint_malformed", f"{label} is not a checkpoint note: {exc}")
        return None


def check_proof(data: bytes, keys: TrustedKeys | None = None) -> ProofCheck:
    """Verify an ``audit prove`` JSON document without a store.

    Raises:
        InputError: not a proof document.
    """
    try:
        doc = msgspec.json.decode(data, type=InclusionProof | ConsistencyProof)
    except msgspec.MsgspecError as exc:
        raise InputError(f"not an audit proof: {exc}") from None
    f = _Findings()
    signed = bool(keys)
    if isinstance(doc, InclusionProof):
        (lh,) = _hexes([doc.leaf_hash], "leaf_hash")
        proof = _hexes(doc.proof, "proof")
        cp = _note_checkpoint(doc.checkpoint, keys, "the proof's checkpoint", f)
        if doc.entry is not None:
            entry = doc.entry.encode("utf-8")
            if _sha256(b"\x00" + entry).digest() != lh:
                f.add("audit.leaf_mismatch", "the entry does not hash to the proof's leaf hash", seq=doc.leaf_index)
            problem, seq = _exact_check(entry)
            if problem is not None or seq != doc.leaf_index:
                f.add("audit.noncanonical", f"the entry {problem or f'carries seq {seq}'}", seq=doc.leaf_index)
        if cp is not None:
            if cp.size != doc.tree_size:
                f.add("audit.proof_invalid", f"the proof is for {doc.tree_size} entries, the checkpoint signs {cp.size}")
            try:
                verify_inclusion(lh, doc.leaf_index, cp.size, proof, cp.root)
            except InvalidProof as exc:
                f.add("audit.proof_invalid", f"inclusion proof of entry {doc.leaf_index} does not verify: {exc}",
                      seq=doc.leaf_index)
        items = f.done()
        return ProofCheck(ok=not items, type="inclusion", signature_checked=signed, findings=items,
                          tree_size=doc.tree_size, leaf_index=doc.leaf_index, origin=cp.origin if cp else None)
    roots = _hexes([doc.from_root, doc.to_root], "root")
    proof = _hexes(doc.proof, "proof")
    origin = None
    for note, size, root, label in ((doc.from_checkpoint, doc.from_size, roots[0], "the first checkpoint"),
                                    (doc.to_checkpoint, doc.to_size, roots[1], "the second checkpoint")):
        if note is None:
            if keys and size > 0:
                f.add("audit.checkpoint_signature", f"{label} is missing, so the root at size {size} is not signed",
                      severity="warning")
            continue
        cp = _note_checkpoint(note, keys, label, f)
        if cp is not None:
            origin = cp.origin
            if cp.size != size or cp.root != root:
                f.add("audit.proof_invalid", f"{label} does not sign the size and root the proof names")
    try:
        verify_consistency(doc.from_size, doc.to_size, proof, roots[0], roots[1])
    except InvalidProof as exc:
        f.add("audit.proof_invalid", f"consistency proof from {doc.from_size} to {doc.to_size} does not verify: {exc}")
    items = f.done()
    return ProofCheck(ok=not any(x.severity == "error" for x in items), type="consistency", signature_checked=signed,
                      findings=items, tree_size=doc.to_size, from_size=doc.from_size, origin=origin)
