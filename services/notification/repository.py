"""Notification's SQL. Every function takes the caller's connection, so the
service decides the transaction; partner-facing reads are scoped to the partner."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import asyncpg

from services.notification import domain
from shared.contracts.registration import Enterprise, Participant

# --- read model of registration -------------------------------------------------


async def upsert_participant(
    conn: asyncpg.Connection, partner_id: uuid.UUID, p: Participant
) -> None:
    # Only ever forward: a replayed or late older version changes nothing.
    await conn.execute(
        """INSERT INTO participants (id, partner_id, roadshow_id, kind, name, sectors, status,
                                     version)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
           ON CONFLICT (id) DO UPDATE SET partner_id = EXCLUDED.partner_id,
                  roadshow_id = EXCLUDED.roadshow_id, kind = EXCLUDED.kind,
                  name = EXCLUDED.name, sectors = EXCLUDED.sectors, status = EXCLUDED.status,
                  version = EXCLUDED.version
            WHERE participants.version < EXCLUDED.version""",
        p.participant_id,
        partner_id,
        p.roadshow_id,
        p.kind.value,
        p.name,
        p.sectors,
        p.status,
        p.version,
    )


async def upsert_enterprise(
    conn: asyncpg.Connection, partner_id: uuid.UUID | None, e: Enterprise
) -> None:
    await conn.execute(
        """INSERT INTO enterprises (id, partner_id, roadshow_id, name, country, sectors, status,
                                    version)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
           ON CONFLICT (id) DO UPDATE SET partner_id = EXCLUDED.partner_id,
                  roadshow_id = EXCLUDED.roadshow_id, name = EXCLUDED.name,
                  country = EXCLUDED.country, sectors = EXCLUDED.sectors,
                  status = EXCLUDED.status, version = EXCLUDED.version
            WHERE enterprises.version < EXCLUDED.version""",
        e.enterprise_id,
        partner_id,
        e.roadshow_id,
        e.name,
        e.country,
        e.sectors,
        e.status,
        e.version,
    )


async def withdraw(conn: asyncpg.Connection, table: str, id_: uuid.UUID, version: int) -> None:
    assert table in ("participants", "enterprises")
    await conn.execute(
        f"UPDATE {table} SET status = 'withdrawn', version = $2 WHERE id = $1 AND version < $2",
        id_,
        version,
    )


async def get_participant(conn: asyncpg.Connection, id_: uuid.UUID) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM participants WHERE id = $1", id_)


async def get_enterprise(conn: asyncpg.Connection, id_: uuid.UUID) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM enterprises WHERE id = $1", id_)


_HOLD_LOCK = 72_410_010


async def lock_hold(conn: asyncpg.Connection) -> None:
    """Serialise, until commit, holding events and releasing them. Without it,
    two consumer instances could each be blind to the other's uncommitted row:
    one holds an event because the participant is missing, while the other
    registers that participant and finds nothing held, and the event would stay
    held for good."""
    await conn.execute("SELECT pg_advisory_xact_lock($1)", _HOLD_LOCK)


async def hold_event(
    conn: asyncpg.Connection,
    event_id: uuid.UUID,
    participant_id: uuid.UUID,
    enterprise_id: uuid.UUID,
    envelope: dict[str, Any],
) -> None:
    await conn.execute(
        """INSERT INTO held_events (event_id, participant_id, enterprise_id, envelope)
           VALUES ($1, $2, $3, $4) ON CONFLICT (event_id) DO NOTHING""",
        event_id,
        participant_id,
        enterprise_id,
        envelope,
    )


async def take_held(conn: asyncpg.Connection, party_id: uuid.UUID) -> list[asyncpg.Record]:
    """Held events concerning this participant or enterprise whose other party is
    known too, removed from the hold, in arrival order."""
    return list(
        await conn.fetch(
            """DELETE FROM held_events h
                WHERE (h.participant_id = $1 OR h.enterprise_id = $1)
                  AND EXISTS (SELECT 1 FROM participants p WHERE p.id = h.participant_id)
                  AND EXISTS (SELECT 1 FROM enterprises e WHERE e.id = h.enterprise_id)
            RETURNING h.seq, h.envelope""",
            party_id,
        )
    )


async def held_count(conn: asyncpg.Connection | asyncpg.Pool) -> int:
    n: int = await conn.fetchval("SELECT count(*) FROM held_events")
    return n


# --- subscriptions -------------------------------------------------------------------


_SUBSCRIPTION_FIELDS = (
    "url",
    "description",
    "event_types",
    "participant_ids",
    "participant_kinds",
    "sectors",
)


async def insert_subscription(
    conn: asyncpg.Connection,
    id_: uuid.UUID,
    partner_id: uuid.UUID,
    fields: dict[str, Any],
    now: datetime,
) -> asyncpg.Record:
    return await conn.fetchrow(
        """INSERT INTO subscriptions (id, partner_id, url, description, event_types,
                                      participant_ids, participant_kinds, sectors,
                                      created_at, updated_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9) RETURNING *""",
        id_,
        partner_id,
        *(fields[k] for k in _SUBSCRIPTION_FIELDS),
        now,
    )


async def update_subscription(
    conn: asyncpg.Connection, id_: uuid.UUID, fields: dict[str, Any], now: datetime
) -> asyncpg.Record:
    return await conn.fetchrow(
        """UPDATE subscriptions SET url = $2, description = $3, event_types = $4,
                  participant_ids = $5, participant_kinds = $6, sectors = $7,
                  status = $8, disabled_reason = $9, version = version + 1, updated_at = $10
            WHERE id = $1 RETURNING *""",
        id_,
        *(fields[k] for k in _SUBSCRIPTION_FIELDS),
        fields["status"],
        fields["disabled_reason"],
        now,
    )


async def get_subscription(
    conn: asyncpg.Connection, partner_id: uuid.UUID, id_: uuid.UUID, *, for_update: bool = False
) -> asyncpg.Record | None:
    # NO KEY UPDATE: a change must not block new notifications that only
    # reference the subscription (their foreign key takes KEY SHARE).
    lock = " FOR NO KEY UPDATE" if for_update else ""
    return await conn.fetchrow(
        f"SELECT * FROM subscriptions WHERE id = $1 AND partner_id = $2{lock}", id_, partner_id
    )


async def list_subscriptions(
    conn: asyncpg.Connection, partner_id: uuid.UUID, *, cursor: int | None, limit: int
) -> tuple[list[asyncpg.Record], int | None]:
    rows = await conn.fetch(
        "SELECT * FROM subscriptions WHERE partner_id = $1 AND seq > $2 ORDER BY seq LIMIT $3",
        partner_id,
        cursor or 0,
        limit + 1,
    )
    return _page(list(rows), limit)


async def active_subscriptions(
    conn: asyncpg.Connection, partner_id: uuid.UUID
) -> list[asyncpg.Record]:
    return list(
        await conn.fetch(
            "SELECT * FROM subscriptions WHERE partner_id = $1 AND status = 'active' ORDER BY seq",
            partner_id,
        )
    )


async def set_disabled(
    conn: asyncpg.Connection, id_: uuid.UUID, reason: str, now: datetime
) -> None:
    await conn.execute(
        """UPDATE subscriptions SET status = 'disabled', disabled_reason = $2,
                  version = version + 1, updated_at = $3
            WHERE id = $1 AND status = 'active'""",
        id_,
        reason,
        now,
    )


async def insert_secret(
    conn: asyncpg.Connection, subscription_id: uuid.UUID, secret: str, now: datetime
) -> None:
    await conn.execute(
        "INSERT INTO subscription_secrets (subscription_id, secret, created_at) VALUES ($1, $2, $3)",
        subscription_id,
        secret,
        now,
    )


async def retire_secrets(
    conn: asyncpg.Connection, subscription_id: uuid.UUID, expires_at: datetime, now: datetime
) -> datetime | None:
    """End the current secret at `expires_at` and forget those already expired;
    returns when the one just retired expires."""
    await conn.execute(
        "DELETE FROM subscription_secrets WHERE subscription_id = $1 AND expires_at <= $2",
        subscription_id,
        now,
    )
    expiry: datetime | None = await conn.fetchval(
        """UPDATE subscription_secrets SET expires_at = $2
            WHERE subscription_id = $1 AND expires_at IS NULL RETURNING expires_at""",
        subscription_id,
        expires_at,
    )
    return expiry


# --- notifications ------------------------------------------------------------------


async def insert_notifications(conn: asyncpg.Connection, rows: Sequence[dict[str, Any]]) -> None:
    """Fan-out; a notification per (subscription, event) at most, however often
    the event is routed."""
    await conn.executemany(
        """INSERT INTO notifications (id, subscription_id, partner_id, event_id, event_type,
                                      correlation_id, participant_id, body, next_attempt_at,
                                      created_at, updated_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9, $9)
           ON CONFLICT (subscription_id, event_id) DO NOTHING""",
        [
            (
                r["id"],
                r["subscription_id"],
                r["partner_id"],
                r["event_id"],
                r["event_type"],
                r["correlation_id"],
                r["participant_id"],
                r["body"],
                r["now"],
            )
            for r in rows
        ],
    )


async def due_candidates(
    conn: asyncpg.Connection, now: datetime, per_subscription: int, limit: int
) -> list[asyncpg.Record]:
    """Due notifications of active subscriptions, oldest due first, locked.
    At most `per_subscription` from each, so one subscription's backlog cannot
    hide every other subscription's work; rows another worker is claiming right
    now are skipped, not waited for."""
    return list(
        await conn.fetch(
            """SELECT n.id, n.subscription_id
                 FROM subscriptions s
                 CROSS JOIN LATERAL (
                       SELECT id, subscription_id, next_attempt_at FROM notifications
                        WHERE subscription_id = s.id AND status = 'pending'
                          AND next_attempt_at <= $1
                        ORDER BY next_attempt_at
                        LIMIT $2
                          FOR UPDATE SKIP LOCKED) n
                WHERE s.status = 'active'
                ORDER BY n.next_attempt_at
                LIMIT $3""",
            now,
            per_subscription,
            limit,
        )
    )


async def lock_subscriptions(conn: asyncpg.Connection, ids: Sequence[uuid.UUID]) -> list[uuid.UUID]:
    """Serialise claimers of one subscription so its in-flight count is exact.
    SKIP LOCKED: a subscription busy elsewhere (another claim, a change) waits
    for the next round instead of risking a lock cycle."""
    rows = await conn.fetch(
        """SELECT id FROM subscriptions WHERE id = ANY($1::uuid[])
            ORDER BY id FOR NO KEY UPDATE SKIP LOCKED""",
        list(ids),
    )
    return [r["id"] for r in rows]


async def in_flight(
    conn: asyncpg.Connection, subscription_ids: Sequence[uuid.UUID], now: datetime
) -> dict[uuid.UUID, int]:
    rows = await conn.fetch(
        """SELECT subscription_id, count(*) AS n FROM notifications
            WHERE subscription_id = ANY($1::uuid[]) AND status = 'pending'
              AND lease_token IS NOT NULL AND next_attempt_at > $2
            GROUP BY subscription_id""",
        list(subscription_ids),
        now,
    )
    return {r["subscription_id"]: r["n"] for r in rows}


async def lease(
    conn: asyncpg.Connection,
    ids: Sequence[uuid.UUID],
    token: uuid.UUID,
    lease_end: datetime,
    now: datetime,
) -> list[asyncpg.Record]:
    """Take the notifications for one attempt each, recording the attempt as in
    flight, and any attempt a dead worker left in flight as abandoned."""
    await conn.execute(
        """UPDATE delivery_attempts SET outcome = 'abandoned', finished_at = $2,
                  error = 'the worker lost its lease (it died or stalled)'
            WHERE notification_id = ANY($1::uuid[]) AND outcome = 'in_flight'""",
        list(ids),
        now,
    )
    # Channel-neutral: a webhook also gets its endpoint and live secrets, an
    # e-mail its recipient (read by the caller, in the same transaction).
    rows = await conn.fetch(
        """UPDATE notifications n
              SET lease_token = $2, next_attempt_at = $3, attempts = n.attempts + 1,
                  tries = n.tries + 1, updated_at = $4
            WHERE n.id = ANY($1::uuid[])
        RETURNING n.id, n.channel, n.attempts, n.tries, n.body, n.subscription_id,
                  n.partner_id, n.event_id, n.event_type, n.correlation_id, n.recipient_id,
                  n.email_kind, n.category, n.roadshow_id,
                  (SELECT s.url FROM subscriptions s WHERE s.id = n.subscription_id) AS url,
                  ARRAY(SELECT ss.secret FROM subscription_secrets ss
                         WHERE ss.subscription_id = n.subscription_id
                           AND (ss.expires_at IS NULL OR ss.expires_at > $4)
                         ORDER BY ss.id DESC) AS secrets""",
        list(ids),
        token,
        lease_end,
        now,
    )
    await conn.executemany(
        """INSERT INTO delivery_attempts (notification_id, number, started_at, outcome)
           VALUES ($1, $2, $3, 'in_flight')""",
        [(r["id"], r["attempts"], now) for r in rows],
    )
    return list(rows)


async def finish_attempt(
    conn: asyncpg.Connection,
    notification_id: uuid.UUID,
    number: int,
    *,
    outcome: str,
    status_code: int | None,
    latency_ms: int | None,
    error: str | None,
    now: datetime,
) -> None:
    await conn.execute(
        """UPDATE delivery_attempts SET outcome = $3, status_code = $4, latency_ms = $5,
                  error = $6, finished_at = $7
            WHERE notification_id = $1 AND number = $2""",
        notification_id,
        number,
        outcome,
        status_code,
        latency_ms,
        error,
        now,
    )


async def settle(
    conn: asyncpg.Connection,
    notification_id: uuid.UUID,
    token: uuid.UUID,
    *,
    status: str,
    next_attempt_at: datetime | None,
    status_code: int | None,
    error: str | None,
    now: datetime,
) -> bool:
    """Record the end of an attempt on the notification, only while this worker
    still holds the lease (False: it expired and the notification moved on)."""
    result = await conn.execute(
        """UPDATE notifications
              SET status = $3::text, next_attempt_at = $4, lease_token = NULL,
                  last_status_code = $5, last_error = $6, updated_at = $7,
                  delivered_at = CASE WHEN $3::text = 'delivered' THEN $7::timestamptz END,
                  dead_at = CASE WHEN $3::text = 'dead' THEN $7::timestamptz END
            WHERE id = $1 AND lease_token = $2 AND status = 'pending'""",
        notification_id,
        token,
        status,
        next_attempt_at,
        status_code,
        error,
        now,
    )
    return bool(result != "UPDATE 0")


async def kill_pending(
    conn: asyncpg.Connection, subscription_id: uuid.UUID, reason: str, now: datetime
) -> list[asyncpg.Record]:
    return list(
        await conn.fetch(
            """UPDATE notifications
                  SET status = 'dead', next_attempt_at = NULL, lease_token = NULL,
                      last_error = $2, dead_at = $3, updated_at = $3
                WHERE subscription_id = $1 AND status = 'pending'
            RETURNING id, subscription_id, partner_id, event_id, event_type, correlation_id,
                      attempts""",
            subscription_id,
            reason,
            now,
        )
    )


async def list_notifications(
    conn: asyncpg.Connection,
    subscription_id: uuid.UUID,
    *,
    status: str | None,
    cursor: int | None,
    limit: int,
) -> tuple[list[asyncpg.Record], int | None]:
    rows = await conn.fetch(
        """SELECT * FROM notifications
            WHERE subscription_id = $1 AND seq > $2 AND ($3::text IS NULL OR status = $3)
            ORDER BY seq LIMIT $4""",
        subscription_id,
        cursor or 0,
        status,
        limit + 1,
    )
    return _page(list(rows), limit)


async def get_notification(
    conn: asyncpg.Connection,
    subscription_id: uuid.UUID,
    notification_id: uuid.UUID,
    *,
    for_update: bool = False,
) -> asyncpg.Record | None:
    lock = " FOR UPDATE" if for_update else ""
    return await conn.fetchrow(
        f"SELECT * FROM notifications WHERE id = $1 AND subscription_id = $2{lock}",
        notification_id,
        subscription_id,
    )


async def attempts_of(conn: asyncpg.Connection, notification_id: uuid.UUID) -> list[asyncpg.Record]:
    return list(
        await conn.fetch(
            "SELECT * FROM delivery_attempts WHERE notification_id = $1 ORDER BY number",
            notification_id,
        )
    )


async def redeliver(
    conn: asyncpg.Connection,
    now: datetime,
    *,
    subscription_id: uuid.UUID | None = None,
    notification_id: uuid.UUID | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> int:
    """Put notifications of active subscriptions back on a fresh schedule, due
    now: one (dead or delivered) by id, or the dead ones created in [since,
    until), of one subscription or of all."""
    args: list[Any] = [now]

    def arg(value: Any) -> str:
        args.append(value)
        return f"${len(args)}"

    conditions = ["subscription_id IN (SELECT id FROM subscriptions WHERE status = 'active')"]
    if subscription_id is not None:
        conditions.append(f"subscription_id = {arg(subscription_id)}")
    if notification_id is not None:
        conditions.append(f"id = {arg(notification_id)} AND status IN ('dead', 'delivered')")
    else:
        conditions.append(f"status = 'dead' AND created_at >= {arg(since)}")
        conditions.append(f"created_at < {arg(until)}")
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


def _page(rows: list[asyncpg.Record], limit: int) -> tuple[list[asyncpg.Record], int | None]:
    if len(rows) > limit:
        return rows[:limit], rows[limit - 1]["seq"]
    return rows, None


async def record_attempt(
    conn: asyncpg.Connection,
    notification_id: uuid.UUID,
    number: int,
    token: uuid.UUID,
    attempt: domain.Attempt,
    decision: domain.Decision,
    now: datetime,
) -> bool:
    """Store an attempt's end and the notification's next state, in the caller's
    transaction, for either channel. False when the lease was lost."""
    await finish_attempt(
        conn,
        notification_id,
        number,
        outcome=attempt.outcome,
        status_code=attempt.status_code,
        latency_ms=attempt.latency_ms,
        error=attempt.error,
        now=now,
    )
    return await settle(
        conn,
        notification_id,
        token,
        status=decision.status,
        next_attempt_at=decision.next_attempt_at,
        status_code=attempt.status_code,
        error=attempt.error,
        now=now,
    )
