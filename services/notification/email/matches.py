"""People answer from their inbox: use cases of match e-mails and of the
answers given through their links. See docs/notification.md, "Answers by
e-mail".

- `MatchMail`: keeps the matches matching publishes (event handlers) and
  makes each person's match e-mails from them: the first list of proposed
  matches ("proposals"), then at most one digest a day of what changed
  ("digest"). A message still waiting to go takes the latest news instead of a
  second message, so a registration rush ends in one e-mail per person.
- `Answers`: a link's confirmation page (reads only) and its POST, which
  records the answer and publishes `answer.given` (outbox, same transaction);
  matching records it as the side's interest.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import asyncpg

from services.notification.email import repository as repo
from services.notification.email import rules
from services.notification.email.model import Cause
from services.notification.email.rules import (
    ANSWER,
    AnswerLink,
    Content,
    MatchLine,
    Role,
    why,
)
from services.notification.email.service import Messages
from services.notification.email.tokens import BadToken, Signer
from services.notification.outbound.policy import Clock
from services.notification.parties import repository as parties
from shared.contracts.matching import InterestAnswer, Match
from shared.contracts.notification import AnswerGiven
from shared.envelope import Envelope
from shared.errors import Conflict, NotFound
from shared.logging import get_logger
from shared.unit_of_work import UnitOfWork

log = get_logger(__name__)


class MatchMail:
    """Match e-mails: what each person is told of their matches, and when."""

    def __init__(self, *, enabled: bool, clock: Clock, messages: Messages, settle: float) -> None:
        self.enabled = enabled
        self.clock = clock
        self.messages = messages
        self.settle = settle

    async def matches_changed(
        self, uow: UnitOfWork, changes: Sequence[tuple[Envelope, Match]]
    ) -> int:
        """Keep matching's latest word on each match and bring the match e-mails
        of both sides' people up to date; returns the e-mails made or rewritten."""
        if not self.enabled or not changes:
            return 0
        now = self.clock()
        changed = set(
            await repo.upsert_matches(
                uow.conn,
                [m for _, m in changes],
                [why(m.components) for _, m in changes],
                now,
            )
        )
        people: dict[tuple[Role, uuid.UUID, uuid.UUID], Cause] = {}
        for event, m in changes:
            if m.match_id not in changed:
                continue
            cause = Cause(event.id, event.type, event.correlation_id)
            people[(rules.PRESIDENT, m.enterprise_id, m.roadshow_id)] = cause
            people[(rules.CONTACT, m.participant_id, m.roadshow_id)] = cause
        made = 0
        # In one order everywhere: two batches touching the same people lock
        # their recipient rows alike and never wait on each other in a cycle.
        for (role, party_id, roadshow_id), cause in sorted(people.items(), key=_order):
            made += await self.refresh(uow.conn, cause, role, party_id, roadshow_id)
        return made

    async def person_known(
        self,
        uow: UnitOfWork,
        event: Envelope,
        role: Role,
        party_id: uuid.UUID,
        roadshow_id: uuid.UUID,
    ) -> None:
        """A person registered (or changed): matches that arrived before them are
        told now (the two topics are read apart, so matches may come first)."""
        cause = Cause(event.id, event.type, event.correlation_id)
        await self.refresh(uow.conn, cause, role, party_id, roadshow_id)

    async def refresh(
        self,
        conn: asyncpg.Connection,
        cause: Cause,
        role: Role,
        party_id: uuid.UUID,
        roadshow_id: uuid.UUID,
    ) -> int:
        """Bring one person's match e-mail up to date with their matches: the
        first list if they have had none; else the pending one rewritten, or a
        new digest of what changed since the last one (due a day after it at
        the earliest). Returns 1 if a message was made or rewritten."""
        if not self.enabled:
            return 0
        recipient = await repo.get_recipient(
            conn, rules.recipient_id(role, party_id), for_update=True
        )
        base = await self.messages.content(conn, "proposals", role, party_id, roadshow_id)
        if recipient is None or not recipient.sendable or base is None:
            # Opted out (the digest is not sent to them either), no address; the
            # party unknown or withdrawn, the road show unknown.
            return 0
        now = self.clock()
        matches = await repo.party_matches(conn, role, party_id, roadshow_id)
        last = await repo.last_match_email(conn, recipient.id, roadshow_id)
        if last is not None and last.rewritable:
            # Still waiting to go: it takes the latest news instead of a second message.
            if last.kind == "proposals":
                lines = rules.proposal_lines(matches)
            else:
                lines = rules.digest_lines(matches, last.since or last.told_at)
            content = _match_content(base, last.kind, lines, role, since=last.since, now=now)
            return await self._rewrite(conn, recipient.id, last.id, content, now)
        if last is None:
            kind: rules.EmailKind = "proposals"
            lines = rules.proposal_lines(matches)
            due = now + timedelta(seconds=self.settle)
            key = rules.proposals_key(roadshow_id, recipient.id)
        else:
            kind = "digest"
            lines = rules.digest_lines(matches, last.told_at)
            due = rules.digest_due(last.settled_at, now, self.settle)
            key = rules.digest_key(roadshow_id, recipient.id, due)
        if not lines:
            return 0
        since = None if last is None else last.told_at
        content = _match_content(base, kind, lines, role, since=since, now=now)
        return await self.messages.insert(conn, cause, recipient, content, key, due=due)

    async def _rewrite(
        self,
        conn: asyncpg.Connection,
        recipient_id: uuid.UUID,
        id_: uuid.UUID,
        content: Content,
        now: datetime,
    ) -> int:
        if not content.matches:
            # Everything it was to say was undone before it went (new, then withdrawn).
            await repo.cancel_pending(
                conn, [recipient_id], "nothing left to tell", now, only_id=id_
            )
            return 0
        await repo.rewrite_pending(conn, id_, content.to_json(), now)
        return 1


