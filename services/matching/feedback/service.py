"""Feedback and follow-up use cases: a side's feedback on a meeting, deal
progress at the follow-up, opening the follow-ups that fell due, and the
after-meeting figures. Each runs in the unit of work it is given."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import timedelta

import asyncpg

from services.matching.clock import Clock, utc_now
from services.matching.feedback import model as mf
from services.matching.feedback import repository as repo
from services.matching.feedback.repository import AfterMeeting
from services.matching.readmodel.access import organised_roadshow
from services.matching.scoring.rates import RATES, RateTable
from shared.contracts.matching import (
    FeedbackRecorded,
    FollowUpDue,
    FollowUpRecorded,
    Reporter,
    Side,
)
from shared.contracts.notification import FeedbackGiven
from shared.envelope import Context
from shared.errors import Conflict, InvalidInput, NotFound
from shared.logging import get_logger
from shared.unit_of_work import UnitOfWork

log = get_logger(__name__)


def follow_up_context() -> Context:
    """The context the follow-up loop's events carry: a flow of their own."""
    return Context(correlation_id=f"follow-up-{uuid.uuid4()}")


def _about(m: AfterMeeting) -> dict[str, uuid.UUID | None]:
    """What every after-meeting event says of its meeting."""
    return {
        "meeting_id": m.meeting_id,
        "roadshow_id": m.roadshow_id,
        "match_id": m.match_id,
        "enterprise_id": m.enterprise_id,
        "participant_id": m.participant_id,
        "enterprise_partner_id": m.enterprise_partner_id,
        "participant_partner_id": m.participant_partner_id,
    }


