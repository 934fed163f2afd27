"""Matching's HTTP routes: each takes the parsed request, calls a use case, and
maps its domain result to a response model (schemas.py)."""

from __future__ import annotations

import dataclasses
import uuid
from typing import Any

from aiohttp import web

from services.matching.feedback.model import Feedback, FollowUp, RecordFeedback, RecordFollowUp
from services.matching.http import schemas as s
from services.matching.http.render import schedule_csv, schedule_ical
from services.matching.interest.model import RecordInterest, RoadshowSettings, SettingsChange
from services.matching.scheduling.model import Job, MeetingView, RoadshowSchedule, StartScheduling
from services.matching.scoring.exclusions import excluded_participants
from services.matching.scoring.model import MatchFilter, MatchView
from services.matching.use_cases import UseCases
from shared.contracts.matching import Side
from shared.errors import NotFound
from shared.http.api import Api, Call, respond
from shared.pagination import next_cursor

USE_CASES = web.AppKey("matching", UseCases)

api = Api(
    title="Roadshow matching",
    description="Explained matches between a road show's enterprises and its local funds, "
    "companies and banks, and the event's 1:1 meeting schedule.",
)


def _uses(call: Call[Any, Any]) -> UseCases:
    return call.app[USE_CASES]


# --- domain results as responses -----------------------------------------------------------


def _match_out(v: MatchView) -> s.MatchOut:
    return s.MatchOut(
        **v.match.model_dump(),
        enterprise_name=v.enterprise_name,
        participant_name=v.participant_name,
        enterprise_interest=v.interest.enterprise,
        participant_interest=v.interest.participant,
        interest_expires_at=v.interest_expires_at,
    )


def _job_out(job: Job) -> s.ScheduleJobOut:
    fields = {
        name: getattr(job, name) for name in s.ScheduleJobOut.model_fields if name != "job_id"
    }
    return s.ScheduleJobOut(job_id=job.id, **fields)


def _meeting_out(v: MeetingView) -> s.MeetingOut:
    return s.MeetingOut(
        **v.meeting.model_dump(),
        enterprise_name=v.enterprise_name,
        participant_name=v.participant_name,
        participant_kind=v.participant_kind,
        locked=v.locked,
        added_by_hand=v.added_by_hand,
        pending=v.pending,
    )


def _schedule_response(schedule: RoadshowSchedule, fmt: str, name: str) -> web.StreamResponse:
    out = s.ScheduleOut(
        roadshow_id=schedule.roadshow_id,
        schedule_id=schedule.schedule_id,
        timezone=schedule.timezone,
        venue=schedule.venue,
        meetings=[_meeting_out(v) for v in schedule.meetings],
        pending_changes=schedule.pending_changes,
    )
    if fmt == "csv":
        return web.Response(
            text=schedule_csv(out),
            content_type="text/csv",
            headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
        )
    if fmt == "ics":
        return web.Response(
            body=schedule_ical(out, name),
            content_type="text/calendar",
            headers={"Content-Disposition": f'attachment; filename="{name}.ics"'},
        )
    return respond(out)


# --- matches ---------------------------------------------------------------------------


async def _matches(
    call: Call[None, s.MatchQuery] | Call[None, s.ParticipantMatchQuery],
    owner: Side | None,
    id_name: str,
) -> s.MatchPage:
    q = call.query
    after = q.after(float, uuid.UUID)
    f = MatchFilter(
        limit=q.limit + 1,  # one more tells whether a next page exists
        after=(after[0], after[1]) if after else None,
        kind=q.kind if isinstance(q, s.MatchQuery) else None,
        min_score=q.min_score,
    )
    views = await _uses(call).scoring.list_matches(
        call.conn, call.partner_id, owner, call.id(id_name), f
    )
    return s.MatchPage(
        items=[_match_out(v) for v in views[: q.limit]],
        next_cursor=next_cursor(views, q.limit, lambda v: (v.match.score, v.match.match_id)),
    )


@api.route(
    "GET",
    "/v1/enterprises/{enterprise_id}/matches",
    summary="An enterprise's matches, best first, with the reasons of each score",
    query=s.MatchQuery,
    response=s.MatchPage,
    tag="matches",
)
async def enterprise_matches(call: Call[None, s.MatchQuery]) -> s.MatchPage:
    return await _matches(call, "enterprise", "enterprise_id")


