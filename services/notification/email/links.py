"""What the pages behind the links of our e-mails share (answers on matches,
feedback after a meeting): a token opened for its purpose, refused the way
people see it (404: not ours; 409: expired), the person it names still on file
for that side, and the two organisations the page speaks of."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import ClassVar, Generic, TypeVar

import asyncpg
from pydantic import BaseModel

from services.notification.email import repository as repo
from services.notification.email import rules
from services.notification.email.model import PersonOnFile
from services.notification.email.tokens import BadToken, Purpose, Signer
from services.notification.outbound.policy import Clock
from services.notification.parties import repository as parties
from shared.contracts.matching import Side
from shared.errors import Conflict, NotFound

M = TypeVar("M", bound=BaseModel)

UNKNOWN_ORGANISATION = "(unknown organisation)"


def not_valid() -> NotFound:
    """The one answer to a link that is not ours, or names what is gone: which
    part failed is not told."""
    return NotFound("this link is not valid", field="token")


def open_link(
    signer: Signer, purpose: Purpose, token: str, model: type[M], *, now: datetime, expired: str
) -> M:
    """The link's payload; raises NotFound (forged, malformed, another
    purpose's) or Conflict with `expired` as its detail."""
    try:
        return signer.open(purpose, token, model, now=now)
    except BadToken as exc:
        if exc.reason == "expired":
            raise Conflict(expired, field="token") from None
        raise not_valid() from None


class Links(Generic[M]):
    """The signed links of one kind of e-mail: made with their expiry, opened
    for their purpose only."""

    purpose: ClassVar[Purpose]
    payload: type[M]
    expired: ClassVar[str]  # what an expired link's page says

    def __init__(self, *, clock: Clock, signer: Signer, link_ttl: float) -> None:
        self.clock = clock
        self.signer = signer
        self.link_ttl = link_ttl

    def token(self, link: M, now: datetime) -> str:
        return self.signer.sign(
            self.purpose, link, expires_at=now + timedelta(seconds=self.link_ttl)
        )

    def open(self, token: str) -> M:
        """The link's payload; raises NotFound or Conflict (see `open_link`)."""
        return open_link(
            self.signer, self.purpose, token, self.payload, now=self.clock(), expired=self.expired
        )


async def person_of(
    conn: asyncpg.Connection,
    recipient_id: uuid.UUID,
    side: Side,
    party_id: uuid.UUID,
    *,
    for_update: bool = False,
) -> PersonOnFile:
    """The link's person, still on file as the person of `side`'s party;
    raises NotFound (erased or withdrawn: nobody is left to speak for it)."""
    person = await repo.get_recipient(conn, recipient_id, for_update=for_update)
    if (
        person is None
        or person.erased_at is not None
        or person.email is None
        or person.party_id != party_id
        or rules.side_of(person.kind) != side
    ):
        raise not_valid()
    return person


async def organisations(
    conn: asyncpg.Connection, side: Side, enterprise_id: uuid.UUID, participant_id: uuid.UUID
) -> tuple[str, str]:
    """(the side's own organisation, the other side's), as a page names them."""
    enterprise = await parties.get_enterprise(conn, enterprise_id)
    participant = await parties.get_participant(conn, participant_id)
    names = (
        enterprise.name if enterprise else UNKNOWN_ORGANISATION,
        participant.name if participant else UNKNOWN_ORGANISATION,
    )
    return names if side == "enterprise" else (names[1], names[0])
