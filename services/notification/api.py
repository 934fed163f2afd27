"""Notification's HTTP routes: parse the request, call the use case, respond."""

from __future__ import annotations

from aiohttp import web
from pydantic import BaseModel

from services.notification.domain import EVENT_TYPES
from services.notification.schemas import (
    NotificationDetail,
    NotificationOut,
    NotificationQuery,
    RedeliveredOut,
    RedeliverRangeIn,
    RotateIn,
    SecretOut,
    SubscriptionCreated,
    SubscriptionIn,
    SubscriptionOut,
    SubscriptionPatch,
    SubscriptionQuery,
)
from services.notification.service import Notifications
from shared.http.api import Api, path_id, read_body, read_json, read_query, respond
from shared.http.idempotency import create_once
from shared.http.middleware import POOL, caller_context
from shared.http.pagination import PageOut

SERVICE = web.AppKey("notification", Notifications)

api = Api(
    title="Roadshow notification",
    description="Partners subscribe HTTPS endpoints (theirs or their banks') to the matches "
    "and meetings of the participants they registered. Deliveries are signed in the "
    "Standard Webhooks format, retried with backoff for about a day, and every attempt "
    "is kept.",
)


class EventTypesOut(BaseModel):
    event_types: list[str]


@api.route(
    "GET",
    "/v1/event-types",
    summary="The event types a subscription can ask for",
    response=EventTypesOut,
    auth="none",
    tag="reference",
)
async def event_types(_: web.Request) -> web.StreamResponse:
    return respond(EventTypesOut(event_types=list(EVENT_TYPES)))


# --- subscriptions ----------------------------------------------------------------


@api.route(
    "POST",
    "/v1/subscriptions",
    summary="Subscribe an HTTPS endpoint; the signing secret is returned once",
    body=SubscriptionIn,
    response=SubscriptionCreated,
    status=201,
    tag="subscriptions",
    idempotent=True,
)
async def create_subscription(request: web.Request) -> web.StreamResponse:
    raw = await read_json(request)
    cmd = SubscriptionIn.model_validate(raw)
    return await create_once(
        request,
        raw,
        lambda conn: request.app[SERVICE].create_subscription(conn, caller_context(request), cmd),
    )


@api.route(
    "GET",
    "/v1/subscriptions",
    summary="List your subscriptions",
    query=SubscriptionQuery,
    response=PageOut[SubscriptionOut],
    tag="subscriptions",
)
async def list_subscriptions(request: web.Request) -> web.StreamResponse:
    q = read_query(request, SubscriptionQuery)
    async with request.app[POOL].acquire() as conn:
        items, cursor = await request.app[SERVICE].list_subscriptions(
            conn, caller_context(request), q
        )
    return respond(PageOut[SubscriptionOut](items=items, next_cursor=cursor))


@api.route(
    "GET",
    "/v1/subscriptions/{subscription_id}",
    summary="One subscription (never its secret)",
    response=SubscriptionOut,
    tag="subscriptions",
)
async def get_subscription(request: web.Request) -> web.StreamResponse:
    async with request.app[POOL].acquire() as conn:
        out = await request.app[SERVICE].get_subscription(
            conn, caller_context(request), path_id(request, "subscription_id")
        )
    return respond(out)


@api.route(
    "PATCH",
    "/v1/subscriptions/{subscription_id}",
    summary="Change a subscription, disable it, or enable it again",
    body=SubscriptionPatch,
    response=SubscriptionOut,
    tag="subscriptions",
)
async def update_subscription(request: web.Request) -> web.StreamResponse:
    patch = await read_body(request, SubscriptionPatch)
    async with request.app[POOL].acquire() as conn:
        out = await request.app[SERVICE].update_subscription(
            conn, caller_context(request), path_id(request, "subscription_id"), patch
        )
    return respond(out)


@api.route(
    "POST",
    "/v1/subscriptions/{subscription_id}/rotate-secret",
    summary="New signing secret; the previous one keeps signing during the overlap",
    body=RotateIn,
    response=SecretOut,
    tag="subscriptions",
)
async def rotate_secret(request: web.Request) -> web.StreamResponse:
    cmd = await read_body(request, RotateIn) if request.can_read_body else RotateIn()
    async with request.app[POOL].acquire() as conn:
        out = await request.app[SERVICE].rotate_secret(
            conn, caller_context(request), path_id(request, "subscription_id"), cmd
        )
    return respond(out)


# --- notifications ------------------------------------------------------------------


@api.route(
    "GET",
    "/v1/subscriptions/{subscription_id}/notifications",
    summary="A subscription's notifications, oldest first",
    query=NotificationQuery,
    response=PageOut[NotificationOut],
    tag="notifications",
)
async def list_notifications(request: web.Request) -> web.StreamResponse:
    q = read_query(request, NotificationQuery)
    async with request.app[POOL].acquire() as conn:
        items, cursor = await request.app[SERVICE].list_notifications(
            conn, caller_context(request), path_id(request, "subscription_id"), q
        )
    return respond(PageOut[NotificationOut](items=items, next_cursor=cursor))


@api.route(
    "GET",
    "/v1/subscriptions/{subscription_id}/notifications/{notification_id}",
    summary="One notification with its payload and every delivery attempt",
    response=NotificationDetail,
    tag="notifications",
)
async def get_notification(request: web.Request) -> web.StreamResponse:
    async with request.app[POOL].acquire() as conn:
        out = await request.app[SERVICE].get_notification(
            conn,
            caller_context(request),
            path_id(request, "subscription_id"),
            path_id(request, "notification_id"),
        )
    return respond(out)


@api.route(
    "POST",
    "/v1/subscriptions/{subscription_id}/notifications/{notification_id}/redeliver",
    summary="Deliver a dead (or delivered) notification again, same webhook-id",
    response=NotificationOut,
    status=202,
    tag="notifications",
)
async def redeliver_one(request: web.Request) -> web.StreamResponse:
    async with request.app[POOL].acquire() as conn:
        out = await request.app[SERVICE].redeliver_one(
            conn,
            caller_context(request),
            path_id(request, "subscription_id"),
            path_id(request, "notification_id"),
        )
    return respond(out, 202)


@api.route(
    "POST",
    "/v1/subscriptions/{subscription_id}/redeliver",
    summary="Deliver again every dead notification created in a time range",
    body=RedeliverRangeIn,
    response=RedeliveredOut,
    status=202,
    tag="notifications",
)
async def redeliver_range(request: web.Request) -> web.StreamResponse:
    cmd = await read_body(request, RedeliverRangeIn)
    async with request.app[POOL].acquire() as conn:
        count = await request.app[SERVICE].redeliver_range(
            conn, caller_context(request), path_id(request, "subscription_id"), cmd
        )
    return respond(RedeliveredOut(redelivered=count), 202)


# --- operator --------------------------------------------------------------------------


@api.route(
    "POST",
    "/admin/redeliver",
    summary="Deliver again every dead notification of active subscriptions in a time range",
    body=RedeliverRangeIn,
    response=RedeliveredOut,
    status=202,
    auth="admin",
    tag="admin",
)
async def redeliver_everywhere(request: web.Request) -> web.StreamResponse:
    cmd = await read_body(request, RedeliverRangeIn)
    async with request.app[POOL].acquire() as conn:
        count = await request.app[SERVICE].redeliver_everywhere(conn, cmd)
    return respond(RedeliveredOut(redelivered=count), 202)
