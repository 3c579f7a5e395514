"""Small, deterministic media files for the sample generator and the tests.

Valid makers (``make_jpeg``, ``make_mp3``, ``make_mp4``) produce real files of a few KiB
that pass ``cluetool.validate.attachments`` and that libmagic 5.44 identifies as
``image/jpeg``, ``audio/mpeg`` and ``video/mp4``. Each is a pure function of the
``random.Random`` it is given, so the same seed gives byte-identical output.

The adversarial makers build the inputs that attachment validation must reject:
polyglots, truncations, renamed executables and archives, broken box and frame chains.
"""

from __future__ import annotations

import io
import random
import struct
import zlib

from PIL import Image

__all__ = [
    "elf_renamed",
    "jpeg_with_embedded_zip",
    "jpeg_with_trailing_bytes",
    "jpeg_with_trailing_zip",
    "make_jpeg",
    "make_mp3",
    "make_mp4",
    "mp3_garbage_frames",
    "mp3_inconsistent_frames",
    "mp4_bad_box_sizes",
    "mp4_not_ftyp_first",
    "pdf_bytes",
    "truncated_jpeg",
    "truncated_mp3",
    "truncated_mp4",
    "zip_bytes",
]


# --- JPEG --------------------------------------------------------------------------


def make_jpeg(rng: random.Random, width: int = 32, height: int = 24) -> bytes:
    """A baseline JFIF JPEG of random-coloured blocks (Pillow/libjpeg, quality 85).

    The pixels come from ``rng`` only, and libjpeg's encoder is deterministic, so the
    output is byte-identical for the same ``rng`` state and Pillow build.
    """
    img = Image.new("RGB", (width, height))
    block = 8
    for y0 in range(0, height, block):
        for x0 in range(0, width, block):
            colour = (rng.randrange(256), rng.randrange(256), rng.randrange(256))
            img.paste(colour, (x0, y0, min(x0 + block, width), min(y0 + block, height)))
    # A little noise so that the entropy-coded segment is not trivially short.
    noise = Image.frombytes("L", (width, height), rng.randbytes(width * height))
    img = Image.blend(img, Image.merge("RGB", (noise, noise, noise)), 0.15)
    out = io.BytesIO()
    img.save(out, format="JPEG", quality=85, optimize=False, progressive=False)
    return out.getvalue()


def _jpeg_segment(marker: int, payload: bytes) -> bytes:
    # ITU-T T.81 B.1.1.4: the 16-bit length counts itself but not the marker.
    return bytes((0xFF, marker)) + struct.pack(">H", len(payload) + 2) + payload


def jpeg_with_trailing_bytes(rng: random.Random, extra: bytes = b"trailing data\n") -> bytes:
    """A valid JPEG followed by arbitrary bytes after EOI."""
    return make_jpeg(rng) + extra


def jpeg_with_trailing_zip(rng: random.Random) -> bytes:
    """The classic JPEG/ZIP polyglot: a ZIP archive appended after EOI."""
    return make_jpeg(rng) + zip_bytes(rng)


def jpeg_with_embedded_zip(rng: random.Random) -> bytes:
    """A JPEG whose COM segment (T.81 B.2.4.5) carries a whole ZIP archive.

    The JPEG itself stays well formed (segment lengths agree, EOI is last), so only the
    embedded-archive scan catches it.
    """
    jpeg = make_jpeg(rng)
    archive = zip_bytes(rng)
    # Insert right after SOI, before the APP0/JFIF segment.
    return jpeg[:2] + _jpeg_segment(0xFE, archive) + jpeg[2:]


def truncated_jpeg(rng: random.Random) -> bytes:
    """A valid JPEG cut in the middle of its entropy-coded data (no EOI)."""
    jpeg = make_jpeg(rng)
    return jpeg[: len(jpeg) - 40]


# --- MP3 ---------------------------------------------------------------------------

_MP3_BITRATE = 128_000
_MP3_SAMPLE_RATE = 44_100


