"""Tests for cluetool.formats.ustar: round trips, GNU tar / tarfile interop, strict rejection."""

from __future__ import annotations

import hashlib
import io
import os
import subprocess
import tarfile
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cluetool.formats.ustar import (
    BLOCK_SIZE,
    CHUNK_SIZE,
    MAX_MEMBER_SIZE,
    RECORD_SIZE,
    UstarError,
    UstarWriter,
    archive_size,
    iter_exact_layout,
    iter_members,
)
from tests.conftest import require_tool

LONG_NAME = "reports/" + "d" * 60 + "/" + "e" * 70 + "/" + "f" * 90 + ".json"  # 233 bytes
BATCH_NAMES = ["manifest.json", "manifest.json.minisig", "payload.age"]


def _payload(size: int, seed: int = 0) -> bytes:
    return bytes((i * 31 + seed) % 251 for i in range(size))


def _write(members: list[tuple[str, bytes]], **kw: int) -> bytes:
    out = io.BytesIO()
    with UstarWriter(out) as writer:
        for name, data in members:
            writer.add(name, len(data), data, **kw)
    return out.getvalue()


def _read_all(data: bytes, **kw: int) -> list[tuple[str, bytes]]:
    result = []
    for member in iter_members(io.BytesIO(data), **kw):
        result.append((member.name, b"".join(member.chunks())))
    return result


def _checksum(header: bytearray) -> None:
    header[148:156] = b" " * 8
    header[148:156] = f"{sum(header):06o}".encode() + b"\x00 "


def _header(
    name: bytes = b"a",
    size: int = 0,
    *,
    typeflag: bytes = b"0",
    prefix: bytes = b"",
    mode: bytes = b"0000644\x00",
    size_field: bytes | None = None,
    mtime: bytes = b"00000000000\x00",
    magic: bytes = b"ustar\x00",
    version: bytes = b"00",
    linkname: bytes = b"",
    uname: bytes = b"\x00" * 32,
    pad: bytes = b"\x00" * 12,
) -> bytes:
    """A ustar header built by hand, with a correct checksum."""
    h = bytearray(BLOCK_SIZE)
    h[0 : len(name)] = name
    h[100:108] = mode
    h[108:116] = b"0000000\x00"
    h[116:124] = b"0000000\x00"
    h[124:136] = size_field if size_field is not None else f"{size:011o}".encode() + b"\x00"
    h[136:148] = mtime
    h[156:157] = typeflag
    h[157 : 157 + len(linkname)] = linkname
    h[257:263] = magic
    h[263:265] = version
    h[265:297] = uname
    h[329:337] = b"0000000\x00"
    h[337:345] = b"0000000\x00"
    h[345 : 345 + len(prefix)] = prefix
    h[500:512] = pad
    _checksum(h)
    return bytes(h)


def _archive(*members: tuple[bytes, bytes], end: bytes | None = None) -> bytes:
    """Headers and data, padded, then two zero blocks and record padding (or ``end``)."""
    body = b"".join(h + d + bytes(-len(d) % BLOCK_SIZE) for h, d in members)
    if end is not None:
        return body + end
    body += bytes(2 * BLOCK_SIZE)
    return body + bytes(-len(body) % RECORD_SIZE)


def _reject(data: bytes, match: str, **kw: int) -> str:
    with pytest.raises(UstarError, match=match) as info:
        _read_all(data, **kw)
    message = str(info.value)
    assert "\n" not in message
    return message


class _Trickle(io.RawIOBase):
    """A stream that returns at most a few bytes per read, like a slow pipe."""

    def __init__(self, data: bytes) -> None:
        self._data = io.BytesIO(data)
        self._step = 0

    def readable(self) -> bool:
        return True

    def read(self, n: int = -1) -> bytes:
        self._step = self._step % 7 + 1
        return self._data.read(self._step if n < 0 else min(n, self._step))


# --------------------------------------------------------------------------- writer


def test_ustar_roundtrip_various_sizes_data_and_metadata_match() -> None:
    members = [(f"m{size}", _payload(size, size)) for size in (0, 1, 511, 512, 513, 1024, 70_000)]
    members.append((LONG_NAME, b"{}"))
    out = io.BytesIO()
    with UstarWriter(out) as writer:
        for i, (name, data) in enumerate(members):
            src = io.BytesIO(data) if i % 2 else data
            writer.add(name, len(data), src, mtime=1_700_000_000 + i, mode=0o600 + i)
    seen = []
    for member in iter_members(io.BytesIO(out.getvalue())):
        i = member.index - 1
        assert (member.mtime, member.mode) == (1_700_000_000 + i, 0o600 + i)
        seen.append((member.name, member.read()))
    assert seen == members


def test_ustar_writer_same_inputs_same_bytes() -> None:
    members = [("index.json", b"[]"), ("attachments/" + "a" * 64, _payload(3000))]
    assert _write(members) == _write(members)


@pytest.mark.parametrize("sizes", [[], [0], [511, 512, 513], [10_000, 1, 0, 9000], [20 * 512 - 3 * 512]])
def test_ustar_archive_size_matches_written_length(sizes: list[int]) -> None:
    data = _write([(f"f{i}", _payload(s)) for i, s in enumerate(sizes)])
    assert len(data) == archive_size(sizes)
    assert len(data) % RECORD_SIZE == 0


def test_ustar_archive_size_negative_raises() -> None:
    with pytest.raises(UstarError, match="outside"):
        archive_size([-1])


