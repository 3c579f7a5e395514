"""Helpers for the fault tests (issue 16): a file size limit or a small tmpfs for a
command run in a child process, and a byte-exact picture of a directory tree."""

from __future__ import annotations

import functools
import hashlib
import os
import resource
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def tree(root: Path) -> dict[str, str]:
    """Every entry under ``root``: files by sha256, directories and links by kind."""
    out: dict[str, str] = {}
    for dirpath, dirnames, filenames in os.walk(os.fsencode(root)):
        for name in dirnames + filenames:
            p = os.path.join(dirpath, name)
            rel = os.fsdecode(os.path.relpath(p, os.fsencode(root)))
            if os.path.islink(p):
                out[rel] = "link"
            elif os.path.isdir(p):
                out[rel] = "dir"
            else:
                with open(p, "rb") as f:
                    out[rel] = hashlib.sha256(f.read()).hexdigest()
    return out


def cluetool_cmd(*args: object) -> list[str]:
    return [sys.executable, "-m", "cluetool", *map(str, args)]


def run_fsize_limited(cmd: list[str], limit: int, **kwargs: object) -> subprocess.CompletedProcess[str]:
    """Run ``cmd`` with RLIMIT_FSIZE = ``limit`` bytes: a write past it fails with EFBIG
    (Python ignores SIGXFSZ)."""
    def preexec() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    env = {**os.environ, "CLUETOOL_DEBUG": "", "PYTHONDONTWRITEBYTECODE": "1"}
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, preexec_fn=preexec,
                          stdin=subprocess.DEVNULL, cwd=ROOT, env=env, **kwargs)  # type: ignore[call-overload]


@functools.cache
def _can_mount() -> str | None:
    unshare = shutil.which("unshare")
    if unshare is None or not sys.platform.startswith("linux"):
        return "needs unshare(1) on Linux"
    probe = subprocess.run([unshare, "-m", "sh", "-c", "mount -t tmpfs -o size=64k tmpfs /mnt && umount /mnt"],
                           capture_output=True, timeout=30)
    return None if probe.returncode == 0 else "mounting a tmpfs is not permitted here"


def require_mount() -> None:
    reason = _can_mount()
    if reason:
        pytest.skip(reason)


def in_mount_namespace(script: str, **kwargs: object) -> subprocess.CompletedProcess[str]:
    """Run a shell ``script`` in a private mount namespace (its mounts vanish with it)."""
    require_mount()
    env = {**os.environ, "CLUETOOL_DEBUG": "", "PYTHONDONTWRITEBYTECODE": "1"}
    return subprocess.run(["unshare", "-m", "sh", "-ec", script], capture_output=True, text=True, timeout=180,
                          stdin=subprocess.DEVNULL, cwd=ROOT, env=env, **kwargs)  # type: ignore[call-overload]


def q(*parts: object) -> str:
    return " ".join(shlex.quote(str(p)) for p in parts)
