"""``import``: verify, decrypt, re-validate and store batches, atomically and idempotently
(docs/format.md, cluetool/store/migrations.py). One batch is one SQLite transaction: all of its reports or none.

Order of work for each batch:
1. read the manifest;
2. verify the batch (a verified batch whose manifest is already in the receive ledger is
   a no-op: "already imported"), exactly as ``verify --chain`` does, against the store's
   source state
   (signature by a trusted signer and chain link here, payload hash and layout in step
   3; a fork, replay or gap is refused, a gap only passes with ``allow_gap`` and a
   reason);
3. decrypt in memory, streaming, in the same pass that hashes the payload and checks
   the rest of the layout (so the payload is read once): reports are kept in memory,
   attachments are checked by content while they are written to the blob store
   (content-addressed, fsynced before the transaction that references them);
4. re-validate every report (a trusted signer vouches for transport, not content) and
   check each attachment against its report's declaration;
5. in one transaction: ledger row, reports, attachments, fingerprints, duplicate links,
   obligations, the new source state and the audit entries.
After the batches, a signed audit checkpoint (docs/audit.md) covers what was recorded.
Any problem: nothing is stored; blobs this import created are removed again.
"""

from __future__ import annotations

import hashlib
import multiprocessing
import os
from collections import deque
from concurrent.futures import Future, ProcessPoolExecutor
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from pathlib import Path

import msgspec

from cluetool.batch.chain import ChainStart, check_chain
from cluetool.batch.reader import BatchFormatError, open_batch
from cluetool.batch.signers import signer_lookup
from cluetool.batch.verify import InnerVisitor, authenticate, decrypt_checked
from cluetool.config import Home, Limits
from cluetool.home import open_store
from cluetool.errors import ClueError, ConflictRolledBack, InputError
from cluetool.formats import age, ustar
from cluetool import workers
from cluetool.audit import checkpoint
from cluetool.audit.checkpoints import CHECKPOINT_KEY, checkpoint_key_name
from cluetool.keys import NamedIdentity, load_identities, load_signing_key
from cluetool.model.batch import ZERO_HASH, BatchProblem, IndexEntry
from cluetool.model.codes import ATTACHMENT_TYPES
from cluetool.model.fingerprints import fingerprints, report_kind
from cluetool.model.report import Report, decode_report, normalise_text
from cluetool.model.store import DuplicateLink, ReportAttachment, ReportRow
from cluetool.rules.facts import ClueFacts
from cluetool.rules.from_report import facts_from_report
from cluetool.store import Store
from cluetool.store import held as held_q
from cluetool.store import queries as q
from cluetool.store.audit_entries import NewEntry, append_entry, format_time
from cluetool.handling.obligations import ensure_rules_current, import_deadline_context, materialise_import_obligations
from cluetool.store.db import Tx
from cluetool.store.pending_audit import PendingAudit
from cluetool.store.stateimages import IMAGE_KEY, changed_images, images_of_reports
from cluetool.validate.attachments import AttachmentStream
from cluetool.validate.content import validate_report_bytes

ACTOR = "cluetool-import"


class ImportedBatch(msgspec.Struct, kw_only=True):
    batch: str
    status: str  # imported | already_imported | rejected
    source: str | None = None
    sequence: int | None = None
    reports: int = 0
    attachments: int = 0
    duplicates: int = 0
    resent: int = 0  # reports skipped: the same bytes were stored (or held) already
    held: int = 0  # reports held: they collide with a different stored report
    gap_reason: str | None = None
    decrypted_by: str | None = None  # key name of the identity used (retired/NAME-ID after a rotation)


class ImportReport(msgspec.Struct, kw_only=True):
    ok: bool
    batches: list[ImportedBatch]
    problems: list[BatchProblem]
    checkpoint: int | None = None  # the audit tree size signed after the import
    schema: str = "cluetool.import/1"


class Checked(msgspec.Struct, frozen=True, kw_only=True):
    """One report of a batch after re-validation: its problems, or its store row and the
    facts its deadlines are computed from."""

    submission_id: str
    problems: list[BatchProblem]
    row: ReportRow | None = None
    facts: ClueFacts | None = None


class _Reject(Exception):
    def __init__(self, problems: list[BatchProblem]) -> None:
        super().__init__(problems[0].message if problems else "rejected")
        self.problems = problems


