"""Attachment validation (schemas/report.schema.json): content, names, sizes, limits."""

from __future__ import annotations

import hashlib
import os
import random
import socket
import stat
import struct
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cluetool.config import Limits
from cluetool.errors import InputError
from cluetool.model.findings import Finding
from cluetool.validate.attachments import AttachmentStream, check_attachments, sniff
from samples import media


@dataclass(frozen=True)
class Decl:
    """Stands in for the report model's attachment entry (the Protocol's attributes)."""

    file: str
    type: str
    size: int
    sha256: str
    note: str = ""


def rng(seed: int = 7) -> random.Random:
    return random.Random(seed)


def put(folder: Path, name: str, data: bytes, kind: str) -> Decl:
    (folder / name).write_bytes(data)
    return Decl(file=name, type=kind, size=len(data), sha256=hashlib.sha256(data).hexdigest())


def check(folder: Path, decls: list[Decl], limits: Limits | None = None) -> list[Finding]:
    return check_attachments(folder, decls, limits or Limits(), submission="S-1")


def codes(findings: list[Finding]) -> list[str]:
    return sorted(f.code for f in findings)


@pytest.fixture
def sub(tmp_path: Path) -> Path:
    folder = tmp_path / "S-1"
    folder.mkdir()
    (folder / "report.json").write_text("{}")
    return folder


VALID: dict[str, Callable[[random.Random], bytes]] = {
    "jpg": media.make_jpeg,
    "mp3": media.make_mp3,
    "mp4": media.make_mp4,
}


def stream_result(
    kind: str, data: bytes, step: int | None = None
) -> tuple[list[tuple[str, str]], str | None, int]:
    s = AttachmentStream(kind, limit=1 << 30)
    if step is None:
        s.update(data)
    else:
        for i in range(0, len(data), step):
            s.update(data[i : i + step])
    return s.finish(), s.sha256, s.size


# --- valid files --------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["jpg", "mp3", "mp4"])
def test_check_attachments_valid_sample_no_findings(sub: Path, kind: str) -> None:
    decl = put(sub, f"evidence.{kind}", VALID[kind](rng()), kind)
    assert check(sub, [decl]) == []


def test_check_attachments_all_three_types_and_jpeg_extension_no_findings(sub: Path) -> None:
    decls = [
        put(sub, "photo.JPEG", media.make_jpeg(rng(1), 64, 48), "jpg"),
        put(sub, "录音.mp3", media.make_mp3(rng(2), frames=40), "mp3"),
        put(sub, "video.MP4", media.make_mp4(rng(3), seconds=3), "mp4"),
    ]
    assert check(sub, decls) == []


@pytest.mark.parametrize("kind", ["jpg", "mp3", "mp4"])
def test_media_samples_sniff_as_accepted_mime(kind: str) -> None:
    expected = {"jpg": "image/jpeg", "mp3": "audio/mpeg", "mp4": "video/mp4"}[kind]
    assert sniff(VALID[kind](rng())) == expected


@pytest.mark.parametrize("kind", ["jpg", "mp3", "mp4"])
def test_media_samples_same_seed_identical_bytes(kind: str) -> None:
    assert VALID[kind](rng(11)) == VALID[kind](rng(11))
    assert VALID[kind](rng(11)) != VALID[kind](rng(12))


def test_check_attachments_mp3_without_id3_tag_no_findings(sub: Path) -> None:
    data = media.make_mp3(rng())
    frames = data[data.index(b"\xff\xfb") :]
    assert check(sub, [put(sub, "raw.mp3", frames, "mp3")]) == []


