"""Use cases of the webhook channel. Each takes a unit of work (its transaction
and the events it stages) and a command, and returns domain results.

Two kinds of caller: the HTTP API (subscriptions, notifications, redelivery)
and the event handlers (routing matching events into notifications, and
routing the events held until their parties were known). The delivery worker's
side, claiming and recording attempts, is `webhooks.channel`."""

from __future__ import annotations

import uuid
from collections.abc import Collection, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, Literal

from aiohttp.abc import AbstractResolver

from services.notification.outbound import repository as outbound
from services.notification.outbound.policy import Clock
from services.notification.outbound.repository import Redelivery
from services.notification.parties import repository as parties
from services.notification.parties.model import KnownEnterprise, KnownParticipant
from services.notification.webhooks import repository as repo
from services.notification.webhooks import ssrf
from services.notification.webhooks.model import (
    Ended,
    NewNotification,
    NewSubscription,
    Notification,
    NotificationDetail,
    RotatedSecret,
    Subscription,
    SubscriptionChange,
)
from services.notification.webhooks.routing import (
    Routable,
    RoutingPlan,
    build_body,
    concerning,
    plan_routing,
)
from services.notification.webhooks.signing import new_secret
from shared.contracts import parse_data
from shared.contracts.notification import DeliveryOutcome, NotificationEventType
from shared.envelope import Envelope
from shared.errors import Conflict, InvalidInput, NotFound
from shared.logging import get_logger
from shared.unit_of_work import UnitOfWork

log = get_logger(__name__)