class _Raced(Exception):
    """A report of the batch was stored by an importer of another source while this
    import's transaction ran (PostgreSQL): the batch is imported again."""

    def __init__(self, result: ImportedBatch, problems: list[BatchProblem]) -> None:
        super().__init__(problems[0].message if problems else "raced")
        self.result, self.problems = result, problems


class _Tee:
    """A member reader that feeds every byte to an attachment checker."""

    def __init__(self, member: ustar.Member, checkers: list[AttachmentStream]) -> None:
        self._m = member
        self._checkers = checkers

    def read(self, n: int = -1) -> bytes:
        data = self._m.read(n)
        for c in self._checkers:
            c.update(data)
        return data


class _AttachmentType(msgspec.Struct):
    sha256: str
    type: str


class _AttachmentTypes(msgspec.Struct):
    attachments: list[_AttachmentType] = []


class _Collector(InnerVisitor):
    """Re-validates the reports in chunks while they stream past, handing each checked
    chunk to ``sink`` in payload order (so that only a few chunks are ever in memory),
    and writes attachments to the blob store while checking them."""

    def __init__(
        self, store: Store, limits: Limits, batch: str, *, now: datetime, parallel: bool,
        sink: Callable[[list[Checked]], None],
    ) -> None:
        self.store = store
        self.limits = limits
        self.batch = batch
        self.now = now
        self.entries = 0
        self.handed = 0  # reports handed to the sink
        self._sink = sink
        self._pending: list[tuple[str, bytes, tuple[str, ...]]] = []
        self._pending_bytes = 0
        self._inflight: deque[tuple[Future[bytes], dict[str, bytes]]] = deque()
        self._pool = _workers() if parallel else None
        self.types: dict[str, set[str]] = {}
        self.created: list[str] = []
        self.problems: list[BatchProblem] = []

    def index(self, entries: list[IndexEntry]) -> None:
        self.entries = len(entries)

    def report(self, entry: IndexEntry, data: bytes) -> None:
        self._pending.append((entry.submission_id, data, tuple(entry.attachments)))
        self._pending_bytes += len(data)
        if entry.attachments:
            self._types_of(data)
        if len(self._pending) >= _CHUNK or self._pending_bytes >= _CHUNK_BYTES:
            self._check_pending()

    def _types_of(self, data: bytes) -> None:
        # Only the declared types, to check attachments as they stream past; the full
        # re-validation of the report runs beside.
        try:
            refs = msgspec.json.decode(data, type=_AttachmentTypes)
        except (msgspec.DecodeError, msgspec.ValidationError):
            return  # re-validation names the problem
        for a in refs.attachments:
            # The type as validation reads it (normalised); anything else is no type of
            # ours, and the re-validation names the problem.
            t = normalise_text(a.type)
            if t in ATTACHMENT_TYPES:
                self.types.setdefault(a.sha256, set()).add(t)

    def _check_pending(self) -> None:
        items, self._pending, self._pending_bytes = self._pending, [], 0
        if not items:
            return
        if self._pool is None:
            self._hand([check_report(sid, raw, atts, self.now, self.batch) for sid, raw, atts in items])
            return
        future = self._pool.submit(_check_chunk, items, self.now, self.batch)
        self._inflight.append((future, {sid: raw for sid, raw, _ in items}))
        while len(self._inflight) > _MAX_INFLIGHT:
            self._collect_one()

    def _collect_one(self) -> None:
        future, raws = self._inflight.popleft()
        self._hand([_with_report_json(c, raws[c.submission_id]) for c in _RESULTS_DECODER.decode(future.result())])

    def _hand(self, chunk: list[Checked]) -> None:
        self.handed += len(chunk)
        self._sink(chunk)

    def finish(self) -> None:
        """Check and hand over the reports still pending (after the payload's end)."""
        self._check_pending()
        while self._inflight:
            self._collect_one()

    def attachment(self, sha256: str, size: int, member: ustar.Member) -> str | None:
        types = self.types.get(sha256, set())
        limit = max((getattr(self.limits, t) for t in types), default=0)
        if not types or size > limit:
            self.problems.append(BatchProblem(
                batch=self.batch, code="payload.attachment",
                message=f"attachment {sha256} is not declared by a report of the batch" if not types
                else f"attachment {sha256} is larger than the limit for its type",
            ))
            return None
        checkers = [AttachmentStream(t, limit=limit, max_pixels=self.limits.image_pixels, max_seconds=self.limits.duration)
                    for t in sorted(types)]
        existed = self.store.blobs.exists(sha256)
        try:
            got, _ = self.store.blobs.put(_Tee(member, checkers), expected_sha256=sha256)
        except InputError:
            return "mismatch"
        if not existed:
            self.created.append(sha256)
        for t, c in zip(sorted(types), checkers):
            for code, message in c.finish():
                self.problems.append(BatchProblem(batch=self.batch, code=code, message=f"attachment {sha256} ({t}): {message}"))
        return got


