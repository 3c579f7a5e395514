"""Key files in a home (keys/README.md), in the real minisign and age formats.

Per key NAME in ``keys/``: ``NAME.key`` (minisign secret key), ``NAME.pub`` (minisign
public key), ``NAME.age`` (age identity, ``AGE-SECRET-KEY-1…``; with ``--protect`` an
age file encrypted to the passphrase, which ``age -d -i NAME.age`` also reads) and
``NAME.age.pub`` (the ``age1…`` recipient). Secret files are 0600 in a 0700 directory
and are refused when group or others can read them.

Rotation (``rotate``) writes a fresh key pair under the same name, keeps the old files in
``keys/retired/``, and writes ``NAME.rotation.minisig``: a minisign signature by the
*old* key over the new ``NAME.pub`` file, whose trusted comment is the statement
``cluetool-key-rotation/1 old=<id> new=<id> at=<time>``. Anyone can check it with
``minisign -V -p OLD.pub -m NAME.pub -x NAME.rotation.minisig``.

Retired pairs stay in ``keys/retired/`` (with ``NAME-<ID>.retired``, the time of
retirement) so that batches in flight sealed to the old recipient still decrypt
(``load_identities``), until ``destroy_retired`` removes them. Signer trust is
``cluetool.keys.trust``'s; permission rules are ``cluetool.keys.perms``'.
"""

from __future__ import annotations

import base64
import io
import os
import re
import stat
from datetime import datetime, timezone
from pathlib import Path

import msgspec

from cluetool.config import Home, fsync_dir, make_private_dir, write_private_file
from cluetool.errors import InputError, StateError
from cluetool.formats import age, minisign
from cluetool.keys.perms import check_home, check_passphrase_file
from cluetool.model.batch import key_id_hex16

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
ROTATION_PREFIX = "cluetool-key-rotation/1"


class KeyInfo(msgspec.Struct, kw_only=True):
    """Public facts about one key of the home (never secret material)."""

    name: str
    key_id: str
    minisign_public_key: str
    age_recipient: str
    protected: bool


class KeyList(msgspec.Struct, kw_only=True):
    """The keys of a home, as rendered by ``keys list``."""

    keys: list[KeyInfo]
    schema: str = "cluetool.keys/1"


def read_passphrase(file: Path | None, env: str | None) -> bytes | None:
    """The passphrase named by ``--passphrase-file`` or ``--passphrase-env`` (never argv).

    One trailing newline of a file is dropped. Returns ``None`` when neither is given.

    Raises:
        InputError: both given, the file unreadable, the variable unset or empty.
        StateError: the file is readable by group or others.
    """
    if file is not None and env is not None:
        raise InputError("give either --passphrase-file or --passphrase-env, not both")
    if file is not None:
        check_passphrase_file(file)
        try:
            data = file.read_bytes()
        except OSError as exc:
            raise InputError(f'cannot read passphrase file "{file}": {exc.strerror}') from None
        data = data[:-1] if data.endswith(b"\n") else data
        data = data[:-1] if data.endswith(b"\r") else data
    elif env is not None:
        value = os.environ.get(env)
        if value is None:
            raise InputError(f"environment variable {env} is not set")
        data = value.encode("utf-8")
    else:
        return None
    if not data:
        raise InputError("the passphrase is empty")
    return data


def _check_name(name: str) -> str:
    if not NAME_RE.fullmatch(name):
        raise InputError(
            f"invalid key name {name!r}: use letters, digits, '_', '-', '.' (up to 64)"
        )
    return name


def _paths(home: Home, name: str) -> dict[str, Path]:
    d = home.keys_dir
    return {
        "key": d / f"{name}.key",
        "pub": d / f"{name}.pub",
        "age": d / f"{name}.age",
        "age_pub": d / f"{name}.age.pub",
        "rotation": d / f"{name}.rotation.minisig",
    }


def _keys_dir(home: Home) -> Path:
    check_home(home)
    d = home.keys_dir
    make_private_dir(d)
    return d


