"""Submission and spool validation (schemas/report.schema.json): every problem, as one Finding each.

A *submission* is a directory holding ``report.json`` and the attachment files it names;
a *spool* is a directory of submissions. ``validate_paths`` takes either.

How a ``report.json`` is checked, so that all problems are reported and not only the
first one msgspec meets:

1. read with ``O_NOFOLLOW`` (a symlinked ``report.json`` is a finding), at most
   ``REPORT_MAX_BYTES`` (1 MiB; a report is a few kB, attachments are separate files);
2. UTF-8 without a byte order mark (RFC 8259 §8.1: a BOM is reported, then ignored so
   the other checks still run), strict JSON (no NaN, no trailing data), no duplicate
   keys in any object (msgspec keeps the last one silently: the keys written are
   counted in the text and compared with the keys decoded, and only on a difference a
   second parse with ``object_pairs_hook`` names the key);
3. every string NFKC-normalised and stripped (``cluetool.model.report.normalise_strings``):
   a report that is only fine after normalisation is valid; the bytes are kept as-is
   and ``report_sha256`` is the hash of the bytes on disk;
4. the schema, walked field by field over the Struct types (unknown and missing fields,
   wrong types, dropdown values, lengths), each leaf checked with ``msgspec.convert``;
   a well-formed report takes a fast path of one ``msgspec.convert``;
5. the field rules of ``cluetool.validate.fields`` on every block that passed 4;
6. the attachments, by ``cluetool.validate.attachments.check_attachments``;
7. every string, as decoded, for control, bidirectional, zero-width, private-use and
   unassigned characters (``cluetool.text``);
8. at most ``MAX_FINDINGS`` (100) findings per submission are kept, in order; when there
   are more, one ``findings.truncated`` finding (an error when any dropped finding is
   one, else a warning) gives the total.

Finding codes added here (stable API): ``report.missing`` (no report.json),
``report.not_regular`` (symlink, directory, device), ``report.unreadable``,
``report.too_large``, ``report.encoding`` (not UTF-8), ``report.bom``,
``report.json_invalid``, ``report.too_deep`` (nesting over ``MAX_DEPTH`` = 32),
``report.duplicate_key``, ``report.schema`` (type, length,
pattern; the message is msgspec's), ``report.schema_version`` (``schema`` is not
``cluetool.report/1``), ``report.unknown_field``, ``report.missing_field``,
``report.dropdown_value`` (a value not in a dropdown, including ``kind`` and a
subject's ``type``), ``submission.unreadable``, ``findings.truncated``; at spool level ``spool.stray_entry``
(a file, symlink or device among the submission directories), and
``spool.duplicate_submission_id`` (two submissions with one ``submission_id``).
Hidden entries (names starting with ``.``) at spool level are ignored: the intake
writes ``.tmp-*`` directories and renames them into place when complete.
"""

from __future__ import annotations

import errno
import functools
import hashlib
import json
import os
import re
import stat
import types
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, Union, get_args, get_origin

import msgspec

from cluetool.config import Limits, shown
from cluetool.errors import FindingsError, InputError
from cluetool.model.findings import Finding
from cluetool.model.report import (
    REPORT_TYPES,
    SCHEMA,
    Attachment,
    PoliceMisconductReport,
    nfkc,
    normalise_strings,
)
from cluetool.validate import fields
from cluetool.validate.attachments import check_attachments
from cluetool.text import classify, escape, text_problems

REPORT_FILE = "report.json"
REPORT_MAX_BYTES = 1024 * 1024
#: A report nests about 6 levels; anything much deeper is hostile.
MAX_DEPTH = 32
#: Findings kept per submission; the rest are counted in one ``findings.truncated``.
MAX_FINDINGS = 100
VALIDATE_SCHEMA = "cluetool.validate/1"
_BOM = b"\xef\xbb\xbf"
_AT_RE = re.compile(r" - at `\$[^`]*`$")
_KIND_FIELDS = ("subjects", "facts")


