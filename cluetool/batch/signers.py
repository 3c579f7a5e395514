"""The signer keys a batch is verified with: a home's trusted signers, explicit key
files, and keys admitted by rotation statements."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from cluetool.config import Home
from cluetool.errors import InputError
from cluetool.formats import minisign
from cluetool.keys import check_rotation, parse_public, trusted_keys


def _read_text(path: Path, what: str) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        raise InputError(f'cannot read {what} "{path}"') from None


def _parse_key(text: str, path: Path) -> minisign.PublicKey:
    return parse_public(text, path)


def signer_lookup(
    home: Home | None, signer_files: Sequence[Path], rotations: Sequence[Path] = (),
    new_keys: Sequence[Path] = (),
) -> Callable[[str], list[minisign.PublicKey]]:
    """Trusted keys per source: the home's ``trusted/SOURCE/`` plus explicit files, plus
    each key admitted by a rotation statement signed by a key already trusted, in
    chains of any length. The new key of the i-th statement is the i-th of ``new_keys``
    (any file name); without one, ``NAME.pub`` beside ``NAME.rotation.minisig``.

    Raises:
        InputError: a key or statement cannot be read; more new keys than statements; a
            statement not signed by a trusted key (checked per source, when looked up).
    """
    extra = [_parse_key(_read_text(f, "signer key"), f) for f in signer_files]
    if len(new_keys) > len(rotations):
        raise InputError("each --new key goes with a --rotation statement (give them in pairs, in order)")
    pending: list[tuple[Path, str, bytes, minisign.PublicKey]] = []
    for i, statement in enumerate(rotations):
        if i < len(new_keys):
            pub_path = new_keys[i]
        elif statement.name.endswith(".rotation.minisig"):
            pub_path = statement.with_name(statement.name.removesuffix(".rotation.minisig") + ".pub")
        else:
            raise InputError(f'no new key for rotation statement "{statement}"',
                             hint="name it with --new NEW.pub after the --rotation it goes with")
        pub_text = _read_text(pub_path, "new key of rotation statement")
        pending.append((statement, _read_text(statement, "rotation statement"), pub_text.encode(), _parse_key(pub_text, pub_path)))

    def lookup(source: str) -> list[minisign.PublicKey]:
        keys = list(extra)
        if home is not None:
            try:
                keys += trusted_keys(home, source)
            except InputError:
                pass
        left = list(pending)
        while left:  # a statement may rest on a key another statement admitted
            admitted = []
            for item in left:
                try:
                    check_rotation(keys, item[2], item[1], item[3])
                except InputError:
                    continue
                keys.append(item[3])
                admitted.append(item)
            if not admitted:
                raise InputError(
                f'rotation statement "{left[0][0]}" is not signed by a key trusted for {source}',
                hint="give the key that signed it with --signer OLD.pub, and the key it admits with --new NEW.pub",
            )
            left = [i for i in left if i not in admitted]
        return keys

    return lookup
