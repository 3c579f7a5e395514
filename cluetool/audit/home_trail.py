"""The audit trail of a home: what each ``audit`` command does (``cluetool.api`` re-exports
these as ``audit_*``). Each function takes the home, opens its store where it needs one
(``cluetool.home.open_store``) and returns the Struct the command renders.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path

from cluetool import audit
from cluetool import keys as keystore
from cluetool.audit.replay import replay_home, with_state
from cluetool.config import Home, resolve_home
from cluetool.errors import InputError
from cluetool.home import open_store

Progress = Callable[[int, int], None]


def _home_keys(home: Home, names: Sequence[str]) -> audit.TrustedKeys:
    keys = audit.TrustedKeys()
    for name in names or [audit.checkpoint_key_name(home)]:
        keys.raw += audit.home_keys(home, name).raw
    return keys


def audit_verify(
    home: Home | None, *, export_dir: Path | None = None, previous: Path | None = None,
    against: Sequence[Path] = (), keys: Sequence[str] = (), key_fingerprints: Sequence[str] = (),
    trust_export_key: bool = False, state: bool = False, progress: Progress | None = None,
    warn: Callable[[str], None] | None = None,
) -> audit.AuditReport:
    """``audit verify``: the home's store (its checkpoint key, or the home keys named in
    ``keys``), or with ``export_dir`` an export (``keys`` are then key files obtained out
    of band). ``warn`` receives a warning about the keys, if any.

    Raises:
        InputError: options that do not go together; unreadable keys or checkpoints.
        StateError: no home (when verifying the store), unusable store.
    """
    if previous is not None and export_dir is None:
        raise InputError("--previous needs --export")
    if state and export_dir is not None:
        raise InputError("--state checks the home's store, not an export")
    seen = audit.read_against(against)
    if export_dir is not None:
        trusted, warning = audit.export_keys(export_dir, [Path(k) for k in keys], fingerprints=key_fingerprints,
                                             trust_export_key=trust_export_key)
        if warning and warn is not None:
            warn(warning)
        return audit.verify_export(export_dir, trusted, previous=previous, against=seen, progress=progress)
    if key_fingerprints or trust_export_key:
        raise InputError("--key-fingerprint and --trust-export-key apply only with --export")
    h = (home or resolve_home(None)).check()
    trusted = _home_keys(h, keys)
    with open_store(h) as store:
        report = audit.verify_store(store, trusted, against=seen + audit.cosigned_checkpoints(h), progress=progress)
    return with_state(report, replay_home(h)) if state else report


def audit_log(
    home: Home, *, object: str | None = None, action: str | None = None, actor: str | None = None,
    since: str | None = None, until: str | None = None, limit: int | None = None,
) -> audit.AuditLog:
    """Audit entries, oldest first, filtered (see ``cluetool.audit.list_entries``)."""
    with open_store(home) as store:
        return audit.list_entries(store, object=object, action=action, actor=actor, since=since, until=until, limit=limit)


def audit_checkpoint(home: Home, *, now: datetime, key: str | None = None, passphrase: bytes | None = None,
                     origin: str | None = None) -> audit.CheckpointInfo:
    """Sign the audit tree's current size and root with the home key ``key`` (default:
    its checkpoint key) and store the checkpoint.

    Raises:
        FindingsError: the log no longer extends the previous checkpoint.
        StateError, InputError: the key or store is unusable.
    """
    home.check()
    sk = keystore.load_signing_key(home, key or audit.checkpoint_key_name(home), passphrase)
    with open_store(home) as store:
        return audit.checkpoint(store, sk, now=now, origin=origin)


def audit_prove(home: Home, *, seq: int | None = None, from_size: int | None = None,
                to_size: int | None = None) -> audit.InclusionProof | audit.ConsistencyProof:
    """An inclusion proof of entry ``seq`` against the latest checkpoint, or a
    consistency proof from tree size ``from_size`` (to ``to_size``, default the latest
    checkpoint's).

    Raises:
        InputError: neither or both of ``seq`` and ``from_size``; no such entry or size.
    """
    if (seq is None) == (from_size is None):
        raise InputError("give either SEQ or --from N [--to M]")
    if to_size is not None and from_size is None:
        raise InputError("--to needs --from")
    with open_store(home) as store:
        if seq is not None:
            return audit.prove_inclusion(store, seq)
        assert from_size is not None
        return audit.prove_consistency(store, from_size, to_size)


def audit_check_proof(data: bytes, *, key_files: Sequence[Path] = (), no_key: bool = False) -> audit.ProofCheck:
    """Check a proof file with no store: the Merkle proof, and the signature of its
    checkpoint by one of ``key_files`` (unless ``no_key``).

    Raises:
        InputError: no key files and not ``no_key``; an unreadable key or proof.
    """
    if not key_files and not no_key:
        raise InputError("no --key: the checkpoint's signature cannot be checked",
                         hint="pass --key FILE (the log's public key, obtained by another channel), "
                              "or --no-key to check the Merkle proof alone")
    return audit.check_proof(data, audit.read_key_files(list(key_files)) if key_files else None)


def audit_export(home: Home, out: Path, *, key: str | None = None) -> audit.ExportResult:
    """Write an export for auditors into the new directory ``out``, with the public key
    of the home key ``key`` (default: its checkpoint key).

    Raises:
        InputError: ``out`` exists and is not empty. StateError: no such key.
    """
    home.check()
    text = audit.checkpoints.public_key_text(home, key or audit.checkpoint_key_name(home))
    with open_store(home) as store:
        return audit.export(store, out, public_key_text=text)


def audit_confirm_text(home: Home, seq: int, text: str) -> audit.TextCheck:
    """Whether ``text`` is the note or reason audit entry ``seq`` records (by its HMAC).

    Raises:
        InputError: no such entry, or it records no text. StateError: no audit secret.
    """
    with open_store(home) as store:
        return audit.confirm_text(home, store, seq, text)


def audit_witness(
    export_dir: Path, *, witness_key: Path, state: Path, out: Path, now: datetime, log_keys: Sequence[Path] = (),
    log_key_fingerprints: Sequence[str] = (), trust_export_key: bool = False, name: str | None = None,
    passphrase: bytes | None = None, warn: Callable[[str], None] | None = None,
) -> audit.WitnessResult:
    """The auditor's side: verify an export, require it to extend the witness's
    ``state``, cosign its checkpoint into ``out`` (see ``cluetool.audit.witness``).

    Raises:
        InputError: unreadable export, keys or state. StateError: ``out`` or ``state``
            cannot be written.
    """
    trusted, warning = audit.export_keys(export_dir, list(log_keys), fingerprints=log_key_fingerprints,
                                         trust_export_key=trust_export_key)
    if warning and warn is not None:
        warn(warning)
    sk = audit.read_witness_secret_key(witness_key, passphrase)
    return audit.witness(export_dir, log_keys=trusted, witness_key=sk, state=state, out=out, now=now, name=name)


def audit_cosignatures_import(home: Home, file: Path, *, witness_key: Path, keys: Sequence[str] = ()) -> audit.CosignatureImport:
    """Bring a cosigned checkpoint into the home (``cosigned/``).

    Raises:
        InputError: unreadable files, a cosignature that does not verify.
    """
    return audit.import_cosignature_file(home.check(), file, witness_key=witness_key, key_names=keys)


def audit_key_generate(home: Home, *, now: datetime, passphrase: bytes | None,
                       unprotected: bool = False) -> audit.CheckpointKey:
    """Make the home's own checkpoint key (``keys/audit.key``); a passphrase is
    required unless ``unprotected``.

    Raises:
        InputError: no passphrase (and not unprotected), or both; the key exists.
        StateError: no home.
    """
    home.check()
    if passphrase is None and not unprotected:
        raise InputError("the checkpoint key needs a passphrase (--passphrase-file FILE or --passphrase-env VAR)",
                         hint="or --unprotected, which lets anyone with a copy of the home sign checkpoints")
    if passphrase is not None and unprotected:
        raise InputError("a passphrase was given with --unprotected")
    return audit.generate_checkpoint_key(home, now=now, passphrase=passphrase)


__all__ = ["audit_verify", "audit_log", "audit_checkpoint", "audit_prove", "audit_check_proof", "audit_export", "audit_confirm_text", "audit_witness", "audit_cosignatures_import", "audit_key_generate"]