def _syncsafe(n: int) -> bytes:
    # ID3v2.3/2.4 §3.1: the tag size is four 7-bit bytes, MSB always zero.
    return bytes(((n >> 21) & 0x7F, (n >> 14) & 0x7F, (n >> 7) & 0x7F, n & 0x7F))


def _id3v23_tag(title: str) -> bytes:
    # ID3v2.3 §4.2.1 TIT2, text encoding 0 = ISO-8859-1; §3.3 frame header with a
    # plain 32-bit size and two zero flag bytes.
    text = b"\x00" + title.encode("latin-1")
    frame = b"TIT2" + struct.pack(">I", len(text)) + b"\x00\x00" + text
    return b"ID3\x03\x00\x00" + _syncsafe(len(frame)) + frame


def _mp3_frames(frames: int) -> bytes:
    """MPEG-1 Layer III, 128 kbit/s, 44.1 kHz, mono frames that decode to silence.

    Header (ISO/IEC 11172-3 §2.4.1.3): sync 0xFFF, ID=1 (MPEG-1), layer '01' (III),
    protection_bit 1 (no CRC), bitrate_index 1001 (128 kbit/s), sampling_frequency 00
    (44.1 kHz), padding per frame, mode 11 (single channel), original 1.
    The 17-byte side information is all zero: main_data_begin 0 and part2_3_length 0
    in both granules, i.e. no Huffman data and a silent frame; the rest of each frame
    is zero ancillary data. (Random ancillary bytes would now and then put ``55 AA`` at
    offset 510 of the audio, which libmagic 5.44 takes for a DOS boot sector and then
    reports as ``application/octet-stream``.)
    """
    out = bytearray()
    base, step = divmod(144 * _MP3_BITRATE, _MP3_SAMPLE_RATE)  # 417 bytes, remainder
    rest = 0
    for _ in range(frames):
        # The usual CBR padding schedule: pad when the accumulated remainder overflows,
        # so that the average frame length is exactly 144 * bitrate / sample_rate.
        rest += step
        padding = 0
        if rest >= _MP3_SAMPLE_RATE:
            rest -= _MP3_SAMPLE_RATE
            padding = 1
        length = base + padding
        header = bytes((0xFF, 0xFB, 0x90 | (padding << 1), 0xC4))
        side_info = bytes(17)
        out += header + side_info + bytes(length - 4 - 17)
    return bytes(out)


def make_mp3(rng: random.Random, frames: int = 20) -> bytes:
    """An ID3v2.3 tag with a TIT2 title, then ``frames`` MPEG-1 Layer III frames."""
    title = f"sample recording {rng.randrange(1_000_000):06d}"
    return _id3v23_tag(title) + _mp3_frames(frames)


def truncated_mp3(rng: random.Random) -> bytes:
    """A valid MP3 whose last frame is cut short."""
    data = make_mp3(rng, frames=5)
    return data[:-100]


def mp3_garbage_frames(rng: random.Random) -> bytes:
    """An ID3v2 tag and two good frames, then bytes that are not a frame header."""
    good = make_mp3(rng, frames=2)
    return good + b"\x00\x11\x22\x33" + rng.randbytes(800)


def mp3_inconsistent_frames(rng: random.Random) -> bytes:
    """Frames that switch sampling rate mid-stream (44.1 kHz, then 48 kHz)."""
    first = make_mp3(rng, frames=3)
    # 48 kHz at 128 kbit/s: 144 * 128000 / 48000 = 384 bytes, no padding needed.
    header = bytes((0xFF, 0xFB, 0x94, 0xC4))
    return first + header + bytes(17) + rng.randbytes(384 - 21)


# --- MP4 ---------------------------------------------------------------------------


def _box(kind: bytes, payload: bytes) -> bytes:
    # ISO/IEC 14496-12 §4.2: 32-bit size (including the 8-byte header), then the type.
    return struct.pack(">I", len(payload) + 8) + kind + payload