def _row(report: Report, raw: bytes, facts: ClueFacts) -> ReportRow:
    r = report.reporter
    has_contact = r.identity == "real_name" or (r.contact is not None and bool(r.contact.phone or r.contact.email))
    prints = fingerprints(report)
    return ReportRow(
        submission_id=report.submission_id, kind=report_kind(report),  # type: ignore[arg-type]
        received_at=report.received_at,
        report_sha256=hashlib.sha256(raw).hexdigest(), query_code_sha256=report.query_code_sha256,
        region=report.facts.region, reporter_has_contact=has_contact, real_name=r.identity == "real_name",
        report_json=raw, facts=msgspec.json.encode(facts),
        attachments=[ReportAttachment(sha256=a.sha256, size=a.size, type=a.type, file=a.file, note=a.note or None) for a in report.attachments],
        fingerprints=prints,
    )


def chain_lookups(store: Store) -> tuple[Callable[[str], ChainStart | None], Callable[[str, int], str | None]]:
    def start(source: str) -> ChainStart | None:
        # A source never heard from starts at sequence 0 with the all-zero hash, so its
        # first batch must be sequence 1 (or pass as a recorded gap).
        s = q.get_source_state(store, source)
        if s is None:
            return ChainStart(sequence=0, manifest_sha256=ZERO_HASH)
        return ChainStart(sequence=s.last_sequence, manifest_sha256=s.last_manifest_sha256)

    def accepted(source: str, sequence: int) -> str | None:
        b = q.get_batch_by_sequence(store, source, sequence)
        return None if b is None else b.manifest_sha256

    return start, accepted


def _problem(batch: str, code: str, message: str) -> BatchProblem:
    return BatchProblem(batch=batch, code=code, message=message)


_ATTEMPTS = 3


def import_batch(
    path: Path, *, home: Home, store: Store, identities: Sequence[age.KeyIdentity | NamedIdentity],
    now: datetime, allow_gap_reason: str | None = None, limits: Limits | None = None,
) -> tuple[ImportedBatch, list[BatchProblem]]:
    """Import one batch (see the module docstring); never raises for a bad batch.

    Raises:
        InputError: the file cannot be read or is not a batch.
        BusyError: the store stays locked longer than the store's wait.
    """
    for attempt in range(_ATTEMPTS):
        try:
            return _import_batch(path, home=home, store=store, identities=identities, now=now,
                                 allow_gap_reason=allow_gap_reason, limits=limits)
        except _Raced as raced:  # rolled back; the next attempt sees the other import's reports
            if attempt == _ATTEMPTS - 1:
                return raced.result, raced.problems
        except ConflictRolledBack:  # a deadlock with another import (PostgreSQL): it went on, this one again
            if attempt == _ATTEMPTS - 1:
                raise
    raise AssertionError("unreachable")


