"""``sample``: the monthly callback draw (回访) from the store, recorded in the audit log,
and its offline check from an audit export (``sample --verify``); docs/supervision.md.

The draw is one write transaction: the latest checkpoint, the eligible ids, the ranking,
the ``sample.draw`` audit entry and the stored draw, so a draw is either recorded whole
or not at all. A second draw of a month needs ``redraw`` with a reason, which the log
keeps only as an HMAC under the home's audit secret (as ``record --note``).
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import msgspec

from cluetool.audit.checkpoints import TrustedKeys, split_note
from cluetool.audit.export_verify import CHECKPOINTS, ENTRIES, ExportedCheckpoint, export_keys, verify_export
from cluetool.config import Home, resolve_home, write_private_file
from cluetool.errors import InputError, StateError
from cluetool.formats.canonical import dumps
from cluetool.formats.note import NoteError
from cluetool.home import open_store
from cluetool.keys.audit_secret import audit_secret, keyed_text
from cluetool.store import Store
from cluetool.store import audit_queries as sql
from cluetool.store import supervision as q
from cluetool.store.audit_entries import append_entry, format_time
from cluetool.supervision import draw as d

ACTOR = "cluetool-sample"
SAMPLE_SCHEMA = "cluetool.sample/1"
VERIFY_SCHEMA = "cluetool.sample-verify/1"


class DrawnClue(msgspec.Struct, frozen=True, kw_only=True):
    """One clue of the sample: its id, handling unit and masked phone (if any)."""

    rank: int
    clue: str
    unit: str | None
    phone: str | None


class SampleResult(msgspec.Struct, kw_only=True):
    """What ``sample`` shows: the draw's facts and the clues to call back."""

    month: str
    seed_size: int
    seed_root: str
    eligible: int
    eligible_sha256: str
    drawn: int
    audit_seq: int
    redraw: bool
    out: str | None
    clues: list[DrawnClue]
    schema: str = SAMPLE_SCHEMA


class VerifyProblem(msgspec.Struct, frozen=True, kw_only=True):
    code: str
    message: str


class SampleCheck(msgspec.Struct, kw_only=True):
    """The auditor's recomputation of a draw: ``ok`` when every check passed;
    ``not_derivable`` counts eligible ids whose import entry predates the eligibility
    facts (taken on the draw file's word, checked only to be imported reports)."""

    ok: bool
    month: str
    eligible: int
    derived: int
    not_derivable: int
    drawn: int
    findings: list[VerifyProblem]
    schema: str = VERIFY_SCHEMA


def _open(home: Home | Path | None, wait: float, *, readonly: bool = False) -> Store:
    return open_store(home if isinstance(home, Home) else resolve_home(home), wait=wait, readonly=readonly)


