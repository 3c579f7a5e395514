"""``cluetool inspect``: the metadata in attachments that could identify a reporter.

Each file is read once, read-only, through the same parsers as validation
(``AttachmentStream``); no byte is changed. A directory is walked (sorted, hidden
entries, ``report.json`` and symbolic links skipped). The type comes from the
extension (``.jpg``/``.jpeg``, ``.mp3``, ``.mp4``), else from libmagic; a file of no
accepted type is listed with ``type`` null and one ``inspect.unknown_type`` finding.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator, Sequence
from pathlib import Path

import msgspec

from cluetool.config import Limits
from cluetool.errors import InputError
from cluetool.validate.attachments import ACCEPTED_MIME, EXTENSIONS, AttachmentStream, sniff
from cluetool.validate.attachments.common import READ_CHUNK, REPORT_FILE

INSPECT_SCHEMA = "cluetool.inspect/1"


class MetadataRow(msgspec.Struct, kw_only=True):
    """One identifying metadata field of one file."""

    path: str
    type: str | None
    code: str
    field: str
    value: str


class InspectedFile(msgspec.Struct, kw_only=True):
    path: str
    type: str | None
    size: int
    sha256: str | None
    metadata: list[MetadataRow]
    problems: list[str]  # "code: message" from the structural checks


class InspectReport(msgspec.Struct, kw_only=True):
    """Everything ``inspect`` found; ``items`` flattens the metadata of all files."""

    schema: str = INSPECT_SCHEMA
    files: list[InspectedFile]
    items: list[MetadataRow]


def _type_of(path: Path, head: bytes) -> str | None:
    name = path.name.lower()
    for kind, exts in EXTENSIONS.items():
        if name.endswith(exts):
            return kind
    mime = sniff(head)
    return next((kind for kind, mimes in ACCEPTED_MIME.items() if mime in mimes), None)


def _files(paths: Sequence[Path]) -> Iterator[Path]:
    for p in paths:
        try:
            st = os.lstat(p)
        except OSError as exc:
            raise InputError(f'cannot read "{p}": {exc.strerror}') from None
        if stat.S_ISDIR(st.st_mode):
            for root, dirs, names in os.walk(p):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                for n in sorted(names):
                    if not n.startswith(".") and n != REPORT_FILE and not os.path.islink(os.path.join(root, n)):
                        yield Path(root) / n
        elif stat.S_ISREG(st.st_mode):
            yield p
        else:
            raise InputError(f'cannot read "{p}": not a regular file or directory')


def inspect_file(path: Path, limits: Limits) -> InspectedFile:
    """The identifying metadata and structural problems of one file.

    Raises:
        InputError: the file cannot be opened or read.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError as exc:
        raise InputError(f'cannot read "{path}": {exc.strerror}') from None
    with os.fdopen(fd, "rb") as f:
        try:
            first = f.read(READ_CHUNK)
            kind = _type_of(path, first)
            if kind is None:
                size = len(first) + sum(len(c) for c in iter(lambda: f.read(READ_CHUNK), b""))
                return InspectedFile(path=str(path), type=None, size=size, sha256=None, metadata=[],
                                     problems=["inspect.unknown_type: not a jpg, mp3 or mp4 file"])
            stream = AttachmentStream(kind, limit=getattr(limits, kind), max_pixels=limits.image_pixels,
                                      max_seconds=limits.duration)
            chunk = first
            while chunk and not stream.exceeded:
                stream.update(chunk)
                chunk = f.read(READ_CHUNK)
        except OSError as exc:
            raise InputError(f'cannot read "{path}": {exc.strerror}') from None
    problems = [f"{code}: {message}" for code, message in stream.finish()]
    rows = [MetadataRow(path=str(path), type=kind, code=c, field=k, value=v) for c, k, v in stream.metadata]
    return InspectedFile(path=str(path), type=kind, size=stream.size, sha256=stream.sha256, metadata=rows,
                         problems=problems)


def inspect_paths(paths: Sequence[Path], *, limits: Limits = Limits()) -> InspectReport:
    """Inspect files and directories of attachments.

    Raises:
        InputError: a path does not exist or cannot be read.
    """
    files = [inspect_file(p, limits) for p in _files(paths)]
    return InspectReport(files=files, items=[row for f in files for row in f.metadata])