def test_check_attachments_mp3_with_long_id3_tag_no_findings(sub: Path) -> None:
    # A 20 KiB tag (cover art) hides the frames from libmagic's first 8 KiB.
    frames = media.make_mp3(rng())
    frames = frames[frames.index(b"\xff\xfb") :]
    size = 20_000
    syncsafe = bytes(((size >> 21) & 0x7F, (size >> 14) & 0x7F, (size >> 7) & 0x7F, size & 0x7F))
    tag = b"ID3\x03\x00\x00" + syncsafe
    data = tag + bytes(size) + frames
    assert sniff(data) == "application/octet-stream"
    assert check(sub, [put(sub, "cover.mp3", data, "mp3")]) == []


def test_check_attachments_mp3_read_as_boot_sector_by_libmagic_no_findings(sub: Path) -> None:
    # 55 AA at offset 510 makes libmagic's strongest match a DOS boot sector, which has
    # no MIME type; every match (MAGIC_CONTINUE) still includes audio/mpeg.
    data = media.make_mp3(rng())
    frames = bytearray(data[data.index(b"\xff\xfb") :])
    frames[510:512] = b"\x55\xaa"  # inside the second frame's ancillary data
    assert sniff(bytes(frames)) == "application/octet-stream"
    assert check(sub, [put(sub, "boot.mp3", bytes(frames), "mp3")]) == []


def test_check_attachments_octet_stream_and_bad_structure_type_mismatch(sub: Path) -> None:
    data = bytearray(media.make_mp3(rng()))
    frames_at = data.index(b"\xff\xfb")
    data[frames_at + 510 : frames_at + 512] = b"\x55\xaa"
    data += b"junk"
    found = check(sub, [put(sub, "boot.mp3", bytes(data), "mp3")])
    assert codes(found) == ["attachment.structure", "attachment.type_mismatch"]


def test_check_attachments_mp3_with_id3v1_and_ape_tags_no_findings(sub: Path) -> None:
    items = b"\x05\x00\x00\x00\x00\x00\x00\x00Title\x00hello"
    size = len(items) + 32
    ape_header = b"APETAGEX" + struct.pack("<IIII", 2000, size, 1, 0xA0000000) + bytes(8)
    ape_footer = b"APETAGEX" + struct.pack("<IIII", 2000, size, 1, 0x80000000) + bytes(8)
    data = media.make_mp3(rng()) + ape_header + items + ape_footer + b"TAG" + bytes(125)
    assert check(sub, [put(sub, "tagged.mp3", data, "mp3")]) == []


def test_check_attachments_mp4_largesize_and_size0_boxes_no_findings(sub: Path) -> None:
    data = media.make_mp4(rng())
    at = data.rindex(b"mdat") - 4
    body = data[at + 8 :]
    largesize = struct.pack(">I", 1) + b"mdat" + struct.pack(">Q", len(body) + 16) + body
    to_eof = struct.pack(">I", 0) + b"mdat" + body
    decls = [
        put(sub, "large.mp4", data[:at] + largesize, "mp4"),
        put(sub, "eof.mp4", data[:at] + to_eof, "mp4"),
    ]
    assert check(sub, decls) == []


def test_check_attachments_jpeg_scan_with_implausible_zip_signature_no_findings(sub: Path) -> None:
    # "PK\x03\x04" followed by fields no archiver writes (version 0xFFFF, reserved
    # flags): the chance match that entropy-coded data produces must not be flagged.
    fake = b"PK\x03\x04" + b"\xff" * 26 + b"PK\x05\x06" + b"\x01\x00\x02\x00" + bytes(14)
    jpeg = media.make_jpeg(rng())
    stuffed = fake.replace(b"\xff", b"\xff\x00")  # T.81 F.1.2.3: FF in a scan is followed by 00
    data = jpeg[:-2] + stuffed + jpeg[-2:]
    assert check(sub, [put(sub, "odd.jpg", data, "jpg")]) == []


