"""``seal``: validate a spool and write the next signed, encrypted batches of a source.

The batch layout (DESIGN §5) puts the payload last, after a manifest that holds the
payload's hash. To write the payload once, its exact size is computed first (the inner
tar's size from its members, the age overhead from the recipient count), the manifest
and signature members are sized from that, and the payload is encrypted straight into
its final place in the temp file while being hashed. The head of the archive is written
last. See ``sealstate`` for the commit protocol that makes a kill at any moment safe.
"""

from __future__ import annotations

import errno
import functools
import hashlib
import os
import re
import shutil
import stat
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, BinaryIO

import msgspec

from cluetool.batch import sealstate
from cluetool.batch.done import stale_done, utc_stamp
from cluetool.batch.register import Register, SealedBatchRow
from cluetool.batch.reader import BatchFormatError, manifest_sha256_of
from cluetool.config import (
    Home, Limits, fsync_dir, make_private_dir, path_text, pid_alive, remove_stale_temp_files, shown, text_path,
    write_private_file,
)
from cluetool.errors import ClueError, InputError, StateError, os_cause
from cluetool.formats import age, canonical, minisign, ustar
from cluetool.keys import load_signing_key
from cluetool.model.batch import (
    BATCH_FORMAT,
    SOURCE_RE,
    Counts,
    IndexEntry,
    Manifest,
    PayloadInfo,
    Quarantined,
    SealedBatch,
    SealReport,
    batch_file_name,
    key_id_hex16,
    signature_comment,
)
from cluetool.model.findings import Finding
from cluetool.validate import ValidatedSubmission, validate_submission_model
from cluetool.validate.attachments import AttachmentStream, judge_stream, metadata_warnings

CHUNK = 64 * 1024
# A batch's size is bounded by default, so that neither end needs memory or a medium
# sized to a backlog (``--max-reports``, ``--max-bytes``; None lifts a bound).
DEFAULT_MAX_REPORTS = 5000
DEFAULT_MAX_BYTES = 1024**3
# age v1 sizes (C2SP age §"Header", §"Payload"): the version line, one two-line
# X25519 stanza per recipient (43-character base64 of 32 bytes each), the MAC line,
# the 16-byte payload nonce, and a 16-byte tag per 64 KiB chunk (at least one chunk).
_AGE_VERSION_LINE = len(b"age-encryption.org/v1\n")
_AGE_X25519_STANZA = len(b"-> X25519 ") + 43 + 1 + 43 + 1
# A hybrid stanza: 1120 bytes of enc on the argument line (1494 base64 characters).
_AGE_HYBRID_STANZA = len(b"-> mlkem768x25519 ") + 1494 + 1 + 43 + 1
_AGE_MAC_LINE = len(b"--- ") + 43 + 1
_AGE_NONCE = 16