def draw_sample(home: Home | Path | None, *, month: str, size: int | None, rate: str | None, now: datetime,
                redraw: bool = False, reason: str | None = None, out: Path | None = None,
                wait: float = 10.0) -> SampleResult:
    """Draw the callback sample of ``month`` and record it (docs/supervision.md).

    Raises:
        InputError: bad month, size or rate; a month drawn already without ``redraw``;
            ``redraw`` without a reason.
        StateError: no signed checkpoint to seed the draw; an unusable store.
    """
    d.parse_month(month)
    if (size is None) == (rate is None):
        raise InputError("give exactly one of --size N or --rate P")
    if size is not None and size < 1:
        raise InputError(f"--size: {size} is not a positive number")
    if rate is not None:
        d.parse_rate(rate)
    if redraw and not (reason or "").strip():
        raise InputError("--redraw needs --reason TEXT (it is kept in the audit log as an HMAC)")
    if reason is not None and not redraw:
        raise InputError("--reason is for --redraw only")
    home = home if isinstance(home, Home) else resolve_home(home)
    tz = home.config().timezone
    start, end = d.month_bounds(month, tz)
    secret = audit_secret(home) if redraw else b""
    with _open(home, wait) as store, store.write() as tx:
        before = q.draws_of_month(tx, month)
        if before and not redraw:
            raise InputError(f"the callback sample of {month} was drawn already (audit entry {before[-1].audit_seq})",
                             hint="draw again only with --redraw --reason TEXT")
        latest = sql.latest_checkpoint(tx)  # type: ignore[arg-type]
        if latest is None:
            raise StateError("no signed checkpoint of the audit log to seed the draw",
                             hint="run: cluetool audit checkpoint")
        eligible = q.callback_eligible(tx, format_time(start), format_time(end))
        drawn = d.select(eligible, root=latest.root, month=month, size=size, rate=rate)
        seed = d.Seed(id=latest.id, size=latest.size, root=latest.root.hex(), at=latest.at)
        digest = d.commitment(eligible)
        reason_mac = keyed_text(secret, reason) if redraw and reason is not None else None
        entry = append_entry(tx, at=now, actor=ACTOR, action="sample.draw", object=f"sample:{month}", details={
            "algorithm": d.ALGORITHM, "month": month, "timezone": tz, "seed_checkpoint": seed.id,
            "seed_size": seed.size, "seed_root": seed.root, "eligible_count": len(eligible),
            "eligible_sha256": digest, "size": size, "rate": rate, "drawn": drawn, "redraw": redraw,
            "reason_hmac_sha256": reason_mac,
        })
        draw = d.Draw(algorithm=d.ALGORITHM, month=month, timezone=tz, seed=seed, eligible=sorted(eligible),
                      eligible_count=len(eligible), eligible_sha256=digest, size=size, rate=rate, drawn=drawn,
                      drawn_at=format_time(now), audit_seq=entry.seq, redraw=redraw, reason_hmac_sha256=reason_mac)
        data = dumps(msgspec.to_builtins(draw))
        q.insert_draw(tx, month=month, drawn_at=format_time(now), audit_seq=entry.seq, draw=data)
        details = q.drawn_clues(tx, drawn)
    if out is not None:
        write_private_file(Path(out), data + b"\n", mode=0o644)
    return SampleResult(month=month, seed_size=seed.size, seed_root=seed.root, eligible=len(eligible),
                        eligible_sha256=digest, drawn=len(drawn), audit_seq=entry.seq, redraw=redraw,
                        out=str(out) if out is not None else None, clues=_clues(drawn, details))


def show_draw(home: Home | Path | None, *, month: str, out: Path | None = None, wait: float = 10.0) -> SampleResult:
    """The latest recorded draw of ``month`` (again, e.g. to write its file).

    Raises:
        InputError: no draw of that month.
    """
    d.parse_month(month)
    with _open(home, wait, readonly=True) as store, store.read() as tx:
        rows = q.draws_of_month(tx, month)
        if not rows:
            raise InputError(f"no callback sample of {month} has been drawn", hint=f"run: cluetool sample --month {month} --size N")
        draw = d.read_draw(rows[-1].draw, f"draw of {month}")
        details = q.drawn_clues(tx, draw.drawn)
    if out is not None:
        write_private_file(Path(out), rows[-1].draw + b"\n", mode=0o644)
    return SampleResult(month=month, seed_size=draw.seed.size, seed_root=draw.seed.root, eligible=draw.eligible_count,
                        eligible_sha256=draw.eligible_sha256, drawn=len(draw.drawn), audit_seq=draw.audit_seq,
                        redraw=draw.redraw, out=str(out) if out is not None else None,
                        clues=_clues(draw.drawn, details))


class _Phones(msgspec.Struct):
    class _Ind(msgspec.Struct):
        mobile: str | None = None

    class _Unit(msgspec.Struct):
        phone: str | None = None

    class _Contact(msgspec.Struct):
        phone: str | None = None

    class _Reporter(msgspec.Struct):
        individual: _Phones._Ind | None = None
        unit: _Phones._Unit | None = None
        contact: _Phones._Contact | None = None

    reporter: _Reporter


def _phone(report_json: bytes) -> str | None:
    try:
        r = msgspec.json.decode(report_json, type=_Phones).reporter
    except (msgspec.DecodeError, msgspec.ValidationError):
        return None
    for phone in (r.individual and r.individual.mobile, r.unit and r.unit.phone, r.contact and r.contact.phone):
        if phone:
            return d.mask_phone(phone)
    return None