def test_check_attachments_jpeg_com_with_implausible_zip_signature_found(sub: Path) -> None:
    # In an opaque segment the same bytes are a finding however the headers look
    # (issue 17: unzip and zipfile still extract such archives).
    fake = b"PK\x03\x04" + b"\xff" * 26 + b"PK\x05\x06" + b"\x01\x00\x02\x00" + bytes(14)
    jpeg = media.make_jpeg(rng())
    data = jpeg[:2] + b"\xff\xfe" + struct.pack(">H", len(fake) + 2) + fake + jpeg[2:]
    found = check(sub, [put(sub, "odd.jpg", data, "jpg")])
    assert codes(found) == ["attachment.embedded_archive"]
    assert "ZIP local file header embedded at offset 6" in found[0].message


# --- adversarial content ---------------------------------------------------------------


def test_check_attachments_elf_named_jpg_type_mismatch(sub: Path) -> None:
    found = check(sub, [put(sub, "photo.jpg", media.elf_renamed(), "jpg")])
    assert codes(found) == ["attachment.structure", "attachment.type_mismatch"]
    mismatch = next(f for f in found if f.code == "attachment.type_mismatch")
    assert "application/x-executable" in mismatch.message


def test_check_attachments_zip_named_mp4_type_mismatch(sub: Path) -> None:
    found = check(sub, [put(sub, "clip.mp4", media.zip_bytes(rng()), "mp4")])
    assert codes(found) == ["attachment.embedded_archive", "attachment.structure", "attachment.type_mismatch"]


def test_check_attachments_pdf_named_mp3_type_mismatch(sub: Path) -> None:
    found = check(sub, [put(sub, "audio.mp3", media.pdf_bytes(), "mp3")])
    assert codes(found) == ["attachment.structure", "attachment.type_mismatch"]


def test_check_attachments_quicktime_brand_named_mp4_type_mismatch(sub: Path) -> None:
    data = media.make_mp4(rng())
    data = data[:8] + b"qt  " + data[12:]
    found = check(sub, [put(sub, "clip.mp4", data, "mp4")])
    assert codes(found) == ["attachment.type_mismatch"]
    assert "video/quicktime" in found[0].message


def test_check_attachments_mp3_declared_jpg_type_mismatch(sub: Path) -> None:
    found = check(sub, [put(sub, "photo.jpg", media.make_mp3(rng()), "jpg")])
    assert codes(found) == ["attachment.structure", "attachment.type_mismatch"]


def test_check_attachments_jpeg_data_after_eoi_trailing_data(sub: Path) -> None:
    found = check(sub, [put(sub, "p.jpg", media.jpeg_with_trailing_bytes(rng()), "jpg")])
    assert codes(found) == ["attachment.trailing_data"]
    assert "after the JPEG EOI" in found[0].message


def test_check_attachments_jpeg_with_zip_appended_trailing_data_and_archive(sub: Path) -> None:
    found = check(sub, [put(sub, "p.jpg", media.jpeg_with_trailing_zip(rng()), "jpg")])
    assert codes(found) == ["attachment.embedded_archive", "attachment.trailing_data"]


def test_check_attachments_jpeg_with_zip_in_com_segment_embedded_archive(sub: Path) -> None:
    found = check(sub, [put(sub, "p.jpg", media.jpeg_with_embedded_zip(rng()), "jpg")])
    assert codes(found) == ["attachment.embedded_archive"]


def test_check_attachments_jpeg_with_zip_eocd_only_embedded_archive(sub: Path) -> None:
    eocd = media.zip_bytes(rng())[-22:]
    jpeg = media.make_jpeg(rng())
    data = jpeg[:2] + b"\xff\xfe" + struct.pack(">H", len(eocd) + 2) + eocd + jpeg[2:]
    found = check(sub, [put(sub, "p.jpg", data, "jpg")])
    assert codes(found) == ["attachment.embedded_archive"]
    assert "end of central directory" in found[0].message


