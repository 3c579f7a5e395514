"""schemas/report.schema.json is generated from cluetool/model/report.py and must not be stale."""

from __future__ import annotations

import json
from pathlib import Path

from cluetool.model import schemas

SCHEMAS_DIR = Path(__file__).resolve().parents[1] / "schemas"


def test_schemas_committed_files_are_current() -> None:
    stale = schemas.stale(SCHEMAS_DIR)
    assert stale == [], f"stale: {stale}; run: python -m cluetool.model.schemas --write schemas"


def test_schemas_render_is_deterministic_sorted_with_newline() -> None:
    a = schemas.render(schemas.report_schema())
    b = schemas.render(schemas.report_schema())
    assert a == b and a.endswith("}\n")
    assert a == json.dumps(json.loads(a), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def test_schemas_report_schema_carries_kinds_and_dropdowns() -> None:
    s = schemas.report_schema()
    assert s["discriminator"]["propertyName"] == "kind"
    assert set(s["discriminator"]["mapping"]) == {"police_misconduct", "gang_crime", "industry_disorder"}
    targets = s["$defs"]["GangFacts"]["properties"]["targets"]["items"]["enum"]
    assert "T01" in targets and "UNK" in targets


def test_schemas_check_exits_1_when_stale(tmp_path: Path) -> None:
    assert schemas.main(["--check", str(tmp_path)]) == 1
    assert schemas.main(["--write", str(tmp_path)]) == 0
    assert schemas.main(["--check", str(tmp_path)]) == 0
    (tmp_path / "report.schema.json").write_text("{}\n", encoding="utf-8")
    assert schemas.main(["--check", str(tmp_path)]) == 1
