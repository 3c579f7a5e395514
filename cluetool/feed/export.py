"""``feed export`` on the internal side: write the next ``.status`` file of a feed source.

The chain state per feed source is ``state/feed/SOURCE.json`` (last sequence and
manifest hash). As with ``seal``, a journal (``state/feed/SOURCE.journal.json``) is
fsynced before the file is linked into place, and the next run rolls it forward (the
file is there with that manifest) or back, so a sequence is never used for two files.
"""

from __future__ import annotations

import hashlib
import os
from datetime import datetime
from pathlib import Path

import msgspec

from cluetool.batch.done import utc_stamp
from cluetool.batch.sealstate import FileLock
from cluetool.config import Home, fsync_dir, make_private_dir, write_private_file
from cluetool.errors import InputError, StateError, os_cause
from cluetool.feed.reader import FeedFormatError, read_feed
from cluetool.formats import canonical, minisign, ustar
from cluetool.keys import load_signing_key
from cluetool.model.batch import SOURCE_RE, ZERO_HASH, key_id_hex16, signature_comment
from cluetool.model.feed import (
    FEED_FORMAT, FeedCounts, FeedExportReport, FeedManifest, FeedMember, Receipt, ReceiptBatch, feed_file_name,
)
from cluetool.store import Store
from cluetool.store import queries as q


class FeedState(msgspec.Struct, kw_only=True):
    source: str
    sequence: int = 0
    manifest_sha256: str = ZERO_HASH


class FeedJournal(msgspec.Struct, kw_only=True):
    source: str
    sequence: int
    manifest_sha256: str
    path: str


def _dir(home: Home) -> Path:
    d = home.state_dir / "feed"
    make_private_dir(d)
    return d


def _load(path: Path, type_: type, what: str) -> object | None:
    try:
        return msgspec.json.decode(path.read_bytes(), type=type_)
    except FileNotFoundError:
        return None
    except (OSError, msgspec.DecodeError, msgspec.ValidationError):
        raise StateError(f'feed {what} "{path}" is unreadable', hint="restore state/feed/ from a backup; never guess a sequence") from None


def load_state(home: Home, source: str) -> FeedState:
    state = _load(_dir(home) / f"{source}.json", FeedState, "state")
    return state if isinstance(state, FeedState) else FeedState(source=source)


def code_lines(rows: list[tuple[str, str]]) -> bytes:
    """``codes.txt``: ``<hash> <stage>\\n`` per report, sorted by hash."""
    lines = [f"{h} {s}\n" for h, s in rows]
    lines.sort()  # hashes are all 64 hex digits: sorting the lines sorts by hash
    return "".join(lines).encode("ascii")


def build_feed(
    *, source: str, sequence: int, previous: str, now: datetime, signer: minisign.SecretKey,
    codes: bytes, code_count: int, receipt: list[ReceiptBatch],
) -> tuple[bytes, bytes, bytes, bytes]:
    """(manifest, signature, codes.txt, receipt.json) of one ``.status`` file."""
    receipt_bytes = canonical.dumps(Receipt(batches=receipt))
    signer_id = key_id_hex16(signer.key_id)
    manifest = FeedManifest(
        format=FEED_FORMAT, source=source, sequence=sequence, previous=previous, created_at=utc_stamp(now), signer=signer_id,
        members=[FeedMember(name="codes.txt", size=len(codes), sha256=hashlib.sha256(codes).hexdigest()),
                 FeedMember(name="receipt.json", size=len(receipt_bytes), sha256=hashlib.sha256(receipt_bytes).hexdigest())],
        counts=FeedCounts(codes=code_count, batches=len(receipt)),
    )
    manifest_bytes = canonical.dumps(manifest)
    sig = minisign.sign(signer, manifest_bytes, trusted_comment=manifest.trusted_comment(),
                        untrusted_comment=signature_comment(signer_id)).encode()
    return manifest_bytes, sig, codes, receipt_bytes


