"""Hidden payloads, linear-time parsers, limits and identifying metadata (issue 17).

The corpus is generated deterministically by ``tests/corpus/hostile.py``.
"""

from __future__ import annotations

import hashlib
import random
import struct
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cluetool.config import Limits
from cluetool.validate.attachments import AttachmentStream, check_attachments
from cluetool.validate.attachments.parser import BYTES_PER_STRUCTURE, STRUCTURE_BASE
from samples import media
from tests.corpus import hostile


@dataclass(frozen=True)
class Decl:
    file: str
    type: str
    size: int
    sha256: str


def stream(kind: str, data: bytes, step: int | None = None, **kw: int) -> AttachmentStream:
    s = AttachmentStream(kind, limit=1 << 30, **kw)
    step = step or len(data) or 1
    for i in range(0, len(data), step):
        s.update(data[i:i + step])
    s.finish()
    return s


def codes(s: AttachmentStream) -> list[str]:
    return sorted(code for code, _ in s.finish())


def check_file(tmp_path: Path, kind: str, data: bytes, limits: Limits | None = None):
    d = tmp_path / "S"
    d.mkdir(exist_ok=True)
    name = f"f.{kind}"
    (d / name).write_bytes(data)
    decl = Decl(name, kind, len(data), hashlib.sha256(data).hexdigest())
    return check_attachments(d, [decl], limits or Limits(), submission="S")


# --- embedded content ------------------------------------------------------------------

CORPUS = [(r, k) for r in hostile.REGIONS for k in hostile.PAYLOADS]


@pytest.mark.parametrize(("region", "kind"), CORPUS, ids=[f"{r.__name__}-{k}" for r, k in CORPUS])
def test_embedded_signature_in_opaque_region_found_with_offset(region, kind: str) -> None:
    ftype, data, at = region(hostile.PAYLOADS[kind]())
    problems = stream(ftype, data).finish()
    hits = [m for c, m in problems if c == hostile.CODES[kind] and m.endswith(f"embedded at offset {at}")]
    assert hits, problems


@pytest.mark.parametrize("region", hostile.REGIONS, ids=lambda r: r.__name__)
def test_embedded_clean_region_no_findings(region) -> None:
    ftype, data, _ = region(b"plain words, a <b>bold</b> tag and 100% PDF-free text #1 " * 4)
    assert stream(ftype, data).finish() == []


@pytest.mark.parametrize("kind", ["jpg", "mp3", "mp4"])
def test_embedded_valid_samples_clean(kind: str) -> None:
    make = {"jpg": media.make_jpeg, "mp3": media.make_mp3, "mp4": media.make_mp4}[kind]
    for seed in range(30):
        assert stream(kind, make(random.Random(seed))).finish() == [], seed


def test_embedded_pe_needs_the_pe_header() -> None:
    mz_only = b"MZ" + bytes(0x3A) + struct.pack("<I", 0x40) + b"no PE here" * 10
    _, data, _ = hostile.jpeg_com(mz_only)
    assert stream("jpg", data).finish() == []
    _, data, at = hostile.jpeg_com(hostile.pe_bytes())
    assert stream("jpg", data, step=7).finish() == [("attachment.embedded_executable", f"PE (Windows) executable embedded at offset {at}")]


def test_embedded_pe_header_beyond_a_chunk_found() -> None:
    far = b"MZ" + bytes(0x3A) + struct.pack("<I", 40_000) + bytes(40_000 - 0x40) + b"PE\x00\x00" + bytes(8)
    _, data, at = hostile.id3_geob(far)
    for step in (4096, 65536, None):
        assert ("attachment.embedded_executable", f"PE (Windows) executable embedded at offset {at}") in \
            stream("mp3", data, step=step).finish()