class SubmissionResult(msgspec.Struct, kw_only=True):
    """The outcome for one submission directory."""

    submission: str
    submission_id: str | None
    kind: str | None
    ok: bool
    findings: list[Finding]
    report_sha256: str | None


class Summary(msgspec.Struct, kw_only=True):
    submissions: int
    valid: int
    invalid: int
    findings: int
    errors: int
    warnings: int


class ValidationReport(msgspec.Struct, kw_only=True):
    """Everything ``validate`` found: ``ok`` is false when any finding is an error."""

    schema: str = VALIDATE_SCHEMA
    ok: bool
    findings: list[Finding]
    summary: Summary
    results: list[SubmissionResult]

    def raise_for_findings(self) -> None:
        """Raises:
        FindingsError: some finding is an error.
        """
        if not self.ok:
            errors = sum(1 for f in self.findings if f.severity == "error")
            raise FindingsError(f"{errors} problem(s) in {self.summary.invalid} submission(s)")


# ---------------------------------------------------------------------------- the walker


@functools.cache
def _struct_fields(cls: type) -> tuple[dict[str, tuple[Any, bool]], str | None]:
    info = {f.encode_name: (f.type, f.required) for f in msgspec.structs.fields(cls)}
    return info, cls.__struct_config__.tag_field  # type: ignore[attr-defined]


def _unwrap(tp: Any) -> tuple[Any, tuple[Any, ...]]:
    if get_origin(tp) is Annotated:
        args = get_args(tp)
        return args[0], args[1:]
    return tp, ()


def _is_struct(tp: Any) -> bool:
    return isinstance(tp, type) and issubclass(tp, msgspec.Struct)


def _json_type(value: Any) -> str:
    return {dict: "object", list: "array", str: "str", bool: "bool", int: "int", float: "float"}.get(
        type(value), "null" if value is None else type(value).__name__
    )


def _short(value: Any) -> str:
    # Untrusted values in messages: one line, bounded.
    text = escape(json.dumps(value, ensure_ascii=False))
    return text if len(text) <= 60 else text[:57] + "..."


def _join(path: str, key: str) -> str:
    return key if not path else f"{path}.{key}"


