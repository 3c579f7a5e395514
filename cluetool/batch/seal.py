"""``seal``: validate a spool and write the next signed, encrypted batches of a source.

Each entry of the spool is validated; an invalid one is quarantined alone
(``cluetool.batch.quarantine``), the rest are split into batches (``--max-reports``,
``--max-bytes``) and each batch is written by ``cluetool.batch.writer`` (format:
docs/format.md). See ``sealstate`` for the commit protocol that makes a kill at any
moment safe.
"""

from __future__ import annotations

import errno
import functools
import hashlib
import os
import stat
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from datetime import datetime
from pathlib import Path
from typing import Any

from cluetool.batch import sealstate
from cluetool.batch.done import stale_done, utc_stamp
from cluetool.batch.quarantine import move_entry, quarantine_submission, recover_quarantine
from cluetool.batch.reader import BatchFormatError, manifest_sha256_of
from cluetool.batch.register import Register, SealedBatchRow
from cluetool.batch.writer import AttachmentRef, Changed, Planned, WriteFailed, check_failed, write_batch
from cluetool.config import Home, Limits, fsync_dir, make_private_dir, path_text, remove_stale_temp_files, shown, text_path
from cluetool.errors import ClueError, InputError, StateError, os_cause
from cluetool.formats import age
from cluetool.keys import load_signing_key
from cluetool.model.batch import SOURCE_RE, Quarantined, SealedBatch, SealReport, batch_file_name
from cluetool.model.findings import Finding
from cluetool.validate import ValidatedSubmission, validate_submission_model

# A batch's size is bounded by default, so that neither end needs memory or a medium
# sized to a backlog (``--max-reports``, ``--max-bytes``; None lifts a bound).
DEFAULT_MAX_REPORTS = 5000
DEFAULT_MAX_BYTES = 1024**3


def parse_recipients(values: Sequence[str]) -> list[age.X25519Recipient | age.HybridRecipient]:
    """``age1…`` (X25519) or ``age1pq1…`` (hybrid) strings or files of them (one per line, ``#`` comments).

    Raises:
        InputError: none given, an unreadable file, a malformed recipient, or hybrid and X25519 mixed.
    """
    out: list[age.X25519Recipient | age.HybridRecipient] = []
    for value in values:
        if value.startswith("age1"):
            lines = [(value, "--to")]
        else:
            try:
                text = Path(value).read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError):
                raise InputError(f'cannot read recipients file "{value}"') from None
            lines = [(ln.strip(), f'"{value}"') for ln in text.splitlines() if ln.strip() and not ln.strip().startswith("#")]
        for line, where in lines:
            try:
                out.append(age.parse_recipient(line))
            except age.AgeError:
                raise InputError(f"invalid age recipient in {where}: expected an age1… or age1pq1… recipient") from None
    if not out:
        raise InputError("no recipients: pass --to age1… or --to FILE")
    if len({type(r) for r in out}) > 1:
        raise InputError("hybrid (age1pq1…) and X25519 (age1…) recipients cannot be mixed: "
                         "one X25519 recipient would void the post-quantum protection")
    return out


def _plan(path: Path, name: str, checked: ValidatedSubmission) -> Planned:
    """What to seal, from the validated, normalised report (never a second parse of
    ``report.json``: the bytes sealed are the ones validated, checked by their hash)."""
    report, result = checked.report, checked.result
    assert result.report_sha256 is not None
    return Planned(
        path=path, name=name, submission_id=report.submission_id, report_sha256=result.report_sha256,
        report_size=checked.report_size, query_code_sha256=report.query_code_sha256,
        attachments=[AttachmentRef(file=a.file, type=a.type, sha256=a.sha256, size=a.size) for a in report.attachments],
    )


