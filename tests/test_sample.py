"""``sample`` (issue 23): the monthly callback draw from a store built from the samples,
recorded in the audit log, and recomputed offline from an audit export by an auditor;
a changed draw, a draw that leaves an eligible report out and a forged export are caught.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from pathlib import Path

import pytest

from cluetool.supervision import draw as d
from tests.supervision_helpers import Built, built, cli  # noqa: F401 - fixture

DRAWN_AT = "2026-11-05T10:00:00+08:00"
# Known answers from the samples (samples/make_samples.py): reports received per month
# and those whose reporter left a real name or a contact.
RECEIVED = {"2026-01": 8, "2026-02": 4, "2026-03": 4, "2026-04": 9, "2026-05": 9, "2026-06": 6,
            "2026-07": 5, "2026-08": 8, "2026-09": 2, "2026-10": 5}
ELIGIBLE = {"2026-01": 6, "2026-02": 3, "2026-03": 2, "2026-04": 7, "2026-05": 7, "2026-06": 5,
            "2026-07": 3, "2026-08": 5, "2026-09": 1, "2026-10": 3}


@pytest.fixture()
def b(built: Built, tmp_path: Path) -> Built:  # noqa: F811
    return built.copy(tmp_path)


def _draw(b: Built, *args: str, ok: tuple[int, ...] = (0,)) -> dict:
    return json.loads(cli("--home", str(b.internal), "-f", "json", "sample", "--at", DRAWN_AT, *args, ok=ok) or "{}")


def _export(b: Built) -> Path:
    cli("--home", str(b.internal), "-q", "audit", "checkpoint", "--key", "internal")
    out = b.root / "export"
    cli("--home", str(b.internal), "-q", "audit", "export", "--key", "internal", "--out", str(out))
    return out


def _verify(b: Built, draw: Path, export: Path, ok: tuple[int, ...]) -> dict:
    return json.loads(cli("-f", "json", "sample", "--verify", str(draw), "--export", str(export),
                          "--key", str(b.log_key), ok=ok))


def test_sample_month_draws_eligible_clues_with_unit_and_masked_phone(b: Built) -> None:
    out = _draw(b, "--month", "2026-05", "--size", "3", "--out", str(b.root / "draw.json"))
    assert out["schema"] == "cluetool.sample/1"
    assert out["eligible"] == ELIGIBLE["2026-05"] and out["drawn"] == 3
    assert [c["rank"] for c in out["clues"]] == [1, 2, 3]
    for c in out["clues"]:
        assert c["unit"]  # assigned by the rules in the build
        assert c["phone"] is None or (len(c["phone"]) == 11 and c["phone"][3:7] == "****")
    # The draw is what the documented algorithm gives from the file's own facts.
    draw = json.loads((b.root / "draw.json").read_text())
    root = bytes.fromhex(draw["seed"]["root"])
    ranks = sorted((hmac.new(root, f"cluetool-sample/1\n2026-05\n{sid}".encode(), hashlib.sha256).digest(), sid)
                   for sid in draw["eligible"])
    assert draw["drawn"] == [sid for _, sid in ranks[:3]] == [c["clue"] for c in out["clues"]]
    assert draw["eligible_sha256"] == hashlib.sha256("".join(f"{s}\n" for s in sorted(draw["eligible"])).encode()).hexdigest()


def test_sample_rate_rounds_up_and_size_caps_at_eligible(b: Built) -> None:
    assert _draw(b, "--month", "2026-04", "--rate", "0.2")["drawn"] == 2  # ceil(0.2 * 7)
    assert _draw(b, "--month", "2026-09", "--size", "50")["drawn"] == ELIGIBLE["2026-09"]
    assert _draw(b, "--month", "2025-01", "--size", "5")["drawn"] == 0  # nothing received then


def test_sample_draw_is_an_audit_entry_and_second_needs_redraw_reason(b: Built) -> None:
    first = _draw(b, "--month", "2026-01", "--size", "2")
    entries = json.loads(cli("--home", str(b.internal), "-f", "json", "audit", "log", "--action", "sample.draw"))
    [entry] = [e for e in entries["entries"]]
    assert entry["seq"] == first["audit_seq"] and entry["object"] == "sample:2026-01"
    assert entry["details"]["drawn"] == [c["clue"] for c in first["clues"]]
    # No phone, name or report text in the entry.
    assert "****" not in json.dumps(entry) and "phone" not in json.dumps(entry["details"])
    _draw(b, "--month", "2026-01", "--size", "2", ok=(2,))
    _draw(b, "--month", "2026-01", "--size", "2", "--redraw", ok=(2,))  # no reason
    again = _draw(b, "--month", "2026-01", "--size", "2", "--redraw", "--reason", "线路故障，重新抽取")
    assert again["redraw"] is True
    entries = json.loads(cli("--home", str(b.internal), "-f", "json", "audit", "log", "--action", "sample.draw"))
    second = entries["entries"][-1]["details"]
    assert second["redraw"] is True and len(second["reason_hmac_sha256"]) == 64
    assert "线路故障" not in json.dumps(entries, ensure_ascii=False)
    (b.root / "reason.txt").write_text("线路故障，重新抽取", encoding="utf-8")
    check = json.loads(cli("--home", str(b.internal), "-f", "json", "audit", "confirm-text",
                           str(again["audit_seq"]), "--text-file", str(b.root / "reason.txt")))
    assert check["matches"] is True and check["field"] == "reason"


def test_sample_without_checkpoint_or_bad_options_refused(tmp_path: Path) -> None:
    home = tmp_path / "h"
    cli("--home", str(home), "init")
    cli("--home", str(home), "sample", "--month", "2026-05", "--size", "1", ok=(3,))
    cli("--home", str(home), "sample", "--month", "2026-13", "--size", "1", ok=(2,))
    cli("--home", str(home), "sample", "--month", "2026-05", ok=(2,))
    cli("--home", str(home), "sample", "--month", "2026-05", "--rate", "1.5", ok=(2,))


def test_sample_verify_recomputes_draw_offline_from_export(b: Built) -> None:
    _draw(b, "--month", "2026-04", "--size", "3", "--out", str(b.root / "draw.json"))
    export = _export(b)
    check = _verify(b, b.root / "draw.json", export, ok=(0,))
    assert check["ok"] is True and check["findings"] == []
    assert check["eligible"] == check["derived"] == ELIGIBLE["2026-04"] and check["not_derivable"] == 0


@pytest.mark.parametrize("change", ["swap", "replace", "drop_eligible", "seed"])
def test_sample_verify_changed_draw_exits_1(b: Built, change: str) -> None:
    _draw(b, "--month", "2026-04", "--size", "3", "--out", str(b.root / "draw.json"))
    export = _export(b)
    draw = json.loads((b.root / "draw.json").read_text())
    if change == "swap":  # same clues, another order
        draw["drawn"][0], draw["drawn"][1] = draw["drawn"][1], draw["drawn"][0]
    elif change == "replace":  # a hand-picked clue instead of the drawn one
        draw["drawn"][-1] = next(s for s in draw["eligible"] if s not in draw["drawn"])
    elif change == "drop_eligible":  # an eligible report left out, commitment recomputed to match
        gone = next(s for s in draw["eligible"] if s not in draw["drawn"])
        draw["eligible"].remove(gone)
        draw["eligible_count"] -= 1
        draw["eligible_sha256"] = d.commitment(draw["eligible"])
    else:  # a seed of one's choosing
        draw["seed"]["root"] = "00" * 32
    (b.root / "bad.json").write_text(json.dumps(draw))
    check = _verify(b, b.root / "bad.json", export, ok=(1,))
    assert check["ok"] is False and check["findings"]
    codes = {f["code"] for f in check["findings"]}
    expected = {"swap": "sample.drawn_mismatch", "replace": "sample.drawn_mismatch",
                "drop_eligible": "sample.eligible_left_out", "seed": "sample.seed_mismatch"}[change]
    assert expected in codes


def test_sample_verify_tampered_export_or_missing_entry_exits_1(b: Built) -> None:
    _draw(b, "--month", "2026-04", "--size", "3", "--out", str(b.root / "draw.json"))
    # Exported before a checkpoint covers the draw: its entry is not in the export.
    early = b.root / "early"
    cli("--home", str(b.internal), "-q", "audit", "export", "--key", "internal", "--out", str(early))
    assert "sample.entry_missing" in {f["code"] for f in _verify(b, b.root / "draw.json", early, ok=(1,))["findings"]}
    export = _export(b)
    lines = (export / "entries.jsonl").read_bytes().splitlines(keepends=True)
    draw = json.loads((b.root / "draw.json").read_text())
    i = draw["audit_seq"]
    # another eligible clue in place of the first drawn one (the ranking depends on the run's random
    # keys through the checkpoint root, so the first eligible one may be the drawn one itself)
    other = next(e for e in draw["eligible"] if e != draw["drawn"][0])
    tampered = lines[i].replace(draw["drawn"][0].encode(), other.encode())
    assert tampered != lines[i]
    lines[i] = tampered
    (export / "entries.jsonl").write_bytes(b"".join(lines))
    assert "sample.export" in {f["code"] for f in _verify(b, b.root / "draw.json", export, ok=(1,))["findings"]}


def test_sample_verify_needs_export_and_outside_key(b: Built) -> None:
    _draw(b, "--month", "2026-04", "--size", "1", "--out", str(b.root / "draw.json"))
    export = _export(b)
    cli("sample", "--verify", str(b.root / "draw.json"), "--key", str(b.log_key), ok=(2,))
    cli("sample", "--verify", str(b.root / "draw.json"), "--export", str(export), ok=(2,))
    cli("sample", "--verify", str(b.root / "draw.json"), "--export", str(export), "--key", str(export / "key.pub"), ok=(2,))
    (b.root / "junk.json").write_text("{")
    cli("sample", "--verify", str(b.root / "junk.json"), "--export", str(export), "--key", str(b.log_key), ok=(2,))


def test_sample_show_writes_latest_draw_file_again(b: Built) -> None:
    first = _draw(b, "--month", "2026-08", "--size", "2", "--out", str(b.root / "a.json"))
    shown = json.loads(cli("--home", str(b.internal), "-f", "json", "sample", "--month", "2026-08", "--show",
                           "--out", str(b.root / "b.json")))
    assert shown["clues"] == first["clues"]
    assert (b.root / "a.json").read_bytes() == (b.root / "b.json").read_bytes()


def test_sample_mask_phone() -> None:
    assert d.mask_phone("13812345678") == "138****5678"
    assert d.mask_phone("0755-12345678") == "075*****5678"
    assert d.mask_phone("12345") == "***45"
    assert d.mask_phone(None) is None
