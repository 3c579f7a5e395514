"""Content-addressed attachment blobs: ``blobs/<sha256[:2]>/<sha256>`` (cluetool/store/migrations.py).

This is the file implementation of the store's blobs; ``cluetool.store.blobtable`` is
the other (a PostgreSQL store's ``--blobs-in-db``: rows written in the batch's
transaction). Both have the surface of ``Blobs``; a store gets one of them from
``cluetool.store.backend`` (the one place that chooses).

A blob is written before the transaction that references it commits, so a crash can
leave an unreferenced blob (an orphan: harmless, reported as info, removable) but never
a reference without its blob. Writing is atomic: a temporary file inside ``blobs/``
(never the system temp directory: attachments are evidence), hashed while
written, fsynced, renamed into place, directory fsynced. Files are 0600, directories
0700. Blobs are evidence and are never modified.
"""

from __future__ import annotations

import hashlib
import os
import re
import stat
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import BinaryIO, Protocol

from cluetool.config import fsync_dir, pid_alive
from cluetool.errors import InputError, StateError, os_cause
from cluetool.model.store import BlobProblem

_SHA256_RE = re.compile(r"^[0-9a-f]{64}$")
_PREFIX_RE = re.compile(r"^[0-9a-f]{2}$")
_CHUNK = 1024 * 1024
_TMP_PREFIX = ".tmp-"
_PID_TMP = re.compile(r"^\.tmp-(\d+)-")


class Blobs(Protocol):
    """What the store, import, ``store check`` and ``store migrate-to`` do with blobs,
    whichever implementation holds them."""

    #: Written in the transaction that references them (a rolled-back batch leaves
    #: none), rather than before it (files: a failed import removes what it created).
    transactional: bool

    def ensure_root(self) -> None: ...
    def name(self, sha256: str) -> str: ...
    def exists(self, sha256: str) -> bool: ...
    def size(self, sha256: str) -> int | None: ...
    def put(self, src: BinaryIO, expected_sha256: str | None = None) -> tuple[str, int]: ...
    def open(self, sha256: str) -> BinaryIO: ...
    def remove(self, sha256: str) -> bool: ...
    def remove_stale_temps(self) -> list[str]: ...
    def check(self, referenced: Iterable[tuple[str, int]]) -> Iterator[BlobProblem]: ...
    def unreferenced(self, referenced: Iterable[str]) -> Iterator[str]: ...


def _check_sha(sha256: str) -> None:
    if not isinstance(sha256, str) or not _SHA256_RE.match(sha256):
        raise InputError("not a sha256: expected 64 lower-case hex digits")


