"""``audit export``: the audit trail as files an auditor verifies with no store and no
home (``cluetool audit verify --export DIR --key LOG.pub``, the key obtained out of band).

An export holds the entries the latest checkpoint signs, and nothing unsigned:

- ``entries.jsonl`` — the exact canonical bytes of entries 0 .. size-1, one per line
  (canonical JSON never holds a raw newline); the leaf hash of line ``i`` is
  ``SHA-256(0x00 || line)`` without its newline;
- ``checkpoint.txt`` — the latest checkpoint, the C2SP signed note verbatim;
- ``checkpoints.jsonl`` — every checkpoint up to it, oldest first, as canonical JSON
  ``{"at", "id", "note", "size"}`` (the roots at their sizes narrow down where a change
  happened);
- ``key.pub`` — the home's minisign public key; ``key.vkey`` — the same key as the
  signed-note verifier key of the log's origin (what other tlog tools take).

``key.pub`` is included for convenience, never as a trust anchor: whoever could forge the
export could write that key too, so ``audit verify --export`` refuses it unless the log's
key (or its fingerprint, ``key_fingerprint`` in the result) is given out of band.
Entries appended after the latest checkpoint are left out (``unsigned_entries`` says how
many): run ``audit checkpoint`` first to include them.
"""

from __future__ import annotations

import os
from pathlib import Path

import msgspec

from cluetool.audit.checkpoints import TrustedKeys, key_fingerprint, open_checkpoint, split_note
from cluetool.audit.export_verify import CHECKPOINT, CHECKPOINTS, ENTRIES, ExportedCheckpoint
from cluetool.config import fsync_dir, make_private_dir, write_private_file
from cluetool.errors import FindingsError, InputError, StateError
from cluetool.formats import minisign
from cluetool.formats.canonical import dumps
from cluetool.formats.note import NoteError, NoteVerifier
from cluetool.store import Store
from cluetool.store import audit_queries as sql
from cluetool.store.audit_entries import audit_size


class ExportResult(msgspec.Struct, kw_only=True):
    directory: str
    entries: int
    checkpoint_size: int
    root: str
    files: list[str]
    unsigned_entries: int
    key_fingerprint: str = ""
    schema: str = "cluetool.audit-export/1"


def export(store: Store, out: Path, *, public_key_text: str) -> ExportResult:
    """Write the export described in the module docstring into ``out`` (created; it must
    not exist or be empty).

    Raises:
        InputError: ``out`` exists and is not an empty directory; a bad public key.
        StateError: no checkpoint yet, or the latest is not signed by that key.
        FindingsError: the stored log does not reach the checkpoint's size.
    """
    out = Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise InputError(f'export directory "{out}" exists and is not empty')
    try:
        pub = minisign.PublicKey.parse(public_key_text)
    except minisign.MinisignError as exc:
        raise InputError(f"cannot read the public key: {exc}") from None
    with store.read() as tx:
        latest = sql.latest_checkpoint(tx)  # type: ignore[arg-type]
        if latest is None:
            raise StateError("the audit log has no checkpoint to export", hint="run: cluetool audit checkpoint")
        try:
            cp = open_checkpoint(latest.note, TrustedKeys(raw=[pub.key]))
        except NoteError:
            raise StateError(f"the latest checkpoint ({latest.id}) is not signed by this key",
                             hint="pass the key that signs the log with --key") from None
        size = cp.size
        total = audit_size(tx)  # type: ignore[arg-type]
        try:
            make_private_dir(out)
            entries_path = out / ENTRIES
            tmp = out / f".{ENTRIES}.tmp"
            count = 0
            with open(tmp, "wb") as fh:
                for e in sql.iter_entry_range(tx, 0, size):  # type: ignore[arg-type]
                    if e.seq != count:
                        raise FindingsError(f"audit log has a gap at seq {count}", hint="run: cluetool audit verify")
                    if b"\n" in e.entry:
                        raise FindingsError(f"audit entry {e.seq} holds a newline: it is not canonical",
                                            hint="run: cluetool audit verify")
                    fh.write(e.entry + b"\n")
                    count += 1
                fh.flush()
                os.fsync(fh.fileno())
            if count != size:
                tmp.unlink(missing_ok=True)
                raise FindingsError(f"the audit log holds {count} entries, fewer than its checkpoint signs ({size})",
                                    hint="run: cluetool audit verify")
            os.replace(tmp, entries_path)
            lines = [
                dumps(ExportedCheckpoint(id=r.id, at=r.at, size=r.size, note=r.note)) + b"\n"
                for r in sql.list_checkpoints(tx)  # type: ignore[arg-type]
                if r.id <= latest.id
            ]
        except OSError as exc:
            raise StateError(f'cannot write export "{out}": {exc.strerror}') from None
    origin = split_note(latest.note).origin
    files = {
        CHECKPOINT: latest.note.encode("utf-8"),
        CHECKPOINTS: b"".join(lines),
        "key.pub": pub.to_file_text().encode("utf-8"),
        "key.vkey": (NoteVerifier.from_public_bytes(origin, pub.key).vkey + "\n").encode("ascii"),
    }
    try:
        for name, data in files.items():
            write_private_file(out / name, data, mode=0o644)
        os.chmod(entries_path, 0o644)
        fsync_dir(out)
    except OSError as exc:
        raise StateError(f'cannot write export "{out}": {exc.strerror}') from None
    return ExportResult(
        directory=str(out), entries=size, checkpoint_size=size, root=cp.root.hex(),
        files=sorted([ENTRIES, *files]), unsigned_entries=max(0, total - size), key_fingerprint=key_fingerprint(pub.key),
    )