def test_ustar_writer_output_byte_identical_to_gnu_tar(tmp_path: Path) -> None:
    tar = require_tool("tar")
    files = {"manifest.json": b'{"a":1}', "empty": b"", LONG_NAME: _payload(513)}
    for name, data in files.items():
        path = tmp_path / "src" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        path.chmod(0o644)
    gnu = tmp_path / "gnu.tar"
    subprocess.run(
        [tar, "--format=ustar", "--owner=0", "--group=0", "--numeric-owner", "--mtime=@0",
         "--mode=644", "-C", str(tmp_path / "src"), "-cf", str(gnu), *files],
        check=True, capture_output=True,
    )  # fmt: skip
    assert _write(list(files.items())) == gnu.read_bytes()


def test_ustar_writer_stream_source_short_raises() -> None:
    writer = UstarWriter(io.BytesIO())
    with pytest.raises(UstarError, match=r'"a": source ended after 3 of 4 bytes'):
        writer.add("a", 4, io.BytesIO(b"abc"))


def test_ustar_writer_stream_source_long_raises() -> None:
    writer = UstarWriter(io.BytesIO())
    with pytest.raises(UstarError, match="source holds more than 3 bytes"):
        writer.add("a", 3, io.BytesIO(b"abcd"))


def test_ustar_writer_bytes_size_mismatch_raises_before_writing() -> None:
    out = io.BytesIO()
    writer = UstarWriter(out)
    with pytest.raises(UstarError, match="2 bytes given, size says 3"):
        writer.add("a", 3, b"ab")
    assert out.getvalue() == b""


def test_ustar_writer_after_failed_add_refuses_close() -> None:
    writer = UstarWriter(io.BytesIO())
    with pytest.raises(UstarError):
        writer.add("a", 4, io.BytesIO(b"abc"))
    with pytest.raises(UstarError, match="unusable after an earlier error"):
        writer.close()


def test_ustar_writer_trickling_source_reads_fully() -> None:
    data = _payload(70_000)
    out = io.BytesIO()
    with UstarWriter(out) as writer:
        writer.add("a", len(data), _Trickle(data))  # type: ignore[arg-type]
    assert _read_all(out.getvalue()) == [("a", data)]


def test_ustar_writer_on_data_sees_member_bytes_only() -> None:
    data = _payload(CHUNK_SIZE * 2 + 5)
    seen = hashlib.sha256()
    chunks: list[int] = []
    out = io.BytesIO()
    with UstarWriter(out) as writer:
        writer.add(
            "payload.age", len(data), io.BytesIO(data), on_data=lambda c: (seen.update(c), chunks.append(len(c)))
        )
    assert seen.digest() == hashlib.sha256(data).digest()
    assert max(chunks) <= CHUNK_SIZE
    assert writer.bytes_written == len(out.getvalue()) == archive_size([len(data)])


def test_ustar_writer_exit_with_exception_writes_no_end_blocks() -> None:
    out = io.BytesIO()
    with pytest.raises(RuntimeError), UstarWriter(out) as writer:
        writer.add("a", 1, b"x")
        raise RuntimeError("boom")
    assert len(out.getvalue()) == 2 * BLOCK_SIZE
    with pytest.raises(UstarError, match="missing end-of-archive"):
        _read_all(out.getvalue())


def test_ustar_writer_add_after_close_raises() -> None:
    writer = UstarWriter(io.BytesIO())
    writer.close()
    with pytest.raises(UstarError, match="closed"):
        writer.add("a", 0, b"")


@pytest.mark.parametrize(
    ("name", "match"),
    [
        ("", "empty name"),
        ("/etc/passwd", "absolute name"),
        ("a/../b", r"'\.\.' component"),
        ("..", r"'\.\.' component"),
        ("./a", r"'\.' component"),
        ("a//b", "empty path component"),
        ("a/", "empty path component"),
        ("a\\b", "backslash"),
        ("a\x00b", "NUL in name"),
        ("a\nb", "control character"),
        ("\udcff", "not valid UTF-8"),
        ("x" * 101, "does not fit"),
        ("p" * 156 + "/n", "does not fit"),
        ("p/" + "n" * 101, "does not fit"),
        ("a/" * 128 + "b", "does not fit"),
    ],
    ids=["empty", "absolute", "dotdot", "only-dotdot", "dot", "double-slash", "trailing-slash",
         "backslash", "nul", "newline", "surrogate", "101-no-slash", "prefix-156", "name-101", "257-bytes"],
)  # fmt: skip
def test_ustar_writer_bad_name_raises(name: str, match: str) -> None:
    with pytest.raises(UstarError, match=match):
        UstarWriter(io.BytesIO()).add(name, 0, b"")


def test_ustar_writer_longest_representable_name_roundtrips() -> None:
    name = "p" * 155 + "/" + "n" * 100
    assert _read_all(_write([(name, b"x")])) == [(name, b"x")]


def test_ustar_writer_duplicate_name_raises() -> None:
    writer = UstarWriter(io.BytesIO())
    writer.add("a/b", 0, b"")
    with pytest.raises(UstarError, match="duplicate name"):
        writer.add("a/b", 0, b"")


