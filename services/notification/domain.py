"""Notification rules as plain functions over plain data (no I/O): which
subscriptions want an event, what a webhook body says, when to try again."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any, Literal

from shared.contracts.matching import Match, Meeting, MeetingMoved

Clock = Callable[[], datetime]

# What a subscriber can ask for: every match and meeting that concerns its
# participants, including their withdrawal and cancellation.
EVENT_TYPES: tuple[str, ...] = (
    "match.proposed",
    "match.updated",
    "match.withdrawn",
    "meeting.scheduled",
    "meeting.moved",
    "meeting.cancelled",
)
EventType = Literal[
    "match.proposed",
    "match.updated",
    "match.withdrawn",
    "meeting.scheduled",
    "meeting.moved",
    "meeting.cancelled",
]

PENDING = "pending"
DELIVERED = "delivered"
DEAD = "dead"
CANCELLED = "cancelled"  # e-mail only: never to be sent (erased, opted out, too late)

# Attempt outcomes.
OK = "delivered"
FAILED = "failed"
TIMEOUT = "timeout"
REFUSED = "refused"  # the endpoint resolved to an address we do not connect to
GONE = "gone"  # 410: the receiver asked us to stop
REJECTED = "rejected"  # e-mail: the mail server refused the message for good (5xx)


# --- routing --------------------------------------------------------------------


@dataclass(frozen=True)
class Party:
    """An organisation named in a webhook (never a person)."""

    id: uuid.UUID
    name: str
    kind: str | None
    country: str | None
    sectors: tuple[str, ...]


@dataclass(frozen=True)
class Filters:
    event_types: frozenset[str]
    participant_ids: frozenset[uuid.UUID] | None = None
    participant_kinds: frozenset[str] | None = None
    sectors: frozenset[str] | None = None  # of the enterprise


def wants(filters: Filters, event_type: str, participant: Party, enterprise: Party) -> bool:
    """Whether a subscription of the participant's partner wants this event.
    (That the subscription is the partner's is the caller's query.)"""
    return (
        event_type in filters.event_types
        and (filters.participant_ids is None or participant.id in filters.participant_ids)
        and (filters.participant_kinds is None or participant.kind in filters.participant_kinds)
        and (filters.sectors is None or not filters.sectors.isdisjoint(enterprise.sectors))
    )


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
    if isinstance(data, Match):
        body: dict[str, Any] = {
            "match": {
                "match_id": str(data.match_id),
                "status": data.status,
                "version": data.version,
                "score": data.score,
                "reasons": [
                    {"name": c.name, "score": c.score, "weight": c.weight, "reason": c.reason}
                    for c in data.components
                ],
            }
        }
    else:
        body = {
            "meeting": {
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
            }
        }
        if isinstance(data, MeetingMoved):
            body["meeting"]["previous"] = {
                "slot": data.previous_slot,
                "table": data.previous_table,
                "starts_at": data.previous_starts_at.isoformat(),
                "ends_at": data.previous_ends_at.isoformat(),
            }
    payload = {"type": event_type, "timestamp": occurred_at.isoformat(), "data": common | body}
    return json.dumps(payload, separators=(",", ":"), sort_keys=True)


def _party(p: Party) -> dict[str, Any]:
    out: dict[str, Any] = {"id": str(p.id), "name": p.name, "sectors": list(p.sectors)}
    if p.kind is not None:
        out["kind"] = p.kind
    if p.country is not None:
        out["country"] = p.country
    return out


# --- retries ----------------------------------------------------------------------


@dataclass(frozen=True)
class RetryPolicy:
    """`schedule[i]` is the delay before retry i+1, so a notification gets one
    first try plus len(schedule) retries before it is dead."""

    schedule: tuple[float, ...]
    jitter: float = 0.2
    retry_after_cap: float = 36_000

    @property
    def max_tries(self) -> int:
        return len(self.schedule) + 1

    def delay(
        self, tries: int, retry_after: float | None, rand: Callable[[], float]
    ) -> float | None:
        """Seconds until the next try after `tries` failed ones in this schedule,
        or None when the schedule is spent. The delay is jittered (so receivers
        that come back are not hit by every retry at once), and never shorter
        than the receiver's Retry-After (capped, so a receiver cannot park a
        notification forever)."""
        if tries >= self.max_tries:
            return None
        base = self.schedule[tries - 1]
        jittered = base * (1 + self.jitter * (2 * rand() - 1))
        if retry_after is not None:
            jittered = max(jittered, min(retry_after, self.retry_after_cap))
        return max(jittered, 0.0)


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """Retry-After as seconds from now: delta-seconds or an HTTP date (RFC 9110)."""
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        return None
    return max((when - now).total_seconds(), 0.0)


def outcome_of_status(status: int) -> str:
    # Any other answer is retried, 4xx included: a receiver that rejects us
    # (a wrong secret, a deploy in progress) is usually fixed within the schedule.
    if 200 <= status < 300:
        return OK
    if status == 410:
        return GONE
    return FAILED


@dataclass(frozen=True)
class Attempt:
    """What one attempt ended with."""

    outcome: str
    status_code: int | None = None
    latency_ms: int | None = None
    error: str | None = None
    retry_after: float | None = None


@dataclass(frozen=True)
class Decision:
    status: str
    next_attempt_at: datetime | None
    event: str  # notification.delivered | notification.failed | notification.dead


def decide(
    attempt: Attempt,
    tries: int,
    policy: RetryPolicy,
    now: datetime,
    rand: Callable[[], float],
) -> Decision:
    if attempt.outcome == OK:
        return Decision(DELIVERED, None, "notification.delivered")
    if attempt.outcome in (GONE, REJECTED):
        return Decision(DEAD, None, "notification.dead")
    delay = policy.delay(tries, attempt.retry_after, rand)
    if delay is None:
        return Decision(DEAD, None, "notification.dead")
    return Decision(PENDING, now + timedelta(seconds=delay), "notification.failed")


# --- claiming ----------------------------------------------------------------------


def pick_within_limits(
    candidates: Sequence[tuple[uuid.UUID, uuid.UUID]],
    in_flight: dict[uuid.UUID, int],
    per_endpoint: int,
    capacity: int,
) -> list[uuid.UUID]:
    """From due (notification, subscription) pairs in due order, the ones a
    worker may start now: at most `capacity` in all and at most `per_endpoint`
    in flight per subscription, counting those already in flight."""
    busy = dict(in_flight)
    chosen: list[uuid.UUID] = []
    for notification_id, subscription_id in candidates:
        if len(chosen) >= capacity:
            break
        if busy.get(subscription_id, 0) < per_endpoint:
            busy[subscription_id] = busy.get(subscription_id, 0) + 1
            chosen.append(notification_id)
    return chosen
