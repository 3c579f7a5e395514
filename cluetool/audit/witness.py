"""Witnessing (issue 20): what an auditor has seen, held outside the home, against what
the home's log says now.

A local log cannot prove on its own that it was not rolled back: whoever can write
``store.db`` and holds the checkpoint key can drop the newest entries and checkpoints
and sign again. What catches that is a checkpoint kept elsewhere:

- ``audit verify --against FILE…``: each FILE is a checkpoint note (C2SP tlog-checkpoint,
  possibly with cosignatures) or an earlier export directory (its ``checkpoint.txt``);
  the log must hold at least that many entries, with the same root at that size
  (``audit.truncated`` / ``audit.inconsistent`` name the FILE otherwise).
- ``audit witness --export DIR --key AUDITOR.key --state FILE`` (the auditor's side): the
  export must verify and extend the checkpoint in the auditor's state file (the last one
  it cosigned); the export's checkpoint then gets a C2SP tlog-cosignature
  (``cluetool.formats.cosignature``) and becomes the new state.
- ``audit cosignatures import FILE --witness-key VKEY``: the cosigned checkpoint goes into
  the home's ``cosigned/`` directory; ``audit verify`` then requires the log to extend
  every checkpoint found there.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

import msgspec

from cluetool.audit.checkpoints import TrustedKeys, checkpoint_key_name, home_keys, open_checkpoint, split_note
from cluetool.audit.engine import AuditReport
from cluetool.audit.export_verify import CHECKPOINT, verify_export
from cluetool.audit.verify import Witnessed
from cluetool.config import Home, make_private_dir, write_private_file
from cluetool.errors import InputError, StateError
from cluetool.formats import minisign
from cluetool.formats.cosignature import CosignatureSigner, CosignatureVerifier
from cluetool.formats.note import NoteError
from cluetool.model.batch import key_id_hex16

COSIGNED_DIR = "cosigned"
NAME_PREFIX = "cluetool-witness/"


def read_against(paths: Sequence[Path]) -> list[Witnessed]:
    """The checkpoints named by ``--against``: checkpoint note files or export dirs.

    Raises:
        InputError: a path is neither, or unreadable.
    """
    out = []
    for p in paths:
        path = Path(p)
        file = path / CHECKPOINT if path.is_dir() else path
        try:
            note = file.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise InputError(f'--against "{path}": no checkpoint note or export there') from None
        except (OSError, UnicodeDecodeError):
            raise InputError(f'--against "{path}": cannot read "{file}"') from None
        try:
            split_note(note)
        except NoteError as exc:
            raise InputError(f'--against "{path}": not a checkpoint note: {exc}') from None
        out.append(Witnessed(label=f'the witnessed checkpoint "{path}"', note=note))
    return out


def cosigned_dir(home: Home) -> Path:
    return home.root / COSIGNED_DIR


def cosigned_checkpoints(home: Home) -> list[Witnessed]:
    """The cosigned checkpoints imported into the home, oldest size first.

    Raises:
        StateError: a file there cannot be read.
    """
    d = cosigned_dir(home)
    if not d.is_dir():
        return []
    out = []
    for f in sorted(d.glob("*.checkpoint")):
        try:
            note = f.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            raise StateError(f'cannot read cosigned checkpoint "{f}"') from None
        out.append(Witnessed(label=f'the cosigned checkpoint "{f.name}"', note=note))
    return out


class CosignatureImport(msgspec.Struct, kw_only=True):
    path: str
    size: int
    root: str
    witness: str
    timestamp: int
    schema: str = "cluetool.audit-cosignature-import/1"


def read_witness_key(path: Path) -> CosignatureVerifier:
    """A witness's verifier key file (vkey of type 0x04, as ``audit witness`` prints).

    Raises:
        InputError: unreadable or not such a key.
    """
    try:
        text = Path(path).read_text(encoding="utf-8")
        return CosignatureVerifier.from_vkey(text.strip())
    except (OSError, UnicodeDecodeError):
        raise InputError(f'cannot read witness key "{path}"') from None
    except NoteError as exc:
        raise InputError(f'cannot read witness key "{path}": {exc}') from None


def import_cosignature(home: Home, note: str, keys: TrustedKeys, witness: CosignatureVerifier) -> CosignatureImport:
    """Check a cosigned checkpoint (the log's signature with ``keys``, the witness's
    cosignature) and keep it in the home's ``cosigned/`` directory.

    Raises:
        InputError: not a checkpoint, not signed by the log's key or not cosigned by the witness.
        StateError: the directory cannot be written.
    """
    try:
        cp = open_checkpoint(note, keys)
    except NoteError as exc:
        raise InputError(f"not a checkpoint of this log: {exc}") from None
    try:
        cosig = witness.find(note)
    except NoteError as exc:
        raise InputError(f"the checkpoint is not cosigned by {witness.name}: {exc}") from None
    d = cosigned_dir(home)
    name = f"{cp.size:020d}-{cp.root.hex()[:16]}-{witness.key_id:08x}.checkpoint"
    try:
        make_private_dir(d)
        write_private_file(d / name, note.encode("utf-8"))
    except OSError as exc:
        raise StateError(f'cannot write "{d / name}": {exc.strerror}') from None
    return CosignatureImport(path=str(d / name), size=cp.size, root=cp.root.hex(), witness=witness.vkey,
                             timestamp=cosig.timestamp)


def import_cosignature_file(home: Home, file: Path, *, witness_key: Path, key_names: Sequence[str] = ()) -> CosignatureImport:
    """``audit cosignatures import``: read the files, check with the home's log keys.

    Raises:
        InputError, StateError: as ``import_cosignature``; unreadable files.
    """
    try:
        note = Path(file).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        raise InputError(f'cannot read cosigned checkpoint "{file}"') from None
    keys = TrustedKeys()
    for name in key_names or [checkpoint_key_name(home)]:
        keys.raw += home_keys(home, name).raw
    return import_cosignature(home, note, keys, read_witness_key(witness_key))


def read_witness_secret_key(path: Path, passphrase: bytes | None = None) -> minisign.SecretKey:
    """The witness's minisign secret key file (``minisign -G`` or ``cluetool keys generate``).

    Raises:
        InputError: unreadable, malformed, or a protected key without its passphrase.
    """
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        raise InputError(f'cannot read witness key "{path}"') from None
    try:
        return minisign.SecretKey.parse(text, passphrase)
    except minisign.MinisignError as exc:
        raise InputError(f'cannot use witness key "{path}": {exc}',
                         hint="a protected key needs --passphrase-file FILE or --passphrase-env VAR") from None


# --------------------------------------------------------------------------- the auditor's side


class WitnessResult(msgspec.Struct, kw_only=True):
    """The outcome of ``audit witness``: ``ok`` false means nothing was cosigned."""

    ok: bool
    origin: str | None
    size: int | None
    previous_size: int | None
    out: str | None
    witness_key: str
    report: AuditReport
    schema: str = "cluetool.audit-witness/1"


def witness_name(sk: minisign.SecretKey) -> str:
    return NAME_PREFIX + key_id_hex16(sk.public_key.key_id)


def witness(
    export_dir: Path, *, log_keys: TrustedKeys, witness_key: minisign.SecretKey, state: Path, out: Path,
    now: datetime, name: str | None = None,
) -> WitnessResult:
    """Verify an export, require it to extend the checkpoint in ``state`` (if any), then
    cosign its checkpoint, write it to ``out`` and make it the new state.

    Raises:
        InputError: unreadable export or state, a state of another log.
        StateError: ``out`` or ``state`` cannot be written.
    """
    signer = CosignatureSigner(name or witness_name(witness_key), witness_key.private_key)
    previous: list[Witnessed] = []
    if state.exists():
        try:
            prev_note = state.read_text(encoding="utf-8")
            split_note(prev_note)
        except (OSError, UnicodeDecodeError, NoteError):
            raise InputError(f'cannot read the witness state "{state}"') from None
        previous.append(Witnessed(label=f'the last checkpoint witnessed ("{state}")', note=prev_note))
    report = verify_export(export_dir, log_keys, against=previous)
    note = (Path(export_dir) / CHECKPOINT).read_text(encoding="utf-8")
    cp = split_note(note)
    prev_size = split_note(previous[0].note).size if previous else None
    if previous and split_note(previous[0].note).origin != cp.origin:
        raise InputError(f'the witness state "{state}" is of log {split_note(previous[0].note).origin!r}, '
                         f"the export of {cp.origin!r}")
    if not report.ok:
        return WitnessResult(ok=False, origin=cp.origin, size=cp.size, previous_size=prev_size, out=None,
                             witness_key=signer.verifier.vkey, report=report)
    cosigned = signer.cosign(note, int(now.timestamp()))
    data = cosigned.encode("utf-8")
    try:
        write_private_file(out, data, mode=0o644)
        write_private_file(state, data)
    except OSError as exc:
        raise StateError(f"cannot write the cosigned checkpoint: {exc.strerror}") from None
    return WitnessResult(ok=True, origin=cp.origin, size=cp.size, previous_size=prev_size, out=str(out),
                         witness_key=signer.verifier.vkey, report=report)