def test_ustar_writer_file_directory_clash_raises() -> None:
    writer = UstarWriter(io.BytesIO())
    writer.add("a/b", 0, b"")
    with pytest.raises(UstarError, match="parent directory of an earlier member"):
        writer.add("a", 0, b"")
    with pytest.raises(UstarError, match='parent directory "a/b" is an earlier member'):
        writer.add("a/b/c", 0, b"")


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        ({"size": -1}, "size -1"),
        ({"size": MAX_MEMBER_SIZE + 1}, "size"),
        ({"mtime": -1}, "mtime"),
        ({"mtime": 8**11}, "mtime"),
        ({"mode": 0o4755}, "mode"),
    ],
    ids=["negative-size", "huge-size", "negative-mtime", "huge-mtime", "setuid-mode"],
)
def test_ustar_writer_out_of_range_field_raises(kw: dict[str, int], match: str) -> None:
    args = {"size": 0, "mtime": 0, "mode": 0o644} | kw
    with pytest.raises(UstarError, match=match):
        UstarWriter(io.BytesIO()).add("a", args["size"], b"", mtime=args["mtime"], mode=args["mode"])


# --------------------------------------------------------------------------- interop: writer -> tar


def _interop_members() -> list[tuple[str, bytes]]:
    return [
        ("manifest.json", b'{"format":"cluetool-batch/1"}'),
        ("manifest.json.minisig", b"untrusted comment: x\n"),
        ("empty", b""),
        ("s511", _payload(511)),
        ("s512", _payload(512)),
        ("s513", _payload(513)),
        (LONG_NAME, _payload(1000)),
        ("payload.age", _payload(CHUNK_SIZE + 17)),
    ]


def test_ustar_gnu_tar_lists_writer_output_without_warnings(tmp_path: Path) -> None:
    tar = require_tool("tar")
    members = _interop_members()
    archive = tmp_path / "b.clue"
    archive.write_bytes(_write(members, mtime=1_764_000_000))
    done = subprocess.run([tar, "-tvf", str(archive)], capture_output=True, text=True)
    assert (done.returncode, done.stderr) == (0, "")
    rows = [line.split() for line in done.stdout.splitlines()]
    assert [(r[0], r[1], int(r[2]), r[5]) for r in rows] == [
        ("-rw-r--r--", "0/0", len(data), name) for name, data in members
    ]


def test_ustar_gnu_tar_extracts_writer_output(tmp_path: Path) -> None:
    tar = require_tool("tar")
    members = _interop_members()
    archive = tmp_path / "b.clue"
    archive.write_bytes(_write(members))
    out = tmp_path / "out"
    out.mkdir()
    done = subprocess.run([tar, "-xf", str(archive), "-C", str(out)], capture_output=True, text=True)
    assert (done.returncode, done.stderr) == (0, "")
    for name, data in members:
        assert (out / name).read_bytes() == data
    extracted = sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file())
    assert extracted == sorted(name for name, _ in members)


def test_ustar_gnu_tar_extracts_named_batch_members(tmp_path: Path) -> None:
    tar = require_tool("tar")
    members = [(n, _payload(100 + i, i)) for i, n in enumerate(BATCH_NAMES)]
    archive = tmp_path / "intake-bj-00000042.clue"
    archive.write_bytes(_write(members))
    args = [tar, "-xf", archive.name, *BATCH_NAMES]
    done = subprocess.run(args, cwd=tmp_path, capture_output=True, text=True)
    assert (done.returncode, done.stderr) == (0, "")
    assert [(tmp_path / n).read_bytes() for n in BATCH_NAMES] == [d for _, d in members]


def test_ustar_gnu_tar_lists_writer_output_from_pipe(tmp_path: Path) -> None:
    tar = require_tool("tar")
    members = _interop_members()
    done = subprocess.run([tar, "-t"], input=_write(members), capture_output=True)
    assert (done.returncode, done.stderr) == (0, b"")
    assert done.stdout.decode().splitlines() == [name for name, _ in members]


def test_ustar_bsdtar_lists_writer_output_without_warnings(tmp_path: Path) -> None:
    bsdtar = require_tool("bsdtar")
    members = _interop_members()
    archive = tmp_path / "b.clue"
    archive.write_bytes(_write(members))
    done = subprocess.run([bsdtar, "-tf", str(archive)], capture_output=True, text=True)
    assert (done.returncode, done.stderr) == (0, "")
    assert done.stdout.splitlines() == [name for name, _ in members]


def test_ustar_python_tarfile_reads_writer_output() -> None:
    members = _interop_members()
    with tarfile.open(fileobj=io.BytesIO(_write(members)), mode="r:", errorlevel=2) as tf:
        infos = tf.getmembers()
        got = [(i.name, tf.extractfile(i).read()) for i in infos]  # type: ignore[union-attr]
    assert got == members
    assert all(i.isreg() and i.uid == 0 and i.gid == 0 and i.mode == 0o644 for i in infos)


# --------------------------------------------------------------------------- interop: tar -> reader


def _make_tree(root: Path) -> dict[str, bytes]:
    files = {"a.json": b"{}", "empty": b"", "s511": _payload(511), "s512": _payload(512),
             "s513": _payload(513), "big": _payload(CHUNK_SIZE * 2 + 1), LONG_NAME: b"long"}  # fmt: skip
    for name, data in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return files


@pytest.mark.parametrize(
    "owner_flags",
    [["--owner=0", "--group=0", "--numeric-owner"], []],
    ids=["numeric-owner", "default-owner"],
)
def test_ustar_reader_accepts_gnu_tar_ustar_archive(tmp_path: Path, owner_flags: list[str]) -> None:
    tar = require_tool("tar")
    files = _make_tree(tmp_path / "src")
    archive = tmp_path / "gnu.tar"
    subprocess.run(
        [tar, "--format=ustar", *owner_flags, "-C", str(tmp_path / "src"), "-cf", str(archive), *files],
        check=True, capture_output=True,
    )  # fmt: skip
    with archive.open("rb") as fh:
        assert _read_all(fh.read()) == list(files.items())


