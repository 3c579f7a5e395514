"""The submission-level check: names, declarations, file kinds, limits, and each file
read once through an ``AttachmentStream``."""

from __future__ import annotations

import errno
import hashlib
import json
import os
import stat
from collections.abc import Callable, Sequence
from pathlib import Path

from cluetool.config import Limits
from cluetool.errors import InputError
from cluetool.model.findings import Finding, Severity
from cluetool.validate.attachments.common import (
    ACCEPTED_MIME,
    EXTENSIONS,
    NAME_MAX,
    READ_CHUNK,
    REPORT_FILE,
    TYPES,
    AttachmentDecl,
)
from cluetool.validate.attachments.sniffing import sniff, sniff_all
from cluetool.validate.attachments.stream import AttachmentStream
from cluetool.text import char_class, escape


def _q(name: str) -> str:
    # Names are untrusted: quote and escape them so that a message stays on one line.
    # Non-printable characters (bidi, zero-width) are shown as \\uXXXX escapes.
    shown = name if len(name) <= 120 else name[:117] + "..."
    return escape(json.dumps(shown, ensure_ascii=False))


def _name_problem(name: object) -> str | None:
    if not isinstance(name, str):
        return "is not a string"
    if not name:
        return "is empty"
    if "/" in name or "\\" in name:
        return "contains a path separator"
    if ".." in name:
        return "contains '..'"
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in name):
        return "contains a control character"
    for c in name:
        if not c.isprintable() and c != " ":
            what = char_class(c)
            if what is not None or c in "\t\n":
                return f"contains an invisible or control character (U+{ord(c):04X})"
    if name.startswith("."):
        return "starts with '.'"
    if name.lower() == REPORT_FILE:
        return f"is {REPORT_FILE}"
    try:
        encoded = name.encode("utf-8")
    except UnicodeEncodeError:
        return "is not valid Unicode"
    if len(encoded) > NAME_MAX:
        return f"is longer than {NAME_MAX} bytes"
    return None


def _extension_ok(name: str, kind: str) -> bool:
    return name.lower().endswith(EXTENSIONS[kind])


def _accepted(stream: AttachmentStream, kind: str, structure_ok: bool) -> tuple[bool, str]:
    """Whether libmagic agrees with the declared type; also the MIME type it gave."""
    mime = sniff(stream.head)
    if mime in ACCEPTED_MIME[kind]:
        return True, mime
    # libmagic says application/octet-stream when nothing matched or when the strongest
    # match has no MIME type, e.g. 55 AA at offset 510 read as a DOS boot sector. For
    # a file that passed the structural check, look at every match (MAGIC_CONTINUE),
    # also past a long ID3v2 tag. A positive MIME type of another format never passes.
    if mime == "application/octet-stream" and structure_ok:
        for buf in (stream.head, stream.alternate_head):
            if buf and ACCEPTED_MIME[kind] & sniff_all(buf):
                return True, mime
    return False, mime


