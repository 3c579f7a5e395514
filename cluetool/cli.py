"""The Typer app: global options, explicit registration of every command, and the one
place where errors become exit codes (README.md).

Command modules import their core lazily so that ``cluetool --help`` stays fast.
"""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, Optional

import typer

from cluetool import __version__
from cluetool.commands import common, held, import_, init, inspect, keys, seal, status, store, validate, verify
from cluetool.commands import completion, usage
from cluetool.commands.version import text as version_text
from cluetool.errors import ClueError, ExitCode
from cluetool.output import Format, error_lines, set_quiet

app = typer.Typer(
    name="cluetool",
    add_completion=True,  # Typer's completion support; `cluetool completion SHELL` prints the script
    cls=usage.RootGroup,  # usage errors as `cluetool: error:` + `cluetool: hint:`, exit 2
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        print(version_text(__version__))
        raise typer.Exit(0)


@app.callback()
def root(
    home: common.HomeOpt = None,
    fmt: common.FormatOpt = None,
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Silence informational messages."),
    debug: bool = typer.Option(False, "--debug", help="Show a traceback on internal errors."),
    version: Optional[bool] = typer.Option(
        None, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """Secure handling of clue packages: validate, seal, verify, import, assign, audit.

    cluetool moves citizens' reports ("clues") one way from the intake to an isolated
    network, signed and encrypted, and tracks them against legal deadlines.

    Exit status: 0 nothing wrong; 1 problems found; 2 usage or unreadable input; 3 home,
    store or keystore unusable; 4 calendar year unknown; 70 internal error; 75 store
    busy; 130 interrupted. A broken pipe (e.g. `| head`) also exits 1.
    """
    common.GLOBALS.home = home
    common.GLOBALS.fmt = fmt or Format.table
    common.GLOBALS.fmt_given = fmt is not None
    common.GLOBALS.debug = debug or bool(os.environ.get("CLUETOOL_DEBUG"))
    set_quiet(quiet)


def _fail(message: str, hint: str | None, code: int) -> typer.Exit:
    print(error_lines(message, hint), file=sys.stderr)
    return typer.Exit(code)


def guard(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Turn ``ClueError`` into its exit code and anything unexpected into exit 70."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except (typer.Exit, typer.Abort):
            raise
        except ClueError as exc:
            raise _fail(exc.message, exc.hint, int(exc.exit_code)) from None
        except KeyboardInterrupt:
            raise _fail("interrupted", None, int(ExitCode.INTERRUPTED)) from None
        except BrokenPipeError:
            raise typer.Exit(int(ExitCode.FINDINGS)) from None
        except PermissionError as exc:  # e.g. another user's 0700 home
            where = f' on "{exc.filename}"' if exc.filename else ""
            raise _fail(f"permission denied{where}", "run cluetool as the user who owns the home", int(ExitCode.STATE)) from None
        except Exception as exc:  # noqa: BLE001 - the last line of defence
            from cluetool.sqlerrors import translate  # a store error raised outside a store's block

            mapped = translate(exc, Path("store.db"), decoding=False)  # only SQLite's own errors here
            if mapped is not None:
                raise _fail(mapped.message, mapped.hint, int(mapped.exit_code)) from None
            if common.GLOBALS.debug:
                raise
            raise _fail(
                f"internal error: {type(exc).__name__}",
                "set CLUETOOL_DEBUG=1 (or pass --debug) for a traceback, and report it",
                int(ExitCode.INTERNAL),
            ) from None

    return wrapper


def _register(group: typer.Typer, name: str, fn: Callable[..., Any]) -> None:
    group.command(name)(guard(fn))


_register(app, "init", init.run)
_register(app, "validate", validate.run)
_register(app, "inspect", inspect.run)
_register(app, "seal", seal.run)
_register(app, "verify", verify.run)
_register(app, "import", import_.run)
_register(app, "status", status.run)
_register(app, "duplicates", store.duplicates)
_register(app, "completion", completion.run)

keys_app = typer.Typer(help="Signing keys and encryption identities (keys/README.md).", no_args_is_help=True)
for _name, _fn in keys.COMMANDS.items():
    _register(keys_app, _name, _fn)
keys_root_app = typer.Typer(help="Offline root keys that sign rotation statements.", no_args_is_help=True)
for _name, _fn in keys.ROOT_COMMANDS.items():
    _register(keys_root_app, _name, _fn)
keys_app.add_typer(keys_root_app, name="root")
app.add_typer(keys_app, name="keys")

code_app = typer.Typer(help="Reporters' query codes.", no_args_is_help=True)
_register(code_app, "new", status.new)
app.add_typer(code_app, name="code")

store_app = typer.Typer(help="The local store: check, backup, restore (docs/operations.md).", no_args_is_help=True)
_register(store_app, "check", store.check)
_register(store_app, "backup", store.backup)
_register(store_app, "restore", store.restore)
_register(store_app, "migrate-to", store.migrate_to)
app.add_typer(store_app, name="store")

held_app = typer.Typer(help="Reports held at import for a person to settle (colliding ids or query codes).", no_args_is_help=True)
_register(held_app, "list", held.list_)
_register(held_app, "resolve", held.resolve)
app.add_typer(held_app, name="held")

# -- audit commands (docs/audit.md) --
from cluetool.commands import audit as audit_cmds  # noqa: E402

audit_app = typer.Typer(help="The audit trail: verify, log, checkpoint, prove, export (docs/audit.md).", no_args_is_help=True)
for _name, _fn in audit_cmds.COMMANDS.items():
    _register(audit_app, _name, _fn)
for _group, (_help, _cmds) in audit_cmds.GROUPS.items():
    audit_app.add_typer(_sub := typer.Typer(help=_help, no_args_is_help=True), name=_group)
    for _name, _fn in _cmds.items():
        _register(_sub, _name, _fn)
app.add_typer(audit_app, name="audit")

# -- handling commands: assign, record, deadlines, ledger (cluetool/data/rules/) --
from cluetool.commands import handling as _handling  # noqa: E402

_register(app, "assign", _handling.assign)
_register(app, "record", _handling.record)
_register(app, "deadlines", _handling.deadlines)
_register(app, "ledger", _handling.ledger)

# -- the status feed, internal -> intake (docs/feed.md) --
from cluetool.commands import feed as _feed  # noqa: E402

app.add_typer(feed_app := typer.Typer(help="The status feed: export (internal side), import (intake).", no_args_is_help=True), name="feed")
for _name, _fn in _feed.COMMANDS.items():
    _register(feed_app, _name, _fn)

# -- the working-day calendar and its yearly update (docs/calendar.md) --
from cluetool.commands import calendar as _calendar  # noqa: E402

calendar_app = typer.Typer(help="The working-day calendar: show, check, add a year (docs/calendar.md).", no_args_is_help=True)
for _name, _fn in _calendar.COMMANDS.items():
    _register(calendar_app, _name, _fn)
app.add_typer(calendar_app, name="calendar")

# -- supervision: callback sample, statistics, HTML report (issue 23, docs/supervision.md) --
from cluetool.commands import supervision as _supervision  # noqa: E402

_register(app, "sample", _supervision.sample)
_register(app, "stats", _supervision.stats)
_register(app, "report", _supervision.report)


def main() -> None:
    """Console-script entry point."""
    # Output is UTF-8 whatever the locale (LC_ALL=C would make it ASCII): names and
    # report text are Chinese (issue 16).
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            reconfigure(encoding="utf-8", errors="backslashreplace")
    try:
        app(prog_name="cluetool")
    except KeyboardInterrupt:
        print("cluetool: error: interrupted", file=sys.stderr)
        sys.exit(int(ExitCode.INTERRUPTED))


__all__ = ["app", "main", "Path"]
