"""``store backup`` and ``store restore`` (issue 16; the procedure is in docs/operations.md).

A backup is a directory laid out like a home: ``store.db`` copied with SQLite's online
backup API (a consistent snapshot while imports run), then the blobs (a blob the
snapshot references is never removed, so copying them after the snapshot is enough),
``state/`` (SQLite files in it also through the backup API), ``trusted/``, ``rules/``,
``config.toml`` and the public keys. Secret keys (``*.key``, ``*.age``, and the audit
HMAC secret) are copied only with ``with_secrets``: a backup usually travels and is
kept where the keys must not be. Everything is written under a temporary name, fsynced,
and renamed into place at the end; files 0600, directories 0700.

``restore`` copies a backup into a new home the same way, then runs ``store check`` and
``audit verify`` on the result.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
from pathlib import Path

import msgspec

from cluetool import audit
from cluetool.config import Home, fsync_dir, shown
from cluetool.errors import InputError, StateError, os_cause
from cluetool.model.store import StoreCheckReport
from cluetool.home import open_store
from cluetool.store.integrity import check_store

_SECRET_SUFFIXES = (".key", ".age", ".secret")
_TOP_DIRS = ("blobs", "state", "trusted", "rules", "keys")
_SQLITE_MAGIC = b"SQLite format 3\x00"


class BackupReport(msgspec.Struct, kw_only=True):
    path: str
    files: int
    bytes: int
    with_secrets: bool
    schema: str = "cluetool.backup/1"


class RestoreReport(msgspec.Struct, kw_only=True):
    ok: bool
    home: str
    files: int
    bytes: int
    store_check: StoreCheckReport
    audit: audit.AuditReport
    schema: str = "cluetool.restore/1"


def _is_secret(rel: Path) -> bool:
    return rel.parts[0] == "keys" and rel.name.endswith(_SECRET_SUFFIXES)


def _is_sqlite(path: Path) -> bool:
    try:
        with open(path, "rb") as f:
            return f.read(16) == _SQLITE_MAGIC
    except OSError:
        return False


def _sqlite_copy(src: Path, dst: Path) -> None:
    """A consistent copy of a live SQLite file (its -wal included) via the backup API."""
    fd = os.open(dst, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.close(fd)
    source = sqlite3.connect(f"{src.resolve().as_uri()}?mode=ro", uri=True)
    try:
        target = sqlite3.connect(dst)
        try:
            source.backup(target)
        finally:
            target.close()
    finally:
        source.close()
    for suffix in ("-wal", "-shm"):
        Path(f"{dst}{suffix}").unlink(missing_ok=True)
    _fsync_file(dst)


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _copy_file(src: Path, dst: Path) -> None:
    fd = os.open(dst, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out, open(src, "rb") as f:
        shutil.copyfileobj(f, out, 1024 * 1024)
        out.flush()
        os.fsync(out.fileno())


class _Copier:
    def __init__(self, src: Path, dst: Path, *, with_secrets: bool) -> None:
        self.src, self.dst, self.with_secrets = src, dst, with_secrets
        self.files = 0
        self.bytes = 0

    def file(self, rel: Path, *, sqlite: bool = False) -> None:
        src, dst = self.src / rel, self.dst / rel
        if sqlite:
            _sqlite_copy(src, dst)
        else:
            _copy_file(src, dst)
        self.files += 1
        self.bytes += dst.stat().st_size

    def tree(self, top: str) -> None:
        root = self.src / top
        if not root.is_dir():
            return
        for dirpath, dirnames, filenames in os.walk(root):
            d = Path(dirpath)
            rel_dir = d.relative_to(self.src)
            os.makedirs(self.dst / rel_dir, mode=0o700, exist_ok=True)
            dirnames.sort()
            for name in sorted(filenames):
                rel = rel_dir / name
                if name.startswith(".") and ".tmp-" in name:
                    continue  # a temp file of a run in progress or killed
                if name.endswith(("-wal", "-shm", "-journal")) or name.endswith(".lock"):
                    continue  # SQLite's side files are inside the backup-API copy; locks are per run
                if _is_secret(rel) and not self.with_secrets:
                    continue
                if (d / name).is_symlink() or not (d / name).is_file():
                    continue
                self.file(rel, sqlite=_is_sqlite(d / name))
            fsync_dir(self.dst / rel_dir)


def _fresh(dest: Path, what: str) -> Path:
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise InputError(f'{what} "{shown(dest)}" already exists and is not empty', hint="give a new directory")
    tmp = dest.with_name(f".{dest.name}.tmp-{os.getpid()}")
    if tmp.exists():
        shutil.rmtree(tmp)
    os.makedirs(tmp.parent, exist_ok=True)
    os.mkdir(tmp, 0o700)
    return tmp


def _finish(tmp: Path, dest: Path) -> None:
    fsync_dir(tmp)
    if dest.exists():
        dest.rmdir()  # empty, checked by _fresh
    os.rename(tmp, dest)
    os.chmod(dest, 0o700)
    fsync_dir(dest.parent)


def _copy_home(src: Path, dest: Path, *, with_secrets: bool, store_first: bool) -> _Copier:
    tmp = _fresh(dest, "destination")
    try:
        copier = _Copier(src, tmp, with_secrets=with_secrets)
        if store_first and (src / "store.db").is_file():
            copier.file(Path("store.db"), sqlite=True)  # the snapshot, before the blobs
        if (src / "config.toml").is_file():
            copier.file(Path("config.toml"))
        for top in _TOP_DIRS:
            copier.tree(top)
        if not store_first and (src / "store.db").is_file():
            copier.file(Path("store.db"), sqlite=True)
        _finish(tmp, dest)
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        where = Path(os.fsdecode(exc.filename)).parent if exc.filename else dest.parent
        raise StateError(f'cannot write in "{shown(where)}": {os_cause(exc)}', hint="nothing was kept; fix it and run again") from None
    except sqlite3.Error:
        shutil.rmtree(tmp, ignore_errors=True)
        raise StateError(f'cannot copy the store of "{shown(src)}"', hint="run: cluetool store check") from None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return copier


def backup(home: Home, dest: Path, *, with_secrets: bool = False) -> BackupReport:
    """Copy the home's store, blobs, state, trust, rules and public keys into ``dest``
    (a new or empty directory); secret keys only ``with_secrets``.

    Raises:
        InputError: ``dest`` exists and is not empty.
        StateError: the home or store is unusable; ``dest`` cannot be written.
    """
    home.check()
    if not isinstance(home.store_location, Path):
        # Decided (docs/decisions.md): the database is the server's to back up.
        raise StateError("store backup copies an SQLite store; this home's store is PostgreSQL",
                         hint='back it up with pg_dump or pg_basebackup and the home\'s files: '
                              'docs/operations.md, "Backups of a PostgreSQL home"')
    with open_store(home, readonly=True):
        pass  # a cluetool store, at the current schema
    copier = _copy_home(home.root, dest, with_secrets=with_secrets, store_first=True)
    return BackupReport(path=shown(dest), files=copier.files, bytes=copier.bytes, with_secrets=with_secrets)


def restore(src: Path, new_home: Path, *, key: str | None = None) -> RestoreReport:
    """Copy a backup into ``new_home`` (new or empty), then run ``store check`` and
    ``audit verify`` (with the checkpoint key ``key``, default as ``audit verify``) on it.

    Raises:
        InputError: ``src`` is not a backup; ``new_home`` exists and is not empty.
        StateError: ``new_home`` cannot be written; the restored store is unusable.
    """
    if not (src / "store.db").is_file() or not (src / "config.toml").is_file():
        raise InputError(f'"{shown(src)}" is not a cluetool backup (no store.db and config.toml)')
    copier = _copy_home(src, new_home, with_secrets=True, store_first=False)
    home = Home(new_home)
    with open_store(home) as store:
        check = check_store(store)
        if key is None:  # as audit verify, but a backup may lack the secret key files
            key = "audit" if (home.keys_dir / "audit.pub").is_file() else audit.checkpoint_key_name(home)
        keys = audit.home_keys(home, key)
        report = audit.verify_store(store, keys, against=audit.cosigned_checkpoints(home))
    return RestoreReport(ok=check.ok and report.ok, home=shown(new_home), files=copier.files, bytes=copier.bytes,
                         store_check=check, audit=report)


__all__ = ["backup", "restore", "BackupReport", "RestoreReport"]
