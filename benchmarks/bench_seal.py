"""Benchmark ``cluetool seal`` and ``cluetool verify`` against tar | age + minisign.

Measures, on the same generated input and in one run:

(a) seal of a spool of --size bytes (default 1 GiB) in 20 large MP4 attachments spread
    over several submissions, vs ``tar -cf - SPOOL | age -r R > payload.age &&
    minisign -S -s KEY -m payload.age`` (target ratio <= 1.3);
(b) seal of --small submissions (default 2,000) of about 20 KiB each (report.json plus
    one small JPEG or MP3), vs the same pipeline (target <= 2.0);
(c) verify (no decryption) of the batch sealed in (a), vs ``sha256sum payload.age &&
    minisign -V`` on the members extracted from it beforehand (target <= 1.2);
(d) the peak RSS of seal in (a) (target < 100 MiB).

Every command runs in a fresh child process whose wall time and peak RSS
(``RUSAGE_CHILDREN``) are taken, after an untimed ``sync`` so that no run pays for the
writeback of an earlier one's output; seal and its baseline alternate and the best of
--repeat runs counts (the machine is shared). cluetool runs as the console command
(``python -m cluetool``), so interpreter start-up is part of its time, as the
baseline's process start-up is part of the baseline's. Seal moves sealed submissions
to ``SPOOL.done``; every seal run gets a fresh hard-link copy (``cp -al``) of the
spool and a reset seal state, outside the timed part. The report.json files are
copies of a valid one from ``samples/make_samples.py`` with a new submission_id and
attachment list. --profile DIR also writes a cProfile of one seal per scenario and
of one verify, and prints where the time went.

Needs the age, minisign, tar and sha256sum commands. Exit status: 0 when it ran
(targets missed are reported as MISS), 1 with --check and a missed target, 2 when a
tool is missing or a run failed.

Usage: .venv/bin/python benchmarks/bench_seal.py [--size BYTES] [--small N] [--quick]
       [--repeat N] [--dir DIR] [--keep] [--profile DIR] [--check]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import pstats
import random
import shutil
import subprocess
import sys
import tempfile
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from cluetool.config import Limits  # noqa: E402
from cluetool.validate import validate_submission  # noqa: E402
from samples import media  # noqa: E402

MiB = 1 << 20
GiB = 1 << 30
SOURCE = "bench"
LARGE_FILES = 20  # attachments in the large spool, whatever --size is
SMALL_TARGET = 20 * 1024  # bytes per small submission (report.json + one file)
TARGETS = {"a": 1.3, "b": 2.0, "c": 1.2}
RSS_TARGET = 100 * MiB

# Runs one command with stdout and stderr to files and prints its wall time and peak
# RSS (KiB) and exit status: the wrapper is a fresh process, so RUSAGE_CHILDREN covers
# exactly that command and its own children (the whole pipeline for the baseline).
RUNNER = """
import resource, subprocess, sys, time
with open(sys.argv[1], "wb") as out, open(sys.argv[2], "wb") as err:
    t = time.perf_counter()
    rc = subprocess.run(sys.argv[3:], stdout=out, stderr=err).returncode
    t = time.perf_counter() - t
