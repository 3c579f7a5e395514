"""``cluetool audit …``: verify, log, checkpoint, prove, check-proof, export, confirm-text,
witness, key generate, cosignatures import (docs/audit.md)."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from cluetool.commands.common import FormatOpt, HomeOpt, PassEnvOpt, PassFileOpt, fmt_of, home_arg, home_of, proof_format
from cluetool.commands.progress import working

_FINDING_COLUMNS = ["code", "seq", "checkpoint", "severity", "message"]
_LOG_COLUMNS = ["seq", "at", "actor", "action", "object", "details"]


def _emit_report(report: Any, fmt: Any, ok_message: str) -> None:
    from cluetool.output import Format, emit, info

    emit(report, fmt, rows="findings", columns=_FINDING_COLUMNS)
    if fmt is Format.table and report.ok:
        info(ok_message)
    raise typer.Exit(0 if report.ok else 1)


def verify(
    export_dir: Annotated[
        Optional[Path], typer.Option("--export", help="Verify this export directory instead of the store (no home needed).", show_default=False)
    ] = None,
    previous: Annotated[
        Optional[Path], typer.Option("--previous", help="An earlier export: check the new one extends it (with --export).", show_default=False)
    ] = None,
    against: Annotated[
        Optional[list[Path]],
        typer.Option("--against", help="A checkpoint note or earlier export kept outside the home: the log must extend it. Repeatable.", show_default=False),
    ] = None,
    key: Annotated[
        Optional[list[str]],
        typer.Option("--key", help="With --export: the log's public key FILE (minisign .pub or note vkey), obtained out of band. Otherwise the home's key NAME (default: its checkpoint key). Repeatable.", show_default=False),
    ] = None,
    key_fingerprint: Annotated[
        Optional[list[str]],
        typer.Option("--key-fingerprint", help="With --export: the SHA-256 fingerprint of the log's key, obtained out of band (admits the export's key.pub).", show_default=False),
    ] = None,
    trust_export_key: Annotated[
        bool, typer.Option("--trust-export-key", help="With --export: accept the key shipped inside the export (unsafe: a forged export verifies too).")
    ] = False,
    state: Annotated[
        bool, typer.Option("--state", help="Also rebuild stages, assignments, events and obligations from the log and compare them with the store (as store check --replay).")
    ] = False,
    home: HomeOpt = None,
    fmt: FormatOpt = None,
) -> None:
    """Recompute every audit entry's leaf hash and the Merkle tree, and check every signed
    checkpoint, every cosigned checkpoint imported into the home and every --against
    checkpoint against it; name each edited, deleted, inserted or reordered entry and
    each rollback or fork (exit 1). Limit: without a checkpoint kept outside the home
    (--against, or a cosignature), dropping the newest entries together with the newest
    checkpoints and re-signing with the checkpoint key cannot be detected.

    Example: cluetool audit verify --export audit-2026-11 --key log.pub --against seen/checkpoint.txt
    """
    from cluetool import api
    from cluetool.output import warn

    h = api.optional_home(home_of(home)) if export_dir is None else None
    with working("verifying the audit trail") as progress:
        report = api.audit_verify(h, export_dir=export_dir, previous=previous, against=against or [], keys=key or [],
                                  key_fingerprints=key_fingerprint or [], trust_export_key=trust_export_key,
                                  state=state, progress=progress, warn=warn)
    _emit_report(report, fmt_of(fmt), f"audit trail verified: {report.summary.entries} entries, "
                 f"{report.summary.checkpoints} checkpoints, {report.summary.witnessed_checkpoints} witnessed")


def log(
    object_: Annotated[Optional[str], typer.Option("--object", help="Object id (a trailing * matches a prefix).", show_default=False)] = None,
    action: Annotated[Optional[str], typer.Option("--action", help="Action, e.g. batch.import or 'batch.*'.", show_default=False)] = None,
    actor: Annotated[Optional[str], typer.Option("--actor", help="Actor, e.g. cluetool-import.", show_default=False)] = None,
    since: Annotated[Optional[str], typer.Option("--since", help="From this date or RFC 3339 time (inclusive, UTC dates).", show_default=False)] = None,
    until: Annotated[Optional[str], typer.Option("--until", help="Before this date or RFC 3339 time (exclusive).", show_default=False)] = None,
    limit: Annotated[Optional[int], typer.Option("--limit", help="At most this many entries.", show_default=False)] = None,
    home: HomeOpt = None,
    fmt: FormatOpt = None,
) -> None:
    """List audit entries, oldest first, filtered by object, action, actor and time.

    Example: cluetool audit log --action 'batch.*' --since 2026-11-01 --format jsonl
    """
    from cluetool import api
    from cluetool.output import emit

    result = api.audit_log(home_arg(home), object=object_, action=action, actor=actor, since=since, until=until,
                           limit=limit)
    emit(result, fmt_of(fmt), rows="entries", columns=_LOG_COLUMNS)


def checkpoint(
    key: Annotated[
        Optional[str], typer.Option("--key", help="Name of the home's signing key (default: its checkpoint key, else main).", show_default=False)
    ] = None,
    origin: Annotated[
        Optional[str], typer.Option("--origin", help="Log origin for the first checkpoint (default cluetool/<key id>).", show_default=False)
    ] = None,
    passphrase_file: PassFileOpt = None,
    passphrase_env: PassEnvOpt = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print nothing on success (for cron).")] = False,
    home: HomeOpt = None,
    fmt: FormatOpt = None,
) -> None:
    """Sign the audit tree's current size and root as a C2SP tlog-checkpoint and store it.

    Refuses (exit 1) when the log no longer extends the previous checkpoint.

    Example: cluetool audit checkpoint --quiet
    """
    from cluetool import api
    from cluetool.output import emit

    h = home_arg(home).check()
    info = api.audit_checkpoint(h, now=datetime.now(timezone.utc), key=key, origin=origin,
                                passphrase=api.read_passphrase(passphrase_file, passphrase_env))
    if not quiet:
        emit(info, fmt_of(fmt), columns=["id", "size", "root", "origin", "at", "created"])


def prove(
    seq: Annotated[Optional[int], typer.Argument(help="Entry to prove included in the latest checkpoint.", show_default=False)] = None,
    from_: Annotated[Optional[int], typer.Option("--from", help="Consistency proof from this tree size.", show_default=False)] = None,
    to: Annotated[Optional[int], typer.Option("--to", help="... to this tree size (default: the latest checkpoint's).", show_default=False)] = None,
    out: Annotated[Optional[Path], typer.Option("--out", help="Write the proof file (JSON, for check-proof) to FILE.", metavar="FILE", show_default=False)] = None,
    home: HomeOpt = None,
    fmt: FormatOpt = None,
) -> None:
    """Print an inclusion proof of entry SEQ against the latest checkpoint, or with
    --from N [--to M] a consistency proof between two tree sizes. Into a pipe or file, or
    with --out FILE, it is the proof file check-proof reads (JSON); on a terminal, a table
    unless --format says otherwise.

    Example: cluetool audit prove 7 --out entry-7.proof.json
    """
    from cluetool import api
    from cluetool.output import emit

    proof = api.audit_prove(home_arg(home), seq=seq, from_size=from_, to_size=to)
    columns = (["leaf_index", "tree_size", "leaf_hash", "proof"] if seq is not None
               else ["from_size", "to_size", "from_root", "to_root", "proof"])
    if out is not None:  # issue 21: the proof file format, whatever --format says
        import io

        from cluetool.output import Format, info

        buf = io.StringIO()
        emit(proof, Format.json, out=buf)
        api.write_private_file(out, buf.getvalue().encode(), mode=0o644)
        info(f'proof written to "{out}"; check it with: cluetool audit check-proof {out} --key KEY.pub')
        return
    emit(proof, proof_format(fmt), columns=columns)


def check_proof(
    file: Annotated[Path, typer.Argument(help="A proof written by `audit prove --format json` (- for stdin).", show_default=False)],
    key: Annotated[
        Optional[list[str]], typer.Option("--key", help="Public key FILE (minisign .pub or note vkey) to check the checkpoint signature.", show_default=False)
    ] = None,
    no_key: Annotated[bool, typer.Option("--no-key", help="Check only the Merkle proof, not who signed its checkpoint.")] = False,
    fmt: FormatOpt = None,
) -> None:
    """Verify a proof file with no store: the Merkle proof and the signature of its
    checkpoint by --key (or, with --no-key, the Merkle proof alone). Exit 1 if it does
    not verify, 2 without --key or --no-key.

    Example: cluetool audit check-proof entry-7.proof.json --key home.pub
    """
    from cluetool import api
    from cluetool.errors import InputError
    from cluetool.output import Format, emit, info

    try:
        data = sys.stdin.buffer.read() if str(file) == "-" else file.read_bytes()
    except OSError as exc:
        raise InputError(f'cannot read proof "{file}": {exc.strerror}') from None
    result = api.audit_check_proof(data, key_files=[Path(k) for k in key or []], no_key=no_key)
    emit(result, fmt_of(fmt), rows="findings", columns=_FINDING_COLUMNS)
    if not result.signature_checked:
        info("the checkpoint's signature was NOT checked (--no-key): anyone could have written this proof")
    if fmt_of(fmt) is Format.table and result.ok:
        info(f"{result.type} proof verified")
    raise typer.Exit(0 if result.ok else 1)


def export(
    out: Annotated[Path, typer.Option("--out", help="New directory to write the export into.", show_default=False)],
    key: Annotated[
        Optional[str], typer.Option("--key", help="Name of the home key that signs the checkpoints (default: its checkpoint key, else main).", show_default=False)
    ] = None,
    home: HomeOpt = None,
    fmt: FormatOpt = None,
) -> None:
    """Write the entries the latest checkpoint signs (entries.jsonl), the checkpoints and
    the public key into a new directory, for `audit verify --export` with no store. Give
    auditors the key (or its key_fingerprint) by another channel: the copy inside an
    export is not trusted.

    Example: cluetool audit export --out audit-2026-11
    """
    from cluetool import api
    from cluetool.output import emit

    result = api.audit_export(home_arg(home), out, key=key)
    emit(result, fmt_of(fmt), columns=["directory", "entries", "root", "unsigned_entries", "key_fingerprint"])


def confirm_text(
    seq: Annotated[int, typer.Argument(help="The audit entry that records the note or reason.", show_default=False)],
    text_file: Annotated[Path, typer.Option("--text-file", help="File holding the exact text (- for stdin; one trailing newline is dropped).", show_default=False)],
    home: HomeOpt = None,
    fmt: FormatOpt = None,
) -> None:
    """Check whether a note or reason is the one audit entry SEQ records (HMAC-SHA-256
    under the home's audit secret; exit 1 if it is not). The text is read from a file,
    never from the command line.

    Example: cluetool audit confirm-text 17 --text-file reason.txt
    """
    from cluetool import api
    from cluetool.errors import InputError
    from cluetool.output import emit

    try:
        raw = sys.stdin.buffer.read() if str(text_file) == "-" else text_file.read_bytes()
        text = raw.decode("utf-8").removesuffix("\n")
    except (OSError, UnicodeDecodeError):
        raise InputError(f'cannot read text "{text_file}"') from None
    result = api.audit_confirm_text(home_arg(home).check(), seq, text)
    emit(result, fmt_of(fmt), columns=["seq", "field", "keyed", "matches"])
    raise typer.Exit(0 if result.matches else 1)


def witness(
    export_dir: Annotated[Path, typer.Option("--export", help="The export to witness.", show_default=False)],
    key: Annotated[Path, typer.Option("--key", help="The witness's (auditor's) minisign secret key FILE.", show_default=False)],
    state: Annotated[Path, typer.Option("--state", help="The witness's state FILE: the last checkpoint it cosigned (created on first use).", show_default=False)],
    out: Annotated[Path, typer.Option("--out", help="Write the cosigned checkpoint to this FILE.", show_default=False)],
    log_key: Annotated[
        Optional[list[Path]], typer.Option("--log-key", help="The log's public key FILE, obtained out of band.", show_default=False)
    ] = None,
    log_key_fingerprint: Annotated[
        Optional[list[str]], typer.Option("--log-key-fingerprint", help="The SHA-256 fingerprint of the log's key, obtained out of band.", show_default=False)
    ] = None,
    trust_export_key: Annotated[
        bool, typer.Option("--trust-export-key", help="Accept the key shipped inside the export (unsafe).")
    ] = False,
    name: Annotated[
        Optional[str], typer.Option("--name", help="The witness's name (default cluetool-witness/<key id>).", show_default=False)
    ] = None,
    passphrase_file: PassFileOpt = None,
    passphrase_env: PassEnvOpt = None,
    fmt: FormatOpt = None,
) -> None:
    """Run by an auditor on each export: verify it, check that it extends the last
    checkpoint this witness cosigned (its --state file), then add a C2SP tlog-cosignature
    to the export's checkpoint, write it to --out and keep it as the new state. Exit 1,
    cosigning nothing, if the export fails or rolls back or forks the log. The result
    names the witness key (a vkey) that the home needs for `audit cosignatures import`.

    Example: cluetool audit witness --export audit-2026-11 --key auditor.key --state auditor.state --log-key log.pub --out cosigned.txt
    """
    from cluetool import api
    from cluetool.output import emit, warn

    result = api.audit_witness(export_dir, witness_key=key, state=state, out=out, now=datetime.now(timezone.utc),
                               log_keys=log_key or [], log_key_fingerprints=log_key_fingerprint or [],
                               trust_export_key=trust_export_key, name=name,
                               passphrase=api.read_passphrase(passphrase_file, passphrase_env), warn=warn)
    emit(result, fmt_of(fmt), columns=["ok", "origin", "size", "previous_size", "out", "witness_key"])
    raise typer.Exit(0 if result.ok else 1)


def cosignatures_import(
    file: Annotated[Path, typer.Argument(help="A cosigned checkpoint written by `audit witness`.", show_default=False)],
    witness_key: Annotated[Path, typer.Option("--witness-key", help="The witness's verifier key FILE (vkey), obtained out of band.", show_default=False)],
    key: Annotated[
        Optional[list[str]], typer.Option("--key", help="The home's key NAME that signs the log (default: its checkpoint key). Repeatable.", show_default=False)
    ] = None,
    home: HomeOpt = None,
    fmt: FormatOpt = None,
) -> None:
    """Bring a cosigned checkpoint into the home (cosigned/): from then on `audit verify`
    requires the log to extend it, so deleting entries or checkpoints it covers is
    always detected.

    Example: cluetool audit cosignatures import cosigned.txt --witness-key auditor.vkey
    """
    from cluetool import api
    from cluetool.output import emit

    result = api.audit_cosignatures_import(home_arg(home), file, witness_key=witness_key, keys=key or [])
    emit(result, fmt_of(fmt), columns=["path", "size", "root", "witness", "timestamp"])


def key_generate(
    unprotected: Annotated[
        bool, typer.Option("--unprotected", help="Write the key without a passphrase (not recommended).")
    ] = False,
    passphrase_file: PassFileOpt = None,
    passphrase_env: PassEnvOpt = None,
    home: HomeOpt = None,
    fmt: FormatOpt = None,
) -> None:
    """Make the home's own checkpoint key (keys/audit.key), separate from the operational
    key and protected by a passphrase (recommended), so a copy of the home cannot re-sign
    a rewritten log. From then on `audit checkpoint` and `audit verify` use it, and
    `import` leaves checkpoints to `audit checkpoint`.

    Example: cluetool audit key generate --passphrase-file /run/secrets/audit-pass
    """
    from cluetool import api
    from cluetool.output import emit

    h = home_arg(home).check()
    result = api.audit_key_generate(h, now=datetime.now(timezone.utc), unprotected=unprotected,
                                    passphrase=api.read_passphrase(passphrase_file, passphrase_env))
    emit(result, fmt_of(fmt), columns=["name", "key_id", "fingerprint", "public_key_file", "protected"])


COMMANDS: dict[str, Callable[..., None]] = {
    "verify": verify,
    "log": log,
    "checkpoint": checkpoint,
    "prove": prove,
    "check-proof": check_proof,
    "export": export,
    "confirm-text": confirm_text,
    "witness": witness,
}
# Sub-groups: ``audit key generate``, ``audit cosignatures import``.
GROUPS: dict[str, tuple[str, dict[str, Callable[..., None]]]] = {
    "key": ("The home's checkpoint key.", {"generate": key_generate}),
    "cosignatures": ("Cosigned checkpoints from witnesses.", {"import": cosignatures_import}),
}
