"""SQL of the webhook channel: subscriptions, their secrets, and the webhook
rows of `notifications`. Every function takes the caller's connection, so the
use case decides the transaction; partner-facing reads are scoped to the partner."""

from __future__ import annotations

import uuid
from collections.abc import Collection, Mapping, Sequence
from datetime import datetime
from typing import Any

import asyncpg

from services.notification.outbound.repository import fetch_page
from services.notification.webhooks.model import (
    SUBSCRIPTION_FIELDS,
    Ended,
    Endpoint,
    NewNotification,
    Notification,
    Subscription,
)
from services.notification.webhooks.routing import Filters, Interested

# --- subscriptions -------------------------------------------------------------------

_SUBSCRIPTION = """id, partner_id, url, description, event_types, participant_ids,
                   participant_kinds, sectors, sides, enterprise_ids, status, disabled_reason,
                   version, created_at, updated_at"""


def _subscription(row: Mapping[str, Any]) -> Subscription:
    return Subscription(**row)


async def insert_subscription(
    conn: asyncpg.Connection,
    id_: uuid.UUID,
    partner_id: uuid.UUID,
    fields: dict[str, Any],
    now: datetime,
) -> Subscription:
    row = await conn.fetchrow(
        f"""INSERT INTO subscriptions (id, partner_id, url, description, event_types,
                                       participant_ids, participant_kinds, sectors,
                                       sides, enterprise_ids, created_at, updated_at)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11)
            RETURNING {_SUBSCRIPTION}""",
        id_,
        partner_id,
        *(fields[k] for k in SUBSCRIPTION_FIELDS),
        now,
    )
    return _subscription(row)


async def update_subscription(
    conn: asyncpg.Connection,
    id_: uuid.UUID,
    fields: dict[str, Any],
    status: str,
    disabled_reason: str | None,
    now: datetime,
) -> Subscription:
    row = await conn.fetchrow(
        f"""UPDATE subscriptions SET url = $2, description = $3, event_types = $4,
                   participant_ids = $5, participant_kinds = $6, sectors = $7,
                   sides = $8, enterprise_ids = $9,
                   status = $10, disabled_reason = $11, version = version + 1, updated_at = $12
             WHERE id = $1 RETURNING {_SUBSCRIPTION}""",
        id_,
        *(fields[k] for k in SUBSCRIPTION_FIELDS),
        status,
        disabled_reason,
        now,
    )
    return _subscription(row)


async def get_subscription(
    conn: asyncpg.Connection, partner_id: uuid.UUID, id_: uuid.UUID, *, for_update: bool = False
) -> Subscription | None:
    # NO KEY UPDATE: a change must not block new notifications that only
    # reference the subscription (their foreign key takes KEY SHARE).
    lock = " FOR NO KEY UPDATE" if for_update else ""
    row = await conn.fetchrow(
        f"SELECT {_SUBSCRIPTION} FROM subscriptions WHERE id = $1 AND partner_id = $2{lock}",
        id_,
        partner_id,
    )
    return None if row is None else _subscription(row)


async def list_subscriptions(
    conn: asyncpg.Connection, partner_id: uuid.UUID, *, after: int | None, limit: int
) -> tuple[list[Subscription], int | None]:
    """A page in creation order, and the key the next one starts after (None: the end)."""
    page, key = await fetch_page(
        conn,
        f"""SELECT seq, {_SUBSCRIPTION} FROM subscriptions
             WHERE partner_id = $1 AND seq > $2 ORDER BY seq LIMIT $3""",
        partner_id,
        after=after,
        limit=limit,
    )
    return [_subscription(r) for r in page], key


async def interested_subscriptions(
    conn: asyncpg.Connection, partner_ids: Collection[uuid.UUID], event_types: Collection[str]
) -> list[Interested]:
    """Active subscriptions of these partners that take any of these event types,
    in creation order: every subscription a run of events could reach."""
    rows = await conn.fetch(
        """SELECT id, partner_id, event_types, participant_ids, participant_kinds, sectors,
                  sides, enterprise_ids
             FROM subscriptions
            WHERE partner_id = ANY($1::uuid[]) AND status = 'active'
              AND event_types && $2::text[]
            ORDER BY seq""",
        list(partner_ids),
        list(event_types),
    )
    return [
        Interested(
            r["id"],
            r["partner_id"],
            Filters(
                event_types=frozenset(r["event_types"]),
                participant_ids=_opt(r["participant_ids"]),
                participant_kinds=_opt(r["participant_kinds"]),
                sectors=_opt(r["sectors"]),
                sides=frozenset(r["sides"]),
                enterprise_ids=_opt(r["enterprise_ids"]),
            ),
        )
        for r in rows
    ]