def _sealed_before(p: Planned, register: Register, seen_codes: dict[str, str]) -> Finding | None:
    """``submission.resent`` / ``submission.code_reused`` when the intake sealed this
    submission id or query code before (or another submission of this spool has the code)."""
    batch = register.batch_of_id(p.submission_id)
    if batch is not None:
        return Finding(submission=p.name, path="submission_id", code="submission.resent",
                       message=f"submission_id {p.submission_id} was already sealed in batch {batch}")
    code = register.batch_of_code(p.query_code_sha256)
    if code is not None:
        return Finding(submission=p.name, path="query_code_sha256", code="submission.code_reused",
                       message=f"the query code was already used by submission {code[1]} in batch {code[0]}")
    other = seen_codes.get(p.query_code_sha256)
    if other is not None:
        return Finding(submission=p.name, path="query_code_sha256", code="submission.code_reused",
                       message=f"the query code is also used by submission {other} of this spool")
    return None



def _size_of(p: Planned) -> int:
    return p.report_size + sum(a.size for a in p.attachments)


def _split(planned: list[Planned], max_reports: int | None, max_bytes: int | None) -> list[list[Planned]]:
    batches: list[list[Planned]] = []
    current: list[Planned] = []
    used = 0
    for p in planned:
        size = _size_of(p)
        full = (max_reports is not None and len(current) >= max_reports) or (
            max_bytes is not None and current and used + size > max_bytes
        )
        if full:
            batches.append(current)
            current, used = [], 0
        current.append(p)
        used += size
    if current:
        batches.append(current)
    return batches



def _finish(home: Home, journal: sealstate.Journal) -> None:
    """Steps after the batch file exists: move the sealed submissions, advance the state."""
    done = text_path(journal.done_dir)
    parents = set()
    for sub in journal.submissions:
        p = text_path(sub)
        if p.exists():
            # The journal lets a kill here be finished later, so one fsync of each
            # directory after all the renames is enough.
            move_entry(p, done, sync=False)
            parents.add(p.parent)
    if done.is_dir():
        fsync_dir(done)
    for parent in parents:
        fsync_dir(parent)
    sealstate.save_state(home, sealstate.SealState(source=journal.source, sequence=journal.sequence, manifest_sha256=journal.manifest_sha256))
    if journal.sealed:
        with Register(home) as register:
            name = Path(journal.batch_path).name
            register.record(name, [(sid, code) for sid, code in journal.sealed], SealedBatchRow(
                batch=name, source=journal.source, sequence=journal.sequence, manifest_sha256=journal.manifest_sha256,
                done_dir=journal.done_dir, submissions=len(journal.sealed), sealed_at=journal.sealed_at))
    sealstate.drop_journal(home, journal.source)


def recover(home: Home, source: str) -> str | None:
    """Finish or forget an interrupted commit; return the batch name finished, if any."""
    journal = sealstate.load_journal(home, source)
    if journal is None:
        return None
    batch = text_path(journal.batch_path)
    try:
        complete = batch.is_file() and manifest_sha256_of(batch) == journal.manifest_sha256
    except (ClueError, BatchFormatError):
        complete = False
    if complete:
        _finish(home, journal)
        return batch.name
    (batch.parent / f".{batch.name}.partial").unlink(missing_ok=True)
    sealstate.drop_journal(home, source)
    return None


_WRITE_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EIO, errno.EFBIG}


