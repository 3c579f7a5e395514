"""Inclusion and consistency proofs of the store's audit log against its signed
checkpoints (``audit prove``), and their check with no store (``audit check-proof``)
(docs/audit.md)."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Literal

import msgspec

from cluetool.audit.checkpoints import TrustedKeys, open_checkpoint, split_note
from cluetool.audit.engine import AuditFinding, _exact_check, _Findings
from cluetool.audit.tree import AuditTree
from cluetool.errors import FindingsError, InputError, StateError
from cluetool.formats.merkle import InvalidProof, verify_consistency, verify_inclusion
from cluetool.formats.note import Checkpoint, InvalidNoteSignature, NoteError
from cluetool.store import Store
from cluetool.store import audit_queries as sql
from cluetool.store.audit_entries import leaf_hash

_sha256 = hashlib.sha256


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
        InputError: no entry ``seq`` in the log, or one newer than the latest checkpoint.
        FindingsError: the stored log no longer matches the checkpoint.
    """
    with store.read() as tx:
        cp = _latest(tx)  # type: ignore[arg-type]
        if not isinstance(seq, int) or not 0 <= seq < cp.size:
            bounds = sql.seq_bounds(tx)  # type: ignore[arg-type]
            if isinstance(seq, int) and bounds is not None and cp.size <= seq <= bounds[1]:
                raise InputError(f"entry {seq} is newer than the latest checkpoint ({cp.size} entries)",
                                 hint="sign a new one first: cluetool audit checkpoint")
            last = bounds[1] if bounds is not None else -1
            raise InputError(f"there is no audit entry {seq}: the log has {last + 1} entries, 0 to {last}",
                             hint="find an entry's number with: cluetool audit log")
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


# --------------------------------------------------------------------------- checking proof files


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
