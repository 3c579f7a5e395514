"""De-duplication fingerprints of a report: hashes of normalised subject ID numbers,
credit codes, names with kind and region, and attachment hashes (the store keeps them in
``fingerprints``; cluetool/store/migrations.py). Import computes them for every report."""

from __future__ import annotations

import hashlib
import unicodedata

from cluetool.model.report import Report
from cluetool.model.store import Fingerprint
from cluetool.text import strip_invisible


def report_kind(report: Report) -> str:
    return str(report.__struct_config__.tag)


def norm(text: str) -> str:
    # Invisible characters (zero-width, bidi, controls) never tell two values apart.
    return "".join(unicodedata.normalize("NFKC", strip_invisible(text)).split()).casefold()


def _h(*parts: str) -> str:
    # 128 bits (32 hex digits): ample to tell fingerprints apart, and half the index.
    return hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()[:32]


def fingerprints(report: Report) -> list[Fingerprint]:
    """The report's fingerprints, sorted, each once."""
    out: set[tuple[str, str]] = set()
    region = report.facts.region
    for s in report.subjects:
        name = getattr(s, "name", "")
        if name:
            out.add(("subject_name", _h("name", report_kind(report), region, norm(name))))
        idn = getattr(s, "id_number", None)
        if idn:
            out.add(("subject_id", _h("id", norm(idn).upper())))
        uscc = getattr(s, "uscc", None)
        if uscc:
            out.add(("subject_uscc", _h("uscc", norm(uscc).upper())))
    for a in report.attachments:
        out.add(("attachment", _h("att", a.sha256)))
    return [Fingerprint(kind=k, value=v) for k, v in sorted(out)]
