"""Moving entries out of the spool: into the done directory after a seal, or into a
quarantine box with the reason beside it; finishing boxes a killed seal left half-built."""

from __future__ import annotations

import errno
import os
import re
import shutil
from collections.abc import Sequence
from pathlib import Path

import msgspec

from cluetool.config import fsync_dir, make_private_dir, pid_alive, shown, write_private_file
from cluetool.errors import StateError, os_cause
from cluetool.formats import canonical
from cluetool.model.findings import Finding


def _free_name(directory: Path, name: str) -> Path:
    """``directory/name``, or ``name.2``, ``name.3``… when taken (nothing is overwritten)."""
    path, n = directory / name, 1
    while path.exists():
        n += 1
        path = directory / f"{name}.{n}"
    return path


def move_entry(src: Path, dest_dir: Path, *, sync: bool = True) -> Path:
    make_private_dir(dest_dir)
    dest = _free_name(dest_dir, src.name)  # src.name is the OS form of the name
    try:
        os.rename(src, dest)
    except OSError as exc:
        raise StateError(f'cannot move "{src}" to "{dest_dir}": {exc.strerror}', hint="keep the spool, done and quarantine directories on one file system") from None
    if sync:
        fsync_dir(dest_dir)
        fsync_dir(src.parent)
    return dest


# A short temporary name (an entry's own name may already be 255 bytes long); the
# entry's name is in the box's reason.json.
_BOX_TMP = re.compile(rb"^\.box\.tmp-(\d+)$")


def quarantine_submission(path: Path, findings: Sequence[Finding], quarantine: Path, name: str | None = None) -> Path:
    """Move a submission to ``quarantine/NAME/submission`` with ``reason.json`` beside it
    (``name``: the entry's name as text, see ``config.shown``).

    Atomic: the box is built under a temporary name (``.NAME.tmp-PID``), the submission
    moved in, then the box renamed, so no one sees a box without its submission or its
    reason. A box left by a kill is finished by the next seal (``recover_quarantine``).
    """
    name = name if name is not None else shown(path.name)
    os_name = os.fsdecode(name.encode("utf-8"))
    make_private_dir(quarantine)
    tmp = quarantine / f".box.tmp-{os.getpid()}"
    if tmp.exists():  # left by this very process: an earlier error
        shutil.rmtree(tmp)
    os.mkdir(tmp, 0o700)
    write_private_file(tmp / "reason.json", canonical.dumps({"submission": name, "findings": list(findings)}) + b"\n")
    try:
        os.rename(path, tmp / "submission")
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise StateError(f'cannot move "{shown(path)}" to quarantine: {os_cause(exc)}', hint="keep the spool and quarantine directories on one file system") from None
    fsync_dir(tmp)
    box = _rename_box(tmp, quarantine, os_name)
    fsync_dir(path.parent)
    return box


def _rename_box(tmp: Path, quarantine: Path, os_name: str) -> Path:
    while True:
        box = _free_name(quarantine, os_name)
        try:
            os.rename(tmp, box)  # never replaces a box: a box is never empty
        except OSError as exc:
            if exc.errno in (errno.EEXIST, errno.ENOTEMPTY):
                continue  # another seal sharing the quarantine took the name
            raise
        fsync_dir(quarantine)
        return box


def recover_quarantine(quarantine: Path) -> list[Path]:
    """Finish the boxes a killed seal left half-built; the boxes finished."""
    finished: list[Path] = []
    try:
        names = os.listdir(os.fsencode(quarantine))
    except FileNotFoundError:
        return finished
    for raw in sorted(names):
        m = _BOX_TMP.match(raw)
        if m is None:
            continue
        pid = int(m.group(1))
        if pid != os.getpid() and pid_alive(pid):
            continue  # a seal sharing this quarantine is building it now
        tmp = quarantine / os.fsdecode(raw)
        if (tmp / "submission").exists() or (tmp / "submission").is_symlink():
            try:
                name = msgspec.json.decode((tmp / "reason.json").read_bytes())["submission"]
            except (OSError, msgspec.DecodeError, KeyError, TypeError):
                name = "submission"  # the reason was lost with the kill; the submission is kept
            finished.append(_rename_box(tmp, quarantine, os.fsdecode(str(name).encode("utf-8"))))
        else:  # killed before the submission moved in: it is still in the spool
            shutil.rmtree(tmp, ignore_errors=True)
    return finished
