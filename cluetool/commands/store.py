"""``cluetool duplicates`` and ``cluetool store check / backup / restore / migrate-to``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from cluetool.commands.common import FormatOpt, HomeOpt, StorePasswordEnvOpt, fmt_of, home_arg


def duplicates(
    all_states: Annotated[bool, typer.Option("--all", help="Also confirmed and rejected pairs.")] = False,
    home: HomeOpt = None,
    fmt: FormatOpt = None,
) -> None:
    """List possible duplicates (shared fingerprints) awaiting a person's decision.

    Nothing is merged or dropped automatically; confirm with `record CLUE duplicate --of CLUE`.

    Example: cluetool duplicates --format jsonl
    """
    from cluetool import api
    from cluetool.output import emit

    result = api.duplicates(home_arg(home), state=None if all_states else "open")
    emit(result, fmt_of(fmt), rows="duplicates", columns=["submission_id", "duplicate_of", "reason", "state", "found_at"])


def check(
    replay: Annotated[bool, typer.Option("--replay", help="Also rebuild stages, assignments, events and obligations from the audit log and name each row that differs.")] = False,
    repair: Annotated[bool, typer.Option("--repair", help="First remove leftovers of killed runs: temporary files and orphan blobs (each named).")] = False,
    home: HomeOpt = None,
    fmt: FormatOpt = None,
) -> None:
    """Check the store: SQLite integrity, foreign keys, permissions; re-hash every stored
    report (against its report_sha256 and its import's audit entry) and every blob;
    with --replay also the state tables against the audit log (a row edited, added or
    deleted by hand is named).

    Exit 1 if anything is wrong (a changed report, a tampered or missing blob, a damaged
    database, a row the audit log does not account for). With --repair, stray temporary
    files and orphan blobs are removed first.

    Example: cluetool store check --repair
    """
    from cluetool import api
    from cluetool.output import Format, emit, info
    from cluetool.commands.progress import working

    with working("checking the store"):  # a spinner on a terminal only
        report = api.store_check(home_arg(home), replay=replay, repair=repair)
    if fmt_of(fmt) is not Format.json:  # json carries them in "removed"
        for path in report.removed:
            info(f"removed {path}")
    emit(report, fmt_of(fmt), rows="problems", columns=["code", "severity", "object", "message"])
    if fmt_of(fmt) is Format.table and report.ok:
        info("store check: no problems")
    raise typer.Exit(0 if report.ok else 1)


def migrate_to(
    url: Annotated[str, typer.Argument(metavar="URL", help="postgresql:// URL of an empty database (no password in it).", show_default=False)],
    store_password_env: StorePasswordEnvOpt = None,
    blobs_in_db: Annotated[bool, typer.Option("--blobs-in-db", help="Also copy every attachment's blob file into the database's blob tables, proved by re-hashing each from the tables.")] = False,
    home: HomeOpt = None,
    fmt: FormatOpt = None,
) -> None:
    """Copy the home's SQLite store into an empty PostgreSQL database, in one transaction,
    and prove the copy: equal row counts in every table and equal audit tree roots. The
    SQLite store is left untouched (and stays the home's store until config.toml names
    the new one); the blobs stay files in the home, or with --blobs-in-db are copied
    into the database too. See docs/postgresql.md and docs/operations.md.

    Example: cluetool store migrate-to 'postgresql://cluetool@db.internal/cluetool'
    """
    from cluetool import api
    from cluetool.output import Format, emit, info

    report = api.store_migrate_to(home_arg(home), url, password_env=store_password_env, blobs_in_db=blobs_in_db)
    emit(report, fmt_of(fmt), rows="tables", columns=["table", "rows"])
    if fmt_of(fmt) is Format.table:
        info(f"copied and proved: {report.audit_entries} audit entries, root {report.audit_root}")
        if report.blobs_in_db:
            info(f"blobs copied and re-hashed from the database: {report.blobs} ({report.blob_bytes} bytes)")
            info(f'to use it, set in config.toml: store = "{report.target}" and blobs_in_db = true')
        else:
            info(f'to use it, set in config.toml: store = "{report.target}"')


def backup(
    dest: Annotated[Path, typer.Argument(help="A new (or empty) directory for the backup.", show_default=False)],
    with_secrets: Annotated[bool, typer.Option("--with-secrets", help="Also copy the secret keys (keep such a backup as safe as the keys).")] = False,
    home: HomeOpt = None,
    fmt: FormatOpt = None,
) -> None:
    """Back up the home: the store (SQLite online backup, safe while imports run), blobs,
    state, trusted signers, rules, config and public keys; secret keys only with
    --with-secrets. A PostgreSQL home is refused (exit 3): back it up with pg_dump or
    pg_basebackup, as docs/operations.md says.

    Example: cluetool store backup /media/backup/2026-12-05
    """
    from cluetool import api
    from cluetool.output import emit

    emit(api.store_backup(home_arg(home), dest, with_secrets=with_secrets), fmt_of(fmt),
         columns=["path", "files", "bytes", "with_secrets"])


def restore(
    src: Annotated[Path, typer.Argument(help="A backup made by store backup.", show_default=False)],
    new_home: Annotated[Path, typer.Option("--home", help="The new home to restore into (new or empty).", show_default=False)],
    key: Annotated[Optional[str], typer.Option("--key", help="Checkpoint key name for the audit verify (default as audit verify).", show_default=False)] = None,
    fmt: FormatOpt = None,
) -> None:
    """Restore a backup into a new home, then run store check and audit verify on it.

    Exit 1 if either finds a problem (the restored home is kept, to inspect).

    Example: cluetool store restore /media/backup/2026-12-05 --home /srv/cluetool-restored
    """
    from cluetool import api
    from cluetool.output import Format, emit, info

    report = api.store_restore(src, api.Home(new_home), key=key)
    emit(report, fmt_of(fmt), columns=["ok", "home", "files", "bytes"])
    if fmt_of(fmt) is Format.table:
        info(f"store check: {'ok' if report.store_check.ok else 'PROBLEMS'}; audit verify: {'ok' if report.audit.ok else 'PROBLEMS'}")
    raise typer.Exit(0 if report.ok else 1)