def check_attachments(
    submission_dir: Path,
    declared: Sequence[AttachmentDecl],
    limits: Limits,
    *,
    submission: str,
    path_prefix: str = "attachments",
    deep: bool = True,
) -> list[Finding]:
    """Check the declared attachments of one submission directory against its files.

    Returns every problem as a ``Finding`` (codes in the module docstring), in
    declaration order, then the undeclared files in name order. With ``deep=False`` the
    files' contents are not read (names, types, file kinds, sizes and limits only): the
    caller streams each file through an ``AttachmentStream`` itself and judges it with
    ``judge_stream`` (``seal`` does, so that attachments are read once).

    Raises:
        InputError: the submission directory cannot be opened or listed.
    """
    findings: list[Finding] = []

    def add(path: str, code: str, message: str, severity: Severity = "error") -> None:
        findings.append(Finding(submission=submission, path=path, code=code, message=message, severity=severity))

    try:
        dir_fd = os.open(submission_dir, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError as exc:
        raise InputError(f'cannot open submission directory "{submission_dir}": {exc.strerror}') from None
    try:
        if len(declared) > limits.files:
            add(path_prefix, "attachment.too_many",
                f"{len(declared)} attachments declared, the limit is {limits.files}")
        names: set[str] = set()
        total = 0
        over_total = False
        for i, decl in enumerate(declared):
            at = f"{path_prefix}[{i}]"
            name = decl.file
            why = _name_problem(name)
            if why is not None:
                add(f"{at}.file", "attachment.name_invalid", f"attachment name {_q(str(name))} {why}")
                continue
            if name in names:
                add(f"{at}.file", "attachment.duplicate", f"{_q(name)}: declared more than once")
                continue
            names.add(name)
            kind = decl.type if decl.type in TYPES else None
            if kind is None:
                add(f"{at}.type", "attachment.type_invalid",
                    f"{_q(name)}: declared type {_q(str(decl.type))} is not one of jpg, mp3, mp4")
            elif not _extension_ok(name, kind):
                add(f"{at}.file", "attachment.extension_mismatch",
                    f"{_q(name)}: extension does not match the declared type {kind}"
                    f" (expected {' or '.join(EXTENSIONS[kind])})")
            size, over_total = _check_file(
                dir_fd, name, decl, kind, limits, at, add, total=total, over_total=over_total, deep=deep
            )
            total += size
        _check_undeclared(dir_fd, names, submission_dir, add)
    finally:
        os.close(dir_fd)
    return findings


def _check_file(
    dir_fd: int,
    name: str,
    decl: AttachmentDecl,
    kind: str | None,
    limits: Limits,
    at: str,
    add: Callable[..., None],
    *,
    total: int,
    over_total: bool,
    deep: bool = True,
) -> tuple[int, bool]:
    """Open, read once and check one declared file; returns (its size, over_total)."""
    try:
        # O_NOFOLLOW: a symlink fails with ELOOP; O_NONBLOCK: opening a FIFO returns
        # at once instead of waiting for a writer.
        # The name's UTF-8 bytes, whatever the locale (issue 16).
        fd = os.open(name.encode("utf-8"), os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=dir_fd)
    except FileNotFoundError:
        add(f"{at}.file", "attachment.missing", f"{_q(name)}: declared but not in the submission")
        return 0, over_total
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            add(f"{at}.file", "attachment.not_regular", f"{_q(name)}: is a symbolic link")
            return 0, over_total
        try:  # a socket cannot be opened at all (ENXIO): say what it is
            mode = os.stat(name.encode("utf-8"), dir_fd=dir_fd, follow_symlinks=False).st_mode
        except OSError:
            mode = stat.S_IFREG
        if not stat.S_ISREG(mode):
            add(f"{at}.file", "attachment.not_regular", f"{_q(name)}: is a {_file_kind(mode)}, not a regular file")
        else:
            add(f"{at}.file", "attachment.unreadable", f"{_q(name)}: cannot open: {exc.strerror}")
        return 0, over_total
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            add(f"{at}.file", "attachment.not_regular",
                f"{_q(name)}: is a {_file_kind(st.st_mode)}, not a regular file")
            return 0, over_total
        size = st.st_size
        if total + size > limits.submission and not over_total:
            add(_prefix_of(at), "attachment.submission_too_large",
                f"attachments total more than the limit of {limits.submission} bytes"
                f" (reached at {_q(name)})")
            over_total = True
        limit = getattr(limits, kind) if kind else limits.submission
        if size > limit:
            add(f"{at}.file", "attachment.too_large",
                f"{_q(name)}: {size} bytes, more than the {kind or 'submission'} limit of {limit} bytes")
            return size, over_total
        if over_total:
            # The submission is rejected already: read nothing beyond the budget.
            return size, over_total
        if not deep:
            if decl.size != size:
                add(f"{at}.size", "attachment.size_mismatch", f"{_q(name)}: declared size {decl.size}, actual {size}")
            return size, over_total
        if kind is None:
            _check_hash_only(fd, name, decl, limit, at, add)
            return size, over_total
        stream = AttachmentStream(kind, limit=limit, max_pixels=limits.image_pixels, max_seconds=limits.duration)
        try:
            while chunk := os.read(fd, READ_CHUNK):
                stream.update(chunk)
                if stream.exceeded:
                    break
        except OSError as exc:
            add(f"{at}.file", "attachment.unreadable", f"{_q(name)}: cannot read: {exc.strerror}")
            return size, over_total
        judge_stream(stream, decl, at, add)
        for code, message in metadata_warnings(stream):
            add(f"{at}.file", code, f"{_q(name)}: {message}", "warning")
        return (stream.size if stream.sha256 is not None else max(size, stream.size)), over_total
    finally:
        os.close(fd)


def judge_stream(
    stream: AttachmentStream, decl: AttachmentDecl, at: str, add: Callable[[str, str, str], None]
) -> None:
    """The content findings for a file fed whole through ``stream``: structure, sniffed
    type, and the declared size and sha256 (``add(path, code, message)`` per problem)."""
    name, kind = decl.file, stream.declared_type
    problems = stream.finish()
    for code, message in problems:
        add(f"{at}.file", code, f"{_q(name)}: {message}")
    if stream.sha256 is None:  # grew past the limit while being read
        return
    if stream.size:
        ok, mime = _accepted(stream, kind, structure_ok=not problems)
        if not ok:
            add(f"{at}.file", "attachment.type_mismatch",
                f"{_q(name)}: content is {mime}, not {kind}"
                f" (accepted: {', '.join(sorted(ACCEPTED_MIME[kind]))})")
    _compare(decl, name, stream.size, stream.sha256, at, add)


_METADATA_WHAT = {
    "metadata.gps": "GPS coordinates", "metadata.location": "a location", "metadata.device": "the device make or model",
    "metadata.serial": "a serial number", "metadata.owner": "an owner or author name",
    "metadata.personal": "personal ID3 frames",
}


def metadata_warnings(stream: AttachmentStream) -> list[tuple[str, str]]:
    """One ``(code, message)`` per kind of identifying metadata in a finished stream
    (the values are listed by ``cluetool inspect``, not here)."""
    fields: dict[str, list[str]] = {}
    for code, field, _value in stream.metadata:
        if field not in fields.setdefault(code, []):
            fields[code].append(field)
    return [(code, f"carries {_METADATA_WHAT.get(code, code)} that could identify the reporter"
                   f" ({', '.join(names[:5])}); see cluetool inspect")
            for code, names in fields.items()]


def _check_hash_only(
    fd: int, name: str, decl: AttachmentDecl, limit: int, at: str, add: Callable[[str, str, str], None]
) -> None:
    # A declaration with an unknown type: its content cannot be judged, but the size
    # and hash still can.
    digest = hashlib.sha256()
    size = 0
    try:
        while chunk := os.read(fd, READ_CHUNK):
            size += len(chunk)
            if size > limit:
                add(f"{at}.file", "attachment.too_large",
                    f"{_q(name)}: more than the submission limit of {limit} bytes")
                return
            digest.update(chunk)
    except OSError as exc:
        add(f"{at}.file", "attachment.unreadable", f"{_q(name)}: cannot read: {exc.strerror}")
        return
    _compare(decl, name, size, digest.hexdigest(), at, add)


def _compare(
    decl: AttachmentDecl, name: str, size: int, sha256: str, at: str, add: Callable[[str, str, str], None]
) -> None:
    if decl.size != size:
        add(f"{at}.size", "attachment.size_mismatch", f"{_q(name)}: declared size {decl.size}, actual {size}")
    if decl.sha256 != sha256:
        add(f"{at}.sha256", "attachment.sha256_mismatch",
            f"{_q(name)}: declared sha256 does not match the content's {sha256}")


def _prefix_of(at: str) -> str:
    return at[: at.rfind("[")]


def _file_kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "directory"
    if stat.S_ISFIFO(mode):
        return "FIFO"
    if stat.S_ISCHR(mode):
        return "character device"
    if stat.S_ISBLK(mode):
        return "block device"
    if stat.S_ISSOCK(mode):
        return "socket"
    return "special file"


def _check_undeclared(
    dir_fd: int, declared: set[str], submission_dir: Path, add: Callable[[str, str, str], None]
) -> None:
    try:
        # Names as UTF-8 text whatever the locale; undecodable bytes shown as \xNN.
        entries = sorted((os.fsencode(e).decode("utf-8", "backslashreplace"), e) for e in os.listdir(dir_fd))
    except OSError as exc:
        raise InputError(f'cannot list submission directory "{submission_dir}": {exc.strerror}') from None
    for entry, os_name in entries:
        if entry == REPORT_FILE or entry in declared:
            continue
        try:
            st = os.stat(os_name, dir_fd=dir_fd, follow_symlinks=False)
            if stat.S_ISREG(st.st_mode):
                what = "file"
            elif stat.S_ISLNK(st.st_mode):
                what = "symbolic link"
            else:
                what = _file_kind(st.st_mode)
        except OSError:
            what = "entry"
        add(entry, "attachment.undeclared",
            f"{_q(entry)}: {what} in the submission is not declared in {REPORT_FILE}")
