"""Delegation use cases: a delegation registers with its enterprises in one call;
enterprises join, change and withdraw. Reads and changes are scoped to the partner
that registered them (a foreign id answers as missing)."""

from __future__ import annotations

import uuid

from services.registration import model
from services.registration.delegations import repository as repo
from services.registration.privacy.keys import Keyring
from services.registration.roadshows.service import check_availability, require_roadshow
from shared.contracts import registration as c
from shared.errors import NotFound
from shared.unit_of_work import UnitOfWork


async def register_delegation(
    uow: UnitOfWork, keys: Keyring, cmd: model.NewDelegation
) -> model.DelegationWithEnterprises:
    partner_id = uow.partner_id
    await require_roadshow(uow, cmd.roadshow_id)
    for i, new in enumerate(cmd.enterprises):
        await check_availability(
            uow, cmd.roadshow_id, new.availability.model_dump(), f"enterprises.{i}.availability"
        )
    delegation_id = uuid.uuid4()
    row = await repo.insert_delegation(
        uow.conn,
        delegation_id=delegation_id,
        partner_id=partner_id,
        roadshow_id=cmd.roadshow_id,
        name=cmd.name,
        origin_country=cmd.origin_country,
    )
    members = [(uuid.uuid4(), e.model_dump()) for e in cmd.enterprises]
    await repo.insert_enterprises(uow.conn, partner_id, delegation_id, cmd.roadshow_id, members)
    enterprises = await repo.enterprises_of_delegation(uow.conn, delegation_id)
    delegation = row.contract([e.enterprise_id for e in enterprises])
    uow.emit("delegation.registered", delegation_id, delegation)
    for e in await keys.sealed_enterprises(uow, enterprises, new=True):
        uow.emit("enterprise.registered", e.enterprise_id, e)
    return model.DelegationWithEnterprises(delegation, enterprises)


async def get_delegation(
    uow: UnitOfWork, delegation_id: uuid.UUID
) -> model.DelegationWithEnterprises:
    row = await repo.get_delegation(uow.conn, uow.partner_id, delegation_id)
    if row is None:
        raise NotFound("no such delegation", field="delegation_id")
    enterprises = await repo.enterprises_of_delegation(uow.conn, delegation_id)
    delegation = row.contract([e.enterprise_id for e in enterprises])
    return model.DelegationWithEnterprises(delegation, enterprises)


async def list_delegations(
    uow: UnitOfWork, where: model.PartyFilter, *, after: int | None, limit: int
) -> tuple[list[c.Delegation], str | None]:
    rows, cursor = await repo.list_delegations(
        uow.conn,
        uow.partner_id,
        roadshow_id=where.roadshow_id,
        status=where.status,
        after=after,
        limit=limit,
    )
    members = await repo.enterprise_ids_of_delegations(uow.conn, [r.delegation_id for r in rows])
    return [r.contract(members.get(r.delegation_id, [])) for r in rows], cursor


async def add_enterprise(
    uow: UnitOfWork, keys: Keyring, delegation_id: uuid.UUID, cmd: model.NewEnterprise
) -> c.Enterprise:
    partner_id = uow.partner_id
    row = await _locked_delegation(uow, delegation_id)
    model.ensure_active(row.status, "delegation")
    await check_availability(uow, row.roadshow_id, cmd.availability.model_dump(), "availability")
    enterprise_id = uuid.uuid4()
    await repo.insert_enterprises(
        uow.conn, partner_id, delegation_id, row.roadshow_id, [(enterprise_id, cmd.model_dump())]
    )
    row = await repo.update_delegation(uow.conn, delegation_id, row.name, row.origin_country)
    enterprises = await repo.enterprises_of_delegation(uow.conn, delegation_id)
    delegation = row.contract([e.enterprise_id for e in enterprises])
    enterprise = next(e for e in enterprises if e.enterprise_id == enterprise_id)
    (sealed,) = await keys.sealed_enterprises(uow, [enterprise], new=True)
    uow.emit("enterprise.registered", enterprise_id, sealed)
    uow.emit("delegation.updated", delegation_id, delegation)
    return enterprise


