"""Registration's HTTP routes: parse the request, call the use case, respond."""

from __future__ import annotations

from aiohttp import web

from services.registration.schemas import (
    DelegationIn,
    DelegationOut,
    DelegationPatch,
    DelegationQuery,
    EnterpriseIn,
    EnterprisePatch,
    EnterpriseQuery,
    ErasureIn,
    ErasureOut,
    ParticipantIn,
    ParticipantPatch,
    ParticipantQuery,
    PartnerIn,
    PartnerKeyOut,
    RoadshowIn,
    RoadshowPatch,
    RoadshowQuery,
    SectorGroupOut,
    SectorsOut,
)
from services.registration.service import Registration
from shared.contracts import registration as c
from shared.envelope import Context
from shared.http.api import Api, path_id, read_body, read_json, read_query, respond
from shared.http.idempotency import create_once
from shared.http.middleware import POOL, caller_context, correlation_id
from shared.http.pagination import PageOut
from shared.taxonomy import LINKED_GROUPS, SECTOR_GROUPS

SERVICE = web.AppKey("registration", Registration)

api = Api(
    title="Roadshow registration",
    description="Partner organisations register road shows, delegations of foreign "
    "enterprises and local participants. Every change is published as an event.",
)


# --- operator ---------------------------------------------------------------------


@api.route(
    "POST",
    "/admin/partners",
    summary="Create a partner and its first API key",
    body=PartnerIn,
    response=PartnerKeyOut,
    status=201,
    auth="admin",
    tag="admin",
)
async def create_partner(request: web.Request) -> web.StreamResponse:
    cmd = await read_body(request, PartnerIn)
    ctx = Context(correlation_id=correlation_id(request))
    async with request.app[POOL].acquire() as conn:
        out = await request.app[SERVICE].create_partner(conn, ctx, cmd.name)
    return respond(out, 201)


@api.route(
    "POST",
    "/admin/partners/{partner_id}/keys",
    summary="Issue another API key",
    response=PartnerKeyOut,
    status=201,
    auth="admin",
    tag="admin",
)
async def issue_key(request: web.Request) -> web.StreamResponse:
    ctx = Context(correlation_id=correlation_id(request))
    async with request.app[POOL].acquire() as conn:
        out = await request.app[SERVICE].issue_key(conn, ctx, path_id(request, "partner_id"))
    return respond(out, 201)


@api.route(
    "DELETE",
    "/admin/partners/{partner_id}/keys/{key_id}",
    summary="Revoke an API key",
    status=204,
    auth="admin",
    tag="admin",
)
async def revoke_key(request: web.Request) -> web.StreamResponse:
    ctx = Context(correlation_id=correlation_id(request))
    async with request.app[POOL].acquire() as conn:
        await request.app[SERVICE].revoke_key(
            conn, ctx, path_id(request, "partner_id"), path_id(request, "key_id")
        )
    return web.Response(status=204)


# --- reference data ------------------------------------------------------------------


@api.route(
    "GET",
    "/v1/sectors",
    summary="The sector taxonomy",
    response=SectorsOut,
    auth="none",
    tag="reference",
)
async def sectors(_: web.Request) -> web.StreamResponse:
    groups = [
        SectorGroupOut(
            group=g,
            sectors=list(members),
            linked_groups=sorted(next(iter(pair - {g})) for pair in LINKED_GROUPS if g in pair),
        )
        for g, members in SECTOR_GROUPS.items()
    ]
    return respond(SectorsOut(groups=groups))


# --- road shows ----------------------------------------------------------------------


@api.route(
    "POST",
    "/v1/roadshows",
    summary="Create a road show (you organise it)",
    body=RoadshowIn,
    response=c.Roadshow,
    status=201,
    tag="roadshows",
    idempotent=True,
)
async def create_roadshow(request: web.Request) -> web.StreamResponse:
    raw = await read_json(request)
    cmd = RoadshowIn.model_validate(raw)
    return await create_once(
        request,
        raw,
        lambda conn: request.app[SERVICE].create_roadshow(conn, caller_context(request), cmd),
    )


@api.route(
    "GET",
    "/v1/roadshows",
    summary="List road shows",
    query=RoadshowQuery,
    response=PageOut[c.Roadshow],
    tag="roadshows",
)
async def list_roadshows(request: web.Request) -> web.StreamResponse:
    q = read_query(request, RoadshowQuery)
    async with request.app[POOL].acquire() as conn:
        items, cursor = await request.app[SERVICE].list_roadshows(conn, q)
    return respond(PageOut[c.Roadshow](items=items, next_cursor=cursor))


