"""Library entry points that span the store and the other parts: init, verify with the
receiver's chain state, status by query code, duplicates, store check."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path

import msgspec

from cluetool.audit.replay import replay_home, state_problems
from cluetool.batch import service as batch_service
from cluetool.config import Home, init_home, optional_home, remove_stale_temp_files
from cluetool.errors import FindingsError, InputError
from cluetool.feed.export import export_feed as _export_feed
from cluetool.feed.service import import_feed, intake_stage
from cluetool.ingest import chain_lookups
from cluetool.keys import DestroyResult, TrustResult, UntrustResult, destroy_retired, trust, untrust
from cluetool.model import querycode
from cluetool.model.batch import VerifyReport
from cluetool.model.feed import FeedExportReport
from cluetool.model.store import DuplicateLink, StoreCheckReport
from cluetool.home import create_store, has_store, open_store
from cluetool.store import integrity
from cluetool.store import queries as q
from cluetool.keys.audit_secret import audit_secret, keyed_text
from cluetool.store.audit_entries import append_entry
from cluetool.store.held import HeldReport, list_held, resolve_held


class Status(msgspec.Struct, kw_only=True):
    """What a reporter may learn with a query code: the public stage, nothing else."""

    stage: str
    schema: str = "cluetool.status/1"


class FeedStatus(msgspec.Struct, kw_only=True):
    """``status`` at the intake, from the latest status feed: the public stage and the
    time the internal side exported it."""

    stage: str
    as_of: str
    schema: str = "cluetool.status/1"


class NewCode(msgspec.Struct, kw_only=True):
    code: str
    sha256: str
    schema: str = "cluetool.code/1"


class DuplicateList(msgspec.Struct, kw_only=True):
    duplicates: list[DuplicateLink]
    schema: str = "cluetool.duplicates/1"


def init(root: Path, *, now: datetime) -> Home:
    """Create (or complete) a home with its store; idempotent.

    Raises:
        StateError: the directory or store cannot be created.
    """
    home = init_home(root)
    create_store(home, now=now).close()
    return home


def verify(
    paths: Sequence[Path], *, home: Path | None = None, signer_files: Sequence[Path] = (),
    rotations: Sequence[Path] = (), new_keys: Sequence[Path] = (), chain: bool = False, identity: str | None = None, decrypt: bool = False,
    passphrase: bytes | None = None,
) -> VerifyReport:
    """``verify``; with a home that has a store, ``--chain`` continues from the last
    batch the store accepted from each source (DESIGN §5), and a batch already in the
    store's ledger is "already imported", as ``import`` says."""
    h = optional_home(home, required=decrypt or identity is not None or not signer_files)
    if chain and h is not None and has_store(h):
        with open_store(h, readonly=True) as store:
            start, accepted = chain_lookups(store)
            return batch_service.verify(
                paths, home=h.root, signer_files=signer_files, rotations=rotations, new_keys=new_keys, chain=chain,
                identity=identity, decrypt=decrypt, passphrase=passphrase, start=start, accepted=accepted,
                imported=lambda sha: q.get_batch_by_manifest(store, sha) is not None,
            )
    return batch_service.verify(
        paths, home=h.root if h else None, signer_files=signer_files, rotations=rotations, new_keys=new_keys,
        chain=chain, identity=identity, decrypt=decrypt, passphrase=passphrase,
    )


def new_code() -> NewCode:
    """A fresh query code (80 random bits from the OS) and the hash that travels."""
    code = querycode.new_code(secrets.token_bytes)
    return NewCode(code=code, sha256=querycode.code_sha256(code))


def status(home: Home, code: str) -> Status | FeedStatus:
    """The public stage of the report with this query code; at an intake (a home with no
    store) from the latest status feed imported (``feed import``).

    Raises:
        InputError: the code is mistyped (its check symbol catches that before any lookup).
        FindingsError: no report has this code.
    """
    try:
        normal = querycode.check(code)
    except ValueError as exc:
        raise InputError(f"invalid query code: {exc}", hint="codes look like XXXX-XXXX-XXXX-XXXX-C") from None
    if not has_store(home):  # the intake: the status feed answers
        found = intake_stage(home.check(), querycode.code_sha256(normal))
        if found is None:
            raise FindingsError("query code not found in the latest status feed")
        return FeedStatus(stage=found[0], as_of=found[1])
    with open_store(home, readonly=True) as store:
        stage = q.report_by_query_code_sha256(store, querycode.code_sha256(normal))
    if stage is None:
        raise FindingsError("query code not found")
    return Status(stage=stage.stage)


def export_feed(
    home: Home, *, source: str, out_dir: Path, now: datetime, key: str = "main", passphrase: bytes | None = None,
    wait: float = 10.0,
) -> FeedExportReport:
    """``feed export``: the next signed status feed of the home's store (docs/feed.md).

    Raises:
        as ``cluetool.feed.export.export_feed``; StateError: no store.
    """
    with open_store(home, readonly=True, wait=wait) as store:
        return _export_feed(home, store, source=source, out_dir=out_dir, now=now, key=key, passphrase=passphrase, wait=wait)


