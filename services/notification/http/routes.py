"""Notification's HTTP routes: the route declaration parses and injects the
request, the handler calls the use case and maps its domain result to a schema."""

from __future__ import annotations

import html
import uuid
from collections.abc import Mapping
from typing import Any, Literal
from zoneinfo import ZoneInfo

from aiohttp import web

from services.notification.email.feedback import FeedbackChoice, FeedbackRequest
from services.notification.email.matches import AnswerRequest
from services.notification.email.rules import (
    ANSWER_LABELS,
    CONTACT,
    INTEREST_LABELS,
    NEXT_STEP_LABELS,
    PRESIDENT,
    TOOK_PLACE_LABELS,
    Role,
)
from services.notification.http import webhooks
from services.notification.http.schemas import (
    AnswerQuery,
    EmailDetail,
    EmailOut,
    EmailQuery,
    EmailRecipientOut,
    EventTypesOut,
    FeedbackForm,
    FeedbackQuery,
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
    UnsubscribeQuery,
)
from services.notification.use_cases import UseCases
from services.notification.webhooks.model import SubscriptionChange
from services.notification.webhooks.routing import WEBHOOK_EVENT_TYPES
from shared.errors import NotFound
from shared.http.api import Api, Call
from shared.pagination import PageOut, encode_cursor

USE_CASES = web.AppKey("use_cases", UseCases)

api = Api(
    title="Roadshow notification",
    description="Partners subscribe HTTPS endpoints (theirs or their banks') to the matches "
    "and meetings of the participants they registered. Deliveries are signed in the "
    "Standard Webhooks format, retried with backoff for about a day, and every attempt "
    "is kept. Presidents and participant contacts receive their schedule, change notices "
    "and a reminder by e-mail, and their proposed matches with accept / decline / must-meet "
    "links (then a daily digest of changes), and after each meeting a link to say how it "
    "went; partners can opt a person of theirs out, and "
    "every message carries a one-click unsubscribe link.",
)
webhooks.declare(api, WEBHOOK_EVENT_TYPES)


def _use(call: Call[Any, Any]) -> UseCases:
    return call.app[USE_CASES]


def _cursor(key: int | None) -> str | None:
    return None if key is None else encode_cursor(key)


def _columns(fields: dict[str, Any]) -> dict[str, Any]:
    """Request fields as the subscription's columns hold them (kinds as their values)."""
    fields = {k: v for k, v in fields.items() if k != "status"}
    if fields.get("participant_kinds") is not None:
        fields["participant_kinds"] = [str(k) for k in fields["participant_kinds"]]
    return fields


@api.route(
    "GET",
    "/v1/event-types",
    summary="The event types a subscription can ask for",
    response=EventTypesOut,
    auth="none",
    tag="reference",
    database=False,
)
async def event_types(_: Call[None, None]) -> EventTypesOut:
    return EventTypesOut(event_types=list(WEBHOOK_EVENT_TYPES))


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
async def create_subscription(call: Call[SubscriptionIn, None]) -> SubscriptionCreated:
    created = await _use(call).subscriptions.create(call.uow, _columns(call.body.model_dump()))
    return SubscriptionCreated.of_new(created)


@api.route(
    "GET",
    "/v1/subscriptions",
    summary="List your subscriptions",
    query=SubscriptionQuery,
    response=PageOut[SubscriptionOut],
    tag="subscriptions",
)
async def list_subscriptions(call: Call[None, SubscriptionQuery]) -> PageOut[SubscriptionOut]:
    q = call.query
    items, key = await _use(call).subscriptions.page(call.uow, after=q.after_seq(), limit=q.limit)
    return PageOut[SubscriptionOut](
        items=[SubscriptionOut.of(s) for s in items], next_cursor=_cursor(key)
    )


@api.route(
    "GET",
    "/v1/subscriptions/{subscription_id}",
    summary="One subscription (never its secret)",
    response=SubscriptionOut,
    tag="subscriptions",
)
async def get_subscription(call: Call[None, None]) -> SubscriptionOut:
    found = await _use(call).subscriptions.get(call.uow, call.id("subscription_id"))
    return SubscriptionOut.of(found)


@api.route(
    "PATCH",
    "/v1/subscriptions/{subscription_id}",
    summary="Change a subscription, disable it, or enable it again",
    body=SubscriptionPatch,
    response=SubscriptionOut,
    tag="subscriptions",
)
async def update_subscription(call: Call[SubscriptionPatch, None]) -> SubscriptionOut:
    change = SubscriptionChange(
        _columns(call.body.model_dump(exclude_unset=True)), call.body.status
    )
    updated = await _use(call).subscriptions.update(call.uow, call.id("subscription_id"), change)
    return SubscriptionOut.of(updated)


