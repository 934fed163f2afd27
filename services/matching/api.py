"""Matching's HTTP routes: parse the request, call the use case, respond."""

from __future__ import annotations

from typing import Any

from aiohttp import web

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
    ParticipantMatchQuery,
    PartyFormat,
    ScheduleJobIn,
    ScheduleJobOut,
    ScheduleOut,
    TableFormat,
)
from services.matching.service import ENTERPRISE, PARTICIPANT, Matching
from shared.http.api import Api, path_id, read_body, read_json, read_query, respond
from shared.http.idempotency import create_once
from shared.http.middleware import POOL, caller_context, partner_id

SERVICE = web.AppKey("matching", Matching)

api = Api(
    title="Roadshow matching",
    description="Explained matches between a road show's enterprises and its local funds, "
    "companies and banks, and the event's 1:1 meeting schedule.",
)


def _schedule_response(schedule: ScheduleOut, fmt: str, name: str) -> web.StreamResponse:
    if fmt == "csv":
        return web.Response(
            text=schedule.to_csv(),
            content_type="text/csv",
            headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
        )
    if fmt == "ics":
        return web.Response(
            body=schedule.to_ical(name),
            content_type="text/calendar",
            headers={"Content-Disposition": f'attachment; filename="{name}.ics"'},
        )
    return respond(schedule)


# --- matches ---------------------------------------------------------------------------


@api.route(
    "GET",
    "/v1/enterprises/{enterprise_id}/matches",
    summary="An enterprise's matches, best first, with the reasons of each score",
    query=MatchQuery,
    response=MatchPage,
    tag="matches",
)
async def enterprise_matches(request: web.Request) -> web.StreamResponse:
    q = read_query(request, MatchQuery)
    async with request.app[POOL].acquire() as conn:
        out = await request.app[SERVICE].list_matches(
            conn, partner_id(request), ENTERPRISE, path_id(request, "enterprise_id"), q
        )
    return respond(out)


@api.route(
    "GET",
    "/v1/participants/{participant_id}/matches",
    summary="A participant's matches with enterprises, best first",
    query=ParticipantMatchQuery,
    response=MatchPage,
    tag="matches",
)
async def participant_matches(request: web.Request) -> web.StreamResponse:
    q = read_query(request, ParticipantMatchQuery)
    async with request.app[POOL].acquire() as conn:
        out = await request.app[SERVICE].list_matches(
            conn, partner_id(request), PARTICIPANT, path_id(request, "participant_id"), q
        )
    return respond(out)


@api.route(
    "GET",
    "/v1/roadshows/{roadshow_id}/matches",
    summary="Every match of a road show you organise, best first",
    query=MatchQuery,
    response=MatchPage,
    tag="matches",
)
async def roadshow_matches(request: web.Request) -> web.StreamResponse:
    q = read_query(request, MatchQuery)
    async with request.app[POOL].acquire() as conn:
        out = await request.app[SERVICE].list_matches(
            conn, partner_id(request), "roadshow", path_id(request, "roadshow_id"), q
        )
    return respond(out)


# --- scheduling --------------------------------------------------------------------------


@api.route(
    "POST",
    "/v1/roadshows/{roadshow_id}/schedule-jobs",
    summary="Start scheduling the 1:1 meetings of a road show you organise; poll the job",
    body=ScheduleJobIn,
    response=ScheduleJobOut,
    status=202,
    tag="scheduling",
    idempotent=True,
)
async def start_scheduling(request: web.Request) -> web.StreamResponse:
    # An empty body means the defaults.
    raw: Any = await read_json(request) if request.can_read_body else {}
    cmd = ScheduleJobIn.model_validate(raw)
    roadshow_id = path_id(request, "roadshow_id")
    return await create_once(
        request,
        {"roadshow_id": str(roadshow_id), "body": raw},
        lambda conn: request.app[SERVICE].start_scheduling(
            conn, caller_context(request), roadshow_id, cmd
        ),
        status=202,
    )


@api.route(
    "GET",
    "/v1/schedule-jobs/{job_id}",
    summary="A scheduling job: status, progress and, when done, its schedule's figures",
    response=ScheduleJobOut,
    tag="scheduling",
)
async def get_job(request: web.Request) -> web.StreamResponse:
    async with request.app[POOL].acquire() as conn:
        out = await request.app[SERVICE].get_job(
            conn, partner_id(request), path_id(request, "job_id")
        )
    return respond(out)


@api.route(
    "GET",
    "/v1/roadshows/{roadshow_id}/schedule",
    summary="The meeting schedule of a road show you organise (JSON or CSV)",
    query=TableFormat,
    response=ScheduleOut,
    tag="scheduling",
)
async def roadshow_schedule(request: web.Request) -> web.StreamResponse:
    q = read_query(request, TableFormat)
    roadshow_id = path_id(request, "roadshow_id")
    async with request.app[POOL].acquire() as conn:
        out = await request.app[SERVICE].roadshow_schedule(conn, partner_id(request), roadshow_id)
    return _schedule_response(out, q.format, f"schedule-{roadshow_id}")