def _import_batch(
    path: Path, *, home: Home, store: Store, identities: Sequence[age.KeyIdentity | NamedIdentity],
    now: datetime, allow_gap_reason: str | None, limits: Limits | None,
) -> tuple[ImportedBatch, list[BatchProblem]]:
    limits = limits or home.config().limits
    name = path.name
    result = ImportedBatch(batch=name, status="rejected")
    signers = signer_lookup(home, [])
    collector: _Collector | None = None
    try:
        with open_batch(path) as b:
            # Step 2: everything verify --chain checks, against the store's state: the
            # signature by a trusted signer, the payload's hash as stored, the layout,
            # the chain. Nothing is decrypted before all of it passed. An imported batch
            # (or a renamed copy, still the same signed batch) is "already imported"
            # only if it verifies in full.
            try:
                auth = authenticate(b, name, signers)
            except BatchFormatError as exc:
                return result, [_problem(name, exc.code, exc.message)]
            manifest, link = auth.manifest, auth.link
            assert manifest is not None and link is not None
            manifest_sha = b.manifest_sha256
            result.source, result.sequence = manifest.source, manifest.sequence
            problems = list(auth.problems)
            if q.get_batch_by_manifest(store, manifest_sha) is not None and all(p.code == "batch.name" for p in problems):
                result.status = "already_imported"
                return result, []
            start, accepted = chain_lookups(store)
            problems += check_chain([link], start=start, accepted=accepted, allow_gap=allow_gap_reason is not None)
            if problems:
                if any(p.code == "chain.fork" for p in problems) and not auth.problems:
                    with store.write() as tx:  # a signed fork is evidence: record the attempt
                        append_entry(tx, at=now, actor=ACTOR, action="batch.fork_refused", object=f"{manifest.source}/{manifest.sequence}",
                                     details={"batch": name, "manifest_sha256": manifest_sha})
                return result, problems
            state = q.get_source_state(store, manifest.source)
            gap = manifest.sequence > (state.last_sequence if state else 0) + 1

            # Steps 3-5, in one transaction, streaming: the payload is decrypted (the
            # second read, the hashed header pinned); each chunk of reports re-validated
            # is written (rows, obligations, audit entries) while the rest streams in;
            # attachments go to the blob store as they come. Any problem rolls it all
            # back. The entries come in the order: rules.changed (if the rules changed),
            # gap, batch, reports (import, resent, held), duplicates.
            with store.bounded_cache(IMPORT_CACHE_KIB), store.write() as tx:
                tx.lock(f"source:{manifest.source}")  # two importers of one source serialise (PostgreSQL)
                if q.get_batch_by_manifest(tx, manifest_sha) is not None:
                    result.status = "already_imported"
                    return result, []
                start, accepted = chain_lookups(tx)  # type: ignore[arg-type]
                late = check_chain([link], start=start, accepted=accepted, allow_gap=allow_gap_reason is not None)  # type: ignore[list-item]
                if late:
                    raise _Reject(late)
                record = q.insert_batch(
                    tx, source=manifest.source, sequence=manifest.sequence, manifest_sha256=manifest_sha,
                    previous_sha256=manifest.previous, payload_sha256=manifest.payload.sha256, signer=manifest.signer,
                    created_at=manifest.created_at, imported_at=now, reports=manifest.counts.reports,
                    attachments=manifest.counts.attachments, allow_gap_reason=allow_gap_reason if gap else None,
                )
                obj = f"{manifest.source}/{manifest.sequence}"
                # (Brings the obligations up to the rules in force first: rules.changed.)
                writer = _ChunkWriter(tx, home=home, batch=name, obj=obj, batch_id=record.id, now=now, result=result)
                if gap:
                    writer.audit.add([NewEntry(at=now, actor=ACTOR, action="batch.gap_allowed", object=obj,
                                               details={"batch": name, "reason": allow_gap_reason})])
                # Every report of the index is stored (or skipped as re-sent, or held), or
                # the transaction rolls back.
                writer.audit.add([NewEntry(at=now, actor=ACTOR, action="batch.import", object=obj, details={
                    "batch": name, "manifest_sha256": manifest_sha, "payload_sha256": manifest.payload.sha256,
                    "signer": manifest.signer, "reports": manifest.counts.reports, "attachments": manifest.counts.attachments,
                })])
                collector = _Collector(store, limits, name, now=now, parallel=manifest.counts.reports >= PARALLEL_MIN_REPORTS,
                                       sink=writer.write)
                named = [i if isinstance(i, NamedIdentity) else NamedIdentity(label="", identity=i) for i in identities]
                decrypt_checked(b, auth, [n.identity for n in named], collector, [n.label for n in named])
                result.decrypted_by = auth.check.decrypted_by or None
                if result.decrypted_by is not None and result.decrypted_by != named[0].label:
                    # Opened with a retired identity (a batch in flight across a rotation).
                    writer.audit.add([NewEntry(at=now, actor=ACTOR, action="batch.decrypted_by_retired", object=obj,
                                               details={"batch": name, "identity": result.decrypted_by})])
                if not auth.problems:
                    collector.finish()
                problems = auth.problems + collector.problems + writer.problems
                if problems:
                    raise _Raced(result, problems) if writer.raced else _Reject(problems)
                if writer.stored + result.resent + result.held != collector.entries or collector.handed != collector.entries:
                    raise RuntimeError("import stored a different number of reports than the index lists")
                q.set_source_state(tx, source=manifest.source, last_sequence=manifest.sequence,
                                   last_manifest_sha256=manifest_sha, updated_at=now)
                # The audit lock only now, for the last writes and the commit: importers of
                # other sources overlap up to here (cluetool/store/pending_audit.py).
                writer.audit.lock()
                # The blobs under the lock: a failed import removes its blobs under it too.
                problems = writer.check_blobs(store)
                if problems:  # one present when put, removed since by such an import: again
                    gone = any(not store.blobs.exists(sha) for sha in writer.blob_sizes if sha not in collector.created)
                    raise _Raced(result, problems) if gone else _Reject(problems)
                ensure_rules_current(tx, writer.deadlines, home=home, now=now)  # (another home's rules meanwhile)
                writer.links += writer.audit.late_links(writer.links)
                q.insert_duplicates(tx, writer.links, found_at=now)
                writer.audit.append([
                    NewEntry(at=now, actor=ACTOR, action="duplicate.found", object=d.submission_id,
                             details={"duplicate_of": d.duplicate_of, "reason": d.reason})
                    for d in writer.links
                ])
    except _Reject as rej:
        _remove_created(store, collector)
        return result, rej.problems
    except _Raced:
        _remove_created(store, collector)
        raise
    except InputError as exc:  # a conflict the store found (e.g. a reused query code)
        if collector is None:
            raise  # the file cannot be read or is not a batch at all
        _remove_created(store, collector)
        return result, [_problem(name, "store.conflict", exc.message)]
    except BaseException:
        _stop_workers()
        _remove_created(store, collector)
        raise
    result.status = "imported"
    result.reports = writer.stored
    result.attachments = manifest.counts.attachments
    result.duplicates = len(writer.links)
    result.gap_reason = allow_gap_reason if gap else None
    return result, []