@api.route(
    "GET",
    "/v1/roadshows/{roadshow_id}",
    summary="One road show",
    response=c.Roadshow,
    tag="roadshows",
)
async def get_roadshow(request: web.Request) -> web.StreamResponse:
    async with request.app[POOL].acquire() as conn:
        out = await request.app[SERVICE].get_roadshow(conn, path_id(request, "roadshow_id"))
    return respond(out)


@api.route(
    "PATCH",
    "/v1/roadshows/{roadshow_id}",
    summary="Change a road show you organise",
    body=RoadshowPatch,
    response=c.Roadshow,
    tag="roadshows",
)
async def update_roadshow(request: web.Request) -> web.StreamResponse:
    patch = await read_body(request, RoadshowPatch)
    async with request.app[POOL].acquire() as conn:
        out = await request.app[SERVICE].update_roadshow(
            conn, caller_context(request), path_id(request, "roadshow_id"), patch
        )
    return respond(out)


# --- delegations ------------------------------------------------------------------------


@api.route(
    "POST",
    "/v1/delegations",
    summary="Register a delegation with its enterprises",
    body=DelegationIn,
    response=DelegationOut,
    status=201,
    tag="delegations",
    idempotent=True,
)
async def register_delegation(request: web.Request) -> web.StreamResponse:
    raw = await read_json(request)
    cmd = DelegationIn.model_validate(raw)
    return await create_once(
        request,
        raw,
        lambda conn: request.app[SERVICE].register_delegation(conn, caller_context(request), cmd),
    )


@api.route(
    "GET",
    "/v1/delegations",
    summary="List your delegations",
    query=DelegationQuery,
    response=PageOut[c.Delegation],
    tag="delegations",
)
async def list_delegations(request: web.Request) -> web.StreamResponse:
    q = read_query(request, DelegationQuery)
    async with request.app[POOL].acquire() as conn:
        items, cursor = await request.app[SERVICE].list_delegations(
            conn, caller_context(request), q
        )
    return respond(PageOut[c.Delegation](items=items, next_cursor=cursor))


@api.route(
    "GET",
    "/v1/delegations/{delegation_id}",
    summary="One delegation with its enterprises",
    response=DelegationOut,
    tag="delegations",
)
async def get_delegation(request: web.Request) -> web.StreamResponse:
    async with request.app[POOL].acquire() as conn:
        out = await request.app[SERVICE].get_delegation(
            conn, caller_context(request), path_id(request, "delegation_id")
        )
    return respond(out)


@api.route(
    "PATCH",
    "/v1/delegations/{delegation_id}",
    summary="Change a delegation",
    body=DelegationPatch,
    response=DelegationOut,
    tag="delegations",
)
async def update_delegation(request: web.Request) -> web.StreamResponse:
    patch = await read_body(request, DelegationPatch)
    async with request.app[POOL].acquire() as conn:
        out = await request.app[SERVICE].update_delegation(
            conn, caller_context(request), path_id(request, "delegation_id"), patch
        )
    return respond(out)


@api.route(
    "POST",
    "/v1/delegations/{delegation_id}/withdraw",
    summary="Withdraw a delegation and all its enterprises",
    response=DelegationOut,
    tag="delegations",
)
async def withdraw_delegation(request: web.Request) -> web.StreamResponse:
    async with request.app[POOL].acquire() as conn:
        out = await request.app[SERVICE].withdraw_delegation(
            conn, caller_context(request), path_id(request, "delegation_id")
        )
    return respond(out)


@api.route(
    "POST",
    "/v1/delegations/{delegation_id}/enterprises",
    summary="Add an enterprise to a delegation",
    body=EnterpriseIn,
    response=c.Enterprise,
    status=201,
    tag="enterprises",
    idempotent=True,
)
async def add_enterprise(request: web.Request) -> web.StreamResponse:
    raw = await read_json(request)
    cmd = EnterpriseIn.model_validate(raw)
    delegation_id = path_id(request, "delegation_id")
    return await create_once(
        request,
        {"delegation_id": str(delegation_id), **raw},
        lambda conn: request.app[SERVICE].add_enterprise(
            conn, caller_context(request), delegation_id, cmd
        ),
    )


# --- enterprises --------------------------------------------------------------------------


@api.route(
    "GET",
    "/v1/enterprises",
    summary="List your enterprises",
    query=EnterpriseQuery,
    response=PageOut[c.Enterprise],
    tag="enterprises",
)
async def list_enterprises(request: web.Request) -> web.StreamResponse:
    q = read_query(request, EnterpriseQuery)
    async with request.app[POOL].acquire() as conn:
        items, cursor = await request.app[SERVICE].list_enterprises(
            conn, caller_context(request), q
        )
    return respond(PageOut[c.Enterprise](items=items, next_cursor=cursor))


