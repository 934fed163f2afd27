"""The fault suite's harness: a road show driven through the public HTTP APIs of the
suite `make up` starts, the faults (SIGKILL by pid, a database refusing connections,
the broker killed, the webhook receiver down), and what came out (lost, doubled,
webhooks, dead letters, time to recover). Shared by tests/faults/ and bench/faults.py.

Nothing here imports a service: the expectation is computed from scratch by the
suite itself, in a control road show with the same parties that runs with no fault
(a pair's score depends on the pair only, so every road show with the same parties
must end with the same matches)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import signal
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import asyncpg

from demo.generator import HOST_PARK, ORGANISER, RoadshowData
from demo.receiver import Received, WebhookReceiver
from shared.testing.kafka import read_topic
from shared.testing.suite import Suite, Urls
from shared.topics import Topics

Json = Any
Pair = tuple[str, str]  # (enterprise name, participant name): one match
Key = tuple[str, str, int]  # (bank participant id, match id, version): one webhook's event
RETRIED = {409, 429, 500, 502, 503, 504}  # answers a client retries with the same key

# The notification service's default retry schedule (services/notification/settings.py),
# compressed: the fault suite runs hours of it in seconds.
DEFAULT_RETRY_SCHEDULE = (5, 300, 1800, 7200, 18000, 36000, 36000)


def compressed_schedule(factor: float) -> str:
    """NOTIFICATION_RETRY_SCHEDULE with every delay divided by `factor`."""
    return ",".join(f"{d / factor:.3f}s" for d in DEFAULT_RETRY_SCHEDULE)


def retried_for(factor: float, seconds: float) -> float:
    """How much of the real schedule (in hours) `seconds` of compressed time covers."""
    return seconds * factor / 3600


class ApiError(RuntimeError):
    pass


class Api:
    """The public HTTP APIs, as any client calls them."""

    def __init__(self, session: aiohttp.ClientSession, urls: Urls) -> None:
        self.s = session
        self.urls = urls

    async def call(
        self,
        method: str,
        url: str,
        headers: dict[str, str],
        body: Json = None,
        params: dict[str, str] | None = None,
    ) -> Json:
        async with self.s.request(method, url, json=body, headers=headers, params=params) as r:
            text = await r.text()
            if r.status >= 300:
                raise ApiError(f"{method} {url} -> {r.status}: {text[:300]}")
            return await r.json(content_type=None) if text else None

    async def create(
        self, url: str, headers: dict[str, str], body: Json, within: float = 120.0
    ) -> Json:
        """POST with an Idempotency-Key, again and again while the service is down or
        answers 5xx: whatever the fault, each creation happens once."""
        key = {"Idempotency-Key": str(uuid.uuid4())}
        deadline = time.monotonic() + within
        attempt = 0
        while True:
            attempt += 1
            try:
                async with self.s.post(url, json=body, headers=headers | key) as r:
                    text = await r.text()
                    if r.status < 300:
                        return await r.json(content_type=None)
                    if r.status not in RETRIED:
                        raise ApiError(f"POST {url} -> {r.status}: {text[:300]}")
                    failure = f"{r.status}: {text[:200]}"
            except (TimeoutError, aiohttp.ClientError) as exc:
                failure = f"{type(exc).__name__}: {exc}"
            if time.monotonic() > deadline:
                raise ApiError(f"POST {url} failed for {within:.0f} s: {failure}")
            await asyncio.sleep(min(2.0, 0.1 * 2**attempt))

    async def pages(self, url: str, headers: dict[str, str], **query: str) -> list[Json]:
        """Every item of a list endpoint (the cursor is opaque, handed back as given)."""
        items: list[Json] = []
        cursor: str | None = None
        while True:
            params = {"limit": "500", **query} | ({"cursor": cursor} if cursor else {})
            page = await self.call("GET", url, headers, params=params)
            items += page["items"]
            cursor = page.get("next_cursor")
            if not cursor:
                return items

    async def ok(self, url: str, headers: dict[str, str]) -> bool:
        with contextlib.suppress(aiohttp.ClientError, asyncio.TimeoutError):
            async with self.s.get(url, headers=headers) as r:
                await r.read()
                return r.status == 200
        return False


async def until(probe: Callable[[], Awaitable[bool]], seconds: float, every: float = 0.5) -> bool:
    deadline = time.monotonic() + seconds
    while True:
        with contextlib.suppress(aiohttp.ClientError, asyncio.TimeoutError, ApiError):
            if await probe():
                return True
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(every)


# --- a road show -------------------------------------------------------------------------


@dataclass
class Show:
    name: str
    roadshow_id: str
    organiser: dict[str, str]
    park: dict[str, str]
    banks: dict[str, str]  # participant id -> subscription id
    enterprises: dict[str, str] = field(default_factory=dict)  # enterprise id -> name


async def partner(api: Api, admin_token: str, name: str) -> dict[str, str]:
    admin = {"Authorization": f"Bearer {admin_token}"}
    url = f"{api.urls.registration}/admin/partners"
    out = await api.create(url, admin, {"name": name})
    return {"Authorization": f"Bearer {out['api_key']}"}


async def set_up_show(
    api: Api, admin_token: str, receiver: WebhookReceiver, data: RoadshowData, name: str
) -> Show:
    """Partners, the road show, its participants, and every bank subscribed to match
    events at the receiver."""
    organiser = await partner(api, admin_token, f"{ORGANISER} ({name})")
    park = await partner(api, admin_token, f"{HOST_PARK} ({name})")
    reg = api.urls.registration
    rid = (await api.create(f"{reg}/v1/roadshows", organiser, data.roadshow))["roadshow_id"]
    posted = await asyncio.gather(
        *(
            api.create(f"{reg}/v1/participants", park, {**p, "roadshow_id": rid})
            for p in data.participants
        )
    )
    show = Show(name, rid, organiser, park, {})
    note = api.urls.notification
    # The park's key reaches notification as an event: wait until it is accepted there.
    if not await until(lambda: api.ok(f"{note}/v1/subscriptions", park), 60, 0.2):
        raise TimeoutError("notification did not learn the park's API key within 60 s")
    types = (await api.call("GET", f"{note}/v1/event-types", {}))["event_types"]
    wanted = [t for t in types if t in ("match.proposed", "match.updated")]
    for bank in (p["participant_id"] for p in posted if p["kind"] == "bank"):
        body = {
            "url": f"{receiver.url}/hooks/{bank}",
            "description": f"fault suite bank ({name})",
            "event_types": wanted,
            "participant_ids": [bank],
        }
        sub = await api.create(f"{note}/v1/subscriptions", park, body)
        receiver.secrets[bank] = sub["secret"]
        show.banks[bank] = sub["subscription_id"]
    return show


async def register(
    api: Api,
    show: Show,
    data: RoadshowData,
    rate: float,
    per_delegation: int = 1,
    concurrency: int = 16,
) -> None:
    """Every enterprise of `data`, `per_delegation` to a POST, at `rate` enterprises
    a second, each POST retried with its key until it is through."""
    base = {k: v for k, v in data.delegation.items() if k != "enterprises"}
    members = data.delegation["enterprises"]
    batches = [members[i : i + per_delegation] for i in range(0, len(members), per_delegation)]
    url = f"{api.urls.registration}/v1/delegations"
    gate = asyncio.Semaphore(concurrency)
    t0 = time.monotonic()

    async def one(i: int, batch: list[dict[str, Any]]) -> None:
        await asyncio.sleep(max(0.0, t0 + i * per_delegation / rate - time.monotonic()))
        async with gate:
            body = {**base, "roadshow_id": show.roadshow_id, "enterprises": batch}
            out = await api.create(url, show.organiser, body)
        for e in out["enterprises"]:
            show.enterprises[e["enterprise_id"]] = e["name"]

    await asyncio.gather(*(one(i, b) for i, b in enumerate(batches)))


async def matches(api: Api, show: Show) -> list[Json]:
    url = f"{api.urls.matching}/v1/roadshows/{show.roadshow_id}/matches"
    return await api.pages(url, show.organiser)


async def match_count(api: Api, show: Show) -> int:
    url = f"{api.urls.matching}/v1/roadshows/{show.roadshow_id}/figures"
    return int((await api.call("GET", url, show.organiser))["matches"])


def pairs(found: list[Json]) -> Counter[Pair]:
    return Counter((m["enterprise_name"], m["participant_name"]) for m in found)


def expected_hooks(show: Show, found: list[Json]) -> set[Key]:
    """One webhook per match event a bank should have had: versions 1..version."""
    return {
        (m["participant_id"], m["match_id"], v)
        for m in found
        if m["participant_id"] in show.banks
        for v in range(1, int(m["version"]) + 1)
    }


def hook_key(r: Received) -> Key | None:
    data = r.body.get("data") or {}
    match = data.get("match")
    if not isinstance(match, dict):
        return None
    return r.subscription, str(match.get("match_id", "")), int(match.get("version", 0))


def shows_hooks(show: Show, receiver: WebhookReceiver) -> list[Received]:
    return [r for r in receiver.received if r.subscription in show.banks]


async def drained(api: Api, show: Show, receiver: WebhookReceiver, want: int) -> bool:
    """Every expected match is there and every bank has had every webhook of them."""
    if await match_count(api, show) < want:
        return False
    expected = expected_hooks(show, await matches(api, show))
    keys = {hook_key(r) for r in shows_hooks(show, receiver) if r.verified}
    return expected <= keys


# --- faults ------------------------------------------------------------------------------


def kill(suite: Suite, service: str) -> int:
    """SIGKILL the service's `serve` process (its API, relay and consumers)."""
    for p in suite.services():
        if p.service == service and p.role == "serve":
            os.kill(p.pid, signal.SIGKILL)
            return p.pid
    raise RuntimeError(f"no running {service} process")


