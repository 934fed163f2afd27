"""Interest use cases: a side's answer on a match, expiry of unanswered
requests, the organiser's matching settings, attendance and an event's
figures. Each runs in the unit of work it is given."""

from __future__ import annotations

import dataclasses
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import asyncpg

from services.matching.clock import Clock, utc_now
from services.matching.interest import model as mi
from services.matching.interest import repository as repo
from services.matching.interest.repository import MatchForInterest
from services.matching.readmodel.access import organised_roadshow
from services.matching.readmodel.repository import lock_roadshow
from services.matching.scheduling.service import cancel_meetings_of_matches
from services.matching.scoring.model import MatchView
from shared.contracts.matching import Attendance, AttendanceRecorded, InterestRecorded
from shared.contracts.notification import AnswerGiven
from shared.envelope import Context
from shared.errors import Conflict, NotFound
from shared.logging import get_logger
from shared.unit_of_work import UnitOfWork

log = get_logger(__name__)

# A request's time to live while its road show is not known yet.
_DEFAULT_TTL_HOURS = 72


def expiry_context() -> Context:
    """The context the periodic expiry's events carry: a flow of their own."""
    return Context(correlation_id=f"expiry-{uuid.uuid4()}")


def _with_expiry(row: MatchForInterest) -> MatchView:
    ttl = row.interest_ttl_hours
    expires = mi.expires_at(row.view.interest, timedelta(hours=ttl)) if ttl else None
    return dataclasses.replace(row.view, interest_expires_at=expires)


