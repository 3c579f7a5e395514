"""Worker processes that never outlive the process that started them.

An import spreads re-validation over forked workers (``cluetool.ingest``). They hold
decrypted report bytes, the store's files and the caller's stdout, so a worker left
behind by a killed import would keep a cron job or a ``$(…)`` reading that output
waiting forever. Each worker therefore:

- asks Linux to SIGKILL it when its parent dies (``prctl(PR_SET_PDEATHSIG)``);
- checks that its parent is still the one that started it (the parent may have died
  between the fork and the ``prctl``), and keeps checking from a daemon thread (the only
  guard on systems without ``prctl``);
- takes the default action on SIGTERM and SIGINT (Python's SIGINT handler would turn a
  Ctrl-C into an exception the pool hands back, and the worker would live on).
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
import threading
from concurrent.futures import ProcessPoolExecutor

PR_SET_PDEATHSIG = 1  # <linux/prctl.h>
_POLL_SECONDS = 0.5


def _set_pdeathsig() -> None:
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
    except (OSError, AttributeError):
        pass  # the watchdog thread still guards


def _watch(parent_pid: int) -> None:
    while True:
        if os.getppid() != parent_pid:
            os._exit(1)
        threading.Event().wait(_POLL_SECONDS)


def die_with_parent(parent_pid: int) -> None:
    """The initializer of every worker process (see the module docstring)."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    _set_pdeathsig()
    if os.getppid() != parent_pid:
        os._exit(1)
    threading.Thread(target=_watch, args=(parent_pid,), daemon=True, name="parent-watch").start()


def stop(pool: ProcessPoolExecutor) -> None:
    """Stop a pool at once: pending work cancelled, running workers terminated."""
    processes = list(getattr(pool, "_processes", {}).values())  # no public accessor
    pool.shutdown(wait=False, cancel_futures=True)
    for p in processes:
        try:
            p.terminate()
        except (OSError, AttributeError, ValueError):
            pass
    for p in processes:
        try:
            p.join(timeout=2)
        except (OSError, AttributeError, ValueError, AssertionError):
            pass


_M_MMAP_THRESHOLD = -3  # glibc's mallopt parameter number (malloc.h)


def bound_malloc() -> None:
    """Large buffers (a report is up to 1 MiB) straight from mmap and back on free.

    glibc raises its mmap threshold each time such a buffer is freed, after which they
    come from the heap, which then fragments: an import's memory grew with the batch
    although no more than a few chunks are ever alive. A fixed threshold keeps it flat.
    Not glibc (or no libc found): nothing to do.
    """
    try:
        mallopt = ctypes.CDLL(None).mallopt  # the process's own libc, as for prctl above
    except (OSError, AttributeError):
        return
    mallopt(_M_MMAP_THRESHOLD, 256 * 1024)


__all__ = ["bound_malloc", "die_with_parent", "stop"]