def _hash_file(path: Path) -> tuple[str, int]:
    """sha256 and size of a regular file, not following a symlink."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    with os.fdopen(fd, "rb") as f:
        h = hashlib.sha256()
        size = 0
        while chunk := f.read(_CHUNK):
            h.update(chunk)
            size += len(chunk)
    return h.hexdigest(), size


class BlobStore:
    """The blob directory of a store (the file implementation of ``Blobs``)."""

    transactional = False

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def ensure_root(self) -> None:
        """Create the blob directory (0700) if it is missing."""
        if not self.root.is_dir():
            self.root.mkdir(mode=0o700, parents=True, exist_ok=True)
            os.chmod(self.root, 0o700)
            fsync_dir(self.root.parent)

    def path(self, sha256: str) -> Path:
        """Where the blob with this sha256 lives (whether or not it exists).

        Raises:
            InputError: ``sha256`` is not 64 lower-case hex digits.
        """
        _check_sha(sha256)
        return self.root / sha256[:2] / sha256

    def name(self, sha256: str) -> str:
        """How problems and messages name the blob: its path."""
        return str(self.path(sha256))

    def exists(self, sha256: str) -> bool:
        return self.path(sha256).is_file()

    def size(self, sha256: str) -> int | None:
        """The size of the blob's file (``None`` when there is none)."""
        try:
            return self.path(sha256).lstat().st_size
        except FileNotFoundError:
            return None

    def remove_stale_temps(self) -> list[str]:
        """Remove the temporary files whose writer has ended (a killed import's); their
        paths. Only under the store's write lock (``store check --repair``)."""
        removed: list[str] = []
        if self.root.is_dir():
            for path in sorted(self.root.rglob(f"{_TMP_PREFIX}*")):
                m = _PID_TMP.match(path.name)
                # A temp name without a pid comes from an older cluetool: no writer is left.
                if path.is_file() and (m is None or not pid_alive(int(m.group(1)))):
                    path.unlink(missing_ok=True)
                    removed.append(str(path))
        return removed

    def put(self, src: BinaryIO, expected_sha256: str | None = None) -> tuple[str, int]:
        """Store the bytes read from ``src``; return their ``(sha256, size)``.

        Idempotent: a blob already present is kept (and replaced if its bytes no longer
        match their name). With ``expected_sha256``, content that does not match is
        refused and nothing is left behind.

        Raises:
            InputError: the content does not match ``expected_sha256``.
            StateError: the blob directory cannot be written.
        """
        if expected_sha256 is not None:
            _check_sha(expected_sha256)
        try:
            self.ensure_root()
            # The writer's pid in the name lets ``store check --repair`` tell a
            # leftover of a killed import from a file being written now.
            fd, tmp_name = tempfile.mkstemp(prefix=f"{_TMP_PREFIX}{os.getpid()}-", dir=self.root)
        except OSError as exc:
            raise StateError(f'cannot write blobs in "{self.root}": {os_cause(exc)}') from None
        tmp = Path(tmp_name)
        try:
            with os.fdopen(fd, "wb") as out:
                os.fchmod(out.fileno(), 0o600)
                h = hashlib.sha256()
                size = 0
                while chunk := src.read(_CHUNK):
                    h.update(chunk)
                    out.write(chunk)
                    size += len(chunk)
                out.flush()
                os.fsync(out.fileno())
            sha256 = h.hexdigest()
            if expected_sha256 is not None and sha256 != expected_sha256:
                raise InputError(
                    f"attachment {expected_sha256} does not match its content (sha256 {sha256})"
                )
            target = self.root / sha256[:2] / sha256
            if target.parent.is_dir():
                try:
                    existing = os.lstat(target)
                except FileNotFoundError:
                    existing = None
                if (
                    existing is not None
                    and stat.S_ISREG(existing.st_mode)
                    and _hash_file(target) == (sha256, size)
                ):
                    tmp.unlink()
                    return sha256, size
            else:
                target.parent.mkdir(mode=0o700, exist_ok=True)
                os.chmod(target.parent, 0o700)
                fsync_dir(self.root)
            # Atomic: readers see the old file or the complete new one, never a part.
            os.replace(tmp, target)
            fsync_dir(target.parent)
            return sha256, size
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            raise StateError(f'cannot write blob in "{self.root}": {os_cause(exc)}',
                             hint="nothing of this batch was stored; free space or fix the file system, then import again") from None
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise

    def remove(self, sha256: str) -> bool:
        """Remove a blob; whether it was there. Only call this under the store's write
        lock, after checking that no row references the blob (``cluetool.ingest``).

        Raises:
            StateError: the blob cannot be removed.
        """
        path = self.path(sha256)
        try:
            path.unlink()
        except FileNotFoundError:
            return False
        except OSError as exc:
            raise StateError(f'cannot remove blob {sha256}: {exc.strerror}') from None
        fsync_dir(path.parent)
        return True

    def open(self, sha256: str) -> BinaryIO:
        """Open a blob for reading (binary).

        Raises:
            InputError: ``sha256`` is malformed.
            StateError: the blob is missing or unreadable.
        """
        path = self.path(sha256)
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
        except FileNotFoundError:
            raise StateError(
                f"blob {sha256} is missing from the store", hint="run: cluetool store check"
            ) from None
        except OSError as exc:
            raise StateError(f"cannot read blob {sha256}: {exc.strerror}") from None
        return os.fdopen(fd, "rb")

    # -- checking ----------------------------------------------------------------------

    def check(self, referenced: Iterable[tuple[str, int]]) -> Iterator[BlobProblem]:
        """Re-hash every blob: those ``referenced`` (``(sha256, size)`` pairs in ascending
        sha256 order, as the attachments table lists them) and every file on disk.

        Yields ``blob.missing``, ``blob.tampered``, ``blob.not_regular``,
        ``blob.permissions`` (errors) and ``blob.orphan``, ``blob.stray`` (info).
        Memory stays constant: the sorted references and the sorted walk are merged.
        """
        refs = iter(referenced)
        ref = next(refs, None)
        for item in self._walk():
            if isinstance(item, BlobProblem):
                yield item
                continue
            sha256, path = item
            while ref is not None and ref[0] < sha256:
                yield self._missing(ref[0])
                ref = next(refs, None)
            if ref is not None and ref[0] == sha256:
                yield from self._verify(ref[0], ref[1], path)
                ref = next(refs, None)
            else:
                yield from self._mode_problem(path, 0o600)
                yield BlobProblem(
                    code="blob.orphan",
                    severity="info",
                    object=str(path),
                    message="blob not referenced by any attachment; harmless, removable",
                )
        while ref is not None:
            yield self._missing(ref[0])
            ref = next(refs, None)

    def unreferenced(self, referenced: Iterable[str]) -> Iterator[str]:
        """The blobs on disk that are not ``referenced`` (sha256s in ascending order)."""
        refs = iter(referenced)
        ref = next(refs, None)
        for item in self._walk():
            if isinstance(item, BlobProblem):
                continue
            sha256, _path = item
            while ref is not None and ref < sha256:
                ref = next(refs, None)
            if ref != sha256:
                yield sha256

    def _walk(self) -> Iterator[tuple[str, Path] | BlobProblem]:
        """Blob files as ``(sha256, path)`` in sha256 order, and the problems met on the
        way (modes of directories, files that are not blobs)."""
        try:
            top = sorted(os.listdir(self.root))
        except FileNotFoundError:
            return
        yield from self._mode_problem(self.root, 0o700)
        for name in top:
            path = self.root / name
            if not (_PREFIX_RE.match(name) and stat.S_ISDIR(os.lstat(path).st_mode)):
                yield self._stray(path)
                continue
            yield from self._mode_problem(path, 0o700)
            for blob_name in sorted(os.listdir(path)):
                blob = path / blob_name
                if not (_SHA256_RE.match(blob_name) and blob_name.startswith(name)):
                    yield self._stray(blob)
                elif not stat.S_ISREG(os.lstat(blob).st_mode):
                    yield BlobProblem(
                        code="blob.not_regular",
                        severity="error",
                        object=str(blob),
                        message="a blob must be a regular file (symlinks are not followed)",
                    )
                else:
                    yield blob_name, blob

    def _missing(self, sha256: str) -> BlobProblem:
        return BlobProblem(
            code="blob.missing",
            severity="error",
            object=str(self.root / sha256[:2] / sha256),
            message=f"attachment {sha256} has no blob",
        )

    def _stray(self, path: Path) -> BlobProblem:
        what = (
            "a temporary file left by an interrupted write"
            if path.name.startswith(_TMP_PREFIX)
            else "not a blob"
        )
        return BlobProblem(code="blob.stray", severity="info", object=str(path), message=f"{what}; removable")

    def _mode_problem(self, path: Path, expected: int) -> list[BlobProblem]:
        mode = stat.S_IMODE(os.lstat(path).st_mode)
        if mode & 0o077:
            return [
                BlobProblem(
                    code="blob.permissions",
                    severity="error",
                    object=str(path),
                    message=f"mode {mode:04o} grants access to others; expected {expected:04o}",
                )
            ]
        return []

    def _verify(self, sha256: str, size: int, path: Path) -> Iterator[BlobProblem]:
        yield from self._mode_problem(path, 0o600)
        try:
            actual, actual_size = _hash_file(path)
        except OSError as exc:
            yield BlobProblem(
                code="blob.missing",
                severity="error",
                object=str(path),
                message=f"cannot read blob: {exc.strerror}",
            )
            return
        if actual != sha256 or actual_size != size:
            yield BlobProblem(
                code="blob.tampered",
                severity="error",
                object=str(path),
                message=(
                    f"content does not match its name: sha256 {actual}, {actual_size} bytes "
                    f"(expected {size} bytes)"
                ),
            )