@dataclass
class AfterMeetings:
    """`delay`: from a meeting's end to its follow-up; `rates`: the table amounts
    are checked against and converted with."""

    delay: timedelta = timedelta(days=90)
    clock: Clock = field(default=utc_now)
    rates: RateTable = RATES

    async def _meeting(
        self, conn: asyncpg.Connection, meeting_id: uuid.UUID, *, for_update: bool = False
    ) -> AfterMeeting:
        m = await repo.after_meeting(conn, meeting_id, for_update=for_update)
        if m is None:
            raise NotFound("no such meeting", field="meeting_id")
        return m

    async def _speaking_for(
        self, uow: UnitOfWork, meeting_id: uuid.UUID, field_name: str
    ) -> AfterMeeting:
        """The meeting, locked, once it has started and if it is on the schedule
        its parties were told of; a partner that is none of its readers gets 404."""
        m = await self._meeting(uow.conn, meeting_id, for_update=True)
        if uow.ctx.partner_id not in m.readers:
            raise NotFound("no such meeting", field="meeting_id")
        if m.status != "scheduled" or not m.announced:
            raise Conflict("the meeting is not on the published schedule", field="meeting_id")
        if self.clock() < m.starts_at:
            raise Conflict(
                f"{field_name} is recorded once the meeting has started", field=field_name
            )
        return m

    # --- feedback ------------------------------------------------------------------------

    async def feedback(
        self, conn: asyncpg.Connection, partner_id: uuid.UUID, meeting_id: uuid.UUID, side: Side
    ) -> mf.Feedback:
        """A side's feedback, for that side's partner and the organiser (the other
        side does not see it); 404 naming `side` while none was recorded."""
        m = await self._meeting(conn, meeting_id)
        if partner_id not in (m.partner_of(side), m.organiser_id):
            raise NotFound("no such meeting", field="meeting_id")
        found = await repo.get_feedback(conn, meeting_id, side)
        if found is None:
            raise NotFound(f"no feedback from the {side} side yet", field="side")
        return found

    async def record_feedback(
        self, uow: UnitOfWork, meeting_id: uuid.UUID, side: Side, cmd: mf.RecordFeedback
    ) -> mf.Feedback:
        """The side's feedback (its partner only), as `feedback.recorded`; the
        same feedback again changes nothing and emits nothing."""
        cmd = mf.check_feedback(cmd)
        m = await self._speaking_for(uow, meeting_id, "took_place")
        if m.partner_of(side) != uow.ctx.partner_id:
            # Only the partner that registered a side speaks for it (as for interest).
            raise NotFound("no such meeting", field="meeting_id")
        return await self._save_feedback(uow, m, side, cmd)

    async def record_feedback_by_email(self, uow: UnitOfWork, data: FeedbackGiven) -> bool:
        """A person's feedback from their e-mail (`feedback.given`), recorded as
        the side's feedback exactly like its partner's, with the same
        feedback.recorded; the note on file stays (the e-mail carries none).
        Dropped, and logged, when the meeting is unknown, off the published
        schedule or had not started when the feedback was given, or the side's
        feedback on file was recorded later (whoever spoke last wins, partner
        or person). Returns whether it was recorded (or already was)."""
        m = await repo.after_meeting(uow.conn, data.meeting_id, for_update=True)
        current = None if m is None else await repo.get_feedback(uow.conn, m.meeting_id, data.side)
        reason = mf.email_feedback_refusal(
            None if m is None else (m.status == "scheduled" and m.announced),
            None if m is None else m.starts_at,
            current,
            data.given_at,
        )
        if reason is not None:
            log.info(
                "matching.email_feedback_dropped",
                meeting_id=str(data.meeting_id),
                side=data.side,
                reason=reason,
            )
            return False
        assert m is not None
        cmd = mf.check_feedback(
            mf.RecordFeedback(
                data.took_place,
                data.interest,
                data.next_step,
                current.note if current is not None else None,
            )
        )
        await self._save_feedback(uow, m, data.side, cmd)
        return True

    async def _save_feedback(
        self, uow: UnitOfWork, m: AfterMeeting, side: Side, cmd: mf.RecordFeedback
    ) -> mf.Feedback:
        """Record what a side says (checked, its meeting locked), whoever was
        allowed to say it: its partner over the API, or the side's person
        through the signed link of their feedback e-mail."""
        meeting_id = m.meeting_id
        current = await repo.get_feedback(uow.conn, meeting_id, side)
        if current is not None and current.says(cmd):
            return current
        saved = await repo.put_feedback(uow.conn, m, side, cmd, self.clock())
        event = FeedbackRecorded(
            **_about(m),
            side=side,
            took_place=saved.took_place,
            interest=saved.interest,
            next_step=saved.next_step,
            version=saved.version,
        )
        uow.emit("feedback.recorded", m.match_id, event)
        log.info(
            "matching.feedback_recorded",
            meeting_id=str(meeting_id),
            side=side,
            took_place=saved.took_place,
            version=saved.version,
        )
        return saved

    # --- follow-up -----------------------------------------------------------------------

    async def follow_up(
        self, conn: asyncpg.Connection, partner_id: uuid.UUID, meeting_id: uuid.UUID
    ) -> mf.FollowUp:
        """Either side's partner and the organiser read it; 404 naming
        `follow_up` while it is neither due nor recorded."""
        m = await self._meeting(conn, meeting_id)
        if partner_id not in m.readers:
            raise NotFound("no such meeting", field="meeting_id")
        found = await repo.get_follow_up(conn, meeting_id)
        if found is None:
            due = mf.due_at(m.ends_at, self.delay).isoformat()
            raise NotFound(f"no follow-up yet; it falls due at {due}", field="follow_up")
        return found

    async def record_follow_up(
        self, uow: UnitOfWork, meeting_id: uuid.UUID, cmd: mf.RecordFollowUp
    ) -> mf.FollowUp:
        """Deal progress, by either side's partner or the organiser, as
        `follow-up.recorded`; allowed before the follow-up falls due too (it
        then never does). The same progress again emits nothing."""
        cmd = mf.check_follow_up(cmd, self.rates)
        m = await self._speaking_for(uow, meeting_id, "stage")
        current = await repo.get_follow_up(uow.conn, meeting_id)
        if current is not None and current.says(cmd):
            return current
        reporter = _reporter(m, uow.partner_id)
        saved = await repo.put_follow_up(
            uow.conn, m, mf.due_at(m.ends_at, self.delay), cmd, reporter, self.clock()
        )
        assert saved.stage is not None
        event = FollowUpRecorded(
            **_about(m),
            stage=saved.stage,
            amount=saved.amount,
            currency=saved.currency,
            reported_by=reporter,
            version=saved.version,
        )
        uow.emit("follow-up.recorded", m.match_id, event)
        log.info(
            "matching.follow_up_recorded",
            meeting_id=str(meeting_id),
            stage=saved.stage,
            reported_by=reporter,
            version=saved.version,
        )
        return saved

    async def open_due(self, uow: UnitOfWork, limit: int = 500) -> int:
        """Open the follow-ups that fell due by the clock (one `follow-up.due`
        each, once per meeting); returns how many. Run by the follow-up loop."""
        opened = await repo.open_due_follow_ups(uow.conn, self.clock(), self.delay, limit)
        for m, fu in opened:
            event = FollowUpDue(**_about(m), ended_at=m.ends_at, due_at=fu.due_at)
            uow.emit("follow-up.due", m.match_id, event)
        if opened:
            log.info("matching.follow_ups_due", meetings=len(opened))
        return len(opened)

    # --- figures -------------------------------------------------------------------------

    async def figures(
        self,
        conn: asyncpg.Connection,
        partner_id: uuid.UUID,
        roadshow_id: uuid.UUID,
        currency: str | None,
    ) -> mf.AfterMeetingFigures:
        """The road show's after-meeting figures (its organiser only); amounts in
        `currency` (default: the rate table's base)."""
        target = (currency or self.rates.base).upper()
        if not self.rates.knows(target):
            raise InvalidInput(
                f"{currency} is not in the rate table ("
                + ", ".join(sorted(self.rates.per_base))
                + ")",
                field="currency",
            )
        await organised_roadshow(conn, partner_id, roadshow_id)
        return mf.after_meeting_figures(await repo.outcomes(conn, roadshow_id), self.rates, target)


def _reporter(m: AfterMeeting, partner_id: uuid.UUID) -> Reporter:
    """Who the caller speaks as: a side it registered first, else the organiser."""
    if partner_id == m.enterprise_partner_id:
        return "enterprise"
    if partner_id == m.participant_partner_id:
        return "participant"
    return "organiser"
