"""Key files in a home (DESIGN §6), in the real minisign and age formats.

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

Signer trust lives in ``trusted/SOURCE/<KEYID>.pub`` (with the rotation statement that
admitted it, if any, beside it as ``<KEYID>.rotation.minisig``).
"""

from __future__ import annotations

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
from cluetool.model.batch import key_id_hex16

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
SOURCE_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
ROTATION_PREFIX = "cluetool-key-rotation/1"
_ROTATION_RE = re.compile(
    r"^cluetool-key-rotation/1 old=(?P<old>[0-9A-F]{16}) new=(?P<new>[0-9A-F]{16}) "
    r"at=(?P<at>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ)$"
)


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


class TrustResult(msgspec.Struct, kw_only=True):
    """A signer key admitted for a source."""

    source: str
    key_id: str
    path: str
    rotation_from: str | None = None
    already_trusted: bool = False


def read_passphrase(file: Path | None, env: str | None) -> bytes | None:
    """The passphrase named by ``--passphrase-file`` or ``--passphrase-env`` (never argv).

    One trailing newline of a file is dropped. Returns ``None`` when neither is given.

    Raises:
        InputError: both given, the file unreadable, the variable unset or empty.
    """
    if file is not None and env is not None:
        raise InputError("give either --passphrase-file or --passphrase-env, not both")
    if file is not None:
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


def _check_source(source: str) -> str:
    if not SOURCE_RE.fullmatch(source):
        raise InputError(
            f"invalid source name {source!r}: use lower-case letters, digits and '-' (up to 63)"
        )
    return source


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
    home.check()
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
    home.check()
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
    home.check()
    if not home.keys_dir.is_dir():
        return []
    names = sorted(p.name[: -len(".pub")] for p in home.keys_dir.glob("*.pub") if not p.name.endswith(".age.pub"))
    return [show(home, n) for n in names]


def export_public(home: Home, name: str, *, kind: str) -> str:
    """The public key of NAME as minisign (``kind="minisign"``) or age (``"age"``) text."""
    p = _paths(home, _check_name(name))
    home.check()
    if kind == "age":
        return _read_public(p["age_pub"])
    if kind == "minisign":
        return _read_public(p["pub"])
    raise InputError(f"unknown export kind {kind!r}: use age or minisign")


def _parse_public(text: str, path: Path | str) -> minisign.PublicKey:
    try:
        return minisign.PublicKey.parse(text)
    except minisign.MinisignError as exc:
        raise InputError(f'cannot read public key "{path}": {exc}') from None


def load_signing_key(home: Home, name: str, passphrase: bytes | None = None) -> minisign.SecretKey:
    """The minisign secret key NAME.

    Raises:
        StateError: missing, or readable by group/others.
        InputError: malformed, encrypted without a passphrase given, or wrong passphrase.
    """
    path = _paths(home, _check_name(name))["key"]
    home.check()
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
    home.check()
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


def trusted_keys(home: Home, source: str) -> list[minisign.PublicKey]:
    """The signer keys trusted for SOURCE (empty when none)."""
    d = home.trusted_dir / _check_source(source)
    if not d.is_dir():
        return []
    return [_parse_public(_read_public(p), p) for p in sorted(d.glob("*.pub"))]