def test_embedded_implausible_zip_in_jpeg_comment_found(tmp_path: Path) -> None:
    # Issue 17: entry counts that disagree and version 0xFFFF, yet unzip extracts it.
    archive = bytearray(media.zip_bytes(random.Random(5)))
    archive[4:6] = b"\xff\xff"
    archive[-12:-10] = b"\x07\x00"
    _, data, at = hostile.jpeg_com(bytes(archive))
    found = check_file(tmp_path, "jpg", data)
    assert [f.code for f in found] == ["attachment.embedded_archive"]
    assert f"offset {at}" in found[0].message


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(region=st.sampled_from(hostile.REGIONS), kind=st.sampled_from(sorted(hostile.PAYLOADS)),
       before=st.binary(max_size=300).map(lambda b: bytes(0x61 + x % 26 for x in b)),
       after=st.binary(max_size=100).map(lambda b: bytes(0x61 + x % 26 for x in b)),
       step=st.sampled_from([1, 3, 64, 1000, None]))
def test_embedded_property_any_signature_anywhere_in_any_region(region, kind: str, before: bytes, after: bytes,
                                                                step: int | None) -> None:
    ftype, data, at = region(before + hostile.PAYLOADS[kind]() + after)
    problems = stream(ftype, data, step=step).finish()
    assert (hostile.CODES[kind], f"{_label(kind, problems)} embedded at offset {at + len(before)}") in problems


def _label(kind: str, problems: list[tuple[str, str]]) -> str:
    from cluetool.validate.attachments.signatures import _NAMES

    if kind == "zip":
        return "ZIP local file header"
    return _NAMES[kind]


# --- MP4 mdat of size 0 ----------------------------------------------------------------


def _size0(data: bytes, kind: bytes) -> bytes:
    at = data.rindex(kind) - 4
    return data[:at] + b"\x00\x00\x00\x00" + data[at + 4:]


def test_mp4_size0_mdat_last_after_moov_valid() -> None:
    assert stream("mp4", _size0(media.make_mp4(random.Random(1)), b"mdat")).finish() == []


def test_mp4_size0_mdat_before_moov_refused() -> None:
    m = media.make_mp4(random.Random(1))
    ftyp_end = struct.unpack_from(">I", m)[0]
    moov_at = m.index(b"moov") - 4
    moov = m[moov_at:m.rindex(b"mdat") - 4]
    mdat = m[m.rindex(b"mdat") - 4:]
    data = m[:ftyp_end] + b"\x00\x00\x00\x00mdat" + mdat[8:] + moov
    assert [c for c, _ in stream("mp4", data).finish()] == ["attachment.structure"]


def test_mp4_size0_other_box_refused() -> None:
    m = media.make_mp4(random.Random(1))
    data = m + b"\x00\x00\x00\x00free" + b"\x7fELF" + bytes(60)
    problems = stream("mp4", data).finish()
    assert problems[0][0] == "attachment.structure" and "size 0" in problems[0][1]


def test_mp4_size0_nested_refused() -> None:
    data = hostile.with_moov_child(media.make_mp4(random.Random(1)), b"\x00\x00\x00\x00udta")
    assert stream("mp4", data).finish()[0][0] in ("attachment.structure", "attachment.truncated")


def test_mp4_child_overflowing_parent_refused() -> None:
    data = hostile.with_moov_child(media.make_mp4(random.Random(1)), struct.pack(">I", 4000) + b"udta")
    assert stream("mp4", data).finish()[0][0] == "attachment.structure"


# --- linear work -------------------------------------------------------------------------

SIZES = [64 * 1024, 256 * 1024, 1024 * 1024]


@pytest.mark.parametrize("shape", sorted(hostile.SHAPES))
def test_work_linear_in_file_size(shape: str) -> None:
    kind, make = hostile.SHAPES[shape]
    per_byte = []
    for size in SIZES:
        data = make(size)
        s = stream(kind, data, step=256 * 1024)
        w = s.work
        # Structures are budgeted; every parser step handles a structure, a chunk, or
        # (MP3 only) a frame of at least 24 bytes; the scanner reads each opaque byte once.
        assert w["structures"] <= STRUCTURE_BASE + len(data) // BYTES_PER_STRUCTURE + 1
        assert w["scanned"] <= len(data)
        bound = 4 * w["structures"] + len(data) // 24 + 4 * (len(data) // (256 * 1024) + 1) + 64
        assert w["steps"] <= bound, (size, w)
        per_byte.append(w["steps"] / len(data))
    # Work per byte does not grow with the size (it falls where a budget caps it).
    assert per_byte[2] <= per_byte[0] * 1.05 + 1e-9, per_byte


