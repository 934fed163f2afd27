"""Contracts of the events the matching service publishes.

A match is one enterprise-participant pair of a road show; its id is derived from
the pair (`match_id_for`), so every service names it alike and it keys the pair's
events. Meetings are keyed by their own id.

A rescoring publishes its changed matches together: one `matches.changed` per
event that caused them and per shard of match ids (`match_shard_key`), instead of
one `match.*` event per pair. Each change keeps the identity a single event had
(`match_change_id`, derived from the match and its version), so a consumer can
treat it as that event (`single_match_events`); a pair always lands in the same
shard, so its changes keep their order. `match.*` v1 stay readable.

Interest: either side of a match says accept, decline or must-meet (posted by the
partner that registered that side). Rescheduling keeps the meetings it can and
reports the ones that moved as `meeting.moved` (the new slot, and where it was).

After a meeting: each side's feedback (`feedback.recorded`: did it take place,
interest, next step; never the side's free-text note), the follow-up opened a
configurable delay later (`follow-up.due`, once per meeting) and the deal
progress recorded on it (`follow-up.recorded`: stage, amount and currency).
Keyed by the match id, like the meeting's other events.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, Field

from shared.contracts.base import Contract
from shared.envelope import Envelope
from shared.taxonomy import ParticipantKind
from shared.topics import PARTITIONS

# The events about one match or one meeting (what notification's subscribers can ask for).
MatchEventType = Literal["match.proposed", "match.updated", "match.withdrawn"]
MeetingEventType = Literal["meeting.scheduled", "meeting.moved", "meeting.cancelled"]
# After a meeting: each side's feedback, and the follow-up on the deal months later.
FeedbackEventType = Literal["feedback.recorded", "follow-up.due", "follow-up.recorded"]
MatchingEventType = Literal[
    MatchEventType,
    "matches.changed",
    MeetingEventType,
    "schedule.completed",
    "interest.recorded",
    "attendance.recorded",
    FeedbackEventType,
]
MatchStatus = Literal["proposed", "withdrawn"]
MeetingStatus = Literal["scheduled", "cancelled"]
Side = Literal["enterprise", "participant"]
# What a side can answer, and what an unanswered match becomes when its time runs out.
InterestAnswer = Literal["accept", "decline", "must-meet"]
InterestState = Literal["accept", "decline", "must-meet", "expired"]
Attendance = Literal["held", "no-show", "cancelled"]
# Feedback after a meeting, by one side: did it take place ("no-show": the other
# side did not come), how interested that side is, and what it wants next.
InterestLevel = Literal["none", "low", "medium", "high"]
NextStep = Literal[
    "none",
    "follow-up-call",
    "follow-up-meeting",
    "site-visit",
    "due-diligence",
    "term-sheet",
]


def feedback_problem(
    took_place: Attendance, interest: InterestLevel | None, next_step: NextStep | None
) -> tuple[str, str] | None:
    """What is wrong with a side's feedback, as (field, message), or None: a
    meeting held says how interested the side is; one that did not take place
    has neither an interest nor a next step. One rule for every way feedback
    comes in (matching's API, the form of notification's e-mail link)."""
    if took_place == "held":
        if interest is None:
            return "interest", "say how interested you are after the meeting"
        return None
    for name, value in (("interest", interest), ("next_step", next_step)):
        if value is not None:
            return name, f"{name} is given only for a meeting that was held, not {took_place}"
    return None


# Where the deal stands at the follow-up, furthest last but "no-deal".
DealStage = Literal["negotiating", "agreement-signed", "invested", "no-deal"]
# Who recorded a follow-up: a side's partner, or the organiser.
Reporter = Literal["enterprise", "participant", "organiser"]

_MATCH_NAMESPACE = uuid.UUID("6f1c2d3e-0a4b-4c5d-8e9f-a0b1c2d3e4f5")
_CHANGE_NAMESPACE = uuid.UUID("0b7e6a52-3c1d-4f8e-9a2b-5d6c7e8f9a01")
# Shards of a road show's match batches: as many as the topic has partitions, so a
# fair's matches spread over every notification member.
MATCH_SHARDS = PARTITIONS
# A batch carries at most this many changes, so its record stays far below Kafka's
# 1 MB limit (aiokafka's max_request_size, the broker's message.max.bytes: a change
# with its reasons is about 1.2 KB) and the relay's batches of rows stay small. A
# larger rescoring is several batches under the same key, in order.
MAX_CHANGES_PER_BATCH = 100


def match_id_for(enterprise_id: uuid.UUID, participant_id: uuid.UUID) -> uuid.UUID:
    return uuid.uuid5(_MATCH_NAMESPACE, f"{enterprise_id}:{participant_id}")


def match_change_id(match_id: uuid.UUID, version: int) -> uuid.UUID:
    """The id of a match's change to `version`: the same wherever and however often
    it is published."""
    return uuid.uuid5(_CHANGE_NAMESPACE, f"{match_id}:{version}")


def match_shard_key(roadshow_id: uuid.UUID, match_id: uuid.UUID) -> str:
    """The message key of the batch a match's change travels in."""
    return f"{roadshow_id}/{match_id.int % MATCH_SHARDS}"


class MatchComponent(Contract):
    name: str  # sector_fit | stage_fit | ticket_fit | partnership_fit | text_similarity
    score: float  # in [0, 1]
    weight: float
    reason: str