class _Walker:
    def __init__(self, ctx: fields.Context) -> None:
        self.ctx = ctx

    def error(self, path: str, code: str, message: str) -> None:
        self.ctx.add(path or "$", code, message)

    def walk(self, value: Any, tp: Any, path: str) -> bool:
        base, metas = _unwrap(tp)
        if _is_struct(base):
            return self._struct(value, base, path)
        origin = get_origin(base)
        if origin is list:
            return self._list(value, base, metas, path)
        if origin is Union or origin is types.UnionType:
            return self._union(value, base, tp, path)
        return self._leaf(value, tp, path)

    def _struct(self, value: Any, cls: type, path: str) -> bool:
        if not isinstance(value, dict):
            self.error(path, "report.schema", f"Expected `object`, got `{_json_type(value)}`")
            return False
        info, tag_field = _struct_fields(cls)
        ok = True
        for key in value:
            if key not in info and key != tag_field:
                self.error(_join(path, str(key)), "report.unknown_field", f"unknown field {_short(key)}")
                ok = False
        for name, (ftype, required) in info.items():
            if name not in value:
                if required:
                    self.error(_join(path, name), "report.missing_field", f"required field `{name}` is missing")
                    ok = False
                continue
            ok = self.walk(value[name], ftype, _join(path, name)) and ok
        return ok

    def _list(self, value: Any, base: Any, metas: tuple[Any, ...], path: str) -> bool:
        if not isinstance(value, list):
            self.error(path, "report.schema", f"Expected `array`, got `{_json_type(value)}`")
            return False
        for m in metas:
            if isinstance(m, msgspec.Meta):
                if m.min_length is not None and len(value) < m.min_length:
                    self.error(path, "report.schema", f"Expected `array` of length >= {m.min_length}")
                    return False
                if m.max_length is not None and len(value) > m.max_length:
                    # Do not walk an oversized list: the work stays bounded.
                    self.error(path, "report.schema", f"Expected `array` of length <= {m.max_length}")
                    return False
        item = get_args(base)[0]
        ok = True
        for i, v in enumerate(value):
            ok = self.walk(v, item, f"{path}[{i}]") and ok
        return ok

    def _union(self, value: Any, base: Any, tp: Any, path: str) -> bool:
        args = get_args(base)
        options = [a for a in args if a is not type(None)]
        if value is None and len(options) < len(args):
            return True
        if all(_is_struct(a) for a in options):
            if len(options) == 1:
                return self._struct(value, options[0], path)
            tag_field = _struct_fields(options[0])[1]
            if not isinstance(value, dict):
                self.error(path, "report.schema", f"Expected `object`, got `{_json_type(value)}`")
                return False
            if tag_field not in value:
                self.error(_join(path, tag_field), "report.missing_field", f"required field `{tag_field}` is missing")
                return False
            tags = {a.__struct_config__.tag: a for a in options}
            tag = value[tag_field]
            cls = tags.get(tag) if isinstance(tag, str) else None
            if cls is None:
                self.error(_join(path, tag_field), "report.dropdown_value",
                           f"Invalid value {_short(tag)}; expected one of {', '.join(map(str, tags))}")
                return False
            return self._struct(value, cls, path)
        if len(options) == 1:
            return self.walk(value, options[0], path)
        return self._leaf(value, tp, path)

    def _leaf(self, value: Any, tp: Any, path: str) -> bool:
        try:
            msgspec.convert(value, tp)
        except msgspec.ValidationError as exc:
            message = _AT_RE.sub("", str(exc))
            if path == "schema":
                self.error(path, "report.schema_version", f"schema must be {SCHEMA!r}")
            elif message.startswith("Invalid enum value"):
                self.error(path, "report.dropdown_value", message)
            else:
                self.error(path, "report.schema", message)
            return False
        return True


# ---------------------------------------------------------------------------- report.json


class _Duplicate(Exception):
    pass


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _Duplicate(key)
        out[key] = value
    return out


def _read_report(dir_fd: int, ctx: fields.Context) -> bytes | None:
    try:
        # O_NOFOLLOW: a symlinked report.json fails (ELOOP); O_NONBLOCK: a FIFO does not block.
        fd = os.open(REPORT_FILE, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=dir_fd)
    except FileNotFoundError:
        ctx.add(REPORT_FILE, "report.missing", f"the submission has no {REPORT_FILE}")
        return None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            ctx.add(REPORT_FILE, "report.not_regular", f"{REPORT_FILE} is a symbolic link")
        else:
            ctx.add(REPORT_FILE, "report.unreadable", f"cannot open {REPORT_FILE}: {exc.strerror}")
        return None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            ctx.add(REPORT_FILE, "report.not_regular", f"{REPORT_FILE} is not a regular file")
            return None
        data = b""
        if st.st_size <= REPORT_MAX_BYTES:
            # Read to EOF but never more than the limit + 1 (the file may grow meanwhile).
            while len(data) <= REPORT_MAX_BYTES:
                more = os.read(fd, REPORT_MAX_BYTES + 1 - len(data))
                if not more:
                    break
                data += more
        if st.st_size > REPORT_MAX_BYTES or len(data) > REPORT_MAX_BYTES:
            ctx.add(REPORT_FILE, "report.too_large", f"{REPORT_FILE} is larger than {REPORT_MAX_BYTES} bytes")
            return None
        return data
    except OSError as exc:
        ctx.add(REPORT_FILE, "report.unreadable", f"cannot read {REPORT_FILE}: {exc.strerror}")
        return None
    finally:
        os.close(fd)


_UNPARSED = object()


