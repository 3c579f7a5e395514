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
from cluetool.batch.payload import HashedPayload, PinnedReader, header_facts
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


class Authenticated:
    """What the first read of a batch established (see ``authenticate``)."""

    def __init__(self, name: str) -> None:
        self.check = BatchCheck(batch=name, ok=False)
        self.problems: list[BatchProblem] = []
        self.link: ChainLink | None = None
        self.manifest: Manifest | None = None
        self.hashed: HashedPayload | None = None

    def problem(self, code: str, message: str) -> None:
        self.problems.append(BatchProblem(batch=self.check.batch, code=code, message=message))


def authenticate(b: OpenedBatch, name: str, signers: SignerLookup, *, payload: bool = True) -> Authenticated:
    """The manifest, its signature by a key trusted for its source, the file name, and
    (unless ``payload=False``) the sha256 and size of the whole ``payload.age`` as
    stored, the rest of the layout and the age header's recipient count. Nothing is
    decrypted; the header is looked at only after the hash matched.

    Raises:
        BatchFormatError: the manifest or the layout is malformed.
    """
    auth = Authenticated(name)
    check = auth.check
    check.manifest_sha256 = b.manifest_sha256
    manifest = b.manifest()
    auth.manifest = manifest
    _fill(check, manifest)
    _check_signature(b, manifest, signers, auth.problem)
    if name != manifest.file_name():
        auth.problem("batch.name", f"file name does not match the manifest ({manifest.file_name()})")
    auth.link = ChainLink(
        batch=name, source=manifest.source, sequence=manifest.sequence,
        manifest_sha256=b.manifest_sha256, previous=manifest.previous, position=0,
    )
    if not payload:
        return auth
    hashed = HashedPayload()
    try:
        hashed.read_from(b.payload)
        b.finish()
    except ustar.UstarError as exc:
        raise BatchFormatError("batch.layout", str(exc)) from None
    if hashed.size != manifest.payload.size:
        auth.problem("payload.size", f"payload.age is {hashed.size} bytes, manifest says {manifest.payload.size}")
    elif hashed.sha.hexdigest() != manifest.payload.sha256:
        auth.problem("payload.sha256", "payload.age does not match the sha256 in manifest.json")
    else:
        auth.hashed = hashed
        facts = header_facts(bytes(hashed.pinned), hashed.size)
        if facts.problem is not None:
            auth.problem("payload.header", facts.problem)
        elif facts.stanzas != len(manifest.recipients):
            auth.problem("payload.recipients",
                         f"payload.age has {facts.stanzas} recipient stanza(s), manifest.json names {len(manifest.recipients)}")
    return auth


def decrypt_checked(
    b: OpenedBatch, auth: Authenticated, identities: Sequence[age.KeyIdentity], visitor: InnerVisitor | None = None,
    labels: Sequence[str] = (),
) -> None:
    """Decrypt and check the payload of an authenticated batch (second read, same file
    descriptor, the hashed header pinned: see ``cluetool.batch.payload``); problems go
    into ``auth``. Does nothing unless the batch authenticated without any problem.
    ``identities`` are tried in order; ``labels`` name them, and ``auth.check.decrypted_by``
    says which one decrypted."""
    if auth.problems or auth.hashed is None or auth.manifest is None:
        return
    m = auth.manifest
    reader = PinnedReader(b.fileno, b.payload.offset, m.payload.size, bytes(auth.hashed.pinned))
    _decrypt_check(reader, identities, m, visitor, auth.check, auth.problem, labels)


def check_batch(
    path: Path,
    signers: SignerLookup,
    *,
    identities: Sequence[age.KeyIdentity] = (),
    visitor: InnerVisitor | None = None,
    payload: bool = True,
    labels: Sequence[str] = (),
) -> tuple[BatchCheck, list[BatchProblem], ChainLink | None]:
    """Verify one batch file; decrypt it too when ``identities`` are given and it
    authenticated (signature, signer trust, payload hash) without a problem.

    ``payload=False`` checks the manifest, its signature and the file name only (a
    quick look before a full check, e.g. whether the batch is already imported); the
    payload hash and the rest of the layout are then not checked.

    Raises:
        InputError: the file cannot be read or is not a batch at all.
    """
    auth = Authenticated(path.name)
    try:
        with open_batch(path) as b:
            auth = authenticate(b, path.name, signers, payload=payload)
            if identities and payload:
                decrypt_checked(b, auth, identities, visitor, labels)
    except BatchFormatError as exc:
        auth.problem(exc.code, exc.message)
    auth.check.ok = not auth.problems
    return auth.check, auth.problems, auth.link