@api.route(
    "POST",
    "/v1/subscriptions/{subscription_id}/rotate-secret",
    summary="New signing secret; the previous one keeps signing during the overlap",
    body=RotateIn,
    response=SecretOut,
    tag="subscriptions",
    body_optional=True,
)
async def rotate_secret(call: Call[RotateIn, None]) -> SecretOut:
    rotated = await _use(call).subscriptions.rotate_secret(
        call.uow, call.id("subscription_id"), call.body.overlap_seconds
    )
    return SecretOut.of(rotated)


# --- notifications ------------------------------------------------------------------


@api.route(
    "GET",
    "/v1/subscriptions/{subscription_id}/notifications",
    summary="A subscription's notifications, oldest first",
    query=NotificationQuery,
    response=PageOut[NotificationOut],
    tag="notifications",
)
async def list_notifications(call: Call[None, NotificationQuery]) -> PageOut[NotificationOut]:
    q = call.query
    items, key = await _use(call).subscriptions.notifications(
        call.uow, call.id("subscription_id"), status=q.status, after=q.after_seq(), limit=q.limit
    )
    return PageOut[NotificationOut](
        items=[NotificationOut.of(n) for n in items], next_cursor=_cursor(key)
    )


@api.route(
    "GET",
    "/v1/subscriptions/{subscription_id}/notifications/{notification_id}",
    summary="One notification with its payload and every delivery attempt",
    response=NotificationDetail,
    tag="notifications",
)
async def get_notification(call: Call[None, None]) -> NotificationDetail:
    found = await _use(call).subscriptions.notification(
        call.uow, call.id("subscription_id"), call.id("notification_id")
    )
    return NotificationDetail.of_detail(found)


@api.route(
    "POST",
    "/v1/subscriptions/{subscription_id}/notifications/{notification_id}/redeliver",
    summary="Deliver a dead (or delivered) notification again, same webhook-id",
    response=NotificationOut,
    status=202,
    tag="notifications",
)
async def redeliver_one(call: Call[None, None]) -> NotificationOut:
    again = await _use(call).subscriptions.redeliver_one(
        call.uow, call.id("subscription_id"), call.id("notification_id")
    )
    return NotificationOut.of(again)


@api.route(
    "POST",
    "/v1/subscriptions/{subscription_id}/redeliver",
    summary="Deliver again every dead notification created in a time range",
    body=RedeliverRangeIn,
    response=RedeliveredOut,
    status=202,
    tag="notifications",
)
async def redeliver_range(call: Call[RedeliverRangeIn, None]) -> RedeliveredOut:
    count = await _use(call).subscriptions.redeliver_range(
        call.uow, call.id("subscription_id"), call.body.since, call.body.until
    )
    return RedeliveredOut(redelivered=count)


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
async def redeliver_everywhere(call: Call[RedeliverRangeIn, None]) -> RedeliveredOut:
    count = await _use(call).subscriptions.redeliver_everywhere(
        call.uow, call.body.since, call.body.until
    )
    return RedeliveredOut(redelivered=count)


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
async def redeliver_emails_everywhere(call: Call[RedeliverRangeIn, None]) -> RedeliveredOut:
    count = await _use(call).mailboxes.redeliver_everywhere(
        call.uow, call.body.since, call.body.until
    )
    return RedeliveredOut(redelivered=count)


# --- e-mail to people ------------------------------------------------------------------
#
# A person is named by role and organisation: /v1/email/presidents/{enterprise_id}
# or /v1/email/contacts/{participant_id}; answers never carry a name or address.

_PERSON = "/v1/email/{role}/{party_id}"
PersonRole = Literal["presidents", "contacts"]
_ROLES: dict[str, Role] = {"presidents": PRESIDENT, "contacts": CONTACT}


def _person(call: Call[Any, Any]) -> tuple[Role, uuid.UUID]:
    role = _ROLES.get(call.path("role"))
    if role is None:
        raise NotFound("no such resource", field="role")
    return role, call.id("party_id")


@api.route(
    "GET",
    _PERSON,
    summary="A person's e-mail standing (role: presidents or contacts)",
    path_types={"role": PersonRole},
    response=EmailRecipientOut,
    tag="email",
)
async def get_email_recipient(call: Call[None, None]) -> EmailRecipientOut:
    found = await _use(call).mailboxes.recipient(call.uow, *_person(call))
    return EmailRecipientOut.of(found)