@pytest.mark.parametrize(
    ("kind", "maker"),
    [("jpg", media.truncated_jpeg), ("mp3", media.truncated_mp3), ("mp4", media.truncated_mp4)],
    ids=["jpg", "mp3", "mp4"],
)
def test_check_attachments_truncated_file_truncated(
    sub: Path, kind: str, maker: Callable[[random.Random], bytes]
) -> None:
    found = check(sub, [put(sub, f"cut.{kind}", maker(rng()), kind)])
    assert codes(found) == ["attachment.truncated"]


@pytest.mark.parametrize("kind", ["jpg", "mp3", "mp4"])
def test_check_attachments_empty_file_empty(sub: Path, kind: str) -> None:
    found = check(sub, [put(sub, f"empty.{kind}", b"", kind)])
    assert codes(found) == ["attachment.empty"]


def test_check_attachments_mp3_garbage_after_frames_structure(sub: Path) -> None:
    found = check(sub, [put(sub, "a.mp3", media.mp3_garbage_frames(rng()), "mp3")])
    assert codes(found) == ["attachment.structure"]
    assert "after 2 frames" in found[0].message


def test_check_attachments_mp3_sampling_rate_change_structure(sub: Path) -> None:
    found = check(sub, [put(sub, "a.mp3", media.mp3_inconsistent_frames(rng()), "mp3")])
    assert codes(found) == ["attachment.structure"]


def test_check_attachments_mp3_data_after_id3v1_trailing_data(sub: Path) -> None:
    data = media.make_mp3(rng()) + b"TAG" + bytes(125) + b"PAYLOAD"
    assert codes(check(sub, [put(sub, "a.mp3", data, "mp3")])) == ["attachment.trailing_data"]


def test_check_attachments_mp3_bad_id3_flags_structure(sub: Path) -> None:
    data = bytearray(media.make_mp3(rng()))
    data[5] = 0x01  # an undefined ID3v2.3 flag bit
    assert codes(check(sub, [put(sub, "a.mp3", bytes(data), "mp3")])) == ["attachment.structure"]


def test_check_attachments_mp4_bad_box_size_structure(sub: Path) -> None:
    found = check(sub, [put(sub, "v.mp4", media.mp4_bad_box_sizes(rng()), "mp4")])
    assert codes(found) == ["attachment.structure"]


def test_check_attachments_mp4_box_sizes_short_of_file_truncated(sub: Path) -> None:
    # The last box claims more bytes than remain: the sizes do not add up to the file.
    data = bytearray(media.make_mp4(rng()))
    at = data.rindex(b"mdat") - 4
    data[at : at + 4] = struct.pack(">I", len(data) - at + 1)
    assert codes(check(sub, [put(sub, "v.mp4", bytes(data), "mp4")])) == ["attachment.truncated"]


def test_check_attachments_mp4_not_starting_with_ftyp_structure_and_type_mismatch(sub: Path) -> None:
    found = check(sub, [put(sub, "v.mp4", media.mp4_not_ftyp_first(rng()), "mp4")])
    assert codes(found) == ["attachment.structure", "attachment.type_mismatch"]


def test_check_attachments_mp4_without_moov_structure(sub: Path) -> None:
    data = media.make_mp4(rng())
    moov_at = data.index(b"moov") - 4
    moov_len = struct.unpack_from(">I", data, moov_at)[0]
    data = data[:moov_at] + data[moov_at + moov_len :]
    found = check(sub, [put(sub, "v.mp4", data, "mp4")])
    assert codes(found) == ["attachment.structure"]
    assert "moov" in found[0].message


# --- file system ------------------------------------------------------------------------


def test_check_attachments_symlink_not_regular(sub: Path, tmp_path: Path) -> None:
    target = tmp_path / "outside.jpg"
    data = media.make_jpeg(rng())
    target.write_bytes(data)
    (sub / "link.jpg").symlink_to(target)
    decl = Decl("link.jpg", "jpg", len(data), hashlib.sha256(data).hexdigest())
    assert codes(check(sub, [decl])) == ["attachment.not_regular"]


