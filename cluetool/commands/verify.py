"""``cluetool verify``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from cluetool.commands.common import FormatOpt, HomeOpt, PassEnvOpt, PassFileOpt, fmt_of, home_of


def run(
    batches: Annotated[list[Path], typer.Argument(help="Batch files (.clue).", show_default=False)],
    chain: Annotated[bool, typer.Option("--chain", help="Also check the batches form an unbroken chain per source.")] = False,
    signer: Annotated[Optional[list[Path]], typer.Option("--signer", help="Trusted minisign public key file (repeatable); no home needed.", show_default=False)] = None,
    rotation: Annotated[Optional[list[Path]], typer.Option("--rotation", help="Rotation statement signed by a trusted key (repeatable, in chain order).", show_default=False)] = None,
    new: Annotated[Optional[list[Path]], typer.Option("--new", help="New key admitted by the --rotation of the same position (default: NAME.pub beside NAME.rotation.minisig).", show_default=False)] = None,
    decrypt: Annotated[bool, typer.Option("--decrypt", help="Also decrypt and check the inner index (writes no plaintext).")] = False,
    identity: Annotated[Optional[str], typer.Option("--identity", help="Key name of the age identity for --decrypt.", show_default=False)] = None,
    passphrase_file: PassFileOpt = None,
    passphrase_env: PassEnvOpt = None,
    home: HomeOpt = None,
    fmt: FormatOpt = None,
) -> None:
    """Check batches without decrypting: layout, canonical manifest, signature by a trusted
    signer, payload size and sha256; with --chain, gaps, replays, forks and reorders.

    With --chain and a home that has a store, batches already in its ledger are "already
    imported" (as import says) and the chain goes on from the store's last batch.
    --decrypt decrypts only a batch whose signature, signer and payload hash check out.

    Exit 0 all good, 1 any problem, 2 unreadable input.

    An auditor without a home: --signer OLD.pub --rotation STATEMENT --new NEW.pub, with
    one --rotation/--new pair per rotation of a chain, in order; --decrypt tries the
    current identity, then the retired ones, and says which one decrypted.

    Example: cluetool verify inbox/intake-bj-00000001.clue --chain --format json
    """
    from cluetool import api
    from cluetool.commands.progress import working
    from cluetool.output import emit

    passphrase = api.read_passphrase(passphrase_file, passphrase_env)
    with working(f"verifying {len(batches)} batch(es)"):  # a spinner on a terminal only
        report = api.verify(
            batches, home=api.optional_home(home_of(home)), signer_files=signer or [], rotations=rotation or [],
            new_keys=new or [], chain=chain, identity=identity if decrypt or identity else None, decrypt=decrypt,
            passphrase=passphrase,
        )
    emit(report, fmt_of(fmt), rows="problems", columns=["batch", "code", "message"])
    if fmt_of(fmt).value == "table" and report.ok:
        from cluetool.output import info

        imported = sum(b.already_imported for b in report.batches)
        info(f"{len(report.batches)} batch(es) verified" + (f", {imported} of them already imported" if imported else ""))
        for b in report.batches:
            if b.decrypted_by:
                info(f"{b.batch}: decrypted with identity {b.decrypted_by}")
    raise typer.Exit(0 if report.ok else 1)
