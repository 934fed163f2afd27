"""The e-mail channel as the delivery worker drives it: claim due e-mails to
people we may still write to, make each into a MIME message and send it over
SMTP, record how the attempt ended."""

from __future__ import annotations

import contextlib
import random
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from prometheus_client import Counter

from services.notification.email import repository as repo
from services.notification.email.compose import (
    AnswerLinks,
    Identity,
    Recipient,
    Unsendable,
    build_message,
)
from services.notification.email.feedback import Feedbacks
from services.notification.email.matches import Answers
from services.notification.email.rules import ANSWER_LABELS, AnswerLink, Content, FeedbackLink
from services.notification.email.smtp import Mailer
from services.notification.email.tokens import Signer
from services.notification.outbound import repository as outbound
from services.notification.outbound.policy import Attempt, Clock, Decision, RetryPolicy
from services.notification.settings import NotificationSettings
from shared.envelope import Context
from shared.unit_of_work import UnitOfWork

EMAIL_ATTEMPTS = Counter(
    "roadshow_email_attempts_total",
    "E-mail delivery attempts, by kind and outcome",
    ["kind", "outcome"],
)


@dataclass(frozen=True)
class EmailDelivery:
    """One claimed e-mail attempt: what to say to whom, under which lease."""

    notification_id: uuid.UUID
    number: int
    tries: int
    token: uuid.UUID
    recipient_id: uuid.UUID
    correlation_id: str
    content: Content
    to: Recipient
    unsubscribe_token: str
    answer_links: AnswerLinks | None = None
    feedback_link: str | None = None

    @property
    def context(self) -> Context:
        return Context(correlation_id=self.correlation_id)


class EmailChannel:
    log_as = "email"
    # Only the class of a failure is logged: a message may quote an address.
    quote_errors = False

    def __init__(
        self,
        settings: NotificationSettings,
        *,
        clock: Clock,
        rand: Callable[[], float] = random.random,
    ) -> None:
        self.limit = settings.smtp_concurrency
        self.policy = RetryPolicy(
            schedule=settings.email_schedule,
            jitter=settings.retry_jitter,
            retry_after_cap=settings.retry_after_cap_seconds,
        )
        self.identity = Identity(
            mail_from=settings.mail_from,
            reply_to=settings.mail_reply_to,
            unsubscribe_base=settings.email_public_base_url,
        )
        self._lease = settings.delivery_lease_seconds
        self._signer = Signer(settings.email_token_secret.get_secret_value())
        self._answers = Answers(
            clock=clock, signer=self._signer, link_ttl=settings.email_answer_link_ttl
        )
        self._feedbacks = Feedbacks(
            clock=clock, signer=self._signer, link_ttl=settings.email_feedback_link_ttl
        )
        self._mailer = Mailer(settings)
        self._clock = clock
        self._rand = rand

    @contextlib.asynccontextmanager
    async def opened(self) -> AsyncIterator[None]:
        # One SMTP connection per message (see Mailer): nothing to hold open.
        yield

    async def claim(self, uow: UnitOfWork, capacity: int) -> list[EmailDelivery]:
        """Claim up to `capacity` due e-mails for one attempt each, as a lease
        (the webhook claim's rules: a dead worker's e-mails are due again when
        its lease ends and are sent with the same Message-ID)."""
        conn = uow.conn
        now = self._clock()
        token = uuid.uuid4()
        await repo.cancel_late(conn, now)
        due = await repo.due_emails(conn, now, capacity)
        recipients = await repo.recipients_by_id(conn, [rid for _, rid in due])
        ids = []
        for notification_id, rid in due:
            person = recipients.get(rid)
            if person is not None and person.sendable:
                ids.append(notification_id)
            else:
                # Erasure and opt-out cancel in their own transaction; this
                # only catches a row that slipped past them.
                await repo.cancel_pending(
                    conn, [rid], "no address, or opted out", now, only_id=notification_id
                )
        if not ids:
            return []
        leased = await outbound.lease(conn, ids, token, now + timedelta(seconds=self._lease), now)
        out = []
        for n in leased:
            assert n.recipient_id is not None
            person = recipients[n.recipient_id]  # a foreign key
            content = Content.model_validate_json(n.body)
            out.append(
                EmailDelivery(
                    notification_id=n.id,
                    number=n.number,
                    tries=n.tries,
                    token=token,
                    recipient_id=n.recipient_id,
                    correlation_id=n.correlation_id,
                    content=content,
                    to=Recipient(name=person.name, email=person.email or ""),
                    unsubscribe_token=self._signer.unsubscribe_token(n.recipient_id),
                    answer_links=self._answer_links(n.recipient_id, content, now),
                    feedback_link=self._feedback_link(n.recipient_id, content, now),
                )
            )
        return out

    def _answer_links(
        self, recipient_id: uuid.UUID, content: Content, now: datetime
    ) -> AnswerLinks | None:
        """A match e-mail's links, signed as it is sent (each try and redelivery
        gets links that last the full time from then)."""
        if content.side is None:
            return None
        side = content.side
        return {
            m.match_id: {
                answer: self.identity.answer_url(
                    self._answers.token(
                        AnswerLink(
                            recipient_id=recipient_id, match_id=m.match_id, side=side, answer=answer
                        ),
                        now,
                    )
                )
                for answer in ANSWER_LABELS
            }
            for m in content.matches
            if m.answerable
        }

    def _feedback_link(
        self, recipient_id: uuid.UUID, content: Content, now: datetime
    ) -> str | None:
        """A feedback e-mail's link, signed as it is sent (like answer links)."""
        if content.kind != "feedback" or content.meeting is None or content.side is None:
            return None
        link = FeedbackLink(
            recipient_id=recipient_id, meeting_id=content.meeting.meeting_id, side=content.side
        )
        return self.identity.feedback_url(self._feedbacks.token(link, now))

    async def send(self, job: EmailDelivery) -> Attempt:
        try:
            message = build_message(
                job.content,
                job.to,
                self.identity,
                notification_id=job.notification_id,
                unsubscribe_token=job.unsubscribe_token,
                now=self._clock(),
                answer_links=job.answer_links,
                feedback_link=job.feedback_link,
            )
        except Unsendable as exc:
            attempt = Attempt("rejected", error=str(exc))
        else:
            attempt = await self._mailer.send(message, self.identity.address, job.to.email)
        EMAIL_ATTEMPTS.labels(job.content.kind, attempt.outcome).inc()
        return attempt

    async def record(
        self, uow: UnitOfWork, ended: Sequence[tuple[EmailDelivery, Attempt]]
    ) -> list[Decision | None]:
        """Store how a run of attempts ended and what happens next to each; None
        for one whose lease was lost (another worker owns the e-mail, or it was
        cancelled)."""
        return await outbound.conclude(uow.conn, ended, self.policy, self._clock(), self._rand)

    def log_fields(self, job: EmailDelivery) -> dict[str, str]:
        # Ids only: the message names a person.
        return {"notification_id": str(job.notification_id), "recipient_id": str(job.recipient_id)}

    def attempt_fields(self, job: EmailDelivery) -> dict[str, str]:
        return {"kind": job.content.kind}
