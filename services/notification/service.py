"""Notification use cases. Each takes a connection and a command, changes state
and stages the events that change causes in the outbox, in one transaction.

Three kinds of caller: the HTTP API (subscriptions, notifications, redelivery),
the consumer (the read model of registration, routing matching events into
notifications) and the delivery worker (claiming due notifications, recording
how each attempt ended)."""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import asyncpg
from aiohttp.abc import AbstractResolver

from services.notification import domain, ssrf
from services.notification import repository as repo
from services.notification.email_service import Emails
from services.notification.schemas import (
    AttemptOut,
    NotificationDetail,
    NotificationOut,
    NotificationQuery,
    RedeliverRangeIn,
    RotateIn,
    SecretOut,
    SubscriptionCreated,
    SubscriptionIn,
    SubscriptionOut,
    SubscriptionPatch,
    SubscriptionQuery,
)
from services.notification.signing import new_secret
from shared.contracts import parse_data
from shared.contracts.matching import Match, Meeting
from shared.contracts.notification import DeliveryOutcome
from shared.contracts.registration import Enterprise, Participant, Withdrawn
from shared.envelope import Context, Envelope, new_event, utcnow
from shared.errors import Conflict, InvalidInput, NotFound
from shared.logging import get_logger
from shared.outbox import add_events
from shared.topics import Topics

log = get_logger(__name__)

PRODUCER = "notification"


@dataclass(frozen=True)
class Delivery:
    """One claimed attempt: what to send where, and the lease it runs under."""

    notification_id: uuid.UUID
    number: int  # of this attempt among all of the notification's attempts
    tries: int  # of this attempt in the current schedule
    token: uuid.UUID
    subscription_id: uuid.UUID
    partner_id: uuid.UUID
    event_id: uuid.UUID
    event_type: str
    correlation_id: str
    url: str
    body: str
    secrets: tuple[str, ...]