@api.route(
    "GET",
    "/v1/enterprises/{enterprise_id}/schedule",
    summary="An enterprise's meetings (JSON, CSV, or an iCalendar file in the event's zone)",
    query=PartyFormat,
    response=ScheduleOut,
    tag="scheduling",
)
async def enterprise_schedule(request: web.Request) -> web.StreamResponse:
    q = read_query(request, PartyFormat)
    enterprise_id = path_id(request, "enterprise_id")
    async with request.app[POOL].acquire() as conn:
        out = await request.app[SERVICE].party_schedule(
            conn, partner_id(request), ENTERPRISE, enterprise_id
        )
    return _schedule_response(out, q.format, f"meetings-{enterprise_id}")


@api.route(
    "GET",
    "/v1/participants/{participant_id}/schedule",
    summary="A participant's meetings (JSON, CSV, or an iCalendar file in the event's zone)",
    query=PartyFormat,
    response=ScheduleOut,
    tag="scheduling",
)
async def participant_schedule(request: web.Request) -> web.StreamResponse:
    q = read_query(request, PartyFormat)
    participant_id = path_id(request, "participant_id")
    async with request.app[POOL].acquire() as conn:
        out = await request.app[SERVICE].party_schedule(
            conn, partner_id(request), PARTICIPANT, participant_id
        )
    return _schedule_response(out, q.format, f"meetings-{participant_id}")


# --- interest, settings, attendance, figures -------------------------------------------------


@api.route(
    "GET",
    "/v1/matches/{match_id}",
    summary="One match with both sides' interest (either side's partner, or the organiser)",
    response=MatchOut,
    tag="interest",
)
async def get_match(request: web.Request) -> web.StreamResponse:
    async with request.app[POOL].acquire() as conn:
        out = await request.app[SERVICE].get_match(
            conn, partner_id(request), path_id(request, "match_id")
        )
    return respond(out)


@api.route(
    "PUT",
    "/v1/matches/{match_id}/interest",
    summary="Accept, decline or must-meet a match, for the side you registered; "
    "changeable until the road show's scheduling closes",
    body=InterestIn,
    response=MatchOut,
    tag="interest",
)
async def put_interest(request: web.Request) -> web.StreamResponse:
    cmd = await read_body(request, InterestIn)
    match_id = path_id(request, "match_id")
    async with request.app[POOL].acquire() as conn:
        out = await request.app[SERVICE].record_interest(
            conn, caller_context(request), match_id, cmd
        )
    return respond(out)


@api.route(
    "GET",
    "/v1/roadshows/{roadshow_id}/matching-settings",
    summary="The matching mode, interest time to live and closing time of a road show you organise",
    response=MatchingSettingsOut,
    tag="interest",
)
async def get_matching_settings(request: web.Request) -> web.StreamResponse:
    async with request.app[POOL].acquire() as conn:
        out = await request.app[SERVICE].matching_settings(
            conn, partner_id(request), path_id(request, "roadshow_id")
        )
    return respond(out)


@api.route(
    "PUT",
    "/v1/roadshows/{roadshow_id}/matching-settings",
    summary="Set the matching mode (opt-in or opt-out), interest time to live and when "
    "scheduling closes, for a road show you organise",
    body=MatchingSettingsIn,
    response=MatchingSettingsOut,
    tag="interest",
)
async def put_matching_settings(request: web.Request) -> web.StreamResponse:
    cmd = await read_body(request, MatchingSettingsIn)
    roadshow_id = path_id(request, "roadshow_id")
    async with request.app[POOL].acquire() as conn:
        out = await request.app[SERVICE].set_matching_settings(
            conn, partner_id(request), roadshow_id, cmd
        )
    return respond(out)


@api.route(
    "PUT",
    "/v1/meetings/{meeting_id}/attendance",
    summary="Record whether a meeting of a road show you organise was held",
    body=AttendanceIn,
    response=AttendanceOut,
    tag="attendance",
)
async def put_attendance(request: web.Request) -> web.StreamResponse:
    cmd = await read_body(request, AttendanceIn)
    meeting_id = path_id(request, "meeting_id")
    async with request.app[POOL].acquire() as conn:
        out = await request.app[SERVICE].record_attendance(
            conn, caller_context(request), meeting_id, cmd
        )
    return respond(out)


@api.route(
    "GET",
    "/v1/roadshows/{roadshow_id}/figures",
    summary="A road show's figures: matches, accepted, declined, scheduled, held, no-show rate",
    response=FiguresOut,
    tag="attendance",
)
async def get_figures(request: web.Request) -> web.StreamResponse:
    async with request.app[POOL].acquire() as conn:
        out = await request.app[SERVICE].figures(
            conn, partner_id(request), path_id(request, "roadshow_id")
        )
    return respond(out)
