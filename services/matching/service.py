"""Matching use cases. Each takes a connection, changes state and stages the
events the change causes in the outbox, in one transaction.

Registration events keep the read model current and rescore the party that
changed against every active counterpart of its road show at once. All changes
to one road show's matches and meetings serialise on an advisory lock, so a
participant and an enterprise registering together still see each other.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import math
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import numpy as np
from pydantic import BaseModel

from services.matching import domain
from services.matching import interest as mi
from services.matching import repository as repo
from services.matching.scheduler import Schedule, objective, shortfall, total_score
from services.matching.schemas import (
    AttendanceIn,
    AttendanceOut,
    FiguresOut,
    InterestIn,
    MatchingSettingsIn,
    MatchingSettingsOut,
    MatchOut,
    MatchPage,
    MatchQuery,
    MeetingOut,
    ParticipantMatchQuery,
    ScheduleChanges,
    ScheduleJobIn,
    ScheduleJobOut,
    ScheduleOut,
)
from services.matching.settings import MatchingSettings
from shared.contracts import registration as reg
from shared.contracts.matching import (
    AttendanceRecorded,
    InterestRecorded,
    Match,
    MeetingMoved,
    ScheduleCompleted,
    match_id_for,
)
from shared.envelope import Context, new_event
from shared.errors import Conflict, Forbidden, InvalidInput, NotFound
from shared.logging import get_logger
from shared.outbox import add_events

log = get_logger(__name__)

PRODUCER = "matching"
ENTERPRISE, PARTICIPANT = "enterprise", "participant"
_TABLE = {ENTERPRISE: "enterprises", PARTICIPANT: "participants"}


def _match_row(m: Match) -> dict[str, Any]:
    return {
        **m.model_dump(include={"match_id", "roadshow_id", "enterprise_id", "participant_id"}),
        "participant_kind": m.participant_kind.value,
        "score": m.score,
        "components": [c.model_dump() for c in m.components],
        "status": m.status,
        "version": m.version,
    }


def _encode_cursor(score: float, match_id: uuid.UUID) -> str:
    return base64.urlsafe_b64encode(f"{score!r}|{match_id}".encode()).decode()


def _decode_cursor(cursor: str | None) -> tuple[float, uuid.UUID] | None:
    if cursor is None:
        return None
    try:
        score, _, match_id = base64.urlsafe_b64decode(cursor.encode()).decode().partition("|")
        value = float(score)
        if not math.isfinite(value):
            raise ValueError(score)
        return value, uuid.UUID(match_id)
    except (ValueError, UnicodeDecodeError, binascii.Error):
        raise InvalidInput("not a cursor this API returned", field="cursor") from None


def _match_out(row: asyncpg.Record, ttl_hours: int | None = None) -> MatchOut:
    pair = repo.pair_interest(row)
    return MatchOut(
        **repo.stored_match(row, row["status"], row["version"]).model_dump(),
        enterprise_name=row["enterprise_name"],
        participant_name=row["participant_name"],
        enterprise_interest=pair.enterprise,
        participant_interest=pair.participant,
        interest_expires_at=mi.expires_at(pair, timedelta(hours=ttl_hours)) if ttl_hours else None,
    )


def _settings_out(row: asyncpg.Record) -> MatchingSettingsOut:
    return MatchingSettingsOut(
        roadshow_id=row["id"],
        mode=row["matching_mode"],
        interest_ttl_hours=row["interest_ttl_hours"],
        scheduling_closes_at=row["scheduling_closes_at"],
    )


def _job_out(row: asyncpg.Record) -> ScheduleJobOut:
    return ScheduleJobOut(
        job_id=row["id"],
        **{k: row[k] for k in ScheduleJobOut.model_fields if k != "job_id"},
    )


class Matching:
    """The use cases, bound to their configuration and the topic their events go to."""

    def __init__(
        self, settings: MatchingSettings, clock: Callable[[], datetime] | None = None
    ) -> None:
        # Injectable so that expiry and closing times are tested without waiting.
        self.clock: Callable[[], datetime] = clock or (lambda: datetime.now(UTC))
        self._topic = settings.topics.matching
        self._weights = settings.weights()
        self._threshold = settings.match_threshold
        self._delta = settings.match_update_delta
        self._fair_minimum = settings.schedule_fair_minimum
        self._enterprise_cap = settings.schedule_enterprise_max_meetings
        self.max_attempts = settings.scheduler_max_attempts
        self.lease_seconds = settings.scheduler_lease_seconds

    async def _emit(
        self,
        conn: asyncpg.Connection,
        ctx: Context,
        items: Sequence[tuple[str, uuid.UUID, BaseModel]],
    ) -> None:
        if items:
            await add_events(
                conn,
                self._topic,
                [new_event(PRODUCER, ctx, t, key, data) for t, key, data in items],
            )

    # --- registration events ---------------------------------------------------------

    async def roadshow_changed(
        self, conn: asyncpg.Connection, ctx: Context, data: reg.Roadshow
    ) -> None:
        async with conn.transaction():
            await repo.lock_roadshow_scoring(conn, data.roadshow_id)
            row = await repo.get_roadshow(conn, data.roadshow_id, for_update=True)
            if row is not None and row["version"] >= data.version:
                log.info("matching.stale_event", roadshow_id=str(data.roadshow_id))
                return
            # The creating partner organises it; only that partner can change it later.
            organiser = row["organiser_id"] if row is not None else ctx.partner_id
            if organiser is None:
                raise ValueError("roadshow event without the organising partner")
            cancelled: list[MeetingOut] = []
            if row is not None and repo.grid_of(row) != repo.grid_of(data.model_dump()):
                # Slots moved: the schedule no longer describes the event.
                cancelled = [
                    repo.meeting_of(r, "cancelled")
                    for r in await repo.scheduled_meetings(conn, data.roadshow_id, for_update=True)
                ]
                await repo.cancel_meetings(conn, [m.meeting_id for m in cancelled])
                await repo.set_current_schedule(conn, data.roadshow_id, None)
            await repo.upsert_roadshow(conn, organiser, data)
            await self._emit(
                conn,
                ctx,
                [("meeting.cancelled", m.match_id, repo.event_meeting(m)) for m in cancelled],
            )
            log.info(
                "matching.roadshow_stored",
                roadshow_id=str(data.roadshow_id),
                version=data.version,
                meetings_cancelled=len(cancelled),
            )

    async def enterprise_changed(
        self, conn: asyncpg.Connection, ctx: Context, data: reg.Enterprise
    ) -> None:
        async with conn.transaction():
            await repo.lock_roadshow_scoring(conn, data.roadshow_id)
            if await self._stale(conn, ENTERPRISE, data.enterprise_id, data.version):
                return
            await repo.upsert_enterprise(conn, ctx.partner_id, data)
            if data.status != "active":
                await self._withdraw_matches(conn, ctx, ENTERPRISE, data.enterprise_id)
                return
            await self._rescore(
                conn,
                ctx,
                ENTERPRISE,
                data.enterprise_id,
                await repo.active_enterprises(conn, data.roadshow_id, only=data.enterprise_id),
                await repo.active_participants(conn, data.roadshow_id),
            )

    async def participant_changed(
        self, conn: asyncpg.Connection, ctx: Context, data: reg.Participant
    ) -> None:
        async with conn.transaction():
            await repo.lock_roadshow_scoring(conn, data.roadshow_id)
            if await self._stale(conn, PARTICIPANT, data.participant_id, data.version):
                return
            await repo.upsert_participant(conn, ctx.partner_id, data)
            if data.status != "active":
                await self._withdraw_matches(conn, ctx, PARTICIPANT, data.participant_id)
                return
            await self._rescore(
                conn,
                ctx,
                PARTICIPANT,
                data.participant_id,
                await repo.active_enterprises(conn, data.roadshow_id),
                await repo.active_participants(conn, data.roadshow_id, only=data.participant_id),
            )

    async def party_withdrawn(
        self, conn: asyncpg.Connection, ctx: Context, side: str, data: reg.Withdrawn
    ) -> None:
        async with conn.transaction():
            await repo.lock_roadshow_scoring(conn, data.roadshow_id)
            if await self._stale(conn, side, data.id, data.version):
                return
            await repo.mark_withdrawn(conn, _TABLE[side], data)
            await self._withdraw_matches(conn, ctx, side, data.id)

    async def person_erased(
        self, conn: asyncpg.Connection, ctx: Context, data: reg.PersonErased
    ) -> None:
        """Matching keeps organisations and projects, never presidents or contacts
        (see the read model), so an erasure finds nothing here to remove."""
        log.info("matching.erasure_noted", erasure_id=str(data.erasure_id), held=0)

    async def _stale(
        self, conn: asyncpg.Connection, side: str, party_id: uuid.UUID, version: int
    ) -> bool:
        row = await repo.lock_party(conn, _TABLE[side], party_id)
        if row is not None and row["version"] >= version:
            log.info("matching.stale_event", side=side, party_id=str(party_id), version=version)
            return True
        return False

    async def _rescore(
        self,
        conn: asyncpg.Connection,
        ctx: Context,
        side: str,
        party_id: uuid.UUID,
        enterprises: list[asyncpg.Record],
        participants: list[asyncpg.Record],
    ) -> None:
        """Score the party against every active counterpart at once (one row of
        the score matrix), then propose, update or withdraw by comparing with what
        was last published."""
        existing = {r["match_id"]: r for r in await repo.matches_of(conn, side, party_id)}
        e_profiles = [repo.enterprise_profile(r) for r in enterprises]
        p_profiles = [repo.participant_profile(r) for r in participants]
        shape = (len(e_profiles), len(p_profiles))
        matches: list[tuple[str, Match]] = []
        seen: set[uuid.UUID] = set()
        if e_profiles and p_profiles:
            scores = domain.score(
                domain.enterprise_features(e_profiles),
                domain.participant_features(p_profiles),
                self._weights,
            )
            total = scores.total.ravel()  # one row or one column: one entry per counterpart
            ii, jj = np.unravel_index(np.arange(total.size), shape)
            # What was last published, per counterpart.
            by_counterpart = {
                r["participant_id" if side == ENTERPRISE else "enterprise_id"]: r
                for r in existing.values()
            }
            counterparts = (
                [p.participant_id for p in p_profiles]
                if side == ENTERPRISE
                else [e.enterprise_id for e in e_profiles]
            )
            last = [by_counterpart.get(c) for c in counterparts]
            old = np.array([r["score"] if r else np.nan for r in last], dtype=np.float64)
            active = np.array([r is not None and r["status"] == "proposed" for r in last])
            plan = domain.plan_changes(total, old, active, self._threshold, self._delta)
            seen = {r["match_id"] for r in last if r is not None}
            for event_type, indexes in (
                ("match.proposed", plan.proposed),
                ("match.updated", plan.updated),
                ("match.withdrawn", plan.withdrawn),
            ):
                for k in indexes:
                    i, j = int(ii[k]), int(jj[k])
                    e, p = e_profiles[i], p_profiles[j]
                    components, applicable = scores.pair(i, j)
                    previous = last[k]
                    match = Match(
                        match_id=match_id_for(e.enterprise_id, p.participant_id),
                        roadshow_id=enterprises[i]["roadshow_id"],
                        enterprise_id=e.enterprise_id,
                        participant_id=p.participant_id,
                        participant_kind=p.kind,
                        score=float(total[k]),
                        components=domain.explain(e, p, components, applicable, self._weights),
                        status="withdrawn" if event_type == "match.withdrawn" else "proposed",
                        version=previous["version"] + 1 if previous is not None else 1,
                        enterprise_partner_id=enterprises[i]["partner_id"],
                        participant_partner_id=participants[j]["partner_id"],
                    )
                    matches.append((event_type, match))
        # Proposed matches whose counterpart is no longer active go too.
        for row in existing.values():
            if row["status"] == "proposed" and row["match_id"] not in seen:
                matches.append(
                    ("match.withdrawn", repo.stored_match(row, "withdrawn", row["version"] + 1))
                )
        await self._publish_matches(conn, ctx, matches)
        log.info(
            "matching.rescored",
            side=side,
            party_id=str(party_id),
            counterparts=max(shape) if min(shape) else 0,
            proposed=sum(t == "match.proposed" for t, _ in matches),
            updated=sum(t == "match.updated" for t, _ in matches),
            withdrawn=sum(t == "match.withdrawn" for t, _ in matches),
        )

    async def _withdraw_matches(
        self, conn: asyncpg.Connection, ctx: Context, side: str, party_id: uuid.UUID
    ) -> None:
        rows = [r for r in await repo.matches_of(conn, side, party_id) if r["status"] == "proposed"]
        matches = [
            ("match.withdrawn", repo.stored_match(r, "withdrawn", r["version"] + 1)) for r in rows
        ]
        await self._publish_matches(conn, ctx, matches)
        log.info("matching.party_withdrawn", side=side, party_id=str(party_id), matches=len(rows))

    async def _publish_matches(
        self, conn: asyncpg.Connection, ctx: Context, matches: list[tuple[str, Match]]
    ) -> None:
        """Store what the events say, cancel the meetings of withdrawn matches, and
        stage both in the outbox (keyed by match id, so a pair's events keep order)."""
        await repo.write_matches(conn, [_match_row(m) for _, m in matches])
        gone = [m.match_id for t, m in matches if t == "match.withdrawn"]
        cancelled = [
            repo.meeting_of(r, "cancelled")
            for r in await repo.scheduled_meetings_of_matches(conn, gone)
        ]
        await repo.cancel_meetings(conn, [m.meeting_id for m in cancelled])
        events: list[tuple[str, uuid.UUID, BaseModel]] = [(t, m.match_id, m) for t, m in matches]
        events += [("meeting.cancelled", m.match_id, repo.event_meeting(m)) for m in cancelled]
        await self._emit(conn, ctx, events)

    # --- reading matches ---------------------------------------------------------------

    async def _check_party(
        self, conn: asyncpg.Connection, partner_id: uuid.UUID, side: str, party_id: uuid.UUID
    ) -> asyncpg.Record:
        """The party's partner and its road show's organiser may read; to anyone
        else the party does not exist."""
        row = await repo.party_access(conn, _TABLE[side], party_id)
        if row is None or partner_id not in (row["partner_id"], row["organiser_id"]):
            raise NotFound(f"no such {side}", field=f"{side}_id")
        return row

    async def _check_organiser(
        self, conn: asyncpg.Connection, partner_id: uuid.UUID, roadshow_id: uuid.UUID
    ) -> asyncpg.Record:
        row = await repo.get_roadshow(conn, roadshow_id)
        if row is None:
            raise NotFound("no such road show", field="roadshow_id")
        if row["organiser_id"] != partner_id:
            raise Forbidden("only the organising partner reads this", field="roadshow_id")
        return row

    async def list_matches(
        self,
        conn: asyncpg.Connection,
        partner_id: uuid.UUID,
        side: str,
        owner_id: uuid.UUID,
        q: MatchQuery | ParticipantMatchQuery,
    ) -> MatchPage:
        if side == "roadshow":
            await self._check_organiser(conn, partner_id, owner_id)
        else:
            await self._check_party(conn, partner_id, side, owner_id)
        rows = await repo.list_matches(
            conn,
            side,
            owner_id,
            kind=q.kind.value if isinstance(q, MatchQuery) and q.kind else None,
            min_score=q.min_score,
            after=_decode_cursor(q.cursor),
            limit=q.limit + 1,
        )
        items = [_match_out(r) for r in rows[: q.limit]]
        last = items[-1] if len(rows) > q.limit else None
        return MatchPage(
            items=items, next_cursor=_encode_cursor(last.score, last.match_id) if last else None
        )

    # --- interest, settings, attendance, figures ---------------------------------------------

    async def get_match(
        self, conn: asyncpg.Connection, partner_id: uuid.UUID, match_id: uuid.UUID
    ) -> MatchOut:
        """Either side's partner and the organiser see a match with both answers."""
        row = await repo.match_for_interest(conn, match_id)
        readers = (
            (row["enterprise_partner_id"], row["participant_partner_id"], row["organiser_id"])
            if row is not None
            else ()
        )
        if row is None or partner_id not in readers:
            raise NotFound("no such match", field="match_id")
        return _match_out(row, row["interest_ttl_hours"])

    async def record_interest(
        self, conn: asyncpg.Connection, ctx: Context, match_id: uuid.UUID, cmd: InterestIn
    ) -> MatchOut:
        """One side's answer, as an event; a decline cancels the pair's meeting at
        once (the rest of the schedule stays where it is)."""
        assert ctx.partner_id is not None
        now = self.clock()
        async with conn.transaction():
            probe = await repo.match_for_interest(conn, match_id)
            if probe is None:
                raise NotFound("no such match", field="match_id")
            await repo.lock_roadshow_scoring(conn, probe["roadshow_id"])
            row = await repo.match_for_interest(conn, match_id, for_update=True)
            assert row is not None
            # Only the partner that registered this side speaks for it; to anyone
            # else the match does not exist (as for every partner-scoped read).
            if row[f"{cmd.side}_partner_id"] != ctx.partner_id:
                raise NotFound("no such match", field="match_id")
            if row["status"] != "proposed":
                raise Conflict("the match was withdrawn", field="match_id")
            closes = row["scheduling_closes_at"]
            if closes is not None and now >= closes:
                raise Conflict(
                    f"scheduling closed at {closes.isoformat()}; interest can no longer change",
                    field="scheduling_closes_at",
                )
            await repo.set_interest(conn, match_id, cmd.side, cmd.interest, now)
            row = await repo.match_for_interest(conn, match_id)
            assert row is not None
            ttl = timedelta(hours=row["interest_ttl_hours"] or 72)
            events: list[tuple[str, uuid.UUID, BaseModel]] = [
                (
                    "interest.recorded",
                    match_id,
                    InterestRecorded(
                        match_id=match_id,
                        roadshow_id=row["roadshow_id"],
                        enterprise_id=row["enterprise_id"],
                        participant_id=row["participant_id"],
                        side=cmd.side,
                        interest=cmd.interest,
                        expires_at=mi.expires_at(repo.pair_interest(row), ttl),
                    ),
                )
            ]
            cancelled: list[MeetingOut] = []
            if cmd.interest == mi.DECLINE:
                cancelled = [
                    repo.meeting_of(r, "cancelled")
                    for r in await repo.scheduled_meetings_of_matches(conn, [match_id])
                ]
                await repo.cancel_meetings(conn, [m.meeting_id for m in cancelled])
                events += [
                    ("meeting.cancelled", m.match_id, repo.event_meeting(m)) for m in cancelled
                ]
            await self._emit(conn, ctx, events)
        log.info(
            "matching.interest_recorded",
            match_id=str(match_id),
            side=cmd.side,
            interest=cmd.interest,
            meetings_cancelled=len(cancelled),
        )
        return _match_out(row, row["interest_ttl_hours"])

    async def expire_interest(self, conn: asyncpg.Connection) -> int:
        """Record `expired` for each silent side past its road show's time to live
        (one interest.recorded each), so an unanswered request never holds a slot.
        Run periodically by the worker and before each scheduling job."""
        now = self.clock()
        async with conn.transaction():
            rows = await repo.awaiting_answer(conn)
            expired: list[tuple[asyncpg.Record, str]] = []
            for row in rows:
                side = mi.expiring_side(
                    repo.pair_interest(row), now, timedelta(hours=row["interest_ttl_hours"])
                )
                if side is not None:
                    await repo.set_interest(conn, row["match_id"], side, mi.EXPIRED, now)
                    expired.append((row, side))
            if not expired:
                return 0
            events: list[tuple[str, uuid.UUID, BaseModel]] = [
                (
                    "interest.recorded",
                    row["match_id"],
                    InterestRecorded(
                        match_id=row["match_id"],
                        roadshow_id=row["roadshow_id"],
                        enterprise_id=row["enterprise_id"],
                        participant_id=row["participant_id"],
                        side=side,
                        interest=mi.EXPIRED,
                        expires_at=None,
                    ),
                )
                for row, side in expired
            ]
            await self._emit(conn, Context(correlation_id=f"expiry-{uuid.uuid4()}"), events)
        log.info("matching.interest_expired", requests=len(expired))
        return len(expired)

    async def matching_settings(
        self, conn: asyncpg.Connection, partner_id: uuid.UUID, roadshow_id: uuid.UUID
    ) -> MatchingSettingsOut:
        return _settings_out(await self._check_organiser(conn, partner_id, roadshow_id))

    async def set_matching_settings(
        self,
        conn: asyncpg.Connection,
        partner_id: uuid.UUID,
        roadshow_id: uuid.UUID,
        cmd: MatchingSettingsIn,
    ) -> MatchingSettingsOut:
        async with conn.transaction():
            await repo.lock_roadshow_scoring(conn, roadshow_id)
            row = await repo.get_roadshow(conn, roadshow_id, for_update=True)
            if row is None:
                raise NotFound("no such road show", field="roadshow_id")
            if row["organiser_id"] != partner_id:
                raise Forbidden(
                    "only the organising partner sets matching settings", field="roadshow_id"
                )
            row = await repo.set_matching_settings(
                conn, roadshow_id, cmd.mode, cmd.interest_ttl_hours, cmd.scheduling_closes_at
            )
        log.info("matching.settings_changed", roadshow_id=str(roadshow_id), mode=cmd.mode)
        return _settings_out(row)

    async def record_attendance(
        self, conn: asyncpg.Connection, ctx: Context, meeting_id: uuid.UUID, cmd: AttendanceIn
    ) -> AttendanceOut:
        """The organiser records whether a meeting took place, once it has started."""
        now = self.clock()
        async with conn.transaction():
            row = await repo.meeting_for_attendance(conn, meeting_id)
            if row is None or row["organiser_id"] != ctx.partner_id:
                raise NotFound("no such meeting", field="meeting_id")
            if row["status"] != "scheduled":
                raise Conflict("the meeting was cancelled from the schedule", field="meeting_id")
            if now < row["starts_at"]:
                raise Conflict(
                    "attendance is recorded once the meeting has started", field="attendance"
                )
            await repo.set_attendance(conn, meeting_id, cmd.attendance, now)
            await self._emit(
                conn,
                ctx,
                [
                    (
                        "attendance.recorded",
                        row["match_id"],
                        AttendanceRecorded(
                            meeting_id=meeting_id,
                            roadshow_id=row["roadshow_id"],
                            match_id=row["match_id"],
                            attendance=cmd.attendance,
                        ),
                    )
                ],
            )
        log.info("matching.attendance_recorded", meeting_id=str(meeting_id))
        return AttendanceOut(
            meeting_id=meeting_id,
            roadshow_id=row["roadshow_id"],
            match_id=row["match_id"],
            attendance=cmd.attendance,
            recorded_at=now,
        )

    async def figures(
        self, conn: asyncpg.Connection, partner_id: uuid.UUID, roadshow_id: uuid.UUID
    ) -> FiguresOut:
        await self._check_organiser(conn, partner_id, roadshow_id)
        matches, meetings = await repo.figures_input(conn, roadshow_id)
        f = mi.figures(
            [repo.pair_interest(r) for r in matches],
            len(meetings),
            [r["attendance"] for r in meetings],
        )
        return FiguresOut(roadshow_id=roadshow_id, **dataclasses.asdict(f))

    # --- scheduling: the HTTP side --------------------------------------------------------

    async def start_scheduling(
        self, conn: asyncpg.Connection, ctx: Context, roadshow_id: uuid.UUID, cmd: ScheduleJobIn
    ) -> ScheduleJobOut:
        """Queue a job (the caller's transaction); the worker picks it up."""
        assert ctx.partner_id is not None
        row = await repo.get_roadshow(conn, roadshow_id, for_update=True)
        if row is None:
            raise NotFound("no such road show", field="roadshow_id")
        if row["organiser_id"] != ctx.partner_id:
            raise Forbidden(
                "only the organising partner schedules a road show", field="roadshow_id"
            )
        running = await repo.active_job(conn, roadshow_id)
        if running is not None:
            raise Conflict(
                f"scheduling job {running['id']} is already {running['status']} for this road show",
                field="roadshow_id",
            )
        job = await repo.insert_job(
            conn,
            uuid.uuid4(),
            roadshow_id,
            ctx.partner_id,
            ctx.correlation_id,
            cmd.fair_minimum if cmd.fair_minimum is not None else self._fair_minimum,
            cmd.enterprise_max_meetings or self._enterprise_cap,
        )
        log.info("matching.schedule_requested", job_id=str(job["id"]), roadshow_id=str(roadshow_id))
        return _job_out(job)

    async def get_job(
        self, conn: asyncpg.Connection, partner_id: uuid.UUID, job_id: uuid.UUID
    ) -> ScheduleJobOut:
        row = await repo.get_job(conn, job_id)
        if row is None or row["partner_id"] != partner_id:
            raise NotFound("no such scheduling job", field="job_id")
        return _job_out(row)

    async def roadshow_schedule(
        self, conn: asyncpg.Connection, partner_id: uuid.UUID, roadshow_id: uuid.UUID
    ) -> ScheduleOut:
        roadshow = await self._check_organiser(conn, partner_id, roadshow_id)
        rows = await repo.scheduled_meetings(conn, roadshow_id)
        return self._schedule(roadshow, rows)

    async def party_schedule(
        self, conn: asyncpg.Connection, partner_id: uuid.UUID, side: str, party_id: uuid.UUID
    ) -> ScheduleOut:
        access = await self._check_party(conn, partner_id, side, party_id)
        roadshow = await repo.get_roadshow(conn, access["roadshow_id"])
        if roadshow is None:
            raise NotFound("the road show is not known yet", field=f"{side}_id")
        rows = await repo.scheduled_meetings(
            conn,
            roadshow["id"],
            enterprise_id=party_id if side == ENTERPRISE else None,
            participant_id=party_id if side == PARTICIPANT else None,
        )
        return self._schedule(roadshow, rows)

    def _schedule(self, roadshow: asyncpg.Record, rows: list[asyncpg.Record]) -> ScheduleOut:
        return ScheduleOut(
            roadshow_id=roadshow["id"],
            schedule_id=roadshow["schedule_id"],
            timezone=roadshow["timezone"],
            venue=roadshow["venue"],
            meetings=[repo.meeting_of(r) for r in rows],
        )

    # --- scheduling: the worker side -------------------------------------------------------

    async def claim_job(self, conn: asyncpg.Connection, claim: uuid.UUID) -> asyncpg.Record | None:
        async with conn.transaction():
            job = await repo.claim_job(conn, claim, self.lease_seconds)
            if job is not None and job["attempts"] > self.max_attempts:
                await repo.fail_job(
                    conn, job["id"], f"gave up after {self.max_attempts} interrupted attempts"
                )
                log.warning("matching.schedule_abandoned", job_id=str(job["id"]))
                return None
            return job

    async def scheduling_problem(
        self, conn: asyncpg.Connection, job: asyncpg.Record
    ) -> tuple[domain.SchedulingProblem, int]:
        """The solver's input from the current read model, with the road show's
        version it was read at: eligible pairs under the organiser's mode (interest
        as it stands now, expired requests recorded first), and the current
        schedule's meetings to keep in place."""
        await self.expire_interest(conn)
        now = self.clock()
        async with conn.transaction(isolation="repeatable_read", readonly=True):
            roadshow = await repo.get_roadshow(conn, job["roadshow_id"])
            assert roadshow is not None  # a job is only queued for a known road show
            enterprises = await repo.active_enterprises(conn, roadshow["id"])
            participants = await repo.active_participants(conn, roadshow["id"])
            candidates = await repo.proposed_matches_of_roadshow(conn, roadshow["id"])
            current = await repo.scheduled_meetings(conn, roadshow["id"])
        problem = domain.scheduling_problem(
            repo.grid_of(roadshow),
            [repo.party_of(r) for r in enterprises],
            [repo.party_of(r) for r in participants],
            [
                domain.Candidate(
                    r["match_id"],
                    r["enterprise_id"],
                    r["participant_id"],
                    r["score"],
                    r["status"],
                    repo.pair_interest(r),
                )
                for r in candidates
            ],
            threshold=self._threshold,
            fair_minimum=job["fair_minimum"],
            enterprise_cap=job["enterprise_max_meetings"],
            mode=roadshow["matching_mode"],
            now=now,
            interest_ttl=timedelta(hours=roadshow["interest_ttl_hours"]),
            previous=[
                domain.PreviousMeeting(r["match_id"], r["slot"], r["table_no"] - 1) for r in current
            ],
        )
        return problem, roadshow["version"]

    async def save_schedule(
        self,
        conn: asyncpg.Connection,
        job: asyncpg.Record,
        problem: domain.SchedulingProblem,
        version: int,
        schedule: Schedule,
    ) -> bool:
        """Replace the road show's schedule with the solver's, in one transaction:
        meetings that stay (same pair, slot and table) are kept, the others are
        cancelled, the new ones scheduled, each with its event. False when the job
        was taken over, or the road show's slots changed meanwhile (the job then
        fails). `version` is the road show's version the problem was read at."""
        ctx = Context(
            correlation_id=job["correlation_id"],
            partner_id=job["partner_id"],
            causation_id=str(job["id"]),
        )
        roadshow_id = job["roadshow_id"]
        async with conn.transaction():
            await repo.lock_roadshow_scoring(conn, roadshow_id)
            current_job = await repo.get_job(conn, job["id"], for_update=True)
            if current_job is None or current_job["claim"] != job["claim"]:
                log.warning("matching.schedule_taken_over", job_id=str(job["id"]))
                return False
            roadshow = await repo.get_roadshow(conn, roadshow_id, for_update=True)
            assert roadshow is not None
            # A new name or venue leaves the solution valid; new slots or tables do not.
            if repo.grid_of(roadshow) != problem.grid:
                await repo.fail_job(
                    conn,
                    job["id"],
                    "the road show's slots or tables changed while scheduling; start a new job",
                )
                return False
            inst = problem.instance
            # Matches withdrawn while the solver ran do not meet.
            alive = await repo.still_proposed(conn, [problem.match_ids[k] for k in schedule.pair])
            keep = np.array(
                [problem.match_ids[k] in alive for k in schedule.pair], dtype=bool
            ).reshape(schedule.pair.size)
            final = Schedule(
                schedule.pair[keep], schedule.slot[keep], schedule.table[keep], schedule.bound
            )
            # Per match: where the solver put it (pair index, slot, 1-based table).
            wanted = {
                problem.match_ids[k]: (int(k), int(s), int(t) + 1)
                for k, s, t in zip(final.pair, final.slot, final.table, strict=True)
            }
            current = await repo.scheduled_meetings(conn, roadshow_id, for_update=True)
            kept = [
                r
                for r in current
                if wanted.get(r["match_id"], (0, -1, -1))[1:] == (r["slot"], r["table_no"])
            ]
            moving = [
                r
                for r in current
                if r["match_id"] in wanted
                and wanted[r["match_id"]][1:] != (r["slot"], r["table_no"])
            ]
            dropped = [
                repo.meeting_of(r, "cancelled") for r in current if r["match_id"] not in wanted
            ]
            present = {r["match_id"] for r in current}
            schedule_id = uuid.uuid4()
            score_total = round(total_score(inst, final), 4)
            await repo.insert_schedule(
                conn,
                schedule_id,
                roadshow_id,
                job["id"],
                version,
                final.size,
                score_total,
                schedule.bound,
            )
            await repo.cancel_meetings(conn, [m.meeting_id for m in dropped])
            await repo.move_meetings(conn, [r["id"] for r in kept], schedule_id)
            await repo.move_meeting_rows(
                conn,
                [
                    {
                        "id": r["id"],
                        "slot": wanted[r["match_id"]][1],
                        "table_no": wanted[r["match_id"]][2],
                        "starts_at": problem.slots[wanted[r["match_id"]][1]][0],
                        "ends_at": problem.slots[wanted[r["match_id"]][1]][1],
                        "schedule_id": schedule_id,
                    }
                    for r in moving
                ],
            )
            new_rows = [
                {
                    "id": uuid.uuid4(),
                    "schedule_id": schedule_id,
                    "roadshow_id": roadshow_id,
                    "match_id": match_id,
                    "enterprise_id": problem.enterprise_ids[int(inst.pair_enterprise[k])],
                    "participant_id": problem.participant_ids[int(inst.pair_participant[k])],
                    "slot": slot,
                    "table_no": table,
                    "starts_at": problem.slots[slot][0],
                    "ends_at": problem.slots[slot][1],
                    "score": float(inst.pair_score[k]),
                }
                for match_id, (k, slot, table) in wanted.items()
                if match_id not in present
            ]
            await repo.insert_meetings(conn, new_rows)
            by_id = {
                r["id"]: repo.meeting_of(r)
                for r in await repo.meetings_by_id(
                    conn, [r["id"] for r in kept + moving] + [r["id"] for r in new_rows]
                )
            }
            await repo.set_current_schedule(conn, roadshow_id, schedule_id)
            missing = shortfall(inst, final)
            changes = ScheduleChanges(
                kept=len(kept),
                moved=len(moving),
                cancelled=len(dropped),
                added=len(new_rows),
                moved_meeting_ids=[r["id"] for r in moving],
                cancelled_meeting_ids=[m.meeting_id for m in dropped],
                added_meeting_ids=[r["id"] for r in new_rows],
            )
            await repo.finish_job(
                conn,
                job["id"],
                schedule_id,
                final.size,
                score_total,
                None if schedule.bound is None else round(schedule.bound, 4),
                missing,
                changes=changes.model_dump(mode="json"),
            )
            events: list[tuple[str, uuid.UUID, BaseModel]] = [
                ("meeting.cancelled", m.match_id, repo.event_meeting(m)) for m in dropped
            ]
            for r in moving:
                m = by_id[r["id"]]
                events.append(
                    (
                        "meeting.moved",
                        m.match_id,
                        MeetingMoved(
                            **repo.event_meeting(m).model_dump(),
                            previous_slot=r["slot"],
                            previous_table=r["table_no"],
                            previous_starts_at=r["starts_at"].astimezone(m.starts_at.tzinfo),
                            previous_ends_at=r["ends_at"].astimezone(m.starts_at.tzinfo),
                        ),
                    )
                )
            # Unchanged meetings are announced again under the new schedule id, so
            # that schedule.completed's count equals the meeting events a consumer
            # can collect for it (re-announcing an unchanged meeting changes nothing).
            events += [
                ("meeting.scheduled", by_id[i].match_id, repo.event_meeting(by_id[i]))
                for i in [r["id"] for r in kept] + [r["id"] for r in new_rows]
            ]
            events.append(
                (
                    "schedule.completed",
                    schedule_id,
                    ScheduleCompleted(
                        schedule_id=schedule_id,
                        roadshow_id=roadshow_id,
                        meetings=final.size,
                        total_score=score_total,
                    ),
                )
            )
            await self._emit(conn, ctx, events)
        log.info(
            "matching.schedule_saved",
            job_id=str(job["id"]),
            schedule_id=str(schedule_id),
            meetings=final.size,
            kept=len(kept),
            moved=len(moving),
            cancelled=len(dropped),
            scheduled=len(new_rows),
            objective=round(objective(inst, final), 4),
            bound=schedule.bound,
        )
        return True

    async def heartbeat(
        self, conn: asyncpg.Connection, job: asyncpg.Record, progress: float
    ) -> None:
        await repo.job_heartbeat(conn, job["id"], job["claim"], round(min(progress, 0.99), 3))

    async def fail_job(self, conn: asyncpg.Connection, job: asyncpg.Record, error: str) -> None:
        async with conn.transaction():
            current = await repo.get_job(conn, job["id"], for_update=True)
            if current is not None and current["claim"] == job["claim"]:
                await repo.fail_job(conn, job["id"], error)