def age_size(plaintext: int, recipients: int, *, hybrid: bool = False) -> int:
    """The exact size of an age file with X25519 (or hybrid) recipients for this plaintext size."""
    chunks = max(1, -(-plaintext // CHUNK))
    stanza = _AGE_HYBRID_STANZA if hybrid else _AGE_X25519_STANZA
    header = _AGE_VERSION_LINE + recipients * stanza + _AGE_MAC_LINE
    return header + _AGE_NONCE + plaintext + 16 * chunks


class _AttachmentRef(msgspec.Struct):
    file: str
    type: str
    sha256: str
    size: int


class _Planned(msgspec.Struct):
    path: Path
    name: str
    submission_id: str
    report_sha256: str
    report_size: int
    attachments: list[_AttachmentRef]
    query_code_sha256: str = ""
    warnings: list[Finding] = []  # identifying metadata found while sealing (issue 17)


class _Changed(Exception):
    """A submission failed its content checks while being sealed (or changed meanwhile)."""

    def __init__(self, planned: _Planned, findings: list[Finding]) -> None:
        super().__init__(findings[0].message)
        self.planned = planned
        self.findings = findings


class _WriteFailed(Exception):
    """Writing the batch failed (disk full, read-only, I/O error): not the submission's
    fault, so never a reason to quarantine it. Deliberately not an ``OSError``."""

    def __init__(self, directory: Path, cause: OSError) -> None:
        super().__init__(str(cause))
        self.directory = directory
        self.cause = cause


class _HashingWriter:
    def __init__(self, f: BinaryIO, directory: Path) -> None:
        self._f = f
        self._dir = directory
        self.sha = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes | memoryview) -> int:
        self.sha.update(data)
        self.size += len(data)
        view = memoryview(data)
        try:
            while view:  # an unbuffered write may write less than asked
                view = view[self._f.write(view):]
        except OSError as exc:
            raise _WriteFailed(self._dir, exc) from None
        return len(data)

    def flush(self) -> None:
        self._f.flush()


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


def _plan(path: Path, name: str, checked: ValidatedSubmission) -> _Planned:
    """What to seal, from the validated, normalised report (never a second parse of
    ``report.json``: the bytes sealed are the ones validated, checked by their hash)."""
    report, result = checked.report, checked.result
    assert result.report_sha256 is not None
    return _Planned(
        path=path, name=name, submission_id=report.submission_id, report_sha256=result.report_sha256,
        report_size=checked.report_size, query_code_sha256=report.query_code_sha256,
        attachments=[_AttachmentRef(file=a.file, type=a.type, sha256=a.sha256, size=a.size) for a in report.attachments],
    )


def _sealed_before(p: _Planned, register: Register, seen_codes: dict[str, str]) -> Finding | None:
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


def _check_failed(name: str, what: str, exc: BaseException) -> Finding:
    # The exception's type only: its message may quote report content.
    return Finding(submission=name, path=".", code="submission.check_failed",
                   message=f"{name}: {what} failed unexpectedly ({type(exc).__name__}); the rest of the spool was sealed")


def _size_of(p: _Planned) -> int:
    return p.report_size + sum(a.size for a in p.attachments)


def _split(planned: list[_Planned], max_reports: int | None, max_bytes: int | None) -> list[list[_Planned]]:
    batches: list[list[_Planned]] = []
    current: list[_Planned] = []
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


def _open_regular(path: Path) -> BinaryIO:
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise OSError("not a regular file")
    return os.fdopen(fd, "rb")


def _changed(p: _Planned, path: str, code: str, message: str) -> _Changed:
    return _Changed(p, [Finding(submission=p.name, path=path, code=code, message=message)])


def _stream_attachment(
    p: _Planned, i: int, a: _AttachmentRef, limits: Limits, w: ustar.UstarWriter | None
) -> None:
    """Read one attachment once: into the tar (when ``w``) and through its content
    checks (structure, sniffed type, size, sha256). Raises ``_Changed`` on any problem."""
    failed: list[BaseException] = []
    try:
        stream = AttachmentStream(a.type, limit=getattr(limits, a.type), max_pixels=limits.image_pixels, max_seconds=limits.duration)
    except Exception as exc:  # noqa: BLE001 - a check's bug quarantines this submission only
        raise _Changed(p, [_check_failed(p.name, f"the check of {a.file}", exc)]) from None

    def check(data: bytes | memoryview) -> None:
        # A check that raises stops checking (the bytes still go into the tar: the
        # batch is abandoned and this submission quarantined afterwards).
        if not failed:
            try:
                stream.update(data)
            except Exception as exc:  # noqa: BLE001
                failed.append(exc)

    try:
        with _open_regular(p.path / text_path(a.file)) as f:
            if w is not None:
                w.add(f"attachments/{a.sha256}", a.size, f, on_data=check)
            else:
                while chunk := f.read(CHUNK):
                    check(chunk)
    except (OSError, ustar.UstarError):
        raise _changed(p, f"attachments[{i}].file", "submission.changed", f"{p.name}: {a.file} changed while sealing") from None
    findings: list[Finding] = []
    try:
        if not failed:
            judge_stream(stream, a, f"attachments[{i}]",
                         lambda path, code, message: findings.append(Finding(submission=p.name, path=path, code=code, message=message)))
    except Exception as exc:  # noqa: BLE001
        failed.append(exc)
    if failed:
        raise _Changed(p, [_check_failed(p.name, f"the check of {a.file}", failed[0])])
    if findings:
        raise _Changed(p, findings)
    for code, message in metadata_warnings(stream):
        p.warnings.append(Finding(submission=p.name, path=f"attachments[{i}].file", code=code,
                                  message=f"{a.file}: {message}", severity="warning"))


def _write_inner(members: list[_Planned], index_bytes: bytes, dst: BinaryIO, limits: Limits) -> None:
    """The payload's plaintext tar, streamed into ``dst`` (the age writer). Each
    attachment is read once, checked by content while it is written."""
    w = ustar.UstarWriter(dst)
    w.add("index.json", len(index_bytes), index_bytes)
    for p in members:
        try:
            with _open_regular(p.path / "report.json") as f:
                data = f.read()
        except OSError:
            raise _changed(p, "report.json", "submission.changed", f"{p.name}: report.json vanished while sealing") from None
        if hashlib.sha256(data).hexdigest() != p.report_sha256:
            raise _changed(p, "report.json", "submission.changed", f"{p.name}: report.json changed while sealing")
        w.add(f"reports/{p.submission_id}.json", len(data), data)
    seen: set[str] = set()
    for p in members:
        for i, a in enumerate(p.attachments):
            # A second file with the same hash is still read and checked, not trusted.
            _stream_attachment(p, i, a, limits, None if a.sha256 in seen else w)
            seen.add(a.sha256)
    w.close()


def _index(members: list[_Planned]) -> tuple[bytes, list[int]]:
    entries = [
        IndexEntry(submission_id=p.submission_id, report_sha256=p.report_sha256, attachments=[a.sha256 for a in p.attachments])
        for p in members
    ]
    index = canonical.dumps(entries)
    sizes = [len(index)] + [p.report_size for p in members]
    seen: set[str] = set()
    for p in members:
        for a in p.attachments:
            if a.sha256 not in seen:
                seen.add(a.sha256)
                sizes.append(a.size)
    return index, sizes


def _write_batch(
    members: list[_Planned], *, out_dir: Path, source: str, sequence: int, previous: str,
    signer: minisign.SecretKey, recipients: list[age.X25519Recipient | age.HybridRecipient], now: datetime, limits: Limits,
) -> tuple[Path, Manifest, bytes]:
    """Write the batch to a temp file in ``out_dir``; return (temp path, manifest, bytes)."""
    index, sizes = _index(members)
    inner_size = ustar.archive_size(sizes)
    payload_size = age_size(inner_size, len(recipients), hybrid=isinstance(recipients[0], age.HybridRecipient))
    unique_attachments = len(sizes) - 1 - len(members)
    manifest = Manifest(
        format=BATCH_FORMAT, source=source, sequence=sequence, previous=previous,
        created_at=now.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        signer=key_id_hex16(signer.key_id), recipients=[str(r) for r in recipients],
        payload=PayloadInfo(size=payload_size, sha256="0" * 64),
        counts=Counts(reports=len(members), attachments=unique_attachments),
    )
    untrusted = signature_comment(key_id_hex16(signer.key_id))
    manifest_len = len(canonical.dumps(manifest))
    sig_len = len(minisign.sign(signer, b"", trusted_comment=manifest.trusted_comment(), untrusted_comment=untrusted).encode())
    payload_at = 3 * 512 + manifest_len + ustar.padding(manifest_len) + sig_len + ustar.padding(sig_len)

    name = batch_file_name(source, sequence)
    tmp = out_dir / f".{name}.partial"
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o644)
    try:
        with os.fdopen(fd, "r+b", buffering=0) as raw:
            raw.seek(payload_at)
            hw = _HashingWriter(raw, out_dir)
            with age.EncryptWriter(hw, recipients) as enc:
                _write_inner(members, index, enc, limits)
            if hw.size != payload_size:
                raise RuntimeError(f"payload size {hw.size} differs from the computed {payload_size}")
            raw.write(bytes(ustar.padding(payload_size)))
            raw.write(ustar.end_of_archive(payload_at + payload_size + ustar.padding(payload_size)))
            manifest.payload = PayloadInfo(size=payload_size, sha256=hw.sha.hexdigest())
            manifest_bytes = canonical.dumps(manifest)
            sig = minisign.sign(signer, manifest_bytes, trusted_comment=manifest.trusted_comment(), untrusted_comment=untrusted).encode()
            if len(manifest_bytes) != manifest_len or len(sig) != sig_len:
                raise RuntimeError("manifest or signature size differs from the computed one")
            raw.seek(0)
            raw.write(ustar.member_header("manifest.json", manifest_len) + manifest_bytes + bytes(ustar.padding(manifest_len)))
            raw.write(ustar.member_header("manifest.json.minisig", sig_len) + sig + bytes(ustar.padding(sig_len)))
            raw.write(ustar.member_header("payload.age", payload_size))
            os.fsync(raw.fileno())
    except OSError as exc:  # reads of submissions are handled inside: this is the output
        tmp.unlink(missing_ok=True)
        raise _WriteFailed(out_dir, exc) from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return tmp, manifest, manifest_bytes


