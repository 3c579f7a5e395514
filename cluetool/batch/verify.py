"""``verify``: check batches without decrypting (signature, signer trust, payload hash,
layout, chain); optionally decrypt and check the inner index, writing no plaintext."""

from __future__ import annotations

import hashlib
import io
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import BinaryIO

import msgspec

from cluetool.batch.chain import ChainLink, ChainStart, check_chain
from cluetool.batch.reader import BatchFormatError, OpenedBatch, open_batch
from cluetool.errors import InputError
from cluetool.formats import age, canonical, minisign, ustar
from cluetool.model.batch import BatchCheck, BatchProblem, IndexEntry, Manifest, VerifyReport, key_id_hex16, signature_comment

MINISIGN_DEFAULT_COMMENT = minisign.DEFAULT_SIGNATURE_COMMENT

MAX_INDEX = 64 * 1024 * 1024
MAX_REPORT = 1024 * 1024
_REPORT_RE = re.compile(r"^reports/([0-9a-f-]{36})\.json$")
_ATTACH_RE = re.compile(r"^attachments/([0-9a-f]{64})$")

SignerLookup = Callable[[str], Sequence[minisign.PublicKey]]


class _OuterLayout(Exception):
    """The batch archive itself broke while the payload was read (e.g. truncation)."""


class _HashingReader:
    """Reads a member while hashing everything read."""

    def __init__(self, member: ustar.Member) -> None:
        self._m = member
        self.sha = hashlib.sha256()
        self.size = 0

    def read(self, n: int = -1) -> bytes:
        try:
            data = self._m.read(n)
        except ustar.UstarError as exc:
            raise _OuterLayout(str(exc)) from None
        self.sha.update(data)
        self.size += len(data)
        return data

    def drain(self) -> None:
        while self.read(1 << 20):
            pass


class InnerVisitor:
    """Receives the decrypted payload's members, in order (used by ``import``)."""

    def index(self, entries: list[IndexEntry]) -> None: ...
    def report(self, entry: IndexEntry, data: bytes) -> None: ...
    def attachment(self, sha256: str, size: int, chunks: ustar.Member) -> str | None:
        """Consume the member; return its sha256 hex (None: let the caller hash it)."""
        return None


def check_inner(payload: BinaryIO, counts: tuple[int, int], visitor: InnerVisitor | None = None) -> list[tuple[str, str]]:
    """Walk the decrypted payload tar; return (code, message) problems.

    Raises:
        age.AgeError, ustar.UstarError: decryption or tar structure failed.
    """
    problems: list[tuple[str, str]] = []
    members = ustar.iter_members(payload, max_member_size=None)
    first = next(members, None)
    if first is None or first.name != "index.json":
        raise ustar.UstarError("the payload does not start with index.json")
    if first.size > MAX_INDEX:
        raise ustar.UstarError("index.json is too large")
    try:
        raw = canonical.loads_canonical(first.read())
        entries = msgspec.convert(raw, list[IndexEntry])
    except (canonical.NonCanonicalError, msgspec.ValidationError) as exc:
        return [("payload.index", f"index.json: {exc}")]
    if visitor:
        visitor.index(entries)
    by_id = {e.submission_id: e for e in entries}
    if len(by_id) != len(entries):
        problems.append(("payload.index", "index.json lists a submission twice"))
    wanted = {h for e in entries for h in e.attachments}
    seen_reports: set[str] = set()
    seen_att: set[str] = set()
    for m in members:
        if (mr := _REPORT_RE.fullmatch(m.name)) is not None:
            sid = mr.group(1)
            entry = by_id.get(sid)
            if m.size > MAX_REPORT:
                problems.append(("payload.report", f"{m.name} is too large"))
                continue
            data = m.read()
            if entry is None:
                problems.append(("payload.report", f"{m.name} is not in index.json"))
            elif hashlib.sha256(data).hexdigest() != entry.report_sha256:
                problems.append(("payload.report", f"{m.name} does not match its hash in index.json"))
            else:
                seen_reports.add(sid)
                if visitor:
                    visitor.report(entry, data)
        elif (ma := _ATTACH_RE.fullmatch(m.name)) is not None:
            sha = ma.group(1)
            got = visitor.attachment(sha, m.size, m) if visitor else None
            if got is None:
                h = hashlib.sha256()
                for chunk in m.chunks():
                    h.update(chunk)
                got = h.hexdigest()
            if got != sha:
                problems.append(("payload.attachment", f"{m.name} does not match its name"))
            elif sha not in wanted:
                problems.append(("payload.attachment", f"{m.name} is not in index.json"))
            else:
                seen_att.add(sha)
        else:
            problems.append(("payload.member", f'unexpected payload member "{m.name}"'))
    for sid in by_id.keys() - seen_reports:
        problems.append(("payload.report", f"report {sid} listed in index.json is missing"))
    for sha in wanted - seen_att:
        problems.append(("payload.attachment", f"attachment {sha} listed in index.json is missing"))
    if (len(entries), len(wanted)) != counts:
        problems.append(("payload.counts", "counts in manifest.json do not match index.json"))
    return problems


