"""Partner use cases (operator commands): partners and their API keys."""

from __future__ import annotations

import uuid

from services.registration.model import IssuedKey
from services.registration.partners import repository as repo
from shared.contracts import registration as c
from shared.errors import NotFound
from shared.partner_keys import hash_token, new_token, revoke_key, store_key
from shared.unit_of_work import UnitOfWork


async def create_partner(uow: UnitOfWork, name: str) -> IssuedKey:
    partner_id = uuid.uuid4()
    await repo.insert_partner(uow.conn, partner_id, name)
    uow.emit(
        "partner.registered", partner_id, c.PartnerRegistered(partner_id=partner_id, name=name)
    )
    return await _issue_key(uow, partner_id)


async def issue_key(uow: UnitOfWork, partner_id: uuid.UUID) -> IssuedKey:
    """Raises NotFound (field `partner_id`) for an unknown partner."""
    if not await repo.partner_exists(uow.conn, partner_id):
        raise NotFound("no such partner", field="partner_id")
    return await _issue_key(uow, partner_id)


async def _issue_key(uow: UnitOfWork, partner_id: uuid.UUID) -> IssuedKey:
    key_id, token = new_token()
    issued = c.PartnerKeyIssued(partner_id=partner_id, key_id=key_id, key_hash=hash_token(token))
    await store_key(uow.conn, issued)
    uow.emit("partner.key_issued", partner_id, issued)
    return IssuedKey(partner_id=partner_id, key_id=key_id, api_key=token)


async def revoke(uow: UnitOfWork, partner_id: uuid.UUID, key_id: uuid.UUID) -> None:
    revoked = c.PartnerKeyRevoked(partner_id=partner_id, key_id=key_id)
    if not await revoke_key(uow.conn, revoked):
        raise NotFound("no such active key for this partner", field="key_id")
    uow.emit("partner.key_revoked", partner_id, revoked)
