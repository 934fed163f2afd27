"""Webhook delivery against real receivers on loopback, driven round by round
under a controllable clock: signatures, retries, Retry-After, timeouts, 410,
dead notifications and their redelivery, per-endpoint limits."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import datetime, timedelta

from standardwebhooks.webhooks import Webhook

from shared.db import connect
from shared.testing.waiting import eventually
from tests.integration.notification.conftest import (
    ADMIN,
    Env,
    EnvFactory,
    Receiver,
    Receivers,
    Reply,
)


async def _bank_with_match_subscription(
    env: Env, receiver: Receiver, **fields: object
) -> tuple[dict[str, str], uuid.UUID, uuid.UUID, dict[str, object]]:
    partner = await env.partner()
    bank = await env.participant(partner, kind="bank")
    enterprise = await env.enterprise()
    sub = await env.subscribe(partner, receiver.url, **fields)
    return partner, bank, enterprise, sub


async def test_a_match_reaches_the_bank_signed_and_verifiable(env: Env, receiver: Receiver) -> None:
    partner, bank, enterprise, sub = await _bank_with_match_subscription(env, receiver)
    event = await env.match(bank, enterprise)

    async with env.worker() as worker:
        assert await worker.deliver_due() == 1

    (request,) = receiver.requests
    payload = Webhook(str(sub["secret"])).verify(request.body, request.headers)
    assert payload["type"] == "match.proposed"
    data = payload["data"]
    assert data["event_id"] == str(event.id)
    assert data["match"]["match_id"] == event.data["match_id"]
    assert data["match"]["score"] == 0.82
    assert data["match"]["reasons"][0]["name"] == "partnership_fit"
    assert data["participant"]["id"] == str(bank) and data["participant"]["kind"] == "bank"
    assert data["enterprise"]["id"] == str(enterprise) and data["enterprise"]["name"]
    assert request.headers["Content-Type"] == "application/json"
    # The flow's id reaches the receiver, to meet our logs with theirs.
    assert request.headers["X-Correlation-ID"] == event.correlation_id

    (notification,) = await env.notifications(str(sub["subscription_id"]))
    assert request.headers["webhook-id"] == str(notification["id"])
    resp = await env.client.get(
        f"/v1/subscriptions/{sub['subscription_id']}/notifications/{notification['id']}",
        headers=partner,
    )
    detail = await resp.json()
    assert detail["status"] == "delivered" and detail["attempts"] == 1
    assert detail["payload"] == payload
    (attempt,) = detail["attempt_log"]
    assert attempt["outcome"] == "delivered" and attempt["status_code"] == 200
    assert attempt["latency_ms"] is not None and attempt["finished_at"] is not None
    assert await env.outbox_types() == ["notification.delivered"]


async def test_two_failures_then_success_keep_one_webhook_id_on_schedule(
    env: Env, receiver: Receiver
) -> None:
    receiver.script = [Reply(500), Reply(503)]
    _, bank, enterprise, sub = await _bank_with_match_subscription(env, receiver)
    await env.match(bank, enterprise)

    async with env.worker() as worker:
        assert await worker.deliver_due() == 1
        (n,) = await env.notifications(str(sub["subscription_id"]))
        assert n["status"] == "pending"
        assert n["next_attempt_at"] == env.clock() + timedelta(seconds=5)  # schedule[0]

        env.clock.advance(4.9)
        assert await worker.deliver_due() == 0  # not due yet
        env.clock.advance(0.1)
        assert await worker.deliver_due() == 1
        (n,) = await env.notifications(str(sub["subscription_id"]))
        assert n["next_attempt_at"] == env.clock() + timedelta(seconds=300)  # schedule[1]

        env.clock.advance(299)
        assert await worker.deliver_due() == 0
        env.clock.advance(1)
        assert await worker.deliver_due() == 1

    (n,) = await env.notifications(str(sub["subscription_id"]))
    assert n["status"] == "delivered" and n["attempts"] == 3
    assert receiver.ids() == [str(n["id"])] * 3
    attempts = await env.attempts(n["id"])
    assert [(a["outcome"], a["status_code"]) for a in attempts] == [
        ("failed", 500),
        ("failed", 503),
        ("delivered", 200),
    ]
    # Every try signs afresh (new timestamp) over the very same body.
    assert len({r.body for r in receiver.requests}) == 1
    assert await env.outbox_types() == [
        "notification.failed",
        "notification.failed",
        "notification.delivered",
    ]


async def test_retry_after_is_honoured(env: Env, receiver: Receiver) -> None:
    receiver.script = [Reply(429, headers={"Retry-After": "120"})]
    _, bank, enterprise, sub = await _bank_with_match_subscription(env, receiver)
    await env.match(bank, enterprise)

    async with env.worker() as worker:
        await worker.deliver_due()
        (n,) = await env.notifications(str(sub["subscription_id"]))
        # The schedule says 5 s; the receiver asked for 120 s and gets them.
        assert n["next_attempt_at"] == env.clock() + timedelta(seconds=120)
        env.clock.advance(60)
        assert await worker.deliver_due() == 0
        env.clock.advance(60)
        assert await worker.deliver_due() == 1

    (n,) = await env.notifications(str(sub["subscription_id"]))
    assert n["status"] == "delivered"
    assert [a["status_code"] for a in await env.attempts(n["id"])] == [429, 200]


async def test_a_receiver_that_hangs_is_timed_out_and_retried(
    make_env: EnvFactory, receiver: Receiver
) -> None:
    env = await make_env(request_timeout_seconds=0.5)
    receiver.script = [Reply(hang=True)]
    _, bank, enterprise, sub = await _bank_with_match_subscription(env, receiver)
    await env.match(bank, enterprise)

    async with env.worker() as worker:
        await worker.deliver_due()
        (n,) = await env.notifications(str(sub["subscription_id"]))
        (attempt,) = await env.attempts(n["id"])
        assert attempt["outcome"] == "timeout" and attempt["status_code"] is None
        assert 400 <= attempt["latency_ms"] < 2000
        assert n["status"] == "pending" and "no answer within 0.5s" in n["last_error"]
        env.clock.advance(5)
        await worker.deliver_due()

    (n,) = await env.notifications(str(sub["subscription_id"]))
    assert n["status"] == "delivered"
    assert receiver.ids() == [str(n["id"])] * 2


async def test_410_disables_the_subscription(make_env: EnvFactory, receiver: Receiver) -> None:
    env = await make_env(endpoint_concurrency=1)
    receiver.script = [Reply(410)]
    partner, bank, enterprise, sub = await _bank_with_match_subscription(env, receiver)
    sub_id = sub["subscription_id"]
    other = await env.enterprise()
    await env.match(bank, enterprise)
    await env.match(bank, other)

    async with env.worker() as worker:
        assert await worker.deliver_due() == 1  # one at a time for this endpoint
        assert await worker.deliver_due() == 0  # the other died with the subscription
    assert len(receiver.requests) == 1

    resp = await env.client.get(f"/v1/subscriptions/{sub_id}", headers=partner)
    body = await resp.json()
    assert body["status"] == "disabled" and "410" in body["disabled_reason"]
    first, second = await env.notifications(str(sub_id))
    assert (first["status"], first["last_status_code"]) == ("dead", 410)
    assert second["status"] == "dead" and second["attempts"] == 0
    assert await env.outbox_types() == ["notification.dead", "notification.dead"]

    # Nothing new is routed to a disabled subscription...
    await env.match(bank, await env.enterprise())
    assert len(await env.notifications(str(sub_id))) == 2
    # ...until the partner enables it again and asks for the dead ones.
    resp = await env.client.patch(
        f"/v1/subscriptions/{sub_id}", json={"status": "active"}, headers=partner
    )
    assert (await resp.json())["disabled_reason"] is None
    resp = await env.client.post(
        f"/v1/subscriptions/{sub_id}/redeliver",
        json={
            "since": (env.clock() - timedelta(hours=1)).isoformat(),
            "until": (env.clock() + timedelta(seconds=1)).isoformat(),
        },
        headers=partner,
    )
    assert resp.status == 202 and (await resp.json())["redelivered"] == 2
    async with env.worker() as worker:
        await worker.deliver_due()
        await worker.deliver_due()
    assert [n["status"] for n in await env.notifications(str(sub_id))] == ["delivered"] * 2


async def test_after_the_last_try_it_is_dead_and_redelivery_succeeds(
    make_env: EnvFactory, receiver: Receiver
) -> None:
    env = await make_env(retry_schedule=(5, 60))
    receiver.default = Reply(503)
    partner, bank, enterprise, sub = await _bank_with_match_subscription(env, receiver)
    sub_id = sub["subscription_id"]
    await env.match(bank, enterprise)

    async with env.worker() as worker:
        for wait in (0, 5, 60):
            env.clock.advance(wait)
            assert await worker.deliver_due() == 1
        env.clock.advance(10 * 3600)
        assert await worker.deliver_due() == 0  # three tries, no fourth

    resp = await env.client.get(
        f"/v1/subscriptions/{sub_id}/notifications", params={"status": "dead"}, headers=partner
    )
    (dead,) = (await resp.json())["items"]
    assert dead["attempts"] == 3 and dead["last_status_code"] == 503 and dead["dead_at"]
    assert (await env.outbox_types())[-1] == "notification.dead"

    receiver.default = Reply(200)  # the receiver is back
    resp = await env.client.post(
        f"/v1/subscriptions/{sub_id}/notifications/{dead['notification_id']}/redeliver",
        headers=partner,
    )
    assert resp.status == 202 and (await resp.json())["status"] == "pending"
    async with env.worker() as worker:
        assert await worker.deliver_due() == 1
    (n,) = await env.notifications(str(sub_id))
    assert n["status"] == "delivered" and n["attempts"] == 4
    assert receiver.ids() == [dead["notification_id"]] * 4  # the same webhook-id throughout

    # A pending notification cannot be redelivered (it is on its way).
    await env.match(bank, await env.enterprise())
    pending = (await env.notifications(str(sub_id)))[-1]
    resp = await env.client.post(
        f"/v1/subscriptions/{sub_id}/notifications/{pending['id']}/redeliver", headers=partner
    )
    assert resp.status == 409


async def test_bulk_redelivery_takes_only_the_time_range(
    make_env: EnvFactory, receiver: Receiver
) -> None:
    env = await make_env(retry_schedule=(1,))
    receiver.default = Reply(500)
    partner, bank, enterprise, sub = await _bank_with_match_subscription(env, receiver)
    sub_id = sub["subscription_id"]
    await env.match(bank, enterprise)
    early = env.clock()
    env.clock.advance(3600)
    await env.match(bank, await env.enterprise())
    async with env.worker() as worker:
        for _ in range(2):
            await worker.deliver_due()
            env.clock.advance(1)
    first, second = await env.notifications(str(sub_id))
    assert first["status"] == second["status"] == "dead"

    receiver.default = Reply(200)
    resp = await env.client.post(
        f"/v1/subscriptions/{sub_id}/redeliver",
        json={
            "since": (early - timedelta(minutes=1)).isoformat(),
            "until": (early + timedelta(minutes=1)).isoformat(),
        },
        headers=partner,
    )
    assert (await resp.json())["redelivered"] == 1
    async with env.worker() as worker:
        assert await worker.deliver_due() == 1
    first, second = await env.notifications(str(sub_id))
    assert (first["status"], second["status"]) == ("delivered", "dead")


async def test_rotation_signs_with_both_secrets_during_the_overlap(
    env: Env, receiver: Receiver
) -> None:
    partner, bank, enterprise, sub = await _bank_with_match_subscription(
        env, receiver, event_types=["match.proposed", "match.updated"]
    )
    resp = await env.client.post(
        f"/v1/subscriptions/{sub['subscription_id']}/rotate-secret",
        json={"overlap_seconds": 3600},
        headers=partner,
    )
    rotated = await resp.json()
    assert resp.status == 200 and rotated["secret"] != sub["secret"]
    old, new = Webhook(str(sub["secret"])), Webhook(rotated["secret"])

    await env.match(bank, enterprise)
    async with env.worker() as worker:
        await worker.deliver_due()
    request = receiver.requests[-1]
    assert len(request.headers["webhook-signature"].split(" ")) == 2
    old.verify(request.body, request.headers)  # a receiver not yet switched
    new.verify(request.body, request.headers)  # a receiver already switched

    env.clock.advance(3601)
    await env.match(bank, enterprise, "match.updated")
    async with env.worker() as worker:
        await worker.deliver_due()
    request = receiver.requests[-1]
    msg_id, ts = request.headers["webhook-id"], request.headers["webhook-timestamp"]
    sent_at = datetime.fromtimestamp(int(ts))
    body = request.body.decode()
    assert request.headers["webhook-signature"] == new.sign(msg_id, sent_at, body)
    assert old.sign(msg_id, sent_at, body) not in request.headers["webhook-signature"]


async def test_endpoint_concurrency_holds_across_workers_and_each_goes_once(
    make_env: EnvFactory, receiver: Receiver
) -> None:
    env = await make_env(endpoint_concurrency=2, worker_concurrency=8)
    receiver.default = Reply(delay=0.2)
    _, bank, _, sub = await _bank_with_match_subscription(env, receiver)
    for _ in range(8):
        await env.match(bank, await env.enterprise())

    async def work() -> None:
        async with env.worker() as worker:
            while any(n["status"] == "pending" for n in await env.notifications(sub_id)):
                await worker.run_once()
                await asyncio.sleep(0.02)
            await worker.drain()

    sub_id = str(sub["subscription_id"])
    await asyncio.wait_for(asyncio.gather(work(), work()), 30)
    assert receiver.max_in_flight == 2
    assert sorted(receiver.ids()) == sorted(str(n["id"]) for n in await env.notifications(sub_id))
    assert len(receiver.requests) == 8


async def test_filters_and_partner_scoping_choose_who_hears_what(
    env: Env, receivers: Receivers
) -> None:
    hooks = [await receivers() for _ in range(4)]
    a, b = await env.partner(), await env.partner()
    a_bank = await env.participant(a, kind="bank")
    a_fund = await env.participant(a, kind="fund")
    b_bank = await env.participant(b, kind="bank")
    cars = await env.enterprise(sectors=["autonomous-driving"])
    bio = await env.enterprise(sectors=["biotech"])
    everything = ["match.proposed", "meeting.scheduled"]
    a_all = await env.subscribe(a, hooks[0].url, event_types=everything)
    a_narrow = await env.subscribe(
        a,
        hooks[1].url,
        event_types=["meeting.scheduled"],
        sectors=["autonomous-driving", "robotics"],
        participant_kinds=["bank"],
    )
    a_fund_only = await env.subscribe(
        a, hooks[2].url, event_types=everything, participant_ids=[str(a_fund)]
    )
    b_all = await env.subscribe(b, hooks[3].url, event_types=everything)

    m1 = await env.match(a_bank, cars)
    m2 = await env.match(a_fund, bio)
    s1 = await env.meeting(a_bank, cars)
    s2 = await env.meeting(a_bank, bio)
    m3 = await env.match(b_bank, cars)
    await env.match(a_bank, cars, "match.withdrawn")  # nobody asked for withdrawals

    async def heard(sub: dict[str, object]) -> set[uuid.UUID]:
        return {n["event_id"] for n in await env.notifications(str(sub["subscription_id"]))}

    assert await heard(a_all) == {m1.id, m2.id, s1.id, s2.id}
    assert await heard(a_narrow) == {s1.id}
    assert await heard(a_fund_only) == {m2.id}
    assert await heard(b_all) == {m3.id}

    async with env.worker() as worker:
        await worker.deliver_due()
    bodies = [json.loads(r.body) for r in hooks[3].requests]
    assert [b["data"]["participant"]["id"] for b in bodies] == [str(b_bank)]


async def test_an_event_before_its_parties_is_held_then_delivered_once(
    env: Env, receiver: Receiver
) -> None:
    partner = await env.partner()
    sub = await env.subscribe(partner, receiver.url)
    bank, enterprise = uuid.uuid4(), uuid.uuid4()
    early = await env.match(bank, enterprise)  # matching was faster than registration
    await env.consume(early)  # and the same event came twice
    assert await env.pool.fetchval("SELECT count(*) FROM held_events") == 1
    assert await env.notifications(str(sub["subscription_id"])) == []

    await env.enterprise(enterprise_id=enterprise)
    assert await env.pool.fetchval("SELECT count(*) FROM held_events") == 1  # needs both
    await env.participant(partner, participant_id=bank)
    assert await env.pool.fetchval("SELECT count(*) FROM held_events") == 0
    (n,) = await env.notifications(str(sub["subscription_id"]))
    assert n["event_id"] == early.id

    async with env.worker() as worker:
        await worker.deliver_due()
    assert receiver.ids() == [str(n["id"])]


async def test_operator_redelivers_dead_notifications_of_every_active_subscription(
    make_env: EnvFactory, receivers: Receivers
) -> None:
    env = await make_env(retry_schedule=(1,))
    hooks = [await receivers() for _ in range(3)]
    subs = []
    for hook in hooks:
        hook.default = Reply(502)
        partner = await env.partner()
        sub = await env.subscribe(partner, hook.url)
        await env.match(await env.participant(partner), await env.enterprise())
        subs.append((partner, sub))
    async with env.worker() as worker:
        await worker.deliver_due()
        env.clock.advance(1)
        await worker.deliver_due()
    partner, sub = subs[2]
    await env.client.patch(
        f"/v1/subscriptions/{sub['subscription_id']}", json={"status": "disabled"}, headers=partner
    )
    for hook in hooks:
        hook.default = Reply(200)

    window = {
        "since": (env.clock() - timedelta(hours=1)).isoformat(),
        "until": (env.clock() + timedelta(hours=1)).isoformat(),
    }
    resp = await env.client.post("/admin/redeliver", json=window, headers=partner)
    assert resp.status == 403
    resp = await env.client.post(
        "/admin/redeliver", json=window, headers={"Authorization": f"Bearer {ADMIN}"}
    )
    assert resp.status == 202 and (await resp.json())["redelivered"] == 2
    async with env.worker() as worker:
        assert await worker.deliver_due() == 2
    assert [len(h.requests) for h in hooks] == [3, 3, 2]


async def test_a_match_racing_its_participant_on_another_instance_is_not_stranded(
    env: Env, receiver: Receiver
) -> None:
    """Instance B registers the participant (not committed yet) while instance A
    routes a match about it: A must not hold the event where B cannot see it."""
    partner = await env.partner()
    sub = await env.subscribe(partner, receiver.url)
    registered = env.participant_event(partner)
    bank = uuid.UUID(registered.key)
    match = await env.match(bank, await env.enterprise(), consume=False)

    b, a = await connect(env.dsn), await connect(env.dsn)
    try:
        tx_b = b.transaction()
        await tx_b.start()
        await env.handle(b, registered)

        async def route_on_a() -> None:
            async with a.transaction():
                await env.handle(a, match)

        racing = asyncio.create_task(route_on_a())

        async def a_waits_for_b() -> bool:
            waiting: int = await env.pool.fetchval(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
            )
            return waiting > 0

        await eventually(a_waits_for_b, within=5, what="A to wait for B")
        await tx_b.commit()
        await asyncio.wait_for(racing, 5)
    finally:
        await a.close()
        await b.close()
    assert await env.pool.fetchval("SELECT count(*) FROM held_events") == 0
    (n,) = await env.notifications(str(sub["subscription_id"]))
    assert n["event_id"] == match.id


async def test_redelivery_range_at_the_edges_of_time_is_a_422(
    make_env: EnvFactory, receiver: Receiver
) -> None:
    env = await make_env()
    partner, _bank, _enterprise, sub = await _bank_with_match_subscription(env, receiver)
    url = f"/v1/subscriptions/{sub['subscription_id']}/redeliver"
    for since, field in (
        ("0001-01-01T00:00:00+01:00", "since"),  # its UTC instant is before year 1
        ("2027-01-01T00:00:00", "since"),  # no offset
        ("9999-12-31T23:59:59-01:00", "since"),
    ):
        body = {"since": since, "until": "2027-06-01T00:00:00+00:00"}
        resp = await env.client.post(url, json=body, headers=partner)
        assert resp.status == 422, await resp.text()
        assert (await resp.json())["field"] == field


async def test_a_request_frees_its_capacity_before_its_attempt_is_recorded(
    make_env: EnvFactory, receiver: Receiver
) -> None:
    # One request at a time, and recording held up: outcomes go to the outbox,
    # which another transaction keeps locked. The next webhook still goes out.
    env = await make_env(worker_concurrency=1)
    _, bank, _, sub = await _bank_with_match_subscription(env, receiver)
    for _ in range(2):
        await env.match(bank, await env.enterprise())
    sub_id = str(sub["subscription_id"])
    blocker = await connect(env.dsn)
    try:
        tx = blocker.transaction()
        await tx.start()
        await blocker.execute("LOCK TABLE outbox IN SHARE ROW EXCLUSIVE MODE")
        async with env.worker() as worker:

            async def both_sent() -> bool:
                await worker.run_once()
                return len(receiver.requests) == 2

            try:
                await eventually(both_sent, within=10, what="the second webhook sent")
                assert all(n["status"] == "pending" for n in await env.notifications(sub_id))
            finally:
                await tx.rollback()
            await worker.drain()
    finally:
        await blocker.close()
    assert [n["status"] for n in await env.notifications(sub_id)] == ["delivered"] * 2
    assert len(set(receiver.ids())) == 2