@dataclass
class Interest:
    clock: Clock = field(default=utc_now)

    async def get_match(
        self, conn: asyncpg.Connection, partner_id: uuid.UUID, match_id: uuid.UUID
    ) -> MatchView:
        """Either side's partner and the organiser see a match with both answers."""
        row = await repo.match_for_interest(conn, match_id)
        if row is None or partner_id not in row.readers:
            raise NotFound("no such match", field="match_id")
        return _with_expiry(row)

    async def record_interest(
        self, uow: UnitOfWork, match_id: uuid.UUID, cmd: mi.RecordInterest
    ) -> MatchView:
        """One side's answer, posted by the partner that registered that side."""
        now = self.clock()
        row = await self._locked(uow, match_id)
        # Only the partner that registered this side speaks for it; to anyone
        # else the match does not exist (as for every partner-scoped read).
        if row is None or row.partner_of(cmd.side) != uow.ctx.partner_id:
            raise NotFound("no such match", field="match_id")
        refusal = mi.refusal(row.view.match.status, row.scheduling_closes_at, now)
        if refusal == "withdrawn":
            raise Conflict("the match was withdrawn", field="match_id")
        if refusal == "closed":
            closes = row.scheduling_closes_at
            assert closes is not None
            raise Conflict(
                f"scheduling closed at {closes.isoformat()}; interest can no longer change",
                field="scheduling_closes_at",
            )
        return await self._record(uow, match_id, cmd, now)

    async def record_answer_by_email(self, uow: UnitOfWork, data: AnswerGiven) -> bool:
        """A person's answer from their e-mail (`answer.given`), recorded as the
        side's interest exactly like a partner's, with the same expiry and the
        same interest.recorded. Dropped, and logged, when the match is unknown or
        withdrawn, scheduling has closed, or the side's answer on file was given
        later than this one (whoever answered last, partner or person, wins).
        Returns whether it was recorded."""
        now = self.clock()
        row = await self._locked(uow, data.match_id)
        reason: str | None = "unknown_match"
        if row is not None:
            m = row.view.match
            pair = row.view.interest
            on_file, at = (
                (pair.enterprise, pair.enterprise_at)
                if data.side == "enterprise"
                else (pair.participant, pair.participant_at)
            )
            reason = mi.refusal(m.status, row.scheduling_closes_at, data.given_at)
            if reason is None and mi.superseded(on_file, at, data.given_at):
                reason = "superseded"
        if reason is not None:
            log.info(
                "matching.email_answer_dropped",
                match_id=str(data.match_id),
                side=data.side,
                reason=reason,
            )
            return False
        await self._record(uow, data.match_id, mi.RecordInterest(data.side, data.answer), now)
        return True

    async def _locked(self, uow: UnitOfWork, match_id: uuid.UUID) -> MatchForInterest | None:
        """The match, locked (its road show first, as every writer locks), or None."""
        probe = await repo.match_for_interest(uow.conn, match_id)
        if probe is None:
            return None
        await lock_roadshow(uow.conn, probe.view.match.roadshow_id)
        return await repo.match_for_interest(uow.conn, match_id, for_update=True)

    async def _record(
        self, uow: UnitOfWork, match_id: uuid.UUID, cmd: mi.RecordInterest, now: datetime
    ) -> MatchView:
        """Store a side's answer and emit interest.recorded; a decline cancels the
        pair's meeting at once (the rest of the schedule stays where it is)."""
        await repo.set_interest(uow.conn, match_id, cmd.side, cmd.interest, now)
        row = await repo.match_for_interest(uow.conn, match_id)
        assert row is not None
        m = row.view.match
        ttl = timedelta(hours=row.interest_ttl_hours or _DEFAULT_TTL_HOURS)
        recorded = InterestRecorded(
            match_id=match_id,
            roadshow_id=m.roadshow_id,
            enterprise_id=m.enterprise_id,
            participant_id=m.participant_id,
            side=cmd.side,
            interest=cmd.interest,
            expires_at=mi.expires_at(row.view.interest, ttl),
        )
        uow.emit("interest.recorded", match_id, recorded)
        cancelled = 0
        if cmd.interest == mi.DECLINE:
            cancelled = await cancel_meetings_of_matches(uow, [match_id])
        log.info(
            "matching.interest_recorded",
            match_id=str(match_id),
            side=cmd.side,
            interest=cmd.interest,
            meetings_cancelled=cancelled,
        )
        return _with_expiry(row)

    async def expire(self, uow: UnitOfWork) -> int:
        """Record `expired` for each silent side past its road show's time to live
        (one interest.recorded each), so an unanswered request never holds a slot.
        Run periodically by the worker and before each scheduling job."""
        now = self.clock()
        expired = 0
        for row in await repo.awaiting_answer(uow.conn):
            side = mi.expiring_side(row.interest, now, timedelta(hours=row.interest_ttl_hours))
            if side is None:
                continue
            await repo.set_interest(uow.conn, row.match_id, side, mi.EXPIRED, now)
            recorded = InterestRecorded(
                match_id=row.match_id,
                roadshow_id=row.roadshow_id,
                enterprise_id=row.enterprise_id,
                participant_id=row.participant_id,
                side=side,
                interest=mi.EXPIRED,
                expires_at=None,
            )
            uow.emit("interest.recorded", row.match_id, recorded)
            expired += 1
        if expired:
            log.info("matching.interest_expired", requests=expired)
        return expired

    async def settings(
        self, conn: asyncpg.Connection, partner_id: uuid.UUID, roadshow_id: uuid.UUID
    ) -> mi.RoadshowSettings:
        r = await organised_roadshow(conn, partner_id, roadshow_id)
        return mi.RoadshowSettings(
            r.id, r.matching_mode, r.interest_ttl_hours, r.scheduling_closes_at
        )

    async def change_settings(
        self, uow: UnitOfWork, roadshow_id: uuid.UUID, cmd: mi.SettingsChange
    ) -> mi.RoadshowSettings:
        assert uow.ctx.partner_id is not None
        await lock_roadshow(uow.conn, roadshow_id)
        await organised_roadshow(
            uow.conn,
            uow.ctx.partner_id,
            roadshow_id,
            for_update=True,
        )
        await repo.set_matching_settings(
            uow.conn, roadshow_id, cmd.mode, cmd.interest_ttl_hours, cmd.scheduling_closes_at
        )
        log.info("matching.settings_changed", roadshow_id=str(roadshow_id), mode=cmd.mode)
        return mi.RoadshowSettings(
            roadshow_id, cmd.mode, cmd.interest_ttl_hours, cmd.scheduling_closes_at
        )

    async def record_attendance(
        self, uow: UnitOfWork, meeting_id: uuid.UUID, attendance: Attendance
    ) -> mi.RecordedAttendance:
        """The organiser records whether a meeting took place, once it has started."""
        now = self.clock()
        row = await repo.meeting_for_attendance(uow.conn, meeting_id)
        if row is None or row.organiser_id != uow.ctx.partner_id:
            raise NotFound("no such meeting", field="meeting_id")
        if row.status != "scheduled":
            raise Conflict("the meeting was cancelled from the schedule", field="meeting_id")
        if now < row.starts_at:
            raise Conflict(
                "attendance is recorded once the meeting has started", field="attendance"
            )
        await repo.set_attendance(uow.conn, meeting_id, attendance, now)
        recorded = AttendanceRecorded(
            meeting_id=meeting_id,
            roadshow_id=row.roadshow_id,
            match_id=row.match_id,
            attendance=attendance,
        )
        uow.emit("attendance.recorded", row.match_id, recorded)
        log.info("matching.attendance_recorded", meeting_id=str(meeting_id))
        return mi.RecordedAttendance(meeting_id, row.roadshow_id, row.match_id, attendance, now)

    async def figures(
        self, conn: asyncpg.Connection, partner_id: uuid.UUID, roadshow_id: uuid.UUID
    ) -> mi.Figures:
        await organised_roadshow(conn, partner_id, roadshow_id)
        pairs, scheduled = await repo.figures_input(conn, roadshow_id)
        return mi.figures(pairs, scheduled)
