"""`Idempotency-Key` for creating POSTs, inside the creating transaction (routes
declared `idempotent=True` in `shared.http.api` run through `once`).

Same key and same body: the stored answer again, nothing new written. Same key,
other body: 409. Two concurrent requests with one key serialise on the key's row:
the second waits for the first to commit, then replays its answer.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg

from shared.errors import Conflict, InvalidInput

MAX_KEY_LENGTH = 200


def request_hash(body: Any) -> str:
    return hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()


async def once(
    conn: asyncpg.Connection,
    partner_id: uuid.UUID,
    key: str | None,
    body: Any,
    create: Callable[[], Awaitable[tuple[int, dict[str, Any]]]],
) -> tuple[int, dict[str, Any]]:
    """Run `create` once per (partner, key); must be called inside a transaction."""
    if key is None:
        return await create()
    if not key or len(key) > MAX_KEY_LENGTH:
        raise InvalidInput(f"at most {MAX_KEY_LENGTH} characters", field="Idempotency-Key")
    digest = request_hash(body)
    claimed = await conn.fetchval(
        "INSERT INTO idempotency_keys (partner_id, key, request_hash, status, response)"
        " VALUES ($1, $2, $3, 0, '{}') ON CONFLICT DO NOTHING RETURNING true",
        partner_id,
        key,
        digest,
    )
    if not claimed:
        row = await conn.fetchrow(
            "SELECT request_hash, status, response FROM idempotency_keys"
            " WHERE partner_id = $1 AND key = $2",
            partner_id,
            key,
        )
        assert row is not None
        if row["request_hash"] != digest:
            raise Conflict(
                "this Idempotency-Key was used with another body", field="Idempotency-Key"
            )
        return row["status"], row["response"]
    status, response = await create()
    await conn.execute(
        "UPDATE idempotency_keys SET status = $3, response = $4 WHERE partner_id = $1 AND key = $2",
        partner_id,
        key,
        status,
        response,
    )
    return status, response
