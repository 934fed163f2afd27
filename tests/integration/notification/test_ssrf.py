"""Endpoints that reach inside the network are refused when subscribing and
again when delivering (the address checked is the address connected to), and
redirects are never followed."""

from __future__ import annotations

import pytest

from tests.integration.notification.conftest import Env, EnvFactory, Receiver, Receivers, Reply

REFUSED = [
    ("https://127.0.0.1/hook", "loopback"),
    ("https://[::1]:8443/hook", "loopback"),
    ("https://10.12.0.5/hook", "private"),
    ("https://192.168.1.20/hook", "private"),
    ("https://169.254.169.254/latest/meta-data", "metadata"),
    ("https://[fd00:ec2::254]/", "metadata"),
    ("https://[::ffff:127.0.0.1]/hook", "loopback"),
    ("https://0.0.0.0/hook", "unspecified"),
    ("https://224.0.0.1/hook", "multicast"),
    ("https://[fc00::1]/hook", "unique-local"),
    ("https://[fe80::1]/hook", "link-local"),
    ("https://localhost/hook", "resolves to a loopback"),  # the real resolver
    ("https://intranet.bank.example/hook", "resolves to a private"),
    ("https://mixed.bank.example/hook", "resolves to a private"),  # one bad record is enough
    ("https://nowhere.invalid/hook", "does not resolve"),
    ("http://hooks.bank.example/hook", "https"),
]


@pytest.mark.parametrize(("url", "reason"), REFUSED)
async def test_subscribing_an_inside_endpoint_is_refused(
    make_env: EnvFactory, url: str, reason: str
) -> None:
    env = await make_env(allow_private_endpoints=False)
    env.resolver.table.update(
        {
            "hooks.bank.example": ["93.184.216.34"],
            "intranet.bank.example": ["10.0.0.7"],
            "mixed.bank.example": ["93.184.216.34", "172.16.3.4"],
        }
    )
    if "localhost" in url:
        env.use_cases.subscriptions.resolver = None  # the system resolver, /etc/hosts and all
    partner = await env.partner()
    resp = await env.client.post(
        "/v1/subscriptions", json={"url": url, "event_types": ["match.proposed"]}, headers=partner
    )
    problem = await resp.json()
    assert resp.status == 422, problem
    assert problem["field"] == "url" and reason in problem["detail"]


async def test_a_public_https_endpoint_is_accepted(make_env: EnvFactory) -> None:
    env = await make_env(allow_private_endpoints=False)
    env.resolver.table["hooks.bank.example"] = ["93.184.216.34", "2606:2800:220:1::1"]
    partner = await env.partner()
    sub = await env.subscribe(partner, "https://hooks.bank.example/roadshow")
    # A change of URL is checked like a new one.
    resp = await env.client.patch(
        f"/v1/subscriptions/{sub['subscription_id']}",
        json={"url": "https://127.0.0.1/x"},
        headers=partner,
    )
    assert resp.status == 422 and (await resp.json())["field"] == "url"


async def test_delivery_checks_again_when_dns_changed(
    make_env: EnvFactory, receiver: Receiver
) -> None:
    """DNS rebinding: public at subscription time, loopback at delivery time."""
    env = await make_env(allow_private_endpoints=False)
    port = receiver.server.port
    env.resolver.table["hooks.bank.example"] = ["93.184.216.34"]
    partner = await env.partner()
    sub = await env.subscribe(partner, f"https://hooks.bank.example:{port}/hook")
    bank = await env.participant(partner)
    await env.match(bank, await env.enterprise())

    env.resolver.table["hooks.bank.example"] = ["127.0.0.1"]
    async with env.worker() as worker:
        assert await worker.deliver_due() == 1
    (n,) = await env.notifications(sub["subscription_id"])
    (attempt,) = await env.attempts(n["id"])
    assert attempt["outcome"] == "refused"
    assert "resolves to a loopback address" in attempt["error"]
    assert n["status"] == "pending"  # DNS may be fixed; the schedule goes on
    assert receiver.requests == []


async def test_delivery_refuses_a_literal_inside_address(
    make_env: EnvFactory, receiver: Receiver
) -> None:
    env = await make_env(allow_private_endpoints=False)
    env.resolver.table["hooks.bank.example"] = ["93.184.216.34"]
    partner = await env.partner()
    sub = await env.subscribe(partner, "https://hooks.bank.example/hook")
    # As if the row had been written before the rules, or by hand.
    await env.pool.execute(
        "UPDATE subscriptions SET url = $1", f"https://127.0.0.1:{receiver.server.port}/hook"
    )
    await env.match(await env.participant(partner), await env.enterprise())
    async with env.worker() as worker:
        await worker.deliver_due()
    (n,) = await env.notifications(sub["subscription_id"])
    (attempt,) = await env.attempts(n["id"])
    assert attempt["outcome"] == "refused" and "127.0.0.1 is a loopback" in attempt["error"]
    assert receiver.requests == []


@pytest.mark.parametrize("target", ["other-receiver", "http://169.254.169.254/latest/meta-data"])
async def test_redirects_are_not_followed(env: Env, receivers: Receivers, target: str) -> None:
    hook, elsewhere = await receivers(), await receivers()
    location = elsewhere.url if target == "other-receiver" else target
    hook.script = [Reply(307, headers={"Location": location})]
    partner = await env.partner()
    sub = await env.subscribe(partner, hook.url)
    await env.match(await env.participant(partner), await env.enterprise())
    async with env.worker() as worker:
        await worker.deliver_due()
    (n,) = await env.notifications(sub["subscription_id"])
    (attempt,) = await env.attempts(n["id"])
    assert (attempt["outcome"], attempt["status_code"]) == ("failed", 307)
    assert "redirects are not followed" in attempt["error"]
    assert len(hook.requests) == 1 and elsewhere.requests == []
    assert n["status"] == "pending"
