"""The home directory, ``config.toml`` and the paths inside a home (README.md, keys/README.md, cluetool/store/migrations.py).

A home is never implicit: it comes from ``--home`` or ``CLUETOOL_HOME``.
"""

from __future__ import annotations

import json
import os
import tomllib
from pathlib import Path

import msgspec

from cluetool.errors import StateError

HOME_ENV = "CLUETOOL_HOME"
SHIPPED_RULES = Path(__file__).resolve().parent / "data" / "rules"
MiB = 1024 * 1024


class Limits(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Attachment size and count limits (bytes, files)."""

    jpg: int = 20 * MiB
    mp3: int = 100 * MiB
    mp4: int = 500 * MiB
    files: int = 20
    submission: int = 1024 * MiB
    image_pixels: int = 100_000_000  # width x height of a JPEG frame or an MP4 track
    duration: int = 24 * 3600  # seconds: an MP4 movie header, or an MP3 by its frames


class Config(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """The contents of ``config.toml``."""

    timezone: str = "Asia/Shanghai"
    limits: Limits = msgspec.field(default_factory=Limits)
    # The store: absent for the SQLite file store.db in the home; a postgresql:// URL
    # (without a password) for a PostgreSQL store (docs/postgresql.md).
    store: str | None = None
    # The name of an environment variable holding the PostgreSQL password (not the password).
    store_password_env: str | None = None
    # A PostgreSQL store created with --blobs-in-db: attachment blobs are rows of its
    # tables, not files in blobs/ (docs/operations.md). Chosen at init; cannot change.
    blobs_in_db: bool = False


DEFAULT_CONFIG_TOML = """\
# cluetool home configuration.
# The platform's time zone: deadlines count local dates in it (cluetool/data/rules/).
timezone = "Asia/Shanghai"

# Attachment limits, in bytes and files (schemas/report.schema.json).
[limits]
jpg = 20971520         # 20 MiB
mp3 = 104857600        # 100 MiB
mp4 = 524288000        # 500 MiB
files = 20
submission = 1073741824  # 1 GiB
image_pixels = 100000000  # 100 megapixels per image or video frame
duration = 86400         # seconds of MP4 video or audio
"""


class Home:
    """A cluetool home and the paths in it."""

    def __init__(self, root: Path) -> None:
        self.root = root

    @property
    def config_file(self) -> Path:
        return self.root / "config.toml"

    @property
    def keys_dir(self) -> Path:
        return self.root / "keys"

    @property
    def trusted_dir(self) -> Path:
        return self.root / "trusted"

    @property
    def rules_dir(self) -> Path:
        return self.root / "rules"

    @property
    def blobs_dir(self) -> Path:
        return self.root / "blobs"

    @property
    def state_dir(self) -> Path:
        return self.root / "state"

    @property
    def store_file(self) -> Path:
        return self.root / "store.db"

    @property
    def store_location(self) -> Path | str:
        """The store: ``store`` from ``config.toml`` (a ``postgresql://`` URL), else the
        SQLite file ``store.db``."""
        return self.config().store or self.store_file

    def config(self) -> Config:
        """Load ``config.toml`` (defaults when the file is absent).

        Raises:
            StateError: the file is not valid TOML or has unknown or mistyped settings.
        """
        return load_config(self.config_file)

    def check(self) -> Home:
        """Raise ``StateError`` unless this looks like an initialised home."""
        if self.root.is_dir() and not os.access(self.root, os.R_OK | os.X_OK):
            raise StateError(f'permission denied on "{self.root}"', hint="run cluetool as the user who owns the home")
        if not self.root.is_dir() or not self.config_file.is_file():
            raise StateError(
                f'no cluetool home at "{self.root}"',
                hint=f"run: cluetool init --home {self.root}",
            )
        return self


def load_config(path: Path) -> Config:
    """Read a ``config.toml``; defaults for whatever it does not set.

    Raises:
        StateError: unreadable, not TOML, or wrong settings (the home is unusable, exit 3).
    """
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return Config()
    except OSError as exc:
        raise StateError(f'cannot read config "{path}": {exc.strerror}') from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
        return msgspec.convert(data, Config)
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:  # the home is unusable: exit 3, as the README says
        raise StateError(f'cannot read config "{path}": {exc}', hint=_CONFIG_HINT) from None
    except msgspec.ValidationError as exc:
        raise StateError(f'invalid config "{path}": {exc}', hint=_CONFIG_HINT) from None


_CONFIG_HINT = "fix config.toml (or restore it from a backup); `cluetool init` writes a default one if it is missing"


def resolve_home(home: Path | None) -> Home:
    """The home named by ``--home`` or ``CLUETOOL_HOME``.

    Raises:
        StateError: neither is set.
    """
    if home is None:
        env = os.environ.get(HOME_ENV)
        if not env:
            raise StateError(
                "no cluetool home given",
                hint=f"pass --home DIR or set {HOME_ENV}; create one with: cluetool init --home DIR",
            )
        home = Path(env)
    return Home(home)


def make_private_dir(path: Path) -> None:
    """Create ``path`` (and parents) with mode 0700; tighten it if it exists."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(path, 0o700)


def _toml_string(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)  # a TOML basic string: JSON's escapes


def init_home(root: Path, *, store: str | None = None, store_password_env: str | None = None,
              blobs_in_db: bool = False) -> Home:
    """Create a home: ``config.toml``, ``keys/``, ``trusted/``, ``rules/``, ``blobs/``, 0700.
    With ``store`` (a ``postgresql://`` URL) the new ``config.toml`` names it (and, with
    ``blobs_in_db``, says that the blobs are in its tables).

    Idempotent: an existing home keeps its files.

    Raises:
        StateError: the directory cannot be created, or the existing home's
            ``config.toml`` names another store.
    """
    home = Home(root)
    if home.config_file.exists() and store is not None:
        have = home.config()
        if (have.store, have.store_password_env, have.blobs_in_db) != (store, store_password_env, blobs_in_db):
            raise StateError(
                f'home "{root}" already uses {"store " + have.store if have.store else "its store.db"}'
                + (" with its blobs in the database" if have.blobs_in_db else ""),
                hint=f'edit "{home.config_file}" to change its store (or use store migrate-to)',
            )
    try:
        make_private_dir(root)
        for d in (home.keys_dir, home.trusted_dir, home.rules_dir, home.blobs_dir, home.state_dir):
            make_private_dir(d)
        if not home.config_file.exists():
            text = DEFAULT_CONFIG_TOML
            if store is not None:  # top-level keys: before the [limits] table
                lines = "\n# The store: PostgreSQL (docs/postgresql.md); never a password here.\n"
                lines += f"store = {_toml_string(store)}\n"
                if store_password_env is not None:
                    lines += f"store_password_env = {_toml_string(store_password_env)}\n"
                if blobs_in_db:
                    lines += "# Attachment blobs are rows of the store's tables, not files in blobs/.\n"
                    lines += "blobs_in_db = true\n"
                text = text.replace("\n# Attachment limits", lines + "\n# Attachment limits", 1)
            write_private_file(home.config_file, text.encode())
        # The shipped rules are data: copied once, then the home's own to edit.
        for src in sorted(SHIPPED_RULES.glob("*.toml")):
            dest = home.rules_dir / src.name
            if not dest.exists():
                write_private_file(dest, src.read_bytes())
    except OSError as exc:
        raise StateError(f'cannot create home "{root}": {exc.strerror}') from None
    return home


def write_private_file(path: Path, data: bytes, *, mode: int = 0o600) -> None:
    """Write ``data`` atomically (temp file in the same dir, fsync, rename, fsync dir)."""
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)


# -- file names, whatever the locale ----------------------------------------------------
# Names on disk are bytes. cluetool reads them as UTF-8 (never in the locale's encoding):
# a name that is not UTF-8 cannot be shown or recorded as text, so it is refused where it
# matters (a spool entry is quarantined as ``spool.bad_name``) and shown escaped.


def path_text(path: str | bytes | os.PathLike[str]) -> str:
    """The text of an OS path, its bytes read as UTF-8, whatever the locale.

    Raises:
        UnicodeDecodeError: the path is not valid UTF-8.
    """
    return os.fsencode(path).decode("utf-8")


def text_path(text: str) -> Path:
    """The OS path whose bytes are the UTF-8 of ``text`` (inverse of ``path_text``)."""
    return Path(os.fsdecode(text.encode("utf-8", "surrogateescape")))


def shown(path: str | bytes | os.PathLike[str]) -> str:
    """A path or name for messages and records: UTF-8, invalid bytes as ``\\xNN``."""
    return os.fsencode(path).decode("utf-8", "backslashreplace")


def pid_alive(pid: int) -> bool:
    """Whether a process with this id exists (it may be another one with a reused id)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale_temp_files(directory: Path) -> list[Path]:
    """Remove the ``.NAME.tmp-PID`` files of ``write_private_file`` in ``directory``
    whose writer has ended (a killed run); the paths removed."""
    removed = []
    try:
        names = sorted(os.listdir(directory))
    except FileNotFoundError:
        return []
    for name in names:
        head, sep, pid = name.rpartition(".tmp-")
        if name.startswith(".") and sep and head and pid.isdigit() and not pid_alive(int(pid)):
            path = directory / name
            if path.is_file():
                path.unlink(missing_ok=True)
                removed.append(path)
    if removed:
        fsync_dir(directory)
    return removed


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
