"""Benchmark: attachment validation of adversarial shapes against reading and hashing
the same bytes (issue 17 "linear time").

For each shape of ``tests/corpus/hostile.py`` (JPEG FF fill, FF 00 stuffing, many JPEG
segments, tiny MP4 boxes, many ID3 frames, 24-byte MPEG frames, a large opaque JPEG
region) and for normal files of the same size (a real JPEG, MP3 and MP4 grown to size),
the file is written to disk and timed two ways in this process, best of --repeat:

- baseline: read the file in 256 KiB chunks and SHA-256 it;
- validate: ``check_attachments`` on a submission holding only that file.

It prints the ratio validate / baseline, by wall time and by CPU time (the machine is
shared; CPU time is what an idle core would take). The bar for the adversarial shapes
is 3x (met when either ratio is within it; MISS otherwise, exit status still 0).
With --quick the files are 4 MiB instead of --size (default 20 MiB).

Usage: .venv/bin/python benchmarks/bench_attachments.py [--size BYTES] [--repeat N] [--quick]
"""

from __future__ import annotations

import argparse
import hashlib
import random
import struct
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from cluetool.config import Limits  # noqa: E402
from cluetool.validate.attachments import check_attachments  # noqa: E402
from samples import media  # noqa: E402
from tests.corpus import hostile  # noqa: E402

BAR = 3.0


@dataclass(frozen=True)
class Decl:
    file: str
    type: str
    size: int
    sha256: str


def normal_jpeg(size: int) -> bytes:
    # A real photo-sized JPEG: libjpeg output of noise, grown until about ``size``.
    from io import BytesIO

    from PIL import Image

    side = int((size / 1.6) ** 0.5)
    img = Image.frombytes("RGB", (side, side), random.Random(1).randbytes(side * side * 3))
    out = BytesIO()
    img.save(out, format="JPEG", quality=95)
    return out.getvalue()


def normal_mp3(size: int) -> bytes:
    return media.make_mp3(random.Random(1), frames=size // 418)


def normal_mp4(size: int) -> bytes:
    m = media.make_mp4(random.Random(1))
    at = m.rindex(b"mdat") - 4
    body = random.Random(2).randbytes(size)
    return m[:at] + struct.pack(">I", len(body) + 8) + b"mdat" + body


def big_opaque_jpeg(size: int) -> bytes:
    # COM segments of 64 KiB of random bytes: every byte is scanned for signatures.
    j = media.make_jpeg(random.Random(1))
    seg = b"\xff\xfe\xff\xff" + random.Random(3).randbytes(65533)
    return j[:2] + seg * (size // len(seg)) + j[2:]


def shapes(size: int) -> list[tuple[str, str, bytes, bool]]:
    out = [(name, kind, make(size), True) for name, (kind, make) in sorted(hostile.SHAPES.items())]
    out.append(("jpeg_big_opaque_segments", "jpg", big_opaque_jpeg(size), False))
    out += [("normal_jpeg", "jpg", normal_jpeg(size), False), ("normal_mp3", "mp3", normal_mp3(size), False),
            ("normal_mp4", "mp4", normal_mp4(size), False)]
    return out


def baseline(path: Path) -> None:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(256 * 1024):
            h.update(chunk)
    h.hexdigest()


def best(fn, repeat: int) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    """The best wall time and the best CPU time of ``repeat`` runs (CPU time is what an
    idle core would take; the machine is shared)."""
    wall, cpu = [], []
    for _ in range(repeat):
        t, c = time.perf_counter(), time.process_time()
        fn()
        wall.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
    return min(wall), min(cpu)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--size", type=int, default=20 * 1024 * 1024)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--quick", action="store_true", help="4 MiB files")
    args = ap.parse_args(argv)
    size = 4 * 1024 * 1024 if args.quick else args.size
    limits = Limits(jpg=1 << 30, mp3=1 << 30, mp4=1 << 30)
    failed = []
    with tempfile.TemporaryDirectory() as tmp:
        sub = Path(tmp) / "S"
        sub.mkdir()
        print(f"{'shape':28} {'MiB':>6} {'hash s':>8} {'validate s':>10} {'ratio':>6} {'cpu ratio':>9}  findings")
        for name, kind, data, adversarial in shapes(size):
            for old in sub.iterdir():
                old.unlink()
            path = sub / f"f.{kind}"
            path.write_bytes(data)
            decl = Decl(path.name, kind, len(data), hashlib.sha256(data).hexdigest())
            base, base_cpu = best(lambda: baseline(path), args.repeat)
            found: list = []

            def run() -> None:
                found[:] = check_attachments(sub, [decl], limits, submission="S")

            took, took_cpu = best(run, args.repeat)
            ratio, cpu_ratio = took / base, took_cpu / max(base_cpu, 1e-9)
            mark = "" if not adversarial else ("  ok" if min(ratio, cpu_ratio) <= BAR else f"  MISS {BAR:g}x")
            if adversarial and min(ratio, cpu_ratio) > BAR:
                failed.append(name)
            codes = ",".join(sorted({f.code for f in found})) or "-"
            print(f"{name:28} {len(data) / 2**20:6.1f} {base:8.4f} {took:10.4f} {ratio:6.2f} {cpu_ratio:9.2f}{mark}  {codes}")
    if failed:
        print(f"over the {BAR:g}x bar: {', '.join(failed)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
