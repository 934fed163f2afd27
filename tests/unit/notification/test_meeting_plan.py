"""How a meeting event changes a stored meeting and what its people are told
(pure, no I/O): only a published meeting is news, a cancel happens once, and
iCalendar's SEQUENCE goes up whenever the people's copy changes."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import get_args

from services.notification.email.model import MeetingPlan, StoredMeeting, plan_meeting
from services.notification.email.rules import Previous
from services.notification.webhooks.routing import WEBHOOK_EVENT_TYPES
from shared.contracts.matching import MatchingEventType, Meeting, MeetingMoved

STARTS = datetime(2027, 5, 15, 1, 30, tzinfo=UTC)


def _event(table: int = 7, starts: datetime = STARTS) -> Meeting:
    return Meeting(
        meeting_id=uuid.uuid4(),
        schedule_id=uuid.uuid4(),
        roadshow_id=uuid.uuid4(),
        match_id=uuid.uuid4(),
        enterprise_id=uuid.uuid4(),
        participant_id=uuid.uuid4(),
        slot=3,
        table=table,
        starts_at=starts,
        ends_at=starts + timedelta(minutes=30),
        timezone="Asia/Shanghai",
        score=0.8,
        status="scheduled",
    )


def _stored(data: Meeting, *, published: bool, sequence: int = 2) -> StoredMeeting:
    return StoredMeeting(
        id=data.meeting_id,
        schedule_id=data.schedule_id,
        roadshow_id=data.roadshow_id,
        enterprise_id=data.enterprise_id,
        participant_id=data.participant_id,
        slot=data.slot,
        table=data.table,
        starts_at=data.starts_at,
        ends_at=data.ends_at,
        status="scheduled",
        sequence=sequence,
        published=published,
    )


def _moved(before: Meeting, table: int) -> MeetingMoved:
    return MeetingMoved(
        **before.model_dump() | {"table": table},
        previous_slot=before.slot,
        previous_table=before.table,
        previous_starts_at=before.starts_at,
        previous_ends_at=before.ends_at,
    )


def test_a_new_meeting_is_stored_without_telling_anyone() -> None:
    data = _event()
    assert plan_meeting(None, "meeting.scheduled", data) == MeetingPlan("scheduled", 0, None)
    assert plan_meeting(None, "meeting.moved", _moved(data, 9)) == MeetingPlan("scheduled", 0, None)
    assert plan_meeting(None, "meeting.cancelled", data) == MeetingPlan("cancelled", 1, None)


def test_a_published_meeting_announced_elsewhere_is_a_move_for_its_people() -> None:
    data = _event()
    before = _stored(data, published=True)
    again = _event(table=9)
    plan = plan_meeting(before, "meeting.scheduled", replace_ids(again, data))
    assert plan == MeetingPlan(
        "scheduled", 3, "moved", Previous(starts_at=STARTS, ends_at=data.ends_at, table=7)
    )
    same = plan_meeting(before, "meeting.scheduled", data)
    assert same == MeetingPlan("scheduled", 2, None)


def test_a_move_tells_the_people_where_it_was_only_once_published() -> None:
    data = _event()
    moved = _moved(data, 9)
    plan = plan_meeting(_stored(data, published=True), "meeting.moved", moved)
    assert plan == MeetingPlan(
        "scheduled", 3, "moved", Previous(starts_at=STARTS, ends_at=data.ends_at, table=7)
    )
    quiet = plan_meeting(_stored(data, published=False), "meeting.moved", moved)
    assert quiet == MeetingPlan("scheduled", 3, None)
    # Already where the event says: nothing changes, not even the sequence.
    here = plan_meeting(_stored(moved, published=True), "meeting.moved", moved)
    assert here == MeetingPlan("scheduled", 2, None)


def test_a_meeting_is_cancelled_once_and_only_news_when_published() -> None:
    data = _event()
    published = _stored(data, published=True)
    assert plan_meeting(published, "meeting.cancelled", data) == MeetingPlan(
        "cancelled", 3, "cancelled"
    )
    unpublished = _stored(data, published=False)
    assert plan_meeting(unpublished, "meeting.cancelled", data) == MeetingPlan("cancelled", 3, None)
    gone = replace(published, status="cancelled")
    assert plan_meeting(gone, "meeting.cancelled", data) is None


def test_subscribable_event_types_are_matching_ones() -> None:
    assert set(WEBHOOK_EVENT_TYPES) < set(get_args(MatchingEventType))
    assert WEBHOOK_EVENT_TYPES == (
        "match.proposed",
        "match.updated",
        "match.withdrawn",
        "meeting.scheduled",
        "meeting.moved",
        "meeting.cancelled",
        "feedback.recorded",
        "follow-up.due",
        "follow-up.recorded",
    )


def replace_ids(data: Meeting, like: Meeting) -> Meeting:
    """`data` as an event about the same meeting as `like`."""
    keep = (
        "meeting_id",
        "schedule_id",
        "roadshow_id",
        "match_id",
        "enterprise_id",
        "participant_id",
    )
    return data.model_copy(update={k: getattr(like, k) for k in keep})
