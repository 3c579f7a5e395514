"""The dropdown codes of the report form, as data: code -> (Chinese label, English gloss).

Sources: docs/reference/domain.md §1 (taxonomy) and §5 (the 12337 form). The codes are stable
API (they are stored, routed on and counted); the labels are data and may be re-worded.

Conventions (decided here where domain.md is a proposal):

- Coded lists taken from domain.md tables keep its codes (``T01``…, ``IND01``…,
  ``ORG_PSB``…); their "not known" (不清楚) value is ``UNK`` and their "other" value
  ``T99`` / ``IND99`` / ``ORG_OTHER`` / ``P99``….
- Word-valued dropdowns use snake_case English words; their "not known" value is
  ``unknown``.
- Every dropdown has its "not known" value, so a reporter is never forced to guess
  (the platform's notice tells reporters to pick 不清楚 when unsure, domain.md §5).
- Multi-selects are lists of codes; ``UNK`` / ``unknown`` must then be the only item.

The ``Literal`` aliases built at the bottom are what ``model/report.py`` uses, so the
generated JSON Schema carries every allowed value.
"""

from __future__ import annotations

from typing import Any, Literal

Table = dict[str, tuple[str, str]]

#: Report kinds (schemas/report.schema.json).
KINDS: Table = {
    "police_misconduct": ("政法干警违纪违法线索", "misconduct by political-legal officers"),
    "gang_crime": ("涉黑涉恶违法犯罪线索", "gang / organised crime"),
    "industry_disorder": ("扫黑除恶中涉及行业乱象问题", "rackets in an industry"),
}

#: Crime targets, the 2018 "十类" plus 网络水军 (domain.md §1.1). Multi-select.
TARGETS: Table = {
    "T01": ("威胁政治安全特别是制度安全、政权安全以及向政治领域渗透的黑恶势力",
            "gangs threatening political security or infiltrating politics"),
    "T02": ("把持基层政权、操纵破坏基层换届选举、垄断农村资源、侵吞集体资产的黑恶势力",
            "gangs controlling grassroots government, rigging elections, seizing collective assets"),
    "T03": ("利用家族、宗族势力横行乡里、称霸一方、欺压残害百姓的\"村霸\"等黑恶势力",
            "village tyrants using family or clan power"),
    "T04": ("在征地、租地、拆迁、工程项目建设等过程中煽动闹事的黑恶势力",
            "gangs stirring up trouble in land requisition, demolition and construction"),
    "T05": ("在建筑工程、交通运输、矿产资源、渔业捕捞等行业、领域，强揽工程、恶意竞标、非法占地、滥开滥采的黑恶势力",
            "gangs forcing contracts, rigging bids, seizing land, mining recklessly"),
    "T06": ("在商贸集市、批发市场、车站码头、旅游景区等场所欺行霸市、强买强卖、收保护费的市霸、行霸等黑恶势力",
            "market and trade bullies, forced trading, protection money"),
    "T07": ("操纵、经营\"黄赌毒\"等违法犯罪活动的黑恶势力", "gangs running prostitution, gambling, drugs"),
    "T08": ("非法高利放贷、暴力讨债的黑恶势力", "illegal usurious lending and violent debt collection"),
    "T09": ("插手民间纠纷，充当\"地下执法队\"的黑恶势力", "underground enforcement squads in civil disputes"),
    "T10": ("境外黑社会入境发展渗透以及跨国跨境的黑恶势力", "foreign triads and transnational gangs"),
    "T11": ("组织或雇佣网络\"水军\"在网上威胁、恐吓、侮辱、诽谤、滋扰的黑恶势力",
            "online water armies that threaten, insult, defame or harass"),
    "T99": ("其他黑恶势力", "other"),
    "UNK": ("不清楚", "unknown"),
}

#: Industry fields (domain.md §1.2): the 2021 four, the 2022 three, an extended list.
INDUSTRIES: Table = {
    "IND01": ("信息网络", "information networks"),
    "IND02": ("自然资源", "natural resources (land, minerals, river sand)"),
    "IND03": ("交通运输", "transport"),
    "IND04": ("工程建设", "construction"),
    "IND05": ("教育", "education"),
    "IND06": ("金融放贷", "finance and lending"),
    "IND07": ("市场流通", "market circulation"),
    "IND08": ("生态环境", "ecology and environment"),
    "IND09": ("文化旅游", "culture and tourism"),
    "IND10": ("卫生健康", "health care"),
    "IND11": ("乡村治理", "rural governance and collective assets"),
    "IND12": ("海洋渔业", "marine fisheries"),
    "IND13": ("物业管理", "property management"),
    "IND14": ("社会治安", "public order (entertainment venues, couriers)"),
    "IND99": ("其他", "other"),
    "UNK": ("不清楚", "unknown"),
}

