"""Permission checks on a home's key material (keys/README.md).

The home, ``keys/``, ``trusted/`` and ``state/`` must belong to the current user and
must not be writable by group or others (whoever can write there can plant a signer or
swap a key); ``keys/`` must not be readable by them either, and must not be a symbolic
link (a link to a shared directory would publish the secret keys). A passphrase file
must not be readable by group or others. Each refusal is one ``StateError`` line
naming the path, the mode found and the command that fixes it (exit 3).
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from cluetool.config import Home
from cluetool.errors import StateError

_GROUP_OTHER_WRITE = 0o022
_GROUP_OTHER_ANY = 0o077


def _refuse(what: str, path: Path, mode: int, problem: str, fix: str) -> StateError:
    return StateError(f'{what} "{path}" has mode {mode:04o} ({problem}): run {fix}')


def check_dir(path: Path, what: str, *, private: bool = False) -> None:
    """Refuse a directory that is a symlink, not the user's, or open to group/others.

    A missing directory passes (it is created 0700 when first needed).

    Raises:
        StateError: the one-line refusal.
    """
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return
    except OSError as exc:
        raise StateError(f'cannot inspect {what} "{path}": {exc.strerror}') from None
    if stat.S_ISLNK(st.st_mode):
        raise StateError(
            f'{what} "{path}" is a symbolic link (to "{os.readlink(path)}"): '
            f'refused, key material must stay in the home; replace the link by a 0700 directory'
        )
    if not stat.S_ISDIR(st.st_mode):
        raise StateError(f'{what} "{path}" is not a directory')
    mode = stat.S_IMODE(st.st_mode)
    if st.st_uid != os.geteuid():
        raise StateError(
            f'{what} "{path}" belongs to uid {st.st_uid}, not to the current user (uid {os.geteuid()}): '
            f'run chown {os.geteuid()} "{path}" as its owner, or run cluetool as that user'
        )
    if mode & _GROUP_OTHER_WRITE:
        raise _refuse(what, path, mode, "group or others can write to it", f'chmod 700 "{path}"')
    if private and mode & _GROUP_OTHER_ANY:
        raise _refuse(what, path, mode, "group or others can read it", f'chmod 700 "{path}"')


def check_home(home: Home) -> Home:
    """``home.check()`` plus the permission rules above for the home and its key dirs.

    Raises:
        StateError: no home, or a directory that breaks a rule.
    """
    home.check()
    check_dir(home.root, "home")
    check_dir(home.keys_dir, "keys directory", private=True)
    check_dir(home.trusted_dir, "trusted-keys directory")
    check_dir(home.state_dir, "state directory")
    return home


def check_passphrase_file(path: Path) -> None:
    """Refuse a passphrase file that group or others can read.

    Raises:
        StateError: the one-line refusal.
    """
    try:
        st = os.stat(path)
    except OSError:
        return  # the reader reports a missing or unreadable file
    mode = stat.S_IMODE(st.st_mode)
    if mode & _GROUP_OTHER_ANY:
        raise _refuse("passphrase file", path, mode, "group or others can read it", f'chmod 600 "{path}"')
