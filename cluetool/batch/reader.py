"""Strict reading of a ``.clue`` file (docs/format.md): exactly three members, in order."""

from __future__ import annotations

import hashlib
import os
import re
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

import msgspec

from cluetool.errors import InputError
from cluetool.formats import canonical, ustar
from cluetool.model.batch import MEMBERS, SOURCE_RE, Manifest

MAX_MANIFEST = 64 * 1024
MAX_SIGNATURE = 4 * 1024
_HEX64 = re.compile(r"[0-9a-f]{64}")
_SIGNER = re.compile(r"[0-9A-F]{16}")


class BatchFormatError(Exception):
    """The batch is readable but not well-formed; ``code`` is a stable problem code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class OpenedBatch:
    """The manifest and signature of a batch, and its payload member as a stream."""

    def __init__(
        self, manifest_bytes: bytes, signature: str, payload: ustar.Member, rest: Iterator[ustar.Member], fileno: int = -1
    ) -> None:
        self.fileno = fileno  # the one descriptor the batch is read from (positional reads)
        self.manifest_bytes = manifest_bytes
        self.manifest_sha256 = hashlib.sha256(manifest_bytes).hexdigest()
        self.signature = signature
        self.payload = payload
        self._rest = rest

    def manifest(self) -> Manifest:
        """The manifest, required to be canonical JSON of the right shape.

        Raises:
            BatchFormatError: ``manifest.noncanonical`` or ``manifest.invalid``.
        """
        return parse_manifest(self.manifest_bytes)

    def finish(self) -> None:
        """Consume what is left of the payload and check the archive's end.

        Raises:
            BatchFormatError: ``batch.layout`` (extra members, trailing garbage, truncation).
        """
        try:
            while self.payload.read(1 << 20):
                pass
            for extra in self._rest:
                raise BatchFormatError("batch.layout", f'unexpected member "{extra.name}"')
        except ustar.UstarError as exc:
            raise BatchFormatError("batch.layout", str(exc)) from None


def parse_manifest(data: bytes) -> Manifest:
    try:
        value = canonical.loads_canonical(data)
    except canonical.NonCanonicalError as exc:
        raise BatchFormatError("manifest.noncanonical", f"manifest.json is not canonical JSON: {exc}") from None
    try:
        manifest = msgspec.convert(value, Manifest)
    except msgspec.ValidationError as exc:
        raise BatchFormatError("manifest.invalid", f"manifest.json: {exc}") from None
    problems = []
    if not SOURCE_RE.fullmatch(manifest.source):
        problems.append("source")
    if manifest.sequence < 1:
        problems.append("sequence")
    if not _HEX64.fullmatch(manifest.previous):
        problems.append("previous")
    if not _HEX64.fullmatch(manifest.payload.sha256) or manifest.payload.size < 0:
        problems.append("payload")
    if not _SIGNER.fullmatch(manifest.signer):
        problems.append("signer")
    if not manifest.recipients or not all(r.startswith("age1") for r in manifest.recipients):
        problems.append("recipients")
    if manifest.counts.reports < 0 or manifest.counts.attachments < 0:
        problems.append("counts")
    if problems:
        raise BatchFormatError("manifest.invalid", f"manifest.json: invalid {', '.join(problems)}")
    return manifest


@contextmanager
def open_batch(path: Path) -> Iterator[OpenedBatch]:
    """Open a batch for reading; the payload member streams from the file.

    Raises:
        InputError: the file cannot be read, or is not a tar archive at all (exit 2).
        BatchFormatError: wrong members, order, types or names (``batch.layout``).
    """
    try:
        # O_NONBLOCK: a FIFO or device given by mistake must not hang the command.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except IsADirectoryError:
        raise InputError(f'cannot read batch "{path}": is a directory') from None
    except OSError as exc:
        raise InputError(f'cannot read batch "{path}": {exc.strerror}') from None
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode):
        os.close(fd)
        kind = "a directory" if stat.S_ISDIR(st.st_mode) else "not a regular file"
        raise InputError(f'cannot read batch "{path}": {kind}')
    f: BinaryIO = os.fdopen(fd, "rb")
    with f:
        head = f.read(512)
        if len(head) < 512 or head[257:263] != b"ustar\x00":
            raise InputError(f'"{path}" is not a cluetool batch (no ustar header)')
        f.seek(0)
        members = ustar.iter_exact_layout(f, MEMBERS)
        try:
            m = next(members)
            if m.size > MAX_MANIFEST:
                raise BatchFormatError("batch.layout", f"manifest.json is too large ({m.size} bytes)")
            manifest_bytes = m.read()
            s = next(members)
            if s.size > MAX_SIGNATURE:
                raise BatchFormatError("batch.layout", f"manifest.json.minisig is too large ({s.size} bytes)")
            sig_bytes = s.read()
            payload = next(members)
        except ustar.UstarError as exc:
            raise BatchFormatError("batch.layout", str(exc)) from None
        except StopIteration:
            raise BatchFormatError("batch.layout", "missing members") from None
        try:
            signature = sig_bytes.decode("utf-8")
        except UnicodeDecodeError:
            raise BatchFormatError("signature.invalid", "manifest.json.minisig is not UTF-8") from None
        yield OpenedBatch(manifest_bytes, signature, payload, members, f.fileno())


def manifest_sha256_of(path: Path) -> str:
    """The sha256 of a batch's manifest (for crash recovery); raises like ``open_batch``."""
    with open_batch(path) as b:
        return b.manifest_sha256