class _ChunkWriter:
    """Writes each checked chunk of a batch's reports in the import's transaction: a
    re-sent report (the same bytes stored or held already) is skipped and recorded, one
    colliding with a different report is held, the rest are stored with their
    obligations and audit entries. After the first problem nothing more is written (the
    chunks are still checked, to name every problem)."""

    def __init__(self, tx: Tx, *, home: Home, batch: str, obj: str, batch_id: int, now: datetime,
                 result: ImportedBatch) -> None:
        self.tx, self.home, self.batch, self.obj, self.batch_id, self.now = tx, home, batch, obj, batch_id, now
        self.result = result
        self.audit = PendingAudit(tx)  # numbered and appended under the audit lock at the end
        self.deadlines = import_deadline_context(tx, home=home, imported_at=now)
        self.problems: list[BatchProblem] = []
        self.raced = False
        self.links: list[DuplicateLink] = []
        self.stored = 0
        self.codes_in_batch: dict[str, str] = {}
        self.blob_sizes: dict[str, int] = {}  # every attachment a stored or held row names

    def write(self, chunk: list[Checked]) -> None:
        tx, now, obj = self.tx, self.now, self.obj
        self.problems += [p for c in chunk for p in c.problems]
        if self.problems:
            return
        # Earlier chunks are stored already, so they count here too.
        sort = held_q.sort_out(tx, [c.row for c in chunk if c.row is not None], self.codes_in_batch)
        part = sort.new
        found = _duplicates(tx, part)
        try:
            ids = q.insert_reports(tx, batch_id=self.batch_id, imported_at=now, reports=part, check_blobs=False) if part else range(0)
        except q.ReportsStored as exc:  # nothing of this chunk was written
            # sort_out did not see them: another import stored them since (PostgreSQL).
            self.raced = True
            self.problems += [_problem(self.batch, "report.already_stored", f"report {sid} is already in the store")
                              for sid in sorted(exc.stored)]
            self.problems += [_problem(self.batch, "report.query_code_used",
                                       f"report {sid}: its query code is already used by another report")
                              for sid in sorted(exc.codes_used)]
            return
        facts = {c.submission_id: c.facts for c in chunk if c.facts is not None}
        materialise_import_obligations(tx, part, home=self.home, imported_at=now, report_ids=ids, ctx=self.deadlines,
                                       facts=[facts[r.submission_id] for r in part])
        images = images_of_reports(tx, ids)  # the obligations each report.import entry records (replay)
        held_ids = held_q.insert_held(tx, batch_id=self.batch_id, held_at=now, held=sort.held)
        for r in [*part, *(h[0] for h in sort.held)]:
            self.blob_sizes.update((a.sha256, a.size) for a in r.attachments)
        self.audit.stored(part)
        self.audit.add([
            NewEntry(at=now, actor=ACTOR, action="report.import", object=r.submission_id,
                     details={"batch": obj, "report_sha256": r.report_sha256,
                              "attachments": [a.sha256 for a in r.attachments],
                              # The callback sample's eligibility, derivable from the log (issue 23).
                              "received_at": format_time(r.received_at), "callback": r.real_name or r.reporter_has_contact,
                              IMAGE_KEY: changed_images({}, images.get(rid, {}))})
            for r, rid in zip(part, ids, strict=True)
        ] + [
            NewEntry(at=now, actor=ACTOR, action="report.resent", object=r.submission_id,
                     details={"batch": obj, "report_sha256": r.report_sha256})
            for r in sort.resent
        ] + [
            NewEntry(at=now, actor=ACTOR, action="report.held", object=r.submission_id,
                     details={"batch": obj, "held_id": hid, "report_sha256": r.report_sha256,
                              "reason": why, "collides_with": other})
            for (r, why, other), hid in zip(sort.held, held_ids)
        ])
        self.links += found
        self.stored += len(part)
        self.result.resent += len(sort.resent)
        self.result.held += len(sort.held)

    def check_blobs(self, store: Store) -> list[BatchProblem]:
        """Every attachment a written row names is in the blob store with its declared
        size (rows are written before the payload's attachments arrive)."""
        out = []
        for sha, size in sorted(self.blob_sizes.items()):
            got = store.blobs.size(sha)
            if got != size:
                out.append(_problem(self.batch, "payload.attachment",
                                    f"attachment {sha} is {'missing' if got is None else f'{got} bytes'}, its report declares {size} bytes"))
        return out


