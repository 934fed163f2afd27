"""What happens to an outbound notification, whatever its channel, as plain
functions over plain data (no I/O): how an attempt ended, whether and when to
try again, and which due notifications a worker may start now."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Literal

from shared.contracts.notification import NotificationEventType

Clock = Callable[[], datetime]

Channel = Literal["webhook", "email"]

# Where a notification stands. `cancelled` is the e-mail channel's: never to be
# sent (recipient erased, opted out or withdrawn; a reminder that came too late).
# Unlike `dead`, it is not redeliverable.
NotificationStatus = Literal["pending", "delivered", "dead", "cancelled"]

# How one attempt ended. `delivered`: the receiver took it (HTTP 2xx, SMTP 250);
# `refused`: the endpoint resolved to an address we do not connect to; `gone`: a
# 410, the receiver asked us to stop; `rejected`: the mail server refused the
# message for good (5xx).
AttemptOutcome = Literal["delivered", "failed", "timeout", "refused", "gone", "rejected"]


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


# The longest wait a Retry-After can state that we still read as a number (ten
# years); beyond it the policy's cap decides anyway.
_LONGEST_WAIT = 10 * 365 * 86_400.0


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """Retry-After as seconds from now: delta-seconds or an HTTP date (RFC 9110).
    Anything else a receiver sends (`²`, `1e9`, a date in year 0, 5,000 digits)
    is no Retry-After at all: None, never an exception."""
    if value is None:
        return None
    value = value.strip()
    # ASCII digits only: str.isdigit() takes '²' (and Arabic-Indic digits), which float() refuses
    # or reads as something the receiver may not have meant.
    if value and value.isascii() and value.isdigit():
        return min(float(value), _LONGEST_WAIT)  # 5,000 digits are inf, not an error
    try:
        when = parsedate_to_datetime(value)
        if when.tzinfo is None:
            return None
        return min(max((when - now).total_seconds(), 0.0), _LONGEST_WAIT)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


def outcome_of_status(status: int) -> AttemptOutcome:
    """How an HTTP answer ends a webhook attempt. Any other answer is retried,
    4xx included: a receiver that rejects us (a wrong secret, a deploy in
    progress) is usually fixed within the schedule."""
    if 200 <= status < 300:
        return "delivered"
    if status == 410:
        return "gone"
    return "failed"


@dataclass(frozen=True)
class Attempt:
    """What one attempt ended with."""

    outcome: AttemptOutcome
    status_code: int | None = None
    latency_ms: int | None = None
    error: str | None = None
    retry_after: float | None = None


@dataclass(frozen=True)
class Decision:
    """What follows an attempt: the notification's next status and, for the
    webhook channel, the event that says so."""

    status: NotificationStatus
    next_attempt_at: datetime | None
    event: NotificationEventType


def decide(
    attempt: Attempt,
    tries: int,
    policy: RetryPolicy,
    now: datetime,
    rand: Callable[[], float],
) -> Decision:
    if attempt.outcome == "delivered":
        return Decision("delivered", None, "notification.delivered")
    if attempt.outcome in ("gone", "rejected"):
        return Decision("dead", None, "notification.dead")
    delay = policy.delay(tries, attempt.retry_after, rand)
    if delay is None:
        return Decision("dead", None, "notification.dead")
    return Decision("pending", now + timedelta(seconds=delay), "notification.failed")


def pick_within_limits(
    candidates: Sequence[tuple[uuid.UUID, uuid.UUID]],
    in_flight: dict[uuid.UUID, int],
    per_endpoint: int,
    capacity: int,
) -> list[uuid.UUID]:
    """From due (notification, target) pairs in due order, the ones a worker may
    start now: at most `capacity` in all and at most `per_endpoint` in flight
    per target, counting those already in flight."""
    busy = dict(in_flight)
    chosen: list[uuid.UUID] = []
    for notification_id, target_id in candidates:
        if len(chosen) >= capacity:
            break
        if busy.get(target_id, 0) < per_endpoint:
            busy[target_id] = busy.get(target_id, 0) + 1
            chosen.append(notification_id)
    return chosen