def test_check_attachments_symlink_to_dev_null_not_regular(sub: Path) -> None:
    (sub / "null.jpg").symlink_to("/dev/null")
    assert codes(check(sub, [Decl("null.jpg", "jpg", 0, "0" * 64)])) == ["attachment.not_regular"]


def test_check_attachments_fifo_not_regular(sub: Path) -> None:
    os.mkfifo(sub / "pipe.mp3")
    found = check(sub, [Decl("pipe.mp3", "mp3", 0, "0" * 64)])
    assert codes(found) == ["attachment.not_regular"]
    assert "FIFO" in found[0].message


def test_check_attachments_socket_not_regular(sub: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # AF_UNIX paths are limited to about 108 bytes, so bind relative to the folder.
    monkeypatch.chdir(sub)
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as server:
        server.bind("sock.mp4")
        found = check(sub, [Decl("sock.mp4", "mp4", 0, "0" * 64)])
    assert codes(found) == ["attachment.not_regular"]
    assert "socket" in found[0].message


def test_check_attachments_device_file_not_regular(sub: Path) -> None:
    try:
        os.mknod(sub / "dev.jpg", stat.S_IFCHR | 0o600, os.makedev(1, 3))
    except PermissionError:
        pytest.skip("creating a device node needs CAP_MKNOD")
    found = check(sub, [Decl("dev.jpg", "jpg", 0, "0" * 64)])
    assert codes(found) == ["attachment.not_regular"]
    assert "character device" in found[0].message


def test_check_attachments_directory_declared_not_regular(sub: Path) -> None:
    (sub / "dir.jpg").mkdir()
    assert codes(check(sub, [Decl("dir.jpg", "jpg", 0, "0" * 64)])) == ["attachment.not_regular"]


def test_check_attachments_missing_file_missing(sub: Path) -> None:
    assert codes(check(sub, [Decl("gone.jpg", "jpg", 10, "0" * 64)])) == ["attachment.missing"]


@pytest.mark.parametrize(
    "name",
    ["a/b.jpg", "../b.jpg", "..", "a\\b.jpg", "a..b.jpg", ".hidden.jpg", "report.json", "REPORT.JSON", "",
     "a\x00.jpg", "a\nb.jpg", "x" * 252 + ".jpg", "/etc/passwd"],
    ids=["slash", "dotdot-slash", "dotdot", "backslash", "dotdot-inside", "hidden", "report", "report-upper",
         "empty", "nul", "newline", "too-long", "absolute"],
)
def test_check_attachments_bad_name_name_invalid(sub: Path, name: str) -> None:
    found = check(sub, [Decl(name, "jpg", 1, "0" * 64)])
    assert codes(found) == ["attachment.name_invalid"]
    assert "\n" not in found[0].message


def test_check_attachments_undeclared_file_undeclared(sub: Path) -> None:
    decl = put(sub, "a.jpg", media.make_jpeg(rng()), "jpg")
    (sub / "extra.bin").write_bytes(b"x")
    found = check(sub, [decl])
    assert [(f.code, f.path) for f in found] == [("attachment.undeclared", "extra.bin")]


def test_check_attachments_hidden_file_undeclared(sub: Path) -> None:
    (sub / ".DS_Store").write_bytes(b"x")
    found = check(sub, [])
    assert [(f.code, f.path) for f in found] == [("attachment.undeclared", ".DS_Store")]


def test_check_attachments_subdirectory_undeclared(sub: Path) -> None:
    (sub / "more").mkdir()
    found = check(sub, [])
    assert [(f.code, f.path) for f in found] == [("attachment.undeclared", "more")]
    assert "directory" in found[0].message


def test_check_attachments_missing_directory_raises_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError):
        check(tmp_path / "nope", [])


# --- declarations -------------------------------------------------------------------------


def test_check_attachments_extension_mismatch_extension_mismatch(sub: Path) -> None:
    found = check(sub, [put(sub, "photo.png", media.make_jpeg(rng()), "jpg")])
    assert [(f.code, f.path) for f in found] == [("attachment.extension_mismatch", "attachments[0].file")]


