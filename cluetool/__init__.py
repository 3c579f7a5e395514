"""cluetool: secure handling of clue packages.

The library is the product and the ``cluetool`` command a thin skin over it. The public
names below are loaded lazily so that ``cluetool --help`` stays fast.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

# Public name -> module that defines it. Kept small on purpose (DESIGN §2).
_EXPORTS = {
    "validate_paths": "cluetool.validate",
    "validate_submission": "cluetool.validate",
    "ValidationReport": "cluetool.validate",
    "Finding": "cluetool.model.findings",
    "Report": "cluetool.model.report",
    "decode_report": "cluetool.model.report",
    "Home": "cluetool.config",
    "resolve_home": "cluetool.config",
    "init": "cluetool.services",
    "seal": "cluetool.batch.seal",
    "verify": "cluetool.services",
    "import_batches": "cluetool.ingest",
    "status": "cluetool.services",
    "new_code": "cluetool.services",
    "Store": "cluetool.store",
    "ClueError": "cluetool.errors",
}

__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'cluetool' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