#: Problem types for kind 3, per industry (domain.md §1.2 and §5.2). A code
#: ``INDnn-xx`` belongs to industry ``INDnn``; ``P99`` (other) and ``UNK`` fit any
#: industry. Only the four best-sourced industries have specific problems.
INDUSTRY_PROBLEMS: Table = {
    "IND01-01": ("电信网络诈骗", "telecom and online fraud"),
    "IND01-02": ("裸聊敲诈", "sextortion"),
    "IND01-03": ("新闻敲诈", "news extortion"),
    "IND01-04": ("非法网络贷款", "illegal online lending"),
    "IND02-01": ("强占土地", "forcible land seizure"),
    "IND02-02": ("违章违建", "illegal construction"),
    "IND02-03": ("破坏耕地", "destroying farmland"),
    "IND02-04": ("私挖滥采", "illegal mining and sand dredging"),
    "IND03-01": ("敲诈勒索货车司机", "extorting truck drivers"),
    "IND03-02": ("盗抢燃油货物", "stealing fuel and cargo"),
    "IND03-03": ("控制运输市场", "controlling the transport market"),
    "IND03-04": ("车匪路霸", "highway robbers"),
    "IND03-05": ("非法改装", "illegal vehicle modification"),
    "IND03-06": ("黑车", "unlicensed taxis"),
    "IND04-01": ("恶意竞标、围标串标", "bid rigging"),
    "IND04-02": ("强揽工程", "forcing contracts"),
    "IND04-03": ("违法发包转包分包", "illegal subcontracting"),
    "IND04-04": ("垄断砂石料", "monopolising sand and gravel"),
    "IND04-05": ("阻工扰工", "obstructing work"),
    "IND04-06": ("恶意拖欠工程款", "withholding construction payments"),
    "P99": ("其他", "other"),
    "UNK": ("不清楚", "unknown"),
}

#: Organ types for kind 1 (domain.md §1.3).
ORGAN_TYPES: Table = {
    "ORG_PLAC": ("党委政法委", "Party political-legal affairs committee"),
    "ORG_COURT": ("人民法院", "court"),
    "ORG_PROC": ("人民检察院", "procuratorate"),
    "ORG_PSB": ("公安机关", "public security"),
    "ORG_MSS": ("国家安全机关", "state security"),
    "ORG_JUST": ("司法行政机关", "justice administration, prisons, drug rehabilitation"),
    "ORG_OTHER": ("其他", "other"),
    "UNK": ("不清楚", "unknown"),
}

#: Organ levels (层级) for kind 1 (domain.md §1.3 proposal).
ORGAN_LEVELS: Table = {
    "central": ("中央", "central"),
    "provincial": ("省级", "provincial"),
    "prefectural": ("地市级", "prefecture"),
    "county": ("县级", "county"),
    "grassroots": ("基层所队庭", "grassroots station, team or tribunal"),
    "unknown": ("不清楚", "unknown"),
}

#: Problem types for kind 1: the six 顽瘴痼疾 plus the proposed additions (domain.md §1.3).
POLICE_PROBLEMS: Table = {
    "P01": ("违反防止干预司法\"三个规定\"", "breaching the three rules against interfering with justice"),
    "P02": ("违规经商办企业", "running businesses in breach of rules"),
    "P03": ("违规参股借贷", "illicit shareholding or lending"),
    "P04": ("配偶、子女及其配偶违规从事经营活动", "relatives doing business in breach of rules"),
    "P05": ("违规违法减刑、假释、暂予监外执行", "unlawful commutation, parole or medical release"),
    "P06": ("有案不立、压案不查、有罪不究", "not filing, sitting on or not pursuing cases"),
    "P07": ("充当黑恶势力\"保护伞\"", "acting as a gang's protective umbrella"),
    "P08": ("索贿受贿", "soliciting or taking bribes"),
    "P09": ("刑讯逼供、违法办案", "torture or unlawful case handling"),
    "P10": ("枉法裁判、徇私枉法", "perverting justice"),
    "P11": ("违规插手经济纠纷", "meddling in economic disputes"),
    "P12": ("离任后违规从事律师职业、充当司法掮客", "illicit legal practice or brokering after leaving office"),
    "P13": ("作风问题", "conduct and discipline"),
    "P99": ("其他", "other"),
    "UNK": ("不清楚", "unknown"),
}