def _full_box(kind: bytes, version: int, flags: int, payload: bytes) -> bytes:
    return _box(kind, struct.pack(">I", (version << 24) | flags) + payload)


_UNITY_MATRIX = struct.pack(">9I", 0x00010000, 0, 0, 0, 0x00010000, 0, 0, 0, 0x40000000)


def _mp4_moov(duration_ms: int, sample_sizes: list[int], chunk_offset: int) -> bytes:
    """moov with mvhd and one timed-metadata track whose samples fill the mdat.

    Box layout per ISO/IEC 14496-12: mvhd (§8.2.2), trak/tkhd (§8.3.2), mdia/mdhd
    (§8.4.2), hdlr 'meta' (§8.4.3), minf/nmhd (§8.4.5.2), dinf/dref with a
    self-contained 'url ' entry (§8.7.2), stbl with stsd holding a 'mett' sample entry
    (§12.3.3), stts, stsc, stsz and stco (§8.6.1.2, §8.7.4, §8.7.3, §8.7.5).
    """
    timescale = 1000
    n = len(sample_sizes)
    mvhd = _full_box(
        b"mvhd", 0, 0,
        struct.pack(">IIII", 0, 0, timescale, duration_ms)
        + struct.pack(">IH", 0x00010000, 0x0100) + bytes(2 + 8)
        + _UNITY_MATRIX + bytes(24) + struct.pack(">I", 2),
    )
    tkhd = _full_box(
        b"tkhd", 0, 0x000003,  # track_enabled | track_in_movie
        struct.pack(">IIIII", 0, 0, 1, 0, duration_ms) + bytes(8)
        + struct.pack(">hhhH", 0, 0, 0, 0) + _UNITY_MATRIX + struct.pack(">II", 0, 0),
    )
    # Language 'und' packed as three 5-bit letters (ISO 639-2/T, §8.4.2.3).
    lang = ((ord("u") - 0x60) << 10) | ((ord("n") - 0x60) << 5) | (ord("d") - 0x60)
    mdhd = _full_box(b"mdhd", 0, 0, struct.pack(">IIIIHH", 0, 0, timescale, duration_ms, lang, 0))
    hdlr = _full_box(b"hdlr", 0, 0, struct.pack(">I", 0) + b"meta" + bytes(12) + b"cluetool sample\x00")
    dref = _full_box(b"dref", 0, 0, struct.pack(">I", 1) + _full_box(b"url ", 0, 1, b""))
    # TextMetaDataSampleEntry: SampleEntry (6 reserved bytes, data_reference_index),
    # then content_encoding and mime_format as null-terminated strings.
    mett = _box(b"mett", bytes(6) + struct.pack(">H", 1) + b"\x00" + b"application/octet-stream\x00")
    stsd = _full_box(b"stsd", 0, 0, struct.pack(">I", 1) + mett)
    delta = duration_ms // n if n else 0
    stts = _full_box(b"stts", 0, 0, struct.pack(">III", 1, n, delta))
    stsc = _full_box(b"stsc", 0, 0, struct.pack(">IIII", 1, 1, n, 1))
    stsz = _full_box(b"stsz", 0, 0, struct.pack(">II", 0, n) + struct.pack(f">{n}I", *sample_sizes))
    stco = _full_box(b"stco", 0, 0, struct.pack(">II", 1, chunk_offset))
    stbl = _box(b"stbl", stsd + stts + stsc + stsz + stco)
    minf = _box(b"minf", _full_box(b"nmhd", 0, 0, b"") + _box(b"dinf", dref) + stbl)
    mdia = _box(b"mdia", mdhd + hdlr + minf)
    trak = _box(b"trak", tkhd + mdia)
    return _box(b"moov", mvhd + trak)