class Subscriptions:
    """What partners do over HTTP: subscriptions, their notifications, redelivery."""

    def __init__(
        self,
        *,
        clock: Clock,
        allow_private: bool,
        resolver: AbstractResolver | None = None,
        dns_timeout: float = 5.0,
    ) -> None:
        self.clock = clock
        self.allow_private = allow_private
        self.dns_timeout = dns_timeout
        # Public: tests swap it for the system resolver.
        self.resolver = resolver

    async def _check_url(self, url: str) -> None:
        try:
            await ssrf.check_endpoint(url, self.allow_private, self.resolver, self.dns_timeout)
        except ssrf.EndpointRefused as exc:
            raise InvalidInput(exc.reason, field="url") from None

    async def create(self, uow: UnitOfWork, fields: dict[str, Any]) -> NewSubscription:
        """Subscribe the caller's endpoint; `fields` are the subscription's columns."""
        await self._check_url(fields["url"])
        now = self.clock()
        secret = new_secret()
        created = await repo.insert_subscription(
            uow.conn, uuid.uuid4(), uow.partner_id, fields, now
        )
        await repo.insert_secret(uow.conn, created.id, secret, now)
        log.info("subscription.created", subscription_id=str(created.id))
        return NewSubscription(created, secret)

    async def get(
        self, uow: UnitOfWork, subscription_id: uuid.UUID, *, for_update: bool = False
    ) -> Subscription:
        """The caller's subscription; another partner's answers as missing."""
        found = await repo.get_subscription(
            uow.conn, uow.partner_id, subscription_id, for_update=for_update
        )
        if found is None:
            raise NotFound("no such subscription", field="subscription_id")
        return found

    async def page(
        self, uow: UnitOfWork, *, after: int | None, limit: int
    ) -> tuple[list[Subscription], int | None]:
        return await repo.list_subscriptions(uow.conn, uow.partner_id, after=after, limit=limit)

    async def update(
        self, uow: UnitOfWork, subscription_id: uuid.UUID, change: SubscriptionChange
    ) -> Subscription:
        if "url" in change.fields:
            await self._check_url(change.fields["url"])
        now = self.clock()
        current = await self.get(uow, subscription_id, for_update=True)
        if change.empty:
            return current
        status = change.status or current.status
        reason = (
            None if status == "active" else current.disabled_reason or "disabled by the partner"
        )
        fields = current.fields() | change.fields
        updated = await repo.update_subscription(
            uow.conn, subscription_id, fields, status, reason, now
        )
        if current.status == "active" and status == "disabled":
            await kill_pending(uow, subscription_id, "the subscription was disabled", now)
        log.info("subscription.updated", subscription_id=str(subscription_id))
        return updated

    async def rotate_secret(
        self, uow: UnitOfWork, subscription_id: uuid.UUID, overlap_seconds: int
    ) -> RotatedSecret:
        """A new signing secret; the current one keeps signing for the overlap."""
        now = self.clock()
        secret = new_secret()
        await self.get(uow, subscription_id, for_update=True)
        expires = await repo.retire_secrets(
            uow.conn, subscription_id, now + timedelta(seconds=overlap_seconds), now
        )
        await repo.insert_secret(uow.conn, subscription_id, secret, now)
        log.info("subscription.secret_rotated", subscription_id=str(subscription_id))
        return RotatedSecret(subscription_id, secret, expires)

    async def notifications(
        self,
        uow: UnitOfWork,
        subscription_id: uuid.UUID,
        *,
        status: str | None,
        after: int | None,
        limit: int,
    ) -> tuple[list[Notification], int | None]:
        await self.get(uow, subscription_id)
        return await repo.list_notifications(
            uow.conn, subscription_id, status=status, after=after, limit=limit
        )

    async def notification(
        self, uow: UnitOfWork, subscription_id: uuid.UUID, notification_id: uuid.UUID
    ) -> NotificationDetail:
        await self.get(uow, subscription_id)
        found = await repo.get_notification(uow.conn, subscription_id, notification_id)
        if found is None:
            raise NotFound("no such notification", field="notification_id")
        return NotificationDetail(found, await outbound.attempts_of(uow.conn, notification_id))

    async def redeliver_one(
        self, uow: UnitOfWork, subscription_id: uuid.UUID, notification_id: uuid.UUID
    ) -> Notification:
        """Send a dead (or delivered) notification again, on a fresh schedule and
        with the same webhook-id, so the receiver can tell it is the same one."""
        await self._active(uow, subscription_id)
        found = await repo.get_notification(
            uow.conn, subscription_id, notification_id, for_update=True
        )
        if found is None:
            raise NotFound("no such notification", field="notification_id")
        if found.status == "pending":
            raise Conflict("this notification is still being delivered", field="status")
        await outbound.redeliver(
            uow.conn,
            "webhook",
            Redelivery(notification_id=notification_id),
            self.clock(),
            subscription_id=subscription_id,
        )
        again = await repo.get_notification(uow.conn, subscription_id, notification_id)
        assert again is not None
        log.info("notification.redelivery_requested", notification_id=str(notification_id))
        return again

    async def redeliver_range(
        self, uow: UnitOfWork, subscription_id: uuid.UUID, since: datetime, until: datetime
    ) -> int:
        await self._active(uow, subscription_id)
        count = await outbound.redeliver(
            uow.conn,
            "webhook",
            Redelivery(since=since, until=until),
            self.clock(),
            subscription_id=subscription_id,
        )
        log.info(
            "notification.bulk_redelivery_requested",
            subscription_id=str(subscription_id),
            notifications=count,
        )
        return count

    async def redeliver_everywhere(self, uow: UnitOfWork, since: datetime, until: datetime) -> int:
        """Operator's bulk redelivery across every active subscription, e.g. after
        an outage of this service's own egress made notifications die."""
        count = await outbound.redeliver(
            uow.conn, "webhook", Redelivery(since=since, until=until), self.clock()
        )
        log.info("notification.operator_redelivery_requested", notifications=count)
        return count

    async def _active(self, uow: UnitOfWork, subscription_id: uuid.UUID) -> None:
        if (await self.get(uow, subscription_id, for_update=True)).status != "active":
            raise Conflict("enable the subscription first (PATCH status: active)", field="status")


MatchingEvent = tuple[Envelope, Routable]


