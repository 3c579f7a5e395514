"""Benchmark cluetool.formats.age against the age CLI on the same file.

Creates a random file of --size bytes in a temporary directory, then times
encryption and decryption with cluetool (each in a child ``python -c`` so the
child's peak RSS can be measured) and with ``age -r`` / ``age -d -i``. Prints
times, cluetool/age ratios and peak RSS. Targets: ratio <= 1.3, RSS < 64 MiB.

Usage: .venv/bin/python benchmarks/bench_age.py [--size BYTES] [--repeat N] [--armor]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

ENCRYPT = """
import sys
from cluetool.formats.age import X25519Recipient, encrypt
with open(sys.argv[1], "rb") as src, open(sys.argv[2], "wb") as dst:
    encrypt(src, dst, [X25519Recipient.parse(sys.argv[3])], armor=sys.argv[4] == "1")
"""

DECRYPT = """
import sys
from cluetool.formats.age import decrypt, parse_identities
with open(sys.argv[3], encoding="ascii") as f:
    ids = parse_identities(f.read())
with open(sys.argv[1], "rb") as src, open(sys.argv[2], "wb") as dst:
    decrypt(src, dst, ids)
"""

# Runs one command and reports its wall time and peak RSS (KiB) on stdout: the
# wrapper is a fresh process, so RUSAGE_CHILDREN covers exactly that command.
RUNNER = """
import resource, subprocess, sys, time
t = time.perf_counter()
subprocess.run(sys.argv[1:], check=True)
print(time.perf_counter() - t, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
"""


def _run(cmd: list[str]) -> tuple[float, int]:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    out = subprocess.run([sys.executable, "-c", RUNNER, *cmd], check=True, capture_output=True,
                         text=True, env=env).stdout.split()
    return float(out[0]), int(out[1]) * 1024


def _best(cmd: list[str], repeat: int) -> tuple[float, int]:
    results = [_run(cmd) for _ in range(repeat)]
    return min(r[0] for r in results), max(r[1] for r in results)


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=1 << 30, help="plaintext size in bytes (default 1 GiB)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per measurement; the fastest counts")
    parser.add_argument("--armor", action="store_true", help="measure ASCII-armored output instead of binary")
    args = parser.parse_args()
    age, keygen = shutil.which("age"), shutil.which("age-keygen")
    if age is None or keygen is None:
        print("bench_age: the age and age-keygen CLIs are required", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="bench_age.") as tmp:
        d = Path(tmp)
        plain = d / "plain.bin"
        with plain.open("wb") as f:
            left = args.size
            while left:
                n = min(left, 1 << 24)
                f.write(os.urandom(n))
                left -= n
        key = d / "key.txt"
        subprocess.run([keygen, "-o", str(key)], check=True, capture_output=True)
        recipient = subprocess.run([keygen, "-y", str(key)], check=True, capture_output=True,
                                   text=True).stdout.strip()
        armor = ["-a"] if args.armor else []
        flag = "1" if args.armor else "0"
        py = sys.executable
        rows = []
        ct_ours, ct_age = d / "ours.age", d / "age.age"
        pt_ours, pt_age = d / "ours.out", d / "age.out"
        enc_ours = _best([py, "-c", ENCRYPT, str(plain), str(ct_ours), recipient, flag], args.repeat)
        enc_age = _best([age, *armor, "-r", recipient, "-o", str(ct_age), str(plain)], args.repeat)
        rows.append(("encrypt", enc_ours, enc_age))
        dec_ours = _best([py, "-c", DECRYPT, str(ct_age), str(pt_ours), str(key)], args.repeat)
        dec_age = _best([age, "-d", "-i", str(key), "-o", str(pt_age), str(ct_ours)], args.repeat)
        rows.append(("decrypt", dec_ours, dec_age))
        expected = _sha256(plain)
        if _sha256(pt_ours) != expected or _sha256(pt_age) != expected:
            print("bench_age: round trip mismatch", file=sys.stderr)
            return 1
        mib = args.size / (1 << 20)
        print(f"age benchmark: {mib:.0f} MiB {'armored' if args.armor else 'binary'}, "
              f"best of {args.repeat}, {os.cpu_count()} CPUs")
        print(f"{'op':8} {'cluetool s':>11} {'age s':>8} {'ratio':>6} {'cluetool MiB/s':>15} "
              f"{'cluetool RSS':>13} {'age RSS':>9}")
        for op, (t_ours, rss_ours), (t_age, rss_age) in rows:
            print(f"{op:8} {t_ours:11.3f} {t_age:8.3f} {t_ours / t_age:6.2f} {mib / t_ours:15.0f} "
                  f"{rss_ours / (1 << 20):10.1f} MiB {rss_age / (1 << 20):5.1f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