print(t, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, rc)
"""


class BenchError(Exception):
    """A command failed or produced something unexpected."""


@dataclass
class Timing:
    seconds: float
    rss: int  # bytes
    stdout: bytes


@dataclass
class Row:
    name: str
    what: str
    ours: Timing
    base: Timing
    target: float
    alt: tuple[str, Timing] | None = None  # an informational second baseline

    @property
    def ratio(self) -> float:
        return self.ours.seconds / self.base.seconds


def _run(cmd: list[str], work: Path, env: dict[str, str] | None = None) -> Timing:
    out, err = work / "run.stdout", work / "run.stderr"
    # Write back what earlier runs left dirty (not timed), so that no run is throttled
    # by the writeback of another's output.
    os.sync()
    res = subprocess.run([sys.executable, "-c", RUNNER, str(out), str(err), *cmd], check=True,
                         capture_output=True, text=True, env=env)
    seconds, rss_kib, rc = res.stdout.split()
    if rc != "0":
        tail = err.read_bytes().decode("utf-8", "replace").strip().splitlines()[-5:]
        raise BenchError(f"{Path(cmd[0]).name} {' '.join(cmd[1:3])}… exited {rc}: " + " | ".join(tail))
    return Timing(float(seconds), int(rss_kib) * 1024, out.read_bytes())


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise BenchError(f"the {name} command is required")
    return path


def _env() -> dict[str, str]:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    env.pop("CLUETOOL_HOME", None)
    return env


def _cluetool(*args: str) -> str:
    res = subprocess.run([sys.executable, "-m", "cluetool", *args], capture_output=True, text=True, env=_env())
    if res.returncode != 0:
        raise BenchError(f"cluetool {' '.join(args[:2])} exited {res.returncode}: {res.stderr.strip()}")
    return res.stdout


# ---------------------------------------------------------------------------- input


def _template(work: Path) -> dict[str, Any]:
    """A report.json (as a dict) from the sample spool that validates now, unchanged."""
    spool = work / "samples" / "spool"
    subprocess.run([sys.executable, str(ROOT / "samples" / "make_samples.py"), "--out", str(spool),
                    "--codes", str(work / "samples" / "codes.json")], check=True, capture_output=True,
                   env=_env())
    now = datetime.now(timezone.utc)
    for entry in sorted(spool.iterdir()):
        if entry.name.startswith("invalid-"):
            continue
        result = validate_submission(entry, now=now, limits=Limits())
        if result.ok and not result.findings:
            report: dict[str, Any] = json.loads((entry / "report.json").read_bytes())
            shutil.rmtree(work / "samples")
            return report
    raise BenchError("no sample submission validates cleanly; cannot build a template")


def _write_submission(spool: Path, template: dict[str, Any], files: list[tuple[str, str, bytes | None]],
                      big: dict[str, tuple[int, str]] | None = None) -> Path:
    """A submission directory: report.json from ``template`` with a new id and these files.

    ``files`` holds (name, type, data); data None means the file was written already
    and ``big[name]`` gives its (size, sha256).
    """
    report = dict(template)
    report["submission_id"] = str(uuid.uuid4())
    # Its own query code too: seal quarantines a query code used twice (submission.code_reused).
    report["query_code_sha256"] = hashlib.sha256(report["submission_id"].encode()).hexdigest()
    d = spool / report["submission_id"]
    d.mkdir(parents=True, exist_ok=True)
    declared = []
    for name, kind, data in files:
        if data is not None:
            (d / name).write_bytes(data)
            size, sha = len(data), hashlib.sha256(data).hexdigest()
        else:
            assert big is not None
            size, sha = big[name]
        declared.append({"file": name, "type": kind, "size": size, "sha256": sha, "note": ""})
    report["attachments"] = declared
    # As the intake writes it (samples/make_samples.py render()).
    text = json.dumps(report, ensure_ascii=False, indent=2, sort_keys=True) + "\n"
    (d / "report.json").write_bytes(text.encode("utf-8"))
    return d


def _write_big_mp4(path: Path, size: int, rng: random.Random) -> tuple[int, str]:
    """A valid MP4 of exactly ``size`` bytes: a small complete movie (ftyp, moov, mdat)
    from samples.media, then a second top-level mdat of random bytes whose 32-bit size
    field covers the rest (ISO/IEC 14496-12 §4.2, §8.1.1: unreferenced media data is
    allowed)."""
    head = media.make_mp4(rng, seconds=1)
    body = size - len(head) - 8
    if body < 0 or size >= 1 << 32:
        raise BenchError(f"cannot make an MP4 of {size} bytes")
    sha = hashlib.sha256()
    with path.open("wb") as f:
        for part in (head, (body + 8).to_bytes(4, "big") + b"mdat"):
            f.write(part)
            sha.update(part)
        left = body
        while left:
            block = os.urandom(min(left, 16 * MiB))
            f.write(block)
            sha.update(block)
            left -= len(block)
    return size, sha.hexdigest()


def make_large_spool(spool: Path, template: dict[str, Any], total: int) -> tuple[int, int]:
    """20 MP4 attachments of total/20 bytes over 4, 5, 10 or 20 submissions (the fewest
    that keep each under the 1 GiB per-submission limit); returns (submissions, files)."""
    limits = Limits()
    each = total // LARGE_FILES
    if each > limits.mp4:
        raise BenchError(f"--size {total} makes attachments over the mp4 limit of {limits.mp4} bytes")
    if each < 4096:
        raise BenchError("--size is too small for 20 MP4 attachments")
    per_sub = next(k for k in (5, 4, 2, 1) if k * each <= limits.submission)
    rng = random.Random(42)
    spool.mkdir(parents=True)
    subs = 0
    for s in range(LARGE_FILES // per_sub):
        tmp = spool / f".incoming-{s}"
        tmp.mkdir()
        big: dict[str, tuple[int, str]] = {}
        names = []
        for i in range(per_sub):
            name = f"video-{i + 1}.mp4"
            big[name] = _write_big_mp4(tmp / name, each, rng)
            names.append((name, "mp4", None))
        d = _write_submission(spool, template, names, big)
        for name, _k, _d in names:
            os.rename(tmp / name, d / name)
        tmp.rmdir()
        subs += 1
    return subs, LARGE_FILES


def make_small_spool(spool: Path, template: dict[str, Any], count: int) -> int:
    """``count`` submissions of about 20 KiB: report.json and one JPEG (even) or MP3 (odd)."""
    rng = random.Random(7)
    spool.mkdir(parents=True)
    report_len = len(json.dumps(template, ensure_ascii=False, indent=2).encode()) + 300
    want = max(2048, SMALL_TARGET - report_len)
    # Calibrate the JPEG size once: libjpeg output grows with the pixel count.
    probe = random.Random(1)
    width = 48
    while len(media.make_jpeg(probe, width, width * 3 // 4)) < want and width < 2048:
        width += 8
    frames = max(1, want // 418)  # 128 kbit/s, 44.1 kHz MPEG-1 Layer III: 417-418 bytes a frame
    for i in range(count):
        if i % 2 == 0:
            files = [("photo-1.jpg", "jpg", media.make_jpeg(rng, width, width * 3 // 4))]
        else:
            files = [("recording-1.mp3", "mp3", media.make_mp3(rng, frames=frames))]
        _write_submission(spool, template, files)
    return count


def _tree_size(path: Path) -> tuple[int, int]:
    files = total = 0
    for dirpath, _dirs, names in os.walk(path):
        for n in names:
            files += 1
            total += os.lstat(os.path.join(dirpath, n)).st_size
    return files, total


# ---------------------------------------------------------------------------- runs


@dataclass
class Setup:
    work: Path
    home: Path
    recipient: str
    signer_pub: Path
    baseline_key: Path
    age: str
    minisign: str
    tar: str
    sha256sum: str


def _setup(work: Path) -> Setup:
    tools = {t: _tool(t) for t in ("age", "minisign", "tar", "sha256sum", "cp")}
    home = work / "home"
    _cluetool("init", "--home", str(home))
    _cluetool("keys", "generate", "main", "--home", str(home))
    recipient = _cluetool("keys", "export", "main", "--age", "--home", str(home)).strip()
    pub = work / "signer.pub"
    pub.write_text(_cluetool("keys", "export", "main", "--minisign", "--home", str(home)), encoding="utf-8")
    key = work / "baseline.key"
    subprocess.run([tools["minisign"], "-G", "-W", "-p", str(work / "baseline.pub"), "-s", str(key)],
                   check=True, capture_output=True)
    return Setup(work, home, recipient, pub, key, tools["age"], tools["minisign"], tools["tar"], tools["sha256sum"])


def _reset(s: Setup, master: Path, run: Path, out: Path) -> None:
    """A fresh hard-link copy of the spool, no output and no seal state (not timed)."""
    for p in (run, run.with_name(run.name + ".done"), run.with_name(run.name + ".quarantine"), out):
        shutil.rmtree(p, ignore_errors=True)
    shutil.rmtree(s.home / "state" / "seal", ignore_errors=True)
    subprocess.run(["cp", "-al", str(master), str(run)], check=True)


def _seal_cmd(s: Setup, spool: Path, out: Path, profile: Path | None = None) -> list[str]:
    py = [sys.executable] + (["-m", "cProfile", "-o", str(profile)] if profile else []) + ["-m", "cluetool"]
    # One batch whatever the size (seal's defaults would split at 1 GiB or 5,000 reports).
    return [*py, "seal", str(spool), "--source", SOURCE, "--to", s.recipient, "--out", str(out),
            "--home", str(s.home), "--format", "json", "--max-bytes", "1024G", "--max-reports", "1000000"]


def _check_seal(t: Timing, reports: int, attachments: int) -> dict[str, Any]:
    report = json.loads(t.stdout)
    if not report["ok"] or report["quarantined"] or len(report["batches"]) != 1:
        raise BenchError(f"seal did not produce exactly one clean batch: {t.stdout[:300]!r}")
    b = report["batches"][0]
    if (b["reports"], b["attachments"]) != (reports, attachments):
        raise BenchError(f"seal sealed {b['reports']} reports and {b['attachments']} attachments, "
                         f"expected {reports} and {attachments}")
    return dict(b)


def bench_seal(s: Setup, name: str, master: Path, reports: int, attachments: int, repeat: int,
               profile: Path | None) -> tuple[Row, dict[str, Any]]:
    run, out, base = s.work / "run" / "spool", s.work / "out", s.work / "baseline"
    (s.work / "run").mkdir(exist_ok=True)
    base.mkdir(exist_ok=True)
    payload = base / "payload.age"
    pipeline = (
        "set -eo pipefail; "
        f'"{s.tar}" -cf - -C "{master.parent}" "{master.name}" | "{s.age}" -r "{s.recipient}" > "{payload}" '
        f'&& "{s.minisign}" -S -s "{s.baseline_key}" -m "{payload}"'
    )
    baseline_cmd = ["bash", "-c", pipeline]
    # seal fsyncs its batch; the baseline as specified does not. For scale,
    # (a) also times the baseline followed by an fsync of its two outputs.
    synced_cmd = ["bash", "-c", f'{pipeline} && sync "{payload}" "{payload}.minisig"']
    ours: list[Timing] = []
    theirs: list[Timing] = []
    synced: list[Timing] = []
    batch: dict[str, Any] = {}
    for _ in range(repeat):
        _reset(s, master, run, out)
        t = _run(_seal_cmd(s, run, out), s.work, _env())
        batch = _check_seal(t, reports, attachments)
        ours.append(t)
        for p in base.iterdir():
            p.unlink()
        theirs.append(_run(baseline_cmd, s.work))
        if not (base / "payload.age.minisig").is_file():
            raise BenchError("the baseline pipeline wrote no signature")
        if name == "a":
            for p in base.iterdir():
                p.unlink()
            synced.append(_run(synced_cmd, s.work))
    if profile is not None:
        keep = s.work / "kept-batch"
        shutil.rmtree(keep, ignore_errors=True)
        os.rename(out, keep)  # (c) verifies the timed runs' batch, not the profiled one
        _reset(s, master, run, out)
        _run(_seal_cmd(s, run, out, profile / f"seal-{name}.prof"), s.work, _env())
        shutil.rmtree(out)
        os.rename(keep, out)
    for p in base.iterdir():
        p.unlink()
    best = Row(name, "", min(ours, key=lambda t: t.seconds), min(theirs, key=lambda t: t.seconds), TARGETS[name])
    best.ours.rss = max(t.rss for t in ours)
    best.base.rss = max(t.rss for t in theirs)
    if synced:
        best.alt = ("baseline followed by sync of payload.age and .minisig", min(synced, key=lambda t: t.seconds))
    return best, batch


def validate_only(s: Setup, master: Path, repeat: int) -> float:
    """Best time of ``cluetool validate SPOOL`` alone: the validation share of a seal."""
    cmd = [sys.executable, "-m", "cluetool", "validate", str(master), "--format", "json"]
    best = min((_run(cmd, s.work, _env()) for _ in range(repeat)), key=lambda t: t.seconds)
    if json.loads(best.stdout).get("findings"):
        raise BenchError("cluetool validate reports findings in the generated spool")
    return best.seconds


def bench_verify(s: Setup, batch: dict[str, Any], repeat: int, profile: Path | None) -> Row:
    path = Path(batch["path"])
    ext = s.work / "extracted"
    shutil.rmtree(ext, ignore_errors=True)
    ext.mkdir()
    subprocess.run([s.tar, "-xf", str(path), "-C", str(ext)], check=True)  # not timed
    payload, manifest = ext / "payload.age", ext / "manifest.json"
    baseline_cmd = ["bash", "-c", (
        f'"{s.sha256sum}" "{payload}" && "{s.minisign}" -V -q -p "{s.signer_pub}" '
        f'-m "{manifest}" -x "{manifest}.minisig"'
    )]
    # coreutils sha256sum has no SHA-NI code path; OpenSSL (which Python's hashlib uses)
    # has. For scale, (c) also times the baseline with openssl dgst instead.
    openssl = shutil.which("openssl")
    openssl_cmd = ["bash", "-c", (
        f'"{openssl}" dgst -sha256 -r "{payload}" && "{s.minisign}" -V -q -p "{s.signer_pub}" '
        f'-m "{manifest}" -x "{manifest}.minisig"'
    )]
    verify_cmd = [sys.executable, "-m", "cluetool", "verify", str(path), "--signer", str(s.signer_pub),
                  "--format", "json"]
    ours: list[Timing] = []
    theirs: list[Timing] = []
    alt: list[Timing] = []
    for _ in range(repeat):
        t = _run(verify_cmd, s.work, _env())
        if not json.loads(t.stdout)["ok"]:
            raise BenchError(f"verify found problems in the sealed batch: {t.stdout[:300]!r}")
        ours.append(t)
        b = _run(baseline_cmd, s.work)
        if b.stdout.split()[0].decode() != batch["payload_sha256"]:
            raise BenchError("sha256sum of the extracted payload.age differs from the manifest's")
        theirs.append(b)
        if openssl:
            o = _run(openssl_cmd, s.work)
            if o.stdout.split()[0].decode() != batch["payload_sha256"]:
                raise BenchError("openssl dgst of the extracted payload.age differs from the manifest's")
            alt.append(o)
    if profile is not None:
        _run([sys.executable, "-m", "cProfile", "-o", str(profile / "verify-a.prof"), *verify_cmd[1:]],
             s.work, _env())
    shutil.rmtree(ext)
    row = Row("c", "", min(ours, key=lambda t: t.seconds), min(theirs, key=lambda t: t.seconds), TARGETS["c"])
    row.ours.rss = max(t.rss for t in ours)
    row.base.rss = max(t.rss for t in theirs)
    if alt:
        row.alt = ("openssl dgst -sha256 instead of sha256sum", min(alt, key=lambda t: t.seconds))
    return row


# ---------------------------------------------------------------------------- output


def _mib(n: float) -> str:
    return f"{n / MiB:.1f}"


def _print_table(rows: list[Row]) -> bool:
    print(f"{'':2} {'measurement':38} {'cluetool s':>10} {'baseline s':>10} {'ratio':>6} {'target':>7} "
          f"{'':4} {'cluetool RSS':>12} {'baseline RSS':>12}")
    ok = True
    for r in rows:
        hit = r.ratio <= r.target
        ok &= hit
        print(f"{r.name + ')':2} {r.what:38} {r.ours.seconds:10.2f} {r.base.seconds:10.2f} {r.ratio:6.2f} "
              f"{'<= ' + format(r.target, '.1f'):>7} {'PASS' if hit else 'MISS':4} "
              f"{_mib(r.ours.rss) + ' MiB':>12} {_mib(r.base.rss) + ' MiB':>12}")
    return ok


def _print_profile(path: Path, top: int = 18) -> None:
    print(f"\n--- {path.name}: top functions by own time (tottime) ---")
    stats = pstats.Stats(str(path))
    stats.sort_stats("tottime").print_stats(top)


def _size_arg(text: str) -> int:
    units = {"": 1, "k": 1024, "m": MiB, "g": GiB, "kib": 1024, "mib": MiB, "gib": GiB}
    t = text.strip().lower()
    num = t.rstrip("kmgib")
    if not num.isdigit() or t[len(num):] not in units:
        raise argparse.ArgumentTypeError(f"invalid size {text!r}: bytes, or e.g. 64M, 1G")
    return int(num) * units[t[len(num):]]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\nUsage:")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=_size_arg, default=None,
                        help="bytes of attachments in the large spool for (a), (c), (d); e.g. 1G (default 1 GiB)")
    parser.add_argument("--small", type=int, default=None, help="submissions in the small spool for (b) (default 2000)")
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: 64 MiB, 200 submissions, best of 1 (explicit --size/--small/--repeat win)")
    parser.add_argument("--repeat", type=int, default=None, help="runs per measurement; the fastest counts (default 3)")
    parser.add_argument("--dir", type=Path, default=None,
                        help="parent of the temporary directory (default $TMPDIR, else build/ in the repo)")
    parser.add_argument("--profile", type=Path, default=None, metavar="DIR",
                        help="also write cProfile files of one seal per scenario and one verify into DIR and print the top")
    parser.add_argument("--check", action="store_true", help="exit 1 if a target is missed")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory (spools, keys) for inspection")
    args = parser.parse_args(argv)
    size = args.size if args.size is not None else (64 * MiB if args.quick else GiB)
    small = args.small if args.small is not None else (200 if args.quick else 2000)
    repeat = args.repeat if args.repeat is not None else (1 if args.quick else 3)
    if repeat < 1 or small < 1:
        parser.error("--repeat and --small must be positive")

    parent = args.dir or (Path(os.environ["TMPDIR"]) if os.environ.get("TMPDIR") else ROOT / "build")
    parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="bench_seal.", dir=parent))
    profile = args.profile.resolve() if args.profile else None
    if profile:
        profile.mkdir(parents=True, exist_ok=True)
    try:
        s = _setup(work)
        template = _template(work)
        large = work / "large" / "spool"
        nsubs, nfiles = make_large_spool(large, template, size)
        smalls = work / "small" / "spool"
        make_small_spool(smalls, template, small)
        lf, lbytes = _tree_size(large)
        sf, sbytes = _tree_size(smalls)
        print(f"seal/verify benchmark: best of {repeat}, {os.cpu_count()} CPUs, work dir {work}")
        print(f"  large spool: {nsubs} submissions, {nfiles} MP4 attachments, {lf} files, {_mib(lbytes)} MiB")
        print(f"  small spool: {small} submissions, {sf} files, {_mib(sbytes)} MiB "
              f"({sbytes / small / 1024:.1f} KiB each)")
        imports = [sys.executable, "-c", "import cluetool.cli, cluetool.api"]
        startup = min((_run(imports, work, _env()) for _ in range(repeat)), key=lambda t: t.seconds)
        print(f"  cluetool start-up (interpreter + imports of the api): {startup.seconds:.2f} s, "
              "included in every cluetool time")
        sys.stdout.flush()

        row_a, batch_a = bench_seal(s, "a", large, nsubs, nfiles, repeat, profile)
        row_a.what = f"seal {_mib(lbytes)} MiB / {nfiles} attachments"
        sys.stdout.flush()
        row_c = bench_verify(s, batch_a, repeat, profile)  # the batch of (a)'s last timed run
        row_c.what = f"verify {_mib(batch_a['payload_size'])} MiB batch"
        row_b, _ = bench_seal(s, "b", smalls, small, small, repeat, profile)
        row_b.what = f"seal {small} small submissions"

        val_a = validate_only(s, large, repeat)
        val_b = validate_only(s, smalls, repeat)

        print("\nbaselines: (a)(b) tar -cf - SPOOL | age -r R > payload.age && minisign -S -s KEY -m payload.age")
        print("           (c)    sha256sum payload.age && minisign -V (members extracted beforehand)")
        ok = _print_table([row_a, row_b, row_c])
        rss_ok = row_a.ours.rss < RSS_TARGET
        print(f"d) peak RSS of seal on {_mib(lbytes)} MiB: {_mib(row_a.ours.rss)} MiB "
              f"(target < {_mib(RSS_TARGET)} MiB) {'PASS' if rss_ok else 'MISS'}")
        for r in (row_a, row_c):
            if r.alt is not None:
                what, t = r.alt
                print(f"   {r.name}) info, vs {what}: {t.seconds:.2f} s, ratio {r.ours.seconds / t.seconds:.2f}")
        for r, val in ((row_a, val_a), (row_b, val_b)):
            print(f"   {r.name}) of the seal time, validation alone (cluetool validate SPOOL) takes {val:.2f} s; "
                  f"seal minus validation is {r.ours.seconds - val:.2f} s = {(r.ours.seconds - val) / r.base.seconds:.2f}"
                  " x baseline")
        for r in (row_a, row_b, row_c):
            mb = lbytes if r.name != "b" else sbytes
            print(f"   {r.name}) throughput: cluetool {mb / MiB / r.ours.seconds:.0f} MiB/s, "
                  f"baseline {mb / MiB / r.base.seconds:.0f} MiB/s")
        if profile:
            for p in sorted(profile.glob("*.prof")):
                _print_profile(p)
        return 1 if args.check and not (ok and rss_ok) else 0
    except (BenchError, subprocess.CalledProcessError) as exc:
        print(f"bench_seal: error: {exc}", file=sys.stderr)
        return 2
    finally:
        if args.keep:
            print(f"bench_seal: kept {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
