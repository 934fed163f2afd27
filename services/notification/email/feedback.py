"""Feedback after a meeting by e-mail: use cases of the feedback request and of
the form behind its link. See docs/notification.md, "Feedback by e-mail".

- `FeedbackMail`: once a published meeting has ended (by the injectable
  clock), `make_due` (a `DueMailLoop`) makes one feedback e-mail per side's
  person, once per meeting, never again across replays and restarts (the
  meeting is marked asked; each message has its dedupe key).
- `Feedbacks`: the link's form page (reads only) and its POST, which records
  what the person says and publishes `feedback.given` (outbox, same
  transaction); matching records it as the side's feedback.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from services.notification.email import links, rules
from services.notification.email import repository as repo
from services.notification.email.model import Cause, StoredMeeting
from services.notification.email.rules import FEEDBACK, FeedbackLink
from services.notification.email.service import Messages
from services.notification.outbound.policy import Clock
from shared.contracts.matching import (
    Attendance,
    InterestLevel,
    NextStep,
    feedback_problem,
)
from shared.contracts.notification import FeedbackGiven
from shared.errors import Conflict, InvalidInput
from shared.logging import get_logger
from shared.unit_of_work import UnitOfWork

log = get_logger(__name__)


class FeedbackMail:
    """Feedback requests: each side's person of a published meeting that ended
    is asked once, unless they opted out (or have no address); meetings that
    ended more than `window` before they were first seen over are passed over."""

    def __init__(self, *, enabled: bool, clock: Clock, messages: Messages, window: float) -> None:
        self.enabled = enabled
        self.clock = clock
        self.messages = messages
        self.window = window

    async def make_due(self, conn: asyncpg.Connection, limit: int = 100) -> int:
        """Ask about the meetings that ended (in the caller's transaction).
        Returns the meetings seen over (so the loop goes on while some are left)."""
        if not self.enabled:
            return 0
        now = self.clock()
        meetings = await repo.ended_unasked_meetings(conn, now, limit)
        made = 0
        for meeting in meetings:
            if not rules.feedback_too_late(meeting.ends_at, now, self.window):
                made += await self._ask(conn, meeting, now)
            await repo.mark_feedback_requested(conn, meeting.id, now)
        if meetings:
            log.info("email.feedback_requests_made", meetings=len(meetings), messages=made)
        return len(meetings)

    async def _ask(self, conn: asyncpg.Connection, meeting: StoredMeeting, now: datetime) -> int:
        schedule = await repo.get_schedule(conn, meeting.schedule_id)
        # The request answers the schedule that announced the meeting (its flow,
        # for the logs); a meeting moved in without one answers itself.
        cause = (
            Cause(schedule.event_id, "schedule.completed", schedule.correlation_id)
            if schedule is not None
            else Cause(meeting.id, "meeting.scheduled", f"feedback-{meeting.id}")
        )
        made = 0
        for role, party_id in (
            (rules.PRESIDENT, meeting.enterprise_id),
            (rules.CONTACT, meeting.participant_id),
        ):
            recipient = await repo.get_recipient(conn, rules.recipient_id(role, party_id))
            base = await self.messages.content(
                conn, "feedback", role, party_id, meeting.roadshow_id, agenda=False
            )
            if recipient is None or not recipient.sendable or base is None:
                continue  # opted out, no address; the party unknown or withdrawn
            counterpart = await repo.counterpart_name(conn, role, meeting)
            content = base.model_copy(
                update={"meeting": meeting.line(counterpart), "side": rules.side_of(role)}
            )
            key = rules.feedback_key(meeting.id, recipient.id)
            made += await self.messages.insert(conn, cause, recipient, content, key, due=now)
        return made


@dataclass(frozen=True)
class FeedbackChoice:
    """What the person chose on the form."""

    took_place: Attendance
    interest: InterestLevel | None = None
    next_step: NextStep | None = None


def check_choice(choice: FeedbackChoice) -> FeedbackChoice:
    """The choice as recorded: a meeting held has an interest (and a next step:
    none chosen, `none`); one that did not take place has neither. Raises
    InvalidInput naming the field (the rule matching applies to its API too)."""
    problem = feedback_problem(choice.took_place, choice.interest, choice.next_step)
    if problem is not None:
        raise InvalidInput(problem[1], field=problem[0])
    if choice.took_place == "held" and choice.next_step is None:
        return FeedbackChoice(choice.took_place, choice.interest, "none")
    return choice


@dataclass(frozen=True)
class FeedbackRequest:
    """What a valid link asks about, as its form page shows it."""

    link: FeedbackLink
    meeting: StoredMeeting
    roadshow_name: str
    timezone: str
    organisation: str  # the person's own
    counterpart: str
    current: FeedbackChoice | None  # their latest feedback by e-mail, if any


@dataclass(frozen=True)
class FeedbackRecorded:
    request: FeedbackRequest
    choice: FeedbackChoice
    feedback_id: uuid.UUID
    new: bool  # False: it repeated their latest feedback, and nothing was sent again


class Feedbacks(links.Links[FeedbackLink]):
    """The links of feedback e-mails: signed, expiring, naming a meeting's side."""

    purpose = FEEDBACK
    payload = FeedbackLink
    expired = "this link has expired; your organisers can still record your feedback"

    async def request(
        self, conn: asyncpg.Connection, token: str, *, for_update: bool = False
    ) -> FeedbackRequest:
        """What the link asks about; raises NotFound (not ours, or its person or
        meeting is gone) or Conflict (expired, or the meeting was cancelled)."""
        link = self.open(token)
        meeting = await repo.get_meeting(conn, link.meeting_id, for_update=False)
        if meeting is None:
            raise links.not_valid()
        party = meeting.enterprise_id if link.side == "enterprise" else meeting.participant_id
        await links.person_of(conn, link.recipient_id, link.side, party, for_update=for_update)
        if meeting.status != "scheduled":
            raise Conflict("this meeting was cancelled by the organisers", field="token")
        roadshow = await repo.get_roadshow(conn, meeting.roadshow_id)
        own, other = await links.organisations(
            conn, link.side, meeting.enterprise_id, meeting.participant_id
        )
        latest = await repo.latest_feedback(conn, link.meeting_id, link.side)
        return FeedbackRequest(
            link=link,
            meeting=meeting,
            roadshow_name=roadshow.name if roadshow else "the road show",
            timezone=roadshow.timezone if roadshow else "UTC",
            organisation=own,
            counterpart=other,
            current=None
            if latest is None
            else FeedbackChoice(latest["took_place"], latest["interest"], latest["next_step"]),
        )

    async def give(self, uow: UnitOfWork, token: str, choice: FeedbackChoice) -> FeedbackRecorded:
        """Record the person's feedback and publish it (feedback.given, in this
        unit); repeating the side's latest feedback records and sends nothing
        new. Raises as `request`, and InvalidInput naming the field."""
        # One answer at a time per person (their row locked), as for answers.
        request = await self.request(uow.conn, token, for_update=True)
        choice = check_choice(choice)
        link = request.link
        if request.current == choice:
            latest = await repo.latest_feedback(uow.conn, link.meeting_id, link.side)
            assert latest is not None
            return FeedbackRecorded(request, choice, latest["id"], new=False)
        feedback_id, now = uuid.uuid4(), self.clock()
        await repo.insert_feedback(
            uow.conn,
            {
                "id": feedback_id,
                "recipient_id": link.recipient_id,
                "meeting_id": link.meeting_id,
                "roadshow_id": request.meeting.roadshow_id,
                "side": link.side,
                "took_place": choice.took_place,
                "interest": choice.interest,
                "next_step": choice.next_step,
                "given_at": now,
            },
        )
        uow.emit(
            "feedback.given",
            link.meeting_id,
            FeedbackGiven(
                feedback_id=feedback_id,
                meeting_id=link.meeting_id,
                roadshow_id=request.meeting.roadshow_id,
                side=link.side,
                took_place=choice.took_place,
                interest=choice.interest,
                next_step=choice.next_step,
                given_at=now,
                recipient_id=link.recipient_id,
            ),
        )
        log.info(
            "email.feedback_given",
            meeting_id=str(link.meeting_id),
            recipient_id=str(link.recipient_id),
            side=link.side,
            took_place=choice.took_place,
        )
        return FeedbackRecorded(request, choice, feedback_id, new=True)