class Notifications:
    def __init__(
        self,
        topics: Topics,
        *,
        policy: domain.RetryPolicy,
        allow_private: bool = False,
        clock: domain.Clock = utcnow,
        resolver: AbstractResolver | None = None,
        rand: Callable[[], float] = random.random,
        emails: Emails,
    ) -> None:
        self._topic = topics.notification
        # E-mail to people: the same table, leases and attempts, its own rules.
        self.emails = emails
        self.policy = policy
        self.allow_private = allow_private
        self.clock = clock
        self.resolver = resolver
        self._rand = rand

    # --- subscriptions ------------------------------------------------------------

    async def _check_url(self, url: str) -> str:
        try:
            await ssrf.check_endpoint(url, self.allow_private, self.resolver)
        except ssrf.EndpointRefused as exc:
            raise InvalidInput(exc.reason, field="url") from None
        return url

    async def create_subscription(
        self, conn: asyncpg.Connection, ctx: Context, cmd: SubscriptionIn
    ) -> SubscriptionCreated:
        assert ctx.partner_id is not None
        await self._check_url(cmd.url)
        now = self.clock()
        secret = new_secret()
        async with conn.transaction():
            row = await repo.insert_subscription(
                conn, uuid.uuid4(), ctx.partner_id, _stored(cmd.model_dump()), now
            )
            await repo.insert_secret(conn, row["id"], secret, now)
        log.info("subscription.created", subscription_id=str(row["id"]))
        return SubscriptionCreated(**_subscription_out(row).model_dump(), secret=secret)

    async def get_subscription(
        self, conn: asyncpg.Connection, ctx: Context, subscription_id: uuid.UUID
    ) -> SubscriptionOut:
        return _subscription_out(await self._subscription(conn, ctx, subscription_id))

    async def list_subscriptions(
        self, conn: asyncpg.Connection, ctx: Context, q: SubscriptionQuery
    ) -> tuple[list[SubscriptionOut], int | None]:
        assert ctx.partner_id is not None
        rows, cursor = await repo.list_subscriptions(
            conn, ctx.partner_id, cursor=q.cursor, limit=q.limit
        )
        return [_subscription_out(r) for r in rows], cursor

    async def update_subscription(
        self,
        conn: asyncpg.Connection,
        ctx: Context,
        subscription_id: uuid.UUID,
        patch: SubscriptionPatch,
    ) -> SubscriptionOut:
        changes = patch.model_dump(exclude_unset=True)
        if "url" in changes:
            await self._check_url(changes["url"])
        now = self.clock()
        async with conn.transaction():
            row = await self._subscription(conn, ctx, subscription_id, for_update=True)
            if not changes:
                return _subscription_out(row)
            fields = {k: row[k] for k in (*_FILTERS, "url", "description", "event_types")}
            fields |= _stored(changes)
            fields["status"] = changes.get("status", row["status"])
            fields["disabled_reason"] = (
                None
                if fields["status"] == "active"
                else row["disabled_reason"] or "disabled by the partner"
            )
            updated = await repo.update_subscription(conn, subscription_id, fields, now)
            if row["status"] == "active" and fields["status"] == "disabled":
                await self._kill_pending(conn, subscription_id, "the subscription was disabled")
        log.info("subscription.updated", subscription_id=str(subscription_id))
        return _subscription_out(updated)

    async def rotate_secret(
        self, conn: asyncpg.Connection, ctx: Context, subscription_id: uuid.UUID, cmd: RotateIn
    ) -> SecretOut:
        now = self.clock()
        secret = new_secret()
        async with conn.transaction():
            await self._subscription(conn, ctx, subscription_id, for_update=True)
            expires = await repo.retire_secrets(
                conn, subscription_id, now + timedelta(seconds=cmd.overlap_seconds), now
            )
            await repo.insert_secret(conn, subscription_id, secret, now)
        log.info("subscription.secret_rotated", subscription_id=str(subscription_id))
        return SecretOut(
            subscription_id=subscription_id, secret=secret, previous_expires_at=expires
        )

    async def _subscription(
        self,
        conn: asyncpg.Connection,
        ctx: Context,
        subscription_id: uuid.UUID,
        *,
        for_update: bool = False,
    ) -> asyncpg.Record:
        assert ctx.partner_id is not None
        row = await repo.get_subscription(
            conn, ctx.partner_id, subscription_id, for_update=for_update
        )
        if row is None:
            raise NotFound("no such subscription", field="subscription_id")
        return row

    # --- notifications and redelivery ---------------------------------------------------

    async def list_notifications(
        self,
        conn: asyncpg.Connection,
        ctx: Context,
        subscription_id: uuid.UUID,
        q: NotificationQuery,
    ) -> tuple[list[NotificationOut], int | None]:
        await self._subscription(conn, ctx, subscription_id)
        rows, cursor = await repo.list_notifications(
            conn, subscription_id, status=q.status, cursor=q.cursor, limit=q.limit
        )
        return [_notification_out(r) for r in rows], cursor

    async def get_notification(
        self,
        conn: asyncpg.Connection,
        ctx: Context,
        subscription_id: uuid.UUID,
        notification_id: uuid.UUID,
    ) -> NotificationDetail:
        await self._subscription(conn, ctx, subscription_id)
        row = await repo.get_notification(conn, subscription_id, notification_id)
        if row is None:
            raise NotFound("no such notification", field="notification_id")
        attempts = await repo.attempts_of(conn, notification_id)
        return NotificationDetail(
            **_notification_out(row).model_dump(),
            payload=_json(row["body"]),
            attempt_log=[
                AttemptOut(**{k: a[k] for k in AttemptOut.model_fields}) for a in attempts
            ],
        )

    async def redeliver_one(
        self,
        conn: asyncpg.Connection,
        ctx: Context,
        subscription_id: uuid.UUID,
        notification_id: uuid.UUID,
    ) -> NotificationOut:
        """Send a dead (or delivered) notification again, on a fresh schedule and
        with the same webhook-id, so the receiver can tell it is the same one."""
        async with conn.transaction():
            await self._active_subscription(conn, ctx, subscription_id)
            row = await repo.get_notification(
                conn, subscription_id, notification_id, for_update=True
            )
            if row is None:
                raise NotFound("no such notification", field="notification_id")
            if row["status"] == domain.PENDING:
                raise Conflict("this notification is still being delivered", field="status")
            await repo.redeliver(
                conn,
                self.clock(),
                subscription_id=subscription_id,
                notification_id=notification_id,
            )
            row = await repo.get_notification(conn, subscription_id, notification_id)
        log.info("notification.redelivery_requested", notification_id=str(notification_id))
        return _notification_out(row)

    async def redeliver_range(
        self,
        conn: asyncpg.Connection,
        ctx: Context,
        subscription_id: uuid.UUID,
        cmd: RedeliverRangeIn,
    ) -> int:
        async with conn.transaction():
            await self._active_subscription(conn, ctx, subscription_id)
            count = await repo.redeliver(
                conn,
                self.clock(),
                subscription_id=subscription_id,
                since=cmd.since,
                until=cmd.until,
            )
        log.info(
            "notification.bulk_redelivery_requested",
            subscription_id=str(subscription_id),
            notifications=count,
        )
        return count

    async def redeliver_everywhere(self, conn: asyncpg.Connection, cmd: RedeliverRangeIn) -> int:
        """Operator's bulk redelivery across every active subscription, e.g. after
        an outage of this service's own egress made notifications die."""
        async with conn.transaction():
            count = await repo.redeliver(conn, self.clock(), since=cmd.since, until=cmd.until)
        log.info("notification.operator_redelivery_requested", notifications=count)
        return count

    async def _active_subscription(
        self, conn: asyncpg.Connection, ctx: Context, subscription_id: uuid.UUID
    ) -> None:
        row = await self._subscription(conn, ctx, subscription_id, for_update=True)
        if row["status"] != "active":
            raise Conflict("enable the subscription first (PATCH status: active)", field="status")

    # --- the read model and routing (consumer) ---------------------------------------------

    async def participant_changed(
        self, conn: asyncpg.Connection, envelope: Envelope, data: Participant
    ) -> None:
        if envelope.partner_id is None:
            # Registration always names the partner; without it nothing can be routed.
            log.warning("participant.without_partner", participant_id=str(data.participant_id))
            return
        await repo.upsert_participant(conn, envelope.partner_id, data)
        await self._release_held(conn, data.participant_id)

    async def enterprise_changed(
        self, conn: asyncpg.Connection, envelope: Envelope, data: Enterprise
    ) -> None:
        await repo.upsert_enterprise(conn, envelope.partner_id, data)
        await self._release_held(conn, data.enterprise_id)

    async def participant_withdrawn(
        self, conn: asyncpg.Connection, _envelope: Envelope, data: Withdrawn
    ) -> None:
        await repo.withdraw(conn, "participants", data.id, data.version)

    async def enterprise_withdrawn(
        self, conn: asyncpg.Connection, _envelope: Envelope, data: Withdrawn
    ) -> None:
        await repo.withdraw(conn, "enterprises", data.id, data.version)

    async def route(
        self, conn: asyncpg.Connection, envelope: Envelope, data: Match | Meeting
    ) -> int:
        """Turn a matching event into one notification per subscription that
        wants it. An event about a participant or enterprise not known yet is
        held, and routed when both are (see docs/notification.md). Returns how
        many notifications it made."""
        participant = await repo.get_participant(conn, data.participant_id)
        enterprise = await repo.get_enterprise(conn, data.enterprise_id)
        if participant is None or enterprise is None:
            # Look again under the hold lock: a registration committed since is
            # seen now, one still in progress will find this event held.
            await repo.lock_hold(conn)
            participant = await repo.get_participant(conn, data.participant_id)
            enterprise = await repo.get_enterprise(conn, data.enterprise_id)
        if participant is None or enterprise is None:
            await repo.hold_event(
                conn,
                envelope.id,
                data.participant_id,
                data.enterprise_id,
                envelope.model_dump(mode="json"),
            )
            log.info("notification.event_held", event_id=str(envelope.id))
            return 0
        who = _party(participant, kind=participant["kind"])
        what = _party(enterprise, country=enterprise["country"])
        body = domain.build_body(envelope.type, envelope.id, envelope.occurred_at, data, who, what)
        now = self.clock()
        rows = [
            {
                "id": uuid.uuid4(),
                "subscription_id": s["id"],
                "partner_id": participant["partner_id"],
                "event_id": envelope.id,
                "event_type": envelope.type,
                "correlation_id": envelope.correlation_id,
                "participant_id": data.participant_id,
                "body": body,
                "now": now,
            }
            for s in await repo.active_subscriptions(conn, participant["partner_id"])
            if domain.wants(_filters(s), envelope.type, who, what)
        ]
        if rows:
            await repo.insert_notifications(conn, rows)
            log.info("notification.routed", event_id=str(envelope.id), notifications=len(rows))
        return len(rows)

    async def _release_held(self, conn: asyncpg.Connection, party_id: uuid.UUID) -> None:
        # Taken after the upsert: a route that held an event first has committed
        # it by the time we get the lock (so take_held finds it), and a route
        # coming later waits for our commit and then sees the row we wrote.
        await repo.lock_hold(conn)
        for row in sorted(await repo.take_held(conn, party_id), key=lambda r: r["seq"]):
            envelope = Envelope.model_validate(row["envelope"])
            data = parse_data(envelope)
            assert isinstance(data, Match | Meeting)
            await self.route(conn, envelope, data)

    # --- delivery (worker) -----------------------------------------------------------------

    async def claim(
        self, conn: asyncpg.Connection, *, capacity: int, per_endpoint: int, lease: float, scan: int
    ) -> list[Delivery]:
        """Claim up to `capacity` due notifications for one attempt each, keeping
        every subscription within `per_endpoint` requests in flight across all
        workers. The claim is a lease: a worker that dies mid-delivery loses it
        after `lease` seconds and another worker tries again."""
        now = self.clock()
        token = uuid.uuid4()
        async with conn.transaction():
            candidates = await repo.due_candidates(conn, now, per_endpoint, scan)
            if not candidates:
                return []
            subscriptions = await repo.lock_subscriptions(
                conn, sorted({c["subscription_id"] for c in candidates})
            )
            usable = set(subscriptions)
            busy = await repo.in_flight(conn, subscriptions, now)
            chosen = domain.pick_within_limits(
                [
                    (c["id"], c["subscription_id"])
                    for c in candidates
                    if c["subscription_id"] in usable
                ],
                busy,
                per_endpoint,
                capacity,
            )
            if not chosen:
                return []
            rows = await repo.lease(conn, chosen, token, now + timedelta(seconds=lease), now)
        return [
            Delivery(
                notification_id=r["id"],
                number=r["attempts"],
                tries=r["tries"],
                token=token,
                subscription_id=r["subscription_id"],
                partner_id=r["partner_id"],
                event_id=r["event_id"],
                event_type=r["event_type"],
                correlation_id=r["correlation_id"],
                url=r["url"],
                body=r["body"],
                secrets=tuple(r["secrets"]),
            )
            for r in rows
        ]

    async def record(
        self, conn: asyncpg.Connection, delivery: Delivery, attempt: domain.Attempt
    ) -> domain.Decision | None:
        """Store how an attempt ended and what happens next: delivered, retried
        later, or dead; a 410 also disables the subscription. Returns None when
        the lease had expired (another worker owns the notification now)."""
        now = self.clock()
        decision = domain.decide(attempt, delivery.tries, self.policy, now, self._rand)
        async with conn.transaction():
            settled = await repo.record_attempt(
                conn,
                delivery.notification_id,
                delivery.number,
                delivery.token,
                attempt,
                decision,
                now,
            )
            if not settled:
                return None
            outcome = DeliveryOutcome(
                notification_id=delivery.notification_id,
                subscription_id=delivery.subscription_id,
                partner_id=delivery.partner_id,
                event_id=delivery.event_id,
                event_type=delivery.event_type,
                attempts=delivery.number,
                status=decision.event.removeprefix("notification."),
                at=now,
            )
            await self._emit(conn, delivery.correlation_id, [(decision.event, outcome)])
            if attempt.outcome == domain.GONE:
                await repo.set_disabled(
                    conn, delivery.subscription_id, "the endpoint answered 410 Gone", now
                )
                await self._kill_pending(
                    conn, delivery.subscription_id, "the subscription was disabled"
                )
        return decision

    async def _kill_pending(
        self, conn: asyncpg.Connection, subscription_id: uuid.UUID, reason: str
    ) -> None:
        """A disabled subscription's pending notifications end dead (visible, and
        redeliverable once it is enabled again)."""
        now = self.clock()
        killed = await repo.kill_pending(conn, subscription_id, reason, now)
        for row in killed:
            dead = DeliveryOutcome(
                notification_id=row["id"],
                subscription_id=row["subscription_id"],
                partner_id=row["partner_id"],
                event_id=row["event_id"],
                event_type=row["event_type"],
                attempts=row["attempts"],
                status="dead",
                at=now,
            )
            await self._emit(conn, row["correlation_id"], [("notification.dead", dead)])
        if killed:
            log.info(
                "subscription.pending_killed",
                subscription_id=str(subscription_id),
                notifications=len(killed),
            )

    async def _emit(
        self,
        conn: asyncpg.Connection,
        correlation_id: str,
        items: Sequence[tuple[str, DeliveryOutcome]],
    ) -> None:
        await add_events(
            conn,
            self._topic,
            [
                new_event(
                    PRODUCER,
                    Context(
                        correlation_id=correlation_id,
                        partner_id=data.partner_id,
                        causation_id=str(data.event_id),
                    ),
                    type_,
                    data.notification_id,
                    data,
                )
                for type_, data in items
            ],
        )


