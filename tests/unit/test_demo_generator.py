from __future__ import annotations

import uuid

from demo.generator import SLOTS_PER_DAY, event_size, generate
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


def test_the_event_grows_with_the_delegation() -> None:
    default = generate(seed=5).roadshow
    assert default["tables"] == 24 and default["start_date"] == default["end_date"]
    big = generate(seed=5, enterprises=200, participants=600).roadshow
    RoadshowIn.model_validate(big)
    tables, days = event_size(200, 600)
    assert big["tables"] == tables == 200 and big["end_date"] == f"2027-05-{14 + days}"
    # Room for every enterprise in every slot of every day.
    assert tables * SLOTS_PER_DAY * days >= 200 * SLOTS_PER_DAY
    for enterprises, participants in [(1, 1), (16, 64), (300, 500), (2000, 3000)]:
        tables, days = event_size(enterprises, participants)
        assert 24 <= tables <= 2000 and 1 <= days <= 5
        assert tables >= min(enterprises, participants, 2000)


def test_the_reference_road_show_has_two_parks_a_lunch_and_interpreters() -> None:
    from services.matching.scheduling.problem import needs_interpreter

    data = generate(seed=5)
    roadshow = RoadshowIn.model_validate(data.roadshow)
    assert [v.name for v in roadshow.venues] == ["Caohejing", "Zhangjiang"]
    assert roadshow.tables == 24 and roadshow.travel[0].minutes == 45
    assert [b.title for b in roadshow.agenda] == ["Lunch"] and len(roadshow.interpreters) == 3
    presidents = [frozenset(e["president"]["languages"]) for e in data.delegation["enterprises"]]
    contacts = [frozenset(p["contact"]["languages"]) for p in data.participants]
    pairs = [needs_interpreter(a, b) for a in presidents for b in contacts]
    assert 0 < sum(pairs) < len(pairs)  # some pairs need an interpreter, most do not


def test_a_share_of_shanghai_participants_write_in_chinese() -> None:
    data = generate(seed=2019)
    chinese = [p for p in data.participants if any("\u4e00" <= ch <= "\u9fff" for ch in p["focus"])]
    assert 0.2 * len(data.participants) <= len(chinese) <= 0.6 * len(data.participants)
    assert all(any("\u4e00" <= ch <= "\u9fff" for ch in p["name"]) for p in chinese)
    # Chinese funds state their ticket range in CNY.
    assert {p["currency"] for p in chinese if p["kind"] == "fund"} == {"CNY"}
