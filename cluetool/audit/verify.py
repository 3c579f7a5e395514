"""``audit verify`` over the store (docs/audit.md): every entry, the tree, the roots at every
checkpoint size, every checkpoint's signature, and the checkpoints witnessed outside the
home (``cluetool.audit.witness``). The checks and finding codes are
``cluetool.audit.engine``'s.
"""

from __future__ import annotations

from collections.abc import Sequence

import msgspec

from cluetool.audit.checkpoints import TrustedKeys, open_checkpoint, split_note
from cluetool.audit import parallel as par
from cluetool.audit.engine import AuditReport, Progress, _Engine, _Findings, _report, _Target, _check_targets, no_gc
from cluetool.errors import InputError
from cluetool.formats.note import Checkpoint, InvalidNoteSignature, NoteError
from cluetool.store import Store
from cluetool.store import audit_queries as sql


class Witnessed(msgspec.Struct, frozen=True, kw_only=True):
    """A checkpoint seen outside the log (``--against``, a cosigned checkpoint): the log
    must extend it. ``label`` names where it came from in findings."""

    label: str
    note: str


def witnessed_targets(witnessed: Sequence[Witnessed], keys: TrustedKeys, f: _Findings,
                      opened: list[tuple[Checkpoint, str, int | None]]) -> list[_Target]:
    """Targets for checkpoints held outside the log (their signatures checked too)."""
    out = []
    for w in witnessed:
        cp = _open(w.note, keys, w.label, None, f)
        if cp is not None:
            opened.append((cp, w.label, None))
            out.append(_Target(None, cp.size, cp.root, w.label, ordered=False))
    return out


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


def verify_store(store: Store, keys: TrustedKeys, *, against: Sequence[Witnessed] = (),
                 progress: Progress | None = None, parallel: bool = True) -> AuditReport:
    """Verify the store's audit trail (see the module docstring for what is checked).

    ``against``: checkpoints held outside the home (an auditor's, cosigned ones); the log
    must hold each one's size with the same root (``audit.truncated`` or
    ``audit.inconsistent`` naming it otherwise). Without them a rollback of the newest
    entries together with the newest checkpoints, re-signed by someone who holds the
    checkpoint key, cannot be told from a log that never had them.

    A large log is checked on every core (``cluetool.audit.parallel``; ``parallel=False``
    for one pass).

    Raises:
        InputError: no public key given.
    """
    if not keys:
        raise InputError("no public key to check checkpoints with")
    f = _Findings()
    with store.read() as tx:
        rows = sql.list_checkpoints(tx)  # type: ignore[arg-type]
        bounds = sql.seq_bounds(tx)  # type: ignore[arg-type]
        total = 0 if bounds is None else bounds[1] + 1
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
        extra = witnessed_targets(against, keys, f, opened)
        _origins(opened, f)
        sizes = [t.size for t in targets + extra]
        engine = None
        # Blocks cover seq 0 .. max; each checks it holds exactly its range, so together
        # they prove there is nothing else (seq is the integer primary key).
        # (The workers read an SQLite file; a PostgreSQL store is checked in one pass.)
        if parallel and store.backend == "sqlite" and bounds is not None and bounds[0] == 0 and total >= 2 * par.BLOCK:
            engine = par.verify_blocks(str(store.path), total, sizes, f, progress)
        if engine is None:  # a small log, or one with entries out of order: one pass names each problem
            engine = _Engine(f, sizes)
            with no_gc():
                for chunk in sql.iter_row_chunks(tx):  # type: ignore[arg-type]
                    engine.feed(chunk)  # type: ignore[arg-type]
                    if progress is not None:
                        progress(engine.position, total)
        root = engine.finish()
    _check_targets(engine, targets + extra, f)
    if not rows:
        f.add("audit.no_checkpoint", "no checkpoint has been signed yet", severity="warning")
    latest = targets[-1].size if targets else None
    return _report(f, engine, root, len(rows), verified, latest, witnessed=len(extra))
