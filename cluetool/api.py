"""The library face of cluetool: the one module the commands call.

Each function does what one command does, takes the home as a ``Home`` (made once from
``--home`` or ``CLUETOOL_HOME`` by ``resolve_home``) and the current time as ``now``,
opens the home's store itself when it needs one (``cluetool.home.open_store``), and
returns a msgspec Struct for the caller to render. Nothing here prints or exits;
failures raise ``ClueError`` subclasses with the documented exit code.

Groups: setup (``init``, ``resolve_home``), the sender (``validate``, ``inspect``,
``seal``), the carrier and receiver (``verify``, ``import_batches``, ``status``,
``duplicates``, ``held_*``, ``store_*``), handling (``assign``, ``record``,
``deadlines``, ``ledger``, ``calendar_*``), the audit trail (``audit_*``, written in
``cluetool.audit.home_trail``) and keys (``keys_*``).
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import msgspec

from cluetool import keys as keystore
from cluetool.audit.home_trail import (
    audit_check_proof,
    audit_checkpoint,
    audit_confirm_text,
    audit_cosignatures_import,
    audit_export,
    audit_key_generate,
    audit_log,
    audit_prove,
    audit_verify,
    audit_witness,
)
from cluetool.audit.replay import replay_home, state_problems
from cluetool.backup import BackupReport, RestoreReport
from cluetool.backup import backup as _backup
from cluetool.backup import restore as _restore
from cluetool.batch.seal import seal
from cluetool.batch.signers import signer_lookup
from cluetool.batch.verify import verify_batches
from cluetool.config import HOME_ENV, Home, Limits, init_home, remove_stale_temp_files, resolve_home, write_private_file
from cluetool.errors import FindingsError, InputError, StateError
from cluetool.feed.export import export_feed as _export_feed
from cluetool.feed.service import has_feed, import_feed, intake_stage
from cluetool.handling import calendar_admin
from cluetool.handling.assign import AssignReport, assign_by_hand, assign_by_rules
from cluetool.handling.deadlines import DeadlineReport, deadline_report
from cluetool.handling.ledger import LedgerReport, transfer_ledger
from cluetool.handling.record import RecordedEvent, record_event
from cluetool.home import check_store_url, create_store, has_store, migrate_store, open_store
from cluetool.ingest import ImportReport, chain_lookups, import_batches
from cluetool.keys.audit_secret import audit_secret, keyed_text
from cluetool.model import querycode
from cluetool.model.batch import VerifyReport
from cluetool.model.feed import FeedExportReport
from cluetool.model.store import DuplicateLink, StoreCheckReport
from cluetool.rules.calendar import chinese_calendar_years
from cluetool.store import integrity
from cluetool.store import queries as q
from cluetool.store.audit_entries import append_entry
from cluetool.store.held import HeldReport, list_held, resolve_held
from cluetool.store.pgmigrate import MigrateReport
from cluetool.supervision import sampling
from cluetool.supervision.html import ReportResult, write_report
from cluetool.supervision.stats import Stats, compute_stats
from cluetool.validate import ValidationReport, validate_paths
from cluetool.validate.inspect import InspectReport, inspect_paths

read_passphrase = keystore.read_passphrase


# --------------------------------------------------------------------------- setup


def optional_home(path: Path | None) -> Home | None:
    """The home named by ``--home`` or ``CLUETOOL_HOME``; ``None`` when neither is given
    (for what works without a home: ``validate``, an auditor's ``verify``)."""
    import os

    if path is None and not os.environ.get(HOME_ENV):
        return None
    return resolve_home(path)


def init(home: Home, *, now: datetime, store: str | None = None, store_password_env: str | None = None,
         blobs_in_db: bool = False) -> Home:
    """Create (or complete) a home with its store; idempotent. ``store``: a
    ``postgresql://`` URL (without a password; written to ``config.toml``) for a
    PostgreSQL store instead of ``store.db``; ``store_password_env`` names the
    environment variable holding its password (else libpq's ``PGPASSFILE``);
    ``blobs_in_db``: the attachment blobs are rows of that store's tables, not files
    (``config.toml`` says so too).

    Raises:
        InputError: ``store`` is not a PostgreSQL URL, or holds a password;
            ``blobs_in_db`` without ``store``.
        StateError: the directory or store cannot be created; the home names another store.
    """
    if blobs_in_db and store is None:
        raise InputError("--blobs-in-db needs --store postgresql://...",
                         hint="an SQLite store keeps its blobs as files in the home")
    made = init_home(home.root, store=check_store_url(store, "--store"), store_password_env=store_password_env,
                     blobs_in_db=blobs_in_db)
    create_store(made, now=now).close()
    return made


def parse_date(value: date | str | None, option: str) -> date | None:
    """A local date given as ``YYYY-MM-DD`` (or already a date).

    Raises:
        InputError: not a date.
    """
    if value is None or isinstance(value, date):
        return value
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InputError(f'{option}: "{value}" is not a date (YYYY-MM-DD)') from None


def parse_time(value: datetime | str | None, option: str) -> datetime | None:
    """An instant given in RFC 3339 with an offset (or already a datetime).

    Raises:
        InputError: not a time, or no offset.
    """
    if value is None or isinstance(value, datetime):
        return value
    try:
        at = datetime.fromisoformat(value)
    except ValueError:
        raise InputError(f'{option}: "{value}" is not an RFC 3339 time', hint="e.g. 2026-03-02T09:00:00+08:00") from None
    if at.tzinfo is None:
        raise InputError(f'{option}: "{value}" has no time zone offset', hint="e.g. 2026-03-02T09:00:00+08:00")
    return at


def calendar_last_year() -> int:
    """The last year the installed chinese-calendar package knows."""
    return chinese_calendar_years()[-1]


# --------------------------------------------------------------------------- sender


def validate(paths: Sequence[Path], *, now: datetime, home: Home | None = None) -> ValidationReport:
    """Check submissions and spools; limits from the home's ``config.toml`` when a home
    (that exists) is given, else the defaults.

    Raises:
        InputError: a path cannot be read; the home's config is malformed.
    """
    limits = home.config().limits if home is not None and home.root.is_dir() else Limits()
    return validate_paths(paths, now=now, limits=limits)


def inspect(paths: Sequence[Path]) -> InspectReport:
    """The identifying metadata in attachment files (read only, never changed).

    Raises:
        InputError: a path cannot be read.
    """
    return inspect_paths(paths)


# --------------------------------------------------------------------------- receiver


def verify(
    paths: Sequence[Path], *, home: Home | None = None, signer_files: Sequence[Path] = (),
    rotations: Sequence[Path] = (), new_keys: Sequence[Path] = (), chain: bool = False, identity: str | None = None,
    decrypt: bool = False, passphrase: bytes | None = None,
) -> VerifyReport:
    """Check batches against the home's trusted signers and/or ``signer_files`` (an
    auditor needs no home). With a home that has a store, ``chain`` continues from the
    last batch the store accepted from each source, and a batch already in the store's
    ledger is "already imported", as ``import`` says.

    Raises:
        InputError: unreadable input; StateError: no home where one is needed.
    """
    wants_identity = decrypt or identity is not None
    if home is None and (wants_identity or not signer_files):
        raise StateError(  # an auditor has no home, and needs no init
            "no cluetool home given, and no --signer key",
            hint=f"an auditor needs no home: pass the signer's public key with --signer FILE; to use a home "
                 f"(and its identities for --decrypt), --home DIR or {HOME_ENV}",
        )
    if home is not None:
        home.check()
    named = keystore.load_identities(home, identity or "main", passphrase) if home is not None and wants_identity else []
    lookup = signer_lookup(home, signer_files, rotations, new_keys)

    def run(**store_views: Any) -> VerifyReport:
        return verify_batches(paths, lookup, chain=chain, identities=[n.identity for n in named],
                              labels=[n.label for n in named], **store_views)

    if chain and home is not None and has_store(home):
        with open_store(home, readonly=True) as store:
            start, accepted = chain_lookups(store)
            return run(start=start, accepted=accepted, imported=lambda sha: q.get_batch_by_manifest(store, sha) is not None)
    return run(start=lambda _s: None, accepted=lambda _s, _n: None, imported=lambda _sha: False)


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


class HeldList(msgspec.Struct, kw_only=True):
    held: list[HeldReport]
    schema: str = "cluetool.held/1"


def new_code() -> NewCode:
    """A fresh query code (80 random bits from the OS) and the hash that travels."""
    code = querycode.new_code(secrets.token_bytes)
    return NewCode(code=code, sha256=querycode.code_sha256(code))


def status(home: Home, code: str) -> Status | FeedStatus:
    """The public stage of the report with this query code: from the store, else (at an
    intake, whose store holds no reports) from the latest status feed imported (``feed
    import``), with the feed's time.

    Raises:
        InputError: the code is mistyped (its check symbol catches that before any lookup).
        FindingsError: no report has this code.
        StateError: the home has neither a store nor a status feed.
    """
    try:
        normal = querycode.check(code)
    except ValueError as exc:
        raise InputError(f"invalid query code: {exc}", hint="codes look like XXXX-XXXX-XXXX-XXXX-C") from None
    sha = querycode.code_sha256(normal)
    home.check()
    if has_store(home) or not has_feed(home):
        with open_store(home, readonly=True) as store:
            stage = q.report_by_query_code_sha256(store, sha)
        if stage is not None:
            return Status(stage=stage.stage)
        if not has_feed(home):
            raise FindingsError("query code not found")
    found = intake_stage(home, sha)
    if found is None:
        raise FindingsError("query code not found in the latest status feed")
    return FeedStatus(stage=found[0], as_of=found[1])


def feed_export(
    home: Home, *, source: str, out_dir: Path, now: datetime, key: str = "main", passphrase: bytes | None = None,
    wait: float = 10.0,
) -> FeedExportReport:
    """``feed export``: the next signed status feed of the home's store (docs/feed.md).

    Raises:
        as ``cluetool.feed.export.export_feed``; StateError: no store.
    """
    with open_store(home, readonly=True, wait=wait) as store:
        return _export_feed(home, store, source=source, out_dir=out_dir, now=now, key=key, passphrase=passphrase,
                            wait=wait)


feed_import = import_feed


def duplicates(home: Home, *, state: str | None = "open") -> DuplicateList:
    """Possible duplicates awaiting a person's decision (``state=None``: every pair)."""
    with open_store(home, readonly=True) as store:
        return DuplicateList(duplicates=q.list_duplicates(store, state=state))


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


def store_migrate_to(home: Home, url: str, *, password_env: str | None = None, blobs_in_db: bool = False) -> MigrateReport:
    """``store migrate-to``: copy the home's SQLite store into the empty PostgreSQL
    database at ``url`` and prove the copy (with ``blobs_in_db`` also the blobs, into its
    tables); the SQLite store is only read, and stays the home's store (see
    ``cluetool.home.migrate_store``).

    Raises:
        InputError: ``url`` is not a PostgreSQL URL, or holds a password.
        StateError: the home's store is not SQLite, the database is not empty, or the
            copy failed (nothing kept).
    """
    return migrate_store(home, check_store_url(url, "migrate-to") or url, password_env=password_env,
                         blobs_in_db=blobs_in_db)


def store_backup(home: Home, dest: Path, *, with_secrets: bool = False) -> BackupReport:
    """``store backup``; see ``cluetool.backup.backup``."""
    return _backup(home, dest, with_secrets=with_secrets)


def store_restore(src: Path, new_home: Home, *, key: str | None = None) -> RestoreReport:
    """``store restore``; see ``cluetool.backup.restore``."""
    return _restore(src, new_home.root, key=key)


# --------------------------------------------------------------------------- handling


def assign(
    home: Home, clue: str | None = None, unit: str | None = None, *, now: datetime, reason: str | None = None,
    dry_run: bool = False, strict_calendar: bool = False, wait: float = 10.0,
) -> AssignReport:
    """``assign``: by the rules (no CLUE), or ``CLUE UNIT --reason`` by hand.

    Raises:
        InputError: CLUE without UNIT, a reason or dry run that does not apply, and as
            ``assign_by_rules`` / ``assign_by_hand``.
        CalendarError, StateError, BusyError: as those.
    """
    if clue is None and unit is None:
        if reason is not None:
            raise InputError("--reason is for assigning one clue by hand: assign CLUE UNIT --reason TEXT")
        return assign_by_rules(home, now=now, dry_run=dry_run, strict_calendar=strict_calendar, wait=wait)
    if clue is None or unit is None:
        raise InputError("assigning by hand takes both CLUE and UNIT")
    if dry_run:
        raise InputError("--dry-run is for assigning by the rules (assign with no CLUE)")
    return assign_by_hand(home, clue, unit, reason=reason or "", now=now, strict_calendar=strict_calendar, wait=wait)


def record(
    home: Home, clue: str, event: str, *, now: datetime, at: datetime | str | None = None, unit: str | None = None,
    to: str | None = None, channel: str | None = None, of: str | None = None, note: str | None = None,
    strict_calendar: bool = False, wait: float = 10.0,
) -> RecordedEvent:
    """``record CLUE EVENT``; see ``cluetool.handling.record.record_event``."""
    return record_event(home, clue, event, now=now, at=parse_time(at, "--at"), unit=unit, to=to, channel=channel, of=of,
                        note=note, strict_calendar=strict_calendar, wait=wait)


def deadlines(
    home: Home, *, now: datetime, as_of: date | str | None = None, soon_days: int = 2, states: Sequence[str] = (),
    unit: str | None = None, rule: str | None = None, fail_on: str | None = None, strict_calendar: bool = False,
    wait: float = 10.0,
) -> DeadlineReport:
    """``deadlines``; see ``cluetool.handling.deadlines.deadline_report``."""
    return deadline_report(home, now=now, as_of=parse_date(as_of, "--as-of"), soon_days=soon_days, states=states,
                           unit=unit, rule=rule, fail_on=fail_on, strict_calendar=strict_calendar, wait=wait)


def ledger(
    home: Home, *, unit: str | None = None, direction: str | None = None, date_from: date | str | None = None,
    date_to: date | str | None = None, wait: float = 10.0,
) -> LedgerReport:
    """``ledger``; see ``cluetool.handling.ledger.transfer_ledger``."""
    return transfer_ledger(home, unit=unit, direction=direction, date_from=parse_date(date_from, "--from"),
                           date_to=parse_date(date_to, "--to"), wait=wait)


calendar_show = calendar_admin.calendar_show
calendar_check = calendar_admin.calendar_check
calendar_add = calendar_admin.calendar_add
calendar_notice = calendar_admin.calendar_notice


# --------------------------------------------------------------------------- supervision


def sample_draw(home: Home, *, month: str, size: int | None, rate: str | None, now: datetime, redraw: bool = False,
                reason: str | None = None, out: Path | None = None, wait: float = 10.0) -> sampling.SampleResult:
    """``sample``: draw and record the callback sample of ``month`` (see ``cluetool.supervision.sampling``)."""
    return sampling.draw_sample(home, month=month, size=size, rate=rate, now=now, redraw=redraw, reason=reason, out=out,
                                wait=wait)


def sample_show(home: Home, *, month: str, out: Path | None = None, wait: float = 10.0) -> sampling.SampleResult:
    """``sample --show``: the latest recorded draw of ``month``."""
    return sampling.show_draw(home, month=month, out=out, wait=wait)


def sample_verify(draw_file: Path, export_dir: Path | None, key_files: Sequence[Path]) -> sampling.SampleCheck:
    """``sample --verify``: recompute a draw from an audit export, no home needed."""
    return sampling.verify_draw_files(draw_file, export_dir, list(key_files))


def stats(home: Home, *, now: datetime, as_of: date | str | None = None, months: int = 12, soon_days: int = 2,
          wait: float = 10.0) -> Stats:
    """``stats``; see ``cluetool.supervision.stats.compute_stats``."""
    return compute_stats(home, now=now, as_of=as_of, months=months, soon_days=soon_days, wait=wait)


def report(home: Home, out: Path, *, now: datetime, as_of: str | None = None, months: int = 12,
           wait: float = 10.0) -> ReportResult:
    """``report --out DIR``: the stats as a static HTML page; see ``cluetool.supervision.html``."""
    return write_report(home, out, now=now, as_of=as_of, months=months, wait=wait)


# --------------------------------------------------------------------------- keys


def _key_audit(home: Home, *, now: datetime, action: str, object: str, details: dict[str, object]) -> None:
    if has_store(home):
        with open_store(home) as store, store.write() as tx:
            append_entry(tx, at=now, actor="cluetool-keys", action=action, object=object, details=details)


def keys_generate(home: Home, name: str, *, now: datetime, passphrase: bytes | None = None,
                  protect: bool = False, pq: bool = False) -> keystore.KeyInfo:
    """Make key pair NAME: a signing key (minisign) and an age identity (X25519, or the
    post-quantum hybrid with ``pq``), protected with ``passphrase`` when ``protect``.

    Raises:
        InputError: ``protect`` without a passphrase or a passphrase without it; NAME exists.
        StateError: the home is unusable.
    """
    if protect and passphrase is None:
        raise InputError("--protect needs --passphrase-file FILE or --passphrase-env VAR")
    if passphrase is not None and not protect:
        raise InputError("a passphrase was given without --protect")
    return keystore.generate(home, name, now=now, passphrase=passphrase, pq=pq)


def keys_list(home: Home) -> keystore.KeyList:
    """The home's key pairs."""
    return keystore.KeyList(keys=keystore.list_keys(home))


def keys_list_retired(home: Home) -> keystore.RetiredList:
    """The retired key pairs, newest first."""
    return keystore.RetiredList(keys=keystore.list_retired(home))


def keys_show(home: Home, name: str) -> keystore.KeyInfo:
    """Public facts about key NAME.

    Raises:
        StateError: no such key.
    """
    return keystore.show(home, name)


def keys_export(home: Home, name: str, *, kind: str = "minisign") -> str:
    """The public key of NAME: the minisign public key file, or (``kind="age"``) the age recipient.

    Raises:
        StateError: no such key.
    """
    return keystore.export_public(home, name, kind=kind)


def keys_trust(
    home: Home, source: str, pub_file: Path | None, *, now: datetime, rotation: Path | None = None,
    root: Path | None = None, additional: bool = False, grace: timedelta = timedelta(0),
) -> keystore.TrustResult:
    """``keys trust``, plus its audit entries when the home has a store.

    Raises:
        as ``cluetool.keys.trust``.
    """
    result = keystore.trust(home, source, pub_file, rotation=rotation, root=root, additional=additional, grace=grace,
                            now=now)
    if result.already_trusted:
        return result
    if result.key_id is not None:
        _key_audit(home, now=now, action="key.trust", object=f"{source}/{result.key_id}", details={
            "how": result.how, "rotation_from": result.rotation_from, "retired": result.retired,
            "retire_at": result.retire_at,
        })
    if result.root_key_id is not None:
        _key_audit(home, now=now, action="key.pin_root", object=f"{source}/{result.root_key_id}", details={})
    return result


def keys_trusted(home: Home, source: str | None = None, *, now: datetime) -> keystore.TrustedList:
    """Every trusted signer (all statuses) per source."""
    return keystore.trusted_list(home, source, now=now)


def keys_untrust(home: Home, source: str, key_id: str, *, reason: str, now: datetime) -> keystore.UntrustResult:
    """``keys untrust``: revoke a trusted signer, audited.

    Raises:
        as ``cluetool.keys.untrust``.
    """
    result = keystore.untrust(home, source, key_id, reason=reason, now=now)
    _key_audit(home, now=now, action="key.untrust", object=f"{source}/{result.key_id}",
               details={"reason": result.reason[:200]})
    return result


def keys_rotate(home: Home, name: str, *, now: datetime, passphrase: bytes | None = None, protect: bool = False,
                root_key: Path | None = None, root_passphrase: bytes | None = None) -> keystore.RotationResult:
    """Replace key pair NAME by a new one (the new one protected with the same
    passphrase when ``protect``); the rotation statement is signed by the old key, or by
    the offline root key file ``root_key``.

    Raises:
        as ``cluetool.keys.rotate``.
    """
    root = keystore.load_root_key(root_key, root_passphrase) if root_key is not None else None
    return keystore.rotate(home, name, now=now, passphrase=passphrase, new_passphrase=passphrase if protect else None,
                           root_key=root)


def keys_destroy(home: Home, name: str, key_id: str, *, confirmed: bool, now: datetime) -> keystore.DestroyResult:
    """``keys destroy``: delete a retired key pair, audited.

    Raises:
        as ``cluetool.keys.destroy_retired``.
    """
    result = keystore.destroy_retired(home, name, key_id, confirmed=confirmed)
    _key_audit(home, now=now, action="key.destroy", object=f"{name}/{result.key_id}",
               details={"files": len(result.removed)})
    return result


def keys_root_generate(out_dir: Path, name: str, *, passphrase: bytes | None, now: datetime) -> keystore.RootKeyInfo:
    """An offline root signing key, written only to ``out_dir`` (no home).

    Raises:
        as ``cluetool.keys.generate_root``.
    """
    return keystore.generate_root(out_dir, name, passphrase=passphrase, now=now)


__all__ = [
    "DuplicateList", "FeedStatus", "HeldList", "Home", "ImportReport", "NewCode", "Status",
    "assign", "audit_check_proof", "audit_checkpoint", "audit_confirm_text", "audit_cosignatures_import",
    "audit_export", "audit_key_generate", "audit_log", "audit_prove", "audit_verify", "audit_witness",
    "calendar_add", "calendar_check", "calendar_last_year", "calendar_notice", "calendar_show",
    "deadlines", "duplicates", "feed_export", "feed_import", "held_list", "held_resolve", "import_batches", "init", "inspect",
    "keys_destroy", "keys_export", "keys_generate", "keys_list", "keys_list_retired", "keys_root_generate",
    "keys_rotate", "keys_show", "keys_trust", "keys_trusted", "keys_untrust", "ledger", "new_code",
    "optional_home", "parse_date", "parse_time", "read_passphrase", "record", "report", "resolve_home",
    "sample_draw", "sample_show", "sample_verify", "seal", "stats", "status",
    "store_backup", "store_check", "store_migrate_to", "store_restore", "validate", "verify", "write_private_file",
]
