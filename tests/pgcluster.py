"""A throwaway PostgreSQL cluster for the tests and for CI (standard library only).

``python3 tests/pgcluster.py start DIR`` creates a cluster in ``DIR`` (``initdb`` as the
``postgres`` user when run as root, which ``initdb`` requires), starts it listening on a
Unix socket in ``DIR`` only (``listen_addresses=''``: no TCP port) and prints the
libpq connection string of the application role; ``python3 tests/pgcluster.py stop DIR``
stops it. The pytest plugin (``tests/pgfixture.py``) uses the same functions when no
cluster was started for it.

The cluster is for tests: ``fsync``, ``synchronous_commit`` and ``full_page_writes`` are
off (a crash of the test machine loses nothing that matters). Two roles: the bootstrap
superuser ``postgres`` (creates the databases) and ``cluetool_app`` (not a superuser: the
revoked privileges on the audit log bind it), which owns each test's database.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import sys
from pathlib import Path

SUPERUSER = "postgres"
APP_ROLE = "cluetool_app"
ENV_DSN = "CLUETOOL_TEST_PG_DSN"
ENV_REQUIRED = "CLUETOOL_TEST_PG_REQUIRED"


class ClusterError(Exception):
    """The cluster could not be created or started (the message says why)."""


def bindir() -> Path | None:
    """The directory of ``initdb`` and ``pg_ctl``: on PATH, else the newest
    ``/usr/lib/postgresql/*/bin`` (where Debian's package puts them)."""
    found = shutil.which("initdb")
    if found and shutil.which("pg_ctl"):
        return Path(found).resolve().parent
    candidates = sorted(
        (Path(p) for p in glob.glob("/usr/lib/postgresql/*/bin") if (Path(p) / "initdb").exists()),
        key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
    )
    return candidates[-1] if candidates else None


def _as_owner(argv: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return argv
    runuser = shutil.which("runuser")
    if runuser:
        return [runuser, "-u", SUPERUSER, "--", *argv]
    return ["su", SUPERUSER, "-s", "/bin/sh", "-c", " ".join(_quote(a) for a in argv)]


def _quote(arg: str) -> str:
    return "'" + arg.replace("'", "'\\''") + "'"


def _run(argv: list[str], what: str) -> None:
    proc = subprocess.run(_as_owner(argv), capture_output=True, text=True, timeout=120)
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        raise ClusterError(f"{what} failed: {' / '.join(tail)}")


def dsn(base: Path, *, user: str = APP_ROLE, dbname: str = "postgres") -> str:
    return f"host={base} user={user} dbname={dbname}"


def start(base: Path, *, durable: bool = False) -> str:
    """Create and start a cluster under ``base`` (an empty or missing directory) and
    return the application role's connection string (database ``postgres``). With
    ``durable`` (benchmarks) every commit is fsynced, as in production."""
    bins = bindir()
    if bins is None:
        raise ClusterError("no PostgreSQL binaries (initdb, pg_ctl) found")
    base = Path(base).resolve()
    base.mkdir(mode=0o700, parents=True, exist_ok=True)
    if os.geteuid() == 0:
        import pwd

        try:
            owner = pwd.getpwnam(SUPERUSER)
        except KeyError:
            raise ClusterError(f"running as root and there is no '{SUPERUSER}' user for initdb") from None
        os.chown(base, owner.pw_uid, owner.pw_gid)
    data = base / "data"
    _run([str(bins / "initdb"), "-D", str(data), "-U", SUPERUSER, "--auth=trust", "-E", "UTF8",
          "--locale=C", "--no-sync", "--no-instructions"], "initdb")
    options = " ".join((
        "-c listen_addresses=''",
        f"-c unix_socket_directories='{base}'",
        "-c unix_socket_permissions=0700",
        *(() if durable else ("-c fsync=off", "-c synchronous_commit=off", "-c full_page_writes=off")),
        "-c max_connections=100",
        "-c shared_buffers=256MB" if durable else "-c shared_buffers=64MB",
    ))
    _run([str(bins / "pg_ctl"), "-D", str(data), "-o", options, "-l", str(base / "server.log"),
          "-w", "-t", "60", "start"], "pg_ctl start")
    psql = bins / "psql"
    if not psql.exists():
        psql = Path(shutil.which("psql") or "psql")
    _run([str(psql), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", dsn(base, user=SUPERUSER),
          "-c", f"CREATE ROLE {APP_ROLE} LOGIN CREATEDB"], "creating the application role")
    return dsn(base)


def stop(base: Path) -> None:
    """Stop the cluster under ``base`` (immediately: it is thrown away) and remove it."""
    base = Path(base).resolve()
    bins = bindir()
    data = base / "data"
    if bins is not None and (data / "postmaster.pid").exists():
        try:
            _run([str(bins / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"], "pg_ctl stop")
        except ClusterError as exc:
            print(f"pgcluster: warning: {exc}", file=sys.stderr)
    shutil.rmtree(base, ignore_errors=True)


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[0] not in ("start", "stop"):
        print("usage: pgcluster.py start|stop DIR", file=sys.stderr)
        return 2
    if argv[0] == "stop":
        stop(Path(argv[1]))
        return 0
    try:
        print(start(Path(argv[1])))
    except (ClusterError, OSError, subprocess.TimeoutExpired) as exc:
        print(f"pgcluster: error: {exc}", file=sys.stderr)
        stop(Path(argv[1]))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
