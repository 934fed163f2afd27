"""Who may read what: a party's registering partner and its road show's
organiser read the party's matches and meetings; only the organiser reads (and
changes) a road show's. To anyone else a party, or a road show's organiser
routes, do not exist."""

from __future__ import annotations

import uuid

import asyncpg

from services.matching.readmodel import repository as repo
from services.matching.readmodel.model import PartyAccess, Roadshow
from shared.contracts.matching import Side
from shared.errors import NotFound


async def readable_party(
    conn: asyncpg.Connection, partner_id: uuid.UUID, side: Side, party_id: uuid.UUID
) -> PartyAccess:
    """Raises NotFound (field `<side>_id`) unless `partner_id` may read the party."""
    access = await repo.party_access(conn, side, party_id)
    if access is None or partner_id not in (access.partner_id, access.organiser_id):
        raise NotFound(f"no such {side}", field=f"{side}_id")
    return access


async def organised_roadshow(
    conn: asyncpg.Connection,
    partner_id: uuid.UUID,
    roadshow_id: uuid.UUID,
    *,
    for_update: bool = False,
) -> Roadshow:
    """The road show, if `partner_id` organises it. Raises NotFound when it is not
    known and, alike, for any other partner: a foreign road show's answer must
    not reveal that it exists."""
    roadshow = await repo.get_roadshow(conn, roadshow_id, for_update=for_update)
    if roadshow is None or roadshow.organiser_id != partner_id:
        raise NotFound("no such road show", field="roadshow_id")
    return roadshow
