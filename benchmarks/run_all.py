"""Run every benchmarks/bench_*.py in turn and report which ones failed.

Each benchmark runs as its own process with this interpreter (the venv's python when
started by ``make bench``); its output is shown as it comes. With --quick (or the
environment variable QUICK set to anything but "" or "0", as ``make bench QUICK=1``
does) every benchmark whose --help lists --quick gets --quick; one that does not is
run without it, and so is one that still rejects it as a usage error. A benchmark
fails when it exits non-zero (or is killed); the exit status is 1 if any failed.

Usage: .venv/bin/python benchmarks/run_all.py [--quick] [--only NAME]... [--list]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
USAGE_EXIT = 2  # argparse's exit status for a usage error


def discover() -> list[Path]:
    """The benchmark scripts, in name order."""
    return sorted(p for p in HERE.glob("bench_*.py") if p.is_file())


def accepts_quick(script: Path) -> bool:
    """Whether ``script --help`` mentions --quick (False if --help fails or hangs)."""
    try:
        res = subprocess.run([sys.executable, str(script), "--help"], capture_output=True, text=True,
                             timeout=120, cwd=ROOT, env=_env())
    except subprocess.TimeoutExpired:
        return False
    return res.returncode == 0 and "--quick" in res.stdout


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    env["PYTHONUNBUFFERED"] = "1"  # so that the output interleaves as it happens
    return env


def _pump(src: object, dst: object, keep: list[str]) -> None:
    for line in src:  # type: ignore[attr-defined]
        keep.append(line)
        dst.write(line)  # type: ignore[attr-defined]
        dst.flush()  # type: ignore[attr-defined]


def run_one(script: Path, args: list[str]) -> tuple[int, str]:
    """Run a benchmark, passing its stdout through and teeing its stderr; (status, stderr)."""
    proc = subprocess.Popen([sys.executable, str(script), *args], stderr=subprocess.PIPE, text=True,
                            cwd=ROOT, env=_env())
    err: list[str] = []
    pump = threading.Thread(target=_pump, args=(proc.stderr, sys.stderr, err), daemon=True)
    pump.start()
    status = proc.wait()
    pump.join()
    return status, "".join(err)


def _quick_from_env() -> bool:
    return os.environ.get("QUICK", "") not in ("", "0")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="pass --quick to every benchmark that takes it (also: QUICK=1 in the environment)")
    parser.add_argument("--only", action="append", default=[], metavar="NAME",
                        help="run only benchmarks whose name contains NAME (repeatable), e.g. --only seal")
    parser.add_argument("--list", action="store_true", help="list the benchmarks and exit")
    args = parser.parse_args(argv)
    quick = args.quick or _quick_from_env()

    scripts = [s for s in discover() if not args.only or any(o in s.stem for o in args.only)]
    if args.list:
        for s in scripts:
            print(s.relative_to(ROOT))
        return 0
    if not scripts:
        print("run_all: error: no benchmarks matched", file=sys.stderr)
        return 2

    results: list[tuple[str, str, float]] = []
    for script in scripts:
        extra: list[str] = []
        note = ""
        if quick:
            if accepts_quick(script):
                extra = ["--quick"]
            else:
                note = " (does not take --quick; full run)"
        title = " ".join([str(script.relative_to(ROOT)), *extra])
        print(f"\n=== {title}{note} ===", flush=True)
        start = time.perf_counter()
        status, err = run_one(script, extra)
        if extra and status == USAGE_EXIT and "--quick" in err and "unrecognized arguments" in err:
            print(f"=== {script.name} rejected --quick; running it without ===", flush=True)
            status, err = run_one(script, [])
        elapsed = time.perf_counter() - start
        if status == 0:
            outcome = "ok"
        elif status < 0:
            outcome = f"FAILED (killed by signal {-status})"
        else:
            outcome = f"FAILED (exit {status})"
        results.append((script.name, outcome, elapsed))

    print("\n=== summary ===")
    width = max(len(name) for name, _o, _t in results)
    for name, outcome, elapsed in results:
        print(f"{name:{width}}  {outcome:28} {elapsed:8.1f} s")
    failed = [name for name, outcome, _t in results if outcome != "ok"]
    if failed:
        print(f"run_all: {len(failed)} of {len(results)} benchmark(s) failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