# Every JSON string, with ":" captured when it is an object key. Each match consumes a
# whole string (the group is optional), so the scan stays aligned on string boundaries.
_JSON_STRING_OR_KEY = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"(\s*:)?')
_QUOTE_SPACE_COLON = re.compile(rb'"[ \t\r\n]+:')


def _key_tokens(raw: bytes) -> int:
    """The object keys written in ``raw`` (strings followed by ``:``)."""
    colons = _JSON_STRING_OR_KEY.findall(raw)
    return len(colons) - colons.count(b"")


class _TooDeep(Exception):
    pass


def _normalised(data: Any, depth: int, keys: list[int], printable: list[bool]) -> Any:
    """``normalise_strings`` in place (``data`` is freshly decoded and nobody else's),
    that also counts object keys, notes in ``printable[0]`` whether every string was
    free, as decoded, of the characters ``text_problems`` reports (``classify``; a tab or
    newline is allowed, so a multi-line field is not decoded twice), and
    refuses nesting deeper than ``MAX_DEPTH`` before recursing (so hostile nesting
    cannot exhaust the stack)."""
    t = type(data)
    if t is dict:
        if depth > MAX_DEPTH:
            raise _TooDeep
        keys[0] += len(data)
        for k, v in data.items():
            tv = type(v)
            if tv is str:
                # normalise_text, inlined: this loop runs for every string of every report.
                if not v.isprintable() and classify(v):  # (tab and newline are allowed)
                    printable[0] = False
                s = v.strip() if v.isascii() else nfkc(v).strip()
                if s is not v:
                    data[k] = s  # a value replaced, no key added: safe while iterating
            elif tv is dict or tv is list:
                _normalised(v, depth + 1, keys, printable)
        return data
    if t is list:
        if depth > MAX_DEPTH:
            raise _TooDeep
        for i, v in enumerate(data):
            tv = type(v)
            if tv is str:
                if not v.isprintable() and classify(v):  # (tab and newline are allowed)
                    printable[0] = False
                s = v.strip() if v.isascii() else nfkc(v).strip()
                if s is not v:
                    data[i] = s
            elif tv is dict or tv is list:
                _normalised(v, depth + 1, keys, printable)
        return data
    if t is str and not data.isprintable() and classify(data):
        printable[0] = False
    return normalise_strings(data)


def _key_tokens_at_most(raw: bytes) -> int:
    """An upper bound on the object keys written in ``raw``: every key is a string
    followed by optional white space and ``:`` (a string value may add to the count)."""
    return raw.count(b'":') + len(_QUOTE_SPACE_COLON.findall(raw))


def _parse(raw: bytes, ctx: fields.Context) -> Any:
    """The decoded JSON with every string normalised, or ``_UNPARSED`` (with a finding)
    when it cannot be decoded."""
    if raw.startswith(_BOM):
        ctx.add(REPORT_FILE, "report.bom", f"{REPORT_FILE} starts with a byte order mark (RFC 8259 §8.1)")
        raw = raw[len(_BOM):]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        ctx.add(REPORT_FILE, "report.encoding", f"{REPORT_FILE} is not UTF-8 (byte {exc.start})")
        return _UNPARSED
    try:
        data = msgspec.json.decode(raw)
    except msgspec.DecodeError as exc:
        ctx.add(REPORT_FILE, "report.json_invalid", f"{REPORT_FILE} is not valid JSON: {exc}")
        return _UNPARSED
    except RecursionError:
        ctx.add(REPORT_FILE, "report.too_deep", f"{REPORT_FILE} nests arrays and objects deeper than {MAX_DEPTH}")
        return _UNPARSED
    keys, printable = [0], [True]
    try:
        data = _normalised(data, 1, keys, printable)
        too_deep = False
    except _TooDeep:
        too_deep = True
    if too_deep or not printable[0]:
        # The rare case: the strings as decoded (the walk above changed them in place)
        # are looked at again, each with its path.
        try:
            for at, code, message in text_problems(msgspec.json.decode(raw)):
                ctx.add(at, code, message)
        except RecursionError:  # pragma: no cover - text_problems walks with its own stack
            pass
    if too_deep:
        ctx.add(REPORT_FILE, "report.too_deep", f"{REPORT_FILE} nests arrays and objects deeper than {MAX_DEPTH}")
        return _UNPARSED
    # A repeated key leaves fewer keys decoded than written: only then is the slower
    # parser asked which key it was. A cheap upper bound on the keys written settles
    # the common case; the exact count scans every string.
    if _key_tokens_at_most(raw) != keys[0] and _key_tokens(raw) != keys[0]:
        try:
            json.loads(text, object_pairs_hook=_no_duplicates)
        except _Duplicate as exc:
            ctx.add(REPORT_FILE, "report.duplicate_key", f"key `{exc.args[0]}` appears twice in one object")
        except (ValueError, RecursionError):
            pass  # msgspec accepted it; the stdlib parser's limits are not ours to report.
    return data