def _decrypt_check(
    reader: PinnedReader, identities: Sequence[age.KeyIdentity], manifest: Manifest,
    visitor: InnerVisitor | None, check: BatchCheck, problem: Callable[[str, str], None],
    labels: Sequence[str] = (),
) -> None:
    try:
        with age.DecryptReader(reader, identities, armor=False) as raw:  # type: ignore[arg-type]
            if raw.identity_index is not None and raw.identity_index < len(labels):
                check.decrypted_by = labels[raw.identity_index]
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
        problem("payload.identity", _no_identity(manifest, identities, labels))
    except (age.AgeError, ustar.UstarError) as exc:
        problem("payload.decrypt", f"payload.age: {exc}")


def _short(recipient: str) -> str:
    return recipient if len(recipient) <= 24 else f"{recipient[:14]}…{recipient[-6:]}"


def _no_identity(m: Manifest, identities: Sequence[age.KeyIdentity], labels: Sequence[str]) -> str:
    """Names both sides: the recipients the batch was sealed to, the identities tried
    (their public recipients only), and the way out."""
    tried = []
    for i, identity in enumerate(identities):
        name = labels[i] if i < len(labels) else f"identity {i + 1}"
        recipient = getattr(identity, "recipient", None)  # the public half; never str(identity)
        tried.append(f"{name} ({_short(str(recipient))})" if recipient is not None else name)
    sealed_to = ", ".join(_short(r) for r in m.recipients) or "no recipient listed in the manifest"
    return (f"no given identity can decrypt payload.age: it is sealed to {sealed_to}; tried "
            f"{', '.join(tried) or 'none'}; the sender must seal to this home's recipient "
            "(cluetool keys export NAME --age), or pass the identity that matches with --identity NAME")


def _fill(check: BatchCheck, m: Manifest) -> None:
    check.source, check.sequence, check.previous = m.source, m.sequence, m.previous
    check.signer, check.payload_sha256 = m.signer, m.payload.sha256
    check.reports, check.attachments = m.counts.reports, m.counts.attachments


def _check_signature(b: OpenedBatch, m: Manifest, signers: SignerLookup, problem: Callable[[str, str], None]) -> None:
    keys = list(signers(m.source))
    if not keys:
        problem("signature.untrusted", f"no trusted signer key for source {m.source}: trust its public key with "
                f"`cluetool keys trust {m.source} FILE`, or without a home pass it with --signer FILE")
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
            problem("signature.untrusted", f"signed by key {sid}, which is not trusted for source {m.source}: after a "
                    f"rotation, `cluetool keys trust {m.source} NEW.pub --rotation {m.source}.rotation.minisig` "
                    "(without a home: --signer OLD.pub --rotation STATEMENT --new NEW.pub)")
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
    identities: Sequence[age.KeyIdentity] = (),
    allow_gap: bool = False,
    labels: Sequence[str] = (),
    imported: Callable[[str], bool] = lambda _sha: False,
) -> VerifyReport:
    """Verify each batch; with ``chain`` also the run they form (docs/format.md).

    ``imported(manifest_sha256)`` says whether a receiver's ledger holds the batch: one
    that verifies and is held there is "already imported" (as ``import`` says) and
    takes no part in the chain check.

    Raises:
        InputError: a path cannot be read or is not a batch.
    """
    if not paths:
        raise InputError("no batch files given")
    checks, problems, links = [], [], []
    for i, path in enumerate(paths):
        check, found, link = check_batch(path, signers, identities=identities, labels=labels)
        checks.append(check)
        problems += found
        if link is not None and chain and check.manifest_sha256 is not None and not found and imported(check.manifest_sha256):
            check.already_imported = True
        elif link is not None:
            links.append(msgspec.structs.replace(link, position=i))
    if chain:
        chain_problems = check_chain(links, start=start, accepted=accepted, allow_gap=allow_gap)
        problems += chain_problems
        bad = {p.batch for p in chain_problems}
        for c in checks:
            if c.batch in bad:
                c.ok = False
    return VerifyReport(ok=not problems, batches=checks, problems=problems)
