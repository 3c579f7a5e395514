"""Library entry points for verifying batches with a home and/or explicit signer files."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path

from cluetool.batch.chain import ChainStart
from cluetool.batch.verify import verify_batches
from cluetool.config import HOME_ENV, Home, resolve_home
from cluetool.errors import InputError, StateError
from cluetool.formats import minisign
from cluetool.keys import load_identity, trusted_keys
from cluetool.model.batch import VerifyReport


def signer_lookup(home: Home | None, signer_files: Sequence[Path]) -> Callable[[str], list[minisign.PublicKey]]:
    """Trusted keys per source: the home's ``trusted/SOURCE/`` plus explicit files.

    Raises:
        InputError: a signer file cannot be read or is not a minisign public key.
    """
    extra: list[minisign.PublicKey] = []
    for f in signer_files:
        try:
            extra.append(minisign.PublicKey.parse(f.read_text(encoding="utf-8")))
        except (OSError, UnicodeDecodeError):
            raise InputError(f'cannot read signer key "{f}"') from None
        except minisign.MinisignError as exc:
            raise InputError(f'cannot read signer key "{f}": {exc}') from None

    def lookup(source: str) -> list[minisign.PublicKey]:
        keys = list(extra)
        if home is not None:
            try:
                keys += trusted_keys(home, source)
            except InputError:
                pass
        return keys

    return lookup


def verify(
    paths: Sequence[Path],
    *,
    home: Path | None = None,
    signer_files: Sequence[Path] = (),
    chain: bool = False,
    identity: str | None = None,
    decrypt: bool = False,
    passphrase: bytes | None = None,
    start: Callable[[str], ChainStart | None] | None = None,
    accepted: Callable[[str, int], str | None] | None = None,
) -> VerifyReport:
    """Verify batches against the home's trusted signers and/or ``signer_files``.

    A home is needed only for its trusted keys and for ``--decrypt``'s identity; an
    auditor can pass ``signer_files`` alone.

    Raises:
        InputError: unreadable input; StateError: no home where one is needed.
    """
    h: Home | None = None
    has_home = home is not None or bool(os.environ.get(HOME_ENV))
    if has_home or not signer_files or decrypt or identity:
        h = resolve_home(home).check()
    identities = []
    if decrypt or identity:
        if h is None:
            raise StateError("--decrypt needs a home with an age identity")
        identities = [load_identity(h, identity or "main", passphrase)]
    return verify_batches(
        paths, signer_lookup(h, signer_files), chain=chain, identities=identities,
        **({"start": start} if start else {}), **({"accepted": accepted} if accepted else {}),
    )
