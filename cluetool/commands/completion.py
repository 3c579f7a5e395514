"""``cluetool completion SHELL``: print the shell completion script.

The script comes from Typer's own completion support, asked for the way Typer documents
it: the program run with ``_CLUETOOL_COMPLETE=source_SHELL`` prints its script. The
root command is run that way in-process, so the script always matches the commands.
"""

from __future__ import annotations

import os
from enum import Enum

import typer

COMPLETE_VAR = "_CLUETOOL_COMPLETE"


class Shell(str, Enum):
    bash = "bash"
    zsh = "zsh"
    fish = "fish"


def run(
    ctx: typer.Context,
    shell: Shell = typer.Argument(..., metavar="SHELL", help="bash, zsh or fish.", show_default=False),
) -> None:
    """Print the completion script for SHELL on stdout.

    Install it once: bash `cluetool completion bash > ~/.local/share/bash-completion/completions/cluetool`;
    zsh `cluetool completion zsh > "${fpath[1]}/_cluetool"`; fish `cluetool completion fish >
    ~/.config/fish/completions/cluetool.fish`. Then start a new shell.

    Example: cluetool completion bash > ~/.local/share/bash-completion/completions/cluetool
    """
    root = ctx.find_root().command
    before = os.environ.get(COMPLETE_VAR)
    os.environ[COMPLETE_VAR] = f"source_{shell.value}"
    try:
        root.main(args=[], prog_name="cluetool", complete_var=COMPLETE_VAR, standalone_mode=False)
    except SystemExit as exc:  # Typer's completion support exits once the script is printed
        if exc.code not in (0, None):
            raise
    finally:
        if before is None:
            os.environ.pop(COMPLETE_VAR, None)
        else:
            os.environ[COMPLETE_VAR] = before