def check_report(
    submission_id: str, raw: bytes, attachments: Sequence[str], now: datetime, batch: str
) -> Checked:
    """Re-validate one report of a batch; its store row and deadline facts when valid."""
    def failed(code: str, message: str) -> Checked:
        return Checked(submission_id=submission_id, problems=[_problem(batch, code, f"report {submission_id}: {message}")])

    vc = validate_report_bytes(raw, now=now, submission=submission_id)
    if not vc.ok:
        return Checked(submission_id=submission_id, problems=[
            _problem(batch, "report.invalid", f"report {submission_id}: {f.code} at {f.path}: {f.message}")
            for f in vc.findings if f.severity == "error"
        ])
    try:
        report = vc.report if vc.report is not None else decode_report(raw)
    except ValueError as exc:
        return failed("report.invalid", str(exc))
    if report.submission_id != submission_id:
        return failed("payload.index", "carries another submission_id")
    if sorted(a.sha256 for a in report.attachments) != sorted(attachments):
        return failed("payload.index", "attachments differ from index.json")
    facts = facts_from_report(report)
    return Checked(submission_id=submission_id, problems=[], row=_row(report, raw, facts), facts=facts)


def _with_report_json(checked: Checked, data: bytes) -> Checked:
    """``checked`` with its row's report bytes replaced (workers send them back empty)."""
    if checked.row is None:
        return checked
    return msgspec.structs.replace(checked, row=msgspec.structs.replace(checked.row, report_json=data))


def _check_chunk(items: list[tuple[str, bytes, tuple[str, ...]]], now: datetime, batch: str) -> bytes:
    # MessagePack, not pickle: a third of the cost at both ends of the pipe. It gives
    # datetimes back in UTC, the same instants (the stored facts are encoded here). The
    # report bytes stay behind: the caller has them (see _Collector.chunks).
    out = []
    for sid, raw, atts in items:
        c = check_report(sid, raw, atts, now, batch)
        out.append(_with_report_json(c, b""))
    return _RESULTS_ENCODER.encode(out)


# Re-validation is most of an import's CPU time. Large batches spread it over worker
# processes (one per CPU), fed chunk by chunk while the payload is still being
# decrypted; the reports travel over pipes, never through files.
PARALLEL_MIN_REPORTS = 2000
_RESULTS_ENCODER = msgspec.msgpack.Encoder()
_RESULTS_DECODER = msgspec.msgpack.Decoder(list[Checked])
_CHUNK = 500
# A chunk also ends at this many report bytes, and at most this many chunks are with the
# workers at a time: the memory an import needs does not grow with the batch.
_CHUNK_BYTES = 4 * 1024 * 1024
_MAX_INFLIGHT = 2
# The store's page cache while a batch is written: its report pages (dirty until the
# commit) would otherwise fill the whole cache, so memory would grow with the batch.
IMPORT_CACHE_KIB = 16 * 1024
_pool: ProcessPoolExecutor | None = None


