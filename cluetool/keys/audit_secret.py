"""The home's audit secret: the key of the HMAC-SHA-256 that free text (event notes,
assignment reasons) goes into the audit log under (docs/audit.md).

A plain SHA-256 of a short note (a phone number, a name) is recovered by guessing; an
HMAC under a secret that stays in the keystore is not, while a holder of the secret can
still confirm that a given note is the one recorded (``keyed_text``). The secret is 32
random bytes in ``keys/audit-hmac.secret`` (0600, one line
``cluetool-audit-hmac/1 <64 hex digits>``), one per home and so per store. It is created
on first use; losing it loses only the ability to confirm notes, never the log's
integrity. Back it up with the other keys.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import stat
from pathlib import Path

from cluetool.config import Home, fsync_dir, make_private_dir
from cluetool.errors import StateError

SECRET_FILE = "audit-hmac.secret"
PREFIX = "cluetool-audit-hmac/1"
_LINE = re.compile(r"^cluetool-audit-hmac/1 ([0-9a-f]{64})\n?$")


def secret_path(home: Home) -> Path:
    return home.keys_dir / SECRET_FILE


def _read(path: Path) -> bytes:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise StateError(f'cannot read the audit secret "{path}": {exc.strerror}') from None
    with os.fdopen(fd, "rb") as f:
        mode = os.fstat(f.fileno()).st_mode
        text = f.read(200)
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise StateError(f'the audit secret "{path}" is readable by others', hint=f"run: chmod 600 {path}")
    m = _LINE.match(text.decode("ascii", "replace"))
    if m is None:
        raise StateError(f'the audit secret "{path}" is damaged', hint="restore keys/ from a backup")
    return bytes.fromhex(m.group(1))


def load_audit_secret(home: Home) -> bytes:
    """The home's audit secret.

    Raises:
        StateError: missing, damaged or readable by group or others.
    """
    path = secret_path(home)
    try:
        return _read(path)
    except FileNotFoundError:
        raise StateError(f'no audit secret "{path}"', hint="it is created by the first note or reason recorded") from None


def audit_secret(home: Home) -> bytes:
    """The home's audit secret, created (32 random bytes, 0600) if the home has none yet.

    Two processes creating it at once agree: the file is linked into place only if absent.

    Raises:
        StateError: damaged, readable by others, or the keys directory is not writable.
    """
    path = secret_path(home)
    try:
        return _read(path)
    except FileNotFoundError:
        pass
    try:
        make_private_dir(path.parent)
        tmp = path.with_name(f".{SECRET_FILE}.tmp-{os.getpid()}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(f"{PREFIX} {os.urandom(32).hex()}\n".encode("ascii"))
                f.flush()
                os.fsync(f.fileno())
            try:
                os.link(tmp, path)  # fails if another process got there first
            except FileExistsError:
                pass
        finally:
            tmp.unlink(missing_ok=True)
        fsync_dir(path.parent)
    except OSError as exc:
        raise StateError(f'cannot create the audit secret "{path}": {exc.strerror}') from None
    return _read(path)


def keyed_text(secret: bytes, text: str) -> str:
    """HMAC-SHA-256 of ``text`` (UTF-8) under ``secret``, in hex: what the log records."""
    return hmac.new(secret, text.encode("utf-8"), hashlib.sha256).hexdigest()


def matches(secret: bytes, text: str, recorded: str) -> bool:
    """Whether ``recorded`` (an HMAC from the log) is the keyed value of ``text``."""
    return hmac.compare_digest(keyed_text(secret, text), recorded)