def check_batch(
    path: Path,
    signers: SignerLookup,
    *,
    identities: Sequence[age.X25519Identity] = (),
    visitor: InnerVisitor | None = None,
    payload: bool = True,
) -> tuple[BatchCheck, list[BatchProblem], ChainLink | None]:
    """Verify one batch file; decrypt it too when ``identities`` are given.

    ``payload=False`` checks the manifest, its signature and the file name only (a
    quick look before a full check, e.g. whether the batch is already imported); the
    payload hash and the rest of the layout are then not checked.

    Raises:
        InputError: the file cannot be read or is not a batch at all.
    """
    check = BatchCheck(batch=path.name, ok=False)
    problems: list[BatchProblem] = []

    def problem(code: str, message: str) -> None:
        problems.append(BatchProblem(batch=path.name, code=code, message=message))

    link = None
    try:
        with open_batch(path) as b:
            check.manifest_sha256 = b.manifest_sha256
            manifest = b.manifest()
            _fill(check, manifest)
            _check_signature(b, manifest, signers, problem)
            if path.name != manifest.file_name():
                problem("batch.name", f"file name does not match the manifest ({manifest.file_name()})")
            link = ChainLink(
                batch=path.name, source=manifest.source, sequence=manifest.sequence,
                manifest_sha256=b.manifest_sha256, previous=manifest.previous, position=0,
            )
            if not payload:
                check.ok = not problems
                return check, problems, link
            reader = _HashingReader(b.payload)
            try:
                if identities:
                    _decrypt_check(reader, identities, manifest, visitor, check, problem)
                reader.drain()
                b.finish()
            except (ustar.UstarError, _OuterLayout) as exc:
                raise BatchFormatError("batch.layout", str(exc)) from None
            if reader.size != manifest.payload.size:
                problem("payload.size", f"payload.age is {reader.size} bytes, manifest says {manifest.payload.size}")
            elif reader.sha.hexdigest() != manifest.payload.sha256:
                problem("payload.sha256", "payload.age does not match the sha256 in manifest.json")
    except BatchFormatError as exc:
        problem(exc.code, exc.message)
    check.ok = not problems
    return check, problems, link


def _decrypt_check(
    reader: _HashingReader, identities: Sequence[age.X25519Identity], manifest: Manifest,
    visitor: InnerVisitor | None, check: BatchCheck, problem: Callable[[str, str], None],
) -> None:
    try:
        with age.DecryptReader(reader, identities) as raw:
            # Buffered: the tar walk reads a header, a small report and its padding per
            # member, which the buffer serves without a call into the decrypting reader.
            plain = io.BufferedReader(raw, buffer_size=age.CHUNK_SIZE)
            inner = check_inner(plain, (manifest.counts.reports, manifest.counts.attachments), visitor)
            while plain.read(1 << 20):
                pass
        check.decrypted = not inner
        for code, message in inner:
            problem(code, message)
    except age.NoIdentityMatchError:
        problem("payload.identity", "no given identity can decrypt payload.age")
    except (age.AgeError, ustar.UstarError) as exc:
        problem("payload.decrypt", f"payload.age: {exc}")


def _fill(check: BatchCheck, m: Manifest) -> None:
    check.source, check.sequence, check.previous = m.source, m.sequence, m.previous
    check.signer, check.payload_sha256 = m.signer, m.payload.sha256
    check.reports, check.attachments = m.counts.reports, m.counts.attachments


def _check_signature(b: OpenedBatch, m: Manifest, signers: SignerLookup, problem: Callable[[str, str], None]) -> None:
    keys = list(signers(m.source))
    if not keys:
        problem("signature.untrusted", f"no trusted signer key for source {m.source}")
        return
    try:
        sig = minisign.verify(keys, b.manifest_bytes, b.signature, prehashed_only=True)
    except minisign.InvalidSignature:
        known = {key_id_hex16(k.key_id) for k in keys}
        try:
            sid = key_id_hex16(minisign.parse_signature(b.signature).key_id)
        except minisign.MinisignError:
            sid = None
        if sid is not None and sid not in known:
            problem("signature.untrusted", f"signed by key {sid}, which is not trusted for source {m.source}")
        else:
            problem("signature.invalid", "manifest.json signature does not verify")
        return
    except minisign.MinisignError as exc:
        problem("signature.invalid", f"manifest.json.minisig: {exc}")
        return
    # minisign does not sign the untrusted comment, but a changed byte in a batch must not
    # pass unnoticed: it must be the comment cluetool writes, or minisign's default (a
    # batch whose manifest was signed with the minisign tool itself).
    if sig.untrusted_comment not in (signature_comment(key_id_hex16(sig.key_id)), MINISIGN_DEFAULT_COMMENT):
        problem("signature.comment", "the untrusted comment of manifest.json.minisig is neither cluetool's nor minisign's default")
    if sig.trusted_comment != m.trusted_comment():
        problem("signature.comment", "the signed trusted comment does not match the manifest")
    if key_id_hex16(sig.key_id) != m.signer:
        problem("manifest.signer", "manifest signer differs from the signing key")


def verify_batches(
    paths: Sequence[Path],
    signers: SignerLookup,
    *,
    chain: bool = False,
    start: Callable[[str], ChainStart | None] = lambda _s: None,
    accepted: Callable[[str, int], str | None] = lambda _s, _n: None,
    identities: Sequence[age.X25519Identity] = (),
    allow_gap: bool = False,
) -> VerifyReport:
    """Verify each batch; with ``chain`` also the run they form (DESIGN §5).

    Raises:
        InputError: a path cannot be read or is not a batch.
    """
    if not paths:
        raise InputError("no batch files given")
    checks, problems, links = [], [], []
    for i, path in enumerate(paths):
        check, found, link = check_batch(path, signers, identities=identities)
        checks.append(check)
        problems += found
        if link is not None:
            links.append(msgspec.structs.replace(link, position=i))
    if chain:
        chain_problems = check_chain(links, start=start, accepted=accepted, allow_gap=allow_gap)
        problems += chain_problems
        bad = {p.batch for p in chain_problems}
        for c in checks:
            if c.batch in bad:
                c.ok = False
    return VerifyReport(ok=not problems, batches=checks, problems=problems)