def _workers() -> ProcessPoolExecutor | None:
    # "fork": spawn and forkserver would re-run the caller's main module in each worker.
    # The workers only compute; they never touch the store's connection or files.
    global _pool
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    if cpus < 2 or "fork" not in multiprocessing.get_all_start_methods():
        return None
    if _pool is None:
        _pool = ProcessPoolExecutor(max_workers=cpus, mp_context=multiprocessing.get_context("fork"),
                                    initializer=workers.die_with_parent, initargs=(os.getpid(),))
    return _pool


def _stop_workers() -> None:
    """On an interrupted or failed import: no worker lives on with report bytes."""
    global _pool
    if _pool is not None:
        pool, _pool = _pool, None
        workers.stop(pool)


def _remove_created(store: Store, collector: _Collector | None) -> None:
    """Remove the blobs a failed import created, under the store's write lock (and the
    audit lock, under which imports check their blobs and commit) and only if no row
    references them: once this import's transaction has rolled back, another import may
    have found one present and committed a report naming it. Without the lock (busy,
    read-only, full disk) they stay as orphans for ``store check --repair``."""
    created = collector.created if collector is not None else []
    if not created or store.blobs.transactional:  # blob rows rolled back with the batch
        return
    try:
        with store.write(wait=min(store.wait, 1.0)) as tx:
            tx.lock("audit")
            for sha in created:
                if not q.attachment_referenced(tx, sha):
                    store.blobs.remove(sha)
    except ClueError:
        pass


def _duplicates(tx: object, rows: list[ReportRow]) -> list[DuplicateLink]:
    values = {f.value for r in rows for f in r.fingerprints}
    earlier: dict[str, list[tuple[str, str]]] = {}
    for m in q.find_reports_by_fingerprints(tx, values):  # type: ignore[arg-type]
        earlier.setdefault(m.value, []).append((m.submission_id, m.kind))
    links: dict[tuple[str, str], str] = {}
    for r in rows:
        for f in r.fingerprints:
            for other, kind in earlier.get(f.value, []):
                if other != r.submission_id:
                    links.setdefault((r.submission_id, other), f"same {kind.replace('_', ' ')}")
            earlier.setdefault(f.value, []).append((r.submission_id, f.kind))
    return [DuplicateLink(submission_id=a, duplicate_of=b, reason=why) for (a, b), why in sorted(links.items())]


def import_batches(
    paths: Sequence[Path], *, home: Home, now: datetime, identity: str = "main",
    passphrase: bytes | None = None, wait: float = 10.0, allow_gap_reason: str | None = None,
) -> ImportReport:
    """Import batches in the order given; each is all-or-nothing.

    Raises:
        InputError: a file cannot be read or is not a batch; a gap reason is empty.
        StateError: the home, store or identity is unusable.
        BusyError: the store stays locked for more than ``wait`` seconds.
    """
    if not paths:
        raise InputError("no batch files given")
    if allow_gap_reason is not None and not allow_gap_reason.strip():
        raise InputError("--allow-gap needs a --reason")
    home.check()
    workers.bound_malloc()
    idents = load_identities(home, identity, passphrase)  # current first, then retired, newest first
    # The key pair of the same name signs the audit checkpoint written after the import,
    # unless the home has its own checkpoint key: `audit checkpoint` signs with that one.
    signer = None if checkpoint_key_name(home) == CHECKPOINT_KEY else load_signing_key(home, identity, passphrase)
    limits = home.config().limits
    out = ImportReport(ok=True, batches=[], problems=[])
    with open_store(home, wait=wait) as store:
        for path in paths:
            res, problems = import_batch(path, home=home, store=store, identities=idents, now=now,
                                         allow_gap_reason=allow_gap_reason, limits=limits)
            out.batches.append(res)
            out.problems += problems
        if signer is not None and (any(b.status == "imported" for b in out.batches)
                                   or any(p.code == "chain.fork" for p in out.problems)):
            out.checkpoint = checkpoint(store, signer, now=now).size
    out.ok = not out.problems
    return out


__all__ = ["import_batches", "import_batch", "fingerprints", "ImportReport", "ImportedBatch", "chain_lookups"]
