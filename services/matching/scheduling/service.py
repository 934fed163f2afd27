"""Scheduling use cases. The HTTP side queues a job and reads schedules; the
worker side claims a job, reads its problem, and saves the solver's schedule as
a diff against the current one, with the events that announce it. Each runs in
the unit of work it is given and opens no transaction of its own."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta

import asyncpg

from services.matching.clock import Clock, utc_now
from services.matching.readmodel import repository as readmodel
from services.matching.readmodel.access import organised_roadshow, readable_party
from services.matching.readmodel.model import Roadshow
from services.matching.scheduling import repository as repo
from services.matching.scheduling.diff import (
    NewMeeting,
    ReschedulePlan,
    plan_reschedule,
    reschedule_events,
)
from services.matching.scheduling.edits import Place, placement_conflict, publication_events
from services.matching.scheduling.model import (
    Job,
    JobResult,
    MeetingView,
    Publication,
    RoadshowSchedule,
    StartScheduling,
)
from services.matching.scheduling.problem import (
    PreviousMeeting,
    Rules,
    SchedulingProblem,
    meeting_places,
    scheduling_problem,
    slot_times,
)
from services.matching.scheduling.solver import Schedule, objective
from services.matching.settings import MatchingSettings
from shared.contracts.matching import Meeting, ScheduleCompleted, Side
from shared.errors import Conflict, NotFound
from shared.logging import get_logger
from shared.unit_of_work import UnitOfWork

log = get_logger(__name__)


async def cancel_meetings(uow: UnitOfWork, meetings: Sequence[Meeting]) -> list[Meeting]:
    """Cancel meetings, each announced one with its meeting.cancelled event (keyed by
    match); a provisional meeting nobody was told about goes without a word."""
    cancelled = [m.model_copy(update={"status": "cancelled"}) for m in meetings]
    ids = [m.meeting_id for m in cancelled]
    announced = await repo.announced_ids(uow.conn, ids)
    await repo.cancel_meetings(uow.conn, ids)
    for m in cancelled:
        if m.meeting_id in announced:
            uow.emit("meeting.cancelled", m.match_id, m)
    if cancelled:
        await repo.mark_published(uow.conn, cancelled[0].roadshow_id, sorted(announced))
    return cancelled


async def cancel_meetings_of_matches(uow: UnitOfWork, match_ids: list[uuid.UUID]) -> int:
    """Cancel the scheduled meetings of matches that can no longer meet."""
    meetings = await repo.scheduled_meetings_of_matches(uow.conn, match_ids)
    return len(await cancel_meetings(uow, meetings))


@dataclass(frozen=True)
class LoadedProblem:
    """A job's problem, with the road show's version it was read at."""

    problem: SchedulingProblem
    roadshow_version: int


@dataclass
class Scheduling:
    threshold: float
    fair_minimum: int
    enterprise_cap: int | None
    lease_seconds: float
    max_attempts: int
    clock: Clock = field(default=utc_now)

    @classmethod
    def from_settings(cls, settings: MatchingSettings, clock: Clock | None = None) -> Scheduling:
        return cls(
            threshold=settings.match_threshold,
            fair_minimum=settings.schedule_fair_minimum,
            enterprise_cap=settings.schedule_enterprise_max_meetings,
            lease_seconds=settings.scheduler_lease_seconds,
            max_attempts=settings.scheduler_max_attempts,
            clock=clock or utc_now,
        )

    # --- the HTTP side ----------------------------------------------------------------

    async def start(self, uow: UnitOfWork, roadshow_id: uuid.UUID, cmd: StartScheduling) -> Job:
        """Queue a job for the worker. The road show's row stays locked until the
        caller's unit commits, so two requests cannot both queue one."""
        partner_id = uow.ctx.partner_id
        assert partner_id is not None and uow.conn.is_in_transaction()
        await organised_roadshow(
            uow.conn,
            partner_id,
            roadshow_id,
            for_update=True,
        )
        running = await repo.active_job(uow.conn, roadshow_id)
        if running is not None:
            raise Conflict(
                f"scheduling job {running.id} is already {running.status} for this road show",
                field="roadshow_id",
            )
        job = await repo.insert_job(
            uow.conn,
            job_id=uuid.uuid4(),
            roadshow_id=roadshow_id,
            partner_id=partner_id,
            correlation_id=uow.ctx.correlation_id,
            fair_minimum=cmd.fair_minimum if cmd.fair_minimum is not None else self.fair_minimum,
            enterprise_max_meetings=cmd.enterprise_max_meetings or self.enterprise_cap,
            publish=cmd.publish,
        )
        log.info("matching.schedule_requested", job_id=str(job.id), roadshow_id=str(roadshow_id))
        return job

    async def job(self, conn: asyncpg.Connection, partner_id: uuid.UUID, job_id: uuid.UUID) -> Job:
        job = await repo.get_job(conn, job_id)
        if job is None or job.partner_id != partner_id:
            raise NotFound("no such scheduling job", field="job_id")
        return job

    async def roadshow_schedule(
        self, conn: asyncpg.Connection, partner_id: uuid.UUID, roadshow_id: uuid.UUID
    ) -> RoadshowSchedule:
        roadshow = await organised_roadshow(conn, partner_id, roadshow_id)
        meetings = await repo.scheduled_meetings(conn, roadshow_id)
        pending = await repo.pending_changes(conn, roadshow_id)
        return RoadshowSchedule(
            roadshow.id, roadshow.schedule_id, roadshow.timezone, roadshow.venue, meetings, pending
        )

    # --- hand edits of a provisional schedule, and publishing it -------------------------

    async def _editable(
        self, uow: UnitOfWork, meeting_id: uuid.UUID
    ) -> tuple[MeetingView, Roadshow]:
        """The meeting, if the caller organises its road show (locked for the edit).
        Raises NotFound for anyone else, as for a meeting that does not exist."""
        partner_id = uow.ctx.partner_id
        assert partner_id is not None
        view = await repo.meeting_for_edit(uow.conn, meeting_id)
        if view is None:
            raise NotFound("no such meeting", field="meeting_id")
        try:
            roadshow = await organised_roadshow(
                uow.conn, partner_id, view.meeting.roadshow_id, for_update=True
            )
        except NotFound:
            raise NotFound("no such meeting", field="meeting_id") from None
        return view, roadshow

    async def lock(self, uow: UnitOfWork, meeting_id: uuid.UUID, locked: bool) -> MeetingView:
        view, _ = await self._editable(uow, meeting_id)
        if view.meeting.status != "scheduled":
            raise Conflict("the meeting is cancelled", field="meeting_id")
        await repo.set_locked(uow.conn, meeting_id, locked)
        return await self._view(uow, meeting_id)

    async def move(
        self, uow: UnitOfWork, meeting_id: uuid.UUID, slot: int, table: int
    ) -> MeetingView:
        """Raises Conflict naming the reason: locked, cancelled, or the place's conflict."""
        view, roadshow = await self._editable(uow, meeting_id)
        m = view.meeting
        if view.locked:
            raise Conflict("locked: unlock the meeting before moving it", field="meeting_id")
        if m.status != "scheduled":
            raise Conflict("the meeting is cancelled", field="meeting_id")
        place = await self._check_place(
            uow, roadshow, m.enterprise_id, m.participant_id, slot, table, moving=m.meeting_id
        )
        await repo.place_meeting(uow.conn, meeting_id, place)
        return await self._view(uow, meeting_id)

    async def cancel(self, uow: UnitOfWork, meeting_id: uuid.UUID) -> MeetingView:
        view, _ = await self._editable(uow, meeting_id)
        if view.locked:
            raise Conflict("locked: unlock the meeting before cancelling it", field="meeting_id")
        if view.meeting.status != "scheduled":
            raise Conflict("the meeting is already cancelled", field="meeting_id")
        await repo.cancel_by_hand(uow.conn, meeting_id)
        return await self._view(uow, meeting_id)

    async def add(
        self, uow: UnitOfWork, roadshow_id: uuid.UUID, match_id: uuid.UUID, slot: int, table: int
    ) -> MeetingView:
        """A meeting by hand for a match of the road show, in the current schedule.
        Raises NotFound (match_id) for a match that may not meet, Conflict for the place."""
        partner_id = uow.ctx.partner_id
        assert partner_id is not None
        roadshow = await organised_roadshow(uow.conn, partner_id, roadshow_id, for_update=True)
        match = await repo.match_to_meet(uow.conn, match_id)
        if match is None or match["roadshow_id"] != roadshow_id:
            raise NotFound("no such match that may meet", field="match_id")
        if roadshow.schedule_id is None:
            raise Conflict("no schedule yet: run the scheduler first", field="roadshow_id")
        if await repo.scheduled_meetings_of_matches(uow.conn, [match_id]):
            raise Conflict("the pair already has a meeting", field="match_id")
        place = await self._check_place(
            uow, roadshow, match["enterprise_id"], match["participant_id"], slot, table, moving=None
        )
        meeting_id = uuid.uuid4()
        new = NewMeeting(
            meeting_id,
            match_id,
            match["enterprise_id"],
            match["participant_id"],
            place.slot,
            place.table,
            place.starts_at,
            place.ends_at,
            match["score"],
        )
        await repo.insert_meetings(uow.conn, [new], roadshow.schedule_id, roadshow_id)
        await repo.mark_added_by_hand(uow.conn, meeting_id)
        return await self._view(uow, meeting_id)

    async def _check_place(
        self,
        uow: UnitOfWork,
        roadshow: Roadshow,
        enterprise_id: uuid.UUID,
        participant_id: uuid.UUID,
        slot: int,
        table: int,
        *,
        moving: uuid.UUID | None,
    ) -> Place:
        times = slot_times(roadshow.grid)
        if not 0 <= slot < len(times):
            raise Conflict(
                f"no such slot: the road show has slots 0 to {len(times) - 1}", field="slot"
            )
        place = Place(slot, table, *times[slot])
        enterprise, participant = await repo.parties(uow.conn, enterprise_id, participant_id)
        refused = placement_conflict(
            place,
            moving=moving,
            enterprise=enterprise,
            participant=participant,
            busy=await repo.busy(uow.conn, roadshow.id),
            slots=len(times),
            tables=roadshow.grid.tables,
            enterprise_cap=self.enterprise_cap,
        )
        if refused is not None:
            raise Conflict(refused.reason, field=refused.field)
        return place

    async def _view(self, uow: UnitOfWork, meeting_id: uuid.UUID) -> MeetingView:
        view = await repo.meeting_for_edit(uow.conn, meeting_id)
        assert view is not None
        return view

    async def publish(self, uow: UnitOfWork, roadshow_id: uuid.UUID) -> Publication:
        """Announce the schedule as it stands: what changed since it was last
        announced, every scheduled meeting, and the schedule's completion."""
        partner_id = uow.ctx.partner_id
        assert partner_id is not None
        roadshow = await organised_roadshow(uow.conn, partner_id, roadshow_id, for_update=True)
        if roadshow.schedule_id is None:
            raise Conflict("no schedule yet: run the scheduler first", field="roadshow_id")
        current = await repo.to_announce(uow.conn, roadshow_id)
        events = publication_events(current, roadshow.schedule_id, roadshow_id)
        for type_, key, data in events:
            uow.emit(type_, key, data)
        await repo.mark_published(uow.conn, roadshow_id)
        kinds = [t for t, _, _ in events]
        publication = Publication(
            roadshow_id,
            roadshow.schedule_id,
            meetings=kinds.count("meeting.scheduled"),
            moved=kinds.count("meeting.moved"),
            cancelled=kinds.count("meeting.cancelled"),
            events=len(events),
        )
        log.info(
            "matching.schedule_published",
            roadshow_id=str(roadshow_id),
            meetings=publication.meetings,
            moved=publication.moved,
            cancelled=publication.cancelled,
        )
        return publication

    async def party_schedule(
        self, conn: asyncpg.Connection, partner_id: uuid.UUID, side: Side, party_id: uuid.UUID
    ) -> RoadshowSchedule:
        access = await readable_party(conn, partner_id, side, party_id)
        roadshow = await readmodel.get_roadshow(conn, access.roadshow_id)
        if roadshow is None:
            raise NotFound("the road show is not known yet", field=f"{side}_id")
        meetings = await repo.scheduled_meetings(
            conn,
            roadshow.id,
            enterprise_id=party_id if side == "enterprise" else None,
            participant_id=party_id if side == "participant" else None,
        )
        return RoadshowSchedule(
            roadshow.id, roadshow.schedule_id, roadshow.timezone, roadshow.venue, meetings
        )

    async def availability_changed(self, uow: UnitOfWork, roadshow_id: uuid.UUID) -> Job | None:
        """A party's availability changed (the caller holds the road show's lock):
        a road show with a schedule is rescheduled, keeping every meeting that
        still fits where it is (the solver pins the current meetings). A queued
        job will read the change anyway; a running one read the old availability,
        so another job follows it. Returns the job queued now, if any."""
        conn = uow.conn
        roadshow = await readmodel.get_roadshow(conn, roadshow_id)
        if roadshow is None or roadshow.schedule_id is None:
            return None
        active = await repo.active_job(conn, roadshow_id)
        if active is not None:
            if active.status == "running":
                await readmodel.request_reschedule(conn, roadshow_id)
            return None
        last = await repo.job_of_schedule(conn, roadshow.schedule_id)
        return await self._queue_reschedule(uow, roadshow_id, roadshow.organiser_id, last)

    async def _queue_reschedule(
        self, uow: UnitOfWork, roadshow_id: uuid.UUID, organiser_id: uuid.UUID, last: Job | None
    ) -> Job:
        """A job on the organiser's behalf, with the last schedule's parameters."""
        job = await repo.insert_job(
            uow.conn,
            job_id=uuid.uuid4(),
            roadshow_id=roadshow_id,
            partner_id=organiser_id,
            correlation_id=uow.ctx.correlation_id,
            fair_minimum=last.fair_minimum if last is not None else self.fair_minimum,
            enterprise_max_meetings=last.enterprise_max_meetings
            if last is not None
            else self.enterprise_cap,
        )
        log.info("matching.reschedule_queued", job_id=str(job.id), roadshow_id=str(roadshow_id))
        return job

    # --- the worker side ----------------------------------------------------------------

    async def claim_job(self, uow: UnitOfWork, claim: uuid.UUID) -> Job | None:
        """The next job to run, claimed as `claim`; a job claimed more often than
        max_attempts (its workers kept dying) is failed instead."""
        job = await repo.claim_job(uow.conn, claim, self.lease_seconds)
        if job is not None and job.attempts > self.max_attempts:
            last = f"; last: {job.error}" if job.error else ""
            await repo.fail_job(
                uow.conn, job.id, f"gave up after {self.max_attempts} interrupted attempts{last}"
            )
            log.warning("matching.schedule_abandoned", job_id=str(job.id))
            return None
        return job

    async def read_problem(self, conn: asyncpg.Connection, job: Job) -> LoadedProblem:
        """The solver's input from the current read model, read in one snapshot:
        eligible pairs under the organiser's mode (interest as it stands now), and
        the current schedule's meetings to keep in place. Writes nothing: expired
        requests are recorded before (`Interest.expire`)."""
        now = self.clock()
        async with conn.transaction(isolation="repeatable_read", readonly=True):
            roadshow = await readmodel.get_roadshow(conn, job.roadshow_id)
            assert roadshow is not None  # a job is only queued for a known road show
            enterprises = await readmodel.schedulable_parties(conn, "enterprise", roadshow.id)
            participants = await readmodel.schedulable_parties(conn, "participant", roadshow.id)
            candidates = await repo.candidates(conn, roadshow.id)
            current = await repo.scheduled_meetings(conn, roadshow.id)
        problem = scheduling_problem(
            roadshow.grid,
            enterprises,
            participants,
            candidates,
            Rules(
                threshold=self.threshold,
                fair_minimum=job.fair_minimum,
                enterprise_cap=job.enterprise_max_meetings,
                mode=roadshow.matching_mode,
                now=now,
                interest_ttl=timedelta(hours=roadshow.interest_ttl_hours),
            ),
            previous=[
                PreviousMeeting(
                    v.meeting.match_id, v.meeting.slot, v.meeting.table - 1, locked=v.locked
                )
                for v in current
            ],
            layout=roadshow.layout,
        )
        return LoadedProblem(problem, roadshow.version)

    async def save_schedule(
        self, uow: UnitOfWork, job: Job, loaded: LoadedProblem, schedule: Schedule
    ) -> bool:
        """Replace the road show's schedule with the solver's (`plan_reschedule`),
        with its events on behalf of the job. False when the job was taken over,
        or the road show's slots changed meanwhile (the job then fails)."""
        uow = uow.acting_as(job.context())
        conn, problem = uow.conn, loaded.problem
        await readmodel.lock_roadshow(conn, job.roadshow_id)
        current_job = await repo.get_job(conn, job.id, for_update=True)
        if current_job is None or current_job.claim != job.claim:
            log.warning("matching.schedule_taken_over", job_id=str(job.id))
            return False
        roadshow = await readmodel.get_roadshow(conn, job.roadshow_id, for_update=True)
        assert roadshow is not None
        # A new name or venue leaves the solution valid; new slots or tables do not.
        if roadshow.grid != problem.grid or roadshow.layout != problem.layout:
            await repo.fail_job(
                conn,
                job.id,
                "the road show's slots, tables, venues, agenda or interpreters changed while"
                " scheduling; start a new job",
            )
            return False
        alive = await repo.still_proposed(conn, [problem.match_ids[k] for k in schedule.pair])
        current = await repo.scheduled_meetings(conn, job.roadshow_id, for_update=True)
        plan = plan_reschedule(problem, schedule, alive, [v.meeting for v in current])
        schedule_id = uuid.uuid4()
        edited = await repo.pending_changes(conn, job.roadshow_id) > 0
        # The solver's word that nothing is better (docs/matching.md, the exact path).
        proven = bool(schedule.stats.get("proven"))
        await _store_plan(conn, job, loaded.roadshow_version, schedule_id, plan, proven)
        await repo.place_meetings(
            conn, schedule_id, meeting_places(problem, schedule, roadshow.venue)
        )
        # Only publishing announces meetings: a provisional run's stay unannounced.
        if job.publish and edited:  # hand edits not yet announced: announce it all
            await self.publish(uow, job.roadshow_id)
        elif job.publish:
            stored = await repo.meetings_by_id(conn, plan.meeting_ids)
            without = problem.without_interpreter(
                [problem.match_ids[k] for k in plan.schedule.pair]
            )
            for type_, key, data in reschedule_events(plan, schedule_id, job.roadshow_id, stored):
                if isinstance(data, ScheduleCompleted):
                    data = data.model_copy(
                        update={
                            "interpreted": sum(
                                bool(m.interpreter_languages) for m in stored.values()
                            ),
                            "without_interpreter": without,
                        }
                    )
                uow.emit(type_, key, data)
            await repo.mark_published(conn, job.roadshow_id)
        if await readmodel.take_reschedule_request(conn, job.roadshow_id):
            await self._queue_reschedule(uow, job.roadshow_id, roadshow.organiser_id, job)
        log.info(
            "matching.schedule_saved",
            job_id=str(job.id),
            schedule_id=str(schedule_id),
            meetings=plan.schedule.size,
            kept=len(plan.kept),
            moved=len(plan.moved),
            cancelled=len(plan.cancelled),
            scheduled=len(plan.added),
            objective=round(objective(problem.instance, plan.schedule), 4),
            bound=schedule.bound,
            proven=proven,
        )
        return True

    async def heartbeat(self, conn: asyncpg.Connection, job: Job, progress: float) -> None:
        assert job.claim is not None
        await repo.job_heartbeat(conn, job.id, job.claim, round(min(progress, 0.99), 3))

    async def job_failed(self, uow: UnitOfWork, job: Job, error: str) -> None:
        """A run of the job failed with `error`: queued again while it has
        attempts left, else failed (unless another worker took it over)."""
        if job.attempts >= self.max_attempts:
            await self.fail_job(uow, job, f"failed {job.attempts} times; last: {error}")
            return
        assert job.claim is not None
        await repo.requeue_job(uow.conn, job.id, job.claim, error)
        log.warning("matching.schedule_requeued", job_id=str(job.id), attempt=job.attempts)

    async def fail_job(self, uow: UnitOfWork, job: Job, error: str) -> None:
        """Fail the job, unless another worker has taken it over meanwhile."""
        current = await repo.get_job(uow.conn, job.id, for_update=True)
        if current is not None and current.claim == job.claim:
            await repo.fail_job(uow.conn, job.id, error)


async def _store_plan(
    conn: asyncpg.Connection,
    job: Job,
    roadshow_version: int,
    schedule_id: uuid.UUID,
    plan: ReschedulePlan,
    proven: bool,
) -> None:
    bound = plan.schedule.bound
    await repo.insert_schedule(
        conn,
        schedule_id=schedule_id,
        job=job,
        roadshow_version=roadshow_version,
        meetings=plan.schedule.size,
        total_score=plan.total_score,
        upper_bound=bound,
    )
    await repo.cancel_meetings(conn, [m.meeting_id for m in plan.cancelled])
    await repo.restamp_meetings(conn, [m.meeting_id for m in plan.kept], schedule_id)
    await repo.move_meetings(conn, plan.moved, schedule_id)
    await repo.insert_meetings(conn, plan.added, schedule_id, job.roadshow_id)
    await readmodel.set_current_schedule(conn, job.roadshow_id, schedule_id)
    await repo.finish_job(
        conn,
        job_id=job.id,
        schedule_id=schedule_id,
        result=JobResult(
            meetings=plan.schedule.size,
            total_score=plan.total_score,
            upper_bound=None if bound is None else round(bound, 4),
            shortfall=plan.shortfall,
            changes=plan.changes,
            proven=proven,
        ),
    )
