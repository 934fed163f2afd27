"""Partner API keys: the token format, its hash, and the `partner_keys` table that
every service keeps (registration as the owner, the others as a replica).

A token is `rs_<key id hex>_<secret>`: the key id finds the row, the SHA-256 of the
whole token is compared in constant time. A fast hash is enough here because the
secret is 256 random bits, not a password.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from datetime import datetime

import asyncpg

from shared.contracts.registration import PartnerKeyIssued, PartnerKeyRevoked
from shared.envelope import Envelope
from shared.event_handlers import EventHandlers
from shared.unit_of_work import UnitOfWork


def new_token() -> tuple[uuid.UUID, str]:
    key_id = uuid.uuid4()
    return key_id, f"rs_{key_id.hex}_{secrets.token_urlsafe(32)}"


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def partner_for_token(
    conn: asyncpg.Connection | asyncpg.Pool, token: str
) -> uuid.UUID | None:
    parts = token.split("_")
    if len(parts) < 3 or parts[0] != "rs":
        return None
    try:
        key_id = uuid.UUID(hex=parts[1])
    except ValueError:
        return None
    row = await conn.fetchrow(
        "SELECT partner_id, key_hash FROM partner_keys WHERE key_id = $1 AND revoked_at IS NULL",
        key_id,
    )
    if row is None or not hmac.compare_digest(row["key_hash"], hash_token(token)):
        return None
    partner_id: uuid.UUID = row["partner_id"]
    return partner_id


async def store_key(conn: asyncpg.Connection, key: PartnerKeyIssued) -> None:
    await conn.execute(
        "INSERT INTO partner_keys (key_id, partner_id, key_hash) VALUES ($1, $2, $3)"
        " ON CONFLICT (key_id) DO NOTHING",
        key.key_id,
        key.partner_id,
        key.key_hash,
    )


async def revoke_key(
    conn: asyncpg.Connection, key: PartnerKeyRevoked, at: datetime | None = None
) -> bool:
    status = await conn.execute(
        "UPDATE partner_keys SET revoked_at = coalesce($3, now())"
        " WHERE key_id = $1 AND partner_id = $2 AND revoked_at IS NULL",
        key.key_id,
        key.partner_id,
        at,
    )
    return bool(status != "UPDATE 0")


# The consumer handlers that keep a service's `partner_keys` replica in step with
# registration: a service includes them in its own registry.
KEY_REPLICA = EventHandlers()


@KEY_REPLICA.on("partner.key_issued")
async def _on_key_issued(uow: UnitOfWork, _event: Envelope, data: PartnerKeyIssued) -> None:
    await store_key(uow.conn, data)


@KEY_REPLICA.on("partner.key_revoked")
async def _on_key_revoked(uow: UnitOfWork, event: Envelope, data: PartnerKeyRevoked) -> None:
    await revoke_key(uow.conn, data, at=event.occurred_at)