#: Umbrella behaviours: 反有组织犯罪法 art. 50 (U01–U06) and art. 52 (U07–U11).
UMBRELLA_BEHAVIOURS: Table = {
    "U01": ("组织、领导、参加有组织犯罪活动", "organising, leading or joining organised crime"),
    "U02": ("为有组织犯罪组织及其犯罪活动提供帮助", "helping an organised crime group"),
    "U03": ("包庇有组织犯罪组织、纵容有组织犯罪活动", "shielding or conniving at organised crime"),
    "U04": ("在查办有组织犯罪案件工作中失职渎职", "dereliction in organised-crime cases"),
    "U05": ("利用职权或者职务上的影响干预反有组织犯罪工作", "using office to interfere with anti-organised-crime work"),
    "U06": ("其他涉有组织犯罪的违法犯罪行为", "other offences connected with organised crime"),
    "U07": ("接到举报不受理、隐瞒线索、不移送线索", "not accepting, hiding or not transferring reports"),
    "U08": ("通风报信、阻碍案件查处", "tipping off or obstructing investigations"),
    "U09": ("违背事实和法律处理案件", "handling cases against facts and law"),
    "U10": ("违规查封扣押冻结处置涉案财物", "unlawful seizure or disposal of case property"),
    "U11": ("其他滥用职权、玩忽职守、徇私舞弊", "other abuse of power, neglect of duty, favouritism"),
    "UNK": ("不清楚", "unknown"),
}

#: The umbrella person's unit type (domain.md §1.4): the organ list plus three more.
UMBRELLA_UNIT_TYPES: Table = {
    **{k: v for k, v in ORGAN_TYPES.items() if k not in ("ORG_OTHER", "UNK")},
    "ORG_GOV": ("党政机关", "Party or government organ"),
    "ORG_REG": ("行业主管部门", "industry regulator"),
    "ORG_BASE": ("基层组织", "grassroots organisation (village or residents' committee)"),
    "ORG_OTHER": ("其他", "other"),
    "UNK": ("不清楚", "unknown"),
}

#: Official rank (级别) of an umbrella person (domain.md §1.4).
OFFICIAL_RANKS: Table = {
    "provincial_ministerial": ("省部级", "provincial or ministerial"),
    "department_bureau": ("厅局级", "department or bureau"),
    "county_division": ("县处级", "county or division"),
    "township_section": ("乡科级", "township or section"),
    "other": ("其他", "other"),
    "unknown": ("不清楚", "unknown"),
}

#: Yes / no / not known (是 / 否 / 不清楚).
TRISTATE: Table = {
    "yes": ("是", "yes"),
    "no": ("否", "no"),
    "unknown": ("不清楚", "unknown"),
}

#: Channel of intake (domain.md §5.1). The intake sets it; ``unknown`` covers imports
#: of legacy records whose channel was not kept.
CHANNELS: Table = {
    "web": ("网站", "website"),
    "miniprogram": ("小程序", "mini program"),
    "phone": ("电话", "telephone"),
    "letter": ("来信", "letter"),
    "in_person": ("当面", "in person"),
    "unknown": ("不清楚", "unknown"),
}

#: Reporter type and identity (domain.md §5.1). Structural, so no "unknown".
REPORTER_TYPES: Table = {"individual": ("个人", "individual"), "unit": ("单位", "unit")}
IDENTITIES: Table = {"real_name": ("实名", "real name"), "anonymous": ("匿名", "anonymous")}

#: The reporter's relation to the reported matter (domain.md §5.1).
RELATIONS: Table = {
    "victim": ("本人受害", "the reporter is a victim"),
    "relative_victim": ("亲属受害", "a relative is a victim"),
    "witness": ("知情人", "has knowledge"),
    "other": ("其他", "other"),
    "unknown": ("不清楚", "unknown"),
}

#: Channels of earlier reports (domain.md §5.1, prior reporting).
PRIOR_CHANNELS: Table = {
    "12337": ("12337 扫黑除恶举报平台", "12337 platform"),
    "12389": ("12389 公安举报", "12389 police reporting"),
    "12309": ("12309 检察服务", "12309 procuratorate"),
    "12368": ("12368 诉讼服务", "12368 courts"),
    "12388": ("12388 纪检监察举报", "12388 discipline inspection"),
    "110": ("110 报警", "110 police emergency"),
    "petition": ("信访", "petition office"),
    "letter": ("来信", "letter"),
    "other": ("其他", "other"),
    "unknown": ("不清楚", "unknown"),
}

