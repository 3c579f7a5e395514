"""``feed import`` at the intake: verify a ``.status`` file, keep its codes for ``status
CODE``, confirm the batches its receipt names and purge them from ``SPOOL.done/``.

Only a batch the *current* receipt names, with the same source, sequence and manifest
hash as the intake's register recorded when it sealed it, is ever purged: a receipt
naming a batch with another manifest hash (a fork, or another intake's batch of the
same name) is reported as ``mismatch`` and nothing of it is touched.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from cluetool.batch.chain import ChainLink, check_chain
from cluetool.batch.done import pending_purges, purge_batch, utc_stamp
from cluetool.batch.register import Register, SealedBatchRow
from cluetool.batch.sealstate import FileLock
from cluetool.config import Home, make_private_dir, shown, text_path
from cluetool.errors import StateError
from cluetool.feed.intakedb import IntakeFeed, db_path
from cluetool.feed.reader import AuthenticatedFeed, FeedFormatError, parse_codes, parse_receipt, read_feed
from cluetool.formats import minisign
from cluetool.keys import trusted_keys
from cluetool.model.batch import SOURCE_RE, batch_file_name
from cluetool.model.feed import ConfirmedBatch, FeedImportReport, FeedProblem, ReceiptBatch


def trusted_signers(home: Home, *, now: datetime) -> list[tuple[str, minisign.PublicKey]]:
    """(source, key) for every signer key the home trusts now, whatever the source."""
    out: list[tuple[str, minisign.PublicKey]] = []
    try:
        sources = sorted(p.name for p in home.trusted_dir.iterdir() if p.is_dir() and SOURCE_RE.fullmatch(p.name))
    except FileNotFoundError:
        return out
    for source in sources:
        out += [(source, k) for k in trusted_keys(home, source, now=now)]
    return out


def purge_log(home: Home) -> Path:
    return home.state_dir / "feed" / "purge.log"


def import_feed(
    home: Home, path: Path, *, now: datetime, keep_done: bool = False, allow_gap: bool = False, wait: float = 10.0,
    on_purged: Callable[[ConfirmedBatch], None] = lambda _b: None,
) -> FeedImportReport:
    """Verify and import one ``.status`` file (see the module docstring); a feed already
    imported is a no-op that still finishes any purge a kill interrupted.

    Raises:
        InputError: the file cannot be read or is not a ustar archive (exit 2).
        StateError: home, register or feed database unusable. BusyError: locked.
    """
    home.check()
    make_private_dir(db_path(home).parent)
    with FileLock(db_path(home).parent / "import.lock", wait=wait, message="another feed import is running"):
        report = FeedImportReport(ok=False, file=path.name, status="refused")
        try:
            feed = read_feed(path, trusted_signers(home, now=now))
        except FeedFormatError as exc:
            report.problems.append(FeedProblem(file=path.name, code=exc.code, message=exc.message))
            return report
        m = feed.manifest
        report.source, report.sequence, report.manifest_sha256 = m.source, m.sequence, feed.manifest_sha256
        report.created_at, report.codes = m.created_at, m.counts.codes
        with IntakeFeed(home, wait=wait) as db:
            problem = _accept(db, feed, now=now, allow_gap=allow_gap, report=report)
            if problem is not None:
                report.problems.append(problem)
                return report
            receipt = db.receipt()
        report.ok = True
        _apply_receipt(home, receipt, feed.name, now=now, keep_done=keep_done, report=report, on_purged=on_purged)
        report.ok = not report.problems
        return report


def _accept(db: IntakeFeed, feed: AuthenticatedFeed, *, now: datetime, allow_gap: bool,
            report: FeedImportReport) -> FeedProblem | None:
    m = feed.manifest
    fixed = db.feed_source()
    if fixed is not None and fixed != m.source:
        return FeedProblem(file=feed.name, code="feed.source",
                           message=f"this intake takes its status feed from {fixed}, not {m.source}")
    last = db.last(m.source)
    if last is not None and last.sequence == m.sequence and last.manifest_sha256 == feed.manifest_sha256:
        report.status = "already_imported"
        return None
    link = ChainLink(batch=feed.name, source=m.source, sequence=m.sequence, manifest_sha256=feed.manifest_sha256,
                     previous=m.previous, position=0)
    chain = check_chain([link], start=lambda _s: last, accepted=db.accepted, allow_gap=allow_gap)
    if chain:
        hint = " (pass --allow-gap to accept it: each feed is a full snapshot)" if chain[0].code == "chain.gap" else ""
        return FeedProblem(file=feed.name, code=chain[0].code, message=chain[0].message.replace("sequence", "feed sequence", 1) + hint)
    try:
        codes, receipt = parse_codes(feed), parse_receipt(feed)
    except FeedFormatError as exc:
        return FeedProblem(file=feed.name, code=exc.code, message=exc.message)
    db.accept(m, feed.manifest_sha256, feed.name, imported_at=utc_stamp(now), codes=codes, receipt=receipt)
    report.status = "imported"
    return None


def _apply_receipt(
    home: Home, receipt: list[ReceiptBatch], feed_name: str, *, now: datetime, keep_done: bool,
    report: FeedImportReport, on_purged: Callable[[ConfirmedBatch], None],
) -> None:
    named = {batch_file_name(b.source, b.sequence): b for b in receipt}
    with Register(home) as register:
        rows = {r.batch: r for r in register.batches()}
        matching = []
        for name, b in named.items():
            row = rows.get(name)
            if row is None:
                continue  # another intake's batch: the receipt names every batch imported
            if row.source != b.source or row.manifest_sha256 != b.manifest_sha256:
                report.batches.append(ConfirmedBatch(batch=name, source=b.source, sequence=b.sequence, status="mismatch",
                                                     done_dir=row.done_dir))
                report.problems.append(FeedProblem(file=feed_name, code="receipt.mismatch", message=(
                    f"the receipt names {name} with manifest {b.manifest_sha256[:16]}…, this intake sealed "
                    f"{row.manifest_sha256[:16]}…: not purged")))
                continue
            matching.append(name)
        register.confirm([n for n in matching if rows[n].confirmed_at is None], at=utc_stamp(now), by=feed_name)
        todo = [r for r in pending_purges(register) if r.batch in matching]
        for row in todo:
            if keep_done:
                kept = _entries(row)
                if kept:
                    report.batches.append(ConfirmedBatch(batch=row.batch, source=row.source, sequence=row.sequence,
                                                         status="kept", submissions=kept, done_dir=row.done_dir))
                continue
            _purge_one(register, row, home, now, report, feed_name, on_purged)


def _entries(row: SealedBatchRow) -> int:
    d = text_path(row.done_dir)
    return sum(1 for _ in d.iterdir()) if d.is_dir() else 0


def _purge_one(register: Register, row: SealedBatchRow, home: Home, now: datetime, report: FeedImportReport,
               feed_name: str, on_purged: Callable[[ConfirmedBatch], None]) -> None:
    try:
        count = purge_batch(register, row, now=now, log=purge_log(home))
    except OSError as exc:  # one batch's problem stops only its purge
        report.problems.append(FeedProblem(file=feed_name, code="purge.failed", message=(
            f'cannot purge {row.batch} from "{shown(row.done_dir)}": {exc.strerror or exc}; it stays whole, feed import again after fixing it')))
        return
    done = ConfirmedBatch(batch=row.batch, source=row.source, sequence=row.sequence, status="purged",
                          submissions=count, done_dir=row.done_dir)
    report.batches.append(done)
    on_purged(done)


def has_feed(home: Home) -> bool:
    """Whether a status feed was ever imported into this home (an intake)."""
    return db_path(home).is_file()


def intake_stage(home: Home, query_code_sha256: str) -> tuple[str, str] | None:
    """(stage, feed time) for a query-code hash from the intake's latest feed; None when
    the feed does not name it.

    Raises:
        StateError: no feed was imported in this home.
    """
    if not has_feed(home):
        raise StateError(f'no status feed in "{home.root}"',
                         hint="at the intake, import a .status file from the internal side: cluetool feed import FILE")
    with IntakeFeed(home, readonly=True) as db:
        latest = db.latest()
        stage = db.stage_of(query_code_sha256)
    if latest is None or stage is None:
        return None
    return stage, latest[2]


__all__ = ["has_feed", "import_feed", "intake_stage", "purge_log", "trusted_signers"]