@api.route(
    "PUT",
    _PERSON + "/opt-out",
    path_types={"role": PersonRole},
    summary="Opt a person of yours out of every e-mail (or lift an opt-out you set)",
    body=OptOutIn,
    response=EmailRecipientOut,
    tag="email",
)
async def set_email_opt_out(call: Call[OptOutIn, None]) -> EmailRecipientOut:
    role, party_id = _person(call)
    person = await _use(call).mailboxes.set_opt_out(call.uow, role, party_id, call.body.opted_out)
    return EmailRecipientOut.of(person)


@api.route(
    "GET",
    _PERSON + "/messages",
    path_types={"role": PersonRole},
    summary="E-mails to a person of yours, oldest first",
    query=EmailQuery,
    response=PageOut[EmailOut],
    tag="email",
)
async def list_emails(call: Call[None, EmailQuery]) -> PageOut[EmailOut]:
    role, party_id = _person(call)
    q = call.query
    items, key = await _use(call).mailboxes.emails(
        call.uow, role, party_id, after=q.after_seq(), limit=q.limit
    )
    return PageOut[EmailOut](items=[EmailOut.of(e) for e in items], next_cursor=_cursor(key))


@api.route(
    "GET",
    _PERSON + "/messages/{message_id}",
    path_types={"role": PersonRole},
    summary="One e-mail with its content and every attempt",
    response=EmailDetail,
    tag="email",
)
async def get_email(call: Call[None, None]) -> EmailDetail:
    role, party_id = _person(call)
    found = await _use(call).mailboxes.email(call.uow, role, party_id, call.id("message_id"))
    return EmailDetail.of_detail(found)


@api.route(
    "POST",
    _PERSON + "/messages/{message_id}/redeliver",
    path_types={"role": PersonRole},
    summary="Send a dead (or delivered) e-mail again, same Message-ID",
    response=EmailOut,
    status=202,
    tag="email",
)
async def redeliver_email(call: Call[None, None]) -> EmailOut:
    role, party_id = _person(call)
    again = await _use(call).mailboxes.redeliver_one(
        call.uow, role, party_id, call.id("message_id")
    )
    return EmailOut.of(again)


@api.route(
    "GET",
    "/v1/email/unsubscribe",
    summary="The unsubscribe page of a message's link: asks to confirm (changes nothing)",
    query=UnsubscribeQuery,
    produces=("text/html",),
    auth="none",
    tag="email",
    database=False,
)
async def unsubscribe_page(call: Call[None, UnsubscribeQuery]) -> web.StreamResponse:
    # GET never unsubscribes: mail scanners and link previews fetch every link
    # in a message, and must not opt the person out behind their back.
    if _use(call).mailboxes.recipient_of_token(call.query.token) is None:
        raise NotFound("this link is not valid", field="token")
    token = html.escape(call.query.token, quote=True)
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
    produces=("text/html",),
    auth="none",
    tag="email",
)
async def unsubscribe(call: Call[None, UnsubscribeQuery]) -> web.StreamResponse:
    if not await _use(call).mailboxes.unsubscribe(call.uow, call.query.token):
        raise NotFound("this link is not valid", field="token")
    return _page(
        "You are unsubscribed",
        "<p>You will receive no more e-mail from us about this road show.</p>",
    )


@api.route(
    "GET",
    "/v1/email/answer",
    summary="An answer link of a match e-mail: asks to confirm (changes nothing)",
    query=AnswerQuery,
    produces=("text/html",),
    auth="none",
    tag="email",
)
async def answer_page(call: Call[None, AnswerQuery]) -> web.StreamResponse:
    # GET never records: mail scanners and link previews fetch every link in a
    # message, and must not answer for the person. 404 for a link that is not
    # ours, 409 for an expired one or a withdrawn match; nothing is written.
    request = await _use(call).answers.request(call.conn, call.query.token)
    token = html.escape(call.query.token, quote=True)
    label = html.escape(ANSWER_LABELS[request.link.answer])
    return _page(
        f"{ANSWER_LABELS[request.link.answer]}: a meeting with {request.counterpart}?",
        f"<p>For {html.escape(request.organisation)} at "
        f"{html.escape(request.roadshow_name)}.</p>{_current(request)}"
        f'<form method="post" action="?token={token}">'
        f'<button type="submit">{label}</button></form>',
    )


@api.route(
    "POST",
    "/v1/email/answer",
    summary="Record the answer of a match e-mail's link (the confirmation page's button)",
    query=AnswerQuery,
    produces=("text/html",),
    auth="none",
    tag="email",
)
async def answer(call: Call[None, AnswerQuery]) -> web.StreamResponse:
    recorded = await _use(call).answers.answer(call.uow, call.query.token)
    link, request = recorded.request.link, recorded.request
    return _page(
        "Thank you: your answer is recorded",
        f"<p>{html.escape(ANSWER_LABELS[link.answer])}: a meeting with "
        f"{html.escape(request.counterpart)} at {html.escape(request.roadshow_name)}.</p>"
        "<p>The organisers' schedule takes it into account unless scheduling has closed. "
        "Another link of the same match changes your answer.</p>",
    )


