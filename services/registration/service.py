"""Registration use cases. Each takes a connection and a command, changes state
and stages the events that change causes in the outbox, in one transaction."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

import asyncpg
from pydantic import BaseModel

from services.registration import domain
from services.registration import repository as repo
from services.registration.schemas import (
    DelegationIn,
    DelegationOut,
    DelegationPatch,
    DelegationQuery,
    EnterpriseIn,
    EnterprisePatch,
    EnterpriseQuery,
    ErasureOut,
    ParticipantIn,
    ParticipantPatch,
    ParticipantQuery,
    PartnerKeyOut,
    RoadshowIn,
    RoadshowPatch,
    RoadshowQuery,
)
from shared.contracts import registration as c
from shared.envelope import Context, new_event
from shared.errors import Forbidden, NotFound
from shared.outbox import add_events
from shared.partner_keys import hash_token, new_token, revoke_key, store_key
from shared.topics import Topics

PRODUCER = "registration"


class Registration:
    """The use cases, bound to the topic their events go to."""

    def __init__(self, topics: Topics) -> None:
        self._topic = topics.registration

    async def _emit(
        self,
        conn: asyncpg.Connection,
        ctx: Context,
        items: Sequence[tuple[str, uuid.UUID, BaseModel]],
    ) -> None:
        await add_events(
            conn, self._topic, [new_event(PRODUCER, ctx, t, key, data) for t, key, data in items]
        )

    # --- partners (operator commands) ---------------------------------------

    async def create_partner(
        self, conn: asyncpg.Connection, ctx: Context, name: str
    ) -> PartnerKeyOut:
        partner_id = uuid.uuid4()
        async with conn.transaction():
            await repo.insert_partner(conn, partner_id, name)
            await self._emit(
                conn,
                ctx,
                [
                    (
                        "partner.registered",
                        partner_id,
                        c.PartnerRegistered(partner_id=partner_id, name=name),
                    )
                ],
            )
            return await self._issue_key(conn, ctx, partner_id)

    async def issue_key(
        self, conn: asyncpg.Connection, ctx: Context, partner_id: uuid.UUID
    ) -> PartnerKeyOut:
        async with conn.transaction():
            if not await repo.partner_exists(conn, partner_id):
                raise NotFound("no such partner", field="partner_id")
            return await self._issue_key(conn, ctx, partner_id)

    async def _issue_key(
        self, conn: asyncpg.Connection, ctx: Context, partner_id: uuid.UUID
    ) -> PartnerKeyOut:
        key_id, token = new_token()
        issued = c.PartnerKeyIssued(
            partner_id=partner_id, key_id=key_id, key_hash=hash_token(token)
        )
        await store_key(conn, issued)
        await self._emit(conn, ctx, [("partner.key_issued", partner_id, issued)])
        return PartnerKeyOut(partner_id=partner_id, key_id=key_id, api_key=token)

    async def revoke_key(
        self, conn: asyncpg.Connection, ctx: Context, partner_id: uuid.UUID, key_id: uuid.UUID
    ) -> None:
        revoked = c.PartnerKeyRevoked(partner_id=partner_id, key_id=key_id)
        async with conn.transaction():
            if not await revoke_key(conn, revoked):
                raise NotFound("no such active key for this partner", field="key_id")
            await self._emit(conn, ctx, [("partner.key_revoked", partner_id, revoked)])

    # --- road shows -----------------------------------------------------------

    async def create_roadshow(
        self, conn: asyncpg.Connection, ctx: Context, cmd: RoadshowIn
    ) -> c.Roadshow:
        assert ctx.partner_id is not None
        async with conn.transaction():
            roadshow = await repo.insert_roadshow(
                conn, uuid.uuid4(), ctx.partner_id, cmd.model_dump()
            )
            await self._emit(conn, ctx, [("roadshow.created", roadshow.roadshow_id, roadshow)])
            return roadshow

    async def get_roadshow(self, conn: asyncpg.Connection, roadshow_id: uuid.UUID) -> c.Roadshow:
        row = await repo.get_roadshow(conn, roadshow_id)
        if row is None:
            raise NotFound("no such road show", field="roadshow_id")
        return repo.roadshow_of(row)

    async def update_roadshow(
        self, conn: asyncpg.Connection, ctx: Context, roadshow_id: uuid.UUID, patch: RoadshowPatch
    ) -> c.Roadshow:
        async with conn.transaction():
            row = await repo.get_roadshow(conn, roadshow_id, for_update=True)
            if row is None:
                raise NotFound("no such road show", field="roadshow_id")
            if row["partner_id"] != ctx.partner_id:
                raise Forbidden(
                    "only the organising partner changes a road show", field="roadshow_id"
                )
            current = repo.roadshow_of(row)
            if not domain.has_changes(patch):
                return current
            fields = domain.merge_patch(current, patch, RoadshowIn)
            roadshow = await repo.update_roadshow(conn, roadshow_id, fields)
            await self._emit(conn, ctx, [("roadshow.updated", roadshow_id, roadshow)])
            return roadshow

    async def list_roadshows(
        self, conn: asyncpg.Connection, q: RoadshowQuery
    ) -> tuple[list[c.Roadshow], int | None]:
        return await repo.list_roadshows(conn, cursor=q.cursor, limit=q.limit)

    async def _require_roadshow(self, conn: asyncpg.Connection, roadshow_id: uuid.UUID) -> None:
        # FOR SHARE: the road show cannot vanish or change under a registration.
        if (
            await conn.fetchval("SELECT true FROM roadshows WHERE id = $1 FOR SHARE", roadshow_id)
            is None
        ):
            raise NotFound("no such road show", field="roadshow_id")

    # --- delegations and enterprises ------------------------------------------

    async def register_delegation(
        self, conn: asyncpg.Connection, ctx: Context, cmd: DelegationIn
    ) -> DelegationOut:
        assert ctx.partner_id is not None
        async with conn.transaction():
            await self._require_roadshow(conn, cmd.roadshow_id)
            delegation_id = uuid.uuid4()
            row = await repo.insert_delegation(
                conn, delegation_id, ctx.partner_id, cmd.roadshow_id, cmd.name, cmd.origin_country
            )
            members = [(uuid.uuid4(), e.model_dump()) for e in cmd.enterprises]
            await repo.insert_enterprises(
                conn, ctx.partner_id, delegation_id, cmd.roadshow_id, members
            )
            enterprises = await repo.enterprises_of_delegation(conn, delegation_id)
            delegation = repo.delegation_of(row, [e.enterprise_id for e in enterprises])
            await self._emit(
                conn,
                ctx,
                [("delegation.registered", delegation_id, delegation)]
                + [("enterprise.registered", e.enterprise_id, e) for e in enterprises],
            )
            return DelegationOut(**delegation.model_dump(), enterprises=enterprises)

    async def get_delegation(
        self, conn: asyncpg.Connection, ctx: Context, delegation_id: uuid.UUID
    ) -> DelegationOut:
        assert ctx.partner_id is not None
        row = await repo.get_delegation(conn, ctx.partner_id, delegation_id)
        if row is None:
            raise NotFound("no such delegation", field="delegation_id")
        enterprises = await repo.enterprises_of_delegation(conn, delegation_id)
        delegation = repo.delegation_of(row, [e.enterprise_id for e in enterprises])
        return DelegationOut(**delegation.model_dump(), enterprises=enterprises)

    async def list_delegations(
        self, conn: asyncpg.Connection, ctx: Context, q: DelegationQuery
    ) -> tuple[list[c.Delegation], int | None]:
        assert ctx.partner_id is not None
        rows, cursor = await repo.list_delegations(
            conn,
            ctx.partner_id,
            roadshow_id=q.roadshow_id,
            status=q.status,
            cursor=q.cursor,
            limit=q.limit,
        )
        members = await repo.enterprise_ids_of_delegations(conn, [r["id"] for r in rows])
        return [repo.delegation_of(r, members.get(r["id"], [])) for r in rows], cursor

    async def add_enterprise(
        self, conn: asyncpg.Connection, ctx: Context, delegation_id: uuid.UUID, cmd: EnterpriseIn
    ) -> c.Enterprise:
        assert ctx.partner_id is not None
        async with conn.transaction():
            row = await self._locked_delegation(conn, ctx.partner_id, delegation_id)
            domain.ensure_active(row["status"], "delegation")
            enterprise_id = uuid.uuid4()
            await repo.insert_enterprises(
                conn,
                ctx.partner_id,
                delegation_id,
                row["roadshow_id"],
                [(enterprise_id, cmd.model_dump())],
            )
            row = await repo.update_delegation(
                conn, delegation_id, row["name"], row["origin_country"]
            )
            enterprises = await repo.enterprises_of_delegation(conn, delegation_id)
            delegation = repo.delegation_of(row, [e.enterprise_id for e in enterprises])
            enterprise = next(e for e in enterprises if e.enterprise_id == enterprise_id)
            await self._emit(
                conn,
                ctx,
                [
                    ("enterprise.registered", enterprise_id, enterprise),
                    ("delegation.updated", delegation_id, delegation),
                ],
            )
            return enterprise

    async def update_delegation(
        self,
        conn: asyncpg.Connection,
        ctx: Context,
        delegation_id: uuid.UUID,
        patch: DelegationPatch,
    ) -> DelegationOut:
        assert ctx.partner_id is not None
        async with conn.transaction():
            row = await self._locked_delegation(conn, ctx.partner_id, delegation_id)
            domain.ensure_active(row["status"], "delegation")
            if domain.has_changes(patch):
                current = DelegationPatch(name=row["name"], origin_country=row["origin_country"])
                fields = domain.merge_patch(current, patch, DelegationPatch)
                row = await repo.update_delegation(
                    conn, delegation_id, fields["name"], fields["origin_country"]
                )
                enterprises = await repo.enterprises_of_delegation(conn, delegation_id)
                delegation = repo.delegation_of(row, [e.enterprise_id for e in enterprises])
                await self._emit(conn, ctx, [("delegation.updated", delegation_id, delegation)])
            return await self.get_delegation(conn, ctx, delegation_id)

    async def withdraw_delegation(
        self, conn: asyncpg.Connection, ctx: Context, delegation_id: uuid.UUID
    ) -> DelegationOut:
        """Withdraws the delegation and every enterprise still active in it."""
        assert ctx.partner_id is not None
        async with conn.transaction():
            row = await self._locked_delegation(conn, ctx.partner_id, delegation_id)
            if row["status"] == domain.ACTIVE:
                members = await repo.enterprises_of_delegation(conn, delegation_id, for_update=True)
                withdrawn = await repo.withdraw_enterprises(
                    conn, [e.enterprise_id for e in members]
                )
                row = await repo.withdraw_delegation(conn, delegation_id)
                await self._emit(
                    conn,
                    ctx,
                    [
                        ("enterprise.withdrawn", e.enterprise_id, _withdrawn(e.enterprise_id, e))
                        for e in withdrawn
                    ]
                    + [
                        (
                            "delegation.withdrawn",
                            delegation_id,
                            _withdrawn(delegation_id, repo.delegation_of(row, [])),
                        )
                    ],
                )
            return await self.get_delegation(conn, ctx, delegation_id)

    async def _locked_delegation(
        self, conn: asyncpg.Connection, partner_id: uuid.UUID, delegation_id: uuid.UUID
    ) -> asyncpg.Record:
        row = await repo.get_delegation(conn, partner_id, delegation_id, for_update=True)
        if row is None:
            raise NotFound("no such delegation", field="delegation_id")
        return row

    async def get_enterprise(
        self,
        conn: asyncpg.Connection,
        ctx: Context,
        enterprise_id: uuid.UUID,
        *,
        for_update: bool = False,
    ) -> c.Enterprise:
        assert ctx.partner_id is not None
        row = await repo.get_enterprise(conn, ctx.partner_id, enterprise_id, for_update=for_update)
        if row is None:
            raise NotFound("no such enterprise", field="enterprise_id")
        return repo.enterprise_of(row)

    async def list_enterprises(
        self, conn: asyncpg.Connection, ctx: Context, q: EnterpriseQuery
    ) -> tuple[list[c.Enterprise], int | None]:
        assert ctx.partner_id is not None
        return await repo.list_enterprises(
            conn,
            ctx.partner_id,
            roadshow_id=q.roadshow_id,
            delegation_id=q.delegation_id,
            status=q.status,
            sectors=q.sector,
            cursor=q.cursor,
            limit=q.limit,
        )

    async def update_enterprise(
        self,
        conn: asyncpg.Connection,
        ctx: Context,
        enterprise_id: uuid.UUID,
        patch: EnterprisePatch,
    ) -> c.Enterprise:
        async with conn.transaction():
            current = await self.get_enterprise(conn, ctx, enterprise_id, for_update=True)
            domain.ensure_active(current.status, "enterprise")
            if not domain.has_changes(patch):
                return current
            fields = domain.merge_patch(current, patch, EnterpriseIn)
            enterprise = await repo.update_enterprise(conn, enterprise_id, fields)
            await self._emit(conn, ctx, [("enterprise.updated", enterprise_id, enterprise)])
            return enterprise

    async def withdraw_enterprise(
        self, conn: asyncpg.Connection, ctx: Context, enterprise_id: uuid.UUID
    ) -> c.Enterprise:
        async with conn.transaction():
            current = await self.get_enterprise(conn, ctx, enterprise_id, for_update=True)
            if current.status != domain.ACTIVE:
                return current
            (enterprise,) = await repo.withdraw_enterprises(conn, [enterprise_id])
            await self._emit(
                conn,
                ctx,
                [("enterprise.withdrawn", enterprise_id, _withdrawn(enterprise_id, enterprise))],
            )
            return enterprise

    # --- participants -----------------------------------------------------------

    async def register_participant(
        self, conn: asyncpg.Connection, ctx: Context, cmd: ParticipantIn
    ) -> c.Participant:
        assert ctx.partner_id is not None
        async with conn.transaction():
            await self._require_roadshow(conn, cmd.roadshow_id)
            participant = await repo.upsert_participant(
                conn, uuid.uuid4(), ctx.partner_id, cmd.model_dump()
            )
            await self._emit(
                conn, ctx, [("participant.registered", participant.participant_id, participant)]
            )
            return participant

    async def get_participant(
        self,
        conn: asyncpg.Connection,
        ctx: Context,
        participant_id: uuid.UUID,
        *,
        for_update: bool = False,
    ) -> c.Participant:
        assert ctx.partner_id is not None
        row = await repo.get_participant(
            conn, ctx.partner_id, participant_id, for_update=for_update
        )
        if row is None:
            raise NotFound("no such participant", field="participant_id")
        return repo.participant_of(row)

    async def list_participants(
        self, conn: asyncpg.Connection, ctx: Context, q: ParticipantQuery
    ) -> tuple[list[c.Participant], int | None]:
        assert ctx.partner_id is not None
        return await repo.list_participants(
            conn,
            ctx.partner_id,
            roadshow_id=q.roadshow_id,
            kind=q.kind.value if q.kind else None,
            status=q.status,
            sectors=q.sector,
            cursor=q.cursor,
            limit=q.limit,
        )

    async def update_participant(
        self,
        conn: asyncpg.Connection,
        ctx: Context,
        participant_id: uuid.UUID,
        patch: ParticipantPatch,
    ) -> c.Participant:
        assert ctx.partner_id is not None
        async with conn.transaction():
            current = await self.get_participant(conn, ctx, participant_id, for_update=True)
            domain.ensure_active(current.status, "participant")
            if not domain.has_changes(patch):
                return current
            fields = domain.merge_patch(current, patch, ParticipantIn)
            participant = await repo.upsert_participant(
                conn, participant_id, ctx.partner_id, fields
            )
            await self._emit(conn, ctx, [("participant.updated", participant_id, participant)])
            return participant

    async def withdraw_participant(
        self, conn: asyncpg.Connection, ctx: Context, participant_id: uuid.UUID
    ) -> c.Participant:
        async with conn.transaction():
            current = await self.get_participant(conn, ctx, participant_id, for_update=True)
            if current.status != domain.ACTIVE:
                return current
            participant = await repo.withdraw_participant(conn, participant_id)
            await self._emit(
                conn,
                ctx,
                [
                    (
                        "participant.withdrawn",
                        participant_id,
                        _withdrawn(participant_id, participant),
                    )
                ],
            )
            return participant

    # --- erasure -------------------------------------------------------------------

    async def erase_person(self, conn: asyncpg.Connection, ctx: Context, email: str) -> ErasureOut:
        """Erase every record of this partner's that names the person with this
        e-mail; the other services erase their copies on `person.erased`."""
        assert ctx.partner_id is not None
        erasure_id = uuid.uuid4()
        async with conn.transaction():
            enterprises = await repo.erase_presidents(conn, ctx.partner_id, email)
            participants = await repo.erase_contacts(conn, ctx.partner_id, email)
            subjects = [
                c.ErasedSubject(kind="enterprise.president", id=e.enterprise_id)
                for e in enterprises
            ]
            subjects += [
                c.ErasedSubject(kind="participant.contact", id=p.participant_id)
                for p in participants
            ]
            await repo.insert_erasure(conn, erasure_id, ctx.partner_id, len(subjects))
            if subjects:
                events: list[tuple[str, uuid.UUID, BaseModel]] = [
                    ("person.erased", s.id, c.PersonErased(erasure_id=erasure_id, subjects=[s]))
                    for s in subjects
                ]
                await self._emit(conn, ctx, events)
        return ErasureOut(erasure_id=erasure_id, subjects=len(subjects))


def _withdrawn(aggregate_id: uuid.UUID, state: Any) -> c.Withdrawn:
    return c.Withdrawn(id=aggregate_id, roadshow_id=state.roadshow_id, version=state.version)