def trust(
    home: Home, source: str, pub_file: Path, *, rotation: Path | None = None
) -> TrustResult:
    """Trust the minisign public key in ``pub_file`` as a signer for batches of SOURCE.

    With ``rotation`` (a ``NAME.rotation.minisig`` written by ``rotate``), the key is
    admitted only if the statement is signed by a key already trusted for SOURCE and
    names the new key's id.

    Raises:
        InputError: unreadable key or statement; a statement that does not verify.
        StateError: the home is missing.
    """
    home.check()
    _check_source(source)
    try:
        pub_text = pub_file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        raise InputError(f'cannot read public key "{pub_file}"') from None
    pub = _parse_public(pub_text, pub_file)
    rotation_from = None
    rotation_text = None
    if rotation is not None:
        try:
            rotation_text = rotation.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            raise InputError(f'cannot read rotation statement "{rotation}"') from None
        old = check_rotation(trusted_keys(home, source), pub_text.encode(), rotation_text, pub)
        rotation_from = old
    d = home.trusted_dir / source
    make_private_dir(home.trusted_dir)
    make_private_dir(d)
    dest = d / f"{key_id_hex16(pub.key_id)}.pub"
    already = dest.exists()
    write_private_file(dest, pub.to_file_text(f"minisign public key {key_id_hex16(pub.key_id)}").encode(), mode=0o644)
    if rotation_text is not None:
        write_private_file(d / f"{key_id_hex16(pub.key_id)}.rotation.minisig", rotation_text.encode(), mode=0o644)
    fsync_dir(d)
    return TrustResult(
        source=source, key_id=key_id_hex16(pub.key_id), path=str(dest),
        rotation_from=rotation_from, already_trusted=already,
    )


def check_rotation(
    trusted: list[minisign.PublicKey], new_pub_bytes: bytes, statement: str, new_pub: minisign.PublicKey
) -> str:
    """Verify a rotation statement against the trusted keys; return the old key id.

    Raises:
        InputError: the statement is not signed by a trusted key, or does not match.
    """
    if not trusted:
        raise InputError("no key is trusted for this source yet, so a rotation cannot be checked")
    try:
        sig = minisign.verify(trusted, new_pub_bytes, statement)
    except minisign.InvalidSignature:
        raise InputError("rotation statement is not signed by a trusted key for this source") from None
    except minisign.MinisignError as exc:
        raise InputError(f"cannot read rotation statement: {exc}") from None
    m = _ROTATION_RE.fullmatch(sig.trusted_comment)
    if m is None:
        raise InputError("rotation statement has an unexpected trusted comment")
    if m["new"] != key_id_hex16(new_pub.key_id) or m["old"] not in {key_id_hex16(k.key_id) for k in trusted}:
        raise InputError("rotation statement does not name this key and a trusted old key")
    return m["old"]


def rotate(
    home: Home, name: str, *, now: datetime, passphrase: bytes | None = None,
    new_passphrase: bytes | None = None, scrypt_cost: dict[str, int] | None = None,
) -> KeyInfo:
    """Replace key NAME by a new pair and sign the statement with the old key.

    The old files move to ``keys/retired/NAME-<oldid>.*``. The new pair is protected
    with ``new_passphrase``, or with ``passphrase`` when the old key was protected.

    Raises:
        StateError / InputError: as ``load_signing_key``.
    """
    old_sk = load_signing_key(home, name, passphrase)
    if new_passphrase is None and passphrase is not None and show(home, name).protected:
        new_passphrase = passphrase  # never silently drop the protection of a protected key
    old_id = key_id_hex16(old_sk.public_key.key_id)
    p = _paths(home, name)
    retired = home.keys_dir / "retired"
    make_private_dir(retired)
    sk = minisign.SecretKey.generate()
    # The new identity is of the old one's kind (a hybrid key stays post-quantum).
    pq = _read_public(p["age_pub"]).startswith("age1pq1")
    ident: age.KeyIdentity = age.HybridIdentity.generate() if pq else age.X25519Identity.generate()
    for path in p.values():
        if path.exists():
            suffix = path.name[len(name):]
            os.replace(path, retired / f"{name}-{old_id}{suffix}")
    fsync_dir(retired)
    _write_key_files(home, name, sk, ident, new_passphrase, now, scrypt_cost=scrypt_cost)
    new_pub_bytes = p["pub"].read_bytes()
    statement = f"{ROTATION_PREFIX} old={old_id} new={key_id_hex16(sk.public_key.key_id)} at={_utc_stamp(now)}"
    sig = minisign.sign(
        old_sk, new_pub_bytes, trusted_comment=statement,
        untrusted_comment=f"key rotation statement signed by {old_id}",
    )
    write_private_file(p["rotation"], sig.encode(), mode=0o644)
    return show(home, name)