# ---------------------------------------------------------------------------- one submission


def _check_report(data: Any, ctx: fields.Context) -> tuple[str | None, str | None, list[Attachment], set[str]]:
    """Schema and field rules; returns (submission_id, kind, valid attachments, raw names of invalid ones)."""
    walker = _Walker(ctx)
    if not isinstance(data, dict):
        walker.error("", "report.schema", f"Expected `object`, got `{_json_type(data)}`")
        return None, None, [], set()
    kind = data.get("kind")  # strings were normalised by _parse
    cls = REPORT_TYPES.get(kind) if isinstance(kind, str) else None
    blocks: dict[str, Any] = {}
    if cls is not None:
        try:
            report = msgspec.convert(data, cls)  # the fast path: a well-formed report
            blocks = {name: getattr(report, name) for name in _struct_fields(cls)[0]}
            ctx.report = report
        except msgspec.ValidationError:
            pass
    if not blocks:
        if "kind" not in data:
            walker.error("kind", "report.missing_field", "required field `kind` is missing")
        elif cls is None:
            walker.error("kind", "report.dropdown_value",
                         f"Invalid value {_short(kind)}; expected one of {', '.join(REPORT_TYPES)}")
        info, _ = _struct_fields(cls or PoliceMisconductReport)
        # Without a known kind, the kind-specific blocks cannot be checked.
        skip = () if cls is not None else _KIND_FIELDS
        for key in data:
            if key not in info and key != "kind":
                walker.error(str(key), "report.unknown_field", f"unknown field {_short(key)}")
        for name, (ftype, required) in info.items():
            if name in skip:
                continue
            if name not in data:
                if required:
                    walker.error(name, "report.missing_field", f"required field `{name}` is missing")
                continue
            if name == "attachments":
                continue
            if walker.walk(data[name], ftype, name):
                try:
                    blocks[name] = msgspec.convert(data[name], ftype)
                except msgspec.ValidationError as exc:  # the walker and msgspec disagree
                    walker.error(name, "report.schema", _AT_RE.sub("", str(exc)))
    attachments, bad_names = _attachments(data, blocks, walker)
    submission_id = blocks.get("submission_id")
    _rules(ctx, blocks)
    return submission_id, (kind if cls is not None else None), attachments, bad_names


def _attachments(data: dict[str, Any], blocks: dict[str, Any], walker: _Walker) -> tuple[list[Attachment], set[str]]:
    if "attachments" in blocks:
        return list(blocks["attachments"]), set()
    if "attachments" not in data:
        return [], set()  # reported as a missing field
    raw = data["attachments"]
    info, _ = _struct_fields(PoliceMisconductReport)
    base, metas = _unwrap(info["attachments"][0])
    if not isinstance(raw, list):
        walker.walk(raw, info["attachments"][0], "attachments")
        return [], set()
    walker._list(raw, base, metas, "attachments")  # reports each bad item
    good: list[Attachment] = []
    bad: set[str] = set()
    for item in raw:
        try:
            good.append(msgspec.convert(item, Attachment))
        except msgspec.ValidationError:
            if isinstance(item, dict) and isinstance(item.get("file"), str):
                bad.add(item["file"])
    return good, bad