@api.route(
    "GET",
    "/v1/email/feedback",
    summary="The link of a feedback e-mail: the form on how the meeting went (changes nothing)",
    query=FeedbackQuery,
    produces=("text/html",),
    auth="none",
    tag="email",
)
async def feedback_page(call: Call[None, FeedbackQuery]) -> web.StreamResponse:
    # GET never records (mail scanners fetch every link). 404 for a link that
    # is not ours, 409 for an expired one or a cancelled meeting.
    request = await _use(call).feedbacks.request(call.conn, call.query.token)
    token = html.escape(call.query.token, quote=True)
    return _page(
        f"How was your meeting with {request.counterpart}?",
        f"<p>{html.escape(_meeting_line(request))}</p>{_feedback_current(request)}"
        f'<form method="post" action="?token={token}">{_feedback_fields(request.current)}'
        '<button type="submit">Send</button></form>',
    )


@api.route(
    "POST",
    "/v1/email/feedback",
    summary="Record the feedback of a feedback e-mail's link (the form's fields)",
    query=FeedbackQuery,
    body=FeedbackForm,
    form=True,
    produces=("text/html",),
    auth="none",
    tag="email",
)
async def give_feedback(call: Call[FeedbackForm, FeedbackQuery]) -> web.StreamResponse:
    b = call.body
    choice = FeedbackChoice(b.took_place, b.interest, b.next_step)
    recorded = await _use(call).feedbacks.give(call.uow, call.query.token, choice)
    return _page(
        "Thank you: your feedback is recorded",
        f"<p>{html.escape(_meeting_line(recorded.request))}</p>"
        f"<p>{html.escape(_choice_words(recorded.choice))}</p>"
        "<p>The same link changes it while it works.</p>",
    )


def _meeting_line(request: FeedbackRequest) -> str:
    m, zone = request.meeting, ZoneInfo(request.timezone)
    starts = m.starts_at.astimezone(zone)
    return (
        f"{request.organisation} and {request.counterpart} at {request.roadshow_name}, "
        f"{starts:%a %d %b %Y %H:%M} ({zone.key})."
    )


def _choice_words(choice: FeedbackChoice) -> str:
    words = TOOK_PLACE_LABELS[choice.took_place]
    if choice.interest is not None:
        words += f"; interest: {INTEREST_LABELS[choice.interest]}"
    if choice.next_step is not None:
        words += f"; next: {NEXT_STEP_LABELS[choice.next_step]}"
    return words + "."


def _feedback_current(request: FeedbackRequest) -> str:
    if request.current is None:
        return ""
    return f"<p>Your feedback so far: {html.escape(_choice_words(request.current))}</p>"


def _feedback_fields(current: FeedbackChoice | None) -> str:
    """The form's fields, with the person's latest feedback chosen."""

    def radio(value: str, label: str) -> str:
        on = " checked" if current is not None and current.took_place == value else ""
        return (
            f'<label><input type="radio" name="took_place" value="{value}" required{on}> '
            f"{html.escape(label)}</label><br>"
        )

    def select(name: str, label: str, options: Mapping[Any, str], chosen: str | None) -> str:
        items = '<option value="">(only if it took place)</option>' + "".join(
            f'<option value="{v}"{" selected" if v == chosen else ""}>{html.escape(t)}</option>'
            for v, t in options.items()
        )
        return f'<p><label>{html.escape(label)} <select name="{name}">{items}</select></label></p>'

    return (
        "<fieldset><legend>Did the meeting take place?</legend>"
        + "".join(radio(v, t) for v, t in TOOK_PLACE_LABELS.items())
        + "</fieldset>"
        + select(
            "interest", "Your interest", INTEREST_LABELS, current.interest if current else None
        )
        + select("next_step", "What next", NEXT_STEP_LABELS, current.next_step if current else None)
    )


def _current(request: AnswerRequest) -> str:
    if request.current is None:
        return ""
    return f"<p>Your answer so far: {html.escape(ANSWER_LABELS[request.current])}.</p>"


def _page(title: str, body: str) -> web.Response:
    return web.Response(
        text=f"<!doctype html><html><head><title>{html.escape(title)}</title></head>"
        f"<body><h1>{html.escape(title)}</h1>{body}</body></html>",
        content_type="text/html",
    )
