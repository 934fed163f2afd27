"""SQL of the outbound machinery both channels share: the `notifications` rows'
leases, their attempts in `delivery_attempts`, and redelivery. Every function
takes the caller's connection, so the use case decides the transaction."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

import asyncpg

from services.notification.outbound.policy import (
    Attempt,
    Channel,
    Decision,
    NotificationStatus,
    RetryPolicy,
    decide,
)


@dataclass(frozen=True)
class Leased:
    """A notification taken for one attempt: what either channel needs of it."""

    id: uuid.UUID
    number: int  # of this attempt among all of the notification's attempts
    tries: int  # of this attempt in the current schedule
    body: str
    subscription_id: uuid.UUID | None  # webhooks
    recipient_id: uuid.UUID | None  # e-mail
    partner_id: uuid.UUID | None
    event_id: uuid.UUID
    event_type: str
    correlation_id: str


@dataclass(frozen=True)
class Outbound:
    """Where a notification of either channel stands, as the API shows it."""

    id: uuid.UUID
    event_id: uuid.UUID  # the event that caused it
    event_type: str
    status: NotificationStatus
    attempts: int
    next_attempt_at: datetime | None
    last_status_code: int | None
    last_error: str | None
    created_at: datetime
    delivered_at: datetime | None
    dead_at: datetime | None
    body: str


@dataclass(frozen=True)
class AttemptRecord:
    """One stored attempt, as the API lists them."""

    number: int
    started_at: datetime
    finished_at: datetime | None
    outcome: str
    status_code: int | None
    latency_ms: int | None
    error: str | None


async def lease(
    conn: asyncpg.Connection,
    ids: Sequence[uuid.UUID],
    token: uuid.UUID,
    lease_end: datetime,
    now: datetime,
) -> list[Leased]:
    """Take the notifications for one attempt each, recording the attempt as in
    flight, and any attempt a dead worker left in flight as abandoned."""
    # One statement: its parts share a snapshot, so the abandoning part does not
    # see the attempts the starting part inserts.
    rows = await conn.fetch(
        """WITH abandoned AS (
               UPDATE delivery_attempts SET outcome = 'abandoned', finished_at = $4,
                      error = 'the worker lost its lease (it died or stalled)'
                WHERE notification_id = ANY($1::uuid[]) AND outcome = 'in_flight'
           ), leased AS (
               UPDATE notifications n
                  SET lease_token = $2, next_attempt_at = $3, attempts = n.attempts + 1,
                      tries = n.tries + 1, updated_at = $4
                WHERE n.id = ANY($1::uuid[])
            RETURNING n.id, n.attempts, n.tries, n.body, n.subscription_id, n.recipient_id,
                      n.partner_id, n.event_id, n.event_type, n.correlation_id
           ), started AS (
               INSERT INTO delivery_attempts (notification_id, number, started_at, outcome)
               SELECT id, attempts, $4, 'in_flight' FROM leased
           )
           SELECT * FROM leased""",
        list(ids),
        token,
        lease_end,
        now,
    )
    return [
        Leased(
            id=r["id"],
            number=r["attempts"],
            tries=r["tries"],
            body=r["body"],
            subscription_id=r["subscription_id"],
            recipient_id=r["recipient_id"],
            partner_id=r["partner_id"],
            event_id=r["event_id"],
            event_type=r["event_type"],
            correlation_id=r["correlation_id"],
        )
        for r in rows
    ]


async def record_attempts(
    conn: asyncpg.Connection,
    ended: Sequence[tuple[Claimed, Attempt, Decision]],
    now: datetime,
) -> list[bool]:
    """Store a run of attempts' ends and their notifications' next states, two
    statements for the run; each only while this worker still holds its lease
    (False: it expired and the notification moved on, or it was cancelled)."""
    if not ended:
        return []
    ids = [job.notification_id for job, _, _ in ended]
    codes = [attempt.status_code for _, attempt, _ in ended]
    errors = [attempt.error for _, attempt, _ in ended]
    await conn.execute(
        """UPDATE delivery_attempts a
              SET outcome = u.outcome, status_code = u.status_code, latency_ms = u.latency_ms,
                  error = u.error, finished_at = $7
             FROM unnest($1::uuid[], $2::int[], $3::text[], $4::int[], $5::int[], $6::text[])
                  AS u(id, number, outcome, status_code, latency_ms, error)
            WHERE a.notification_id = u.id AND a.number = u.number""",
        ids,
        [job.number for job, _, _ in ended],
        [attempt.outcome for _, attempt, _ in ended],
        codes,
        [attempt.latency_ms for _, attempt, _ in ended],
        errors,
        now,
    )
    rows = await conn.fetch(
        """UPDATE notifications n
              SET status = u.status, next_attempt_at = u.next_attempt_at, lease_token = NULL,
                  last_status_code = u.status_code, last_error = u.error, updated_at = $7,
                  delivered_at = CASE WHEN u.status = 'delivered' THEN $7::timestamptz END,
                  dead_at = CASE WHEN u.status = 'dead' THEN $7::timestamptz END
             FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::timestamptz[], $5::int[],
                         $6::text[])
                  AS u(id, token, status, next_attempt_at, status_code, error)
            WHERE n.id = u.id AND n.lease_token = u.token AND n.status = 'pending'
        RETURNING n.id, u.token""",
        ids,
        [job.token for job, _, _ in ended],
        [decision.status for _, _, decision in ended],
        [decision.next_attempt_at for _, _, decision in ended],
        codes,
        errors,
        now,
    )
    settled = {(r["id"], r["token"]) for r in rows}
    return [(job.notification_id, job.token) in settled for job, _, _ in ended]


async def give_up(
    conn: asyncpg.Connection,
    notification_id: uuid.UUID,
    *,
    number: int,
    token: uuid.UUID,
    error: str,
    now: datetime,
) -> bool:
    """End a notification dead, with `error`, when its attempt cannot even be
    recorded (the failure is the same on every try); only while this worker
    still holds the lease. False: the lease was lost meanwhile."""
    await conn.execute(
        """UPDATE delivery_attempts SET outcome = 'failed', error = $3, finished_at = $4
            WHERE notification_id = $1 AND number = $2""",
        notification_id,
        number,
        error,
        now,
    )
    result = await conn.execute(
        """UPDATE notifications
              SET status = 'dead', next_attempt_at = NULL, lease_token = NULL,
                  last_error = $3, dead_at = $4, updated_at = $4
            WHERE id = $1 AND lease_token = $2 AND status = 'pending'""",
        notification_id,
        token,
        error,
        now,
    )
    return bool(result != "UPDATE 0")


class Claimed(Protocol):
    """A leased attempt as a channel holds it."""

    @property
    def notification_id(self) -> uuid.UUID: ...

    @property
    def number(self) -> int: ...

    @property
    def tries(self) -> int: ...

    @property
    def token(self) -> uuid.UUID: ...


async def conclude(
    conn: asyncpg.Connection,
    ended: Sequence[tuple[Claimed, Attempt]],
    policy: RetryPolicy,
    now: datetime,
    rand: Callable[[], float],
) -> list[Decision | None]:
    """Decide what follows each attempt of a run under the channel's policy and
    store it; None for an attempt whose lease was lost."""
    decided = [
        (job, attempt, decide(attempt, job.tries, policy, now, rand)) for job, attempt in ended
    ]
    settled = await record_attempts(conn, decided, now)
    return [d if ok else None for (_, _, d), ok in zip(decided, settled, strict=True)]


async def attempts_of(conn: asyncpg.Connection, notification_id: uuid.UUID) -> list[AttemptRecord]:
    rows = await conn.fetch(
        """SELECT number, started_at, finished_at, outcome, status_code, latency_ms, error
             FROM delivery_attempts WHERE notification_id = $1 ORDER BY number""",
        notification_id,
    )
    return [AttemptRecord(**dict(r)) for r in rows]


async def fetch_page(
    conn: asyncpg.Connection, query: str, *args: Any, after: int | None, limit: int
) -> tuple[list[dict[str, Any]], int | None]:
    """A page of a list in `seq` order: `query` selects `seq` and takes `args`,
    then the seq to start after and the row limit as its last two parameters.
    Returns the rows (without seq) and the seq the next page starts after
    (None: this is the last)."""
    rows = await conn.fetch(query, *args, after or 0, limit + 1)
    key = rows[limit - 1]["seq"] if len(rows) > limit else None
    return [{k: v for k, v in r.items() if k != "seq"} for r in rows[:limit]], key


@dataclass(frozen=True)
class Redelivery:
    """Which notifications go back on a fresh schedule: one (dead or delivered)
    by id, or every dead one created in [since, until)."""

    notification_id: uuid.UUID | None = None
    since: datetime | None = None
    until: datetime | None = None


# Only notifications a channel may still send go again: webhooks of active
# subscriptions, e-mails to recipients with an address who have not opted out.
_SENDABLE: dict[Channel, str] = {
    "webhook": "subscription_id IN (SELECT id FROM subscriptions WHERE status = 'active')",
    "email": """recipient_id IN (SELECT id FROM recipients
                                   WHERE email IS NOT NULL AND opted_out_at IS NULL)""",
}


async def redeliver(
    conn: asyncpg.Connection,
    channel: Channel,
    which: Redelivery,
    now: datetime,
    *,
    subscription_id: uuid.UUID | None = None,
) -> int:
    """Put a channel's notifications back on a fresh schedule, due now (of one
    subscription only, if given), and wake the workers."""
    args: list[Any] = [now, channel]

    def arg(value: Any) -> str:
        args.append(value)
        return f"${len(args)}"

    conditions = ["channel = $2", _SENDABLE[channel]]
    if subscription_id is not None:
        conditions.append(f"subscription_id = {arg(subscription_id)}")
    if which.notification_id is not None:
        conditions.append(f"id = {arg(which.notification_id)} AND status IN ('dead', 'delivered')")
    else:
        conditions.append(f"status = 'dead' AND created_at >= {arg(which.since)}")
        conditions.append(f"created_at < {arg(which.until)}")
    result = await conn.execute(
        f"""UPDATE notifications
               SET status = 'pending', tries = 0, next_attempt_at = $1, lease_token = NULL,
                   delivered_at = NULL, dead_at = NULL, updated_at = $1
             WHERE {" AND ".join(conditions)}""",
        *args,
    )
    count = int(result.split()[-1])
    if count:
        await conn.execute("SELECT pg_notify('notifications', '')")
    return count