def _rules(ctx: fields.Context, blocks: dict[str, Any]) -> None:
    if "received_at" in blocks:
        fields.check_received_at(ctx, blocks["received_at"])
    if "declaration" in blocks:
        fields.check_declaration(ctx, blocks["declaration"])
    if "reporter" in blocks:
        fields.check_reporter(ctx, blocks["reporter"])
    if "subjects" in blocks:
        fields.check_subjects(ctx, blocks["subjects"])
    if "facts" in blocks:
        fields.check_facts(ctx, blocks["facts"])
    if "umbrella" in blocks:
        fields.check_umbrella(ctx, blocks["umbrella"])
    if "prior_reports" in blocks:
        fields.check_prior_reports(ctx, blocks["prior_reports"])


class ValidatedSubmission(msgspec.Struct, kw_only=True):
    """A submission as ``validate`` saw it: the result, and when valid the normalised
    report (the model ``seal`` builds its batch from) and the size of ``report.json``."""

    result: SubmissionResult
    report: Any = None
    report_size: int = 0


def validate_submission(
    path: Path, *, now: datetime, limits: Limits = Limits(), deep: bool = True
) -> SubmissionResult:
    """Check one submission directory: ``report.json`` and its attachments.

    Raises:
        InputError: ``path`` is not a directory that can be opened.
        ValueError: ``now`` is naive.
    """
    return validate_submission_model(path, now=now, limits=limits, deep=deep).result


def validate_submission_model(
    path: Path, *, now: datetime, limits: Limits = Limits(), deep: bool = True
) -> ValidatedSubmission:
    """``validate_submission``, also giving the normalised report when it is valid.

    ``now`` bounds ``received_at`` (it must be timezone-aware). ``deep=False`` leaves
    the attachments' contents unread, for a caller that checks them while streaming
    them (see ``attachments.check_attachments``).

    Raises:
        InputError: ``path`` is not a directory that can be opened.
        ValueError: ``now`` is naive.
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    name = shown(path.name or path)  # UTF-8 text whatever the locale (issue 16)
    ctx = fields.Context(name, now)
    try:
        dir_fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError as exc:
        raise InputError(f'cannot read submission "{path}": {exc.strerror}') from None
    try:
        raw = _read_report(dir_fd, ctx)
    finally:
        os.close(dir_fd)
    submission_id = kind = digest = None
    attachments: list[Attachment] = []
    bad_names: set[str] = set()
    if raw is not None:
        digest = hashlib.sha256(raw).hexdigest()
        data = _parse(raw, ctx)
        if data is not _UNPARSED:
            submission_id, kind, attachments, bad_names = _check_report(data, ctx)
    try:
        found = check_attachments(path, attachments, limits, submission=name, deep=deep)
    except InputError as exc:
        found = [Finding(submission=name, path=".", code="submission.unreadable", message=exc.message)]
    ctx.findings.extend(
        f for f in found
        if not (f.code == "attachment.undeclared" and f.path in bad_names)
    )
    ok = not any(f.severity == "error" for f in ctx.findings)
    result = SubmissionResult(
        submission=name, submission_id=submission_id, kind=kind, ok=ok,
        findings=cap_findings(ctx.findings, name), report_sha256=digest,
    )
    return ValidatedSubmission(result=result, report=ctx.report, report_size=len(raw) if raw is not None else 0)


def cap_findings(findings: list[Finding], submission: str, limit: int = MAX_FINDINGS) -> list[Finding]:
    """The first ``limit`` findings, then one ``findings.truncated`` with the total."""
    if len(findings) <= limit:
        return findings
    dropped = findings[limit:]
    severity = "error" if any(f.severity == "error" for f in dropped) else "warning"
    return findings[:limit] + [Finding(
        submission=submission, path=".", code="findings.truncated", severity=severity,
        message=f"{len(findings)} findings in all; only the first {limit} are listed",
    )]


# ---------------------------------------------------------------------------- paths and spools


def _utf8(os_name: str) -> bool:
    try:
        os.fsencode(os_name).decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _open_input(path: Path) -> list[str] | None:
    """Entries of a spool, or None when ``path`` is a submission."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise InputError(f'cannot read "{path}": no such file or directory') from None
    except OSError as exc:
        raise InputError(f'cannot read "{path}": {exc.strerror}') from None
    if not stat.S_ISDIR(st.st_mode):
        raise InputError(f'cannot read "{path}": not a directory (give a submission or a spool directory)')
    try:
        entries = os.listdir(path)
    except OSError as exc:
        raise InputError(f'cannot read "{path}": {exc.strerror}') from None
    if REPORT_FILE in entries:
        return None
    return sorted(entries)