def test_ustar_reader_accepts_python_tarfile_ustar_archive() -> None:
    files = {"index.json": b"[]", "reports/x.json": _payload(700), "empty": b"", LONG_NAME: b"x"}
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as tf:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size, info.mtime, info.mode = len(data), 1_700_000_000, 0o640
            info.uname = info.gname = "root"
            tf.addfile(info, io.BytesIO(data))
    members = list(iter_members(io.BytesIO(buf.getvalue())))
    assert [(m.name, m.size, m.mode, m.mtime) for m in members] == [
        (n, len(d), 0o640, 1_700_000_000) for n, d in files.items()
    ]
    assert _read_all(buf.getvalue()) == list(files.items())


# --------------------------------------------------------------------------- reader behaviour


def test_ustar_reader_trickling_source_reads_fully() -> None:
    members = _interop_members()
    stream = _Trickle(_write(members))
    got = [(m.name, b"".join(m.chunks(1000))) for m in iter_members(stream)]  # type: ignore[arg-type]
    assert got == members


def test_ustar_reader_member_offsets_point_at_data() -> None:
    data = _write(_interop_members())
    for member in iter_members(io.BytesIO(data)):
        assert data[member.offset : member.offset + member.size] == member.read()


def test_ustar_reader_partly_read_member_is_skipped_to_next() -> None:
    data = _write([("a", _payload(5000)), ("b", b"second")])
    members = iter_members(io.BytesIO(data))
    first = next(members)
    assert first.read(10) == _payload(5000)[:10]
    assert first.remaining == 4990
    second = next(members)
    assert (second.name, second.read()) == ("b", b"second")
    with pytest.raises(StopIteration):
        next(members)


def test_ustar_reader_member_read_after_iterator_moves_raises() -> None:
    members = iter_members(io.BytesIO(_write([("a", b"x"), ("b", b"y")])))
    first = next(members)
    next(members)
    with pytest.raises(ValueError, match="no longer readable"):
        first.read()


def test_ustar_reader_empty_archive_has_no_members() -> None:
    assert _read_all(_write([])) == []


def test_ustar_reader_archive_without_record_padding_accepted() -> None:
    data = _write([("a", b"x")])
    assert _read_all(data[: 4 * BLOCK_SIZE]) == [("a", b"x")]


def test_ustar_exact_layout_in_order_yields_members() -> None:
    members = [(n, _payload(10, i)) for i, n in enumerate(BATCH_NAMES)]
    got = [(m.name, m.read()) for m in iter_exact_layout(io.BytesIO(_write(members)), BATCH_NAMES)]
    assert got == members


def test_ustar_exact_layout_wrong_order_raises() -> None:
    data = _write([(n, b"") for n in ["manifest.json", "payload.age", "manifest.json.minisig"]])
    expected = 'member 2 at byte 512 is "payload.age", expected "manifest.json.minisig"'
    with pytest.raises(UstarError, match=expected):
        list(iter_exact_layout(io.BytesIO(data), BATCH_NAMES))


def test_ustar_exact_layout_missing_member_raises() -> None:
    data = _write([(n, b"") for n in BATCH_NAMES[:2]])
    with pytest.raises(UstarError, match='archive has 2 members, expected 3 \\(missing "payload.age"\\)'):
        list(iter_exact_layout(io.BytesIO(data), BATCH_NAMES))


def test_ustar_exact_layout_extra_member_raises() -> None:
    data = _write([(n, b"") for n in [*BATCH_NAMES, "evil.sh"]])
    with pytest.raises(UstarError, match='member 4 "evil.sh" at byte 1536: more than 3 members'):
        list(iter_exact_layout(io.BytesIO(data), BATCH_NAMES))


# --------------------------------------------------------------------------- reader rejections


def _valid_with(offset: int, value: bytes, *, fix_checksum: bool = True) -> bytes:
    """A one-member archive ("member.json", 5 bytes) with header bytes patched."""
    data = bytearray(_write([("member.json", b"hello")]))
    data[offset : offset + len(value)] = value
    if fix_checksum:
        header = bytearray(data[:BLOCK_SIZE])
        _checksum(header)
        data[:BLOCK_SIZE] = header
    return bytes(data)


def test_ustar_reader_bad_checksum_raises() -> None:
    message = _reject(_valid_with(100, b"0000755\x00", fix_checksum=False), "bad header checksum")
    assert message.startswith('member 1 "member.json" at byte 0:')


def test_ustar_reader_malformed_checksum_field_raises() -> None:
    _reject(_valid_with(148, b"0x12345\x00", fix_checksum=False), "bad header checksum")


def test_ustar_reader_signed_checksum_rejected() -> None:
    # A byte >= 0x80 makes the historic signed sum differ from POSIX's unsigned one.
    header = bytearray(_header(b"a", mtime=b"00000000000\x00"))
    header[500] = 0xFF
    signed = sum(b - 256 if b > 127 else b for b in header[:148]) + 256 + sum(
        b - 256 if b > 127 else b for b in header[156:]
    )
    header[148:156] = f"{signed:06o}".encode() + b"\x00 "
    _reject(_archive((bytes(header), b"")), "bad header checksum")


def test_ustar_reader_gnu_magic_raises() -> None:
    _reject(_archive((_header(magic=b"ustar ", version=b" \x00"), b"")), "GNU tar header")