class Routing:
    """Matching events into one notification per subscription that wants them."""

    def __init__(self, *, clock: Clock) -> None:
        self.clock = clock

    async def route(self, uow: UnitOfWork, events: Sequence[MatchingEvent]) -> int:
        """Route a run of matching events at once: who wants each is decided
        before anything is written (an event nobody wants leaves no row), then
        every notification goes in with one statement. An event about a party
        not known yet is held, and routed when both are (docs/notification.md).
        Returns how many notifications it made."""
        if not events:
            return 0
        conn = uow.conn
        about = [concerning(e.type, d) for e, d in events]
        participants = await parties.get_participants(conn, {c.participant_id for c in about})
        enterprises = await parties.get_enterprises(conn, {c.enterprise_id for c in about})
        if any(
            c.participant_id not in participants or c.enterprise_id not in enterprises
            for c in about
        ):
            # Look again under the hold lock: a registration committed since is
            # seen now, one still in progress will find these events held.
            await parties.lock_hold(conn)
            participants |= await parties.get_participants(
                conn, {c.participant_id for c in about} - participants.keys()
            )
            enterprises |= await parties.get_enterprises(
                conn, {c.enterprise_id for c in about} - enterprises.keys()
            )
        types = {c.event_type for c in about}
        partners = {p.partner_id for p in participants.values()} | {
            e.partner_id for e in enterprises.values() if e.partner_id is not None
        }
        subscriptions = await repo.interested_subscriptions(conn, partners, types)
        unknown = any(c.enterprise_id not in enterprises for c in about)
        enterprise_side = await repo.enterprise_side_types(conn, types) if unknown else frozenset()
        plan = plan_routing(about, participants, enterprises, subscriptions, enterprise_side)
        now = self.clock()
        if plan.hold:
            await parties.hold_events(conn, [_with_data(*events[i]) for i in plan.hold], now)
            log.info("notification.events_held", events=len(plan.hold))
        partner_of = {s.id: s.partner_id for s in subscriptions}
        rows = _notifications(events, plan, participants, enterprises, partner_of)
        made = await repo.insert_notifications(conn, rows, now) if rows else 0
        if made:
            log.info("notification.routed", events=len(events), notifications=made)
        return made

    async def release_held(self, uow: UnitOfWork, party_ids: Collection[uuid.UUID]) -> None:
        """Route the events held for parties that are known now."""
        if not party_ids:
            return
        # Taken after the parties' upsert: a route that held an event first has
        # committed it by the time we get the lock (so take_held finds it), and
        # a route coming later waits for our commit and then sees the rows we wrote.
        await parties.lock_hold(uow.conn)
        released: list[MatchingEvent] = []
        for held in await parties.take_held(uow.conn, party_ids):
            data = parse_data(held.envelope)
            assert isinstance(data, Routable)
            released.append((held.envelope, data))
        await self.route(uow, released)


def _with_data(envelope: Envelope, data: Routable) -> Envelope:
    """The event as it is kept (a batch's change arrives with its data beside it)."""
    return (
        envelope
        if envelope.data
        else envelope.model_copy(update={"data": data.model_dump(mode="json")})
    )


def _notifications(
    events: Sequence[MatchingEvent],
    plan: RoutingPlan,
    participants: Mapping[uuid.UUID, KnownParticipant],
    enterprises: Mapping[uuid.UUID, KnownEnterprise],
    partner_of: Mapping[uuid.UUID, uuid.UUID],
) -> list[NewNotification]:
    """The rows of a plan's deliveries (each the subscriber's, by subscription
    id in `partner_of`); each event's body is built once."""
    bodies: dict[int, str] = {}
    rows = []
    for i, subscription_id in plan.deliveries:
        envelope, data = events[i]
        participant = participants[data.participant_id]
        if i not in bodies:
            bodies[i] = build_body(
                envelope.type,
                envelope.id,
                envelope.occurred_at,
                data,
                participant.party,
                enterprises[data.enterprise_id].party,
            )
        rows.append(
            NewNotification(
                subscription_id=subscription_id,
                partner_id=partner_of[subscription_id],
                event_id=envelope.id,
                event_type=envelope.type,
                correlation_id=envelope.correlation_id,
                participant_id=data.participant_id,
                body=bodies[i],
            )
        )
    return rows


async def kill_pending(
    uow: UnitOfWork, subscription_id: uuid.UUID, reason: str, now: datetime
) -> None:
    """A disabled subscription's pending notifications end dead (visible, and
    redeliverable once it is enabled again)."""
    killed = await repo.kill_pending(uow.conn, subscription_id, reason, now)
    for ended in killed:
        emit_outcome(uow, ended, "notification.dead", now)
    if killed:
        log.info(
            "subscription.pending_killed",
            subscription_id=str(subscription_id),
            notifications=len(killed),
        )


_STATUS_OF: dict[NotificationEventType, Literal["delivered", "failed", "dead"]] = {
    "notification.delivered": "delivered",
    "notification.failed": "failed",
    "notification.dead": "dead",
}


def emit_outcome(
    uow: UnitOfWork, ended: Ended, event: NotificationEventType, now: datetime
) -> None:
    """Stage `event` about a notification, in the flow of the event that caused it."""
    outcome = DeliveryOutcome(
        notification_id=ended.id,
        subscription_id=ended.subscription_id,
        partner_id=ended.partner_id,
        event_id=ended.event_id,
        event_type=ended.event_type,
        attempts=ended.attempts,
        status=_STATUS_OF[event],
        at=now,
    )
    uow.acting_as(ended.context).emit(event, ended.id, outcome)