def test_check_attachments_mp3_extension_declared_mp4_extension_mismatch(sub: Path) -> None:
    found = check(sub, [put(sub, "clip.mp3", media.make_mp4(rng()), "mp4")])
    assert codes(found) == ["attachment.extension_mismatch"]


def test_check_attachments_unknown_type_type_invalid(sub: Path) -> None:
    found = check(sub, [put(sub, "x.png", b"\x89PNG\r\n\x1a\n", "png")])
    assert [(f.code, f.path) for f in found] == [("attachment.type_invalid", "attachments[0].type")]


def test_check_attachments_size_mismatch_size_mismatch(sub: Path) -> None:
    decl = put(sub, "a.jpg", media.make_jpeg(rng()), "jpg")
    found = check(sub, [Decl(decl.file, decl.type, decl.size + 1, decl.sha256)])
    assert [(f.code, f.path) for f in found] == [("attachment.size_mismatch", "attachments[0].size")]


def test_check_attachments_sha256_mismatch_sha256_mismatch(sub: Path) -> None:
    decl = put(sub, "a.mp3", media.make_mp3(rng()), "mp3")
    found = check(sub, [Decl(decl.file, decl.type, decl.size, "ab" * 32)])
    assert [(f.code, f.path) for f in found] == [("attachment.sha256_mismatch", "attachments[0].sha256")]


def test_check_attachments_duplicate_declaration_duplicate(sub: Path) -> None:
    decl = put(sub, "a.jpg", media.make_jpeg(rng()), "jpg")
    found = check(sub, [decl, decl])
    assert [(f.code, f.path) for f in found] == [("attachment.duplicate", "attachments[1].file")]


def test_check_attachments_over_type_limit_too_large(sub: Path) -> None:
    decl = put(sub, "a.jpg", media.make_jpeg(rng()), "jpg")
    found = check(sub, [decl], Limits(jpg=100))
    assert codes(found) == ["attachment.too_large"]


def test_check_attachments_more_than_limit_files_too_many(sub: Path) -> None:
    decls = [put(sub, f"{i}.jpg", media.make_jpeg(rng(i)), "jpg") for i in range(3)]
    found = check(sub, decls, Limits(files=2))
    assert [(f.code, f.path) for f in found] == [("attachment.too_many", "attachments")]


def test_check_attachments_total_over_limit_submission_too_large(sub: Path) -> None:
    decls = [put(sub, f"{i}.mp3", media.make_mp3(rng(i), frames=3), "mp3") for i in range(3)]
    limit = decls[0].size + decls[1].size + 10
    found = check(sub, decls, Limits(submission=limit))
    assert [(f.code, f.path) for f in found] == [("attachment.submission_too_large", "attachments")]


def test_check_attachments_findings_name_file_on_one_line(sub: Path) -> None:
    decls = [
        put(sub, "p.jpg", media.jpeg_with_trailing_zip(rng()), "jpg"),
        Decl("weird\tname.jpg", "jpg", 1, "0" * 64),
        Decl("gone.mp4", "mp4", 1, "0" * 64),
    ]
    found = check(sub, decls)
    assert len(found) == 4
    for f in found:
        assert f.submission == "S-1"
        assert "\n" not in f.message and "\r" not in f.message
        assert '"p.jpg"' in f.message or '"weird\\tname.jpg"' in f.message or '"gone.mp4"' in f.message


# --- the stream -------------------------------------------------------------------------------

SAMPLES: list[tuple[str, bytes]] = [
    ("jpg", media.make_jpeg(rng())),
    ("jpg", media.jpeg_with_trailing_zip(rng())),
    ("jpg", media.jpeg_with_embedded_zip(rng())),
    ("jpg", media.truncated_jpeg(rng())),
    ("mp3", media.make_mp3(rng())),
    ("mp3", media.mp3_garbage_frames(rng())),
    ("mp3", media.truncated_mp3(rng())),
    ("mp4", media.make_mp4(rng())),
    ("mp4", media.truncated_mp4(rng())),
    ("mp4", media.zip_bytes(rng())),
]


