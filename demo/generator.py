"""A seeded generator of realistic road-show data: the delegation of North
American technology enterprises and the Shanghai companies, funds and banks they
meet, as registration API request bodies. Same seed, same data; size is a
parameter, so the same generator feeds the reference event and larger runs."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from typing import Any

ORGANISER = "Shanghai Foreign Investment Promotion Center"
HOST_PARK = "Caohejing High-Tech Park Development Corporation"

# The reference event's fields, each with the taxonomy sectors and a project idea.
FIELDS: list[tuple[str, list[str], list[str]]] = [
    (
        "AI",
        ["artificial-intelligence", "machine-learning"],
        [
            "Foundation models fine-tuned for industrial inspection",
            "Conversational agents for cross-border customer service",
        ],
    ),
    (
        "Vision",
        ["computer-vision", "artificial-intelligence"],
        [
            "Edge vision chips for retail analytics",
            "3D perception for warehouse picking robots",
        ],
    ),
    (
        "Logistics",
        ["logistics-networks", "supply-chain"],
        [
            "A routing network for same-day parcel delivery across megacities",
            "Customs-aware freight matching for trans-Pacific shipping",
        ],
    ),
    (
        "Autonomy",
        ["autonomous-driving", "smart-transportation"],
        [
            "Camera-first autonomous driving stack for delivery vans",
            "Simulation platform for validating self-driving software",
        ],
    ),
    (
        "Battery",
        ["battery-management", "energy-storage"],
        [
            "Battery management system predicting cell failure from impedance data",
            "Second-life battery packs for grid storage",
        ],
    ),
    (
        "Data",
        ["big-data", "cloud-computing"],
        [
            "Real-time big data analytics for factory energy use",
            "Privacy-preserving data clean rooms for retailers",
        ],
    ),
    (
        "Robotics",
        ["robotics", "industrial-automation"],
        [
            "Collaborative robot arms for electronics assembly",
            "Autonomous mobile robots for hospital logistics",
        ],
    ),
    (
        "Health",
        ["healthtech", "machine-learning"],
        [
            "AI triage for radiology workflows",
        ],
    ),
]

_NAME_PARTS = [
    "Nova",
    "Arc",
    "Summit",
    "Pioneer",
    "Cascade",
    "Quantum",
    "Vector",
    "Polar",
    "Sierra",
    "Atlas",
    "Helix",
    "Lumen",
    "Orbit",
    "Prairie",
    "Granite",
    "Harbor",
]
_SUFFIX = ["Labs", "Systems", "Technologies", "Robotics", "AI", "Dynamics", "Networks", "Analytics"]
_CITIES = [
    ("US", "San Francisco", "+1 415"),
    ("US", "Boston", "+1 617"),
    ("US", "Seattle", "+1 206"),
    ("US", "Pittsburgh", "+1 412"),
    ("CA", "Toronto", "+1 416"),
    ("CA", "Montreal", "+1 514"),
    ("US", "Austin", "+1 512"),
    ("CA", "Vancouver", "+1 604"),
]
_FIRST = [
    "Emily",
    "Michael",
    "Sarah",
    "David",
    "Olivia",
    "Daniel",
    "Grace",
    "Ethan",
    "Chloe",
    "Ryan",
    "Hannah",
    "Lucas",
    "Maya",
    "Nathan",
    "Sophie",
    "Adrian",
]
_LAST = [
    "Anderson",
    "Chen",
    "Patel",
    "Murphy",
    "Nguyen",
    "Rossi",
    "Kowalski",
    "Tremblay",
    "Gupta",
    "Johnson",
    "Kim",
    "Lefebvre",
    "Okafor",
    "Schmidt",
    "Alvarez",
    "Walsh",
]
_CN_FIRST = ["Wei", "Jing", "Hao", "Lei", "Min", "Yan", "Tao", "Fang", "Jun", "Li", "Ying", "Bo"]
_CN_LAST = [
    "Zhang",
    "Wang",
    "Li",
    "Liu",
    "Chen",
    "Yang",
    "Zhao",
    "Huang",
    "Zhou",
    "Wu",
    "Xu",
    "Sun",
]
_DISTRICTS = [
    "Xuhui",
    "Pudong",
    "Minhang",
    "Jing'an",
    "Yangpu",
    "Zhangjiang",
    "Lingang",
    "Songjiang",
]
_STAGES = ["seed", "series-a", "series-a", "series-b", "growth"]

# About this share of the Shanghai participants register in Chinese: a Chinese
# name and focus text (and, for funds, a ticket range in CNY).
CHINESE_SHARE = 0.4
CNY_PER_USD = 7
_ZH_DISTRICTS = {
    "Xuhui": "徐汇",
    "Pudong": "浦东",
    "Minhang": "闵行",
    "Jing'an": "静安",
    "Yangpu": "杨浦",
    "Zhangjiang": "张江",
    "Lingang": "临港",
    "Songjiang": "松江",
}
# Per field of FIELDS: its Chinese label and a focus text on the same subject.
_ZH_FIELDS = {
    "AI": ("人工智能", "寻找人工智能与机器学习领域的合作伙伴：用于工业质检的大模型。"),
    "Vision": ("视觉", "关注计算机视觉：零售分析的边缘视觉芯片，仓储分拣机器人的三维感知。"),
    "Logistics": ("物流", "寻找物流网络与供应链合作伙伴：特大城市同城包裹配送的路线网络。"),
    "Autonomy": ("智能驾驶", "专注自动驾驶与智慧交通：面向配送车的摄像头自动驾驶方案。"),
    "Battery": ("电池", "关注电池管理系统与储能：根据阻抗数据预测电芯故障的电池管理。"),
    "Data": ("大数据", "寻找大数据与云计算合作伙伴：工厂能耗的实时数据分析。"),
    "Robotics": ("机器人", "关注机器人与工业自动化：电子装配的协作机械臂。"),
    "Health": ("医疗", "寻找数字医疗与机器学习合作伙伴：放射影像的人工智能分诊。"),
}
_ZH_BANK_FOCUS = "为进入中国市场的科技企业提供跨境账户、风险贷款与贸易融资。"


@dataclass
class RoadshowData:
    roadshow: dict[str, Any]
    delegation: dict[str, Any]  # roadshow_id filled in by the caller
    participants: list[dict[str, Any]] = field(default_factory=list)

    @property
    def banks(self) -> list[dict[str, Any]]:
        return [p for p in self.participants if p["kind"] == "bank"]


def generate(seed: int = 2019, enterprises: int = 16, participants: int = 64) -> RoadshowData:
    rng = random.Random(seed)
    tables, days = event_size(enterprises, participants)
    roadshow = {
        "name": "North American intelligent technology road show",
        "venue": "Caohejing High-Tech Park, Xuhui, Shanghai",
        "timezone": "Asia/Shanghai",
        "start_date": "2027-05-15",
        "end_date": f"2027-05-{14 + days}",
        "day_start": "09:00",
        "day_end": "17:00",
        "slot_minutes": 40,
        "tables": tables,
        **reference_layout(tables),
    }
    members = [_enterprise(rng, i) for i in range(enterprises)]
    delegation = {
        "name": "North American intelligent technology delegation",
        "origin_country": "US",
        "enterprises": members,
    }
    kinds = ["company"] * 4 + ["fund"] * 3 + ["bank"] * 2
    locals_ = [_participant(rng, i, kinds[i % len(kinds)]) for i in range(participants)]
    _give_languages(random.Random(seed + 12), members, locals_)
    return RoadshowData(roadshow, delegation, locals_)


# The reference event's two parks 45 minutes apart (Caohejing in Xuhui, Zhangjiang
# in Pudong), a lunch block, and three English-Chinese interpreters (one of them
# for the morning only). With venues, the road show's tables are theirs: two thirds
# at Caohejing (16 of the reference event's 24).
def reference_layout(tables: int) -> dict[str, Any]:
    zhangjiang = tables // 3
    venues = [
        {"name": "Caohejing", "tables": tables - zhangjiang},
        {"name": "Zhangjiang", "tables": zhangjiang},
    ]
    return {"venues": venues} | _REFERENCE_PROGRAMME


_REFERENCE_PROGRAMME: dict[str, Any] = {
    "travel": [{"between": ["Caohejing", "Zhangjiang"], "minutes": 45}],
    "agenda": [
        {
            "title": "Lunch",
            "starts_at": "2027-05-15T12:20:00+08:00",
            "ends_at": "2027-05-15T13:00:00+08:00",
        }
    ],
    "interpreters": [
        {"languages": ["en", "zh"]},
        {"languages": ["en", "zh"]},
        {
            "languages": ["en", "zh", "fr"],
            "available": [
                {"starts_at": "2027-05-15T09:00:00+08:00", "ends_at": "2027-05-15T12:20:00+08:00"}
            ],
        },
    ],
}


def _give_languages(
    rng: random.Random, members: list[dict[str, Any]], locals_: list[dict[str, Any]]
) -> None:
    """Presidents speak English (a third also Chinese); local contacts Chinese
    (half also English): the pairs left without a common language need an
    interpreter. A separate generator, so the rest of the data stays as it was."""
    for m in members:
        m["president"]["languages"] = ["en", "zh"] if rng.random() < 1 / 3 else ["en"]
    for p in locals_:
        p["contact"]["languages"] = ["zh", "en"] if rng.random() < 0.5 else ["zh"]


SLOTS_PER_DAY = 12  # 09:00 to 17:00 in 40-minute slots
ENTERPRISES_PER_DAY = 64  # beyond this, a delegation's meetings spread over more days


def event_size(enterprises: int, participants: int) -> tuple[int, int]:
    """Tables and days for a delegation of this size. Every enterprise that is in a
    meeting needs a table, so tables grow with the delegation (as many as can sit at
    once: one per enterprise, at most one per participant); the reference event's
    24 are the floor. With 24 tables for 200 enterprises, most wanted meetings had no
    room, and the schedule scored below zero against its bound."""
    tables = max(24, min(enterprises, participants, 2000))
    days = min(5, max(1, math.ceil(enterprises / ENTERPRISES_PER_DAY)))
    return tables, days


def _person(
    rng: random.Random,
    first: list[str],
    last: list[str],
    domain: str,
    phone_prefix: str,
    title: str,
) -> dict[str, Any]:
    f, l_ = rng.choice(first), rng.choice(last)
    return {
        "name": f"{f} {l_}",
        "title": title,
        "email": f"{f.lower()}.{l_.lower()}@{domain}",
        "phone": f"{phone_prefix} {rng.randint(200, 999)} {rng.randint(1000, 9999)}",
    }


def _enterprise(rng: random.Random, i: int) -> dict[str, Any]:
    label, sectors, ideas = FIELDS[i % len(FIELDS)]
    name = f"{_NAME_PARTS[i % len(_NAME_PARTS)]} {label} {rng.choice(_SUFFIX)}"
    if i >= len(_NAME_PARTS):
        name += f" {i // len(_NAME_PARTS) + 1}"
    country, _city, phone = rng.choice(_CITIES)
    domain = name.lower().replace(" ", "") + ".example"
    stage = rng.choice(_STAGES)
    amount = (
        {"seed": 2, "series-a": 8, "series-b": 25, "growth": 60}[stage]
        * rng.randint(5, 15)
        * 100_000
    )
    seeking = ["equity-investment"]
    seeking += rng.sample(
        [
            "bank-account-services",
            "debt-financing",
            "pilot-customer",
            "joint-venture",
            "distribution",
            "manufacturing",
            "market-entry",
            "rd-collaboration",
        ],
        k=3,
    )
    return {
        "name": name,
        "country": country,
        "sectors": sectors,
        "president": _person(rng, _FIRST, _LAST, domain, phone, "President"),
        "project": {
            "title": ideas[i % len(ideas)],
            "summary": f"{ideas[i % len(ideas)]}. Seeking partners to enter the Chinese market, "
            f"with pilots in Shanghai and production with local manufacturers.",
            "stage": stage,
            "funding_amount": str(amount),
            "funding_currency": "USD",
            "partnership_types": seeking,
        },
    }


def _participant(rng: random.Random, i: int, kind: str) -> dict[str, Any]:
    label, sectors, ideas = FIELDS[rng.randrange(len(FIELDS))]
    district = rng.choice(_DISTRICTS)
    name = {
        "company": f"Shanghai {district} {label} Technology Co. {i + 1}",
        "fund": f"{district} {label} Capital {i + 1}",
        "bank": f"Bank of {district} Technology Finance {i + 1}",
    }[kind]
    domain = name.lower().replace(" ", "").replace("'", "").replace(".", "") + ".example.cn"
    body: dict[str, Any] = {
        "kind": kind,
        "name": name,
        "sectors": sectors
        if kind != "bank"
        else rng.sample(sorted({s for _, ss, _ in FIELDS for s in ss}), k=3),
        "focus": f"Looking for {label.lower()} partners: {ideas[0].lower()}.",
        "contact": _person(rng, _CN_FIRST, _CN_LAST, domain, "+86 21", "Director"),
        "max_meetings": rng.choice([4, 6, 8]),
    }
    chinese = rng.random() < CHINESE_SHARE
    if chinese:
        zh_label, zh_focus = _ZH_FIELDS[label]
        zh_district = _ZH_DISTRICTS[district]
        body["name"] = {
            "company": f"上海{zh_district}{zh_label}科技有限公司 {i + 1}",
            "fund": f"{zh_district}{zh_label}创业投资 {i + 1}",
            "bank": f"{zh_district}科技金融银行 {i + 1}",
        }[kind]
        body["focus"] = zh_focus
    if kind == "company":
        body["offers"] = rng.sample(
            [
                "joint-venture",
                "distribution",
                "manufacturing",
                "pilot-customer",
                "rd-collaboration",
                "technology-licensing",
            ],
            k=3,
        )
    elif kind == "fund":
        low = rng.choice([1, 2, 5]) * 1_000_000
        body.update(
            offers=["equity-investment"],
            stages=rng.sample(_STAGES[:4], k=2),
            ticket_min=str(low),
            ticket_max=str(low * rng.choice([5, 10])),
            currency="USD",
        )
        if chinese:
            body.update(
                ticket_min=str(low * CNY_PER_USD),
                ticket_max=str(int(body["ticket_max"]) * CNY_PER_USD),
                currency="CNY",
            )
    else:
        body["offers"] = ["debt-financing", "bank-account-services", "trade-finance"]
        body["focus"] = (
            _ZH_BANK_FOCUS
            if chinese
            else "Cross-border accounts, venture debt and trade finance for technology firms entering China."
        )
    return body