@api.route(
    "GET",
    "/v1/enterprises/{enterprise_id}/exclusions",
    summary="Participants that are not a match because the enterprise fails one of"
    " their mandatory criteria, with the reason of each",
    response=s.ExclusionsOut,
    tag="matches",
)
async def enterprise_exclusions(call: Call[None, None]) -> s.ExclusionsOut:
    enterprise_id = call.id("enterprise_id")
    found = await excluded_participants(call.conn, call.partner_id, enterprise_id)
    return s.ExclusionsOut(
        enterprise_id=enterprise_id,
        items=[
            s.ExclusionOut(
                participant_id=x.participant_id,
                participant_name=x.participant_name,
                participant_kind=x.participant_kind,
                failures=[s.CriterionFailure(criterion=c, reason=r) for c, r in x.failures],
            )
            for x in found
        ],
    )


@api.route(
    "GET",
    "/v1/participants/{participant_id}/matches",
    summary="A participant's matches with enterprises, best first",
    query=s.ParticipantMatchQuery,
    response=s.MatchPage,
    tag="matches",
)
async def participant_matches(call: Call[None, s.ParticipantMatchQuery]) -> s.MatchPage:
    return await _matches(call, "participant", "participant_id")


@api.route(
    "GET",
    "/v1/roadshows/{roadshow_id}/matches",
    summary="Every match of a road show you organise, best first",
    query=s.MatchQuery,
    response=s.MatchPage,
    tag="matches",
)
async def roadshow_matches(call: Call[None, s.MatchQuery]) -> s.MatchPage:
    return await _matches(call, None, "roadshow_id")


# --- scheduling --------------------------------------------------------------------------


@api.route(
    "POST",
    "/v1/roadshows/{roadshow_id}/schedule-jobs",
    summary="Start scheduling the 1:1 meetings of a road show you organise; poll the job",
    body=s.ScheduleJobIn,
    response=s.ScheduleJobOut,
    status=202,
    tag="scheduling",
    idempotent=True,
    body_optional=True,
)
async def start_scheduling(call: Call[s.ScheduleJobIn, None]) -> s.ScheduleJobOut:
    b = call.body
    cmd = StartScheduling(b.fair_minimum, b.enterprise_max_meetings, b.publish)
    job = await _uses(call).scheduling.start(call.uow, call.id("roadshow_id"), cmd)
    return _job_out(job)


@api.route(
    "GET",
    "/v1/schedule-jobs/{job_id}",
    summary="A scheduling job: status, progress and, when done, its schedule's figures",
    response=s.ScheduleJobOut,
    tag="scheduling",
)
async def get_job(call: Call[None, None]) -> s.ScheduleJobOut:
    return _job_out(await _uses(call).scheduling.job(call.conn, call.partner_id, call.id("job_id")))


@api.route(
    "GET",
    "/v1/roadshows/{roadshow_id}/schedule",
    summary="The meeting schedule of a road show you organise (JSON or CSV)",
    query=s.TableFormat,
    response=s.ScheduleOut,
    produces=("text/csv",),
    tag="scheduling",
)
async def roadshow_schedule(call: Call[None, s.TableFormat]) -> web.StreamResponse:
    roadshow_id = call.id("roadshow_id")
    out = await _uses(call).scheduling.roadshow_schedule(call.conn, call.partner_id, roadshow_id)
    return _schedule_response(out, call.query.format, f"schedule-{roadshow_id}")


async def _party_schedule(
    call: Call[None, s.PartyFormat], side: Side, id_name: str
) -> web.StreamResponse:
    party_id = call.id(id_name)
    out = await _uses(call).scheduling.party_schedule(call.conn, call.partner_id, side, party_id)
    return _schedule_response(out, call.query.format, f"meetings-{party_id}")


@api.route(
    "GET",
    "/v1/enterprises/{enterprise_id}/schedule",
    summary="An enterprise's meetings (JSON, CSV, or an iCalendar file in the event's zone)",
    query=s.PartyFormat,
    response=s.ScheduleOut,
    produces=("text/csv", "text/calendar"),
    tag="scheduling",
)
async def enterprise_schedule(call: Call[None, s.PartyFormat]) -> web.StreamResponse:
    return await _party_schedule(call, "enterprise", "enterprise_id")


@api.route(
    "GET",
    "/v1/participants/{participant_id}/schedule",
    summary="A participant's meetings (JSON, CSV, or an iCalendar file in the event's zone)",
    query=s.PartyFormat,
    response=s.ScheduleOut,
    produces=("text/csv", "text/calendar"),
    tag="scheduling",
)
async def participant_schedule(call: Call[None, s.PartyFormat]) -> web.StreamResponse:
    return await _party_schedule(call, "participant", "participant_id")


# --- provisional schedules: hand edits and publishing ----------------------------------------


@api.route(
    "PUT",
    "/v1/meetings/{meeting_id}/lock",
    summary="Lock a meeting of a road show you organise where it is (or unlock it): "
    "hand edits refuse to move or cancel a locked meeting",
    body=s.LockIn,
    response=s.MeetingOut,
    tag="scheduling",
)
async def lock_meeting(call: Call[s.LockIn, None]) -> s.MeetingOut:
    view = await _uses(call).scheduling.lock(call.uow, call.id("meeting_id"), call.body.locked)
    return _meeting_out(view)


