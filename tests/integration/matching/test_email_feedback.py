"""A person's feedback from their e-mail (notification's `feedback.given`) on a
real database, through the answers consumer's own inbox transaction: recorded
as the side's feedback through the same core as the API, with the same
feedback.recorded; the partner's note stays; a replay doubles nothing; the
later word wins, partner or person; an unknown or not yet started meeting
takes none."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from shared.consumer import IdempotentConsumer
from shared.contracts.matching import FeedbackRecorded
from shared.contracts.notification import FeedbackGiven
from shared.envelope import Context, Envelope, new_event
from tests.integration.matching.conftest import Store
from tests.integration.matching.test_email_answers import _consume, answers
from tests.integration.matching.test_feedback import _put, _scheduled

__all__ = ["answers"]  # the fixture, used by name


def _given(meeting: Any, side: str, given_at: datetime, **choice: Any) -> Envelope:
    data = FeedbackGiven(
        feedback_id=uuid.uuid4(),
        meeting_id=meeting["id"],
        roadshow_id=meeting["roadshow_id"],
        side=side,
        took_place=choice.get("took_place", "held"),
        interest=choice.get("interest"),
        next_step=choice.get("next_step"),
        given_at=given_at,
        recipient_id=uuid.uuid4(),
    )
    return new_event(
        "notification",
        Context(correlation_id="email-feedback"),
        "feedback.given",
        data.meeting_id,
        data,
    )


async def _recorded(store: Store) -> list[dict[str, Any]]:
    return await store.outbox("feedback.recorded")


async def test_feedback_by_email_is_recorded_like_the_partners_and_a_replay_doubles_nothing(
    store: Store, answers: IdempotentConsumer
) -> None:
    clock, ev, meetings = await _scheduled(store)
    meeting = meetings[0]
    clock.now = meeting["ends_at"]
    by_email = _given(meeting, "participant", clock.now, interest="high", next_step="none")
    assert await _consume(answers, by_email)
    # The enterprise's partner says the same over the API: the two events alike.
    status, got = await _put(
        store,
        f"/v1/meetings/{meeting['id']}/feedback/enterprise",
        {"took_place": "held", "interest": "high"},
        ev["delegate_headers"],
    )
    assert status == 200, got
    email_event, api_event = await _recorded(store)
    assert email_event["key"] == api_event["key"] == str(meeting["match_id"])
    assert {k: v for k, v in email_event["data"].items() if k != "side"} == {
        k: v for k, v in api_event["data"].items() if k != "side"
    }
    recorded = FeedbackRecorded.model_validate(email_event["data"])
    assert (recorded.side, recorded.took_place, recorded.interest, recorded.next_step) == (
        "participant",
        "held",
        "high",
        "none",
    )
    assert recorded.version == 1
    resp = await store.client.get(
        f"/v1/meetings/{meeting['id']}/feedback/participant", headers=ev["headers"]
    )
    assert resp.status == 200 and (await resp.json())["interest"] == "high"

    # Redelivered (a crash before the offset commit, a replay of notification's
    # outbox): the inbox absorbs it.
    assert not await _consume(answers, by_email)
    # The same feedback given again (a new id): handled, nothing new recorded.
    assert await _consume(
        answers, _given(meeting, "participant", clock.now, interest="high", next_step="none")
    )
    assert len(await _recorded(store)) == 2


async def test_the_partners_note_stays_and_the_later_word_wins(
    store: Store, answers: IdempotentConsumer
) -> None:
    clock, ev, meetings = await _scheduled(store)
    meeting = meetings[0]
    path = f"/v1/meetings/{meeting['id']}/feedback/participant"
    note = "Board meets in June; call after."
    clock.now = meeting["ends_at"] + timedelta(hours=1)
    status, got = await _put(
        store, path, {"took_place": "held", "interest": "low", "note": note}, ev["headers"]
    )
    assert status == 200, got
    # Sent from the e-mail before the partner's PUT, arriving after it: older news.
    assert await _consume(
        answers, _given(meeting, "participant", meeting["ends_at"], took_place="no-show")
    )
    assert len(await _recorded(store)) == 1
    # Sent after it: the person's word now, the partner's note kept.
    clock.now += timedelta(hours=1)
    assert await _consume(
        answers,
        _given(meeting, "participant", clock.now, interest="medium", next_step="site-visit"),
    )
    resp = await store.client.get(path, headers=ev["headers"])
    got = await resp.json()
    assert (got["interest"], got["next_step"], got["note"], got["version"]) == (
        "medium",
        "site-visit",
        note,
        2,
    )
    events = await _recorded(store)
    assert len(events) == 2 and all(note not in str(e) for e in events)


async def test_no_feedback_on_an_unknown_meeting_or_before_it_started(
    store: Store, answers: IdempotentConsumer
) -> None:
    clock, _ev, meetings = await _scheduled(store)
    last = meetings[-1]
    clock.now = last["starts_at"]
    # Given before the meeting started (a clock gone wrong): dropped, not dead-lettered.
    early = last["starts_at"] - timedelta(minutes=1)
    assert await _consume(answers, _given(last, "enterprise", early, took_place="cancelled"))
    ghost = {**dict(last), "id": uuid.uuid4()}
    assert await _consume(answers, _given(ghost, "enterprise", clock.now, took_place="cancelled"))
    assert await _recorded(store) == []
    assert await store.conn.fetchval("SELECT count(*) FROM meeting_feedback") == 0