async def enterprise_side_types(
    conn: asyncpg.Connection, event_types: Collection[str]
) -> frozenset[str]:
    """Which of these event types some active enterprise-side subscription takes
    (an event whose enterprise is not known yet may be for its partner)."""
    found = await conn.fetchval(
        """SELECT array_agg(DISTINCT t) FROM subscriptions, unnest(event_types) AS t
            WHERE status = 'active' AND 'enterprise' = ANY(sides) AND t = ANY($1::text[])""",
        list(event_types),
    )
    return frozenset(found or ())


def _opt(values: list[Any] | None) -> frozenset[Any] | None:
    return None if values is None else frozenset(values)


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


async def endpoints(
    conn: asyncpg.Connection, subscription_ids: Sequence[uuid.UUID], now: datetime
) -> dict[uuid.UUID, Endpoint]:
    """Where each subscription's webhooks go and the secrets that sign them."""
    rows = await conn.fetch(
        """SELECT s.id, s.url,
                  ARRAY(SELECT ss.secret FROM subscription_secrets ss
                         WHERE ss.subscription_id = s.id
                           AND (ss.expires_at IS NULL OR ss.expires_at > $2)
                         ORDER BY ss.id DESC) AS secrets
             FROM subscriptions s WHERE s.id = ANY($1::uuid[])""",
        list(subscription_ids),
        now,
    )
    return {r["id"]: Endpoint(r["url"], tuple(r["secrets"])) for r in rows}


# --- notifications ------------------------------------------------------------------


async def insert_notifications(
    conn: asyncpg.Connection, rows: Sequence[NewNotification], now: datetime
) -> int:
    """Fan-out in one statement, in the order given; a notification per
    (subscription, event) at most, however often the event is routed. Returns
    how many are new. (Its trigger wakes the delivery workers on commit.)"""
    inserted: int = await conn.fetchval(
        """WITH new AS (
             INSERT INTO notifications (id, subscription_id, partner_id, event_id, event_type,
                                        correlation_id, participant_id, body, next_attempt_at,
                                        created_at, updated_at)
             SELECT r.id, r.subscription_id, r.partner_id, r.event_id, r.event_type,
                    r.correlation_id, r.participant_id, r.body, $9, $9, $9
               FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::uuid[], $5::text[],
                           $6::text[], $7::uuid[], $8::text[])
                    WITH ORDINALITY AS r(id, subscription_id, partner_id, event_id, event_type,
                                         correlation_id, participant_id, body, n)
              ORDER BY r.n
             ON CONFLICT (subscription_id, event_id) DO NOTHING
             RETURNING 1)
           SELECT count(*) FROM new""",
        [uuid.uuid4() for _ in rows],
        [r.subscription_id for r in rows],
        [r.partner_id for r in rows],
        [r.event_id for r in rows],
        [r.event_type for r in rows],
        [r.correlation_id for r in rows],
        [r.participant_id for r in rows],
        [r.body for r in rows],
        now,
    )
    return inserted


async def due_candidates(
    conn: asyncpg.Connection, now: datetime, per_subscription: int, limit: int
) -> list[tuple[uuid.UUID, uuid.UUID]]:
    """Due (notification, subscription) pairs of active subscriptions, oldest
    due first, locked. At most `per_subscription` from each, so one
    subscription's backlog cannot hide every other subscription's work; rows
    another worker is claiming right now are skipped, not waited for."""
    rows = await conn.fetch(
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
    return [(r["id"], r["subscription_id"]) for r in rows]


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


async def kill_pending(
    conn: asyncpg.Connection, subscription_id: uuid.UUID, reason: str, now: datetime
) -> list[Ended]:
    rows = await conn.fetch(
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
    return [Ended(**dict(r)) for r in rows]


_NOTIFICATION = """id, subscription_id, event_id, event_type, status, attempts, next_attempt_at,
                   last_status_code, last_error, created_at, delivered_at, dead_at, body"""


async def list_notifications(
    conn: asyncpg.Connection,
    subscription_id: uuid.UUID,
    *,
    status: str | None,
    after: int | None,
    limit: int,
) -> tuple[list[Notification], int | None]:
    page, key = await fetch_page(
        conn,
        f"""SELECT seq, {_NOTIFICATION} FROM notifications
             WHERE subscription_id = $1 AND ($2::text IS NULL OR status = $2) AND seq > $3
             ORDER BY seq LIMIT $4""",
        subscription_id,
        status,
        after=after,
        limit=limit,
    )
    return [Notification(**r) for r in page], key


async def get_notification(
    conn: asyncpg.Connection,
    subscription_id: uuid.UUID,
    notification_id: uuid.UUID,
    *,
    for_update: bool = False,
) -> Notification | None:
    lock = " FOR UPDATE" if for_update else ""
    row = await conn.fetchrow(
        f"""SELECT {_NOTIFICATION} FROM notifications
             WHERE id = $1 AND subscription_id = $2{lock}""",
        notification_id,
        subscription_id,
    )
    return None if row is None else Notification(**dict(row))