@api.route(
    "PUT",
    "/v1/meetings/{meeting_id}/place",
    summary="Move a meeting to another slot and table; a conflict (double-booked, outside "
    "availability, no table) is refused with the reason. Announced when published",
    body=s.PlaceIn,
    response=s.MeetingOut,
    tag="scheduling",
)
async def move_meeting(call: Call[s.PlaceIn, None]) -> s.MeetingOut:
    b = call.body
    view = await _uses(call).scheduling.move(call.uow, call.id("meeting_id"), b.slot, b.table)
    return _meeting_out(view)


@api.route(
    "POST",
    "/v1/meetings/{meeting_id}/cancel",
    summary="Cancel a meeting by hand (re-runs do not schedule the pair again); "
    "announced when published",
    response=s.MeetingOut,
    tag="scheduling",
)
async def cancel_meeting(call: Call[None, None]) -> s.MeetingOut:
    return _meeting_out(await _uses(call).scheduling.cancel(call.uow, call.id("meeting_id")))


@api.route(
    "POST",
    "/v1/roadshows/{roadshow_id}/meetings",
    summary="Add a meeting by hand for a match; a conflict (double-booked, outside "
    "availability, over a cap, no table) is refused with the reason",
    body=s.MeetingIn,
    response=s.MeetingOut,
    status=201,
    tag="scheduling",
    idempotent=True,
)
async def add_meeting(call: Call[s.MeetingIn, None]) -> s.MeetingOut:
    b = call.body
    view = await _uses(call).scheduling.add(
        call.uow, call.id("roadshow_id"), b.match_id, b.slot, b.table
    )
    return _meeting_out(view)


@api.route(
    "POST",
    "/v1/roadshows/{roadshow_id}/schedule/publish",
    summary="Publish the schedule as it stands: its changes since the last publication and "
    "every meeting are announced (events, webhooks, e-mail)",
    response=s.PublicationOut,
    tag="scheduling",
)
async def publish_schedule(call: Call[None, None]) -> s.PublicationOut:
    out = await _uses(call).scheduling.publish(call.uow, call.id("roadshow_id"))
    return s.PublicationOut.model_validate(out, from_attributes=True)


# --- interest, settings, attendance, figures -------------------------------------------------


@api.route(
    "GET",
    "/v1/matches/{match_id}",
    summary="One match with both sides' interest (either side's partner, or the organiser)",
    response=s.MatchOut,
    tag="interest",
)
async def get_match(call: Call[None, None]) -> s.MatchOut:
    view = await _uses(call).interest.get_match(call.conn, call.partner_id, call.id("match_id"))
    return _match_out(view)


@api.route(
    "PUT",
    "/v1/matches/{match_id}/interest",
    summary="Accept, decline or must-meet a match, for the side you registered; "
    "changeable until the road show's scheduling closes",
    body=s.InterestIn,
    response=s.MatchOut,
    tag="interest",
)
async def put_interest(call: Call[s.InterestIn, None]) -> s.MatchOut:
    cmd = RecordInterest(call.body.side, call.body.interest)
    view = await _uses(call).interest.record_interest(call.uow, call.id("match_id"), cmd)
    return _match_out(view)


def _settings_out(settings: RoadshowSettings) -> s.MatchingSettingsOut:
    return s.MatchingSettingsOut.model_validate(settings, from_attributes=True)


@api.route(
    "GET",
    "/v1/roadshows/{roadshow_id}/matching-settings",
    summary="The matching mode, interest time to live and closing time of a road show you organise",
    response=s.MatchingSettingsOut,
    tag="interest",
)
async def get_matching_settings(call: Call[None, None]) -> s.MatchingSettingsOut:
    out = await _uses(call).interest.settings(call.conn, call.partner_id, call.id("roadshow_id"))
    return _settings_out(out)


@api.route(
    "PUT",
    "/v1/roadshows/{roadshow_id}/matching-settings",
    summary="Set the matching mode (opt-in or opt-out), interest time to live and when "
    "scheduling closes, for a road show you organise",
    body=s.MatchingSettingsIn,
    response=s.MatchingSettingsOut,
    tag="interest",
)
async def put_matching_settings(call: Call[s.MatchingSettingsIn, None]) -> s.MatchingSettingsOut:
    b = call.body
    cmd = SettingsChange(b.mode, b.interest_ttl_hours, b.scheduling_closes_at)
    out = await _uses(call).interest.change_settings(call.uow, call.id("roadshow_id"), cmd)
    return _settings_out(out)


