"""Shared helpers and fixtures for the seal / verify / keys tests.

A test home with an unprotected key (minisign's default scrypt is slow, so only the one
protected-key test uses a protected key, at a test-only cost), small spools built from
``samples`` (real jpg/mp3/mp4 bytes from ``samples.media``), the full sample spool once
per session, and tools to take a ``.clue`` apart and put it back together with
``tarfile`` for the tamper tests.

Import the fixtures into a test module to use them (``from tests.batch_helpers import
sample_spool``).
"""

from __future__ import annotations

import hashlib
import io
import random
import shutil
import tarfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import msgspec
import pytest

from cluetool import keys
from cluetool.batch.seal import seal
from cluetool.batch.verify import InnerVisitor, check_batch
from cluetool.config import Home, init_home
from cluetool.formats import age, minisign
from cluetool.model.batch import IndexEntry, SealReport
from samples.make_samples import generate, valid_submission, write_submission

# Every sample's received_at is in 2026 before 2026-11-01 (+08:00).
NOW = datetime(2026, 11, 24, 2, 0, 0, tzinfo=timezone.utc)
SOURCE = "intake-bj"
# The one protected key of the suite uses these (test-only) costs.
LOW_COST = {"opslimit": 32768, "memlimit": 16777216, "age_work_factor": 10}
MEMBERS = ("manifest.json", "manifest.json.minisig", "payload.age")


@dataclass
class KeyHome:
    """A home with one key pair, as a sender (or receiver) holds it."""

    home: Home
    name: str
    info: keys.KeyInfo

    @property
    def root(self) -> Path:
        return self.home.root

    @property
    def recipient(self) -> str:
        return self.info.age_recipient

    @property
    def pub(self) -> Path:
        return self.home.keys_dir / f"{self.name}.pub"

    @property
    def key_file(self) -> Path:
        return self.home.keys_dir / f"{self.name}.key"

    @property
    def age_file(self) -> Path:
        return self.home.keys_dir / f"{self.name}.age"

    @property
    def age_pub(self) -> Path:
        return self.home.keys_dir / f"{self.name}.age.pub"

    def public_key(self) -> minisign.PublicKey:
        return minisign.PublicKey.parse(self.pub.read_text(encoding="utf-8"))

    def secret_key(self) -> minisign.SecretKey:
        return keys.load_signing_key(self.home, self.name)

    def identity(self) -> age.X25519Identity:
        return keys.load_identity(self.home, self.name)

    def secret_texts(self) -> list[str]:
        """Every line of the secret files that carries key material (for leak checks)."""
        out = []
        for f in (self.key_file, self.age_file):
            for line in f.read_text(encoding="utf-8").splitlines():
                if line and not line.startswith(("#", "untrusted comment:")):
                    out.append(line.strip())
        return out


def make_home(root: Path, name: str = "main") -> KeyHome:
    """``cluetool init`` plus ``keys generate NAME`` (unprotected) in ``root``."""
    home = init_home(root)
    info = keys.generate(home, name, now=NOW)
    return KeyHome(home=home, name=name, info=info)


def make_receiver(root: Path, source: str, *pubs: Path) -> Home:
    """A receiving home that trusts ``pubs`` as signers for ``source``."""
    home = init_home(root)
    for i, pub in enumerate(pubs):
        keys.trust(home, source, pub, additional=i > 0)
    return home


def write_spool(spool: Path, count: int, *, seed: int, attachments: int | None = 1) -> list[str]:
    """``count`` valid submissions (each with ``attachments`` small real media files)."""
    spool.mkdir(parents=True, exist_ok=True)
    names = []
    for i in range(count):
        report, files, _ = valid_submission(random.Random(seed * 100_003 + i), i, attachments=attachments)
        write_submission(spool / report["submission_id"], report, files)
        names.append(report["submission_id"])
    return names


def copy_submissions(src: Path, dest: Path, names: Sequence[str]) -> list[str]:
    """Copy the named submissions of ``src`` into the spool ``dest``."""
    dest.mkdir(parents=True, exist_ok=True)
    for name in names:
        shutil.copytree(src / name, dest / name, symlinks=True)
    return list(names)


def valid_names(spool: Path) -> list[str]:
    """The sample spool's valid submissions (the invalid ones are named invalid-<code>)."""
    return sorted(p.name for p in spool.iterdir() if not p.name.startswith("invalid-"))


def invalid_names(spool: Path) -> list[str]:
    return sorted(p.name for p in spool.iterdir() if p.name.startswith("invalid-"))