def test_ustar_reader_gnu_format_archive_from_tarfile_raises() -> None:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT) as tf:
        info = tarfile.TarInfo("a")
        tf.addfile(info, io.BytesIO(b""))
    _reject(buf.getvalue(), 'member 1 "a" at byte 0: GNU tar header')


def test_ustar_reader_bad_magic_raises() -> None:
    _reject(_archive((_header(magic=b"ustaR\x00"), b"")), "not a ustar header")


def test_ustar_reader_v7_header_without_magic_raises() -> None:
    _reject(_archive((_header(magic=b"\x00" * 6, version=b"\x00\x00"), b"")), "not a ustar header")


def test_ustar_reader_bad_version_raises() -> None:
    _reject(_archive((_header(version=b"01"), b"")), "not a ustar header")


@pytest.mark.parametrize(
    ("typeflag", "kind"),
    [
        (b"\x00", "legacy regular file"),
        (b"1", "hard link"),
        (b"2", "symbolic link"),
        (b"3", "character device"),
        (b"4", "block device"),
        (b"5", "directory"),
        (b"6", "FIFO"),
        (b"7", "contiguous file"),
        (b"x", "pax extended header"),
        (b"g", "pax global header"),
        (b"L", "GNU long name header"),
        (b"K", "GNU long link name header"),
        (b"S", "GNU sparse file"),
        (b"Z", "unsupported type flag"),
    ],
    ids=["nul", "hardlink", "symlink", "chardev", "blockdev", "dir", "fifo", "contiguous", "pax-x", "pax-g",
         "gnu-L", "gnu-K", "gnu-S", "unknown"],
)  # fmt: skip
def test_ustar_reader_typeflag_rejected_by_name(typeflag: bytes, kind: str) -> None:
    message = _reject(_archive((_header(b"evil", typeflag=typeflag), b"")), kind)
    assert '"evil"' in message and "not allowed" in message


def _tarfile_archive(fmt: int, info: tarfile.TarInfo, data: bytes = b"", **kw: object) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=fmt, **kw) as tf:  # type: ignore[call-overload]
        tf.addfile(info, io.BytesIO(data) if info.isreg() else None)
    return buf.getvalue()


def _info(name: str, kind: bytes, **attrs: object) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    for key, value in attrs.items():
        setattr(info, key, value)
    return info


def test_ustar_reader_tarfile_symlink_raises() -> None:
    data = _tarfile_archive(tarfile.USTAR_FORMAT, _info("link", tarfile.SYMTYPE, linkname="/etc/passwd"))
    _reject(data, 'member 1 "link" at byte 0: symbolic link not allowed')


def test_ustar_reader_tarfile_hardlink_raises() -> None:
    data = _tarfile_archive(tarfile.USTAR_FORMAT, _info("hard", tarfile.LNKTYPE, linkname="manifest.json"))
    _reject(data, '"hard" at byte 0: hard link not allowed')


def test_ustar_reader_tarfile_directory_raises() -> None:
    data = _tarfile_archive(tarfile.USTAR_FORMAT, _info("reports", tarfile.DIRTYPE, mode=0o755))
    _reject(data, '"reports/" at byte 0: directory not allowed')


def test_ustar_reader_tarfile_char_device_raises() -> None:
    data = _tarfile_archive(tarfile.USTAR_FORMAT, _info("null", tarfile.CHRTYPE, devmajor=1, devminor=3))
    _reject(data, "character device not allowed")


def test_ustar_reader_tarfile_fifo_raises() -> None:
    _reject(_tarfile_archive(tarfile.USTAR_FORMAT, _info("fifo", tarfile.FIFOTYPE)), "FIFO not allowed")


def test_ustar_reader_tarfile_pax_header_raises() -> None:
    data = _tarfile_archive(tarfile.PAX_FORMAT, _info("a", tarfile.REGTYPE, pax_headers={"comment": "x"}))
    _reject(data, "pax extended header not allowed")


def test_ustar_reader_tarfile_pax_global_header_raises() -> None:
    data = _tarfile_archive(tarfile.PAX_FORMAT, _info("a", tarfile.REGTYPE), pax_headers={"comment": "x"})
    _reject(data, "pax global header not allowed")


def test_ustar_reader_tarfile_gnu_long_name_raises() -> None:
    # GNU long-name headers carry the "ustar  " magic, so the magic check fires first.
    data = _tarfile_archive(tarfile.GNU_FORMAT, _info("n" * 150, tarfile.REGTYPE))
    _reject(data, "GNU tar header")


def test_ustar_reader_gnu_long_name_with_ustar_magic_raises() -> None:
    body = b"././@LongLink".ljust(BLOCK_SIZE, b"\x00")
    data = _archive((_header(b"././@LongLink", 512, typeflag=b"L"), body))
    _reject(data, "GNU long name header not allowed")


def test_ustar_reader_gnu_long_link_with_ustar_magic_raises() -> None:
    data = _archive((_header(b"././@LongLink", 4, typeflag=b"K"), b"/etc"))
    _reject(data, "GNU long link name header not allowed")


def test_ustar_reader_absolute_name_raises() -> None:
    _reject(_archive((_header(b"/etc/cron.d/x"), b"")), '"/etc/cron.d/x" at byte 0: absolute name')


def test_ustar_reader_absolute_name_via_prefix_raises() -> None:
    _reject(_archive((_header(b"x", prefix=b"/etc"), b"")), '"/etc/x" at byte 0: absolute name')