def _write_errors_are_state_errors(fn: Callable[..., SealReport]) -> Callable[..., SealReport]:
    """A write failure anywhere in ``seal`` (the batch, the home's state, the done or
    quarantine directories) is exit 3 naming the directory and the cause. The batch
    being written is dropped and its submissions stay in the spool."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> SealReport:
        try:
            return fn(*args, **kwargs)
        except WriteFailed as exc:
            directory, cause = exc.directory, exc.cause
        except OSError as exc:
            if exc.errno not in _WRITE_ERRNOS:  # e.g. a directory this user may not list
                where = f' "{shown(exc.filename)}"' if exc.filename else ""
                raise StateError(f"cannot use{where}: {os_cause(exc)}", hint="check the directories' owners and modes") from None
            directory, cause = (Path(os.fsdecode(exc.filename)).parent if exc.filename else None), exc
        where = f' in "{shown(directory)}"' if directory is not None else ""
        raise StateError(
            f"cannot write{where}: {os_cause(cause)}",
            hint="nothing of the batch being written was kept and its submissions are still in the spool; "
            "fix the file system, then run seal again",
        ) from None

    return wrapper


@_write_errors_are_state_errors
def seal(
    spool: Path,
    *,
    home: Home,
    source: str,
    recipients: Sequence[str],
    out_dir: Path,
    now: datetime,
    key: str = "main",
    passphrase: bytes | None = None,
    quarantine: Path | None = None,
    done: Path | None = None,
    max_reports: int | None = DEFAULT_MAX_REPORTS,
    max_bytes: int | None = DEFAULT_MAX_BYTES,
    limits: Limits | None = None,
    on_batch: Callable[[SealedBatch], None] | None = None,
    wait: float = 0.0,
    warn_done_days: int | None = 7,
) -> SealReport:
    """Validate the spool; quarantine invalid submissions; seal the rest into batches.
    ``report.stale_done`` lists batches left unconfirmed in ``done`` for more than
    ``warn_done_days`` days.

    Raises:
        InputError: bad source, recipients or limits; the spool is unreadable.
        StateError: home, key or seal state unusable; a batch file is in the way.
        BusyError: another seal of this spool or source runs for longer than ``wait``.
    """
    if not SOURCE_RE.fullmatch(source):
        raise InputError(f"invalid source name {source!r}: use lower-case letters, digits and '-'")
    if (max_reports is not None and max_reports < 1) or (max_bytes is not None and max_bytes < 1):
        raise InputError("--max-reports and --max-bytes must be positive")
    home.check()
    recips = parse_recipients(recipients)
    signer = load_signing_key(home, key, passphrase)
    limits = limits or home.config().limits
    if not spool.is_dir():
        if not spool.exists():
            raise InputError(f'cannot read spool "{spool}": no such directory',
                             hint="give the directory the intake writes submissions into")
        raise InputError(f'cannot read spool "{spool}": not a directory',
                         hint="give the spool directory that holds the submission folders")
    spool = spool.resolve()
    out_dir = out_dir.resolve()
    quarantine = (quarantine or spool.with_name(spool.name + ".quarantine")).resolve()
    done = (done or spool.with_name(spool.name + ".done")).resolve()
    for d in (spool, out_dir, quarantine, done):
        try:
            path_text(d)  # the seal journal records these paths as UTF-8 text
        except UnicodeDecodeError:
            raise InputError(f'the path "{shown(d)}" is not valid UTF-8', hint="rename the directory") from None
    for what, d in (("--out", out_dir), ("--done", done), ("--quarantine", quarantine)):
        if d == spool or d.is_relative_to(spool):
            raise InputError(f'{what} directory "{d}" is inside the spool "{spool}"', hint="put it beside the spool")
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f'cannot create output directory "{out_dir}": {exc.strerror}') from None

    report = SealReport(ok=True, batches=[], quarantined=[])
    for d in (done, quarantine):
        make_private_dir(d)
    with sealstate.SpoolLock(spool, wait=wait), sealstate.SourceLock(home, source, wait=wait), ExitStack() as stack:
        recover_quarantine(quarantine)
        remove_stale_temp_files(home.state_dir / "seal")
        finished = recover(home, source)
        if finished:
            report.recovered.append(finished)
        for stale in out_dir.glob(f".{source}-*.clue.partial"):
            stale.unlink(missing_ok=True)

        planned: list[Planned] = []
        seen_ids: set[str] = set()
        seen_codes: dict[str, str] = {}
        register = stack.enter_context(Register(home))

        def refuse(entry: Path, findings: Sequence[Finding], name: str | None = None) -> None:
            name = name if name is not None else shown(entry.name)
            box = quarantine_submission(entry, findings, quarantine, name)
            codes = sorted({f.code for f in findings if f.severity == "error"})
            report.quarantined.append(Quarantined(submission=name, path=shown(box), codes=codes))

        # Names are listed as bytes and read as UTF-8, whatever the locale.
        for raw in sorted(os.listdir(os.fsencode(spool))):
            if raw.startswith(b"."):
                continue
            entry = spool / os.fsdecode(raw)
            try:
                name = raw.decode("utf-8")
            except UnicodeDecodeError:
                name = shown(raw)
                refuse(entry, [Finding(submission=name, path=".", code="spool.bad_name",
                                       message=f'the name "{name}" is not valid UTF-8: rename it in UTF-8 and put it back in the spool')], name)
                continue
            if not stat.S_ISDIR(entry.lstat().st_mode):
                refuse(entry, [Finding(submission=name, path=".", code="spool.stray_entry",
                                       message=f'"{name}" in the spool is not a submission directory')])
                continue
            # Attachment contents are checked while they are sealed (read once).
            try:
                checked = validate_submission_model(entry, now=now, limits=limits, deep=False)
                if checked.result.ok and checked.report is None:
                    raise RuntimeError("a valid report without its model")
                plan = _plan(entry, name, checked) if checked.result.ok else None
            except InputError as exc:
                refuse(entry, [Finding(submission=name, path=".", code="submission.unreadable", message=exc.message)])
                continue
            except Exception as exc:  # noqa: BLE001 - one submission's problem stops only it
                refuse(entry, [check_failed(name, "validation", exc)])
                continue
            if plan is None:
                refuse(entry, checked.result.findings)
                continue
            if plan.submission_id in seen_ids:
                refuse(entry, [Finding(submission=name, path="submission_id", code="spool.duplicate_submission_id",
                                       message=f"submission_id {plan.submission_id} is already in this spool")])
                continue
            earlier = _sealed_before(plan, register, seen_codes)
            if earlier is not None:
                refuse(entry, [earlier])
                continue
            seen_ids.add(plan.submission_id)
            seen_codes[plan.query_code_sha256] = plan.name
            planned.append(plan)

        pending = _split(planned, max_reports, max_bytes)
        while pending:
            members = pending.pop(0)
            state = sealstate.load_state(home, source)
            sequence = state.sequence + 1
            final = out_dir / batch_file_name(source, sequence)
            if final.exists():
                raise StateError(
                    f'batch "{final}" already exists but the seal state says sequence {state.sequence}',
                    hint="move it aside after checking which batch the receivers have; never reuse a sequence",
                )
            try:
                tmp, manifest, manifest_bytes = write_batch(
                    members, out_dir=out_dir, source=source, sequence=sequence,
                    previous=state.manifest_sha256, signer=signer, recipients=recips, now=now, limits=limits,
                )
            except Changed as changed:
                refuse(changed.planned.path, changed.findings)
                rest = [m for m in members if m is not changed.planned]
                if rest:
                    pending.insert(0, rest)
                continue
            manifest_sha = hashlib.sha256(manifest_bytes).hexdigest()
            journal = sealstate.Journal(
                source=source, sequence=sequence, manifest_sha256=manifest_sha, batch_path=path_text(final),
                done_dir=path_text(done / final.stem), submissions=[path_text(m.path) for m in members],
                sealed=[[m.submission_id, m.query_code_sha256] for m in members], sealed_at=utc_stamp(now),
            )
            sealstate.save_journal(home, journal)
            try:
                os.link(tmp, final)
            except FileExistsError:
                tmp.unlink(missing_ok=True)
                sealstate.drop_journal(home, source)
                raise StateError(f'batch "{final}" appeared while sealing; not overwriting it') from None
            tmp.unlink()
            fsync_dir(out_dir)
            _finish(home, journal)
            sealed = SealedBatch(
                batch=final.name, path=str(final), source=source, sequence=sequence,
                manifest_sha256=manifest_sha, payload_sha256=manifest.payload.sha256,
                payload_size=manifest.payload.size, reports=manifest.counts.reports,
                attachments=manifest.counts.attachments,
            )
            report.batches.append(sealed)
            report.warnings.extend(w for m in members for w in m.warnings)
            if on_batch:
                on_batch(sealed)
        if warn_done_days is not None:  # no receipt came for these (issue 23)
            report.stale_done = stale_done(register, done, now=now, days=warn_done_days)
    report.ok = not report.quarantined
    return report


__all__ = ["DEFAULT_MAX_BYTES", "DEFAULT_MAX_REPORTS", "parse_recipients", "recover", "seal"]

