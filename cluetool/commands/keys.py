"""``cluetool keys …``: generate, list, show, export, trust, rotate (DESIGN §6)."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import Annotated, Any, Callable, Optional

import typer

from cluetool.commands.common import FormatOpt, HomeOpt, fmt_of, home_of

NameArg = Annotated[str, typer.Argument(help="Key name (files keys/NAME.*).", show_default=False)]
PassFileOpt = Annotated[
    Optional[Path],
    typer.Option("--passphrase-file", help="Read the passphrase from this file.", show_default=False),
]
PassEnvOpt = Annotated[
    Optional[str],
    typer.Option("--passphrase-env", help="Read the passphrase from this environment variable.", show_default=False),
]
_COLUMNS = ["name", "key_id", "age_recipient", "protected"]


def _home(home: Path | None) -> Any:
    from cluetool.config import resolve_home

    return resolve_home(home_of(home))


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
    from cluetool import keys
    from cluetool.errors import InputError
    from cluetool.output import emit

    passphrase = keys.read_passphrase(passphrase_file, passphrase_env)
    if protect and passphrase is None:
        raise InputError("--protect needs --passphrase-file FILE or --passphrase-env VAR")
    if passphrase is not None and not protect:
        raise InputError("a passphrase was given without --protect")
    info = keys.generate(_home(home), name, now=datetime.now(timezone.utc), passphrase=passphrase, pq=pq)
    emit(info, fmt_of(fmt), columns=_COLUMNS)


def list_(home: HomeOpt = None, fmt: FormatOpt = None) -> None:
    """List the home's keys: name, minisign key id, age recipient, protection.

    Example: cluetool keys list --format json
    """
    from cluetool import keys
    from cluetool.output import emit

    emit(keys.KeyList(keys=keys.list_keys(_home(home))), fmt_of(fmt), rows="keys", columns=_COLUMNS)


def show(name: NameArg, home: HomeOpt = None, fmt: FormatOpt = None) -> None:
    """Show one key's id and public keys.

    Example: cluetool keys show intake-bj
    """
    from cluetool import keys
    from cluetool.output import emit

    emit(keys.show(_home(home), name), fmt_of(fmt), columns=["name", "key_id", "minisign_public_key", "age_recipient", "protected"])


def export(
    name: NameArg,
    as_age: bool = typer.Option(False, "--age", help="Print the age recipient (age1…)."),
    as_minisign: bool = typer.Option(False, "--minisign", help="Print the minisign public key file (default)."),
    home: HomeOpt = None,
) -> None:
    """Print a public key: the minisign public key file (default) or the age recipient.

    Example: cluetool keys export intake-bj --minisign > intake-bj.pub
    """
    from cluetool import keys
    from cluetool.errors import InputError

    if as_age and as_minisign:
        raise InputError("give --age or --minisign, not both")
    typer.echo(keys.export_public(_home(home), name, kind="age" if as_age else "minisign"), nl=False)


def trust(
    source: Annotated[str, typer.Argument(help="Source name, e.g. intake-bj.", show_default=False)],
    file: Annotated[Path, typer.Argument(help="minisign public key file of the signer.", show_default=False)],
    rotation: Annotated[
        Optional[Path],
        typer.Option("--rotation", help="Rotation statement (NAME.rotation.minisig) signed by a trusted key.", show_default=False),
    ] = None,
    home: HomeOpt = None,
    fmt: FormatOpt = None,
) -> None:
    """Trust a minisign public key as a signer of batches from SOURCE.

    With --rotation the key is admitted only if the statement is signed by a key already
    trusted for SOURCE.

    Example: cluetool keys trust intake-bj intake-bj.pub
    """
    from cluetool.output import emit
    from cluetool.services import trust_signer

    result = trust_signer(_home(home), source, file, rotation=rotation, now=datetime.now(timezone.utc))
    emit(result, fmt_of(fmt))


def rotate(
    name: NameArg,
    passphrase_file: PassFileOpt = None,
    passphrase_env: PassEnvOpt = None,
    protect: bool = typer.Option(False, "--protect", help="Protect the new key with the same passphrase."),
    home: HomeOpt = None,
    fmt: FormatOpt = None,
) -> None:
    """Replace key NAME by a new pair and write NAME.rotation.minisig, signed by the old key.

    Carry NAME.pub and NAME.rotation.minisig to receivers; they run
    `cluetool keys trust SOURCE NAME.pub --rotation NAME.rotation.minisig`.

    Example: cluetool keys rotate intake-bj
    """
    from cluetool import keys
    from cluetool.output import emit

    passphrase = keys.read_passphrase(passphrase_file, passphrase_env)
    info = keys.rotate(
        _home(home), name, now=datetime.now(timezone.utc), passphrase=passphrase,
        new_passphrase=passphrase if protect else None,
    )
    emit(info, fmt_of(fmt), columns=_COLUMNS)


COMMANDS: dict[str, Callable[..., None]] = {
    "generate": generate,
    "list": list_,
    "show": show,
    "export": export,
    "trust": trust,
    "rotate": rotate,
}