_FILTERS = ("participant_ids", "participant_kinds", "sectors")


def _stored(fields: dict[str, Any]) -> dict[str, Any]:
    """Request fields as the columns hold them (enums as their values)."""
    out = dict(fields)
    if out.get("participant_kinds") is not None:
        out["participant_kinds"] = [str(k) for k in out["participant_kinds"]]
    out.pop("status", None)
    return out


def _filters(row: asyncpg.Record) -> domain.Filters:
    def opt(values: list[Any] | None) -> frozenset[Any] | None:
        return frozenset(values) if values is not None else None

    return domain.Filters(
        event_types=frozenset(row["event_types"]),
        participant_ids=opt(row["participant_ids"]),
        participant_kinds=opt(row["participant_kinds"]),
        sectors=opt(row["sectors"]),
    )


def _party(
    row: asyncpg.Record, *, kind: str | None = None, country: str | None = None
) -> domain.Party:
    return domain.Party(
        id=row["id"], name=row["name"], kind=kind, country=country, sectors=tuple(row["sectors"])
    )


def _subscription_out(row: asyncpg.Record) -> SubscriptionOut:
    return SubscriptionOut(
        subscription_id=row["id"],
        **{k: row[k] for k in SubscriptionOut.model_fields if k != "subscription_id"},
    )


def _notification_out(row: asyncpg.Record) -> NotificationOut:
    return NotificationOut(
        notification_id=row["id"],
        **{k: row[k] for k in NotificationOut.model_fields if k != "notification_id"},
    )


def _json(text: str) -> dict[str, Any]:
    value: dict[str, Any] = json.loads(text)
    return value