def _clues(drawn: list[str], details: dict[str, tuple[str | None, bytes]]) -> list[DrawnClue]:
    out = []
    for i, sid in enumerate(drawn, 1):
        unit, raw = details.get(sid, (None, b""))
        out.append(DrawnClue(rank=i, clue=sid, unit=unit, phone=_phone(raw) if raw else None))
    return out


# -- the auditor's side: no store, no home --------------------------------------------------


class _Entry(msgspec.Struct):
    seq: int
    at: str
    action: str
    obj: str = msgspec.field(name="object")
    details: dict[str, Any] = {}


def verify_draw_files(draw_file: Path, export_dir: Path | None, key_files: list[Path]) -> SampleCheck:
    """``sample --verify``: as ``verify_draw``, the log's key read from ``key_files``
    (obtained out of band: a key inside the export is refused).

    Raises:
        InputError: as ``verify_draw``; no key, an unreadable key, a key from the export.
    """
    if export_dir is None:
        raise InputError("--verify needs the audit export to recompute from (--export DIR)")
    if not key_files:
        raise InputError("--verify needs the log's public key (--key FILE)")
    keys, _ = export_keys(Path(export_dir), key_files)
    return verify_draw(draw_file, export_dir, keys)


def verify_draw(draw_file: Path, export_dir: Path, keys: TrustedKeys) -> SampleCheck:
    """Recompute a draw from an audit export (docs/supervision.md, "Checking a draw").

    Raises:
        InputError: the draw file or export cannot be read; no key.
    """
    try:
        raw = Path(draw_file).read_bytes()
    except OSError as exc:
        raise InputError(f'cannot read draw file "{draw_file}": {exc.strerror}') from None
    draw = d.read_draw(raw, str(draw_file))
    problems: list[VerifyProblem] = []

    def fail(code: str, message: str) -> None:
        problems.append(VerifyProblem(code=code, message=message))

    audit = verify_export(Path(export_dir), keys)
    for f in audit.findings:
        if f.severity == "error":
            fail("sample.export", f"the audit export does not verify: {f.code}: {f.message}")
    checkpoints = _checkpoints(Path(export_dir))
    _check_seed(draw, checkpoints, fail)
    derived, unknown, entry = _scan_entries(Path(export_dir), draw)
    if entry is None:
        fail("sample.entry_missing", f"the export holds no entry {draw.audit_seq} (the draw's): "
             "export again after an audit checkpoint")
    else:
        _check_entry(draw, entry, fail)
    listed = set(draw.eligible)
    if len(listed) != len(draw.eligible) or draw.eligible != sorted(listed):
        fail("sample.eligible_list", "the eligible ids are not a sorted list without repeats")
    if draw.eligible_count != len(draw.eligible) or d.commitment(draw.eligible) != draw.eligible_sha256:
        fail("sample.eligible_commitment", "the eligible ids do not match the draw's count and eligible_sha256")
    missing = sorted(set(derived) - listed)
    if missing:
        fail("sample.eligible_left_out", f"{len(missing)} eligible report(s) of {draw.month} left out of the draw, "
             f"e.g. {missing[0]}")
    extra = sorted(listed - set(derived) - set(unknown))
    if extra:
        fail("sample.eligible_extra", f"{len(extra)} id(s) listed as eligible are not eligible reports imported "
             f"before the draw, e.g. {extra[0]}")
    try:
        recomputed = d.select(draw.eligible, root=bytes.fromhex(draw.seed.root), month=draw.month,
                              size=draw.size, rate=draw.rate)
    except (ValueError, InputError):
        recomputed = []
        fail("sample.parameters", "the draw's seed root, size or rate cannot be used")
    if recomputed != draw.drawn:
        fail("sample.drawn_mismatch", f"the drawn ids differ from the recomputed draw "
             f"({len(draw.drawn)} listed, {len(recomputed)} recomputed, "
             f"{len(set(draw.drawn) ^ set(recomputed))} differ or are reordered)"
             if set(recomputed) != set(draw.drawn) else "the drawn ids are in another order than the ranking")
    not_derivable = len(listed & set(unknown))
    return SampleCheck(ok=not problems, month=draw.month, eligible=len(draw.eligible), derived=len(derived),
                       not_derivable=not_derivable, drawn=len(draw.drawn), findings=problems)


