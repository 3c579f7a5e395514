"""Reading a ``.status`` file: authenticate, then parse.

Order (nothing is parsed before the step that makes it trustworthy): the archive's
first two members are read as bytes; the signature is checked over the raw manifest
bytes with every key the home trusts (for any source) whose key id it names; only then
is the manifest decoded (canonical JSON), its source required to be one that trusts the
key that verified, its trusted comment and signer compared; then each data member is
read, bounded by the size the manifest gives, and hashed; the archive's end is checked;
only after every hash matched are ``codes.txt`` and ``receipt.json`` parsed
(``parse_codes``, ``parse_receipt``).
"""

from __future__ import annotations

import hashlib
import os
import re
import stat
from collections.abc import Sequence
from pathlib import Path

import msgspec

from cluetool.errors import InputError
from cluetool.formats import canonical, minisign, ustar
from cluetool.model.batch import SOURCE_RE, key_id_hex16, signature_comment
from cluetool.model.feed import (
    CODE_LINE_RE, DATA_MEMBERS, FEED_MEMBERS, STAGES, FeedManifest, Receipt, ReceiptBatch,
)

MAX_MANIFEST = 64 * 1024
MAX_SIGNATURE = 4 * 1024
# codes.txt: 84 to 97 bytes a report; 4 GiB is far beyond any store's reports.
MAX_MEMBER = 4 * 1024**3
_HEX64 = re.compile(r"[0-9a-f]{64}")
_SIGNER = re.compile(r"[0-9A-F]{16}")
_CODES_RE = re.compile(rb"(?:[0-9a-f]{64} (?:received|assigned|under_verification|closed)\n)*")