class Match(Contract):
    match_id: uuid.UUID
    roadshow_id: uuid.UUID
    enterprise_id: uuid.UUID
    participant_id: uuid.UUID
    participant_kind: ParticipantKind
    score: float
    components: list[MatchComponent]
    status: MatchStatus
    version: int
    # Added: the partners that registered each side, so a consumer can tell each
    # partner only about its own enterprises and participants.
    enterprise_partner_id: uuid.UUID | None = None
    participant_partner_id: uuid.UUID | None = None


class MatchChange(Contract):
    """One pair's change in a batch: what a `match.<kind>` event said alone."""

    type: MatchEventType
    match: Match


class MatchesChanged(Contract):
    """Matches one event's rescoring changed, of one shard of one road show (at
    most `MAX_CHANGES_PER_BATCH`; a larger rescoring sends several)."""

    roadshow_id: uuid.UUID
    changes: list[MatchChange]


def single_match_events(
    batch: Envelope, data: MatchesChanged, *, with_data: bool = True
) -> list[tuple[Envelope, Match]]:
    """Each change of a batch as the single `match.*` event it stands for: its own
    id, type and key (the match), the batch's flow, cause and time. Without
    `with_data` the envelopes' data is left empty (the match is beside it), for a
    consumer that serialises only the few it keeps."""
    return [
        (
            batch.model_copy(
                update={
                    "id": match_change_id(c.match.match_id, c.match.version),
                    "type": c.type,
                    "key": str(c.match.match_id),
                    "data": c.match.model_dump(mode="json") if with_data else {},
                }
            ),
            c.match,
        )
        for c in data.changes
    ]


class Meeting(Contract):
    meeting_id: uuid.UUID
    schedule_id: uuid.UUID
    roadshow_id: uuid.UUID
    match_id: uuid.UUID
    enterprise_id: uuid.UUID
    participant_id: uuid.UUID
    slot: int
    table: int
    starts_at: datetime
    ends_at: datetime
    timezone: str
    score: float
    status: MeetingStatus
    # Added, as on Match.
    enterprise_partner_id: uuid.UUID | None = None
    participant_partner_id: uuid.UUID | None = None
    # Added (issue 12): the venue and the table's number there (0-based; `table`
    # counts across venues), and the languages of the meeting's interpreter (not
    # the person), if it has one.
    venue: str | None = None
    venue_table: int | None = None
    interpreter_languages: list[str] = Field(default_factory=list)
    # Added: the match's components with their reasons (why these two meet).
    reasons: list[MatchComponent] = Field(default_factory=list)


class ScheduleCompleted(Contract):
    schedule_id: uuid.UUID
    roadshow_id: uuid.UUID
    meetings: int
    total_score: float
    # Added (issue 12): meetings with an interpreter, and the matches that needed
    # one and could not get one (so they are not in the schedule).
    interpreted: int = 0
    without_interpreter: list[uuid.UUID] = Field(default_factory=list)


class InterestRecorded(Contract):
    match_id: uuid.UUID
    roadshow_id: uuid.UUID
    enterprise_id: uuid.UUID
    participant_id: uuid.UUID
    side: Side
    interest: InterestState
    expires_at: datetime | None = None


class MeetingMoved(Meeting):
    previous_slot: int
    previous_table: int
    previous_starts_at: datetime
    previous_ends_at: datetime


class AttendanceRecorded(Contract):
    meeting_id: uuid.UUID
    roadshow_id: uuid.UUID
    match_id: uuid.UUID
    attendance: Attendance


class _AfterMeeting(Contract):
    """What every after-meeting event names: the meeting, its match and parties
    (so notification can route it like a meeting), never a person."""

    meeting_id: uuid.UUID
    roadshow_id: uuid.UUID
    match_id: uuid.UUID
    enterprise_id: uuid.UUID
    participant_id: uuid.UUID
    enterprise_partner_id: uuid.UUID | None = None
    participant_partner_id: uuid.UUID | None = None


class FeedbackRecorded(_AfterMeeting):
    """One side's feedback on a meeting (its free-text note stays in matching)."""

    side: Side
    took_place: Attendance
    interest: InterestLevel | None  # None when the meeting did not take place
    next_step: NextStep | None
    version: int  # grows with each change of this side's feedback


class FollowUpDue(_AfterMeeting):
    """The follow-up on a meeting that took place is open: both sides are asked
    where the deal stands. Published once per meeting."""

    ended_at: datetime
    due_at: datetime


class FollowUpRecorded(_AfterMeeting):
    stage: DealStage
    amount: Decimal | None  # agreed or invested, in `currency`
    currency: str | None  # ISO 4217, one the rate table lists
    reported_by: Reporter
    version: int  # grows with each change of the meeting's follow-up


MATCHING_CONTRACTS: dict[tuple[MatchingEventType, int], type[BaseModel]] = {
    ("match.proposed", 1): Match,
    ("match.updated", 1): Match,
    ("match.withdrawn", 1): Match,
    ("matches.changed", 1): MatchesChanged,
    ("meeting.scheduled", 1): Meeting,
    ("meeting.moved", 1): MeetingMoved,
    ("meeting.cancelled", 1): Meeting,
    ("schedule.completed", 1): ScheduleCompleted,
    ("interest.recorded", 1): InterestRecorded,
    ("attendance.recorded", 1): AttendanceRecorded,
    ("feedback.recorded", 1): FeedbackRecorded,
    ("follow-up.due", 1): FollowUpDue,
    ("follow-up.recorded", 1): FollowUpRecorded,
}