def _order(item: tuple[tuple[Role, uuid.UUID, uuid.UUID], Cause]) -> tuple[str, str, str]:
    (role, party_id, roadshow_id), _ = item
    return (str(rules.recipient_id(role, party_id)), str(party_id), str(roadshow_id))


def _match_content(
    base: Content,
    kind: rules.EmailKind,
    lines: list[MatchLine],
    role: Role,
    *,
    since: datetime | None,
    now: datetime,
) -> Content:
    return base.model_copy(
        update={
            "kind": kind,
            "agenda": [],
            "agenda_digest": "",
            "matches": lines,
            "side": rules.side_of(role),
            "since": since,
            "told_at": now,
        }
    )


@dataclass(frozen=True)
class AnswerRequest:
    """What a valid link asks, as its confirmation page shows it."""

    link: AnswerLink
    roadshow_id: uuid.UUID
    roadshow_name: str
    organisation: str  # the person's own
    counterpart: str
    current: InterestAnswer | None  # their latest answer by e-mail, if any


@dataclass(frozen=True)
class AnswerRecorded:
    request: AnswerRequest
    answer_id: uuid.UUID
    new: bool  # False: it repeated their latest answer, and nothing was sent again


class Answers:
    """The answer links of match e-mails: signed, expiring, one answer each."""

    def __init__(self, *, clock: Clock, signer: Signer, link_ttl: float) -> None:
        self.clock = clock
        self.signer = signer
        self.link_ttl = link_ttl

    def token(self, link: AnswerLink, now: datetime) -> str:
        return self.signer.sign(ANSWER, link, expires_at=now + timedelta(seconds=self.link_ttl))

    def _open(self, token: str) -> AnswerLink:
        try:
            return self.signer.open(ANSWER, token, AnswerLink, now=self.clock())
        except BadToken as exc:
            if exc.reason == "expired":
                raise Conflict(
                    "this link has expired; ask the organisers for your matches again",
                    field="token",
                ) from None
            raise NotFound("this link is not valid", field="token") from None

    async def request(
        self, conn: asyncpg.Connection, token: str, *, for_update: bool = False
    ) -> AnswerRequest:
        """What the link asks; raises NotFound (not ours, or its person or match
        is gone) or Conflict (expired, or the match was withdrawn)."""
        link = self._open(token)
        person = await repo.get_recipient(conn, link.recipient_id, for_update=for_update)
        if person is None or person.erased_at is not None or person.email is None:
            # Erased or withdrawn: nobody is left to answer for.
            raise NotFound("this link is not valid", field="token")
        match = await repo.get_email_match(conn, link.match_id)
        if match is None:
            raise NotFound("this link is not valid", field="token")
        side_party = match["enterprise_id" if link.side == "enterprise" else "participant_id"]
        if side_party != person.party_id or rules.side_of(person.kind) != link.side:
            raise NotFound("this link is not valid", field="token")
        if match["status"] != "proposed":
            raise Conflict("this match was withdrawn; there is nothing to answer", field="token")
        roadshow = await repo.get_roadshow(conn, match["roadshow_id"])
        enterprise = await parties.get_enterprise(conn, match["enterprise_id"])
        participant = await parties.get_participant(conn, match["participant_id"])
        own, other = (
            (enterprise, participant)
            if link.side == "enterprise"
            else (
                participant,
                enterprise,
            )
        )
        latest = await repo.latest_answer(conn, link.match_id, link.side)
        return AnswerRequest(
            link=link,
            roadshow_id=match["roadshow_id"],
            roadshow_name=roadshow.name if roadshow else "the road show",
            organisation=own.name if own else "(unknown organisation)",
            counterpart=other.name if other else "(unknown organisation)",
            current=latest["answer"] if latest else None,
        )

    async def answer(self, uow: UnitOfWork, token: str) -> AnswerRecorded:
        """Record the link's answer and publish it (answer.given, in this unit);
        repeating the side's latest answer records and sends nothing new."""
        request = await self.request(uow.conn, token, for_update=True)  # one answer at a time
        link = request.link
        latest = await repo.latest_answer(uow.conn, link.match_id, link.side)
        if latest is not None and latest["answer"] == link.answer:
            return AnswerRecorded(request, latest["id"], new=False)
        answer_id, now = uuid.uuid4(), self.clock()
        await repo.insert_answer(
            uow.conn,
            id_=answer_id,
            recipient_id=link.recipient_id,
            match_id=link.match_id,
            roadshow_id=request.roadshow_id,
            side=link.side,
            answer=link.answer,
            at=now,
        )
        uow.emit(
            "answer.given",
            link.match_id,
            AnswerGiven(
                answer_id=answer_id,
                match_id=link.match_id,
                roadshow_id=request.roadshow_id,
                side=link.side,
                answer=link.answer,
                given_at=now,
                recipient_id=link.recipient_id,
            ),
        )
        log.info(
            "email.answer_given",
            match_id=str(link.match_id),
            recipient_id=str(link.recipient_id),
            side=link.side,
            answer=link.answer,
        )
        return AnswerRecorded(request, answer_id, new=True)