class FeedFormatError(Exception):
    """The feed is readable but not acceptable; ``code`` is a stable problem code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class AuthenticatedFeed(msgspec.Struct, kw_only=True):
    """A feed whose signature, signer trust and member hashes were all checked."""

    name: str
    manifest: FeedManifest
    manifest_sha256: str
    members: dict[str, bytes]


def _open(path: Path) -> int:
    try:
        # O_NONBLOCK: a FIFO or device given by mistake must not hang the command.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except IsADirectoryError:
        raise InputError(f'cannot read status feed "{path}": is a directory') from None
    except OSError as exc:
        raise InputError(f'cannot read status feed "{path}": {exc.strerror}') from None
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise InputError(f'cannot read status feed "{path}": not a regular file')
    return fd


def read_feed(path: Path, signers: Sequence[tuple[str, minisign.PublicKey]]) -> AuthenticatedFeed:
    """Authenticate a ``.status`` file against ``signers`` ((source, key) pairs trusted
    by the home) and return its members' bytes.

    Raises:
        InputError: the file cannot be read or is not a ustar archive at all (exit 2).
        FeedFormatError: layout, signature, trust, manifest or hash problems.
    """
    with os.fdopen(_open(path), "rb") as f:
        head = f.read(512)
        if len(head) < 512 or head[257:263] != b"ustar\x00":
            raise InputError(f'"{path}" is not a cluetool status feed (no ustar header)')
        f.seek(0)
        try:
            members = ustar.iter_exact_layout(f, FEED_MEMBERS, max_member_size=MAX_MEMBER)
            raw_manifest = _bounded(next(members), MAX_MANIFEST)
            raw_sig = _bounded(next(members), MAX_SIGNATURE)
            manifest, sha = _authenticate(path.name, raw_manifest, raw_sig, signers)
            data: dict[str, bytes] = {}
            for want in manifest.members:
                m = next(members)
                if m.size != want.size:
                    raise FeedFormatError("member.size", f"{m.name} is {m.size} bytes, manifest.json says {want.size}")
                body = m.read()
                if hashlib.sha256(body).hexdigest() != want.sha256:
                    raise FeedFormatError("member.sha256", f"{m.name} does not match the sha256 in manifest.json")
                data[m.name] = body
            for extra in members:
                raise FeedFormatError("feed.layout", f'unexpected member "{extra.name}"')
        except ustar.UstarError as exc:
            raise FeedFormatError("feed.layout", str(exc)) from None
        except StopIteration:
            raise FeedFormatError("feed.layout", "missing members") from None
    return AuthenticatedFeed(name=path.name, manifest=manifest, manifest_sha256=sha, members=data)


def _bounded(m: ustar.Member, limit: int) -> bytes:
    if m.size > limit:
        raise FeedFormatError("feed.layout", f"{m.name} is too large ({m.size} bytes)")
    return m.read()


def _authenticate(
    name: str, raw_manifest: bytes, raw_sig: bytes, signers: Sequence[tuple[str, minisign.PublicKey]]
) -> tuple[FeedManifest, str]:
    try:
        sig_text = raw_sig.decode("utf-8")
        sig = minisign.parse_signature(sig_text)
    except (UnicodeDecodeError, minisign.MinisignError):
        raise FeedFormatError("signature.invalid", "manifest.json.minisig is not a minisign signature") from None
    signer_id = key_id_hex16(sig.key_id)
    candidates = [(source, key) for source, key in signers if key.key_id == sig.key_id]
    if not candidates:
        raise FeedFormatError("signature.untrusted", f"signed by key {signer_id}, which this home does not trust")
    sources = set()
    for source, key in candidates:
        try:
            minisign.verify(key, raw_manifest, sig_text, prehashed_only=True)
        except (minisign.InvalidSignature, minisign.MinisignError):
            continue
        sources.add(source)
    if not sources:
        raise FeedFormatError("signature.invalid", "manifest.json signature does not verify")
    # minisign does not sign the untrusted comment, but a changed byte must not pass.
    if sig.untrusted_comment not in (signature_comment(signer_id), minisign.DEFAULT_SIGNATURE_COMMENT):
        raise FeedFormatError("signature.comment", "the untrusted comment of manifest.json.minisig is neither cluetool's nor minisign's default")
    manifest = parse_manifest(raw_manifest)  # authenticated bytes from here on
    if manifest.source not in sources:
        raise FeedFormatError("signature.untrusted", f"key {signer_id} is not trusted for source {manifest.source}")
    if sig.trusted_comment != manifest.trusted_comment():
        raise FeedFormatError("signature.comment", "the signed trusted comment does not match the manifest")
    if manifest.signer != signer_id:
        raise FeedFormatError("manifest.signer", "manifest signer differs from the signing key")
    if name != manifest.file_name():
        raise FeedFormatError("feed.name", f"file name does not match the manifest ({manifest.file_name()})")
    return manifest, hashlib.sha256(raw_manifest).hexdigest()


def parse_manifest(data: bytes) -> FeedManifest:
    """The manifest, required to be canonical JSON of the right shape.

    Raises:
        FeedFormatError: ``manifest.noncanonical`` or ``manifest.invalid``.
    """
    try:
        value = canonical.loads_canonical(data)
    except canonical.NonCanonicalError as exc:
        raise FeedFormatError("manifest.noncanonical", f"manifest.json is not canonical JSON: {exc}") from None
    try:
        m = msgspec.convert(value, FeedManifest)
    except msgspec.ValidationError as exc:
        raise FeedFormatError("manifest.invalid", f"manifest.json: {exc}") from None
    bad = [what for what, ok in (
        ("source", SOURCE_RE.fullmatch(m.source)), ("sequence", m.sequence >= 1), ("previous", _HEX64.fullmatch(m.previous)),
        ("signer", _SIGNER.fullmatch(m.signer)), ("counts", m.counts.codes >= 0 and m.counts.batches >= 0),
        ("members", [x.name for x in m.members] == list(DATA_MEMBERS)
         and all(x.size >= 0 and _HEX64.fullmatch(x.sha256) for x in m.members)),
    ) if not ok]
    if bad:
        raise FeedFormatError("manifest.invalid", f"manifest.json: invalid {', '.join(bad)}")
    return m


def parse_codes(feed: AuthenticatedFeed) -> list[tuple[bytes, int]]:
    """``codes.txt`` as (32-byte hash, stage index) pairs, strictly ascending.

    Raises:
        FeedFormatError: ``codes.invalid`` (a bad line, order or count).
    """
    data = feed.members["codes.txt"]
    if _CODES_RE.fullmatch(data) is None:
        bad = next((i for i, line in enumerate(data.splitlines(keepends=True), 1) if not CODE_LINE_RE.fullmatch(line)), 0)
        raise FeedFormatError("codes.invalid", f"codes.txt line {bad} is not '<sha256> <stage>'")
    lines = data.split(b"\n")[:-1]
    if len(lines) != feed.manifest.counts.codes:
        raise FeedFormatError("codes.invalid", f"codes.txt has {len(lines)} lines, manifest.json says {feed.manifest.counts.codes}")
    hashes = [line[:64] for line in lines]
    if any(a >= b for a, b in zip(hashes, hashes[1:])):
        raise FeedFormatError("codes.invalid", "codes.txt is not sorted by hash, or names a hash twice")
    index = {s.encode(): i for i, s in enumerate(STAGES)}
    return [(bytes.fromhex(line[:64].decode()), index[line[65:]]) for line in lines]


def parse_receipt(feed: AuthenticatedFeed) -> list[ReceiptBatch]:
    """``receipt.json``'s batches, sorted by source and sequence, each once.

    Raises:
        FeedFormatError: ``receipt.invalid``.
    """
    try:
        receipt = msgspec.convert(canonical.loads_canonical(feed.members["receipt.json"]), Receipt)
    except (canonical.NonCanonicalError, msgspec.ValidationError) as exc:
        raise FeedFormatError("receipt.invalid", f"receipt.json: {exc}") from None
    keys = [(b.source, b.sequence) for b in receipt.batches]
    if any(not SOURCE_RE.fullmatch(b.source) or b.sequence < 1 or not _HEX64.fullmatch(b.manifest_sha256) for b in receipt.batches):
        raise FeedFormatError("receipt.invalid", "receipt.json names a batch with an invalid source, sequence or hash")
    if any(a >= b for a, b in zip(keys, keys[1:])):
        raise FeedFormatError("receipt.invalid", "receipt.json is not sorted by source and sequence, or names a batch twice")
    if len(keys) != feed.manifest.counts.batches:
        raise FeedFormatError("receipt.invalid", f"receipt.json names {len(keys)} batches, manifest.json says {feed.manifest.counts.batches}")
    return receipt.batches