async def update_delegation(
    uow: UnitOfWork, delegation_id: uuid.UUID, patch: model.DelegationChanges
) -> model.DelegationWithEnterprises:
    row = await _locked_delegation(uow, delegation_id)
    model.ensure_active(row.status, "delegation")
    if model.has_changes(patch):
        current = model.DelegationChanges(name=row.name, origin_country=row.origin_country)
        fields = model.merge_patch(current, patch, model.DelegationChanges)
        row = await repo.update_delegation(
            uow.conn, delegation_id, fields["name"], fields["origin_country"]
        )
        enterprises = await repo.enterprises_of_delegation(uow.conn, delegation_id)
        delegation = row.contract([e.enterprise_id for e in enterprises])
        uow.emit("delegation.updated", delegation_id, delegation)
    return await get_delegation(uow, delegation_id)


async def withdraw_delegation(
    uow: UnitOfWork, delegation_id: uuid.UUID
) -> model.DelegationWithEnterprises:
    """Withdraws the delegation and every enterprise still active in it."""
    row = await _locked_delegation(uow, delegation_id)
    if row.status == model.ACTIVE:
        members = await repo.enterprises_of_delegation(uow.conn, delegation_id, for_update=True)
        withdrawn = await repo.withdraw_enterprises(uow.conn, [e.enterprise_id for e in members])
        row = await repo.withdraw_delegation(uow.conn, delegation_id)
        for e in withdrawn:
            uow.emit("enterprise.withdrawn", e.enterprise_id, model.withdrawn(e.enterprise_id, e))
        delegation = row.contract([])
        uow.emit("delegation.withdrawn", delegation_id, model.withdrawn(delegation_id, delegation))
    return await get_delegation(uow, delegation_id)


async def _locked_delegation(uow: UnitOfWork, delegation_id: uuid.UUID) -> model.DelegationState:
    row = await repo.get_delegation(uow.conn, uow.partner_id, delegation_id, for_update=True)
    if row is None:
        raise NotFound("no such delegation", field="delegation_id")
    return row


async def get_enterprise(
    uow: UnitOfWork, enterprise_id: uuid.UUID, *, for_update: bool = False
) -> c.Enterprise:
    found = await repo.get_enterprise(
        uow.conn, uow.partner_id, enterprise_id, for_update=for_update
    )
    if found is None:
        raise NotFound("no such enterprise", field="enterprise_id")
    return found


async def list_enterprises(
    uow: UnitOfWork, where: model.PartyFilter, *, after: int | None, limit: int
) -> tuple[list[c.Enterprise], str | None]:
    return await repo.list_enterprises(
        uow.conn,
        uow.partner_id,
        roadshow_id=where.roadshow_id,
        delegation_id=where.delegation_id,
        status=where.status,
        sectors=where.sectors,
        after=after,
        limit=limit,
    )


async def update_enterprise(
    uow: UnitOfWork, keys: Keyring, enterprise_id: uuid.UUID, patch: model.EnterpriseChanges
) -> c.Enterprise:
    current = await get_enterprise(uow, enterprise_id, for_update=True)
    model.ensure_active(current.status, "enterprise")
    if not model.has_changes(patch):
        return current
    fields = model.merge_patch(current, patch, model.NewEnterprise)
    await check_availability(uow, current.roadshow_id, fields["availability"], "availability")
    enterprise = await repo.update_enterprise(uow.conn, enterprise_id, fields)
    uow.emit("enterprise.updated", enterprise_id, await keys.sealed_enterprise(uow, enterprise))
    return enterprise


async def withdraw_enterprise(uow: UnitOfWork, enterprise_id: uuid.UUID) -> c.Enterprise:
    current = await get_enterprise(uow, enterprise_id, for_update=True)
    if current.status != model.ACTIVE:
        return current
    (enterprise,) = await repo.withdraw_enterprises(uow.conn, [enterprise_id])
    uow.emit("enterprise.withdrawn", enterprise_id, model.withdrawn(enterprise_id, enterprise))
    return enterprise
