"""Writing one ``.clue`` batch file (the layout is specified in docs/format.md).

The batch layout puts the payload last, after a manifest that holds the payload's hash.
To write the payload once, its exact size is computed first (the inner tar's size from
its members, the age overhead from the recipient count), the manifest and signature
members are sized from that, and the payload is encrypted straight into its final place
in the temp file while being hashed. The head of the archive is written last. Each
attachment is read once, checked by content while it is written (``Changed`` names a
submission that failed or changed meanwhile; ``WriteFailed`` is the output's fault).
"""

from __future__ import annotations

import hashlib
import os
import stat
from datetime import datetime, timezone
from pathlib import Path
from typing import BinaryIO

import msgspec

from cluetool.config import Limits, text_path
from cluetool.formats import age, canonical, minisign, ustar
from cluetool.model.batch import (
    BATCH_FORMAT,
    Counts,
    IndexEntry,
    Manifest,
    PayloadInfo,
    batch_file_name,
    key_id_hex16,
    signature_comment,
)
from cluetool.model.findings import Finding
from cluetool.validate.attachments import AttachmentStream, judge_stream, metadata_warnings

CHUNK = 64 * 1024
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


class AttachmentRef(msgspec.Struct):
    file: str
    type: str
    sha256: str
    size: int


class Planned(msgspec.Struct):
    path: Path
    name: str
    submission_id: str
    report_sha256: str
    report_size: int
    attachments: list[AttachmentRef]
    query_code_sha256: str = ""
    warnings: list[Finding] = []  # identifying metadata found while sealing (issue 17)


class Changed(Exception):
    """A submission failed its content checks while being sealed (or changed meanwhile)."""

    def __init__(self, planned: Planned, findings: list[Finding]) -> None:
        super().__init__(findings[0].message)
        self.planned = planned
        self.findings = findings


class WriteFailed(Exception):
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
            raise WriteFailed(self._dir, exc) from None
        return len(data)

    def flush(self) -> None:
        self._f.flush()


def check_failed(name: str, what: str, exc: BaseException) -> Finding:
    # The exception's type only: its message may quote report content.
    return Finding(submission=name, path=".", code="submission.check_failed",
                   message=f"{name}: {what} failed unexpectedly ({type(exc).__name__}); the rest of the spool was sealed")


def _open_regular(path: Path) -> BinaryIO:
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise OSError("not a regular file")
    return os.fdopen(fd, "rb")


def _changed(p: Planned, path: str, code: str, message: str) -> Changed:
    return Changed(p, [Finding(submission=p.name, path=path, code=code, message=message)])


def _stream_attachment(
    p: Planned, i: int, a: AttachmentRef, limits: Limits, w: ustar.UstarWriter | None
) -> None:
    """Read one attachment once: into the tar (when ``w``) and through its content
    checks (structure, sniffed type, size, sha256). Raises ``Changed`` on any problem."""
    failed: list[BaseException] = []
    try:
        stream = AttachmentStream(a.type, limit=getattr(limits, a.type), max_pixels=limits.image_pixels, max_seconds=limits.duration)
    except Exception as exc:  # noqa: BLE001 - a check's bug quarantines this submission only
        raise Changed(p, [check_failed(p.name, f"the check of {a.file}", exc)]) from None

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
        raise Changed(p, [check_failed(p.name, f"the check of {a.file}", failed[0])])
    if findings:
        raise Changed(p, findings)
    for code, message in metadata_warnings(stream):
        p.warnings.append(Finding(submission=p.name, path=f"attachments[{i}].file", code=code,
                                  message=f"{a.file}: {message}", severity="warning"))


def _write_inner(members: list[Planned], index_bytes: bytes, dst: BinaryIO, limits: Limits) -> None:
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


def _index(members: list[Planned]) -> tuple[bytes, list[int]]:
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


def write_batch(
    members: list[Planned], *, out_dir: Path, source: str, sequence: int, previous: str,
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
        raise WriteFailed(out_dir, exc) from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return tmp, manifest, manifest_bytes
