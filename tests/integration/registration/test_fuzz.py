"""Random damage to valid bodies never produces a 500 or a half-written row:
every answer is a success or a 4xx problem naming a field."""

from __future__ import annotations

import copy
import random
from typing import Any

from tests import factories
from tests.conftest import Registration

WEIRD: list[Any] = [
    None,
    "",
    "\x00",
    "💥" * 3,
    -1,
    0,
    10**30,
    1e308,
    True,
    [],
    {},
    [None],
    {"a": 1},
    "x" * 6000,
    "2027-02-30",
    "-0.001",
    "NaN",
    "Infinity",
]


def _leaves(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    if isinstance(value, dict):
        return [path] + [p for k, v in value.items() for p in _leaves(v, (*path, k))]
    if isinstance(value, list):
        return [path] + [p for i, v in enumerate(value) for p in _leaves(v, (*path, i))]
    return [path]


def _damage(body: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    body = copy.deepcopy(body)
    for _ in range(rng.randint(1, 3)):
        path = rng.choice([p for p in _leaves(body) if p])
        target = body
        for step in path[:-1]:
            target = target[step]
        if rng.random() < 0.15 and isinstance(target, dict):
            del target[path[-1]]
        else:
            target[path[-1]] = rng.choice(WEIRD)
    return body


async def test_damaged_bodies_never_500(registration: Registration) -> None:
    partner = await registration.new_partner()
    roadshow = await registration.new_roadshow(partner)
    rid = roadshow["roadshow_id"]
    rng = random.Random(20190523)
    valid = {
        "/v1/delegations": factories.delegation(rid, enterprises=2),
        "/v1/participants": factories.participant(rid, kind="fund"),
        "/v1/roadshows": factories.roadshow(),
    }
    statuses: dict[int, int] = {}
    for i in range(240):
        url = list(valid)[i % len(valid)]
        body = _damage(valid[url], rng)
        resp = await registration.client.post(url, json=body, headers=partner)
        statuses[resp.status] = statuses.get(resp.status, 0) + 1
        assert resp.status < 500, (url, body, await resp.text())
        if resp.status >= 400:
            assert resp.content_type == "application/problem+json"
            assert (await resp.json()).get("field"), await resp.text()
    assert statuses.get(422, 0) > 100  # the damage was mostly caught by validation
    # Patches too.
    delegation = await (
        await registration.client.post(
            "/v1/delegations", json=valid["/v1/delegations"], headers=partner
        )
    ).json()
    url = f"/v1/enterprises/{delegation['enterprises'][0]['enterprise_id']}"
    for _ in range(60):
        patch = _damage(
            {
                "name": "n",
                "sectors": ["robotics"],
                "project": valid["/v1/delegations"]["enterprises"][0]["project"],
            },
            rng,
        )
        resp = await registration.client.patch(url, json=patch, headers=partner)
        assert resp.status < 500, (patch, await resp.text())