#: Results of earlier reports (domain.md §5.1).
PRIOR_RESULTS: Table = {
    "not_accepted": ("未受理", "not accepted"),
    "in_progress": ("办理中", "in progress"),
    "answered_satisfied": ("已答复-满意", "answered, satisfied"),
    "answered_unsatisfied": ("已答复-不满意", "answered, not satisfied"),
    "unknown": ("不清楚", "unknown"),
}

#: Nature of the group: 反有组织犯罪法 art. 2 (domain.md §1.1).
NATURES: Table = {
    "mafia_type": ("黑社会性质组织", "mafia-type organisation"),
    "evil_force": ("恶势力组织", "evil-force organisation"),
    "ordinary_gang": ("一般违法犯罪团伙", "ordinary criminal gang"),
    "unknown": ("不清楚", "unknown"),
}

#: Suspected offences (涉嫌罪名), by 刑法 article (domain.md §1.1 proposal). Multi-select.
CHARGES: Table = {
    "CR294": ("组织、领导、参加黑社会性质组织罪", "organising or joining a mafia-type organisation (art. 294)"),
    "CR232": ("故意杀人", "homicide (art. 232)"),
    "CR234": ("故意伤害", "intentional injury (art. 234)"),
    "CR238": ("非法拘禁", "unlawful detention (art. 238)"),
    "CR246": ("侮辱、诽谤", "insult, defamation (art. 246)"),
    "CR263": ("抢劫", "robbery (art. 263)"),
    "CR266": ("诈骗", "fraud (art. 266)"),
    "CR274": ("敲诈勒索", "extortion (art. 274)"),
    "CR275": ("故意毁坏财物", "destruction of property (art. 275)"),
    "CR277": ("妨害公务", "obstructing official duties (art. 277)"),
    "CR292": ("聚众斗殴", "affray (art. 292)"),
    "CR293": ("寻衅滋事", "picking quarrels (art. 293)"),
    "CR293_1": ("催收非法债务", "collecting illegal debts (art. 293-1)"),
    "CR303": ("赌博、开设赌场", "gambling, running a casino (art. 303)"),
    "CR226": ("强迫交易", "forced trading (art. 226)"),
    "CR223": ("串通投标", "bid rigging (art. 223)"),
    "CR225": ("非法经营", "illegal business, incl. illegal lending (art. 225)"),
    "CR191": ("洗钱", "money laundering (art. 191)"),
    "CR342": ("非法占用农用地", "illegal occupation of farmland (art. 342)"),
    "CR343": ("非法采矿", "illegal mining (art. 343)"),
    "CR358": ("组织卖淫", "organising prostitution (art. 358)"),
    "CR347": ("毒品犯罪", "drug offences (art. 347)"),
    "CR99": ("其他", "other"),
    "UNK": ("不清楚", "unknown"),
}

#: Means (手段) used by the group (domain.md §5.2). Multi-select.
MEANS: Table = {
    "violence": ("暴力", "violence"),
    "threat": ("威胁", "threats"),
    "soft_violence": ("\"软暴力\"", "soft violence (harassment, intimidation)"),
    "other": ("其他", "other"),
    "unknown": ("不清楚", "unknown"),
}

#: The most serious harm done (受害情况, domain.md §5.2). Single choice.
HARMS: Table = {
    "none": ("无", "none"),
    "property_loss": ("财产损失", "property loss"),
    "injury": ("人身伤害", "bodily injury"),
    "death": ("死亡", "death"),
    "unknown": ("不清楚", "unknown"),
}

#: Number of victims (受害人数), bucketed.
VICTIM_COUNTS: Table = {
    "0": ("无", "none"),
    "1": ("1 人", "one"),
    "2-9": ("2–9 人", "2 to 9"),
    "10-49": ("10–49 人", "10 to 49"),
    "50+": ("50 人以上", "50 or more"),
    "unknown": ("不清楚", "unknown"),
}

#: Amount involved (涉案金额, yuan), bucketed.
AMOUNTS: Table = {
    "none": ("不涉及", "none"),
    "lt_10k": ("1 万元以下", "under 10,000"),
    "10k_100k": ("1 万至 10 万元", "10,000 to 100,000"),
    "100k_1m": ("10 万至 100 万元", "100,000 to 1 million"),
    "1m_10m": ("100 万至 1000 万元", "1 to 10 million"),
    "ge_10m": ("1000 万元以上", "10 million or more"),
    "unknown": ("不清楚", "unknown"),
}

