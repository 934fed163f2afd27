"""Notification's HTTP routes: parse the request, call the use case, respond."""

from __future__ import annotations

import html

from aiohttp import web
from pydantic import BaseModel, Field

from services.notification.domain import EVENT_TYPES
from services.notification.schemas import (
    EmailDetail,
    EmailOut,
    EmailQuery,
    EmailRecipientOut,
    NotificationDetail,
    NotificationOut,
    NotificationQuery,
    OptOutIn,
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
from shared.errors import NotFound
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
    "is kept. Presidents and participant contacts receive their schedule, change notices "
    "and a reminder by e-mail; partners can opt a person of theirs out, and every message "
    "carries a one-click unsubscribe link.",
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


# --- e-mail to people ------------------------------------------------------------------
#
# A person is named by role and organisation: /v1/email/presidents/{enterprise_id}
# or /v1/email/contacts/{participant_id}; answers never carry a name or address.

_PERSON = "/v1/email/{role}/{party_id}"


def _role(request: web.Request) -> str:
    role = request.match_info["role"]
    if role not in ("presidents", "contacts"):
        raise NotFound("no such resource", field="role")
    return role


@api.route(
    "GET",
    _PERSON,
    summary="A person's e-mail standing (role: presidents or contacts)",
    response=EmailRecipientOut,
    tag="email",
)
async def get_email_recipient(request: web.Request) -> web.StreamResponse:
    async with request.app[POOL].acquire() as conn:
        out = await request.app[SERVICE].emails.get_recipient(
            conn, caller_context(request), _role(request), path_id(request, "party_id")
        )
    return respond(out)


@api.route(
    "PUT",
    _PERSON + "/opt-out",
    summary="Opt a person of yours out of every e-mail (or lift an opt-out you set)",
    body=OptOutIn,
    response=EmailRecipientOut,
    tag="email",
)
async def set_email_opt_out(request: web.Request) -> web.StreamResponse:
    cmd = await read_body(request, OptOutIn)
    async with request.app[POOL].acquire() as conn:
        out = await request.app[SERVICE].emails.set_opt_out(
            conn, caller_context(request), _role(request), path_id(request, "party_id"), cmd
        )
    return respond(out)


@api.route(
    "GET",
    _PERSON + "/messages",
    summary="E-mails to a person of yours, oldest first",
    query=EmailQuery,
    response=PageOut[EmailOut],
    tag="email",
)
async def list_emails(request: web.Request) -> web.StreamResponse:
    q = read_query(request, EmailQuery)
    async with request.app[POOL].acquire() as conn:
        items, cursor = await request.app[SERVICE].emails.list_emails(
            conn, caller_context(request), _role(request), path_id(request, "party_id"), q
        )
    return respond(PageOut[EmailOut](items=items, next_cursor=cursor))


@api.route(
    "GET",
    _PERSON + "/messages/{message_id}",
    summary="One e-mail with its content and every attempt",
    response=EmailDetail,
    tag="email",
)
async def get_email(request: web.Request) -> web.StreamResponse:
    async with request.app[POOL].acquire() as conn:
        out = await request.app[SERVICE].emails.get_email(
            conn,
            caller_context(request),
            _role(request),
            path_id(request, "party_id"),
            path_id(request, "message_id"),
        )
    return respond(out)


@api.route(
    "POST",
    _PERSON + "/messages/{message_id}/redeliver",
    summary="Send a dead (or delivered) e-mail again, same Message-ID",
    response=EmailOut,
    status=202,
    tag="email",
)
async def redeliver_email(request: web.Request) -> web.StreamResponse:
    async with request.app[POOL].acquire() as conn:
        out = await request.app[SERVICE].emails.redeliver_one(
            conn,
            caller_context(request),
            _role(request),
            path_id(request, "party_id"),
            path_id(request, "message_id"),
        )
    return respond(out, 202)


@api.route(
    "POST",
    "/admin/email/redeliver",
    summary="Send again every dead e-mail created in a time range",
    body=RedeliverRangeIn,
    response=RedeliveredOut,
    status=202,
    auth="admin",
    tag="admin",
)
async def redeliver_emails_everywhere(request: web.Request) -> web.StreamResponse:
    cmd = await read_body(request, RedeliverRangeIn)
    async with request.app[POOL].acquire() as conn:
        count = await request.app[SERVICE].emails.redeliver_everywhere(conn, cmd)
    return respond(RedeliveredOut(redelivered=count), 202)


class UnsubscribeQuery(BaseModel):
    token: str = Field(min_length=1, max_length=200, description="From the message's link")


@api.route(
    "GET",
    "/v1/email/unsubscribe",
    summary="The unsubscribe page of a message's link: asks to confirm (changes nothing)",
    query=UnsubscribeQuery,
    auth="none",
    tag="email",
)
async def unsubscribe_page(request: web.Request) -> web.StreamResponse:
    # GET never unsubscribes: mail scanners and link previews fetch every link
    # in a message, and must not opt the person out behind their back.
    q = read_query(request, UnsubscribeQuery)
    if request.app[SERVICE].emails.recipient_of_token(q.token) is None:
        raise NotFound("this link is not valid", field="token")
    token = html.escape(q.token, quote=True)
    return _page(
        "Stop e-mails from the road show?",
        "<p>You will receive no more e-mail about your meetings: no schedule, no change "
        "notices, no reminders.</p>"
        f'<form method="post" action="?token={token}">'
        '<button type="submit">Unsubscribe</button></form>',
    )


@api.route(
    "POST",
    "/v1/email/unsubscribe",
    summary="Unsubscribe (the page's button, or a mail client's one-click, RFC 8058)",
    query=UnsubscribeQuery,
    auth="none",
    tag="email",
)
async def unsubscribe(request: web.Request) -> web.StreamResponse:
    q = read_query(request, UnsubscribeQuery)
    async with request.app[POOL].acquire() as conn:
        done = await request.app[SERVICE].emails.unsubscribe(conn, q.token)
    if not done:
        raise NotFound("this link is not valid", field="token")
    return _page(
        "You are unsubscribed",
        "<p>You will receive no more e-mail from us about this road show.</p>",
    )


def _page(title: str, body: str) -> web.Response:
    return web.Response(
        text=f"<!doctype html><html><head><title>{html.escape(title)}</title></head>"
        f"<body><h1>{html.escape(title)}</h1>{body}</body></html>",
        content_type="text/html",
    )
