"""Registration's HTTP routes: the route injects the parsed request and a unit of
work; the handler calls the use case and maps its result to the response."""

from __future__ import annotations

from aiohttp import web

from services.registration import model
from services.registration.delegations import service as delegations
from services.registration.http.schemas import (
    AvailabilityIn,
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
from services.registration.participants import service as participants
from services.registration.partners import service as partners
from services.registration.privacy import service as privacy
from services.registration.privacy.keys import Keyring
from services.registration.roadshows import service as roadshows
from shared.contracts import registration as c
from shared.http.api import Api, Call
from shared.pagination import PageOut
from shared.taxonomy import LINKED_GROUPS, SECTOR_GROUPS

# Seals people's fields in the events use cases emit (wired by bootstrap).
KEYRING = web.AppKey("keyring", Keyring)

api = Api(
    title="Roadshow registration",
    description="Partner organisations register road shows, delegations of foreign "
    "enterprises and local participants. Every change is published as an event.",
)


def _key_out(issued: model.IssuedKey) -> PartnerKeyOut:
    return PartnerKeyOut(partner_id=issued.partner_id, key_id=issued.key_id, api_key=issued.api_key)


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
async def create_partner(call: Call[PartnerIn, None]) -> PartnerKeyOut:
    return _key_out(await partners.create_partner(call.uow, call.body.name))


@api.route(
    "POST",
    "/admin/partners/{partner_id}/keys",
    summary="Issue another API key",
    response=PartnerKeyOut,
    status=201,
    auth="admin",
    tag="admin",
)
async def issue_key(call: Call[None, None]) -> PartnerKeyOut:
    return _key_out(await partners.issue_key(call.uow, call.id("partner_id")))


@api.route(
    "DELETE",
    "/admin/partners/{partner_id}/keys/{key_id}",
    summary="Revoke an API key",
    status=204,
    auth="admin",
    tag="admin",
)
async def revoke_key(call: Call[None, None]) -> None:
    await partners.revoke(call.uow, call.id("partner_id"), call.id("key_id"))


# --- reference data ------------------------------------------------------------------


@api.route(
    "GET",
    "/v1/sectors",
    summary="The sector taxonomy",
    response=SectorsOut,
    auth="none",
    tag="reference",
    database=False,
)
async def sectors(_: Call[None, None]) -> SectorsOut:
    groups = [
        SectorGroupOut(
            group=g,
            sectors=list(members),
            linked_groups=sorted(next(iter(pair - {g})) for pair in LINKED_GROUPS if g in pair),
        )
        for g, members in SECTOR_GROUPS.items()
    ]
    return SectorsOut(groups=groups)


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
async def create_roadshow(call: Call[RoadshowIn, None]) -> c.Roadshow:
    return await roadshows.create_roadshow(call.uow, call.body)


@api.route(
    "GET",
    "/v1/roadshows",
    summary="List road shows",
    query=RoadshowQuery,
    response=PageOut[c.Roadshow],
    tag="roadshows",
)
async def list_roadshows(call: Call[None, RoadshowQuery]) -> PageOut[c.Roadshow]:
    q = call.query
    items, cursor = await roadshows.list_roadshows(call.uow, after=q.after_seq(), limit=q.limit)
    return PageOut[c.Roadshow](items=items, next_cursor=cursor)


@api.route(
    "GET",
    "/v1/roadshows/{roadshow_id}",
    summary="One road show",
    response=c.Roadshow,
    tag="roadshows",
)
async def get_roadshow(call: Call[None, None]) -> c.Roadshow:
    return await roadshows.get_roadshow(call.uow, call.id("roadshow_id"))


@api.route(
    "PATCH",
    "/v1/roadshows/{roadshow_id}",
    summary="Change a road show you organise",
    body=RoadshowPatch,
    response=c.Roadshow,
    tag="roadshows",
)
async def update_roadshow(call: Call[RoadshowPatch, None]) -> c.Roadshow:
    return await roadshows.update_roadshow(call.uow, call.id("roadshow_id"), call.body)


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
async def register_delegation(call: Call[DelegationIn, None]) -> DelegationOut:
    return DelegationOut.of(
        await delegations.register_delegation(call.uow, call.app[KEYRING], call.body)
    )


@api.route(
    "GET",
    "/v1/delegations",
    summary="List your delegations",
    query=DelegationQuery,
    response=PageOut[c.Delegation],
    tag="delegations",
)
async def list_delegations(call: Call[None, DelegationQuery]) -> PageOut[c.Delegation]:
    q = call.query
    where = model.PartyFilter(roadshow_id=q.roadshow_id, status=q.status)
    items, cursor = await delegations.list_delegations(
        call.uow, where, after=q.after_seq(), limit=q.limit
    )
    return PageOut[c.Delegation](items=items, next_cursor=cursor)


@api.route(
    "GET",
    "/v1/delegations/{delegation_id}",
    summary="One delegation with its enterprises",
    response=DelegationOut,
    tag="delegations",
)
async def get_delegation(call: Call[None, None]) -> DelegationOut:
    return DelegationOut.of(await delegations.get_delegation(call.uow, call.id("delegation_id")))


@api.route(
    "PATCH",
    "/v1/delegations/{delegation_id}",
    summary="Change a delegation",
    body=DelegationPatch,
    response=DelegationOut,
    tag="delegations",
)
async def update_delegation(call: Call[DelegationPatch, None]) -> DelegationOut:
    found = await delegations.update_delegation(call.uow, call.id("delegation_id"), call.body)
    return DelegationOut.of(found)


@api.route(
    "POST",
    "/v1/delegations/{delegation_id}/withdraw",
    summary="Withdraw a delegation and all its enterprises",
    response=DelegationOut,
    tag="delegations",
)
async def withdraw_delegation(call: Call[None, None]) -> DelegationOut:
    found = await delegations.withdraw_delegation(call.uow, call.id("delegation_id"))
    return DelegationOut.of(found)


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
async def add_enterprise(call: Call[EnterpriseIn, None]) -> c.Enterprise:
    keys = call.app[KEYRING]
    return await delegations.add_enterprise(call.uow, keys, call.id("delegation_id"), call.body)


# --- enterprises --------------------------------------------------------------------------


@api.route(
    "GET",
    "/v1/enterprises",
    summary="List your enterprises",
    query=EnterpriseQuery,
    response=PageOut[c.Enterprise],
    tag="enterprises",
)
async def list_enterprises(call: Call[None, EnterpriseQuery]) -> PageOut[c.Enterprise]:
    q = call.query
    where = model.PartyFilter(
        roadshow_id=q.roadshow_id, delegation_id=q.delegation_id, status=q.status, sectors=q.sector
    )
    items, cursor = await delegations.list_enterprises(
        call.uow, where, after=q.after_seq(), limit=q.limit
    )
    return PageOut[c.Enterprise](items=items, next_cursor=cursor)


@api.route(
    "GET",
    "/v1/enterprises/{enterprise_id}",
    summary="One enterprise",
    response=c.Enterprise,
    tag="enterprises",
)
async def get_enterprise(call: Call[None, None]) -> c.Enterprise:
    return await delegations.get_enterprise(call.uow, call.id("enterprise_id"))


@api.route(
    "PATCH",
    "/v1/enterprises/{enterprise_id}",
    summary="Change an enterprise",
    body=EnterprisePatch,
    response=c.Enterprise,
    tag="enterprises",
)
async def update_enterprise(call: Call[EnterprisePatch, None]) -> c.Enterprise:
    keys = call.app[KEYRING]
    return await delegations.update_enterprise(call.uow, keys, call.id("enterprise_id"), call.body)


@api.route(
    "PUT",
    "/v1/enterprises/{enterprise_id}/availability",
    summary="Set when an enterprise can meet (replaces its availability)",
    body=AvailabilityIn,
    response=c.Enterprise,
    tag="enterprises",
)
async def set_enterprise_availability(call: Call[AvailabilityIn, None]) -> c.Enterprise:
    keys, patch = call.app[KEYRING], model.EnterpriseChanges(availability=call.body)
    return await delegations.update_enterprise(call.uow, keys, call.id("enterprise_id"), patch)


@api.route(
    "POST",
    "/v1/enterprises/{enterprise_id}/withdraw",
    summary="Withdraw an enterprise",
    response=c.Enterprise,
    tag="enterprises",
)
async def withdraw_enterprise(call: Call[None, None]) -> c.Enterprise:
    return await delegations.withdraw_enterprise(call.uow, call.id("enterprise_id"))


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
async def register_participant(call: Call[ParticipantIn, None]) -> c.Participant:
    return await participants.register_participant(call.uow, call.app[KEYRING], call.body)


@api.route(
    "GET",
    "/v1/participants",
    summary="List your participants",
    query=ParticipantQuery,
    response=PageOut[c.Participant],
    tag="participants",
)
async def list_participants(call: Call[None, ParticipantQuery]) -> PageOut[c.Participant]:
    q = call.query
    where = model.PartyFilter(
        roadshow_id=q.roadshow_id, kind=q.kind, status=q.status, sectors=q.sector
    )
    items, cursor = await participants.list_participants(
        call.uow, where, after=q.after_seq(), limit=q.limit
    )
    return PageOut[c.Participant](items=items, next_cursor=cursor)


@api.route(
    "GET",
    "/v1/participants/{participant_id}",
    summary="One participant",
    response=c.Participant,
    tag="participants",
)
async def get_participant(call: Call[None, None]) -> c.Participant:
    return await participants.get_participant(call.uow, call.id("participant_id"))


@api.route(
    "PATCH",
    "/v1/participants/{participant_id}",
    summary="Change a participant",
    body=ParticipantPatch,
    response=c.Participant,
    tag="participants",
)
async def update_participant(call: Call[ParticipantPatch, None]) -> c.Participant:
    keys = call.app[KEYRING]
    return await participants.update_participant(
        call.uow, keys, call.id("participant_id"), call.body
    )


@api.route(
    "PUT",
    "/v1/participants/{participant_id}/availability",
    summary="Set when a participant can meet (replaces its availability)",
    body=AvailabilityIn,
    response=c.Participant,
    tag="participants",
)
async def set_participant_availability(call: Call[AvailabilityIn, None]) -> c.Participant:
    keys, patch = call.app[KEYRING], model.ParticipantChanges(availability=call.body)
    return await participants.update_participant(call.uow, keys, call.id("participant_id"), patch)


@api.route(
    "POST",
    "/v1/participants/{participant_id}/withdraw",
    summary="Withdraw a participant",
    response=c.Participant,
    tag="participants",
)
async def withdraw_participant(call: Call[None, None]) -> c.Participant:
    return await participants.withdraw_participant(call.uow, call.id("participant_id"))


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
async def erase_person(call: Call[ErasureIn, None]) -> ErasureOut:
    done = await privacy.erase_person(call.uow, call.app[KEYRING], call.body.email)
    return ErasureOut(erasure_id=done.erasure_id, subjects=done.subjects)
