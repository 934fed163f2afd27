"""People answer from their inbox: use cases of match e-mails and of the
answers given through their links. See docs/notification.md, "Answers by
e-mail".

- `MatchMail`: keeps the matches matching publishes and who is due a match
  e-mail (event handlers, in bulk); `make_due` (a `DueMailLoop`) makes each
  person's message once due: the first list of proposed matches
  ("proposals"), then at most one digest a day of what changed ("digest").
- `Answers`: a link's confirmation page (reads only) and its POST, which
  records the answer and publishes `answer.given` (outbox, same transaction);
  matching records it as the side's interest.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import asyncpg

from services.notification.email import links, rules
from services.notification.email import repository as repo
from services.notification.email.model import Cause, MatchEmail, MatchMailDue
from services.notification.email.rules import (
    ANSWER,
    AnswerLink,
    why,
)
from services.notification.email.service import Messages
from services.notification.outbound.policy import Clock
from shared.contracts.matching import InterestAnswer, Match
from shared.contracts.notification import AnswerGiven
from shared.contracts.registration import Enterprise, Participant
from shared.db import connect
from shared.envelope import Envelope
from shared.errors import Conflict
from shared.failures import backoff_seconds
from shared.logging import get_logger
from shared.unit_of_work import UnitOfWork

log = get_logger(__name__)


class MatchMail:
    """Match e-mails: what each person is told of their matches, and when.

    The matching consumer only records, in bulk, the matches and the people
    whose matches changed (`match_mail_due`); the match e-mail loop makes each
    person's message once it is due, from their matches as they are then. A
    registration rush thus costs two statements per batch, not a message per
    person per batch, and ends in one message per person."""

    def __init__(self, *, enabled: bool, clock: Clock, messages: Messages, settle: float) -> None:
        self.enabled = enabled
        self.clock = clock
        self.messages = messages
        self.settle = settle

    async def matches_changed(
        self, uow: UnitOfWork, changes: Sequence[tuple[Envelope, Match]]
    ) -> int:
        """Keep matching's latest word on each match; both sides' people are due
        a match e-mail. Returns how many people were marked."""
        if not self.enabled or not changes:
            return 0
        now = self.clock()
        changed = set(
            await repo.upsert_matches(
                uow.conn, [m for _, m in changes], [why(m.components) for _, m in changes], now
            )
        )
        due = now + timedelta(seconds=self.settle)
        people: dict[tuple[uuid.UUID, uuid.UUID], MatchMailDue] = {}
        for event, m in changes:
            if m.match_id not in changed:
                continue  # an older or repeated version: nothing new to tell
            cause = Cause(event.id, event.type, event.correlation_id)
            for role, party_id in (
                (rules.PRESIDENT, m.enterprise_id),
                (rules.CONTACT, m.participant_id),
            ):
                rid = rules.recipient_id(role, party_id)
                people[(rid, m.roadshow_id)] = MatchMailDue(
                    rid, m.roadshow_id, role, party_id, due, cause
                )
        # In one order: two batches marking the same people never wait on each other in a cycle.
        await repo.mark_match_mail_due(uow.conn, [people[k] for k in sorted(people)])
        return len(people)

    async def people_known(
        self, uow: UnitOfWork, events: Sequence[tuple[Envelope, Participant | Enterprise]]
    ) -> None:
        """People registered (or changed): matches that arrived before them are
        told too (the two topics are read apart, so matches may come first)."""
        if not self.enabled or not events:
            return
        due_at = self.clock() + timedelta(seconds=self.settle)
        people: dict[tuple[uuid.UUID, uuid.UUID], MatchMailDue] = {}
        for event, data in events:
            role, party_id = rules.party_role(data)
            rid = rules.recipient_id(role, party_id)
            # The first cause, as when a person already waits (a burst joins its first).
            people.setdefault(
                (rid, data.roadshow_id),
                MatchMailDue(
                    rid,
                    data.roadshow_id,
                    role,
                    party_id,
                    due_at,
                    Cause(event.id, event.type, event.correlation_id),
                ),
            )
        # In one order, as for matches: batches marking the same people never deadlock.
        await repo.mark_match_mail_due(uow.conn, [people[k] for k in sorted(people)])

    async def make_due(self, conn: asyncpg.Connection, limit: int = 100) -> int:
        """Make the match e-mails that are due (in the caller's transaction):
        each person's first list of proposed matches, or the digest of what
        changed since their last match e-mail, which waits until a day after
        that one. Returns the messages made."""
        now = self.clock()
        made = 0
        for due in await repo.due_match_mail(conn, now, limit):
            last = await repo.last_match_email(conn, due.recipient_id, due.roadshow_id)
            at = rules.match_mail_at(None if last is None else last.sent_at, due.due_at)
            if at > now:
                await repo.postpone_match_mail(conn, due, at)
                continue
            made += await self._make(conn, due, last, now)
            await repo.drop_match_mail(conn, due)
        if made:
            log.info("email.match_mail_made", messages=made)
        return made

    async def _make(
        self, conn: asyncpg.Connection, due: MatchMailDue, last: MatchEmail | None, now: datetime
    ) -> int:
        recipient = await repo.get_recipient(conn, due.recipient_id)
        base = await self.messages.content(
            conn, "proposals", due.role, due.party_id, due.roadshow_id, agenda=False
        )
        if recipient is None or not recipient.sendable or base is None:
            # Opted out (the digest is not sent to them either), no address; the
            # party unknown or withdrawn, the road show unknown.
            return 0
        matches = await repo.party_matches(conn, due.role, due.party_id, due.roadshow_id)
        if last is None:
            kind: rules.EmailKind = "proposals"
            lines, since = rules.proposal_lines(matches), None
            key = rules.proposals_key(due.roadshow_id, recipient.id)
        else:
            kind, since = "digest", last.told_at
            lines = rules.digest_lines(matches, since)
            key = rules.digest_key(due.roadshow_id, recipient.id, now)
        if not lines:
            return 0  # nothing to tell (every change undone, or nothing proposed)
        content = base.model_copy(
            update={
                "kind": kind,
                "matches": lines,
                "side": rules.side_of(due.role),
                "since": since,
                "told_at": now,
            }
        )
        return await self.messages.insert(conn, due.cause, recipient, content, key, due=now)


# One pass of a due-mail loop: make what is due, in the caller's transaction.
MailPass = Callable[[asyncpg.Connection], Awaitable[int]]


class DueMailLoop:
    """A background loop that makes e-mails once they are due (match e-mails,
    feedback requests): each pass every `interval` in one transaction per
    round, on a connection of its own each time, until a round makes nothing;
    any failure is logged and retried after a backoff (see HeldEventExpiry).
    Time is the use case's injectable clock: tests call the pass directly."""

    def __init__(self, *, dsn: str, make_due: MailPass, interval: float, name: str) -> None:
        self._dsn = dsn
        self._make_due = make_due
        self._interval = interval
        self.name = name
        self.last_pass = time.monotonic()

    def healthy(self) -> bool:
        return time.monotonic() - self.last_pass < max(3 * self._interval, 30.0)

    async def run(self, stop: asyncio.Event) -> None:
        failures = 0
        while not stop.is_set():
            try:
                conn = await connect(self._dsn)
                try:
                    while True:  # a rush leaves more than one pass's worth
                        async with conn.transaction():
                            made = await self._make_due(conn)
                        if made == 0 or stop.is_set():
                            break
                finally:
                    await conn.close()
                failures, wait = 0, self._interval
                self.last_pass = time.monotonic()
            except Exception as exc:
                failures += 1
                wait = backoff_seconds(failures, 1.0, cap=self._interval)
                log.warning(f"{self.name}.failed", error=type(exc).__name__, retry_in=wait)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), wait)


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


