"""``cluetool keys …``: generate, list, show, export, trust, trusted, untrust, rotate, destroy, root (keys/README.md)."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Annotated, Callable, Optional

import typer

from cluetool.commands.common import FormatOpt, HomeOpt, PassEnvOpt, PassFileOpt, fmt_of, home_arg

NameArg = Annotated[str, typer.Argument(help="Key name (files keys/NAME.*).", show_default=False)]
_COLUMNS = ["name", "key_id", "age_recipient", "protected"]


def generate(
    name: NameArg,
    protect: bool = typer.Option(False, "--protect", help="Encrypt the secret keys with a passphrase."),
    pq: bool = typer.Option(
        False, "--pq", help="Post-quantum hybrid identity (mlkem768x25519, age1pq1…); senders need age 1.3 or cluetool."
    ),
    passphrase_file: PassFileOpt = None,
    passphrase_env: PassEnvOpt = None,
    home: HomeOpt = None,
    fmt: FormatOpt = None,
) -> None:
    """Make a signing key (Ed25519, minisign format) and an encryption identity (X25519, age format).

    With --pq the identity is the post-quantum hybrid (ML-KEM-768 + X25519) of age 1.3;
    X25519 stays the default because age 1.1 cannot read hybrid files.

    Secret files are written 0600; with --protect they are encrypted with the passphrase
    from --passphrase-file or --passphrase-env (never a prompt, never argv).

    Example: cluetool keys generate intake-bj --home /srv/cluetool
    """
    from cluetool import api
    from cluetool.output import emit

    passphrase = api.read_passphrase(passphrase_file, passphrase_env)
    info = api.keys_generate(home_arg(home), name, now=datetime.now(timezone.utc), passphrase=passphrase,
                             protect=protect, pq=pq)
    emit(info, fmt_of(fmt), columns=_COLUMNS)


def list_(
    retired: bool = typer.Option(False, "--retired", help="List retired key pairs (keys/retired/), newest first."),
    home: HomeOpt = None,
    fmt: FormatOpt = None,
) -> None:
    """List the home's keys: name, minisign key id, age recipient, protection.

    With --retired, the pairs replaced by `keys rotate`: their identities still decrypt
    batches sealed before the rotation until `keys destroy` removes them.

    Example: cluetool keys list --retired --format json
    """
    from cluetool import api
    from cluetool.output import emit

    if retired:
        emit(api.keys_list_retired(home_arg(home)), fmt_of(fmt), rows="keys",
             columns=["label", "key_id", "retired_at", "has_identity", "has_signing_key"])
        return
    emit(api.keys_list(home_arg(home)), fmt_of(fmt), rows="keys", columns=_COLUMNS)


def show(name: NameArg, home: HomeOpt = None, fmt: FormatOpt = None) -> None:
    """Show one key's id and public keys.

    Example: cluetool keys show intake-bj
    """
    from cluetool import api
    from cluetool.output import emit

    emit(api.keys_show(home_arg(home), name), fmt_of(fmt), columns=["name", "key_id", "minisign_public_key", "age_recipient", "protected"])


def export(
    name: NameArg,
    as_age: bool = typer.Option(False, "--age", help="Print the age recipient (age1…)."),
    as_minisign: bool = typer.Option(False, "--minisign", help="Print the minisign public key file (default)."),
    home: HomeOpt = None,
    fmt: FormatOpt = None,
) -> None:
    """Print a public key: the minisign public key file (default) or the age recipient.

    With --format, the key's record instead (as keys show: key id, minisign public key,
    age recipient).

    Example: cluetool keys export intake-bj --minisign > intake-bj.pub
    """
    from cluetool import api
    from cluetool.errors import InputError

    if as_age and as_minisign:
        raise InputError("give --age or --minisign, not both")
    from cluetool.commands.common import GLOBALS

    if fmt is not None or GLOBALS.fmt_given:
        show(name, home, fmt)
        return
    typer.echo(api.keys_export(home_arg(home), name, kind="age" if as_age else "minisign"), nl=False)


SourceArg = Annotated[str, typer.Argument(help="Source name, e.g. intake-bj.", show_default=False)]


def _grace(text: str) -> timedelta:
    from cluetool.errors import InputError

    m = re.fullmatch(r"(\d+)([dhm]?)", text.strip())
    if m is None:
        raise InputError(f"invalid --grace {text!r}: a number of days, or of hours or minutes (e.g. 7d, 12h, 30m)")
    n, unit = int(m[1]), m[2] or "d"
    return {"d": timedelta(days=n), "h": timedelta(hours=n), "m": timedelta(minutes=n)}[unit]


def trust(
    source: SourceArg,
    file: Annotated[
        Optional[Path],
        typer.Argument(help="minisign public key file of the signer (optional with --root).", show_default=False),
    ] = None,
    rotation: Annotated[
        Optional[Path],
        typer.Option("--rotation", help="Rotation statement admitting FILE, signed by a key trusted for SOURCE (or its root).", show_default=False),
    ] = None,
    root: Annotated[
        Optional[Path],
        typer.Option("--root", help="Pin SOURCE to this offline root public key: then only root-signed rotations admit keys.", show_default=False),
    ] = None,
    additional: bool = typer.Option(False, "--additional", help="Trust FILE as a second (third, …) key of SOURCE."),
    grace: str = typer.Option("0", "--grace", help="With --rotation: keep trusting the old key this long (7d, 12h, 30m; default 0: retire it at once)."),
    home: HomeOpt = None,
    fmt: FormatOpt = None,
) -> None:
    """Trust a minisign public key as a signer of batches from SOURCE.

    A source's first key is trusted as given; another key needs --rotation (a statement
    signed by a trusted key, which then retires the old key after --grace) or
    --additional. With --root the source is pinned to an offline root key, and from
    then on only rotation statements signed by that root admit new keys.

    Example: cluetool keys trust intake-bj intake-bj.pub --rotation intake-bj.rotation.minisig --grace 7d
    """
    from cluetool import api
    from cluetool.output import emit

    result = api.keys_trust(home_arg(home), source, file, rotation=rotation, now=datetime.now(timezone.utc),
                          root=root, additional=additional, grace=_grace(grace))
    emit(result, fmt_of(fmt))


def trusted(
    source: Annotated[Optional[str], typer.Argument(help="Only this source.", show_default=False)] = None,
    home: HomeOpt = None,
    fmt: FormatOpt = None,
) -> None:
    """List trusted signer keys per source: key id, since when, how admitted
    (trust, rotation, root), status (active, retiring, retired, revoked).

    Example: cluetool keys trusted intake-bj --format json
    """
    from cluetool import api
    from cluetool.output import emit

    doc = api.keys_trusted(home_arg(home), source, now=datetime.now(timezone.utc))
    emit(doc, fmt_of(fmt), rows="signers",
         columns=["source", "key_id", "since", "how", "status", "until", "rotation_from", "reason"])


def untrust(
    source: SourceArg,
    key_id: Annotated[str, typer.Argument(help="Key id (16 hex digits, from keys trusted).", show_default=False)],
    reason: Annotated[str, typer.Option("--reason", help="Why the key is no longer trusted (recorded in the audit log).", show_default=False)],
    home: HomeOpt = None,
    fmt: FormatOpt = None,
) -> None:
    """Stop trusting a signer key of SOURCE: it stays in the list as revoked (audited).

    Example: cluetool keys untrust intake-bj 9F3A0C2E11D84B7A --reason "laptop stolen"
    """
    from cluetool import api
    from cluetool.output import emit

    emit(api.keys_untrust(home_arg(home), source, key_id, reason=reason, now=datetime.now(timezone.utc)), fmt_of(fmt))


def destroy(
    name: NameArg,
    key_id: Annotated[str, typer.Option("--id", help="Key id of the retired pair (from keys list --retired).", show_default=False)],
    yes: bool = typer.Option(False, "--yes", help="Confirm: batches still sealed to this identity become unreadable."),
    home: HomeOpt = None,
    fmt: FormatOpt = None,
) -> None:
    """Delete a retired key pair (keys/retired/NAME-ID.*), audited.

    cluetool cannot know whether batches sealed to the retired identity are still in
    flight; once it is gone they can never be decrypted, so --yes is required.

    Example: cluetool keys destroy intake-bj --id 9F3A0C2E11D84B7A --yes
    """
    from cluetool import api
    from cluetool.output import emit

    emit(api.keys_destroy(home_arg(home), name, key_id, confirmed=yes, now=datetime.now(timezone.utc)), fmt_of(fmt))


def rotate(
    name: NameArg,
    passphrase_file: PassFileOpt = None,
    passphrase_env: PassEnvOpt = None,
    protect: bool = typer.Option(False, "--protect", help="Protect the new key with the same passphrase."),
    root_key: Annotated[
        Optional[Path],
        typer.Option("--root-key", help="Sign the rotation statement with this offline root key (NAME.root.key).", show_default=False),
    ] = None,
    root_passphrase_file: Annotated[
        Optional[Path], typer.Option("--root-passphrase-file", help="Passphrase of the root key, from this file.", show_default=False)
    ] = None,
    root_passphrase_env: Annotated[
        Optional[str], typer.Option("--root-passphrase-env", help="Passphrase of the root key, from this variable.", show_default=False)
    ] = None,
    home: HomeOpt = None,
    fmt: FormatOpt = None,
) -> None:
    """Replace key NAME (signing key and age recipient) by a new pair.

    The old pair moves to keys/retired/ (its identity still decrypts batches sealed to
    the old recipient). NAME.rotation.minisig, signed by the old key (or with --root-key
    by the offline root), admits the new signing key on receivers. Prints what changed
    and what to send to whom.

    Example: cluetool keys rotate intake-bj
    """
    from cluetool import api
    from cluetool.output import emit, info

    passphrase = api.read_passphrase(passphrase_file, passphrase_env)
    root_passphrase = api.read_passphrase(root_passphrase_file, root_passphrase_env) if root_key is not None else None
    result = api.keys_rotate(home_arg(home), name, now=datetime.now(timezone.utc), passphrase=passphrase,
                             protect=protect, root_key=root_key, root_passphrase=root_passphrase)
    emit(result, fmt_of(fmt), columns=["name", "old_key_id", "new_key_id", "retired_as", "statement", "statement_signed_by"])
    if fmt_of(fmt).value != "table":
        return  # the json document carries the same (stderr stays empty on success)
    info(f"signing key {result.old_key_id} -> {result.new_key_id}; age recipient changed too "
         f"(the old identity is kept as {result.retired_as} and still decrypts batches in flight)")
    for line in result.send:
        info(f"send {line}")


def root_generate(
    name: NameArg,
    out: Annotated[Path, typer.Option("--out", help="Directory on removable media for NAME.root.key and NAME.root.pub.", show_default=False)],
    passphrase_file: PassFileOpt = None,
    passphrase_env: PassEnvOpt = None,
    fmt: FormatOpt = None,
) -> None:
    """Make an offline root signing key, always passphrase-protected, written only to --out.

    Keep NAME.root.key offline (two media in two safes); give NAME.root.pub to receivers,
    who pin a source to it with `cluetool keys trust SOURCE --root NAME.root.pub`.

    Example: cluetool keys root generate intake-bj --out /media/usb --passphrase-file /run/root-pass
    """
    from cluetool import api
    from cluetool.output import emit

    passphrase = api.read_passphrase(passphrase_file, passphrase_env)
    emit(api.keys_root_generate(out, name, passphrase=passphrase, now=datetime.now(timezone.utc)), fmt_of(fmt))


COMMANDS: dict[str, Callable[..., None]] = {
    "generate": generate,
    "list": list_,
    "show": show,
    "export": export,
    "trust": trust,
    "trusted": trusted,
    "untrust": untrust,
    "rotate": rotate,
    "destroy": destroy,
}
ROOT_COMMANDS: dict[str, Callable[..., None]] = {"generate": root_generate}
