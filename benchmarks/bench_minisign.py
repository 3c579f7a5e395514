"""Benchmark: cluetool minisign sign/verify vs the minisign CLI on one large file.

Signs a file of --size bytes with cluetool (prehashed ED, streamed in 64 KiB reads)
and with `minisign -S -s key -m file` using the same unencrypted key and trusted
comment (so the two .minisig files must be byte-identical), then verifies with
cluetool and with `minisign -V`. Prints the best of --repeat runs and the ratio
cluetool / CLI (below 1 means cluetool is faster).

Usage: .venv/bin/python benchmarks/bench_minisign.py [--size BYTES] [--repeat N] [--dir DIR]
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cluetool.formats.minisign import SecretKey, sign, verify  # noqa: E402

COMMENT = "timestamp:0\tfile:bench.bin\thashed"


def _best(repeat: int, fn: Callable[[], object]) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def _write_file(path: Path, size: int) -> None:
    block = os.urandom(1 << 20)
    with path.open("wb") as f:
        left = size
        while left > 0:
            f.write(block[: min(left, len(block))])
            left -= len(block)


def _cli(args: list[str]) -> None:
    subprocess.run(args, check=True, capture_output=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=1 << 30, help="file size in bytes (default 1 GiB)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per measurement; the best is kept")
    parser.add_argument("--dir", type=Path, default=None, help="where to write the temporary file")
    args = parser.parse_args()
    minisign = shutil.which("minisign")
    if minisign is None:
        print("minisign CLI not installed; cannot measure the baseline", file=sys.stderr)
        return 2

    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        d = Path(tmp)
        data, key_file, pub_file = d / "bench.bin", d / "bench.key", d / "bench.pub"
        ours_sig, cli_sig = d / "ours.minisig", d / "cli.minisig"
        _write_file(data, args.size)
        secret = SecretKey.generate()
        key_file.write_text(secret.to_file_text())  # unencrypted, as `minisign -G -W`
        pub_file.write_text(secret.public_key.to_file_text())

        def ours_sign() -> None:
            with data.open("rb") as f:
                ours_sig.write_text(sign(secret, f, trusted_comment=COMMENT))

        def cli_sign() -> None:
            _cli([minisign, "-S", "-s", str(key_file), "-m", str(data), "-x", str(cli_sig), "-t", COMMENT])

        def ours_verify() -> None:
            with data.open("rb") as f:
                verify(secret.public_key, f, ours_sig.read_text())

        def cli_verify() -> None:
            _cli([minisign, "-V", "-q", "-p", str(pub_file), "-m", str(data), "-x", str(ours_sig)])

        # Warm the page cache so both sides read from memory.
        cli_sign()
        t_ours_sign = _best(args.repeat, ours_sign)
        t_cli_sign = _best(args.repeat, cli_sign)
        identical = ours_sig.read_bytes() == cli_sig.read_bytes()
        t_ours_verify = _best(args.repeat, ours_verify)
        t_cli_verify = _best(args.repeat, cli_verify)

    mib = args.size / (1 << 20)
    rss_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"file: {args.size} bytes ({mib:.0f} MiB), best of {args.repeat}")
    print(f"sign    cluetool {t_ours_sign:8.3f} s ({mib / t_ours_sign:7.1f} MiB/s)   "
          f"minisign -S {t_cli_sign:8.3f} s ({mib / t_cli_sign:7.1f} MiB/s)   ratio {t_ours_sign / t_cli_sign:.2f}")
    print(f"verify  cluetool {t_ours_verify:8.3f} s ({mib / t_ours_verify:7.1f} MiB/s)   "
          f"minisign -V {t_cli_verify:8.3f} s ({mib / t_cli_verify:7.1f} MiB/s)   ratio {t_ours_verify / t_cli_verify:.2f}")
    print(f"signature files byte-identical: {identical}")
    print(f"peak RSS of this process: {rss_mib:.0f} MiB")
    return 0 if identical else 1


if __name__ == "__main__":
    sys.exit(main())
