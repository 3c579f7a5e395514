"""Benchmark age hybrid (mlkem768x25519) against X25519 recipients on the same file.

Encrypts and decrypts --size bytes (default 1 GiB, streamed from and to temporary
files) once to an X25519 recipient (the baseline) and once to a hybrid recipient,
in this process, and prints the hybrid/X25519 time ratios. Only the header differs
(one ML-KEM-768 encapsulation and X25519 exchange per file), so the expected ratio is
about 1.0 for large files. It also times the header step alone (wrapping and
unwrapping a file key) as hybrid/X25519, where the ML-KEM cost shows. Target: file
ratio <= 1.05.

Usage: .venv/bin/python benchmarks/bench_age_hybrid.py [--size BYTES] [--repeat N] [--quick]
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from cluetool.formats.age import HybridIdentity, X25519Identity, decrypt, encrypt  # noqa: E402


def _time_file(src: Path, ident: object, repeat: int, tmp: Path) -> tuple[float, float]:
    enc_best = dec_best = float("inf")
    ct, out = tmp / "ct.age", tmp / "out.bin"
    for _ in range(repeat):
        t = time.perf_counter()
        with src.open("rb") as f, ct.open("wb") as g:
            encrypt(f, g, [ident.recipient])  # type: ignore[attr-defined]
        enc_best = min(enc_best, time.perf_counter() - t)
        t = time.perf_counter()
        with ct.open("rb") as f, out.open("wb") as g:
            decrypt(f, g, [ident])  # type: ignore[list-item]
        dec_best = min(dec_best, time.perf_counter() - t)
    if out.stat().st_size != src.stat().st_size:
        raise SystemExit("bench_age_hybrid: round trip lost bytes")
    return enc_best, dec_best


def _time_header(ident: object, n: int) -> float:
    t = time.perf_counter()
    for _ in range(n):
        buf = io.BytesIO()
        encrypt(io.BytesIO(b""), buf, [ident.recipient])  # type: ignore[attr-defined]
        decrypt(io.BytesIO(buf.getvalue()), io.BytesIO(), [ident])  # type: ignore[list-item]
    return time.perf_counter() - t


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=1 << 30, help="plaintext size in bytes (default 1 GiB)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per measurement; the fastest counts")
    parser.add_argument("--quick", action="store_true", help="64 MiB, one run (a smoke test, not a measurement)")
    args = parser.parse_args()
    size, repeat = (64 << 20, 1) if args.quick else (args.size, args.repeat)
    x25519, hybrid = X25519Identity.generate(), HybridIdentity.generate()
    with tempfile.TemporaryDirectory(prefix="bench_age_hybrid.") as d:
        tmp = Path(d)
        src = tmp / "plain.bin"
        with src.open("wb") as f:
            left = size
            while left:
                n = min(left, 1 << 24)
                f.write(os.urandom(n))
                left -= n
        # Alternate the two kinds so that both see the same machine load and page cache.
        base_enc = base_dec = hyb_enc = hyb_dec = float("inf")
        _time_file(src, x25519, 1, tmp)  # warm-up: the plaintext into the page cache
        for _ in range(repeat):
            e, d_ = _time_file(src, x25519, 1, tmp)
            base_enc, base_dec = min(base_enc, e), min(base_dec, d_)
            e, d_ = _time_file(src, hybrid, 1, tmp)
            hyb_enc, hyb_dec = min(hyb_enc, e), min(hyb_dec, d_)
    n = 50 if args.quick else 500
    base_hdr, hyb_hdr = _time_header(x25519, n), _time_header(hybrid, n)
    mib = size / (1 << 20)
    print(f"age hybrid vs X25519, {mib:.0f} MiB, best of {repeat}")
    print(f"  encrypt: X25519 {base_enc:.2f} s, hybrid {hyb_enc:.2f} s, ratio {hyb_enc / base_enc:.3f}")
    print(f"  decrypt: X25519 {base_dec:.2f} s, hybrid {hyb_dec:.2f} s, ratio {hyb_dec / base_dec:.3f}")
    print(f"  header only ({n} empty files): X25519 {base_hdr * 1e3 / n:.2f} ms, "
          f"hybrid {hyb_hdr * 1e3 / n:.2f} ms per file, ratio {hyb_hdr / base_hdr:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