def make_mp4(rng: random.Random, seconds: int = 2) -> bytes:
    """An ISO base media file: ftyp 'isom' (compatible isom, iso2, mp41), moov, mdat.

    The movie has one timed-metadata track of ``seconds`` one-second samples of random
    bytes, all in the mdat, so the file is small (a few KiB) yet every offset and size
    in it is consistent.
    """
    if seconds < 1:
        raise ValueError("seconds must be at least 1")
    ftyp = _box(b"ftyp", b"isom" + struct.pack(">I", 0x200) + b"isom" + b"iso2" + b"mp41")
    sizes = [rng.randrange(256, 1024) for _ in range(seconds)]
    payload = rng.randbytes(sum(sizes))
    # The moov size does not depend on the chunk offset, so build it twice.
    moov_len = len(_mp4_moov(seconds * 1000, sizes, 0))
    chunk_offset = len(ftyp) + moov_len + 8
    moov = _mp4_moov(seconds * 1000, sizes, chunk_offset)
    return ftyp + moov + _box(b"mdat", payload)


def truncated_mp4(rng: random.Random) -> bytes:
    """A valid MP4 cut inside its mdat."""
    data = make_mp4(rng)
    return data[:-50]


def mp4_bad_box_sizes(rng: random.Random) -> bytes:
    """A valid MP4 whose mdat box header claims an impossible size.

    The mdat header is rewritten to a size smaller than its header (4), which no box
    may have (§4.2: size is at least 8 unless it is 0 or 1).
    """
    data = bytearray(make_mp4(rng))
    mdat_at = data.rfind(b"mdat") - 4
    data[mdat_at : mdat_at + 4] = struct.pack(">I", 4)
    return bytes(data)


def mp4_not_ftyp_first(rng: random.Random) -> bytes:
    """Boxes whose sizes add up, but the first box is 'free', not 'ftyp'."""
    return _box(b"free", rng.randbytes(16)) + make_mp4(rng)


# --- other formats, to be renamed ---------------------------------------------------


def elf_renamed() -> bytes:
    """A minimal 64-bit little-endian x86-64 ELF executable header (ELF-64 spec §1).

    The 64-byte ELF header plus one 56-byte PT_LOAD program header; enough for
    libmagic to call it an executable.
    """
    e_ident = b"\x7fELF" + bytes((2, 1, 1, 0)) + bytes(8)  # ELFCLASS64, LSB, EV_CURRENT
    entry = 0x400078
    header = e_ident + struct.pack(
        "<HHIQQQIHHHHHH",
        2,  # ET_EXEC
        0x3E,  # EM_X86_64
        1,  # EV_CURRENT
        entry,
        64,  # e_phoff
        0,  # e_shoff
        0,  # e_flags
        64,  # e_ehsize
        56,  # e_phentsize
        1,  # e_phnum
        0,
        0,
        0,
    )
    code = b"\xb8\x3c\x00\x00\x00\x31\xff\x0f\x05"  # mov eax, 60; xor edi, edi; syscall
    total = 64 + 56 + len(code)
    phdr = struct.pack("<IIQQQQQQ", 1, 5, 0, 0x400000, 0x400000, total, total, 0x1000)
    return header + phdr + code


def zip_bytes(rng: random.Random, name: str = "payload.txt") -> bytes:
    """A one-member ZIP archive (APPNOTE 6.3.x: local header, central directory, EOCD)."""
    content = b"hello from a polyglot " + rng.randbytes(8).hex().encode()
    crc = zlib.crc32(content)
    fname = name.encode()
    local = struct.pack(
        "<IHHHHHIIIHH", 0x04034B50, 20, 0, 0, 0, 0x21, crc, len(content), len(content), len(fname), 0
    ) + fname + content
    central = struct.pack(
        "<IHHHHHHIIIHHHHHII",
        0x02014B50, 20, 20, 0, 0, 0, 0x21, crc, len(content), len(content), len(fname),
        0, 0, 0, 0, 0, 0,
    ) + fname
    eocd = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 1, 1, len(central), len(local), 0)
    return local + central + eocd


def pdf_bytes() -> bytes:
    """A small, well-formed one-page PDF 1.4 with a correct xref table."""
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] >>",
    ]
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for i, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for off in offsets:
        out += b"%010d 00000 n \n" % off
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)
