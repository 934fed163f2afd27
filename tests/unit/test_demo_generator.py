from __future__ import annotations

import uuid

from demo.generator import generate
from services.registration.http.schemas import DelegationIn, ParticipantIn, RoadshowIn


def test_generator_is_seeded_valid_and_sized() -> None:
    a, b = generate(seed=5), generate(seed=5)
    assert a == b
    assert generate(seed=6) != a
    RoadshowIn.model_validate(a.roadshow)
    rid = str(uuid.uuid4())
    delegation = DelegationIn.model_validate({**a.delegation, "roadshow_id": rid})
    assert len(delegation.enterprises) == 16
    for p in a.participants:
        ParticipantIn.model_validate({**p, "roadshow_id": rid})
    kinds = {p["kind"] for p in a.participants}
    assert kinds == {"company", "fund", "bank"} and len(a.participants) >= 60
    sectors = {s for e in a.delegation["enterprises"] for s in e["sectors"]}
    assert {
        "artificial-intelligence",
        "logistics-networks",
        "autonomous-driving",
        "battery-management",
        "big-data",
        "robotics",
    } <= sectors
    big = generate(seed=1, enterprises=300, participants=500)
    assert len(big.delegation["enterprises"]) == 300 and len(big.participants) == 500
    assert len({e["name"] for e in big.delegation["enterprises"]}) == 300


def test_a_share_of_shanghai_participants_write_in_chinese() -> None:
    data = generate(seed=2019)
    chinese = [p for p in data.participants if any("\u4e00" <= ch <= "\u9fff" for ch in p["focus"])]
    assert 0.2 * len(data.participants) <= len(chinese) <= 0.6 * len(data.participants)
    assert all(any("\u4e00" <= ch <= "\u9fff" for ch in p["name"]) for p in chinese)
    # Chinese funds state their ticket range in CNY.
    assert {p["currency"] for p in chinese if p["kind"] == "fund"} == {"CNY"}