@api.route(
    "GET",
    "/v1/enterprises/{enterprise_id}",
    summary="One enterprise",
    response=c.Enterprise,
    tag="enterprises",
)
async def get_enterprise(request: web.Request) -> web.StreamResponse:
    async with request.app[POOL].acquire() as conn:
        out = await request.app[SERVICE].get_enterprise(
            conn, caller_context(request), path_id(request, "enterprise_id")
        )
    return respond(out)


@api.route(
    "PATCH",
    "/v1/enterprises/{enterprise_id}",
    summary="Change an enterprise",
    body=EnterprisePatch,
    response=c.Enterprise,
    tag="enterprises",
)
async def update_enterprise(request: web.Request) -> web.StreamResponse:
    patch = await read_body(request, EnterprisePatch)
    async with request.app[POOL].acquire() as conn:
        out = await request.app[SERVICE].update_enterprise(
            conn, caller_context(request), path_id(request, "enterprise_id"), patch
        )
    return respond(out)


@api.route(
    "POST",
    "/v1/enterprises/{enterprise_id}/withdraw",
    summary="Withdraw an enterprise",
    response=c.Enterprise,
    tag="enterprises",
)
async def withdraw_enterprise(request: web.Request) -> web.StreamResponse:
    async with request.app[POOL].acquire() as conn:
        out = await request.app[SERVICE].withdraw_enterprise(
            conn, caller_context(request), path_id(request, "enterprise_id")
        )
    return respond(out)


# --- participants ---------------------------------------------------------------------------


@api.route(
    "POST",
    "/v1/participants",
    summary="Register a local company, investment fund or bank",
    body=ParticipantIn,
    response=c.Participant,
    status=201,
    tag="participants",
    idempotent=True,
)
async def register_participant(request: web.Request) -> web.StreamResponse:
    raw = await read_json(request)
    cmd = ParticipantIn.model_validate(raw)
    return await create_once(
        request,
        raw,
        lambda conn: request.app[SERVICE].register_participant(conn, caller_context(request), cmd),
    )


@api.route(
    "GET",
    "/v1/participants",
    summary="List your participants",
    query=ParticipantQuery,
    response=PageOut[c.Participant],
    tag="participants",
)
async def list_participants(request: web.Request) -> web.StreamResponse:
    q = read_query(request, ParticipantQuery)
    async with request.app[POOL].acquire() as conn:
        items, cursor = await request.app[SERVICE].list_participants(
            conn, caller_context(request), q
        )
    return respond(PageOut[c.Participant](items=items, next_cursor=cursor))


@api.route(
    "GET",
    "/v1/participants/{participant_id}",
    summary="One participant",
    response=c.Participant,
    tag="participants",
)
async def get_participant(request: web.Request) -> web.StreamResponse:
    async with request.app[POOL].acquire() as conn:
        out = await request.app[SERVICE].get_participant(
            conn, caller_context(request), path_id(request, "participant_id")
        )
    return respond(out)


@api.route(
    "PATCH",
    "/v1/participants/{participant_id}",
    summary="Change a participant",
    body=ParticipantPatch,
    response=c.Participant,
    tag="participants",
)
async def update_participant(request: web.Request) -> web.StreamResponse:
    patch = await read_body(request, ParticipantPatch)
    async with request.app[POOL].acquire() as conn:
        out = await request.app[SERVICE].update_participant(
            conn, caller_context(request), path_id(request, "participant_id"), patch
        )
    return respond(out)


@api.route(
    "POST",
    "/v1/participants/{participant_id}/withdraw",
    summary="Withdraw a participant",
    response=c.Participant,
    tag="participants",
)
async def withdraw_participant(request: web.Request) -> web.StreamResponse:
    async with request.app[POOL].acquire() as conn:
        out = await request.app[SERVICE].withdraw_participant(
            conn, caller_context(request), path_id(request, "participant_id")
        )
    return respond(out)


# --- personal data ----------------------------------------------------------------------------


@api.route(
    "POST",
    "/v1/erasures",
    summary="Erase a person's data (a president or contact) everywhere",
    body=ErasureIn,
    response=ErasureOut,
    status=202,
    tag="privacy",
)
async def erase_person(request: web.Request) -> web.StreamResponse:
    cmd = await read_body(request, ErasureIn)
    async with request.app[POOL].acquire() as conn:
        out = await request.app[SERVICE].erase_person(conn, caller_context(request), cmd.email)
    return respond(out, 202)