def duplicates(home: Home, *, state: str | None = "open") -> DuplicateList:
    """Possible duplicates awaiting a person's decision (DESIGN §7)."""
    with open_store(home, readonly=True) as store:
        return DuplicateList(duplicates=q.list_duplicates(store, state=state))


def store_check(home: Home, *, replay: bool = False, repair: bool = False) -> StoreCheckReport:
    """Integrity of the store, its reports and its blobs (re-hashes every report and
    blob). With ``repair``, first remove leftovers of killed runs: temporary blob and
    seal-state files and orphan blobs (see ``cluetool.store.integrity``). With
    ``replay``, also the state tables rebuilt from the audit log
    (``cluetool.audit.replay``), each differing row a ``state.<table>`` problem.

    Raises:
        StateError: missing home or store, unreadable.
        BusyError: (``repair``) the store stays locked.
    """
    removed: list[str] = []
    with open_store(home, readonly=not repair) as store:
        if repair:
            removed += [str(p) for p in remove_stale_temp_files(home.state_dir / "seal")]
            removed += integrity.repair(store)
        report = integrity.check_store(store)
    report.removed = removed
    if replay:
        report.problems += state_problems(replay_home(home))
        report.ok = not any(p.severity == "error" for p in report.problems)
    return report


def _audit(home: Home, *, now: datetime, action: str, object: str, details: dict[str, object]) -> None:
    if has_store(home):
        with open_store(home) as store, store.write() as tx:
            append_entry(tx, at=now, actor="cluetool-keys", action=action, object=object, details=details)


def trust_signer(
    home: Home, source: str, pub_file: Path | None, *, rotation: Path | None, now: datetime,
    root: Path | None = None, additional: bool = False, grace: timedelta = timedelta(0),
) -> TrustResult:
    """``keys trust``, plus its audit entries when the home has a store (DESIGN §9).

    Raises:
        as ``cluetool.keys.trust``.
    """
    result = trust(home, source, pub_file, rotation=rotation, root=root, additional=additional, grace=grace, now=now)
    if result.already_trusted:
        return result
    if result.key_id is not None:
        _audit(home, now=now, action="key.trust", object=f"{source}/{result.key_id}", details={
            "how": result.how, "rotation_from": result.rotation_from, "retired": result.retired,
            "retire_at": result.retire_at,
        })
    if result.root_key_id is not None:
        _audit(home, now=now, action="key.pin_root", object=f"{source}/{result.root_key_id}", details={})
    return result


def untrust_signer(home: Home, source: str, key_id: str, *, reason: str, now: datetime) -> UntrustResult:
    """``keys untrust``: revoke a trusted signer, audited.

    Raises:
        as ``cluetool.keys.untrust``.
    """
    result = untrust(home, source, key_id, reason=reason, now=now)
    _audit(home, now=now, action="key.untrust", object=f"{source}/{result.key_id}", details={"reason": result.reason[:200]})
    return result


def destroy_key(home: Home, name: str, key_id: str, *, confirmed: bool, now: datetime) -> DestroyResult:
    """``keys destroy``: delete a retired key pair, audited.

    Raises:
        as ``cluetool.keys.destroy_retired``.
    """
    result = destroy_retired(home, name, key_id, confirmed=confirmed)
    _audit(home, now=now, action="key.destroy", object=f"{name}/{result.key_id}", details={"files": len(result.removed)})
    return result


class HeldList(msgspec.Struct, kw_only=True):
    held: list[HeldReport]
    schema: str = "cluetool.held/1"


def held_list(home: Home, *, all_states: bool = False) -> HeldList:
    """Reports an import held for a person to settle (see ``cluetool.store.held``)."""
    with open_store(home, readonly=True) as store:
        return HeldList(held=list_held(store, all_states=all_states))


def held_resolve(home: Home, held_id: int, *, keep: bool, reason: str, now: datetime) -> HeldReport:
    """Settle a held report (keep it beside the other, or discard it), audited; the
    reason is recorded in the audit log as its HMAC only.

    Raises:
        InputError: an empty reason, no such held report, or it is settled already.
        StateError: the store or the audit secret is unusable.
    """
    if not reason.strip():
        raise InputError("held resolve needs a --reason")
    secret = audit_secret(home)
    with open_store(home) as store, store.write() as tx:
        held = resolve_held(tx, held_id, keep=keep, reason=reason, at=now)
        append_entry(tx, at=now, actor="cluetool-held", action="held.kept" if keep else "held.discarded",
                     object=held.submission_id,
                     details={"held_id": held.id, "report_sha256": held.report_sha256, "collides_with": held.collides_with,
                              "reason_hmac_sha256": keyed_text(secret, reason)})
    return held