class Answers(links.Links[AnswerLink]):
    """The answer links of match e-mails: signed, expiring, one answer each."""

    purpose = ANSWER
    payload = AnswerLink
    expired = "this link has expired; ask the organisers for your matches again"

    async def request(
        self, conn: asyncpg.Connection, token: str, *, for_update: bool = False
    ) -> AnswerRequest:
        """What the link asks; raises NotFound (not ours, or its person or match
        is gone) or Conflict (expired, or the match was withdrawn)."""
        link = self.open(token)
        match = await repo.get_email_match(conn, link.match_id)
        if match is None:
            raise links.not_valid()
        side_party = match["enterprise_id" if link.side == "enterprise" else "participant_id"]
        await links.person_of(conn, link.recipient_id, link.side, side_party, for_update=for_update)
        if match["status"] != "proposed":
            raise Conflict("this match was withdrawn; there is nothing to answer", field="token")
        roadshow = await repo.get_roadshow(conn, match["roadshow_id"])
        own, other = await links.organisations(
            conn, link.side, match["enterprise_id"], match["participant_id"]
        )
        latest = await repo.latest_answer(conn, link.match_id, link.side)
        return AnswerRequest(
            link=link,
            roadshow_id=match["roadshow_id"],
            roadshow_name=roadshow.name if roadshow else "the road show",
            organisation=own,
            counterpart=other,
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