def _write(path: Path, members: tuple[bytes, bytes, bytes, bytes]) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    try:
        with os.fdopen(fd, "wb") as f:
            with ustar.UstarWriter(f) as w:
                for name, data in zip(("manifest.json", "manifest.json.minisig", "codes.txt", "receipt.json"), members):
                    w.add(name, len(data), data)
            f.flush()
            os.fsync(f.fileno())
    except BaseException:
        path.unlink(missing_ok=True)
        raise


def _recover(home: Home, source: str, signer: minisign.SecretKey) -> str | None:
    d = _dir(home)
    journal = _load(d / f"{source}.journal.json", FeedJournal, "journal")
    if not isinstance(journal, FeedJournal):
        return None
    path = Path(journal.path)
    try:
        done = read_feed(path, [(source, signer.public_key)]).manifest_sha256 == journal.manifest_sha256
    except (InputError, FeedFormatError):
        done = False
    if done:
        write_private_file(d / f"{source}.json", msgspec.json.encode(
            FeedState(source=source, sequence=journal.sequence, manifest_sha256=journal.manifest_sha256)))
    (path.parent / f".{path.name}.partial").unlink(missing_ok=True)
    (d / f"{source}.journal.json").unlink(missing_ok=True)
    fsync_dir(d)
    return path.name if done else None


def export_feed(
    home: Home, store: Store, *, source: str, out_dir: Path, now: datetime, key: str = "main",
    passphrase: bytes | None = None, wait: float = 0.0,
) -> FeedExportReport:
    """Write the next ``.status`` file of ``source`` into ``out_dir``: every report's
    query-code hash with its public stage, and every imported batch.

    Raises:
        InputError: bad source name or output directory.
        StateError: key, feed state or output unusable; the next file is already there.
        BusyError: another export of this source runs for longer than ``wait``.
    """
    if not SOURCE_RE.fullmatch(source):
        raise InputError(f"invalid feed source name {source!r}: use lower-case letters, digits and '-'")
    signer = load_signing_key(home, key, passphrase)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f'cannot create output directory "{out_dir}": {os_cause(exc)}') from None
    out_dir = out_dir.resolve()
    with FileLock(_dir(home) / f"{source}.lock", wait=wait, message="another feed export of this source is running"):
        recovered = _recover(home, source, signer)
        state = load_state(home, source)
        sequence = state.sequence + 1
        final = out_dir / feed_file_name(source, sequence)
        if final.exists():
            raise StateError(f'status feed "{final}" already exists but the feed state says sequence {state.sequence}',
                             hint="move it aside after checking which feed the intake has; never reuse a sequence")
        with store.read() as tx:
            rows = list(q.iter_code_stages(tx))
            batches = [ReceiptBatch(source=s, sequence=n, manifest_sha256=h) for s, n, h in q.list_imported_batches(tx)]
        members = build_feed(source=source, sequence=sequence, previous=state.manifest_sha256, now=now, signer=signer,
                             codes=code_lines(rows), code_count=len(rows), receipt=batches)
        sha = hashlib.sha256(members[0]).hexdigest()
        tmp = out_dir / f".{final.name}.partial"
        tmp.unlink(missing_ok=True)
        try:
            _write(tmp, members)
        except OSError as exc:
            raise StateError(f'cannot write in "{out_dir}": {os_cause(exc)}') from None
        d = _dir(home)
        write_private_file(d / f"{source}.journal.json", msgspec.json.encode(
            FeedJournal(source=source, sequence=sequence, manifest_sha256=sha, path=str(final))))
        try:
            os.link(tmp, final)
        except FileExistsError:
            tmp.unlink(missing_ok=True)
            (d / f"{source}.journal.json").unlink(missing_ok=True)
            raise StateError(f'status feed "{final}" appeared while exporting; not overwriting it') from None
        tmp.unlink()
        fsync_dir(out_dir)
        write_private_file(d / f"{source}.json", msgspec.json.encode(FeedState(source=source, sequence=sequence, manifest_sha256=sha)))
        (d / f"{source}.journal.json").unlink()
        fsync_dir(d)
    return FeedExportReport(file=final.name, path=str(final), source=source, sequence=sequence, manifest_sha256=sha,
                            codes=len(rows), batches=len(batches), created_at=utc_stamp(now), recovered=recovered)
