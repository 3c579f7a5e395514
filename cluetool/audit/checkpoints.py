"""Signed checkpoints of the audit tree (docs/audit.md): C2SP tlog-checkpoint v1.0.0 notes
(c2sp.org/tlog-checkpoint) signed with the home's Ed25519 key as a C2SP signed-note
v1.0.0 Ed25519 (type 0x01) signature.

Origin: the log's identity, the first line of every checkpoint. It defaults to
``cluetool/<key id>`` (the 16 hex digits of the minisign key id of the key that signs the
log's *first* checkpoint) and then never changes: later checkpoints reuse the stored
origin, so a key rotation does not turn the log into another log. A caller may choose an
origin for the first checkpoint (``origin=``); a different origin later is refused. The
note's key name is the origin (tlog-checkpoint: the key name SHOULD equal the origin), so
the verifier key of a log is ``NoteVerifier.from_public_bytes(origin, <Ed25519 key>)``;
``vkey`` files name it directly.

A checkpoint is never signed for a tree that does not extend the previous checkpoint
(tlog-checkpoint: a log MUST NOT sign two inconsistent checkpoints): ``checkpoint``
recomputes the leaf hashes of the entries added since then from their bytes and checks
the tree at the previous size against the previous root first.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Literal

import msgspec

from cluetool.audit.engine import check_entries
from cluetool.audit.tree import AuditTree
from cluetool.config import Home
from cluetool.keys import generate
from cluetool.errors import FindingsError, InputError, StateError
from cluetool.formats import minisign
from cluetool.formats.merkle import decompose
from cluetool.formats.note import (
    Checkpoint,
    MalformedNote,
    NoteError,
    NoteSigner,
    NoteVerifier,
    format_checkpoint,
    open_note,
    parse_checkpoint,
    sign_note,
)
from cluetool.model.batch import key_id_hex16
from cluetool.store import Store, Tx
from cluetool.store import audit_queries as sql
from cluetool.store.audit_entries import format_time

ORIGIN_PREFIX = "cluetool/"
# The name of a home's dedicated checkpoint key (``audit key generate``).
CHECKPOINT_KEY = "audit"


class CheckpointInfo(msgspec.Struct, kw_only=True):
    """A stored checkpoint. ``created`` is false when the tree had not grown since the
    latest checkpoint (that one is returned instead of a duplicate)."""

    id: int
    size: int
    root: str
    origin: str
    at: str
    note: str
    created: bool = True
    schema: str = "cluetool.audit-checkpoint/1"


class TrustedKeys:
    """The public keys a checkpoint may be signed with: raw Ed25519 keys (from minisign
    ``.pub`` files; the key name is the checkpoint's origin) and note verifier keys."""

    def __init__(self, raw: Iterable[bytes] = (), vkeys: Iterable[NoteVerifier] = ()) -> None:
        self.raw = [bytes(k) for k in raw]
        self.vkeys = list(vkeys)

    def verifiers(self, origin: str) -> list[NoteVerifier]:
        out = list(self.vkeys)
        for key in self.raw:
            try:
                out.append(NoteVerifier.from_public_bytes(origin, key))
            except ValueError:
                continue  # an origin that is not a valid key name: no raw key can match
        return out

    def __bool__(self) -> bool:
        return bool(self.raw or self.vkeys)


def _private_key(sk: minisign.SecretKey) -> object:
    return sk.private_key


def default_origin(sk: minisign.SecretKey) -> str:
    return ORIGIN_PREFIX + key_id_hex16(sk.public_key.key_id)


def note_signer(origin: str, sk: minisign.SecretKey) -> NoteSigner:
    """The signed-note signer for ``origin`` with the home's minisign secret key.

    Raises:
        InputError: the origin is not a valid note key name.
    """
    try:
        return NoteSigner(origin, _private_key(sk))  # type: ignore[arg-type]
    except ValueError:
        raise InputError(f"invalid checkpoint origin {origin!r}: no spaces or '+'") from None


def split_note(note: str) -> Checkpoint:
    """The checkpoint in a note, without checking its signature.

    Raises:
        MalformedNote: not a note whose text is a checkpoint.
    """
    split = note.rfind("\n\n")
    if split < 0:
        raise MalformedNote("note has no blank line before its signatures")
    return parse_checkpoint(note[: split + 1])


def open_checkpoint(note: str, keys: TrustedKeys) -> Checkpoint:
    """Verify a checkpoint note's signature with ``keys`` and parse it.

    Raises:
        MalformedNote: not a checkpoint note.
        InvalidNoteSignature: not signed by any of ``keys`` (or a bad signature by one).
    """
    origin = split_note(note).origin
    opened = open_note(note, keys.verifiers(origin))
    return parse_checkpoint(opened.text)


def _info(row: sql.CheckpointRow, created: bool) -> CheckpointInfo:
    try:
        origin = split_note(row.note).origin
    except NoteError:
        origin = ""
    return CheckpointInfo(id=row.id, size=row.size, root=row.root.hex(), origin=origin, at=row.at,
                          note=row.note, created=created)


def write_checkpoint(
    tx: Tx, signer_secret_key: minisign.SecretKey, *, now: datetime, origin: str | None = None,
    cache_dir: Path | None | Literal["default"] = "default",
) -> CheckpointInfo:
    """``checkpoint`` inside a write transaction the caller holds (e.g. an import's).

    Raises:
        as ``checkpoint``.
    """
    # The log must not grow while it is read and signed: on PostgreSQL each statement of a
    # READ COMMITTED transaction sees other commits, so appenders are held off here, as
    # they are by SQLite's single writer (a transaction that appended holds it already).
    tx.lock("audit")
    latest = sql.latest_checkpoint(tx)
    prev: Checkpoint | None = None
    if latest is not None:
        try:
            prev = split_note(latest.note)
        except NoteError:
            raise FindingsError(f"checkpoint {latest.id} is not a valid checkpoint note",
                                hint="run: cluetool audit verify") from None
        if prev.size != latest.size or prev.root != latest.root:
            raise FindingsError(f"checkpoint {latest.id} differs from its note", hint="run: cluetool audit verify")
        if origin is not None and origin != prev.origin:
            raise InputError(f"this log's origin is {prev.origin!r}; it cannot change to {origin!r}")
        origin = prev.origin
    elif origin is None:
        origin = default_origin(signer_secret_key)
    signer = note_signer(origin, signer_secret_key)
    start = latest.size if latest is not None else 0
    # Never trust the tree cache for what is signed: the prefix up to the previous
    # checkpoint comes from the cache only after its root matched the signed one, and the
    # entries since are re-read, re-hashed and checked (a checkpoint vouches for them).
    with AuditTree(tx, cache_dir=cache_dir) as tree:
        if latest is not None and tree.size < latest.size:
            raise FindingsError(f"the audit log holds {tree.size} entries, fewer than checkpoint {latest.id} signed",
                                hint="run: cluetool audit verify")
        prefix: list[tuple[int, bytes]] = []
        if latest is not None:
            if tree.root(latest.size) != latest.root:
                tree.reset()
                if tree.root(latest.size) != latest.root:
                    raise FindingsError(f"the audit log no longer extends checkpoint {latest.id}",
                                        hint="run: cluetool audit verify")
            prefix = [(h, tree.subtree(h, j)) for h, j in decompose(0, latest.size)]
        size, problems, root = check_entries(tx, start, prefix)
        if problems:
            p = problems[0]
            raise FindingsError(f"not signing: {p.code}: {p.message}", hint="run: cluetool audit verify")
        if tree.size != size:
            raise FindingsError(f"audit log has a gap below seq {tree.size}", hint="run: cluetool audit verify")
        if latest is not None and latest.size == size:
            return _info(latest, created=False)
        if tree.root(size) != root:
            tree.reset()  # a stale or foreign cache: rebuild it for the proofs to come
    note = sign_note(format_checkpoint(origin, size, root), [signer])
    row = sql.insert_checkpoint(tx, size=size, root=root, note=note, at=format_time(now))
    return _info(row, created=True)


def checkpoint(
    store: Store, signer_secret_key: minisign.SecretKey, *, now: datetime, origin: str | None = None,
    cache_dir: Path | None | Literal["default"] = "default",
) -> CheckpointInfo:
    """Sign the current tree size and root as a checkpoint and store it (one transaction).

    Call it after each import (``checkpoint(store, load_signing_key(home, "main"),
    now=now)``); it costs a read of the entries added since the previous checkpoint.

    Raises:
        FindingsError: the log no longer extends the previous checkpoint, or an entry
            since then does not match its leaf hash (nothing is signed).
        InputError: an origin different from the log's.
        BusyError: the store is locked.
    """
    with store.write() as tx:
        return write_checkpoint(tx, signer_secret_key, now=now, origin=origin, cache_dir=cache_dir)


class CheckpointList(msgspec.Struct, kw_only=True):
    checkpoints: list[CheckpointInfo]
    schema: str = "cluetool.audit-checkpoints/1"


def list_checkpoints(store: Store) -> CheckpointList:
    return CheckpointList(checkpoints=[_info(r, created=True) for r in sql.list_checkpoints(store)])


# --------------------------------------------------------------------------- keys


def read_key_file(path: Path) -> TrustedKeys:
    """A public key file: a minisign ``.pub`` file (or its bare key line), or a note
    verifier key (``<name>+<id>+<base64>``).

    Raises:
        InputError: unreadable, or neither form.
    """
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        raise InputError(f'cannot read public key "{path}"') from None
    stripped = text.strip()
    if "+" in stripped and "\n" not in stripped and not stripped.startswith("RW"):
        try:
            return TrustedKeys(vkeys=[NoteVerifier.from_vkey(stripped)])
        except MalformedNote as exc:
            raise InputError(f'cannot read public key "{path}": {exc}') from None
    try:
        return TrustedKeys(raw=[minisign.PublicKey.parse(text).key])
    except minisign.MinisignError as exc:
        raise InputError(f'cannot read public key "{path}": {exc}') from None


def key_fingerprint(public_key: bytes) -> str:
    """SHA-256 (hex) of a raw Ed25519 public key: what to compare out of band."""
    return hashlib.sha256(public_key).hexdigest()


def checkpoint_key_name(home: Home) -> str:
    """The key that signs this home's checkpoints: its dedicated checkpoint key
    (``keys/audit.key``) when it has one, else ``main``."""
    return CHECKPOINT_KEY if (home.keys_dir / f"{CHECKPOINT_KEY}.key").is_file() else "main"


def read_key_files(paths: Sequence[Path]) -> TrustedKeys:
    keys = TrustedKeys()
    for p in paths:
        k = read_key_file(p)
        keys.raw += k.raw
        keys.vkeys += k.vkeys
    return keys


def home_keys(home: Home, name: str) -> TrustedKeys:
    """The home's public key NAME plus its retired predecessors (``keys/retired/NAME-*``),
    so that checkpoints signed before a rotation still verify.

    Raises:
        StateError: no such key.
    """
    home.check()
    pub = home.keys_dir / f"{name}.pub"
    if not pub.is_file():
        raise StateError(f'public key "{pub}" not found', hint="list keys with: cluetool keys list")
    files = [pub] + sorted((home.keys_dir / "retired").glob(f"{name}-*.pub"))
    return read_key_files([f for f in files if not f.name.endswith(".age.pub")])


class CheckpointKey(msgspec.Struct, kw_only=True):
    """The home's dedicated checkpoint key (public facts only)."""

    name: str
    key_id: str
    fingerprint: str
    public_key_file: str
    protected: bool
    schema: str = "cluetool.audit-key/1"


def generate_checkpoint_key(home: Home, *, now: datetime, passphrase: bytes | None,
                            scrypt_cost: dict[str, int] | None = None) -> CheckpointKey:
    """Make the home's checkpoint key ``keys/audit.key`` (a minisign key pair, separate
    from the operational ``main``). From then on ``audit checkpoint`` and ``audit verify``
    use it, and ``import`` leaves signing to ``audit checkpoint`` (the key is meant to be
    passphrase-protected, so a copy of the home alone cannot re-sign a rewritten log).

    Raises:
        InputError: the key exists.
        StateError: the home is unusable.
    """
    info = generate(home, CHECKPOINT_KEY, now=now, passphrase=passphrase, scrypt_cost=scrypt_cost)
    pub = minisign.PublicKey.parse((home.keys_dir / f"{CHECKPOINT_KEY}.pub").read_text(encoding="utf-8"))
    return CheckpointKey(name=CHECKPOINT_KEY, key_id=info.key_id, fingerprint=key_fingerprint(pub.key),
                         public_key_file=str(home.keys_dir / f"{CHECKPOINT_KEY}.pub"), protected=info.protected)


def public_key_text(home: Home, name: str) -> str:
    """The minisign public key file text of the home's key NAME.

    Raises:
        StateError: no such key.
    """
    path = home.keys_dir / f"{name}.pub"
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        raise StateError(f'public key "{path}" not found', hint="list keys with: cluetool keys list") from None