@api.route(
    "PUT",
    "/v1/meetings/{meeting_id}/attendance",
    summary="Record whether a meeting of a road show you organise was held",
    body=s.AttendanceIn,
    response=s.AttendanceOut,
    tag="attendance",
)
async def put_attendance(call: Call[s.AttendanceIn, None]) -> s.AttendanceOut:
    out = await _uses(call).interest.record_attendance(
        call.uow, call.id("meeting_id"), call.body.attendance
    )
    return s.AttendanceOut.model_validate(out, from_attributes=True)


@api.route(
    "GET",
    "/v1/roadshows/{roadshow_id}/figures",
    summary="A road show's figures: matches, accepted, declined, scheduled, held, no-show rate,"
    " feedback, follow-ups and the amount invested",
    query=s.FiguresQuery,
    response=s.FiguresOut,
    tag="attendance",
)
async def get_figures(call: Call[None, s.FiguresQuery]) -> s.FiguresOut:
    roadshow_id = call.id("roadshow_id")
    uses = _uses(call)
    before = await uses.interest.figures(call.conn, call.partner_id, roadshow_id)
    after = await uses.after.figures(call.conn, call.partner_id, roadshow_id, call.query.currency)
    return s.FiguresOut(
        roadshow_id=roadshow_id,
        **dataclasses.asdict(before),
        held=after.held,
        no_show=after.no_show,
        cancelled=after.cancelled,
        unrecorded=after.unrecorded,
        no_show_rate=after.no_show_rate,
        feedback=after.feedback,
        feedback_by_interest=after.by_interest,
        feedback_by_next_step=after.by_next_step,
        follow_ups_open=after.follow_ups_open,
        follow_ups_by_stage=after.by_stage,
        invested=s.InvestedOut.model_validate(after.invested, from_attributes=True),
    )


# --- after the meeting: feedback and follow-up -------------------------------------------------

_SIDE = "/v1/meetings/{meeting_id}/feedback/{side}"


_SIDES: dict[str, Side] = {"enterprise": "enterprise", "participant": "participant"}


def _side(call: Call[Any, Any]) -> Side:
    side = _SIDES.get(call.path("side"))
    if side is None:
        raise NotFound("no such side: enterprise or participant", field="side")
    return side


def _feedback_out(f: Feedback) -> s.FeedbackOut:
    return s.FeedbackOut.model_validate(f, from_attributes=True)


def _follow_up_out(f: FollowUp) -> s.FollowUpOut:
    return s.FollowUpOut.model_validate(f, from_attributes=True)


@api.route(
    "PUT",
    _SIDE,
    summary="Your side's feedback on a meeting: whether it took place, your interest, the"
    " next step (the partner that registered that side; once the meeting has started)",
    body=s.FeedbackIn,
    response=s.FeedbackOut,
    tag="feedback",
    path_types={"side": Side},
)
async def put_feedback(call: Call[s.FeedbackIn, None]) -> s.FeedbackOut:
    b = call.body
    cmd = RecordFeedback(b.took_place, b.interest, b.next_step, b.note)
    out = await _uses(call).after.record_feedback(call.uow, call.id("meeting_id"), _side(call), cmd)
    return _feedback_out(out)


@api.route(
    "GET",
    _SIDE,
    summary="A side's feedback on a meeting (that side's partner, or the organiser)",
    response=s.FeedbackOut,
    tag="feedback",
    path_types={"side": Side},
)
async def get_feedback(call: Call[None, None]) -> s.FeedbackOut:
    out = await _uses(call).after.feedback(
        call.conn, call.partner_id, call.id("meeting_id"), _side(call)
    )
    return _feedback_out(out)


@api.route(
    "PUT",
    "/v1/meetings/{meeting_id}/follow-up",
    summary="Where the deal stands after a meeting: negotiating, agreement signed, invested"
    " (amount and currency) or no deal (either side's partner, or the organiser)",
    body=s.FollowUpIn,
    response=s.FollowUpOut,
    tag="feedback",
)
async def put_follow_up(call: Call[s.FollowUpIn, None]) -> s.FollowUpOut:
    b = call.body
    cmd = RecordFollowUp(b.stage, b.amount, b.currency)
    return _follow_up_out(
        await _uses(call).after.record_follow_up(call.uow, call.id("meeting_id"), cmd)
    )


@api.route(
    "GET",
    "/v1/meetings/{meeting_id}/follow-up",
    summary="A meeting's follow-up: when it falls due and the deal progress recorded",
    response=s.FollowUpOut,
    tag="feedback",
)
async def get_follow_up(call: Call[None, None]) -> s.FollowUpOut:
    out = await _uses(call).after.follow_up(call.conn, call.partner_id, call.id("meeting_id"))
    return _follow_up_out(out)
