"""Offline root signing keys (keys/README.md): a minisign key that only signs rotation
statements, kept off the machines that handle batches.

``generate_root`` writes ``NAME.root.key`` (always passphrase-protected, 0600) and
``NAME.root.pub`` straight to a directory the operator names, meant to be removable
media; nothing is kept in the home. A receiver pins a source to the root with
``keys trust SOURCE --root NAME.root.pub``; the sender signs a rotation with
``keys rotate NAME --root-key /media/…/NAME.root.key``. The statement stays a minisign
signature: ``minisign -V -p NAME.root.pub -m NAME.pub -x NAME.rotation.minisig``.
"""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path

import msgspec

from cluetool.config import write_private_file
from cluetool.errors import InputError, StateError
from cluetool.formats import minisign
from cluetool.keys.keystore import NAME_RE
from cluetool.model.batch import key_id_hex16


class RootKeyInfo(msgspec.Struct, kw_only=True):
    """A new offline root key (public facts only)."""

    name: str
    key_id: str
    secret_key_file: str
    public_key_file: str
    schema: str = "cluetool.keys.root/1"


def generate_root(
    out_dir: Path, name: str, *, passphrase: bytes | None, now: datetime,
    scrypt_cost: dict[str, int] | None = None,
) -> RootKeyInfo:
    """Write a protected root key pair to ``out_dir`` (removable media).

    Raises:
        InputError: bad name, no passphrase, files already there.
        StateError: ``out_dir`` is not a writable directory.
    """
    if not NAME_RE.fullmatch(name):
        raise InputError(f"invalid key name {name!r}: use letters, digits, '_', '-', '.' (up to 64)")
    if passphrase is None:
        raise InputError("a root key is always protected: give --passphrase-file FILE or --passphrase-env VAR")
    if not out_dir.is_dir():
        raise StateError(f'"{out_dir}" is not a directory', hint="mount the removable medium and give its path with --out")
    key_path, pub_path = out_dir / f"{name}.root.key", out_dir / f"{name}.root.pub"
    for path in (key_path, pub_path):
        if path.exists():
            raise InputError(f'"{path}" already exists', hint="choose another name or medium")
    sk = minisign.SecretKey.generate()
    kid = key_id_hex16(sk.public_key.key_id)
    cost = dict(scrypt_cost or {})
    cost.pop("age_work_factor", None)
    try:
        write_private_file(key_path, sk.to_file_text(passphrase, **cost).encode())
        write_private_file(pub_path, sk.public_key.to_file_text(f"cluetool root public key {kid}").encode(), mode=0o644)
    except OSError as exc:
        raise StateError(f'cannot write the root key to "{out_dir}": {exc.strerror}') from None
    del now  # the key files carry no time; kept for the uniform core signature
    return RootKeyInfo(name=name, key_id=kid, secret_key_file=str(key_path), public_key_file=str(pub_path))


def load_root_key(path: Path, passphrase: bytes | None) -> minisign.SecretKey:
    """The root secret key in ``path`` (protected).

    Raises:
        InputError: unreadable, not a minisign secret key, or wrong/missing passphrase.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        raise InputError(f'cannot read root key "{path}"') from None
    if os.stat(path).st_mode & 0o077:
        raise StateError(f'root key "{path}" has mode {os.stat(path).st_mode & 0o777:04o} '
                         f'(group or others can read it): run chmod 600 "{path}"')
    try:
        return minisign.SecretKey.parse(text, passphrase)
    except minisign.MinisignError as exc:
        hint = None if passphrase else "the root key needs --root-passphrase-file FILE or --root-passphrase-env VAR"
        raise InputError(f'cannot use root key "{path}": {exc}', hint=hint) from None