def test_ustar_reader_dotdot_component_raises() -> None:
    _reject(_archive((_header(b"reports/../../.bashrc"), b"")), r"'\.\.' component")


def test_ustar_reader_dotdot_name_field_after_prefix_raises() -> None:
    data = _archive((_header(b"..", prefix=b"reports"), b""))
    _reject(data, r'"reports/\.\." at byte 0: \'\.\.\' component')


def test_ustar_reader_dot_component_raises() -> None:
    _reject(_archive((_header(b"./manifest.json"), b"")), r"'\.' component")


def test_ustar_reader_empty_component_raises() -> None:
    _reject(_archive((_header(b"reports//x.json"), b"")), "empty path component")


def test_ustar_reader_trailing_slash_raises() -> None:
    _reject(_archive((_header(b"reports/"), b"")), "empty path component")


def test_ustar_reader_empty_name_field_after_prefix_raises() -> None:
    _reject(_archive((_header(b"", prefix=b"reports"), b"")), "empty path component")


def test_ustar_reader_empty_name_raises() -> None:
    _reject(_archive((_header(b"\x00"), b"")), "empty name")


def test_ustar_reader_backslash_raises() -> None:
    _reject(_archive((_header(b"..\\..\\evil"), b"")), "backslash in name")


def test_ustar_reader_nul_inside_name_raises() -> None:
    message = _reject(_archive((_header(b"ok.json\x00hidden"), b"")), "NUL inside name")
    assert '"ok.json"' in message


def test_ustar_reader_nul_inside_prefix_raises() -> None:
    _reject(_archive((_header(b"x", prefix=b"reports\x00../.."), b"")), "NUL inside name")


def test_ustar_reader_non_utf8_name_raises() -> None:
    message = _reject(_archive((_header(b"caf\xe9.json"), b"")), "not valid UTF-8")
    assert '"caf\\xe9.json"' in message


def test_ustar_reader_control_character_in_name_raises() -> None:
    message = _reject(_archive((_header(b"a\x1b[2Jb"), b"")), "control character")
    assert "\\x1b" in message


def test_ustar_reader_duplicate_name_raises() -> None:
    message = _reject(_archive((_header(b"a"), b""), (_header(b"a", 1), b"x")), "duplicate name")
    assert message.startswith('member 2 "a" at byte 512:')


def test_ustar_reader_duplicate_via_prefix_split_raises() -> None:
    # The same path spelled once in the name field and once split across prefix/name.
    _reject(_archive((_header(b"reports/a"), b""), (_header(b"a", prefix=b"reports"), b"")), "duplicate name")


def test_ustar_reader_file_then_child_path_raises() -> None:
    data = _archive((_header(b"a"), b""), (_header(b"a/b"), b""))
    _reject(data, 'parent directory "a" is an earlier member')


def test_ustar_reader_child_path_then_file_raises() -> None:
    _reject(_archive((_header(b"a/b"), b""), (_header(b"a"), b"")), "parent directory of an earlier member")


@pytest.mark.parametrize(
    ("field", "value", "what"),
    [
        ("size_field", b"0000000000x\x00", "size"),
        ("size_field", b"000000000005", "size"),  # 12 digits: no terminator.
        ("size_field", b"\x00" * 12, "size"),
        ("size_field", b" 0000000005\x00", "size"),
        ("size_field", b"00000 00005\x00", "size"),
        ("size_field", b"\x80" + bytes(10) + b"\x05", "size"),  # GNU base-256.
        ("size_field", b"-0000000005\x00", "size"),
        ("mode", b"0000648\x00", "mode"),
        ("mode", b"00006440", "mode"),
        ("mtime", b"0000000000\x001", "mtime"),
        ("mtime", b"1e+10\x00\x00\x00\x00\x00\x00\x00", "mtime"),
    ],
    ids=["size-non-octal", "size-no-terminator", "size-empty", "size-leading-space", "size-inner-space",
         "size-base256", "size-negative", "mode-digit-8", "mode-no-terminator", "mtime-digit-after-nul",
         "mtime-float"],
)  # fmt: skip
def test_ustar_reader_malformed_numeric_field_raises(field: str, value: bytes, what: str) -> None:
    header = _header(b"num", 5, **{field: value})  # type: ignore[arg-type]
    _reject(_archive((header, b"hello")), f'"num" at byte 0: malformed {what} field')


def test_ustar_reader_malformed_uid_raises() -> None:
    _reject(_valid_with(108, b"00000z0\x00"), "malformed uid field")


def test_ustar_reader_malformed_devmajor_raises() -> None:
    _reject(_valid_with(329, b"\xff" * 8), "malformed devmajor field")


def test_ustar_reader_setuid_mode_raises() -> None:
    _reject(_archive((_header(b"x", mode=b"0004755\x00"), b"")), "mode 0o4755 has bits beyond 0o777")


def test_ustar_reader_linkname_on_regular_file_raises() -> None:
    _reject(_archive((_header(b"x", linkname=b"/etc/shadow"), b"")), "regular file has a link name")


def test_ustar_reader_uname_without_nul_raises() -> None:
    _reject(_archive((_header(b"x", uname=b"u" * 32), b"")), "malformed uname field")


def test_ustar_reader_data_hidden_in_header_pad_raises() -> None:
    _reject(_archive((_header(b"x", pad=b"hidden".ljust(12, b"\x00")), b"")), "unused end of the header")


