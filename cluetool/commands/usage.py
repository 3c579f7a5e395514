"""Usage errors as one line (issue 21): ``cluetool: error: …`` plus ``cluetool: hint: …``,
exit 2, instead of Click's usage box.

The root group catches every usage error raised while parsing the command line (its own
options, a subcommand's, an unknown command) and re-raises it as :class:`UsageLine`,
whose ``show`` prints the two lines. Click is reached only through Typer's public
``typer.BadParameter`` (the project imports no click).
"""

from __future__ import annotations

import re
from typing import IO, Any

import typer
from typer.core import TyperGroup

from cluetool.output import error_lines

# Click's UsageError: the base of Typer's public BadParameter.
_UsageError: type[Exception] = next(c for c in typer.BadParameter.__mro__ if c.__name__ == "UsageError")


class UsageLine(typer.BadParameter):
    """A usage error already worded for ``cluetool: error:``; exit 2."""

    exit_code = 2

    def __init__(self, message: str, hint: str) -> None:
        super().__init__(message)
        self.hint = hint

    def format_message(self) -> str:
        return self.message

    def show(self, file: IO[Any] | None = None) -> None:  # noqa: ARG002 - always stderr
        typer.echo(error_lines(self.message, self.hint), err=True)


def _reword(exc: Exception) -> UsageLine:
    text = exc.format_message()  # type: ignore[attr-defined]
    text = text.replace("Value error, ", "")
    text = re.sub(r"\s+", " ", text).strip().rstrip(".")
    text = text.replace(". Choose from:", "; Choose from:")
    text = re.sub(r"Choose from: (.*)$", lambda m: "choose from " + m.group(1).rstrip(","), text)
    text = text[:1].lower() + text[1:]
    ctx = getattr(exc, "ctx", None)
    where = ctx.command_path if ctx is not None else "cluetool"
    return UsageLine(text, f"run '{where} --help' for its usage")


def _is_usage(exc: Exception) -> bool:
    # Click's "no arguments: show the help" is a usage error too; its help text stays as is.
    return isinstance(exc, _UsageError) and not isinstance(exc, UsageLine) and type(exc).__name__ != "NoArgsIsHelpError"


class RootGroup(TyperGroup):
    """The root ``cluetool`` group: usage errors at any level come out as one line, and
    every command gets the one option style (``commands/style.py``)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        from cluetool.commands.style import one_option_style

        one_option_style(self)

    def make_context(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return super().make_context(*args, **kwargs)
        except Exception as exc:
            if _is_usage(exc):
                raise _reword(exc) from None
            raise

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except Exception as exc:
            if _is_usage(exc):
                raise _reword(exc) from None
            raise
