"""``report --out DIR``: the statistics as one static HTML page (``index.html``) with the
same tables as ``stats`` and inline SVG charts (``cluetool.supervision.svg``), plus each
chart as its own ``.svg`` file.

The page has no JavaScript and loads nothing: its Content-Security-Policy allows only
inline styles, so a browser opened on it makes no request. Labels are Chinese (UTF-8,
``lang="zh-CN"``), with the codes beside them.
"""

from __future__ import annotations

import os
from collections import defaultdict
from datetime import datetime
from pathlib import Path
from xml.sax.saxutils import escape

import msgspec

from cluetool.config import Home, write_private_file
from cluetool.errors import InputError
from cluetool.store.audit_entries import format_time
from cluetool.supervision import svg
from cluetool.supervision.stats import BUCKETS, CATEGORIES, OBLIGATION_STATES, Stats, compute_stats

REPORT_SCHEMA = "cluetool.report/1"
CATEGORY_LABELS = {"unassigned": "未分配", "assigned_not_contacted": "已分配未联系举报人",
                   "open_past_due": "有逾期未办事项"}
STATE_LABELS = {"overdue": "逾期", "due_soon": "即将到期", "open": "未到期", "met": "按期完成",
                "met_late": "逾期完成", "cancelled": "已撤销"}
DIMENSION_LABELS = {"total": "合计", "kind": "线索类别", "target": "打击对象", "industry": "行业领域",
                    "region": "地区（省级）"}
CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
STYLE = """
body { font-family: 'Noto Sans CJK SC','WenQuanYi Micro Hei','Source Han Sans SC','PingFang SC',
       'Microsoft YaHei',sans-serif; margin: 24px; color: #222; background: #fff; }
h1 { font-size: 22px; } h2 { font-size: 18px; margin-top: 32px; border-bottom: 1px solid #ccc; }
table { border-collapse: collapse; margin: 8px 0 16px; font-size: 13px; }
th, td { border: 1px solid #ccc; padding: 3px 8px; text-align: left; }
td.n { text-align: right; font-variant-numeric: tabular-nums; }
.charts svg { margin: 8px 16px 8px 0; border: 1px solid #eee; }
.meta { color: #555; font-size: 13px; }
"""


class ReportResult(msgspec.Struct, kw_only=True):
    """What ``report`` wrote."""

    directory: str
    files: list[str]
    as_of: str
    charts: int
    schema: str = REPORT_SCHEMA


def _table(headers: list[str], rows: list[list[object]]) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = []
    for row in rows:
        cells = "".join(f'<td class="n">{v}</td>' if isinstance(v, (int, float)) and not isinstance(v, bool)
                        else f"<td>{escape('' if v is None else str(v))}</td>" for v in row)
        body.append(f"<tr>{cells}</tr>")
    if not body:
        body.append(f'<tr><td colspan="{len(headers)}">（无）</td></tr>')
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def charts(stats: Stats) -> dict[str, str]:
    """The report's charts, by file name (``*.svg``)."""
    out: dict[str, str] = {}
    months = stats.months
    per: dict[tuple[str, str], dict[str, int]] = defaultdict(dict)
    labels: dict[tuple[str, str], str] = {}
    for r in stats.monthly:
        per[(r.dimension, r.code)][r.month] = r.count
        labels[(r.dimension, r.code)] = r.label
    trend = [("合计", [per[("total", "")].get(m, 0) for m in months])] if ("total", "") in per else []
    trend += [(labels[k], [per[k].get(m, 0) for m in months]) for k in sorted(per) if k[0] == "kind"]
    out["trend.svg"] = svg.line_chart("每月收到线索数（按类别）", months, trend or [("合计", [0] * len(months))])
    buckets = [b[0] for b in BUCKETS]
    by_cat: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    by_unit: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for r in stats.backlog:
        by_cat[r.category][r.bucket] += r.count
        by_unit[r.unit or "（未分配）"][r.category] += r.count
    out["backlog_age.svg"] = svg.bar_chart(
        "积压线索（堰塞湖）按受理时长", buckets,
        [(CATEGORY_LABELS[c], [by_cat[c][b] for b in buckets]) for c in CATEGORIES])
    units = sorted(by_unit, key=lambda u: (-sum(by_unit[u].values()), u))[:12]
    out["backlog_units.svg"] = svg.bar_chart(
        "积压线索按承办单位（前12）", units, [(CATEGORY_LABELS[c], [by_unit[u][c] for u in units]) for c in CATEGORIES])
    by_rule: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for o in stats.obligations:
        by_rule[o.rule][o.state] += o.count
    rules = sorted(by_rule)
    states = [s for s in OBLIGATION_STATES if any(by_rule[r][s] for r in rules)] or ["open"]
    out["obligations.svg"] = svg.bar_chart("办理时限事项按状态", rules,
                                           [(STATE_LABELS[s], [by_rule[r][s] for r in rules]) for s in states])
    for dim, name, title in (("target", "targets.svg", "打击对象"), ("industry", "industries.svg", "行业领域"),
                             ("region", "regions.svg", "地区（省级）")):
        keys = sorted((k for k in per if k[0] == dim), key=lambda k: (-sum(per[k].values()), k[1]))[:15]
        cats = [labels[k] if dim == "region" and labels[k] else k[1] for k in keys]
        out[name] = svg.bar_chart(f"{title}：近{len(months)}个月收到线索数", cats,
                                  [("合计", [sum(per[k].values()) for k in keys])])
    return out


