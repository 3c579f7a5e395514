"""``audit verify --export``: an ``audit export`` directory checked with no store and no
home (docs/audit.md), optionally against an earlier export (``--previous``)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import msgspec

from cluetool.audit.checkpoints import TrustedKeys, key_fingerprint, read_key_file, read_key_files, split_note
from cluetool.audit.engine import AuditReport, Progress, _Engine, _Findings, _report, _Target, _check_targets, no_gc
from cluetool.audit.verify import Witnessed, _open, _origins, witnessed_targets
from cluetool.errors import InputError
from cluetool.formats.merkle import InvalidProof, consistency_ranges, verify_consistency
from cluetool.formats.note import Checkpoint, NoteError
from cluetool.store import audit_queries as sql

class ExportedCheckpoint(msgspec.Struct, kw_only=True):
    """One line of an export's ``checkpoints.jsonl``."""

    id: int
    at: str
    size: int
    note: str


ENTRIES = "entries.jsonl"


CHECKPOINT = "checkpoint.txt"


CHECKPOINTS = "checkpoints.jsonl"


KEY_FILE = "key.pub"


def export_keys(directory: Path, key_files: Sequence[Path] = (), *, fingerprints: Sequence[str] = (),
                trust_export_key: bool = False) -> tuple[TrustedKeys, str | None]:
    """The keys to verify an export with, and a warning to show (or ``None``).

    The key shipped inside an export cannot vouch for it (whoever forged the export
    wrote that key too): a key file inside ``directory`` is refused, and so is using
    none, unless ``trust_export_key``. A key fingerprint (``key_fingerprint``: SHA-256 of
    the raw Ed25519 key, at least 32 hex digits) obtained out of band admits the
    export's ``key.pub`` when it matches.

    Raises:
        InputError: no out-of-band key, a key file inside the export, a fingerprint
            that does not match, or an unreadable key.
    """
    inside = Path(directory).resolve()
    own = [p for p in key_files if inside == Path(p).resolve().parent or inside in Path(p).resolve().parents]
    if own and not trust_export_key:
        raise InputError(f'the key "{own[0]}" comes with the export, so it cannot vouch for it',
                         hint="give the log's key obtained out of band (--key FILE or --key-fingerprint SHA256), "
                              "or --trust-export-key to accept a forged export as well")
    keys = read_key_files(list(key_files))
    warning = None
    for fp in fingerprints:
        fp = fp.strip().lower()
        if len(fp) < 32 or any(c not in "0123456789abcdef" for c in fp):
            raise InputError(f"--key-fingerprint {fp!r} is not at least 32 hex digits")
        shipped = read_key_file(Path(directory) / KEY_FILE)
        match = [k for k in shipped.raw if key_fingerprint(k).startswith(fp)]
        if not match:
            raise InputError(f"the export's {KEY_FILE} does not have the fingerprint {fp}",
                             hint="the export may be forged: ask the log's operator for its key")
        keys.raw += match
    if not keys and trust_export_key:
        keys = read_key_file(Path(directory) / KEY_FILE)
    if trust_export_key and (own or not key_files and not fingerprints):
        warning = (f"trusting the key shipped inside the export ({KEY_FILE}): "
                   "a forged export verifies with its own key")
    if not keys:
        raise InputError("verifying an export needs the log's key obtained out of band",
                         hint="give --key FILE or --key-fingerprint SHA256 (or --trust-export-key, unsafe)")
    return keys, warning


def _read_text(path: Path, what: str) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(f'not an audit export: no {what} "{path}"') from None
    except (OSError, UnicodeDecodeError):
        raise InputError(f'cannot read {what} "{path}"') from None


def _export_checkpoints(directory: Path) -> list[tuple[int | None, str, str]]:
    """``(id, label, note)`` of the export's checkpoints, the latest last."""
    latest = _read_text(directory / CHECKPOINT, "checkpoint")
    out: list[tuple[int | None, str, str]] = []
    path = directory / CHECKPOINTS
    if path.exists():
        for number, line in enumerate(_read_text(path, "checkpoint list").splitlines(), 1):
            try:
                c = msgspec.json.decode(line, type=ExportedCheckpoint)
            except msgspec.MsgspecError:
                raise InputError(f'cannot read "{path}": line {number} is not a checkpoint record') from None
            out.append((c.id, f"checkpoint {c.id} (signed {c.at})", c.note))
    if not out or out[-1][2] != latest:
        out.append((None, f"the export's {CHECKPOINT}", latest))
    return out


def _iter_lines(path: Path, f: _Findings) -> Iterator[list[tuple[int | None, bytes, bytes | None]]]:
    try:
        fh = open(path, "rb")
    except FileNotFoundError:
        raise InputError(f'not an audit export: no entries file "{path}"') from None
    except OSError as exc:
        raise InputError(f'cannot read "{path}": {exc.strerror}') from None
    position = 0
    with fh:
        while True:
            lines = fh.readlines(1 << 20)
            if not lines:
                return
            chunk: list[tuple[int | None, bytes, bytes | None]] = []
            for line in lines:
                if line.endswith(b"\n"):
                    line = line[:-1]
                else:
                    f.add("audit.noncanonical", f"entry {position} is not terminated by a newline", seq=position)
                chunk.append((None, line, None))
                position += 1
                if len(chunk) == sql.CHUNK:
                    yield chunk
                    chunk = []
            if chunk:
                yield chunk


