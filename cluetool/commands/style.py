"""One option style for every command (issue 21), applied once to the built command tree
by the root group instead of being repeated in each command:

- ``--home``, ``-f/--format`` and ``-q/--quiet`` are accepted by every command as well as
  globally. A command that declares one of them reads its own value (``home_of``,
  ``fmt_of``); for the others the value given after the command name goes to the same
  global state the root options set.
- Metavars are words (``PATH``, ``FILE``, ``NAME``, ``RECIPIENT``, ``N``), not Python types
  (``<list[Path]>``, ``{paths}``); arguments read as in Click (``SPOOL``, ``[FILE]``,
  ``BATCHES...``).
"""

from __future__ import annotations

import copy
import functools
import re
from collections.abc import Callable, Iterator
from typing import Any

from typer.core import TyperArgument

SHARED = ("--home", "--format", "--quiet")  # long names; their short forms come from the root
SHORT = {"--format": "-f", "--quiet": "-q"}

# Words by option, where the type alone says too little.
WORDS = {
    "--home": "DIR", "--format": "FORMAT", "--at": "TIME", "--as-of": "DATE", "--since": "TIME",
    "--until": "TIME", "--grace": "DURATION", "--max-bytes": "SIZE", "--passphrase-env": "VAR",
    "--root-passphrase-env": "VAR", "--reason": "TEXT", "--note": "TEXT", "--id": "KEY_ID",
    "--key-fingerprint": "SHA256", "--log-key-fingerprint": "SHA256", "--object": "ID", "--fail-on": "STATE",
    "--identity": "NAME", "--wait": "SECONDS", "--source": "SOURCE", "--quarantine": "DIR", "--done": "DIR",
}
# ... and by command and option, where one option name means different things.
COMMAND_WORDS = {
    ("seal", "--to"): "RECIPIENT", ("record", "--to"): "UNIT", ("record", "--of"): "CLUE",
    ("ledger", "--from"): "DATE", ("ledger", "--to"): "DATE",
}
ARGUMENT_WORDS = {"paths": "PATH", "held_id": "ID"}
PLACEHOLDERS = ("FILE", "NAME", "DIR", "SIZE")


class WordArgument(TyperArgument):
    """A positional argument shown as Click shows one: ``SPOOL``, ``[FILE]``, ``BATCHES...``."""

    def display_type_rich(self, ctx: Any) -> str | None:  # noqa: ARG002 - the word says it
        return None

    def _rich_display_name(self) -> str:
        return str(self.metavar) + ("..." if self.nargs != 1 else "")

    def _usage_display_name(self) -> str:
        name = str(self.metavar) if self.required else f"[{self.metavar}]"
        return name + ("..." if self.nargs != 1 else "")


def _leaves(group: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    for name, cmd in (getattr(group, "commands", None) or {}).items():
        if getattr(cmd, "commands", None):
            yield from _leaves(cmd, (*path, name))
        else:
            yield (*path, name), cmd


def _option_word(command: str, param: Any) -> str | None:
    desc = getattr(param, "type_descriptor", None)
    opt = next((o for o in param.opts if o.startswith("--")), param.opts[0])
    if (command, opt) in COMMAND_WORDS:
        return COMMAND_WORDS[(command, opt)]
    if opt in WORDS:
        return WORDS[opt]
    if desc is not None and desc.is_choice:
        return "|".join(str(getattr(c, "value", c)) for c in desc.choices or ())
    help_text = param.help or ""
    annotation = getattr(desc, "annotation", None)
    inner = getattr(annotation, "__args__", (annotation,))[0] if annotation is not None else None
    if (desc is not None and desc.is_path) or getattr(inner, "__name__", "") in ("Path", "PosixPath"):
        if "directory" in help_text.lower():
            return "DIR"
        return "FILE" if re.search(r"\bfile\b", help_text, re.IGNORECASE) else "PATH"
    if inner is int:
        return "N"
    if inner is float:
        return "NUMBER"
    named = sorted({w for w in PLACEHOLDERS if re.search(rf"\b{w}\b", help_text)})
    if len(named) == 1:
        return named[0]
    if not named and re.search(r"\bname\b", help_text, re.IGNORECASE):
        return "NAME"
    return opt.lstrip("-").upper().replace("-", "_")


def words_for_metavars(command: str, cmd: Any) -> None:
    for param in cmd.params:
        if param.param_type_name == "argument":
            if param.metavar is None:
                param.metavar = ARGUMENT_WORDS.get(param.name, param.name.upper())
            if isinstance(param, TyperArgument) and not isinstance(param, WordArgument):
                param.__class__ = WordArgument
        elif param.metavar is None and not (getattr(param, "is_flag", False) or getattr(param, "count", False)):
            param.metavar = _option_word(command, param)


def _apply_shared(values: dict[str, Any]) -> None:
    from cluetool.commands.common import GLOBALS
    from cluetool.output import set_quiet

    if values.get("home") is not None:
        GLOBALS.home = values["home"]
    if values.get("fmt") is not None:
        GLOBALS.fmt, GLOBALS.fmt_given = values["fmt"], True
    if values.get("quiet"):
        set_quiet(True)


def _taking(callback: Callable[..., Any], injected: tuple[str, ...]) -> Callable[..., Any]:
    @functools.wraps(callback)
    def run(*args: Any, **kwargs: Any) -> Any:
        _apply_shared({name: kwargs.pop(name, None) for name in injected})
        return callback(*args, **kwargs)

    return run


def one_option_style(root: Any) -> None:
    """Give every command of ``root`` the shared options and word metavars (idempotent)."""
    shared = {next(o for o in p.opts if o.startswith("--")): p for p in root.params if set(p.opts) & set(SHARED)}
    words_for_metavars("cluetool", root)
    for path, cmd in _leaves(root):
        injected: list[str] = []
        for long in SHARED:
            own = next((p for p in cmd.params if long in p.opts), None)
            if own is None:
                param = copy.copy(shared[long])
                param.opts = list(param.opts)
                cmd.params.append(param)
                injected.append(param.name)
            elif long in SHORT and SHORT[long] not in own.opts and not any(SHORT[long] in p.opts for p in cmd.params):
                own.opts = [*own.opts, SHORT[long]]
        if injected and cmd.callback is not None:
            cmd.callback = _taking(cmd.callback, tuple(injected))
        words_for_metavars(path[-1], cmd)
