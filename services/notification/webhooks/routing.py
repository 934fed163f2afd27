"""Which subscriptions want a matching event, and what the webhook says, as
plain functions over plain data (no I/O)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, get_args

from services.notification.parties.model import KnownEnterprise, KnownParticipant, Party
from shared.contracts.matching import (
    FeedbackEventType,
    FeedbackRecorded,
    FollowUpDue,
    FollowUpRecorded,
    Match,
    MatchComponent,
    MatchEventType,
    Meeting,
    MeetingEventType,
    MeetingMoved,
)

# What a subscriber can ask for: every match and meeting that concerns its
# participants, including their withdrawal and cancellation, and what happened
# after a meeting (feedback, the follow-up falling due, deal progress).
WebhookEventType = Literal[MatchEventType, MeetingEventType, FeedbackEventType]
WEBHOOK_EVENT_TYPES: tuple[WebhookEventType, ...] = get_args(WebhookEventType)
# The data of an event routing takes.
Routable = Match | Meeting | FeedbackRecorded | FollowUpDue | FollowUpRecorded


Side = Literal["participant", "enterprise"]
PARTICIPANT_SIDE: frozenset[Side] = frozenset({"participant"})
BOTH_SIDES: frozenset[Side] = frozenset({"participant", "enterprise"})


@dataclass(frozen=True)
class Filters:
    event_types: frozenset[str]
    participant_ids: frozenset[uuid.UUID] | None = None
    participant_kinds: frozenset[str] | None = None
    sectors: frozenset[str] | None = None  # of the enterprise
    # Whose events: about the partner's participants, and/or its enterprises.
    sides: frozenset[Side] = PARTICIPANT_SIDE
    enterprise_ids: frozenset[uuid.UUID] | None = None


def wants(filters: Filters, event_type: str, participant: Party, enterprise: Party) -> bool:
    """Whether a subscription of the partner of one of the event's sides wants
    this event. (That the subscription is that partner's, for that side, is the
    caller's decision.)"""
    return (
        event_type in filters.event_types
        and (filters.participant_ids is None or participant.id in filters.participant_ids)
        and (filters.participant_kinds is None or participant.kind in filters.participant_kinds)
        and (filters.sectors is None or not filters.sectors.isdisjoint(enterprise.sectors))
        and (filters.enterprise_ids is None or enterprise.id in filters.enterprise_ids)
    )


def could_want(filters: Filters, event_type: str, participant: Party) -> bool:
    """Whether a subscription might want this event whatever its enterprise: the
    filters that do not look at the enterprise. False means `wants` is False for
    every enterprise, so an event waiting for its enterprise need not be held."""
    return (
        event_type in filters.event_types
        and (filters.participant_ids is None or participant.id in filters.participant_ids)
        and (filters.participant_kinds is None or participant.kind in filters.participant_kinds)
    )


@dataclass(frozen=True)
class Concerning:
    """What routing needs of a matching event: its type, its two parties, and
    whose subscriptions may hear of it (a side's feedback is that side's word:
    its own partner hears of it, the other side does not)."""

    event_type: str
    participant_id: uuid.UUID
    enterprise_id: uuid.UUID
    sides: frozenset[Side] = BOTH_SIDES


def concerning(event_type: str, data: Routable) -> Concerning:
    sides = frozenset({data.side}) if isinstance(data, FeedbackRecorded) else BOTH_SIDES
    return Concerning(event_type, data.participant_id, data.enterprise_id, sides)


@dataclass(frozen=True)
class Interested:
    """An active subscription as routing sees it."""

    id: uuid.UUID
    partner_id: uuid.UUID
    filters: Filters


@dataclass(frozen=True)
class RoutingPlan:
    """For a run of events (by index): which subscriptions each goes to, and which
    wait in the hold until their missing party is known. Any other event reaches
    nobody and leaves no trace."""

    deliveries: list[tuple[int, uuid.UUID]] = field(default_factory=list)
    hold: list[int] = field(default_factory=list)


def plan_routing(
    events: Sequence[Concerning],
    participants: Mapping[uuid.UUID, KnownParticipant],
    enterprises: Mapping[uuid.UUID, KnownEnterprise],
    subscriptions: Sequence[Interested],
    enterprise_side: frozenset[str] = frozenset(),
) -> RoutingPlan:
    """Route a run of events at once, deciding exactly what routing each alone
    decides: an event goes to every active subscription whose filters want it
    (in the order given, each once) of its participant's partner, for the
    participant side, and of its enterprise's partner, for the enterprise side;
    events first to last. One with a party unknown is held, unless its
    participant is known and nothing could want it whatever the enterprise: no
    subscription of the participant's partner, and no enterprise-side one
    anywhere for its type (`enterprise_side`: the event types some active
    enterprise-side subscription takes). An event for one side only
    (`Concerning.sides`) counts only that side's subscriptions."""
    by_partner: dict[uuid.UUID, list[Interested]] = {}
    for s in subscriptions:
        by_partner.setdefault(s.partner_id, []).append(s)
    order = {s.id: k for k, s in enumerate(subscriptions)}
    # A fair's banks each subscribe for their own participant: the subscriptions
    # naming participants are looked up by participant, not scanned for each one
    # (hundreds of banks times thousands of participants in a run), and what can
    # want a participant is worked out once per participant, not at every event.
    for_anyone, for_named = _participant_side(subscriptions)
    for_participant: dict[uuid.UUID, list[Interested]] = {}
    plan = RoutingPlan()
    for i, event in enumerate(events):
        participant = participants.get(event.participant_id)
        enterprise = enterprises.get(event.enterprise_id)
        if participant is None:
            plan.hold.append(i)
            continue
        theirs = for_participant.get(participant.id)
        if theirs is None:
            anyone = for_anyone.get(participant.partner_id, [])
            named = for_named.get((participant.partner_id, participant.id), [])
            theirs = for_participant[participant.id] = (
                sorted(anyone + named, key=lambda s: order[s.id]) if named else anyone
            )
        if "participant" not in event.sides:
            theirs = []
        party = participant.party
        if enterprise is None:
            if ("enterprise" in event.sides and event.event_type in enterprise_side) or any(
                could_want(s.filters, event.event_type, party) for s in theirs
            ):
                plan.hold.append(i)
            continue
        other = enterprise.party
        if enterprise.partner_id is not None and "enterprise" in event.sides:
            ours = [
                s
                for s in by_partner.get(enterprise.partner_id, [])
                if "enterprise" in s.filters.sides
            ]
            if ours:
                # Each subscription once, in creation order.
                theirs = sorted(
                    {s.id: s for s in theirs + ours}.values(), key=lambda s: order[s.id]
                )
        plan.deliveries.extend(
            (i, s.id) for s in theirs if wants(s.filters, event.event_type, party, other)
        )
    return plan


def _participant_side(
    subscriptions: Sequence[Interested],
) -> tuple[dict[uuid.UUID, list[Interested]], dict[tuple[uuid.UUID, uuid.UUID], list[Interested]]]:
    """The participant-side subscriptions, in the order given: by partner for
    those that take any of its participants, by (partner, participant) for those
    that name theirs."""
    anyone: dict[uuid.UUID, list[Interested]] = {}
    named: dict[tuple[uuid.UUID, uuid.UUID], list[Interested]] = {}
    for s in subscriptions:
        if "participant" not in s.filters.sides:
            continue
        if s.filters.participant_ids is None:
            anyone.setdefault(s.partner_id, []).append(s)
        else:
            for participant_id in s.filters.participant_ids:
                named.setdefault((s.partner_id, participant_id), []).append(s)
    return anyone, named


def build_body(
    event_type: str,
    event_id: uuid.UUID,
    occurred_at: datetime,
    data: Routable,
    participant: Party,
    enterprise: Party,
) -> str:
    """The webhook body, in the Standard Webhooks shape {type, timestamp, data}.
    It names the event, the two organisations and the match, meeting, feedback
    or follow-up; no person's name or contact travels (nor a feedback's note,
    which matching keeps)."""
    common: dict[str, Any] = {
        "event_id": str(event_id),
        "roadshow_id": str(data.roadshow_id),
        "participant": _party(participant),
        "enterprise": _party(enterprise),
    }
    body: dict[str, Any]
    if isinstance(data, Match):
        body = _match(data)
    elif isinstance(data, Meeting):
        body = _meeting(data)
    elif isinstance(data, FeedbackRecorded):
        body = _feedback(data)
    else:
        body = _follow_up(data)
    payload = {"type": event_type, "timestamp": occurred_at.isoformat(), "data": common | body}
    return json.dumps(payload, separators=(",", ":"), sort_keys=True)


def _match(data: Match) -> dict[str, Any]:
    return {
        "match": {
            "match_id": str(data.match_id),
            "status": data.status,
            "version": data.version,
            "score": data.score,
            "reasons": _reasons(data.components),
        }
    }


def _reasons(components: Sequence[MatchComponent]) -> list[dict[str, Any]]:
    return [
        {"name": c.name, "score": c.score, "weight": c.weight, "reason": c.reason}
        for c in components
    ]


def _meeting(data: Meeting) -> dict[str, Any]:
    meeting: dict[str, Any] = {
        "meeting_id": str(data.meeting_id),
        "match_id": str(data.match_id),
        "schedule_id": str(data.schedule_id),
        "status": data.status,
        "starts_at": data.starts_at.isoformat(),
        "ends_at": data.ends_at.isoformat(),
        "timezone": data.timezone,
        "slot": data.slot,
        "table": data.table,
        "score": data.score,
        "reasons": _reasons(data.reasons),  # the match's: why the two meet
        "venue": data.venue,
        "venue_table": data.venue_table,
        # The interpreter's languages, never the person.
        "interpreter_languages": list(data.interpreter_languages),
    }
    if isinstance(data, MeetingMoved):
        meeting["previous"] = {
            "slot": data.previous_slot,
            "table": data.previous_table,
            "starts_at": data.previous_starts_at.isoformat(),
            "ends_at": data.previous_ends_at.isoformat(),
        }
    return {"meeting": meeting}


def _feedback(data: FeedbackRecorded) -> dict[str, Any]:
    return {
        "feedback": {
            "meeting_id": str(data.meeting_id),
            "match_id": str(data.match_id),
            "side": data.side,
            "took_place": data.took_place,
            "interest": data.interest,
            "next_step": data.next_step,
            "version": data.version,
        }
    }


def _follow_up(data: FollowUpDue | FollowUpRecorded) -> dict[str, Any]:
    follow_up: dict[str, Any] = {"meeting_id": str(data.meeting_id), "match_id": str(data.match_id)}
    if isinstance(data, FollowUpDue):
        follow_up |= {"ended_at": data.ended_at.isoformat(), "due_at": data.due_at.isoformat()}
    else:
        follow_up |= {
            "stage": data.stage,
            # A decimal string, as the API gives amounts: no float rounding on the way
            # (and never an exponent: "1E+7" would fail the documented pattern).
            "amount": format(data.amount, "f") if data.amount is not None else None,
            "currency": data.currency,
            "reported_by": data.reported_by,
            "version": data.version,
        }
    return {"follow_up": follow_up}


def _party(p: Party) -> dict[str, Any]:
    out: dict[str, Any] = {"id": str(p.id), "name": p.name, "sectors": list(p.sectors)}
    if p.kind is not None:
        out["kind"] = p.kind
    if p.country is not None:
        out["country"] = p.country
    return out
