"""The use cases of the service, wired once from settings: what routes, event
handlers and channels call. The clock and resolver are injectable so tests
control time and DNS."""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp.abc import AbstractResolver

from services.notification.email.feedback import FeedbackMail, Feedbacks
from services.notification.email.keys import KeyCopies
from services.notification.email.matches import Answers, MatchMail
from services.notification.email.service import Mailboxes, Messages, People, Schedules
from services.notification.email.tokens import Signer
from services.notification.outbound.policy import Clock
from services.notification.settings import NotificationSettings
from services.notification.webhooks.service import Routing, Subscriptions
from shared.envelope import utcnow


@dataclass(frozen=True)
class UseCases:
    subscriptions: Subscriptions
    routing: Routing
    people: People
    schedules: Schedules
    mailboxes: Mailboxes
    match_mail: MatchMail
    answers: Answers
    feedback_mail: FeedbackMail
    feedbacks: Feedbacks


def create_use_cases(
    settings: NotificationSettings,
    *,
    clock: Clock = utcnow,
    resolver: AbstractResolver | None = None,
) -> UseCases:
    enabled = settings.email_enabled
    messages = Messages(clock=clock, reminder_lead=settings.email_reminder_lead)
    schedules = Schedules(enabled=enabled, clock=clock, messages=messages)
    signer = Signer(settings.email_token_secret.get_secret_value())
    return UseCases(
        subscriptions=Subscriptions(
            clock=clock,
            allow_private=settings.allow_private_endpoints,
            resolver=resolver,
            dns_timeout=settings.dns_timeout_seconds,
        ),
        routing=Routing(clock=clock),
        people=People(
            enabled=enabled, clock=clock, schedules=schedules, keys=KeyCopies(kek=settings.kek)
        ),
        schedules=schedules,
        mailboxes=Mailboxes(clock=clock, signer=signer),
        match_mail=MatchMail(
            enabled=enabled and settings.email_match_mail,
            clock=clock,
            messages=messages,
            settle=settings.email_match_settle,
        ),
        answers=Answers(clock=clock, signer=signer, link_ttl=settings.email_answer_link_ttl),
        feedback_mail=FeedbackMail(
            enabled=enabled and settings.email_feedback_mail,
            clock=clock,
            messages=messages,
            window=settings.email_feedback_window,
        ),
        feedbacks=Feedbacks(clock=clock, signer=signer, link_ttl=settings.email_feedback_link_ttl),
    )
