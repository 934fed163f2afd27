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
    Match,
    MatchComponent,
    MatchEventType,
    Meeting,
    MeetingEventType,
    MeetingMoved,
)

# What a subscriber can ask for: every match and meeting that concerns its
# participants, including their withdrawal and cancellation.
WebhookEventType = Literal[MatchEventType, MeetingEventType]
WEBHOOK_EVENT_TYPES: tuple[WebhookEventType, ...] = get_args(WebhookEventType)


Side = Literal["participant", "enterprise"]
PARTICIPANT_SIDE: frozenset[Side] = frozenset({"participant"})


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
    """What routing needs of a matching event: its type and its two parties."""

    event_type: str
    participant_id: uuid.UUID
    enterprise_id: uuid.UUID


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
    enterprise-side subscription takes)."""
    by_partner: dict[uuid.UUID, list[Interested]] = {}
    for s in subscriptions:
        by_partner.setdefault(s.partner_id, []).append(s)
    order = {s.id: k for k, s in enumerate(subscriptions)}
    # A fair's banks each subscribe for their own participant: look at the
    # subscriptions that can want a participant once, not at every event.
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
            theirs = for_participant[participant.id] = [
                s
                for s in by_partner.get(participant.partner_id, [])
                if "participant" in s.filters.sides
                and (
                    s.filters.participant_ids is None or participant.id in s.filters.participant_ids
                )
            ]
        party = participant.party
        if enterprise is None:
            if event.event_type in enterprise_side or any(
                could_want(s.filters, event.event_type, party) for s in theirs
            ):
                plan.hold.append(i)
            continue
        other = enterprise.party
        if enterprise.partner_id is not None:
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


def build_body(
    event_type: str,
    event_id: uuid.UUID,
    occurred_at: datetime,
    data: Match | Meeting,
    participant: Party,
    enterprise: Party,
) -> str:
    """The webhook body, in the Standard Webhooks shape {type, timestamp, data}.
    It names the event, the two organisations and the match or meeting; no
    person's name or contact travels."""
    common: dict[str, Any] = {
        "event_id": str(event_id),
        "roadshow_id": str(data.roadshow_id),
        "participant": _party(participant),
        "enterprise": _party(enterprise),
    }
    body = _match(data) if isinstance(data, Match) else _meeting(data)
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


def _party(p: Party) -> dict[str, Any]:
    out: dict[str, Any] = {"id": str(p.id), "name": p.name, "sectors": list(p.sectors)}
    if p.kind is not None:
        out["kind"] = p.kind
    if p.country is not None:
        out["country"] = p.country
    return out
