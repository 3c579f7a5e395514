"""The trust list: which minisign keys may sign batches of each source (keys/README.md).

``trusted/SOURCE/<KEYID>.pub`` is a trusted signer key, and ``<KEYID>.json`` beside it
records since when, how it was admitted (``trust``, ``rotation`` signed by the old key,
or ``root``: a rotation signed by the source's offline root), and whether it was
retired after a rotation (``retire_at``, after the grace period) or revoked
(``keys untrust``, with a reason). The statement that admitted a key by rotation is
kept beside it as ``<KEYID>.rotation.minisig``. A ``.pub`` without its ``.json``
(homes from before the list) counts as admitted by ``trust``.

A source can be pinned to an offline root key (``trusted/SOURCE/root/<ROOTID>.pub``):
from then on only a rotation statement signed by that root admits a new key for the
source, so a thief holding the current signing key cannot rotate to a key of their own.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Literal

import msgspec

from cluetool.config import Home, fsync_dir, make_private_dir, write_private_file
from cluetool.errors import InputError, StateError
from cluetool.formats import minisign
from cluetool.keys.keystore import ROTATION_PREFIX, parse_public
from cluetool.keys.perms import check_home
from cluetool.model.batch import key_id_hex16

SOURCE_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
_ROTATION_RE = re.compile(
    "^" + re.escape(ROTATION_PREFIX) + r" old=(?P<old>[0-9A-F]{16}) new=(?P<new>[0-9A-F]{16}) "
    r"at=(?P<at>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ)$"
)
_KEY_ID_RE = re.compile(r"^[0-9A-F]{16}$")

How = Literal["trust", "rotation", "root"]


class TrustRecord(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """The stored facts about one trusted signer key (``<KEYID>.json``)."""

    key_id: str
    since: str
    how: How
    rotation_from: str | None = None
    retire_at: str | None = None
    revoked_at: str | None = None
    reason: str | None = None


class TrustedSigner(msgspec.Struct, kw_only=True):
    """One row of ``keys trusted``."""

    source: str
    key_id: str
    since: str
    how: str
    status: str
    rotation_from: str | None = None
    until: str | None = None
    reason: str | None = None


class TrustedList(msgspec.Struct, kw_only=True):
    signers: list[TrustedSigner]
    roots: list[dict[str, str]]
    schema: str = "cluetool.keys.trusted/1"


class TrustResult(msgspec.Struct, kw_only=True):
    """A signer key admitted for a source (and what that retired or pinned)."""

    source: str
    key_id: str | None
    path: str | None
    how: str | None = None
    rotation_from: str | None = None
    retired: str | None = None
    retire_at: str | None = None
    root_key_id: str | None = None
    already_trusted: bool = False


class UntrustResult(msgspec.Struct, kw_only=True):
    source: str
    key_id: str
    reason: str
    revoked_at: str
    schema: str = "cluetool.keys.untrust/1"


def stamp(now: datetime) -> str:
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    return now.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def check_source(source: str) -> str:
    if not SOURCE_RE.fullmatch(source):
        raise InputError(
            f"invalid source name {source!r}: use lower-case letters, digits and '-' (up to 63)"
        )
    return source


def _read(path: Path, what: str) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        raise InputError(f'cannot read {what} "{path}"') from None


def _record(d: Path, pub: Path) -> TrustRecord:
    key_id = pub.name.removesuffix(".pub")
    meta = d / f"{key_id}.json"
    if meta.exists():
        try:
            return msgspec.json.decode(meta.read_bytes(), type=TrustRecord)
        except (OSError, msgspec.DecodeError, msgspec.ValidationError):
            raise StateError(f'damaged trust record "{meta}"', hint="restore it from a backup") from None
    since = datetime.fromtimestamp(pub.stat().st_mtime, timezone.utc)
    return TrustRecord(key_id=key_id, since=stamp(since), how="trust")


def _status(rec: TrustRecord, now: datetime) -> str:
    if rec.revoked_at is not None:
        return "revoked"
    if rec.retire_at is not None:
        return "retired" if rec.retire_at <= stamp(now) else "retiring"
    return "active"


def _entries(home: Home, source: str) -> list[tuple[TrustRecord, Path]]:
    d = home.trusted_dir / source
    if not d.is_dir():
        return []
    return [(_record(d, p), p) for p in sorted(d.glob("*.pub"))]


def _roots(home: Home, source: str) -> list[minisign.PublicKey]:
    d = home.trusted_dir / source / "root"
    if not d.is_dir():
        return []
    return [parse_public(_read(p, "root key"), p) for p in sorted(d.glob("*.pub"))]


def trusted_keys(home: Home, source: str, *, now: datetime | None = None) -> list[minisign.PublicKey]:
    """The signer keys trusted for SOURCE now: active, or retiring within their grace.

    Raises:
        InputError: bad source name or unreadable key; StateError: unsafe home.
    """
    check_source(source)
    check_home(home)
    when = now or datetime.now(timezone.utc)
    return [
        parse_public(_read(p, "trusted key"), p)
        for rec, p in _entries(home, source)
        if _status(rec, when) in ("active", "retiring")
    ]


def trusted_list(home: Home, source: str | None, *, now: datetime) -> TrustedList:
    """Every trusted signer (all statuses) per source, and each source's pinned root.

    Raises:
        InputError: bad source name; StateError: unsafe home.
    """
    check_home(home)
    if source is not None:
        sources = [check_source(source)]
    elif home.trusted_dir.is_dir():
        sources = sorted(p.name for p in home.trusted_dir.iterdir() if p.is_dir() and SOURCE_RE.fullmatch(p.name))
    else:
        sources = []
    signers, roots = [], []
    for s in sources:
        for rec, _ in sorted(_entries(home, s), key=lambda e: e[0].since):
            status = _status(rec, now)
            signers.append(TrustedSigner(
                source=s, key_id=rec.key_id, since=rec.since, how=rec.how, status=status,
                rotation_from=rec.rotation_from,
                until=rec.revoked_at if status == "revoked" else rec.retire_at,
                reason=rec.reason,
            ))
        for r in _roots(home, s):
            roots.append({"source": s, "root_key_id": key_id_hex16(r.key_id)})
    return TrustedList(signers=signers, roots=roots)


def check_rotation(
    trusted: list[minisign.PublicKey], new_pub_bytes: bytes, statement: str, new_pub: minisign.PublicKey
) -> str:
    """Verify a rotation statement signed by one of ``trusted``; return the old key id.

    Raises:
        InputError: the statement is not signed by a trusted key, or does not match.
    """
    if not trusted:
        raise InputError("no key is trusted for this source yet, so a rotation cannot be checked")
    m = _statement(trusted, new_pub_bytes, statement, new_pub, "a trusted key for this source")
    if m["old"] not in {key_id_hex16(k.key_id) for k in trusted}:
        raise InputError("rotation statement does not name this key and a trusted old key")
    return m["old"]


def _statement(
    signers: list[minisign.PublicKey], new_pub_bytes: bytes, statement: str, new_pub: minisign.PublicKey,
    who: str,
) -> re.Match[str]:
    try:
        sig = minisign.verify(signers, new_pub_bytes, statement)
    except minisign.InvalidSignature:
        raise InputError(f"rotation statement is not signed by {who}") from None
    except minisign.MinisignError as exc:
        raise InputError(f"cannot read rotation statement: {exc}") from None
    m = _ROTATION_RE.fullmatch(sig.trusted_comment)
    if m is None:
        raise InputError("rotation statement has an unexpected trusted comment")
    if m["new"] != key_id_hex16(new_pub.key_id):
        raise InputError("rotation statement does not name this key and a trusted old key")
    return m


def _write_record(d: Path, rec: TrustRecord) -> None:
    write_private_file(d / f"{rec.key_id}.json", msgspec.json.encode(rec) + b"\n", mode=0o644)


def trust(
    home: Home, source: str, pub_file: Path | None, *, now: datetime | None = None, rotation: Path | None = None,
    root: Path | None = None, additional: bool = False, grace: timedelta = timedelta(0),
) -> TrustResult:
    """Trust the minisign public key in ``pub_file`` as a signer for batches of SOURCE.

    - plain: the source's first key; a second one needs ``additional``.
    - ``rotation``: admitted only if the statement is signed by a key trusted for SOURCE
      (or, for a source pinned to a root, by that root); the old key named in it is
      then retired after ``grace``.
    - ``root``: pin SOURCE to this offline root key (with or without a first key).

    Raises:
        InputError: unreadable key or statement; a statement that does not verify; a
            second key without ``additional``; a pinned source without a root statement.
        StateError: the home is missing or unsafe.
    """
    now = now or datetime.now(timezone.utc)
    check_home(home)
    check_source(source)
    if grace < timedelta(0):
        raise InputError("--grace cannot be negative")
    d = home.trusted_dir / source
    pinned = _roots(home, source)
    root_pub = None
    if root is not None:
        root_pub = parse_public(_read(root, "root key"), root)
        rid = key_id_hex16(root_pub.key_id)
        if pinned and key_id_hex16(pinned[0].key_id) != rid:
            raise InputError(
                f"source {source} is already pinned to root key {key_id_hex16(pinned[0].key_id)}",
                hint="a root cannot be replaced from the command line; see keys/README.md",
            )
    if pub_file is None:
        if root_pub is None:
            raise InputError("give the signer's public key file, or --root ROOT.pub to pin the source")
        _pin(home, source, root_pub)
        return TrustResult(source=source, key_id=None, path=None, root_key_id=key_id_hex16(root_pub.key_id),
                           already_trusted=bool(pinned))
    pub_text = _read(pub_file, "public key")
    pub = parse_public(pub_text, pub_file)
    key_id = key_id_hex16(pub.key_id)
    entries = {rec.key_id: rec for rec, _ in _entries(home, source)}
    live = [k for k, rec in entries.items() if _status(rec, now) in ("active", "retiring")]
    if key_id in entries and entries[key_id].revoked_at is not None:
        raise InputError(
            f"key {key_id} was revoked for {source} ({entries[key_id].revoked_at}: {entries[key_id].reason})",
            hint="a revoked key is never trusted again; rotate to a new key",
        )
    if key_id in live:  # (again, e.g. the same trust --rotation run twice): nothing changes
        if root_pub is not None:
            _pin(home, source, root_pub)
        return TrustResult(source=source, key_id=key_id, path=str(d / f"{key_id}.pub"), how=entries[key_id].how,
                           already_trusted=True)
    how: How = "trust"
    rotation_from = retired = retire_at = None
    rotation_text = None
    if rotation is not None:
        rotation_text = _read(rotation, "rotation statement")
        if pinned:
            try:
                m = _statement(pinned, pub_text.encode(), rotation_text, pub, "the root key")
            except InputError as exc:
                if "not signed by" not in str(exc):
                    raise
                raise InputError(
                    f"source {source} is pinned to root key {key_id_hex16(pinned[0].key_id)}: only a rotation "
                    "statement signed by that root admits a new key, and this one is not (a statement signed "
                    "by the old key alone could come from whoever stole it)",
                    hint="sign the rotation with the root: cluetool keys rotate NAME --root-key ROOT.key",
                ) from None
            how = "root"
        else:
            trusted = trusted_keys(home, source, now=now)
            if not trusted:
                raise InputError(f"no key is trusted for {source} yet, so a rotation cannot be checked",
                                 hint=f"trust the first key with: cluetool keys trust {source} FILE")
            try:
                m = _statement(trusted, pub_text.encode(), rotation_text, pub, f"a trusted key for {source}")
            except InputError as exc:
                raise InputError(str(exc).replace("this source", source)) from None
            if m["old"] not in live:
                raise InputError("rotation statement does not name this key and a trusted old key")
            how = "rotation"
        rotation_from = m["old"]
        old = entries.get(rotation_from)
        if old is not None and old.revoked_at is None and old.retire_at is None:
            retire_at = stamp(now + grace)
            retired = rotation_from
    elif pinned or root_pub is not None and live:
        raise InputError(
            f"source {source} is pinned to an offline root key: only a rotation statement signed by "
            "the root admits a new key",
            hint=f"cluetool keys trust {source} NEW.pub --rotation NAME.rotation.minisig (signed by the root)",
        )
    elif live and not additional:
        raise InputError(
            f"source {source} already trusts key {', '.join(live)}: trusting a second key needs --additional",
            hint=f"for a new key of the same signer use: cluetool keys trust {source} NEW.pub --rotation STATEMENT",
        )
    make_private_dir(home.trusted_dir)
    make_private_dir(d)
    dest = d / f"{key_id}.pub"
    write_private_file(dest, pub.to_file_text(f"minisign public key {key_id}").encode(), mode=0o644)
    if rotation_text is not None:
        write_private_file(d / f"{key_id}.rotation.minisig", rotation_text.encode(), mode=0o644)
    _write_record(d, TrustRecord(key_id=key_id, since=stamp(now), how=how, rotation_from=rotation_from))
    if retired is not None:
        old_rec = entries[retired]
        old_rec.retire_at = retire_at
        _write_record(d, old_rec)
    if root_pub is not None:
        _pin(home, source, root_pub)
    fsync_dir(d)
    return TrustResult(
        source=source, key_id=key_id, path=str(dest), how=how, rotation_from=rotation_from,
        retired=retired, retire_at=retire_at,
        root_key_id=key_id_hex16(root_pub.key_id) if root_pub is not None else None,
    )


def _pin(home: Home, source: str, root_pub: minisign.PublicKey) -> None:
    d = home.trusted_dir / source / "root"
    make_private_dir(home.trusted_dir)
    make_private_dir(d.parent)
    make_private_dir(d)
    rid = key_id_hex16(root_pub.key_id)
    write_private_file(d / f"{rid}.pub", root_pub.to_file_text(f"cluetool root public key {rid}").encode(), mode=0o644)


def untrust(home: Home, source: str, key_id: str, *, reason: str, now: datetime) -> UntrustResult:
    """Revoke trusted signer KEYID for SOURCE (kept in the list as ``revoked``).

    Raises:
        InputError: empty reason, bad id, or no such trusted key; StateError: unsafe home.
    """
    check_home(home)
    check_source(source)
    key_id = key_id.upper()
    if not _KEY_ID_RE.fullmatch(key_id):
        raise InputError(f"invalid key id {key_id!r}: 16 hexadecimal digits, as keys trusted shows")
    if not reason.strip():
        raise InputError("--reason must say why the key is no longer trusted")
    entries = {rec.key_id: rec for rec, _ in _entries(home, source)}
    rec = entries.get(key_id)
    if rec is None:
        raise InputError(f"key {key_id} is not trusted for {source}", hint=f"see: cluetool keys trusted {source}")
    if rec.revoked_at is not None:
        raise InputError(f"key {key_id} was already revoked for {source} at {rec.revoked_at}")
    rec.revoked_at = stamp(now)
    rec.reason = reason.strip()
    _write_record(home.trusted_dir / source, rec)
    return UntrustResult(source=source, key_id=key_id, reason=rec.reason, revoked_at=rec.revoked_at)