def _checkpoints(directory: Path) -> list[ExportedCheckpoint]:
    try:
        lines = (directory / CHECKPOINTS).read_bytes().splitlines()
        return [msgspec.json.decode(line, type=ExportedCheckpoint) for line in lines if line.strip()]
    except (OSError, msgspec.DecodeError, msgspec.ValidationError):
        return []


def _check_seed(draw: d.Draw, checkpoints: list[ExportedCheckpoint], fail) -> None:  # type: ignore[no-untyped-def]
    seed = next((c for c in checkpoints if c.id == draw.seed.id), None)
    if seed is None:
        fail("sample.seed_missing", f"checkpoint {draw.seed.id} (the draw's seed) is not in the export")
        return
    try:
        cp = split_note(seed.note)
    except NoteError:
        fail("sample.seed_missing", f"checkpoint {draw.seed.id} cannot be read")
        return
    if cp.size != draw.seed.size or cp.root.hex() != draw.seed.root:
        fail("sample.seed_mismatch", f"checkpoint {draw.seed.id} signs size {cp.size} root {cp.root.hex()}, "
             f"the draw names size {draw.seed.size} root {draw.seed.root}")
    if draw.seed.size > draw.audit_seq:
        fail("sample.seed_after_draw", "the seed checkpoint covers the draw's own entry")
    later = [c for c in checkpoints if c.id > draw.seed.id and c.size <= draw.audit_seq]
    if later:
        fail("sample.seed_not_latest", f"checkpoint {later[-1].id} was signed before the draw and after its seed: "
             "the draw was not seeded from the latest checkpoint")


def _scan_entries(directory: Path, draw: d.Draw) -> tuple[list[str], list[str], _Entry | None]:
    """Eligible ids derived from the ``report.import`` entries before the draw's entry,
    ids imported before it whose entry has no eligibility facts, and the draw's entry."""
    start, end = d.month_bounds(draw.month, draw.timezone)
    lo, hi = format_time(start), format_time(end)
    derived: list[str] = []
    unknown: list[str] = []
    found: _Entry | None = None
    decoder = msgspec.json.Decoder(_Entry)
    try:
        with open(directory / ENTRIES, "rb") as fh:
            for line in fh:
                try:
                    e = decoder.decode(line)
                except (msgspec.DecodeError, msgspec.ValidationError):
                    continue  # verify_export names it
                if e.seq >= draw.audit_seq:
                    if e.seq == draw.audit_seq:
                        found = e
                    break
                if e.action != "report.import":
                    continue
                at, callback = e.details.get("received_at"), e.details.get("callback")
                if not isinstance(at, str) or not isinstance(callback, bool):
                    unknown.append(e.obj)
                elif callback and lo <= at < hi:
                    derived.append(e.obj)
    except OSError as exc:
        raise InputError(f'cannot read "{directory / ENTRIES}": {exc.strerror}') from None
    return derived, unknown, found


def _check_entry(draw: d.Draw, e: _Entry, fail) -> None:  # type: ignore[no-untyped-def]
    want = {"algorithm": draw.algorithm, "month": draw.month, "timezone": draw.timezone,
            "seed_checkpoint": draw.seed.id, "seed_size": draw.seed.size, "seed_root": draw.seed.root,
            "eligible_count": draw.eligible_count, "eligible_sha256": draw.eligible_sha256, "size": draw.size,
            "rate": draw.rate, "drawn": draw.drawn, "redraw": draw.redraw,
            "reason_hmac_sha256": draw.reason_hmac_sha256}
    if e.action != "sample.draw" or e.obj != f"sample:{draw.month}":
        fail("sample.entry_mismatch", f"entry {e.seq} is {e.action} of {e.obj}, not the draw of {draw.month}")
        return
    differ = sorted(k for k, v in want.items() if e.details.get(k) != v)
    if differ:
        fail("sample.entry_mismatch", f"the draw file differs from audit entry {e.seq} in: {', '.join(differ)}")


__all__ = ["DrawnClue", "SampleCheck", "SampleResult", "draw_sample", "show_draw", "verify_draw", "verify_draw_files"]