def test_ustar_reader_size_over_limit_raises() -> None:
    data = _write([("small", b"ok"), ("payload.age", _payload(1001))])
    message = _reject(data, "size 1001 exceeds the limit of 1000 bytes", max_member_size=1000)
    assert '"payload.age"' in message


def test_ustar_reader_size_at_limit_accepted() -> None:
    assert _read_all(_write([("a", _payload(1000))]), max_member_size=1000) == [("a", _payload(1000))]


def test_ustar_reader_too_many_members_raises() -> None:
    data = _write([(f"f{i}", b"") for i in range(4)])
    _reject(data, 'member 4 "f3" at byte 1536: more than 3 members', max_members=3)


def test_ustar_reader_nonzero_padding_raises() -> None:
    data = bytearray(_write([("a", b"hello"), ("b", b"")]))
    data[BLOCK_SIZE + 100] = 0x41
    _reject(bytes(data), 'member 1 "a" at byte 0: non-zero padding after data')


def test_ustar_reader_truncated_data_raises() -> None:
    data = _write([("payload.age", _payload(3000))])
    _reject(data[: BLOCK_SIZE + 2000], '"payload.age" at byte 0: truncated data')


def test_ustar_reader_truncated_padding_raises() -> None:
    data = _write([("a", b"hello")])
    _reject(data[: BLOCK_SIZE + 100], '"a" at byte 0: truncated padding')


def test_ustar_reader_truncated_header_raises() -> None:
    data = _write([("a", b"hello"), ("b", b"")])
    _reject(data[: 2 * BLOCK_SIZE + 200], "truncated header at byte 1024")


def test_ustar_reader_missing_end_of_archive_raises() -> None:
    data = _write([("a", b"hello")])
    _reject(data[: 2 * BLOCK_SIZE], "missing end-of-archive after 1 members")


def test_ustar_reader_empty_stream_raises() -> None:
    _reject(b"", "missing end-of-archive after 0 members")


def test_ustar_reader_single_zero_block_raises() -> None:
    data = _write([("a", b"hello")])
    _reject(data[: 3 * BLOCK_SIZE], "end-of-archive at byte 1024 is not two zero blocks")


def test_ustar_reader_member_hidden_after_lone_zero_block_raises() -> None:
    # GNU tar (without -i) skips a lone zero block and would read the hidden member.
    body = _header(b"a", 5) + b"hello".ljust(BLOCK_SIZE, b"\x00")
    data = body + bytes(BLOCK_SIZE) + _header(b"hidden", 0) + bytes(2 * BLOCK_SIZE)
    _reject(data, "end-of-archive at byte 1024 is not two zero blocks")


def test_ustar_reader_trailing_garbage_raises() -> None:
    data = bytearray(_write([("a", b"hello")]))
    data[-1] = 0x01
    _reject(bytes(data), f"trailing data after end-of-archive at byte {RECORD_SIZE - 1}")


def test_ustar_reader_member_after_end_of_archive_raises() -> None:
    data = _write([("a", b"hello")])[: 4 * BLOCK_SIZE] + _write([("evil", b"x")])
    _reject(data, "trailing data after end-of-archive at byte 2048")


def test_ustar_reader_zero_bytes_beyond_record_raise() -> None:
    _reject(_write([("a", b"x")]) + bytes(BLOCK_SIZE), "trailing zero bytes beyond the 10240-byte record")


def test_ustar_reader_length_not_block_multiple_raises() -> None:
    data = _write([("a", b"x")])[: 4 * BLOCK_SIZE + 100]
    _reject(data, "archive length 2148 is not a multiple of 512")


# --------------------------------------------------------------------------- fuzzing

_FUZZ_BASE = _write(
    [("index.json", b"[1,2]"), ("reports/" + "r" * 60 + "/" + "s" * 60 + ".json", _payload(600)), ("e", b"")]
)
_FUZZ_END = 4 * BLOCK_SIZE + 2 * BLOCK_SIZE + 2 * BLOCK_SIZE  # headers + data blocks + end blocks.


def _parse_or_ustar_error(data: bytes) -> None:
    try:
        members = iter_members(io.BytesIO(data), max_member_size=10**6)
        for member in members:
            read = sum(len(c) for c in member.chunks(97))
            assert read == member.size
    except UstarError as exc:
        assert str(exc) and "\n" not in str(exc)


@settings(max_examples=400, deadline=None)
@given(st.lists(st.tuples(st.integers(0, len(_FUZZ_BASE) - 1), st.integers(0, 255)), min_size=1, max_size=6))
def test_ustar_fuzz_byte_mutations_parse_or_raise_ustar_error(mutations: list[tuple[int, int]]) -> None:
    data = bytearray(_FUZZ_BASE)
    for position, value in mutations:
        data[position] = value
    _parse_or_ustar_error(bytes(data))


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 4 * BLOCK_SIZE - 1), st.binary(min_size=1, max_size=12))
def test_ustar_fuzz_header_overwrites_parse_or_raise_ustar_error(position: int, value: bytes) -> None:
    data = bytearray(_FUZZ_BASE)
    data[position : position + len(value)] = value
    del data[len(_FUZZ_BASE) :]
    _parse_or_ustar_error(bytes(data))


@settings(max_examples=200, deadline=None)
@given(st.integers(0, len(_FUZZ_BASE) - 1))
def test_ustar_fuzz_truncation_raises_unless_after_end_blocks(length: int) -> None:
    data = _FUZZ_BASE[:length]
    if length >= _FUZZ_END and length % BLOCK_SIZE == 0:
        assert len(_read_all(data)) == 3
    else:
        with pytest.raises(UstarError):
            _read_all(data)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=3 * BLOCK_SIZE))
