"""Generate the bundled sample spool: deterministic, fake but plausible submissions.

    python samples/make_samples.py --out DIR [--seed N] [--codes FILE]

Writes DIR/<submission_id>/ for each valid submission (all three kinds, every reporter
variant, several regions and industries, 0-2 real jpg/mp3/mp4 attachments) and
DIR/invalid-<finding code>/ for each invalid one, each built to trigger that finding
code. The plain query codes go to FILE (default DIR/../sample-codes.json) as
``{submission_id: code}``; ``report.json`` holds only their SHA-256.

The output is a pure function of the seed: no clock, no environment, byte-identical
across runs. Every ``received_at`` is in 2026 before 2026-11-01 (+08:00). Names, ID
numbers, credit codes and phone numbers are invented; their check digits are computed
with ``cluetool.validate.ids`` so that they pass.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import uuid
from collections.abc import Callable
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(ROOT))

from cluetool.model import codes, querycode  # noqa: E402
from cluetool.model.report import SCHEMA  # noqa: E402
from cluetool.validate import ids, regions  # noqa: E402
from samples import media  # noqa: E402

DEFAULT_SEED = 20260601
VALID_COUNT = 60
CHINA = timezone(timedelta(hours=8))

Files = dict[str, bytes]
MediaMaker = Callable[[random.Random, str], bytes]

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
GIVEN = "伟芳娜秀敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华建国志红玉兰海燕春梅德福晓东文斌宏宇欣怡子轩浩然雨婷俊杰思远佳琪立新振华"
NICKNAMES = ["老三", "刀疤", "黑子", "大头", "胖虎", "阿彪", "二狗", "老K", "光头强", "四哥"]
STREETS = ["人民路", "解放路", "建设路", "中山路", "胜利街", "新华路", "和平路", "朝阳路", "长江路", "迎宾大道", "工业园路", "滨河路"]
COMPANIES = ["建筑工程有限公司", "运输有限公司", "砂石贸易有限公司", "物业服务有限公司", "小额贷款有限公司",
             "农业开发合作社", "文化传媒有限公司", "渔业有限公司", "网络科技有限公司", "市场管理有限公司"]
BRANDS = ["恒盛", "宏达", "鑫源", "金鼎", "顺通", "华宇", "腾飞", "瑞丰", "永兴", "东升", "天成", "嘉禾"]
UNIT_REPORTERS = ["村民委员会", "居民委员会", "商会", "个体劳动者协会", "律师事务所", "中学"]
POLICE_UNITS = {
    "ORG_PSB": ["公安局", "派出所", "交警大队", "刑警大队"],
    "ORG_COURT": ["人民法院", "人民法庭"],
    "ORG_PROC": ["人民检察院"],
    "ORG_JUST": ["司法局", "监狱", "强制隔离戒毒所"],
    "ORG_PLAC": ["政法委员会"],
    "ORG_MSS": ["国家安全局"],
}
POSITIONS = ["民警", "副所长", "大队长", "审判员", "检察官", "科员", "副局长", "狱警", "执行局法官"]
GANG_ACTS = [
    "以暴力威胁手段强揽周边工程，不服从的施工队会被堵门、砸车",
    "长期在农贸市场强收所谓管理费，每个摊位每月被迫缴纳数百元",
    "放高利贷后上门暴力催收，多次将借款人非法拘禁在出租屋内",
    "垄断当地砂石料供应，强迫工地以高出市场价三成的价格购买",
    "开设地下赌场并组织人员放水，参赌群众多人倾家荡产",
    "在拆迁过程中纠集社会闲散人员殴打不愿签约的住户",
    "控制村里换届选举，威胁其他候选人退出，侵占集体土地收益",
    "组织网络水军在网上发帖辱骂、威胁曾向其讨债的商户",
]
POLICE_ACTS = [
    "多次收受涉案人员财物后撤销案件，对报案人称证据不足",
    "在办理一起故意伤害案件中有案不立，受害人多次反映无果",
    "其配偶在辖区经营娱乐场所，该民警为其通风报信逃避检查",
    "违规插手一起经济纠纷，以扣押车辆方式帮一方讨要欠款",
    "在执行案件中拖延不办，私下让当事人找指定的律师",
]
INDUSTRY_ACTS = {
    "IND01": ["以发布负面新闻相要挟，向多家企业索要所谓合作费", "组织人员通过网络平台发放高息贷款并恶意催收"],
    "IND02": ["在河道非法采砂多年，夜间作业，河堤已出现坍塌", "强占村集体土地修建厂房，村民阻拦遭到殴打"],
    "IND03": ["在国道收费站附近拦截货车强行收取通行费", "控制当地客运线路，其他车辆进站就会被围堵"],
    "IND04": ["在政府投资项目招标中组织围标串标，排挤外地企业", "阻挠其他施工队进场，要求必须使用其提供的砂石料"],
}


def _name(rng: random.Random) -> str:
    return rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2))))


def _county(rng: random.Random) -> regions.Region:
    return rng.choice(_COUNTIES)


_COUNTIES = [r for r in regions.counties() if r.code[:2] not in ("71", "81", "82")]


def _address(rng: random.Random) -> dict[str, str]:
    county = _county(rng)
    return {"region": county.code, "detail": f"{rng.choice(STREETS)}{rng.randint(1, 300)}号{rng.randint(1, 20)}栋{rng.randint(101, 2505)}室"}


def _mobile(rng: random.Random) -> str:
    return "1" + rng.choice("3456789") + "".join(rng.choice("0123456789") for _ in range(9))


def _landline(rng: random.Random) -> str:
    return "0" + rng.choice(["10", "21", "755", "571", "28", "29"]) + "-" + "".join(rng.choice("0123456789") for _ in range(8))


def _resident_id(rng: random.Random, received: date) -> str:
    county = _county(rng)
    birth = date(rng.randint(1950, received.year - 20), rng.randint(1, 12), rng.randint(1, 28))
    return ids.make_resident_id(county.code, birth, rng.randint(1, 999))


def _uscc(rng: random.Random) -> str:
    county = _county(rng)
    org8 = "".join(rng.choice("0123456789ABCDEFGHJKLMNPQRTUWXY") for _ in range(8))
    dept, cat = rng.choice([("9", "1"), ("9", "1"), ("9", "2"), ("9", "3"), ("5", "1"), ("1", "2"), ("N", "2")])
    return ids.make_uscc(dept, cat, county.code, org8)


def _company(rng: random.Random, county: regions.Region) -> str:
    return county.name.rstrip("区县市旗") + rng.choice(BRANDS) + rng.choice(COMPANIES)


def _received(rng: random.Random) -> datetime:
    start = datetime(2026, 1, 5, 8, 0, tzinfo=CHINA)
    # Up to 2026-10-30: every sample is in the past for any run on or after 2026-11-01.
    return start + timedelta(seconds=rng.randrange(int((datetime(2026, 10, 30, tzinfo=CHINA) - start).total_seconds())))


def _rfc3339(dt: datetime) -> str:
    return dt.isoformat(timespec="seconds")


# ---------------------------------------------------------------------------- blocks

REPORTER_VARIANTS = [
    ("individual", "real_name", False),
    ("unit", "real_name", False),
    ("individual", "anonymous", True),
    ("individual", "anonymous", False),
    ("unit", "anonymous", True),
    ("unit", "anonymous", False),
]


def _reporter(rng: random.Random, variant: tuple[str, str, bool], received: date) -> dict[str, Any]:
    rtype, identity, contact = variant
    r: dict[str, Any] = {"type": rtype, "identity": identity,
                         "relation": rng.choice(list(codes.RELATIONS))}
    if identity == "real_name" and rtype == "individual":
        r["individual"] = {"name": _name(rng), "id_number": _resident_id(rng, received),
                           "mobile": _mobile(rng), "address": _address(rng)}
    elif identity == "real_name":
        county = _county(rng)
        r["unit"] = {"name": county.name + rng.choice(STREETS) + rng.choice(UNIT_REPORTERS), "uscc": _uscc(rng),
                     "contact_person": _name(rng), "phone": rng.choice([_mobile(rng), _landline(rng)]),
                     "address": {"region": county.code, "detail": f"{rng.choice(STREETS)}{rng.randint(1, 300)}号"}}
    elif contact:
        c: dict[str, Any] = {}
        choice = rng.randrange(3)
        if choice in (0, 2):
            c["phone"] = _mobile(rng)
        if choice in (1, 2):
            c["email"] = f"tipster{rng.randint(100, 99999)}@example.cn"
        if rng.random() < 0.5:
            c["note"] = rng.choice(["工作日晚上联系", "请发短信，不方便接电话", "只接受邮件联系"])
        r["contact"] = c
    return r


def _dates(rng: random.Random, received: date) -> dict[str, Any]:
    start = received - timedelta(days=rng.randint(30, 2000))
    ongoing = rng.choice(["yes", "yes", "no", "unknown"])
    out: dict[str, Any] = {"start_date": start.isoformat(), "ongoing": ongoing}
    if ongoing == "no":
        out["end_date"] = (start + timedelta(days=rng.randint(0, (received - start).days))).isoformat()
    return out


def _umbrella(rng: random.Random) -> dict[str, Any]:
    status = rng.choice(["yes", "no", "unknown", "unknown"])
    records = []
    if status == "yes":
        for _ in range(rng.randint(1, 2)):
            county = _county(rng)
            behaviours = sorted(rng.sample([c for c in codes.UMBRELLA_BEHAVIOURS if c != "UNK"], rng.randint(1, 3)))
            records.append({"name": _name(rng), "workplace": county.name + rng.choice(["公安局", "自然资源局", "镇政府", "住建局"]),
                            "position": rng.choice(["副局长", "所长", "科长", "副镇长"]),
                            "unit_type": rng.choice(["ORG_PSB", "ORG_GOV", "ORG_REG", "ORG_BASE"]),
                            "rank": rng.choice(["county_division", "township_section", "unknown"]),
                            "region": county.code, "behaviours": behaviours,
                            "note": "据说与团伙头目是亲戚，每次检查前都会提前打招呼"})
    return {"status": status, "records": records}


def _prior(rng: random.Random, received: date) -> dict[str, Any]:
    status = rng.choice(["yes", "no", "no", "unknown"])
    records = []
    if status == "yes":
        for _ in range(rng.randint(1, 2)):
            when = received - timedelta(days=rng.randint(20, 700))
            records.append({"channel": rng.choice(["12337", "12389", "110", "petition", "12388"]),
                            "when": f"{when:%Y-%m}" if rng.random() < 0.5 else when.isoformat(),
                            "unit": rng.choice(["县公安局", "市信访局", "区纪委监委", "镇派出所"]),
                            "result": rng.choice(list(codes.PRIOR_RESULTS))})
    return {"status": status, "records": records}


def _police(rng: random.Random, received: date) -> tuple[list[Any], dict[str, Any]]:
    subjects = []
    for _ in range(rng.randint(1, 2)):
        organ = rng.choice(list(POLICE_UNITS))
        county = _county(rng)
        subjects.append({"name": _name(rng), "gender": rng.choice(["male", "male", "female", "unknown"]),
                         "unit_name": county.name + rng.choice(POLICE_UNITS[organ]), "organ_type": organ,
                         "organ_level": rng.choice(["county", "grassroots", "prefectural"]),
                         "unit_region": county.code, "position": rng.choice(POSITIONS)})
    county = _county(rng)
    problems = sorted(rng.sample([c for c in codes.POLICE_PROBLEMS if c not in ("UNK", "P99")], rng.randint(1, 2)))
    facts = {"problems": problems, **_dates(rng, received), "region": county.code,
             "place_detail": rng.choice(STREETS) + "一带", "involves_gang": rng.choice(["yes", "no", "unknown"]),
             "description": f"{subjects[0]['unit_name']}{subjects[0]['position']}{subjects[0]['name']}"
                            f"{rng.choice(POLICE_ACTS)}。举报人掌握相关聊天记录，愿意配合调查。"}
    if rng.random() < 0.3:
        facts["case_number"] = f"({received.year - 1}){rng.choice(['京', '沪', '粤', '川'])}0{rng.randint(101, 199)}刑初{rng.randint(1, 999)}号"
    return subjects, facts


def _gang(rng: random.Random, received: date) -> tuple[list[Any], dict[str, Any]]:
    county = _county(rng)
    leader = _name(rng)
    subjects: list[Any] = [{"type": "person", "name": leader, "alias": rng.choice(NICKNAMES),
                            "gender": "male", "age": rng.choice(["30-44", "45-59", "18-29"]),
                            "region": county.code, "is_official": rng.choice(["no", "unknown"])}]
    if rng.random() < 0.4:
        subjects[0]["id_number"] = _resident_id(rng, received)
    if rng.random() < 0.5:
        subjects.append({"type": "group", "name": f"以{leader}为首的团伙", "size": rng.choice(["3-9", "10+", "unknown"]),
                         "region": county.code,
                         "members": [{"name": _name(rng), "gender": "male"} for _ in range(rng.randint(0, 3))]})
    if rng.random() < 0.4:
        subjects.append({"type": "unit", "name": _company(rng, county), "uscc": _uscc(rng),
                         "address": {"region": county.code, "detail": rng.choice(STREETS)},
                         "legal_representative": leader})
    targets = sorted(rng.sample([c for c in codes.TARGETS if c not in ("UNK", "T99")], rng.randint(1, 3)))
    charges = sorted(rng.sample([c for c in codes.CHARGES if c not in ("UNK", "CR99")], rng.randint(1, 3)))
    industries = sorted(rng.sample([c for c in codes.INDUSTRIES if c not in ("UNK",)], rng.randint(0, 2)))
    facts = {"targets": targets, "nature": rng.choice(list(codes.NATURES)), "charges": charges,
             "industries": industries, "region": county.code,
             "place_detail": f"{rng.choice(STREETS)}及周边", **_dates(rng, received),
             "means": sorted(rng.sample(["violence", "threat", "soft_violence"], rng.randint(1, 2))),
             "harm": rng.choice(list(codes.HARMS)), "victims": rng.choice(list(codes.VICTIM_COUNTS)),
             "amount": rng.choice(list(codes.AMOUNTS)),
             "description": f"{county.name}{rng.choice(STREETS)}一带，绰号“{subjects[0]['alias']}”的{leader}"
                            f"{rng.choice(GANG_ACTS)}。周边群众敢怒不敢言，请求依法查处。"}
    return subjects, facts


def _industry(rng: random.Random, received: date) -> tuple[list[Any], dict[str, Any]]:
    county = _county(rng)
    industry = rng.choice(sorted(INDUSTRY_ACTS))
    problems = sorted(rng.sample([c for c in codes.INDUSTRY_PROBLEMS if c.startswith(industry)], rng.randint(1, 2)))
    subjects: list[Any] = [{"type": "unit", "name": _company(rng, county), "uscc": _uscc(rng),
                            "address": {"region": county.code, "detail": rng.choice(STREETS)},
                            "legal_representative": _name(rng)}]
    if rng.random() < 0.5:
        subjects.append({"type": "person", "name": _name(rng), "gender": "male", "age": "45-59",
                         "workplace": subjects[0]["name"], "position": "实际控制人", "is_official": "no"})
    secondary = [rng.choice(["IND07", "IND11", "IND14"])] if rng.random() < 0.3 else []
    facts = {"industry": industry, "secondary_industries": secondary, "problems": problems,
             "region": county.code, "place_detail": rng.choice(STREETS), **_dates(rng, received),
             "officials_involved": rng.choice(["yes", "no", "unknown"]),
             "description": f"{subjects[0]['name']}{rng.choice(INDUSTRY_ACTS[industry])}，"
                            f"{codes.label(codes.INDUSTRIES, industry)}领域乱象严重，主管部门多次接到反映未处理。"}
    return subjects, facts


KIND_BUILDERS = {"police_misconduct": _police, "gang_crime": _gang, "industry_disorder": _industry}
ATTACHMENT_NAMES = {"jpg": "photo", "mp3": "recording", "mp4": "video"}


def default_media(rng: random.Random, kind: str) -> bytes:
    """Real media bytes from ``samples.media``."""
    return {"jpg": media.make_jpeg, "mp3": media.make_mp3, "mp4": media.make_mp4}[kind](rng)


def valid_submission(rng: random.Random, index: int, *, media_maker: MediaMaker = default_media,
                     attachments: int | None = None) -> tuple[dict[str, Any], Files, str]:
    """One valid submission: (report.json as a dict, attachment files, plain query code)."""
    import hashlib

    kind = list(KIND_BUILDERS)[index % 3]
    variant = REPORTER_VARIANTS[(index // 3) % len(REPORTER_VARIANTS)]
    received_dt = _received(rng)
    received = received_dt.date()
    code = querycode.new_code(rng)
    subjects, facts = KIND_BUILDERS[kind](rng, received)
    files: Files = {}
    declared = []
    for n in range(rng.randint(0, 2) if attachments is None else attachments):
        atype = rng.choice(["jpg", "jpg", "mp3", "mp4"])
        data = media_maker(rng, atype)
        name = f"{ATTACHMENT_NAMES[atype]}-{n + 1}.{atype}"
        files[name] = data
        declared.append({"file": name, "type": atype, "size": len(data),
                         "sha256": hashlib.sha256(data).hexdigest(),
                         "note": rng.choice(["", "现场照片", "通话录音", "监控视频截取"])})
    report = {
        "schema": SCHEMA,
        "submission_id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        "received_at": _rfc3339(received_dt),
        "channel": rng.choice(["web", "web", "miniprogram", "phone", "letter", "in_person"]),
        "kind": kind,
        "query_code_sha256": querycode.code_sha256(code),
        "declaration": {"accepted": True, "at": _rfc3339(received_dt - timedelta(seconds=rng.randint(60, 1800)))},
        "reporter": _reporter(rng, variant, received),
        "subjects": subjects,
        "facts": facts,
        "umbrella": _umbrella(rng),
        "prior_reports": _prior(rng, received),
        "attachments": declared,
    }
    return report, files, code


# ---------------------------------------------------------------------------- invalid cases

Mutator = Callable[[random.Random, dict[str, Any], Files], None]


def _with_kind_reporter(kind: str, variant: int) -> int:
    return list(KIND_BUILDERS).index(kind) + 3 * variant


def _bad_id(rng: random.Random, r: dict[str, Any], f: Files) -> None:
    n = r["reporter"]["individual"]["id_number"]
    r["reporter"]["individual"]["id_number"] = n[:17] + ("0" if n[17] != "0" else "1")


def _bad_mobile(rng: random.Random, r: dict[str, Any], f: Files) -> None:
    r["reporter"]["individual"]["mobile"] = "120" + r["reporter"]["individual"]["mobile"][3:]


def _bad_uscc(rng: random.Random, r: dict[str, Any], f: Files) -> None:
    u = r["reporter"]["unit"]["uscc"]
    r["reporter"]["unit"]["uscc"] = u[:17] + ("0" if u[17] != "0" else "1")


def _unknown_region(rng: random.Random, r: dict[str, Any], f: Files) -> None:
    r["facts"]["region"] = "500105"  # 重庆市江北区, merged into 两江新区 500157 in 2025


def _future_start(rng: random.Random, r: dict[str, Any], f: Files) -> None:
    r["facts"]["start_date"] = "2027-03-01"
    r["facts"].pop("end_date", None)
    r["facts"]["ongoing"] = "yes"


def _short_description(rng: random.Random, r: dict[str, Any], f: Files) -> None:
    r["facts"]["description"] = "有人收 保护费。"


def _undeclared(rng: random.Random, r: dict[str, Any], f: Files) -> None:
    f["extra-photo.jpg"] = media.make_jpeg(rng)


def _declare(r: dict[str, Any], f: Files, name: str, atype: str, data: bytes) -> None:
    import hashlib

    f[name] = data
    r["attachments"].append({"file": name, "type": atype, "size": len(data),
                             "sha256": hashlib.sha256(data).hexdigest(), "note": ""})


def _renamed_executable(rng: random.Random, r: dict[str, Any], f: Files) -> None:
    _declare(r, f, "scene.jpg", "jpg", media.elf_renamed())


def _trailing_zip(rng: random.Random, r: dict[str, Any], f: Files) -> None:
    _declare(r, f, "polyglot.jpg", "jpg", media.jpeg_with_trailing_zip(rng))


def _truncated(rng: random.Random, r: dict[str, Any], f: Files) -> None:
    _declare(r, f, "cut.jpg", "jpg", media.truncated_jpeg(rng))


def _sha_mismatch(rng: random.Random, r: dict[str, Any], f: Files) -> None:
    _declare(r, f, "photo-9.jpg", "jpg", media.make_jpeg(rng))
    r["attachments"][-1]["sha256"] = "0" * 64


def _missing_attachment(rng: random.Random, r: dict[str, Any], f: Files) -> None:
    _declare(r, f, "gone.mp3", "mp3", media.make_mp3(rng))
    del f["gone.mp3"]


SYMLINK = "symlink"


def _symlink(rng: random.Random, r: dict[str, Any], f: Files) -> None:
    # A symlink pointing out of the submission: must never be followed.
    r["attachments"].append({"file": "linked.jpg", "type": "jpg", "size": 1, "sha256": "1" * 64, "note": ""})
    f["linked.jpg"] = SYMLINK.encode() + b":/etc/passwd"


def _missing_for_kind(rng: random.Random, r: dict[str, Any], f: Files) -> None:
    del r["facts"]["industry"]


def _bad_dropdown(rng: random.Random, r: dict[str, Any], f: Files) -> None:
    r["facts"]["targets"] = ["T12"]


def _not_accepted(rng: random.Random, r: dict[str, Any], f: Files) -> None:
    r["declaration"]["accepted"] = False


def _umbrella_missing(rng: random.Random, r: dict[str, Any], f: Files) -> None:
    r["umbrella"] = {"status": "yes", "records": []}


def _variant(rng: random.Random, r: dict[str, Any], f: Files) -> None:
    r["reporter"].pop("individual")


def _unknown_field(rng: random.Random, r: dict[str, Any], f: Files) -> None:
    r["reporter"]["wechat_id"] = "wx_123456"


def _no_offset(rng: random.Random, r: dict[str, Any], f: Files) -> None:
    r["received_at"] = r["received_at"][:19]


def _legacy_id(rng: random.Random, r: dict[str, Any], f: Files) -> None:
    n = r["reporter"]["individual"]["id_number"]
    r["reporter"]["individual"]["id_number"] = n[:6] + n[8:17]


def _too_old(rng: random.Random, r: dict[str, Any], f: Files) -> None:
    r["received_at"] = "2017-12-31T09:00:00+08:00"
    r["declaration"]["at"] = "2017-12-31T08:55:00+08:00"
    r["facts"]["start_date"] = "2017-06-01"
    r["facts"].pop("end_date", None)
    r["facts"]["ongoing"] = "yes"
    r["prior_reports"] = {"status": "no", "records": []}


#: (intended finding code, kind, reporter variant index, mutation); the directory is
#: named ``invalid-<code>``. ``report.json_invalid`` and ``report.duplicate_key`` are
#: written as raw bytes below.
INVALID: list[tuple[str, str, int, Mutator]] = [
    ("reporter.id_checksum", "gang_crime", 0, _bad_id),
    ("reporter.mobile", "police_misconduct", 0, _bad_mobile),
    ("reporter.id_legacy", "industry_disorder", 0, _legacy_id),
    ("unit.uscc_checksum", "gang_crime", 1, _bad_uscc),
    ("region.unknown", "industry_disorder", 2, _unknown_region),
    ("facts.start_date_future", "police_misconduct", 3, _future_start),
    ("facts.description_short", "gang_crime", 4, _short_description),
    ("attachment.undeclared", "gang_crime", 2, _undeclared),
    ("attachment.type_mismatch", "police_misconduct", 5, _renamed_executable),
    ("attachment.trailing_data", "industry_disorder", 3, _trailing_zip),
    ("attachment.truncated", "gang_crime", 3, _truncated),
    ("attachment.sha256_mismatch", "industry_disorder", 1, _sha_mismatch),
    ("attachment.missing", "police_misconduct", 2, _missing_attachment),
    ("attachment.not_regular", "gang_crime", 5, _symlink),
    ("report.missing_field", "industry_disorder", 4, _missing_for_kind),
    ("report.dropdown_value", "gang_crime", 2, _bad_dropdown),
    ("report.unknown_field", "police_misconduct", 4, _unknown_field),
    ("declaration.not_accepted", "industry_disorder", 5, _not_accepted),
    ("umbrella.records_missing", "gang_crime", 1, _umbrella_missing),
    ("reporter.variant", "police_misconduct", 0, _variant),
    ("envelope.received_at_offset", "gang_crime", 3, _no_offset),
    ("envelope.received_at_too_old", "police_misconduct", 3, _too_old),
]
RAW_INVALID = ["report.json_invalid", "report.duplicate_key"]


# ---------------------------------------------------------------------------- writing


def render(report: dict[str, Any]) -> bytes:
    """report.json as the intake writes it: UTF-8, sorted keys, indent 2, trailing newline."""
    return (json.dumps(report, ensure_ascii=False, indent=2, sort_keys=True) + "\n").encode("utf-8")


def write_submission(directory: Path, report: dict[str, Any] | bytes, files: Files) -> None:
    """Create ``directory`` with report.json and the files (a ``symlink:TARGET`` value makes a symlink)."""
    directory.mkdir(parents=True)
    (directory / "report.json").write_bytes(report if isinstance(report, bytes) else render(report))
    for name, data in sorted(files.items()):
        if data.startswith(SYMLINK.encode() + b":"):
            os.symlink(data.split(b":", 1)[1].decode(), directory / name)
        else:
            (directory / name).write_bytes(data)


def generate(out: Path, *, seed: int = DEFAULT_SEED, codes_path: Path | None = None,
             valid: int = VALID_COUNT) -> dict[str, str]:
    """Write the sample spool into ``out`` (must not exist or be empty); returns {submission_id: code}.

    Raises:
        FileExistsError: ``out`` exists and is not empty.
    """
    if out.exists() and any(out.iterdir()):
        raise FileExistsError(f"{out} is not empty")
    out.mkdir(parents=True, exist_ok=True)
    master = random.Random(seed)
    all_codes: dict[str, str] = {}
    for i in range(valid):
        rng = random.Random(master.getrandbits(64))
        report, files, code = valid_submission(rng, i)
        write_submission(out / report["submission_id"], report, files)
        all_codes[report["submission_id"]] = code
    for code_name, kind, variant, mutate in INVALID:
        rng = random.Random(master.getrandbits(64))
        report, files, code = valid_submission(rng, _with_kind_reporter(kind, variant), attachments=0)
        mutate(rng, report, files)
        write_submission(out / f"invalid-{code_name}", report, files)
        all_codes[report["submission_id"]] = code
    for code_name in RAW_INVALID:
        rng = random.Random(master.getrandbits(64))
        report, files, code = valid_submission(rng, 0, attachments=0)
        text = render(report)
        if code_name == "report.json_invalid":
            raw = text[: len(text) // 2]  # cut off mid-way, as a crashed writer would leave it
        else:
            raw = text.replace(b'"channel":', b'"channel": "web",\n  "channel":', 1)
        write_submission(out / f"invalid-{code_name}", raw, files)
        all_codes[report["submission_id"]] = code
    target = codes_path or out.parent / "sample-codes.json"
    target.write_text(json.dumps(dict(sorted(all_codes.items())), indent=2) + "\n", encoding="utf-8")
    return all_codes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="spool directory to create")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help=f"random seed (default {DEFAULT_SEED})")
    parser.add_argument("--codes", type=Path, help="where to write the plain query codes (default OUT/../sample-codes.json)")
    args = parser.parse_args(argv)
    try:
        made = generate(args.out, seed=args.seed, codes_path=args.codes)
    except FileExistsError as exc:
        print(f"make_samples: error: {exc}", file=sys.stderr)
        return 2
    print(f"make_samples: wrote {len(made)} submissions to {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
