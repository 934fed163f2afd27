"""Feedback by e-mail from one service to the other, on real databases and a
real SMTP server: matching's own schedule (its outbox's meeting events, handed
to notification as its consumer would) ends; notification e-mails each side's
person a feedback link; the person's POST stages feedback.given in
notification's outbox; matching's answers consumer (its inbox transaction)
records it as the side's feedback and emits feedback.recorded; a replay of
either hop doubles nothing."""

from __future__ import annotations

import uuid
from typing import Any

from services.notification.email.rules import FEEDBACK, FeedbackLink
from shared.consumer import IdempotentConsumer
from shared.contracts.matching import FeedbackRecorded
from shared.envelope import Envelope
from tests.integration.matching import conftest as matching
from tests.integration.matching.test_email_answers import _consume, answers
from tests.integration.matching.test_feedback import _scheduled
from tests.integration.notification.conftest import Env, SmtpServer
from tests.integration.notification.mailworld import deliver, emails
from tests.integration.notification.test_feedback_mail import _feedback_mails, _link

# Matching's own fixtures (its database, API, use cases, answers consumer),
# beside notification's `email_env`.
store = matching.store
__all__ = ["answers", "store"]


async def _notification_knows(env: Env, store: matching.Store, meetings: list[Any]) -> None:
    """Notification hears registration's and matching's events of the road show."""
    rid = meetings[0]["roadshow_id"]
    await env.roadshow(roadshow_id=rid)
    for side in ("enterprise", "participant"):
        for party_id in {m[f"{side}_id"] for m in meetings}:
            partner_id = await store.conn.fetchval(
                f"SELECT partner_id FROM {side}s WHERE id = $1", party_id
            )
            partner = await env.partner(partner_id)
            if side == "enterprise":
                await env.enterprise(enterprise_id=party_id, partner=partner)
            else:
                await env.participant(partner, kind="fund", participant_id=party_id)
    for event in await store.outbox():
        if event["type"].startswith(("meeting.", "schedule.")):
            await env.consume(Envelope.model_validate(event))


async def test_a_persons_feedback_by_email_becomes_the_sides_feedback_in_matching(
    store: matching.Store, answers: IdempotentConsumer, email_env: Env, smtp: SmtpServer
) -> None:
    env = email_env
    _clock, _ev, meetings = await _scheduled(store)
    await _notification_knows(env, store, meetings)
    await deliver(env)
    assert len(await emails(env, kind="schedule")) == 4  # two presidents, two contacts

    env.clock.now = max(m["ends_at"] for m in meetings)
    async with env.pool.acquire() as conn, conn.transaction():
        assert await env.use_cases.feedback_mail.make_due(conn) == 4
    await deliver(env)
    assert len(await emails(env, kind="feedback")) == 8  # each meeting, each side
    meeting = meetings[0]
    address = env.people[meeting["participant_id"]]["email"]
    signer = env.use_cases.feedbacks.signer

    def about(path: str) -> uuid.UUID:
        token = path.split("token=")[1]
        return signer.open(FEEDBACK, token, FeedbackLink, now=env.clock.now).meeting_id

    (link,) = [p for p in map(_link, _feedback_mails(smtp, address)) if about(p) == meeting["id"]]
    resp = await env.client.post(link, data={"took_place": "held", "interest": "medium"})
    assert resp.status == 200, await resp.text()
    (row,) = await env.pool.fetch(
        "SELECT payload FROM outbox WHERE event_type = 'feedback.given' ORDER BY id"
    )
    given = Envelope.model_validate(row["payload"])
    assert given.key == str(meeting["id"])

    # Matching's answers consumer takes it, in its own inbox transaction.
    store.uses.after.clock = lambda: env.clock.now
    assert await _consume(answers, given)
    (event,) = await store.outbox("feedback.recorded")
    recorded = FeedbackRecorded.model_validate(event["data"])
    assert (recorded.meeting_id, recorded.side, recorded.interest, recorded.next_step) == (
        meeting["id"],
        "participant",
        "medium",
        "none",
    )
    assert event["key"] == str(meeting["match_id"])
    assert event["causation_id"] == str(given.id)
    # A replay of notification's outbox past the inbox, a second POST: nothing new.
    assert not await _consume(answers, given)
    again = await env.client.post(link, data={"took_place": "held", "interest": "medium"})
    assert again.status == 200
    assert (
        len(await env.pool.fetch("SELECT 1 FROM outbox WHERE event_type = 'feedback.given'")) == 1
    )
    assert len(await store.outbox("feedback.recorded")) == 1