def test_ustar_fuzz_arbitrary_bytes_parse_or_raise_ustar_error(data: bytes) -> None:
    _parse_or_ustar_error(data)


# --------------------------------------------------------------------------- streaming


class _LazySource:
    """``size`` bytes of a repeating pattern, generated on demand; records the largest read."""

    def __init__(self, size: int) -> None:
        self._left = size
        self._block = _payload(CHUNK_SIZE * 4)
        self._at = 0
        self.largest_read = 0

    def read(self, n: int = -1) -> bytes:
        self.largest_read = max(self.largest_read, n)
        n = min(n, self._left, len(self._block) - self._at)
        chunk = self._block[self._at : self._at + n]
        self._at = (self._at + n) % len(self._block)
        self._left -= n
        return chunk


class _Recording:
    def __init__(self, inner: io.BufferedIOBase, on: Callable[[int], None]) -> None:
        self._inner = inner
        self._on = on

    def read(self, n: int = -1) -> bytes:
        self._on(n)
        return self._inner.read(n)

    def write(self, data: bytes) -> int:
        self._on(len(data))
        return self._inner.write(data)


def test_ustar_streaming_100_mib_member_in_bounded_chunks() -> None:
    size = 100 * 1024 * 1024
    expected = hashlib.sha256()
    reference = _LazySource(size)
    while chunk := reference.read(CHUNK_SIZE):
        expected.update(chunk)
    r, w = os.pipe()
    sizes: dict[str, int] = {"write": 0, "read": 0}
    source = _LazySource(size)
    errors: list[BaseException] = []

    def produce() -> None:
        try:
            with os.fdopen(w, "wb") as raw_out:
                sink = _Recording(raw_out, lambda n: sizes.__setitem__("write", max(sizes["write"], n)))
                with UstarWriter(sink) as writer:  # type: ignore[arg-type]
                    writer.add("index.json", 2, b"[]")
                    writer.add("payload.age", size, source)  # type: ignore[arg-type]
        except BaseException as exc:  # noqa: BLE001 - reported to the main thread below.
            errors.append(exc)

    thread = threading.Thread(target=produce)
    thread.start()
    got = hashlib.sha256()
    with os.fdopen(r, "rb") as raw_in:
        src = _Recording(raw_in, lambda n: sizes.__setitem__("read", max(sizes["read"], n)))
        names = []
        for member in iter_members(src):  # type: ignore[arg-type]
            names.append(member.name)
            for chunk in member.chunks():
                assert len(chunk) <= CHUNK_SIZE
                if member.name == "payload.age":
                    got.update(chunk)
    thread.join()
    assert errors == []
    assert names == ["index.json", "payload.age"]
    assert got.digest() == expected.digest()
    assert source.largest_read <= CHUNK_SIZE
    assert 0 < sizes["write"] <= CHUNK_SIZE and 0 < sizes["read"] <= CHUNK_SIZE


# --------------------------------------------------------------------------- the reader's fast path


def _outcome(parse: Callable[..., object], block: bytes) -> tuple[object, ...]:
    from cluetool.formats.ustar.reader import _Reader

    reader = _Reader(io.BytesIO(), None, None)
    try:
        m = parse(reader, block, 1, 0)
    except UstarError as exc:
        return ("error", str(exc))
    return (m.name, m.size, m.mode, m.mtime, m.offset)  # type: ignore[attr-defined]


def test_ustar_reader_fast_path_agrees_with_full_parse_on_mutated_headers() -> None:
    # The writer's layout takes a fast path; any header must get the same member or the
    # same error from it as from the full parse. Seeded single-byte mutations of
    # headers (checksum fixed or not), including NULs, path bytes and digits.
    import random

    from cluetool.formats.ustar.layout import _CANONICAL_MID, _CANONICAL_NUMBERS
    from cluetool.formats.ustar.reader import _Reader
    from cluetool.formats.ustar.writer import member_header

    rng = random.Random(20261125)
    bases = [member_header(n, s, mtime=t, mode=m) for n, s, t, m in [
        ("reports/0b6f7a52-5c9e-4a44-9a53-1d8c1f3b2a10.json", 1912, 0, 0o644),
        (LONG_NAME, 7, 1_700_000_000, 0o600), ("index.json", 0, 0, 0o777),
    ]]
    fast = 0
    for _ in range(4000):
        block = bytearray(rng.choice(bases))
        for _ in range(rng.randint(1, 2)):
            block[rng.randrange(BLOCK_SIZE)] = rng.choice(b"\x00 0179/.a\\\x80\xff")
        if rng.random() < 0.8:
            _checksum(block)
        data = bytes(block)
        expected = _outcome(_Reader._parse_any, data)
        assert _outcome(_Reader._parse, data) == expected, data
        fast += _CANONICAL_NUMBERS.fullmatch(data, 100, 156) is not None and data[156:345] == _CANONICAL_MID
    assert 1000 < fast < 4000  # both paths were taken


def test_ustar_byte_sum_is_exact_up_to_all_ones() -> None:
    import random

    from cluetool.formats.ustar.layout import _byte_sum

    rng = random.Random(7)
    blocks = [bytes(BLOCK_SIZE), b"\xff" * BLOCK_SIZE, b"\xff" * 256 + bytes(256)]
    blocks += [rng.randbytes(BLOCK_SIZE) for _ in range(200)]
    for block in blocks:
        assert _byte_sum(block) == sum(block)
