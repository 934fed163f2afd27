"""What a subscriber receives, for the OpenAPI document's `webhooks`: the body of
each event type (as `webhooks.routing.build_body` writes it; a test holds the two
together) and the Standard Webhooks headers that prove it came from us."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.contracts.matching import (
    Attendance,
    DealStage,
    InterestLevel,
    MatchEventType,
    MatchStatus,
    MeetingStatus,
    NextStep,
    Reporter,
    Side,
)
from shared.http.api import Api, Webhook
from shared.taxonomy import ParticipantKind


class _Body(BaseModel):
    # A field the builder adds without saying so here fails the test that holds them together.
    model_config = ConfigDict(extra="forbid")


class WebhookParty(_Body):
    """An organisation (never a person)."""

    id: uuid.UUID
    name: str
    sectors: list[str]
    kind: ParticipantKind | None = Field(default=None, description="Participants only")
    country: str | None = Field(default=None, description="Enterprises only (ISO 3166 alpha-2)")


class WebhookReason(_Body):
    name: str = Field(description="sector_fit | stage_fit | ticket_fit | partnership_fit | ...")
    score: float = Field(description="0 to 1")
    weight: float
    reason: str = Field(description="Why, in words")


class WebhookMatch(_Body):
    match_id: uuid.UUID
    status: MatchStatus
    version: int = Field(description="Grows with every change; ignore a lower one than you have")
    score: float
    reasons: list[WebhookReason]


class WebhookSlot(_Body):
    slot: int
    table: int
    starts_at: datetime
    ends_at: datetime


class WebhookMeeting(_Body):
    meeting_id: uuid.UUID
    match_id: uuid.UUID
    schedule_id: uuid.UUID
    status: MeetingStatus
    starts_at: datetime
    ends_at: datetime
    timezone: str = Field(description="The road show's IANA time zone")
    slot: int
    table: int
    score: float
    reasons: list[WebhookReason] = Field(description="The match's reasons: why the two meet")
    venue: str | None = Field(description="Where, when the road show has venues")
    venue_table: int | None = Field(description="The table's number at that venue")
    interpreter_languages: list[str] = Field(
        description="The languages of the meeting's interpreter (empty: none needed)"
    )


class WebhookMovedMeeting(WebhookMeeting):
    previous: WebhookSlot = Field(description="Where the meeting was before")


class WebhookFeedback(_Body):
    meeting_id: uuid.UUID
    match_id: uuid.UUID
    side: Side = Field(description="Whose feedback: always the side you registered")
    took_place: Attendance = Field(description="held; no-show: the other side did not come")
    interest: InterestLevel | None = Field(description="null when it did not take place")
    next_step: NextStep | None
    version: int = Field(description="Grows with each change; ignore a lower one than you have")


class WebhookFollowUpDue(_Body):
    meeting_id: uuid.UUID
    match_id: uuid.UUID
    ended_at: datetime = Field(description="When the meeting ended")
    due_at: datetime = Field(description="When its follow-up fell due")


class WebhookFollowUp(_Body):
    meeting_id: uuid.UUID
    match_id: uuid.UUID
    stage: DealStage
    amount: str | None = Field(
        description='Agreed or invested, a decimal string (e.g. "2000000.00")',
        pattern=r"^[0-9]+(\.[0-9]{1,2})?$",
    )
    currency: str | None = Field(description="ISO 4217, with the amount")
    reported_by: Reporter = Field(description="enterprise, participant or organiser")
    version: int = Field(description="Grows with each change; ignore a lower one than you have")


class _Data(_Body):
    event_id: uuid.UUID = Field(description="The event's id (the same in every service)")
    roadshow_id: uuid.UUID
    participant: WebhookParty = Field(description="Your participant")
    enterprise: WebhookParty


class MatchData(_Data):
    match: WebhookMatch


class MeetingData(_Data):
    meeting: WebhookMeeting


class MovedMeetingData(_Data):
    meeting: WebhookMovedMeeting


class FeedbackData(_Data):
    feedback: WebhookFeedback


class FollowUpDueData(_Data):
    follow_up: WebhookFollowUpDue


class FollowUpData(_Data):
    follow_up: WebhookFollowUp


class _Payload(_Body):
    timestamp: datetime = Field(description="When the event happened")


class MatchWebhook(_Payload):
    type: MatchEventType
    data: MatchData


class MeetingWebhook(_Payload):
    type: Literal["meeting.scheduled", "meeting.cancelled"]
    data: MeetingData


class MeetingMovedWebhook(_Payload):
    type: Literal["meeting.moved"]
    data: MovedMeetingData


class FeedbackWebhook(_Payload):
    type: Literal["feedback.recorded"]
    data: FeedbackData


class FollowUpDueWebhook(_Payload):
    type: Literal["follow-up.due"]
    data: FollowUpDueData


class FollowUpWebhook(_Payload):
    type: Literal["follow-up.recorded"]
    data: FollowUpData


HEADERS = {
    "webhook-id": "The notification's id, the same on every retry of it: deduplicate on it",
    "webhook-timestamp": "When this try was signed (Unix seconds); refuse one far from your clock",
    "webhook-signature": "`v1,` and the base64 HMAC-SHA256 of `{webhook-id}.{webhook-timestamp}."
    "{body}` keyed with the base64-decoded part of your secret after `whsec_` (Standard "
    "Webhooks; its libraries verify it). During a secret rotation's overlap, one signature "
    "per secret, space-separated: accept the delivery if one matches.",
    "X-Correlation-ID": "The flow's id, as in our logs (not signed)",
}
RESPONSES = {
    "2XX": {"description": "Delivered: nothing more is sent for this notification"},
    "410": {"description": "Gone: the subscription is disabled, nothing more is sent to it"},
    "default": {
        "description": "Anything else, or no answer in time: tried again with backoff "
        "(a Retry-After is honoured within bounds) for about a day, then dead; a partner "
        "can redeliver dead notifications"
    },
}
WHAT: dict[str, tuple[str, type[BaseModel]]] = {
    "match.proposed": ("A match of one of your participants was proposed", MatchWebhook),
    "match.updated": ("A match's score or reasons changed", MatchWebhook),
    "match.withdrawn": ("A match no longer stands (a side withdrew or changed)", MatchWebhook),
    "meeting.scheduled": ("A meeting of one of your participants was scheduled", MeetingWebhook),
    "meeting.moved": ("A meeting moved to another slot or table", MeetingMovedWebhook),
    "meeting.cancelled": ("A meeting was cancelled", MeetingWebhook),
    "feedback.recorded": (
        "Your side's feedback on a meeting was recorded (sent to that side only)",
        FeedbackWebhook,
    ),
    "follow-up.due": (
        "A meeting's follow-up fell due: say where the deal stands (PUT .../follow-up)",
        FollowUpDueWebhook,
    ),
    "follow-up.recorded": ("A meeting's deal progress was recorded", FollowUpWebhook),
}


def declare(api: Api, event_types: tuple[str, ...]) -> None:
    """One webhook per event type a subscription can ask for (a type not described
    here is left out, and the test of the document says which)."""
    for event_type in event_types:
        if event_type not in WHAT:
            continue
        summary, body = WHAT[event_type]
        api.webhook(
            Webhook(
                name=event_type,
                summary=summary,
                description=f"POSTed to every active subscription of yours that asked for "
                f"`{event_type}` and whose filters it passes. Verify the signature over the raw "
                "body before parsing it.",
                body=body,
                headers=HEADERS,
                responses=RESPONSES,
            )
        )