#: Group size (团伙人数, domain.md §5.2; 恶势力 usually means 3 or more).
GROUP_SIZES: Table = {
    "1-2": ("1–2 人", "1 or 2"),
    "3-9": ("3–9 人", "3 to 9"),
    "10+": ("10 人以上", "10 or more"),
    "unknown": ("不清楚", "unknown"),
}

#: Gender (性别).
GENDERS: Table = {"male": ("男", "male"), "female": ("女", "female"), "unknown": ("不清楚", "unknown")}

#: Approximate age (大致年龄) of a reported person.
AGE_BUCKETS: Table = {
    "lt_18": ("18 岁以下", "under 18"),
    "18-29": ("18–29 岁", "18 to 29"),
    "30-44": ("30–44 岁", "30 to 44"),
    "45-59": ("45–59 岁", "45 to 59"),
    "60+": ("60 岁以上", "60 or older"),
    "unknown": ("不清楚", "unknown"),
}

#: Attachment types (schemas/report.schema.json).
ATTACHMENT_TYPES: Table = {
    "jpg": ("图片", "JPEG image"),
    "mp3": ("音频", "MP3 audio"),
    "mp4": ("视频", "MP4 video"),
}

#: Every dropdown by name, for documentation and tests.
DROPDOWNS: dict[str, Table] = {
    "kind": KINDS,
    "target": TARGETS,
    "industry": INDUSTRIES,
    "industry_problem": INDUSTRY_PROBLEMS,
    "organ_type": ORGAN_TYPES,
    "organ_level": ORGAN_LEVELS,
    "police_problem": POLICE_PROBLEMS,
    "umbrella_behaviour": UMBRELLA_BEHAVIOURS,
    "umbrella_unit_type": UMBRELLA_UNIT_TYPES,
    "official_rank": OFFICIAL_RANKS,
    "tristate": TRISTATE,
    "channel": CHANNELS,
    "relation": RELATIONS,
    "prior_channel": PRIOR_CHANNELS,
    "prior_result": PRIOR_RESULTS,
    "nature": NATURES,
    "charge": CHARGES,
    "means": MEANS,
    "harm": HARMS,
    "victim_count": VICTIM_COUNTS,
    "amount": AMOUNTS,
    "group_size": GROUP_SIZES,
    "gender": GENDERS,
    "age": AGE_BUCKETS,
}

#: Dropdowns that are structural choices, not questions, and so have no "not known".
STRUCTURAL = frozenset({"kind"})

#: The "not known" values.
UNKNOWN_VALUES = frozenset({"UNK", "unknown"})


def label(table: Table, code: str) -> str:
    """The Chinese label of ``code``.

    Raises:
        KeyError: ``code`` is not in ``table``.
    """
    return table[code][0]


def _literal(table: Table) -> Any:
    # Literal[...] built from the table keys, so the schema and the data cannot drift.
    return Literal[tuple(table)]  # type: ignore[valid-type]


Kind = _literal(KINDS)
TargetCode = _literal(TARGETS)
IndustryCode = _literal(INDUSTRIES)
IndustryProblemCode = _literal(INDUSTRY_PROBLEMS)
OrganType = _literal(ORGAN_TYPES)
OrganLevel = _literal(ORGAN_LEVELS)
PoliceProblemCode = _literal(POLICE_PROBLEMS)
UmbrellaBehaviour = _literal(UMBRELLA_BEHAVIOURS)
UmbrellaUnitType = _literal(UMBRELLA_UNIT_TYPES)
OfficialRank = _literal(OFFICIAL_RANKS)
Tristate = _literal(TRISTATE)
Channel = _literal(CHANNELS)
ReporterType = _literal(REPORTER_TYPES)
Identity = _literal(IDENTITIES)
Relation = _literal(RELATIONS)
PriorChannel = _literal(PRIOR_CHANNELS)
PriorResult = _literal(PRIOR_RESULTS)
Nature = _literal(NATURES)
ChargeCode = _literal(CHARGES)
Means = _literal(MEANS)
Harm = _literal(HARMS)
VictimCount = _literal(VICTIM_COUNTS)
Amount = _literal(AMOUNTS)
GroupSize = _literal(GROUP_SIZES)
Gender = _literal(GENDERS)
AgeBucket = _literal(AGE_BUCKETS)
AttachmentType = _literal(ATTACHMENT_TYPES)