def _free_name(directory: Path, name: str) -> Path:
    """``directory/name``, or ``name.2``, ``name.3``… when taken (nothing is overwritten)."""
    path, n = directory / name, 1
    while path.exists():
        n += 1
        path = directory / f"{name}.{n}"
    return path


def _move(src: Path, dest_dir: Path, *, sync: bool = True) -> Path:
    make_private_dir(dest_dir)
    dest = _free_name(dest_dir, src.name)  # src.name is the OS form of the name
    try:
        os.rename(src, dest)
    except OSError as exc:
        raise StateError(f'cannot move "{src}" to "{dest_dir}": {exc.strerror}', hint="keep the spool, done and quarantine directories on one file system") from None
    if sync:
        fsync_dir(dest_dir)
        fsync_dir(src.parent)
    return dest


# A short temporary name (an entry's own name may already be 255 bytes long); the
# entry's name is in the box's reason.json.
_BOX_TMP = re.compile(rb"^\.box\.tmp-(\d+)$")


def quarantine_submission(path: Path, findings: Sequence[Finding], quarantine: Path, name: str | None = None) -> Path:
    """Move a submission to ``quarantine/NAME/submission`` with ``reason.json`` beside it
    (``name``: the entry's name as text, see ``config.shown``).

    Atomic: the box is built under a temporary name (``.NAME.tmp-PID``), the submission
    moved in, then the box renamed, so no one sees a box without its submission or its
    reason. A box left by a kill is finished by the next seal (``recover_quarantine``).
    """
    name = name if name is not None else shown(path.name)
    os_name = os.fsdecode(name.encode("utf-8"))
    make_private_dir(quarantine)
    tmp = quarantine / f".box.tmp-{os.getpid()}"
    if tmp.exists():  # left by this very process: an earlier error
        shutil.rmtree(tmp)
    os.mkdir(tmp, 0o700)
    write_private_file(tmp / "reason.json", canonical.dumps({"submission": name, "findings": list(findings)}) + b"\n")
    try:
        os.rename(path, tmp / "submission")
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise StateError(f'cannot move "{shown(path)}" to quarantine: {os_cause(exc)}', hint="keep the spool and quarantine directories on one file system") from None
    fsync_dir(tmp)
    box = _rename_box(tmp, quarantine, os_name)
    fsync_dir(path.parent)
    return box


