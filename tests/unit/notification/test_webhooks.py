"""Pure webhook rules, no I/O: which subscriptions want an event, signing."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from standardwebhooks.webhooks import Webhook

from services.notification.parties.model import Party
from services.notification.webhooks import routing as domain
from services.notification.webhooks.signing import new_secret, webhook_headers


def test_filters() -> None:
    bank = Party(uuid.uuid4(), "Bank", "bank", None, ("fintech",))
    cars = Party(uuid.uuid4(), "Cars", None, "US", ("autonomous-driving", "robotics"))
    every = domain.Filters(event_types=frozenset({"match.proposed"}))
    assert domain.wants(every, "match.proposed", bank, cars)
    assert not domain.wants(every, "match.updated", bank, cars)
    by_sector = domain.Filters(frozenset({"match.proposed"}), sectors=frozenset({"robotics"}))
    assert domain.wants(by_sector, "match.proposed", bank, cars)
    assert not domain.wants(
        domain.Filters(frozenset({"match.proposed"}), sectors=frozenset({"fintech"})),
        "match.proposed",
        bank,
        cars,
    )  # the enterprise's sectors, not the bank's
    assert not domain.wants(
        domain.Filters(frozenset({"match.proposed"}), participant_kinds=frozenset({"fund"})),
        "match.proposed",
        bank,
        cars,
    )
    assert not domain.wants(
        domain.Filters(frozenset({"match.proposed"}), participant_ids=frozenset({uuid.uuid4()})),
        "match.proposed",
        bank,
        cars,
    )


def test_signatures_verify_with_the_standard_library() -> None:
    secret, previous = new_secret(), new_secret()
    body = '{"type":"match.proposed","data":{}}'
    now = int(datetime.now(UTC).timestamp())
    headers = webhook_headers([secret, previous], "msg-1", now, body)
    assert headers["webhook-id"] == "msg-1" and headers["webhook-timestamp"] == str(now)
    assert Webhook(secret).verify(body, headers) == {"type": "match.proposed", "data": {}}
    Webhook(previous).verify(body, headers)
    with pytest.raises(Exception, match="No matching signature"):
        Webhook(new_secret()).verify(body, headers)
    with pytest.raises(Exception, match="No matching signature"):
        Webhook(secret).verify(body.replace("proposed", "updated"), headers)