def render_page(stats: Stats, *, generated_at: datetime) -> str:
    """The HTML page (a string)."""
    svgs = charts(stats)
    parts = [
        "<!DOCTYPE html>", '<html lang="zh-CN">', "<head>", '<meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">',
        "<title>线索办理态势报告</title>", f"<style>{STYLE}</style>", "</head>", "<body>",
        "<h1>线索办理态势报告</h1>",
        f'<p class="meta">统计截至 {escape(stats.as_of)}（{escape(stats.timezone)}）· 生成于 '
        f"{escape(format_time(generated_at))} · cluetool stats {escape(stats.schema)}</p>",
        "<h2>图表</h2>", '<div class="charts">', *svgs.values(), "</div>",
        "<h2>积压线索（堰塞湖）</h2>",
        _table(["类别", "承办单位", "地区", "地区名称", "受理时长", "数量"],
               [[CATEGORY_LABELS[r.category], r.unit or "—", r.region, r.region_name, r.bucket, r.count]
                for r in stats.backlog]),
        "<h2>办理时限事项</h2>",
        _table(["承办单位", "规则", "状态", "数量"],
               [[o.unit or "—", o.rule, STATE_LABELS.get(o.state, o.state), o.count] for o in stats.obligations]),
    ]
    rows: dict[str, dict[tuple[str, str], dict[str, tuple[int, int]]]] = defaultdict(lambda: defaultdict(dict))
    for r in stats.monthly:
        rows[r.dimension][(r.code, r.label)][r.month] = (r.count, r.change)
    for dim, label in DIMENSION_LABELS.items():
        if dim not in rows:
            continue
        parts.append(f"<h2>每月收到线索：{escape(label)}</h2>")
        body = []
        for (code, name), per in sorted(rows[dim].items()):
            last = per.get(stats.months[-1], (0, 0)) if stats.months else (0, 0)
            body.append([code or "—", name, *[per.get(m, (0, 0))[0] for m in stats.months], f"{last[1]:+d}"])
        parts.append(_table(["代码", "名称", *stats.months, "环比变化"], body))
    parts += ["</body>", "</html>", ""]
    return "\n".join(parts)


def write_report(home: Home | Path | None, out: Path, *, now: datetime, as_of: str | None = None, months: int = 12,
                 wait: float = 10.0) -> ReportResult:
    """Write ``index.html`` and the charts (``*.svg``) into ``out`` (created if absent;
    files of an earlier report there are replaced).

    Raises:
        InputError: ``out`` is not a directory or cannot be written; as ``compute_stats``.
        StateError: the home or store is unusable.
    """
    stats = compute_stats(home, now=now, as_of=as_of, months=months, wait=wait)
    out = Path(out)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f'cannot create report directory "{out}": {exc.strerror}') from None
    if not out.is_dir():
        raise InputError(f'"{out}" is not a directory')
    files = {**charts(stats), "index.html": render_page(stats, generated_at=now)}
    try:
        for name, text in files.items():
            write_private_file(out / name, text.encode("utf-8"), mode=0o644)
    except OSError as exc:
        raise InputError(f'cannot write the report into "{out}": {exc.strerror or exc}') from None
    return ReportResult(directory=os.fspath(out), files=sorted(files), as_of=stats.as_of,
                        charts=len(files) - 1)
