"""cluetool: secure handling of clue packages.

The library is the product and the ``cluetool`` command a thin skin over it. The library
face is ``cluetool.api`` (every command calls one of its functions); its names are also
here, loaded lazily so that ``cluetool --help`` stays fast.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

# Public name -> module that defines it. Everything of ``cluetool.api`` is public (but
# ``api.validate``: ``cluetool.validate`` is the package, hence ``validate_paths``); the
# few others are the records and helpers a library caller needs besides.
_API = (
    "DuplicateList", "FeedStatus", "HeldList", "Home", "ImportReport", "NewCode", "Status",
    "assign", "audit_check_proof", "audit_checkpoint", "audit_confirm_text", "audit_cosignatures_import",
    "audit_export", "audit_key_generate", "audit_log", "audit_prove", "audit_verify", "audit_witness",
    "calendar_add", "calendar_check", "calendar_last_year", "calendar_notice", "calendar_show",
    "deadlines", "duplicates", "feed_export", "feed_import", "held_list", "held_resolve", "import_batches", "init", "inspect",
    "keys_destroy", "keys_export", "keys_generate", "keys_list", "keys_list_retired", "keys_root_generate",
    "keys_rotate", "keys_show", "keys_trust", "keys_trusted", "keys_untrust", "ledger", "new_code",
    "optional_home", "parse_date", "parse_time", "read_passphrase", "record", "report", "resolve_home",
    "sample_draw", "sample_show", "sample_verify", "seal", "stats", "status",
    "store_backup", "store_check", "store_migrate_to", "store_restore", "verify", "write_private_file",
)
_EXPORTS = {
    **dict.fromkeys(_API, "cluetool.api"),
    "validate_paths": "cluetool.validate",
    "validate_submission": "cluetool.validate",
    "ValidationReport": "cluetool.validate",
    "Finding": "cluetool.model.findings",
    "Report": "cluetool.model.report",
    "decode_report": "cluetool.model.report",
    "Store": "cluetool.store",
    "ClueError": "cluetool.errors",
}

__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'cluetool' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