def kill_broker(suite: Suite) -> int:
    pid = suite.broker_pid()
    if pid is None:
        raise RuntimeError("no running broker process")
    os.kill(pid, signal.SIGKILL)
    return pid


async def refuse_connections(server_url: str, database: str, allow: bool) -> int:
    """ALTER DATABASE … ALLOW_CONNECTIONS, and (when refusing) end every session on it:
    an outage of one service's database while the server serves the others."""
    conn = await asyncpg.connect(server_url)
    try:
        flag = "true" if allow else "false"
        await conn.execute(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS {flag}')
        if allow:
            return 0
        ended: int = await conn.fetchval(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
            " WHERE datname = $1 AND pid <> pg_backend_pid()",
            database,
        )
        return ended
    finally:
        await conn.close()


async def restart_receiver(receiver: WebhookReceiver, port: int) -> None:
    await receiver.start(port=port)


async def dead_letters(bootstrap: str) -> int:
    """Records on every dead-letter topic of the suite (read from the beginning)."""
    topics = Topics()
    total = 0
    for t in (topics.registration, topics.matching, topics.notification):
        records = await read_topic(
            bootstrap, Topics.dead_letter(t), at_least=0, within=10, settle_ms=1000
        )
        total += len(records)
    return total


async def dead_notifications(api: Api, show: Show) -> int:
    note = api.urls.notification
    total = 0
    for sub in show.banks.values():
        url = f"{note}/v1/subscriptions/{sub}/notifications"
        total += len(await api.pages(url, show.park, status="dead"))
    return total


def random_moments(rng: random.Random, count: int, start: float, end: float) -> list[float]:
    return sorted(rng.uniform(start, end) for _ in range(count))