def _rename_box(tmp: Path, quarantine: Path, os_name: str) -> Path:
    while True:
        box = _free_name(quarantine, os_name)
        try:
            os.rename(tmp, box)  # never replaces a box: a box is never empty
        except OSError as exc:
            if exc.errno in (errno.EEXIST, errno.ENOTEMPTY):
                continue  # another seal sharing the quarantine took the name
            raise
        fsync_dir(quarantine)
        return box


def recover_quarantine(quarantine: Path) -> list[Path]:
    """Finish the boxes a killed seal left half-built; the boxes finished."""
    finished: list[Path] = []
    try:
        names = os.listdir(os.fsencode(quarantine))
    except FileNotFoundError:
        return finished
    for raw in sorted(names):
        m = _BOX_TMP.match(raw)
        if m is None:
            continue
        pid = int(m.group(1))
        if pid != os.getpid() and pid_alive(pid):
            continue  # a seal sharing this quarantine is building it now
        tmp = quarantine / os.fsdecode(raw)
        if (tmp / "submission").exists() or (tmp / "submission").is_symlink():
            try:
                name = msgspec.json.decode((tmp / "reason.json").read_bytes())["submission"]
            except (OSError, msgspec.DecodeError, KeyError, TypeError):
                name = "submission"  # the reason was lost with the kill; the submission is kept
            finished.append(_rename_box(tmp, quarantine, os.fsdecode(str(name).encode("utf-8"))))
        else:  # killed before the submission moved in: it is still in the spool
            shutil.rmtree(tmp, ignore_errors=True)
    return finished


def _finish(home: Home, journal: sealstate.Journal) -> None:
    """Steps after the batch file exists: move the sealed submissions, advance the state."""
    done = text_path(journal.done_dir)
    parents = set()
    for sub in journal.submissions:
        p = text_path(sub)
        if p.exists():
            # The journal lets a kill here be finished later, so one fsync of each
            # directory after all the renames is enough.
            _move(p, done, sync=False)
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
        except _WriteFailed as exc:
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

        planned: list[_Planned] = []
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
                refuse(entry, [_check_failed(name, "validation", exc)])
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
                tmp, manifest, manifest_bytes = _write_batch(
                    members, out_dir=out_dir, source=source, sequence=sequence,
                    previous=state.manifest_sha256, signer=signer, recipients=recips, now=now, limits=limits,
                )
            except _Changed as changed:
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


__all__ = ["DEFAULT_MAX_BYTES", "DEFAULT_MAX_REPORTS", "seal", "recover", "recover_quarantine", "parse_recipients", "age_size",
           "quarantine_submission"]