def validate_paths(paths: Sequence[Path], *, now: datetime, limits: Limits = Limits()) -> ValidationReport:
    """Check submissions and spools (a directory without ``report.json`` is a spool).

    Every path is opened before any is checked, so an unreadable one fails fast.

    Raises:
        InputError: a path does not exist, is not a directory or cannot be listed.
    """
    plan = [(p, _open_input(p)) for p in paths]
    results: list[SubmissionResult] = []
    spool_findings: list[Finding] = []
    for path, entries in plan:
        if entries is None:
            results.append(validate_submission(path, now=now, limits=limits))
            continue
        for os_entry in entries:
            if os_entry.startswith("."):
                continue
            child = path / os_entry
            entry = shown(os_entry)  # names are UTF-8 whatever the locale (issue 16)
            if not _utf8(os_entry):
                spool_findings.append(Finding(submission=entry, path=entry, code="spool.bad_name",
                                              message=f'the name "{entry}" is not valid UTF-8: rename it in UTF-8'))
                continue
            try:
                st = os.lstat(child)
            except OSError as exc:
                spool_findings.append(Finding(submission=entry, path=entry, code="spool.stray_entry",
                                              message=f"cannot inspect spool entry: {exc.strerror}"))
                continue
            if not stat.S_ISDIR(st.st_mode):
                what = "symbolic link" if stat.S_ISLNK(st.st_mode) else "file" if stat.S_ISREG(st.st_mode) else "special file"
                spool_findings.append(Finding(submission=entry, path=entry, code="spool.stray_entry",
                                              message=f"a {what} in the spool; only submission directories belong there"))
                continue
            try:
                results.append(validate_submission(child, now=now, limits=limits))
            except InputError as exc:
                results.append(SubmissionResult(
                    submission=entry, submission_id=None, kind=None, ok=False, report_sha256=None,
                    findings=[Finding(submission=entry, path=".", code="submission.unreadable", message=exc.message)],
                ))
    seen: dict[str, str] = {}
    for r in results:
        if r.submission_id is None:
            continue
        if r.submission_id in seen:
            r.findings.append(Finding(
                submission=r.submission, path="submission_id", code="spool.duplicate_submission_id",
                message=f"the same submission_id as submission {seen[r.submission_id]}",
            ))
            r.ok = False
        else:
            seen[r.submission_id] = r.submission
    findings = spool_findings + [f for r in results for f in r.findings]
    errors = sum(1 for f in findings if f.severity == "error")
    valid = sum(1 for r in results if r.ok)
    summary = Summary(
        submissions=len(results), valid=valid, invalid=len(results) - valid,
        findings=len(findings), errors=errors, warnings=len(findings) - errors,
    )
    return ValidationReport(ok=errors == 0, findings=findings, summary=summary, results=results)