def _verify_export_into(directory: Path, keys: TrustedKeys, f: _Findings, *, progress: Progress | None,
                        ranges: list[tuple[int, int]] = (),  # type: ignore[assignment]
                        against: Sequence[Witnessed] = ()) -> tuple[_Engine, bytes, list[_Target], int, int]:
    directory = Path(directory)
    if not directory.is_dir():
        raise InputError(f'not an audit export: "{directory}" is not a directory')
    targets: list[_Target] = []
    opened: list[tuple[Checkpoint, str, int | None]] = []
    verified = 0
    for ident, label, note in _export_checkpoints(directory):
        before = f.counts.get("audit.checkpoint_signature", 0)
        cp = _open(note, keys, label, ident, f)
        if cp is None:
            continue
        if f.counts.get("audit.checkpoint_signature", 0) == before:
            verified += 1
        opened.append((cp, label, ident))
        targets.append(_Target(ident, cp.size, cp.root, label))
    extra = witnessed_targets(against, keys, f, opened)
    _origins(opened, f)
    engine = _Engine(f, [t.size for t in targets + extra], list(ranges))
    total = (directory / ENTRIES).stat().st_size if (directory / ENTRIES).exists() else 0
    done = 0
    with no_gc():
        for chunk in _iter_lines(directory / ENTRIES, f):
            engine.feed(chunk)
            done += sum(len(c[1]) + 1 for c in chunk)
            if progress is not None:
                progress(min(done, total), total)
    root = engine.finish()
    _check_targets(engine, targets + extra, f)
    if targets and engine.position > targets[-1].size:
        f.add("audit.extra_entries", f"the export holds {engine.position} entries but its checkpoint covers "
              f"{targets[-1].size}: entries {targets[-1].size}.. are not signed", seq=targets[-1].size)
    return engine, root, targets, verified, len(extra)


def verify_export(directory: Path, keys: TrustedKeys, *, previous: Path | None = None,
                  against: Sequence[Witnessed] = (), progress: Progress | None = None) -> AuditReport:
    """Verify an ``audit export`` directory with no store: every entry, the tree, the
    checkpoints' signatures and roots. With ``previous`` (an earlier export of the same
    log), also that the earlier export's entries are an exact prefix of this one's and
    that a consistency proof links the two latest checkpoints. ``against``: checkpoints
    held elsewhere that the export must extend (as ``verify_store``).

    Raises:
        InputError: no key given, or the directory is not an export.
    """
    if not keys:
        raise InputError("no public key to check the checkpoints with (--key FILE)")
    f = _Findings()
    ranges: list[tuple[int, int]] = []
    old_cp: Checkpoint | None = None
    if previous is not None:
        pf = _Findings()
        _verify_export_into(Path(previous), keys, pf, progress=None)
        for x in pf.done():
            f.add(x.code, f"previous export: {x.message}", seq=x.seq, checkpoint=x.checkpoint, severity=x.severity)
        old_notes = _export_checkpoints(Path(previous))
        try:
            old_cp = split_note(old_notes[-1][2])
        except NoteError:
            old_cp = None
    new_notes = _export_checkpoints(Path(directory))
    try:
        new_cp: Checkpoint | None = split_note(new_notes[-1][2])
    except NoteError:
        new_cp = None
    if old_cp is not None and new_cp is not None and old_cp.size <= new_cp.size:
        ranges = consistency_ranges(old_cp.size, new_cp.size)
    engine, root, targets, verified, extra = _verify_export_into(Path(directory), keys, f, progress=progress,
                                                                 ranges=ranges, against=against)
    if previous is not None and old_cp is not None and new_cp is not None:
        _compare_previous(Path(previous), Path(directory), old_cp, new_cp, engine, f)
    latest = targets[-1].size if targets else None
    return _report(f, engine, root, len(targets), verified, latest, witnessed=extra)


def _compare_previous(previous: Path, directory: Path, old: Checkpoint, new: Checkpoint, engine: _Engine,
                      f: _Findings) -> None:
    if old.origin != new.origin:
        f.add("audit.origin", f"the previous export is of log {old.origin!r}, this one of {new.origin!r}")
    if old.size > new.size:
        f.add("audit.truncated", f"the previous export's checkpoint signed {old.size} entries, this one only "
              f"{new.size}: entries {new.size}..{old.size - 1} are gone", seq=new.size)
        return
    # The earlier export's entries must be an exact prefix of this one's.
    with open(previous / ENTRIES, "rb") as a, open(directory / ENTRIES, "rb") as b:
        for seq, (x, y) in enumerate(zip(a, b)):
            if seq >= old.size:
                break
            if x != y:
                f.add("audit.prefix_mismatch", f"entry {seq} differs from the previous export's", seq=seq)
    # And the signed heads must be linked by a consistency proof (RFC 9162 §2.1.4).
    proof = [engine.range_hashes.get(r) for r in consistency_ranges(old.size, new.size)]
    try:
        if any(p is None for p in proof):
            raise InvalidProof("the export is too short to build the proof")
        verify_consistency(old.size, new.size, proof, old.root, new.root)  # type: ignore[arg-type]
    except InvalidProof as exc:
        f.add("audit.inconsistent", f"the previous checkpoint ({old.size} entries) is not consistent with this one "
              f"({new.size} entries): {exc}", seq=0)