@pytest.mark.parametrize(("kind", "data"), SAMPLES, ids=[f"{k}-{i}" for i, (k, _) in enumerate(SAMPLES)])
def test_attachment_stream_1_7_and_whole_chunks_same_result(kind: str, data: bytes) -> None:
    whole = stream_result(kind, data)
    assert stream_result(kind, data, 1) == whole
    assert stream_result(kind, data, 7) == whole
    assert whole[1] == hashlib.sha256(data).hexdigest() and whole[2] == len(data)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    sample=st.sampled_from(SAMPLES),
    cuts=st.lists(st.integers(min_value=0, max_value=9000), max_size=12),
    cut_end=st.integers(min_value=0, max_value=9000),
)
def test_attachment_stream_any_chunk_boundaries_same_result(
    sample: tuple[str, bytes], cuts: list[int], cut_end: int
) -> None:
    kind, data = sample
    data = data[: max(1, len(data) - cut_end % len(data))]
    bounds = sorted({c % len(data) for c in cuts} | {0, len(data)})
    s = AttachmentStream(kind, limit=1 << 30)
    for a, b in zip(bounds, bounds[1:]):
        s.update(data[a:b])
    assert (s.finish(), s.sha256, s.size) == stream_result(kind, data)


@settings(max_examples=150, deadline=None)
@given(kind=st.sampled_from(["jpg", "mp3", "mp4"]), data=st.binary(max_size=2048))
def test_attachment_stream_random_bytes_only_findings(kind: str, data: bytes) -> None:
    problems, _, size = stream_result(kind, data, 5)
    assert size == len(data)
    assert all(code.startswith("attachment.") and message for code, message in problems)


PREFIXES = [
    ("jpg", b"\xff\xd8\xff"),
    ("jpg", media.make_jpeg(rng())[:200]),
    ("mp3", b"ID3\x03\x00\x00\x00\x00\x00\x00"),
    ("mp3", b"\xff\xfb\x90\xc4"),
    ("mp4", media.make_mp4(rng())[:24]),
]


@settings(max_examples=150, deadline=None)
@given(prefix=st.sampled_from(PREFIXES), tail=st.binary(max_size=1024), step=st.integers(1, 64))
def test_attachment_stream_random_bytes_after_valid_prefix_only_findings(
    prefix: tuple[str, bytes], tail: bytes, step: int
) -> None:
    kind, head = prefix
    problems, _, _ = stream_result(kind, head + tail, step)
    assert stream_result(kind, head + tail) == stream_result(kind, head + tail, step)
    assert all(code.startswith("attachment.") for code, _ in problems)


def test_attachment_stream_over_limit_stops_too_large() -> None:
    data = media.make_jpeg(rng())
    s = AttachmentStream("jpg", limit=100)
    for i in range(0, len(data), 64):
        s.update(data[i : i + 64])
        if s.exceeded:
            break
    assert s.exceeded and s.size == 128
    assert [code for code, _ in s.finish()] == ["attachment.too_large"]
    assert s.sha256 is None


def test_attachment_stream_exactly_at_limit_no_findings() -> None:
    data = media.make_jpeg(rng())
    s = AttachmentStream("jpg", limit=len(data))
    s.update(data)
    assert s.finish() == [] and s.sha256 == hashlib.sha256(data).hexdigest()


def test_attachment_stream_update_after_finish_raises() -> None:
    s = AttachmentStream("mp4", limit=10)
    s.finish()
    with pytest.raises(RuntimeError):
        s.update(b"x")


def test_attachment_stream_unknown_type_raises() -> None:
    with pytest.raises(ValueError):
        AttachmentStream("png", limit=10)