def _read_secret(path: Path) -> str:
    try:
        st = os.stat(path, follow_symlinks=False)
    except FileNotFoundError:
        raise StateError(f'key file "{path}" not found', hint="list keys with: cluetool keys list") from None
    if not stat.S_ISREG(st.st_mode):
        raise StateError(f'key file "{path}" is not a regular file')
    if stat.S_IMODE(st.st_mode) & 0o077:
        raise StateError(
            f'key file "{path}" is readable by group or others (mode {stat.S_IMODE(st.st_mode):04o})',
            hint=f'run: chmod 600 "{path}" (and consider the key compromised if others could read it)',
        )
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        raise StateError(f'cannot read key file "{path}"') from None


def _read_public(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise StateError(f'key file "{path}" not found', hint="list keys with: cluetool keys list") from None
    except (OSError, UnicodeDecodeError):
        raise StateError(f'cannot read key file "{path}"') from None


def _utc_stamp(now: datetime) -> str:
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    return now.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _write_key_files(
    home: Home, name: str, sk: minisign.SecretKey, ident: age.KeyIdentity,
    passphrase: bytes | None, now: datetime, *, scrypt_cost: dict[str, int] | None = None,
) -> None:
    p = _paths(home, name)
    cost = dict(scrypt_cost or {})
    work = cost.pop("age_work_factor", 18)
    key_id = key_id_hex16(sk.public_key.key_id)
    secret_text = sk.to_file_text(passphrase, **cost) if passphrase else sk.to_file_text(None)
    identity_text = (
        f"# created: {_utc_stamp(now)}\n# public key: {ident.recipient}\n{ident}\n"
    )
    if passphrase:
        buf = io.BytesIO()
        with age.EncryptWriter(buf, [age.ScryptRecipient(passphrase, work_factor=work)], armor=True) as w:
            w.write(identity_text.encode())
        identity_bytes = buf.getvalue()
    else:
        identity_bytes = identity_text.encode()
    write_private_file(p["key"], secret_text.encode())
    write_private_file(p["age"], identity_bytes)
    write_private_file(
        p["pub"], sk.public_key.to_file_text(f"minisign public key {key_id}").encode(), mode=0o644
    )
    write_private_file(p["age_pub"], f"{ident.recipient}\n".encode(), mode=0o644)


def generate(
    home: Home, name: str, *, now: datetime, passphrase: bytes | None = None,
    scrypt_cost: dict[str, int] | None = None, pq: bool = False,
) -> KeyInfo:
    """Make a signing key (Ed25519, minisign) and an encryption identity (X25519, age;
    with ``pq`` the post-quantum hybrid ML-KEM-768 + X25519 that age 1.3 reads).

    ``scrypt_cost`` exists for tests (minisign's real cost is about 1 GiB and seconds).

    Raises:
        InputError: bad name, or a key of that name exists.
        StateError: the home is missing.
    """
    _check_name(name)
    _keys_dir(home)
    p = _paths(home, name)
    existing = [str(v) for k, v in p.items() if k != "rotation" and v.exists()]
    if existing:
        raise InputError(
            f'key "{name}" already exists ({existing[0]})',
            hint=f"use: cluetool keys rotate {name}",
        )
    sk = minisign.SecretKey.generate()
    ident: age.KeyIdentity = age.HybridIdentity.generate() if pq else age.X25519Identity.generate()
    _write_key_files(home, name, sk, ident, passphrase, now, scrypt_cost=scrypt_cost)
    return show(home, name)


def show(home: Home, name: str) -> KeyInfo:
    """Public facts about key NAME.

    Raises:
        StateError: the key or the home is missing.
    """
    _check_name(name)
    check_home(home)
    p = _paths(home, name)
    pub = _parse_public(_read_public(p["pub"]), p["pub"])
    recipient = _read_public(p["age_pub"]).strip()
    protected = False
    if p["key"].exists():
        protected = _is_encrypted_minisign(_read_secret(p["key"]))
    return KeyInfo(
        name=name,
        key_id=key_id_hex16(pub.key_id),
        minisign_public_key=pub.to_file_text().splitlines()[-1],
        age_recipient=recipient,
        protected=protected,
    )


def _is_encrypted_minisign(text: str) -> bool:
    try:
        minisign.SecretKey.parse(text, None)
    except minisign.PassphraseRequiredError:
        return True
    except minisign.MinisignError:
        return False
    return False


def list_keys(home: Home) -> list[KeyInfo]:
    """Every key of the home, by name."""
    check_home(home)
    if not home.keys_dir.is_dir():
        return []
    names = sorted(p.name[: -len(".pub")] for p in home.keys_dir.glob("*.pub") if not p.name.endswith(".age.pub"))
    return [show(home, n) for n in names]


def export_public(home: Home, name: str, *, kind: str) -> str:
    """The public key of NAME as minisign (``kind="minisign"``) or age (``"age"``) text."""
    p = _paths(home, _check_name(name))
    check_home(home)
    if kind == "age":
        return _read_public(p["age_pub"])
    if kind == "minisign":
        return _read_public(p["pub"])
    raise InputError(f"unknown export kind {kind!r}: use age or minisign")


def secret_kind(text: str) -> str | None:
    """What secret key ``text`` holds, if it is one ("minisign secret key", "age identity")."""
    head = text.lstrip()[:200]
    if head.startswith("untrusted comment:") and "secret key" in head.split("\n", 1)[0]:
        return "minisign secret key"
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    if len(lines) == 2 and lines[0].startswith("untrusted comment:"):
        try:
            if len(base64.b64decode(lines[1], validate=True)) == 158:
                return "minisign secret key"
        except ValueError:
            pass
    if "AGE-SECRET-KEY-" in text.upper() or "BEGIN AGE ENCRYPTED FILE" in text:
        return "age identity"
    return None


def parse_public(text: str, path: Path | str) -> minisign.PublicKey:
    """A minisign public key file's key; a secret key given instead is named as such.

    Raises:
        InputError: not a public key (a secret key: say so, and never echo it).
    """
    kind = secret_kind(text)
    if kind is not None:
        raise InputError(
            f'"{path}" is {"an" if kind.startswith("a") else "a"} {kind}, not a minisign public key',
            hint="give the public key file (NAME.pub, from: cluetool keys export NAME --minisign); "
            "keep the secret key private",
        )
    try:
        return minisign.PublicKey.parse(text)
    except minisign.MinisignError as exc:
        raise InputError(f'cannot read public key "{path}": {exc}') from None


_parse_public = parse_public


def load_signing_key(home: Home, name: str, passphrase: bytes | None = None) -> minisign.SecretKey:
    """The minisign secret key NAME.

    Raises:
        StateError: missing, or readable by group/others.
        InputError: malformed, encrypted without a passphrase given, or wrong passphrase.
    """
    path = _paths(home, _check_name(name))["key"]
    check_home(home)
    text = _read_secret(path)
    try:
        return minisign.SecretKey.parse(text, passphrase)
    except minisign.MinisignError as exc:
        hint = None
        if passphrase is None:
            hint = "a protected key needs --passphrase-file FILE or --passphrase-env VAR"
        raise InputError(f'cannot use secret key "{path}": {exc}', hint=hint) from None


def load_identity(home: Home, name: str, passphrase: bytes | None = None) -> age.KeyIdentity:
    """The age identity NAME (decrypting a protected identity file with ``passphrase``).

    Raises:
        StateError: missing, or readable by group/others.
        InputError: malformed, protected without a passphrase, or wrong passphrase.
    """
    path = _paths(home, _check_name(name))["age"]
    check_home(home)
    return _open_identity(path, passphrase)


class RotationResult(msgspec.Struct, kw_only=True):
    """What ``keys rotate`` changed, and what to carry to whom."""

    name: str
    old_key_id: str
    new_key_id: str
    old_age_recipient: str
    new_age_recipient: str
    retired_as: str
    statement: str
    statement_signed_by: str
    new_public_key: str
    send: list[str]
    schema: str = "cluetool.rotation/1"


class RetiredKey(msgspec.Struct, kw_only=True):
    """A retired key pair of the home (``keys/retired/NAME-<ID>.*``)."""

    name: str
    key_id: str
    label: str
    age_recipient: str | None
    retired_at: str | None
    has_identity: bool
    has_signing_key: bool


class RetiredList(msgspec.Struct, kw_only=True):
    keys: list[RetiredKey]
    schema: str = "cluetool.keys.retired/1"


class NamedIdentity(msgspec.Struct, kw_only=True):
    """An age identity and the name by which outputs and the audit log refer to it."""

    label: str
    identity: age.KeyIdentity


class DestroyResult(msgspec.Struct, kw_only=True):
    name: str
    key_id: str
    removed: list[str]
    schema: str = "cluetool.keys.destroy/1"


_RETIRED_RE = re.compile(r"^(?P<name>.+)-(?P<id>[0-9A-F]{16})(?P<suffix>\.key|\.pub|\.age|\.age\.pub|\.rotation\.minisig|\.retired)$")


def _retired_dir(home: Home) -> Path:
    return home.keys_dir / "retired"


def rotate(
    home: Home, name: str, *, now: datetime, passphrase: bytes | None = None,
    new_passphrase: bytes | None = None, scrypt_cost: dict[str, int] | None = None,
    root_key: minisign.SecretKey | None = None,
) -> RotationResult:
    """Replace key NAME (signing key and age identity) by a new pair and sign the
    rotation statement with the old key, or with ``root_key`` (an offline root).

    The old files move to ``keys/retired/NAME-<oldid>.*`` with the time of retirement
    in ``NAME-<oldid>.retired``; batches in flight sealed to the old age recipient stay
    readable (``import`` and ``verify --decrypt`` try retired identities too). The new
    pair is protected with ``new_passphrase``, or with ``passphrase`` when the old key
    was protected.

    Raises:
        StateError / InputError: as ``load_signing_key``.
    """
    old_sk = load_signing_key(home, name, passphrase)
    old_info = show(home, name)
    if new_passphrase is None and passphrase is not None and old_info.protected:
        new_passphrase = passphrase  # never silently drop the protection of a protected key
    old_id = key_id_hex16(old_sk.public_key.key_id)
    p = _paths(home, name)
    retired = _retired_dir(home)
    make_private_dir(retired)
    sk = minisign.SecretKey.generate()
    # The new identity is of the old one's kind (a hybrid key stays post-quantum).
    pq = old_info.age_recipient.startswith("age1pq1")
    ident: age.KeyIdentity = age.HybridIdentity.generate() if pq else age.X25519Identity.generate()
    for path in p.values():
        if path.exists():
            suffix = path.name[len(name):]
            os.replace(path, retired / f"{name}-{old_id}{suffix}")
    write_private_file(retired / f"{name}-{old_id}.retired", f"{_utc_stamp(now)}\n".encode())
    fsync_dir(retired)
    _write_key_files(home, name, sk, ident, new_passphrase, now, scrypt_cost=scrypt_cost)
    new_pub_bytes = p["pub"].read_bytes()
    new_id = key_id_hex16(sk.public_key.key_id)
    statement = f"{ROTATION_PREFIX} old={old_id} new={new_id} at={_utc_stamp(now)}"
    signer = root_key if root_key is not None else old_sk
    signer_id = key_id_hex16(signer.public_key.key_id)
    sig = minisign.sign(
        signer, new_pub_bytes, trusted_comment=statement,
        untrusted_comment=f"key rotation statement signed by {signer_id}",
    )
    write_private_file(p["rotation"], sig.encode(), mode=0o644)
    who = "the root key" if root_key is not None else "the old key"
    return RotationResult(
        name=name, old_key_id=old_id, new_key_id=new_id,
        old_age_recipient=old_info.age_recipient, new_age_recipient=str(ident.recipient),
        retired_as=f"retired/{name}-{old_id}", statement=str(p["rotation"]),
        statement_signed_by=signer_id, new_public_key=str(p["pub"]),
        send=[
            f"to every receiver that trusts this key as a signer: {p['pub'].name} and {p['rotation'].name} "
            f"(signed by {who}); they run: cluetool keys trust SOURCE {p['pub'].name} --rotation {p['rotation'].name}",
            f"to every sender that seals to this home: the new age recipient {ident.recipient} "
            f"(cluetool seal --to); batches already sealed to the old recipient still import here",
            f"to auditors: {p['pub'].name} and {p['rotation'].name}; they check with: "
            f"cluetool verify --signer OLD.pub --rotation {p['rotation'].name} --new {p['pub'].name} BATCH",
        ],
    )


def _retired_at(path: Path) -> str | None:
    try:
        return path.read_text(encoding="ascii").strip() or None
    except (OSError, UnicodeDecodeError):
        return None


def list_retired(home: Home, name: str | None = None) -> list[RetiredKey]:
    """The retired key pairs of the home (of key NAME only, if given), newest first.

    Raises:
        StateError: the home is missing or unsafe.
    """
    check_home(home)
    d = _retired_dir(home)
    if not d.is_dir():
        return []
    found: dict[tuple[str, str], set[str]] = {}
    for path in d.iterdir():
        m = _RETIRED_RE.fullmatch(path.name)
        if m is not None and (name is None or m["name"] == name):
            found.setdefault((m["name"], m["id"]), set()).add(m["suffix"])
    out = []
    for (n, kid), suffixes in found.items():
        recipient = None
        if ".age.pub" in suffixes:
            recipient = _read_public(d / f"{n}-{kid}.age.pub").strip()
        out.append(RetiredKey(
            name=n, key_id=kid, label=f"retired/{n}-{kid}", age_recipient=recipient,
            retired_at=_retired_at(d / f"{n}-{kid}.retired") if ".retired" in suffixes else None,
            has_identity=".age" in suffixes, has_signing_key=".key" in suffixes,
        ))

    def order(k: RetiredKey) -> tuple[str, float]:
        path = d / f"{k.name}-{k.key_id}.age"
        mtime = path.stat().st_mtime if path.exists() else 0.0
        return (k.retired_at or "", mtime)

    return sorted(out, key=order, reverse=True)


def _open_identity(path: Path, passphrase: bytes | None) -> age.KeyIdentity:
    text = _read_secret(path)
    if text.startswith("-----BEGIN AGE ENCRYPTED FILE-----") or text.startswith("age-encryption.org/"):
        if passphrase is None:
            raise InputError(
                f'identity "{path}" is protected',
                hint="pass --passphrase-file FILE or --passphrase-env VAR",
            )
        out = io.BytesIO()
        try:
            age.decrypt(io.BytesIO(text.encode()), out, [age.ScryptIdentity(passphrase)])
        except age.AgeError:
            raise InputError(f'cannot open identity "{path}": wrong passphrase or damaged file') from None
        text = out.getvalue().decode("utf-8", "replace")
    try:
        identities = age.parse_identities(text)
    except age.AgeError:
        raise InputError(f'cannot read identity "{path}": not an age identity file') from None
    if len(identities) != 1:
        raise InputError(f'identity file "{path}" must hold exactly one identity')
    return identities[0]


def load_identities(home: Home, name: str, passphrase: bytes | None = None) -> list[NamedIdentity]:
    """The current age identity NAME, then its retired identities, newest first.

    A retired identity that cannot be opened (protected with another passphrase) is
    left out; the current one must open.

    Raises:
        StateError / InputError: as ``load_identity`` for the current identity.
    """
    out = [NamedIdentity(label=name, identity=load_identity(home, name, passphrase))]
    for k in list_retired(home, name):
        if not k.has_identity:
            continue
        try:
            ident = _open_identity(_retired_dir(home) / f"{k.name}-{k.key_id}.age", passphrase)
        except (InputError, StateError):
            continue
        out.append(NamedIdentity(label=k.label, identity=ident))
    return out


def destroy_retired(home: Home, name: str, key_id: str, *, confirmed: bool) -> DestroyResult:
    """Delete the retired key pair NAME-<ID> (secret and public files).

    The tool cannot know whether batches sealed to that identity are still in flight:
    once it is gone they can never be decrypted. So ``confirmed`` (``--yes``) is needed.

    Raises:
        InputError: not confirmed, bad name or id, or no such retired key.
        StateError: the home is missing or unsafe.
    """
    _check_name(name)
    key_id = key_id.upper()
    if not re.fullmatch(r"[0-9A-F]{16}", key_id):
        raise InputError(f"invalid key id {key_id!r}: 16 hexadecimal digits, as keys list --retired shows")
    matches = [k for k in list_retired(home, name) if k.key_id == key_id]
    if not matches:
        raise InputError(f"no retired key {name}-{key_id}", hint="see: cluetool keys list --retired")
    if not confirmed:
        raise InputError(
            f"destroying retired key {name}-{key_id} needs --yes: batches still in flight that were "
            "sealed to it could never be decrypted, and cluetool cannot know whether any are",
            hint="import every batch sealed before the rotation first, then add --yes",
        )
    d = _retired_dir(home)
    removed = []
    for suffix in (".key", ".age", ".pub", ".age.pub", ".rotation.minisig", ".retired"):
        path = d / f"{name}-{key_id}{suffix}"
        if path.exists():
            path.unlink()
            removed.append(str(path))
    fsync_dir(d)
    return DestroyResult(name=name, key_id=key_id, removed=removed)