@pytest.fixture(scope="session")
def sample_spool(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bundled sample spool (60 valid + 24 invalid), generated once; copy before use."""
    spool = tmp_path_factory.mktemp("samples") / "spool"
    generate(spool)
    return spool


def seal_spool(kh: KeyHome, spool: Path, out: Path, *, source: str = SOURCE,
               recipients: Sequence[str] | None = None, key: str | None = None, **kwargs: object) -> SealReport:
    """The library ``seal`` with the home's own key and recipient unless others are given."""
    return seal(
        spool, home=kh.home, source=source, recipients=list(recipients or [kh.recipient]),
        out_dir=out, now=NOW, key=key or kh.name, **kwargs,  # type: ignore[arg-type]
    )


def lookup_for(*pubs: minisign.PublicKey) -> Callable[[str], list[minisign.PublicKey]]:
    """A signer lookup that trusts ``pubs`` for every source."""
    return lambda _source: list(pubs)


# --------------------------------------------------------------------------- tar surgery


@dataclass
class Layout:
    """Byte offsets of a sealed batch: each member's header and data."""

    headers: dict[str, int]
    data: dict[str, tuple[int, int]]  # name -> (offset, size)
    end: int  # first byte after the last member's padding


def layout_of(data: bytes) -> Layout:
    """Where the members of a well-formed batch sit (read with ``tarfile``)."""
    headers, spans = {}, {}
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as tf:
        for m in tf.getmembers():
            headers[m.name] = m.offset
            spans[m.name] = (m.offset_data, m.size)
    last_off, last_size = spans[MEMBERS[-1]]
    end = last_off + last_size + (-last_size % 512)
    return Layout(headers=headers, data=spans, end=end)


def read_members(path: Path) -> dict[str, bytes]:
    """The three members' bytes, by name."""
    with tarfile.open(path, mode="r:") as tf:
        out = {}
        for m in tf.getmembers():
            f = tf.extractfile(m)
            assert f is not None
            out[m.name] = f.read()
        return out


def file_member(name: str, data: bytes) -> tuple[tarfile.TarInfo, bytes | None]:
    ti = tarfile.TarInfo(name)
    ti.size = len(data)
    ti.mode = 0o644
    return ti, data


def special_member(name: str, kind: bytes, *, linkname: str = "") -> tuple[tarfile.TarInfo, bytes | None]:
    """A non-regular member (SYMTYPE, LNKTYPE, CHRTYPE, DIRTYPE…) named ``name``."""
    ti = tarfile.TarInfo(name)
    ti.type = kind
    ti.linkname = linkname
    ti.mode = 0o755 if kind == tarfile.DIRTYPE else 0o644
    if kind in (tarfile.CHRTYPE, tarfile.BLKTYPE):
        ti.devmajor, ti.devminor = 1, 3
    return ti, None


def assemble(members: Sequence[tuple[tarfile.TarInfo, bytes | None]], fmt: int = tarfile.USTAR_FORMAT) -> bytes:
    """A tar archive of ``members`` written by Python's ``tarfile`` (ustar by default)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=fmt) as tf:
        for ti, data in members:
            tf.addfile(ti, io.BytesIO(data) if data is not None else None)
    return buf.getvalue()


def assemble_files(members: Sequence[tuple[str, bytes]]) -> bytes:
    return assemble([file_member(n, d) for n, d in members])


# --------------------------------------------------------------------------- decrypting


class _Collect(InnerVisitor):
    def __init__(self) -> None:
        self.entries: list[IndexEntry] = []

    def index(self, entries: list[IndexEntry]) -> None:
        self.entries = list(entries)


def batch_index(path: Path, kh: KeyHome) -> tuple[str, list[IndexEntry]]:
    """Verify and decrypt ``path`` with the home's key; return (manifest sha256, index).

    Fails the test if the batch does not verify and decrypt cleanly.
    """
    visitor = _Collect()
    check, problems, _link = check_batch(path, lookup_for(kh.public_key()), identities=[kh.identity()], visitor=visitor)
    assert check.ok and check.decrypted, [(p.code, p.message) for p in problems]
    assert check.manifest_sha256 is not None
    return check.manifest_sha256, visitor.entries


def manifest_of(path: Path) -> dict[str, object]:
    return msgspec.json.decode(read_members(path)["manifest.json"])


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def assert_one_line(text: str) -> None:
    """A message is one line: no embedded line break."""
    assert text and "\n" not in text.rstrip("\n") and "\r" not in text, repr(text)
