"""``report --out DIR`` (issue 23): a static HTML page (no JavaScript, nothing loaded
from the network, Chinese labels) with the stats tables and inline SVG charts. The SVG
charts parse as XML and draw the numbers of ``stats``; the page rendered by headless
Chromium (Debian ``chromium``; skipped when absent) gives a screenshot that is not blank.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path

import pytest

from cluetool.supervision import svg
from tests.pngread import read_png
from tests.supervision_helpers import Built, built, cli  # noqa: F401 - fixture

NS = {"s": "http://www.w3.org/2000/svg"}
AS_OF = "2026-11-24"


@pytest.fixture(scope="module")
def report_dir(built: Built, tmp_path_factory: pytest.TempPathFactory) -> Path:  # noqa: F811
    out = tmp_path_factory.mktemp("report") / "r"
    doc = json.loads(cli("--home", str(built.internal), "-f", "json", "report", "--out", str(out), "--as-of", AS_OF))
    assert doc["schema"] == "cluetool.report/1" and doc["as_of"] == AS_OF and doc["charts"] == 7
    return out


@pytest.fixture(scope="module")
def stats(built: Built) -> dict:  # noqa: F811
    return json.loads(cli("--home", str(built.internal), "-f", "json", "stats", "--as-of", AS_OF))


def _bars(path: Path) -> list[dict[str, str]]:
    root = ET.parse(path).getroot()
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    return [r.attrib for r in root.iterfind(".//s:rect[@class='bar']", NS)]


def test_report_page_is_static_html_without_script_or_network(report_dir: Path) -> None:
    html = (report_dir / "index.html").read_text(encoding="utf-8")
    assert html.startswith("<!DOCTYPE html>") and '<meta charset="utf-8">' in html
    assert "<script" not in html.lower() and "javascript:" not in html.lower()
    assert not re.search(r"\b(src|href)\s*=", html, re.I)
    assert "@import" not in html and "url(" not in html
    # The only URL is the SVG namespace, which is a name, never fetched.
    assert set(re.findall(r"https?://[^\s\"'<>]+", html)) == {"http://www.w3.org/2000/svg"}
    assert "default-src 'none'" in html
    for label in ("线索办理态势报告", "积压线索（堰塞湖）", "已分配未联系举报人", "涉黑涉恶违法犯罪线索", "河南省"):
        assert label in html
    assert html.count("<svg ") == 7 and html.count("<table>") >= 3


def test_report_svg_charts_parse_and_draw_the_stats(report_dir: Path, stats: dict) -> None:
    names = sorted(p.name for p in report_dir.glob("*.svg"))
    assert names == ["backlog_age.svg", "backlog_units.svg", "industries.svg", "obligations.svg", "regions.svg",
                     "targets.svg", "trend.svg"]
    for name in names:
        ET.parse(report_dir / name)  # well-formed XML
    # Backlog by age: one bar per (category, bucket), heights from the stats.
    bars = _bars(report_dir / "backlog_age.svg")
    assert len(bars) == 3 * 5
    want = Counter()
    for r in stats["backlog"]:
        want[r["bucket"]] += r["count"]
    got = Counter()
    for b in bars:
        got[b["data-category"]] += int(b["data-value"])
    assert +got == +want
    # Obligations: the per-rule totals match.
    rules = Counter()
    for o in stats["obligations"]:
        rules[o["rule"]] += o["count"]
    drawn = Counter()
    for b in _bars(report_dir / "obligations.svg"):
        drawn[b["data-category"]] += int(b["data-value"])
    assert drawn == rules
    # Bar heights are proportional to their values.
    heights = {(b["data-category"], b["data-series"]): (float(b["height"]), int(b["data-value"]))
               for b in _bars(report_dir / "obligations.svg") if int(b["data-value"])}
    h_max, v_max = max(heights.values(), key=lambda hv: hv[1])
    assert all(abs(h - v * h_max / v_max) <= 0.1 for h, v in heights.values())
    # The trend: total and one line per kind, values per month.
    lines = ET.parse(report_dir / "trend.svg").getroot().findall(".//s:polyline[@class='line']", NS)
    assert [ln.attrib["data-series"] for ln in lines][0] == "合计" and len(lines) == 4
    totals = [r["count"] for r in stats["monthly"] if r["dimension"] == "total"]
    assert [int(v) for v in lines[0].attrib["data-values"].split(",")] == totals
    # Regions are labelled with Chinese province names.
    assert any(b["data-category"].endswith(("省", "区", "市")) for b in _bars(report_dir / "regions.svg"))


def test_report_rendered_in_headless_chromium_is_not_blank(report_dir: Path, tmp_path: Path) -> None:
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        pytest.skip("chromium is not installed (Debian package chromium; .ci/run installs it)")
    shot = tmp_path / "shot.png"
    args = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--no-default-browser-check",
            f"--user-data-dir={tmp_path / 'profile'}", "--hide-scrollbars", "--window-size=900,1100",
            f"--screenshot={shot}", (report_dir / "index.html").resolve().as_uri()]
    env = {k: v for k, v in os.environ.items() if k not in ("http_proxy", "https_proxy")}
    subprocess.run(args, check=True, timeout=180, capture_output=True, env=env)
    png = read_png(shot.read_bytes())
    assert (png.width, png.height) == (900, 1100)
    colours = png.colours(step=3)
    total = sum(colours.values())
    white = colours.get((255, 255, 255), 0)
    assert white < 0.97 * total, "the screenshot is (nearly) blank"
    assert len(colours) > 20
    # The charts' first series colour (#3366cc) and dark text are on the page.
    assert any(abs(r - 0x33) < 24 and abs(g - 0x66) < 24 and abs(b - 0xCC) < 24 for r, g, b in colours)
    assert any(max(c) < 80 for c in colours)


def test_report_out_is_a_file_exit_2(built: Built, tmp_path: Path) -> None:  # noqa: F811
    (tmp_path / "f").write_text("x")
    cli("--home", str(built.internal), "report", "--out", str(tmp_path / "f"), ok=(2,))


def test_svg_bar_and_line_charts_are_xml_with_escaped_text() -> None:
    doc = svg.bar_chart("A & B <图>", ["甲", "乙"], [("s1", [1, 3]), ("s2", [0, 2])])
    root = ET.fromstring(doc)
    bars = root.findall(".//s:rect[@class='bar']", NS)
    assert [(b.attrib["data-series"], b.attrib["data-category"], b.attrib["data-value"]) for b in bars] == [
        ("s1", "甲", "1"), ("s2", "甲", "0"), ("s1", "乙", "3"), ("s2", "乙", "2")]
    assert root.find("s:title", NS).text == "A & B <图>"  # type: ignore[union-attr]
    line = ET.fromstring(svg.line_chart("t", ["1", "2", "3"], [("x", [0, 5, 2])]))
    [poly] = line.findall(".//s:polyline", NS)
    assert len(poly.attrib["points"].split()) == 3
    with pytest.raises(ValueError):
        svg.bar_chart("t", ["a"], [("s", [1, 2])])
    with pytest.raises(ValueError):
        svg.line_chart("t", ["a"], [("s", [-1])])