@pytest.mark.parametrize("shape", ["jpeg_ff_fill", "jpeg_scan_stuffing"])
def test_work_fill_and_stuffing_constant_steps(shape: str) -> None:
    kind, make = hostile.SHAPES[shape]
    steps = [stream(kind, make(size), step=256 * 1024).work["steps"] for size in SIZES]
    assert max(steps) <= 64 + 8 * (SIZES[-1] // (256 * 1024))
    assert stream(kind, make(SIZES[-1])).finish() == []


@pytest.mark.parametrize("shape", ["jpeg_many_segments", "mp4_tiny_boxes", "mp3_many_id3_frames"])
def test_work_too_many_structures_refused(shape: str) -> None:
    kind, make = hostile.SHAPES[shape]
    problems = stream(kind, make(SIZES[-1])).finish()
    assert problems[0][0] == "attachment.structure" and "more than" in problems[0][1]
    small = stream(kind, make(2 * 1024)).finish()  # within the budget: a valid file
    assert small == [], small


# --- limits -------------------------------------------------------------------------------


def _jpeg_dimensions(width: int, height: int) -> bytes:
    j = bytearray(media.make_jpeg(random.Random(2)))
    sof = j.index(b"\xff\xc0")
    j[sof + 5:sof + 9] = struct.pack(">HH", height, width)
    return bytes(j)


def test_limits_jpeg_60000_square_refused(tmp_path: Path) -> None:
    found = check_file(tmp_path, "jpg", _jpeg_dimensions(60000, 60000))
    assert "attachment.dimensions" in [f.code for f in found]
    msg = next(f.message for f in found if f.code == "attachment.dimensions")
    assert "60000 x 60000" in msg and "100 megapixels" in msg


def test_limits_jpeg_pixels_configurable(tmp_path: Path) -> None:
    data = _jpeg_dimensions(4000, 3000)  # 12 MP
    assert "attachment.dimensions" not in [f.code for f in check_file(tmp_path, "jpg", data)]
    found = check_file(tmp_path, "jpg", data, Limits(image_pixels=10_000_000))
    assert "attachment.dimensions" in [f.code for f in found]


def test_limits_mp4_track_and_duration() -> None:
    m = bytearray(media.make_mp4(random.Random(3)))
    tkhd = m.index(b"tkhd")
    body_end = tkhd + 4 + 84
    m[body_end - 8:body_end] = struct.pack(">II", 20000 << 16, 10000 << 16)
    mvhd = m.index(b"mvhd")
    m[mvhd + 4 + 12:mvhd + 4 + 20] = struct.pack(">II", 1, 200_000)
    assert sorted(c for c, _ in stream("mp4", bytes(m)).finish()) == ["attachment.dimensions", "attachment.duration"]


# --- metadata ----------------------------------------------------------------------------


def test_metadata_exif_gps_make_model_serial() -> None:
    s = stream("jpg", hostile.jpeg_with_exif())
    assert s.finish() == []
    meta = {(c, f): v for c, f, v in s.metadata}
    assert meta[("metadata.device", "Make")] == "ExamplePhone Inc."
    assert meta[("metadata.device", "Model")] == "EP-9 Pro"
    assert meta[("metadata.serial", "BodySerialNumber")] == "SN-0042-7731"
    assert meta[("metadata.owner", "Artist")] == "Zhang San"
    assert meta[("metadata.gps", "GPSLatitude/GPSLongitude")] == "39.904167N, 116.391667E"


def test_metadata_id3_personal_frames() -> None:
    s = stream("mp3", hostile.mp3_with_personal_frames())
    assert s.finish() == []
    assert [(c, f) for c, f, _ in s.metadata] == [
        ("metadata.personal", "ID3 TXXX"), ("metadata.personal", "ID3 COMM"), ("metadata.personal", "ID3 PRIV")]
    assert s.metadata[0][2] == "phone | 13800138000"
    assert s.metadata[2][2] == "owner@example.invalid"


def test_metadata_mp4_location_make_model() -> None:
    s = stream("mp4", hostile.mp4_with_location(), step=50)
    assert s.finish() == []
    assert sorted(s.metadata) == sorted([
        ("metadata.location", "©xyz", "+39.9042+116.4074/"),
        ("metadata.device", "©mak", "Apple"),
        ("metadata.location", "com.apple.quicktime.location.ISO6709", "+39.9042+116.4074+044.000/"),
        ("metadata.device", "com.apple.quicktime.model", "iPhone 15"),
    ])


@pytest.mark.parametrize(("kind", "make", "expected"), [
    ("jpg", hostile.jpeg_with_exif, {"metadata.gps", "metadata.device", "metadata.serial", "metadata.owner"}),
    ("mp3", hostile.mp3_with_personal_frames, {"metadata.personal"}),
    ("mp4", hostile.mp4_with_location, {"metadata.location", "metadata.device"}),
])
def test_metadata_warnings_do_not_fail(tmp_path: Path, kind: str, make, expected: set[str]) -> None:
    found = check_file(tmp_path, kind, make())
    assert {f.code for f in found} == expected
    assert all(f.severity == "warning" for f in found)


def test_metadata_seal_reports_warnings_and_seals(tmp_path: Path) -> None:
    from samples.make_samples import valid_submission, write_submission
    from tests.batch_helpers import make_home, seal_spool

    kh = make_home(tmp_path / "home")
    report, _, _ = valid_submission(random.Random(77), 0, attachments=0)
    photo = hostile.jpeg_with_exif()
    report["attachments"] = [{"file": "photo.jpg", "type": "jpg", "size": len(photo),
                              "sha256": hashlib.sha256(photo).hexdigest(), "note": ""}]
    write_submission(tmp_path / "spool" / "sub", report, {"photo.jpg": photo})
    result = seal_spool(kh, tmp_path / "spool", tmp_path / "out")
    assert result.ok and len(result.batches) == 1 and result.quarantined == []
    assert {w.code for w in result.warnings} == {"metadata.gps", "metadata.device", "metadata.serial", "metadata.owner"}
    assert all(w.severity == "warning" and w.submission == "sub" for w in result.warnings)


def test_mp4_size0_mdat_data_after_last_sample_refused() -> None:
    m = _size0(media.make_mp4(random.Random(1)), b"mdat")
    problems = stream("mp4", m + b"\x7fELF" + bytes(100)).finish()
    assert problems[0][0] == "attachment.trailing_data" and "104 bytes after the last sample" in problems[0][1]
    assert stream("mp4", m[:-10]).finish()[0][0] == "attachment.truncated"


def test_limits_mp3_duration_by_frames() -> None:
    data = media.make_mp3(random.Random(4), frames=400)  # 400 x 1152 / 44100 = 10.4 s
    assert stream("mp3", data, max_seconds=60).finish() == []
    problems = stream("mp3", data, max_seconds=10).finish()
    assert problems == [("attachment.duration", "MP3 lasts 10 s (400 frames), more than the limit of 10 s")]


def test_mp4_bytes_left_at_container_end_scanned() -> None:
    m = media.make_mp4(random.Random(1))
    data = hostile.with_moov_child(m, b"\x7fELF")  # 4 bytes: too few for a box
    at = data.index(b"\x7fELF")
    assert stream("mp4", data).finish() == [("attachment.embedded_executable", f"ELF executable embedded at offset {at}")]


def test_mp4_hostile_sample_tables_bounded() -> None:
    # Counts far beyond the table bytes: no huge allocation, the end check is skipped.
    m = bytearray(_size0(media.make_mp4(random.Random(1)), b"mdat"))
    stsz = m.index(b"stsz")
    m[stsz + 8:stsz + 12] = struct.pack(">I", 4)  # a constant sample size ...
    m[stsz + 12:stsz + 16] = struct.pack(">I", 0xFFFFFFFF)  # ... and 4 billion samples
    stsc = m.index(b"stsc")
    m[stsc + 8:stsc + 12] = struct.pack(">I", 0x7FFFFFFF)
    problems = stream("mp4", bytes(m)).finish()
    assert all(code != "attachment.trailing_data" for code, _ in problems)
