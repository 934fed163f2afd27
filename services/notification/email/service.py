"""Use cases of the e-mail channel. Each takes a unit of work and a command and
returns domain results.

E-mails are rows of the shared `notifications` table (channel 'email'), so
they get the outbound machinery: stored state, leases, every attempt kept,
retries with jitter on the injectable clock, dead and redelivery. See
docs/notification.md, "E-mail".

- `People`: the read model of road shows and people (event handlers), erasure.
- `Schedules`: schedules and meetings from matching, their publication and the
  change notices that follow (event handlers).
- `Messages`: what one person is told, and their reminder.
- `Mailboxes`: opt-out, unsubscribe, messages and redelivery (HTTP).
The worker's side, claiming and recording attempts, is `email.channel`."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

import asyncpg

from services.notification.email import repository as repo
from services.notification.email import rules
from services.notification.email.keys import KeyCopies
from services.notification.email.model import (
    Cause,
    Email,
    EmailDetail,
    PersonOnFile,
    Registered,
    plan_meeting,
)
from services.notification.email.rules import Change, Content, EmailKind, Previous, Role, why
from services.notification.email.tokens import Signer
from services.notification.outbound import repository as outbound
from services.notification.outbound.policy import Clock
from services.notification.outbound.repository import Redelivery
from services.notification.parties import repository as parties
from shared.contracts.matching import Meeting, MeetingEventType, ScheduleCompleted
from shared.contracts.registration import (
    Enterprise,
    Participant,
    Person,
    PersonErased,
    PersonKeyDestroyed,
    PersonKeyIssued,
    Roadshow,
)
from shared.envelope import Envelope
from shared.errors import Conflict, NotFound
from shared.logging import get_logger
from shared.unit_of_work import UnitOfWork

log = get_logger(__name__)


class Messages:
    """What a person is told: their agenda as a message of some kind, made once
    per dedupe key, and the one reminder kept in step with it."""

    def __init__(self, *, clock: Clock, reminder_lead: float) -> None:
        self.clock = clock
        self.lead = reminder_lead

    async def content(
        self,
        conn: asyncpg.Connection,
        kind: EmailKind,
        role: Role,
        party_id: uuid.UUID,
        roadshow_id: uuid.UUID,
        *,
        agenda: bool = True,
    ) -> Content | None:
        """The person's agenda as content of this kind (without it: `agenda`
        False, for a match e-mail), or None when the party is unknown or
        withdrawn, or the road show unknown."""
        roadshow = await repo.get_roadshow(conn, roadshow_id)
        party = (
            await parties.get_enterprise(conn, party_id)
            if role == rules.PRESIDENT
            else await parties.get_participant(conn, party_id)
        )
        if roadshow is None or party is None or party.status == "withdrawn":
            return None
        lines = (
            [
                meeting.line(counterpart or "(unknown organisation)")
                for meeting, counterpart in await repo.agenda(conn, role, party_id, roadshow_id)
            ]
            if agenda
            else []
        )
        return Content(
            kind=kind,
            role=role,
            organisation=party.name,
            roadshow_id=roadshow_id,
            roadshow_name=roadshow.name,
            venue=roadshow.venue,
            timezone=roadshow.timezone,
            agenda=lines,
            agenda_digest=rules.agenda_digest(lines) if agenda else "",
        )

    async def schedule(
        self,
        conn: asyncpg.Connection,
        cause: Cause,
        schedule_id: uuid.UUID,
        roadshow_id: uuid.UUID,
        role: Role,
        party_id: uuid.UUID,
    ) -> int:
        """The person's schedule, unless it tells them nothing new; returns 1 if made."""
        recipient = await repo.get_recipient(conn, rules.recipient_id(role, party_id))
        content = await self.content(conn, "schedule", role, party_id, roadshow_id)
        if recipient is None or not recipient.sendable or content is None:
            return 0
        if not content.agenda:
            return 0
        if await repo.last_told_digest(conn, recipient.id, roadshow_id) == content.agenda_digest:
            # A re-published schedule that changes nothing for this person.
            return 0
        key = rules.schedule_key(schedule_id, recipient.id)
        made = await self.insert(conn, cause, recipient, content, key, due=self.clock())
        await self.refresh_reminder(conn, cause, recipient, role, party_id, roadshow_id)
        return made

    async def change_notices(
        self,
        conn: asyncpg.Connection,
        envelope: Envelope,
        data: Meeting,
        change: Change,
        previous: Previous | None,
    ) -> int:
        """Tell both sides of a published meeting that it moved or was cancelled."""
        cause = Cause(envelope.id, envelope.type, envelope.correlation_id)
        made = 0
        for role, party_id in (
            (rules.PRESIDENT, data.enterprise_id),
            (rules.CONTACT, data.participant_id),
        ):
            recipient = await repo.get_recipient(conn, rules.recipient_id(role, party_id))
            base = await self.content(conn, "change", role, party_id, data.roadshow_id)
            if recipient is None or base is None or not recipient.sendable:
                continue
            meeting = await repo.get_meeting(conn, data.meeting_id)
            assert meeting is not None
            changed = meeting.line(await repo.counterpart_name(conn, role, meeting))
            content = base.model_copy(
                update={"change": change, "changed": changed, "previous": previous}
            )
            key = (
                rules.cancel_key(data.meeting_id, recipient.id)
                if change == "cancelled"
                else rules.move_key(envelope.id, recipient.id)
            )
            made += await self.insert(conn, cause, recipient, content, key, due=self.clock())
            await self.refresh_reminder(conn, cause, recipient, role, party_id, data.roadshow_id)
        return made

    async def refresh_reminder(
        self,
        conn: asyncpg.Connection,
        cause: Cause,
        recipient: PersonOnFile,
        role: Role,
        party_id: uuid.UUID,
        roadshow_id: uuid.UUID,
    ) -> None:
        """Keep the person's one reminder in step with their agenda: made when
        there is time for it, moved and rewritten while it waits, cancelled
        when nothing is left to remind of or its moment has passed."""
        now = self.clock()
        key = rules.reminder_key(roadshow_id, recipient.id)
        content = await self.content(conn, "reminder", role, party_id, roadshow_id)
        pending = await repo.pending_reminder(conn, key)
        due = None
        if content is not None and content.agenda:
            due = rules.reminder_due(content.agenda[0].starts_at, self.lead, now)
        if content is None or due is None:
            if pending is not None:
                await repo.cancel_pending(
                    conn, [recipient.id], "no reminder is due", now, only_id=pending
                )
            return
        send_before = content.agenda[0].starts_at
        if pending is not None:
            await repo.refresh_reminder(
                conn, pending, body=content.to_json(), due=due, send_before=send_before, now=now
            )
            return
        await self.insert(conn, cause, recipient, content, key, due=due, send_before=send_before)

    async def insert(
        self,
        conn: asyncpg.Connection,
        cause: Cause,
        recipient: PersonOnFile,
        content: Content,
        key: str,
        *,
        due: datetime,
        send_before: datetime | None = None,
    ) -> int:
        inserted = await repo.insert_email(
            conn,
            {
                "id": uuid.uuid4(),
                "recipient_id": recipient.id,
                "partner_id": recipient.partner_id,
                "event_id": cause.event_id,
                "event_type": cause.event_type,
                "correlation_id": cause.correlation_id,
                "email_kind": content.kind,
                "category": rules.category_of(content.kind),
                "roadshow_id": content.roadshow_id,
                "dedupe_key": key,
                "body": content.to_json(),
                "next_attempt_at": due,
                "send_before": send_before,
                "now": self.clock(),
            },
        )
        return 1 if inserted is not None else 0


class Schedules:
    """Schedules and meetings from matching: a schedule is published (everyone's
    schedule e-mail made) once everything it needs is here; a change to a
    published meeting becomes change notices."""

    def __init__(self, *, enabled: bool, clock: Clock, messages: Messages) -> None:
        self.enabled = enabled
        self.clock = clock
        self.messages = messages

    async def schedule_completed(
        self, uow: UnitOfWork, envelope: Envelope, data: ScheduleCompleted
    ) -> None:
        if not self.enabled:
            return
        await repo.insert_schedule(
            uow.conn,
            id_=data.schedule_id,
            roadshow_id=data.roadshow_id,
            expected=data.meetings,
            event_id=envelope.id,
            correlation_id=envelope.correlation_id,
            now=self.clock(),
        )
        await parties.lock_hold(uow.conn)
        await self._try_publish(uow.conn, data.schedule_id)

    async def meeting_changed(
        self, uow: UnitOfWork, envelope: Envelope, event: MeetingEventType, data: Meeting
    ) -> None:
        """A meeting scheduled, moved or cancelled (see `plan_meeting`)."""
        if not self.enabled:
            return
        conn = uow.conn
        # The hold lock, before touching the meeting's row: a publication (which
        # takes the lock, then updates meeting rows) and a meeting handler then
        # always lock in the same order, and never wait on each other in a
        # cycle. Held until commit, so a schedule.completed handled concurrently
        # either sees this meeting or is seen here.
        await parties.lock_hold(conn)
        plan = plan_meeting(await repo.get_meeting(conn, data.meeting_id), event, data)
        if plan is None:
            return
        await repo.upsert_meeting(
            conn, data, status=plan.status, sequence=plan.sequence, reasons=why(data.reasons)
        )
        if plan.notice is not None:
            made = await self.messages.change_notices(
                conn, envelope, data, plan.notice, plan.previous
            )
            log.info(
                "email.change_notices",
                meeting_id=str(data.meeting_id),
                change=plan.notice,
                messages=made,
                sequence=plan.sequence,
            )
        await self._try_publish(conn, data.schedule_id)

    async def release(self, conn: asyncpg.Connection, roadshow_id: uuid.UUID) -> None:
        """Publications held for a party or the road show, tried again now that
        one more is known (same lock and order as the webhook hold)."""
        await parties.lock_hold(conn)
        for schedule_id in await repo.unpublished_schedules(conn, roadshow_id=roadshow_id):
            await self._try_publish(conn, schedule_id)

    async def _try_publish(self, conn: asyncpg.Connection, schedule_id: uuid.UUID) -> None:
        """Publish the schedule if everything it needs is here: all the meetings
        it announced, the road show, and every party. Otherwise it stays held
        and the arrival of what is missing tries again. The caller holds the
        hold lock."""
        schedule = await repo.get_schedule(conn, schedule_id)
        if schedule is None or schedule.published_at is not None:
            return
        reason = None
        if await repo.announced_count(conn, schedule_id) < schedule.expected:
            reason = "meetings"
        elif await repo.get_roadshow(conn, schedule.roadshow_id) is None:
            reason = "roadshow"
        elif await repo.unknown_parties(conn, schedule_id):
            reason = "parties"
        if reason is not None:
            log.info("email.publication_held", schedule_id=str(schedule_id), waiting_for=reason)
            return
        if not await repo.publish(conn, schedule_id, self.clock()):
            return
        made = 0
        pairs = await repo.schedule_parties(conn, schedule_id)
        cause = Cause(schedule.event_id, "schedule.completed", schedule.correlation_id)
        for role, party_id in sorted(
            {(rules.PRESIDENT, enterprise) for enterprise, _ in pairs}
            | {(rules.CONTACT, participant) for _, participant in pairs}
        ):
            made += await self.messages.schedule(
                conn, cause, schedule_id, schedule.roadshow_id, role, party_id
            )
        log.info("email.schedule_published", schedule_id=str(schedule_id), messages=made)


class People:
    """The read model of road shows and of the people e-mail writes to, kept
    only while e-mail is on; erasure and withdrawal."""

    def __init__(
        self, *, enabled: bool, clock: Clock, schedules: Schedules, keys: KeyCopies
    ) -> None:
        self.enabled = enabled
        self.clock = clock
        self.schedules = schedules
        self.keys = keys

    async def key_issued(self, uow: UnitOfWork, data: PersonKeyIssued) -> None:
        if self.enabled:  # nothing personal is kept when it is not needed
            await self.keys.issued(uow.conn, data)

    async def key_destroyed(self, uow: UnitOfWork, data: PersonKeyDestroyed) -> None:
        await self.keys.destroyed(uow.conn, [data.subject_id])

    async def roadshow_changed(self, uow: UnitOfWork, data: Roadshow) -> None:
        if not self.enabled:
            return
        await repo.upsert_roadshow(uow.conn, data)
        await self.schedules.release(uow.conn, data.roadshow_id)

    async def parties_changed(
        self, changes: Sequence[tuple[UnitOfWork, Participant | Enterprise]]
    ) -> None:
        """Keep the people of a run of registered or changed parties (each event's
        partner is its party's): enterprises' presidents, participants' contacts
        (a participant's event without a partner is not kept). Publications held
        for them are tried again."""
        if not self.enabled or not changes:
            return  # nothing personal is kept when it is not needed
        kept = [(uow, data) for uow, data in changes if _kept_person(uow, data)]
        if not kept:
            return
        conn = kept[0][0].conn
        opened = await self.keys.opened(conn, [_person_of(data) for _, data in kept])
        await repo.upsert_recipients(
            conn,
            [
                Registered(
                    id=rules.recipient_id(role, party_id),
                    kind=role,
                    party_id=party_id,
                    partner_id=uow.ctx.partner_id,
                    roadshow_id=data.roadshow_id,
                    name=person.name,
                    email=person.email,
                    version=data.version,
                )
                for (uow, data), person in zip(kept, opened, strict=True)
                for role, party_id in [rules.party_role(data)]
            ],
        )
        for roadshow_id in sorted({data.roadshow_id for _, data in kept}):
            await self.schedules.release(conn, roadshow_id)

    async def withdrawn(
        self, uow: UnitOfWork, role: Role, party_id: uuid.UUID, version: int
    ) -> None:
        # A withdrawn party takes no part any more: its person's address is no
        # longer needed, and nothing pending should reach them.
        rid = rules.recipient_id(role, party_id)
        now = self.clock()
        if await repo.forget_recipient(uow.conn, rid, now=now, erased=False, version=version):
            await repo.cancel_pending(uow.conn, [rid], "the party withdrew", now)
            log.info("email.recipient_withdrawn", recipient_id=str(rid))

    async def person_erased(self, uow: UnitOfWork, data: PersonErased) -> None:
        """Erase a person's name and address and cancel what was still to be
        sent to them. Runs even with e-mail switched off: data kept while it
        was on must go too."""
        now = self.clock()
        await self.keys.destroyed(uow.conn, [s.id for s in data.subjects])
        for subject in data.subjects:
            rid = rules.recipient_id(subject.kind, subject.id)
            if await repo.forget_recipient(uow.conn, rid, now=now, erased=True):
                cancelled = await repo.cancel_pending(
                    uow.conn, [rid], "the person's data was erased", now
                )
                log.info("email.recipient_erased", recipient_id=str(rid), cancelled=cancelled)


class Mailboxes:
    """A partner's view of its people's e-mail (standing, opt-out, messages,
    redelivery), and the person's own unsubscribe link."""

    def __init__(self, *, clock: Clock, signer: Signer) -> None:
        self.clock = clock
        self._signer = signer

    async def recipient(
        self, uow: UnitOfWork, role: Role, party_id: uuid.UUID, *, for_update: bool = False
    ) -> PersonOnFile:
        found = await repo.get_recipient(
            uow.conn, rules.recipient_id(role, party_id), for_update=for_update
        )
        # Another partner's person answers as missing: no existence leaks.
        if found is None or found.partner_id != uow.ctx.partner_id:
            raise NotFound("no such person on file", field="party_id")
        return found

    async def set_opt_out(
        self, uow: UnitOfWork, role: Role, party_id: uuid.UUID, opted_out: bool
    ) -> PersonOnFile:
        now = self.clock()
        person = await self.recipient(uow, role, party_id, for_update=True)
        if opted_out and person.opted_out_at is None:
            await repo.set_opt_out(uow.conn, person.id, now, "partner")
            await repo.cancel_pending(uow.conn, [person.id], "the person opted out", now)
        elif not opted_out and person.opted_out_at is not None:
            if person.opted_out_by == "recipient":
                # Their own choice, made through the link in our e-mail: the
                # partner cannot overrule it.
                raise Conflict(
                    "the person unsubscribed themselves; only they can be asked again",
                    field="opted_out",
                )
            await repo.set_opt_out(uow.conn, person.id, None, None)
        now_on_file = await repo.get_recipient(uow.conn, person.id)
        assert now_on_file is not None
        log.info("email.opt_out_set", recipient_id=str(person.id), opted_out=opted_out)
        return now_on_file

    def recipient_of_token(self, token: str) -> uuid.UUID | None:
        return self._signer.unsubscribe_recipient(token)

    async def unsubscribe(self, uow: UnitOfWork, token: str) -> bool:
        """The person's own opt-out through the signed link; idempotent. False
        for a token that is not ours (or a person we no longer know)."""
        rid = self.recipient_of_token(token)
        if rid is None:
            return False
        now = self.clock()
        person = await repo.get_recipient(uow.conn, rid, for_update=True)
        if person is None:
            return False
        if person.opted_out_by != "recipient":
            await repo.set_opt_out(uow.conn, rid, now, "recipient")
        await repo.cancel_pending(uow.conn, [rid], "the person opted out", now)
        log.info("email.unsubscribed", recipient_id=str(rid))
        return True

    async def emails(
        self, uow: UnitOfWork, role: Role, party_id: uuid.UUID, *, after: int | None, limit: int
    ) -> tuple[list[Email], int | None]:
        person = await self.recipient(uow, role, party_id)
        return await repo.list_emails(uow.conn, person.id, after=after, limit=limit)

    async def email(
        self, uow: UnitOfWork, role: Role, party_id: uuid.UUID, message_id: uuid.UUID
    ) -> EmailDetail:
        person = await self.recipient(uow, role, party_id)
        found = await repo.get_email(uow.conn, person.id, message_id)
        if found is None:
            raise NotFound("no such message", field="message_id")
        return EmailDetail(found, await outbound.attempts_of(uow.conn, message_id))

    async def redeliver_one(
        self, uow: UnitOfWork, role: Role, party_id: uuid.UUID, message_id: uuid.UUID
    ) -> Email:
        """Send a dead (or delivered) message again, same Message-ID, on a
        fresh retry schedule."""
        person = await self.recipient(uow, role, party_id, for_update=True)
        found = await repo.get_email(uow.conn, person.id, message_id, for_update=True)
        if found is None:
            raise NotFound("no such message", field="message_id")
        if found.status == "pending":
            raise Conflict("this message is still being delivered", field="status")
        if found.status == "cancelled":
            raise Conflict("a cancelled message is never sent", field="status")
        if not person.sendable:
            raise Conflict("the person opted out or has no address on file", field="opted_out")
        await outbound.redeliver(
            uow.conn, "email", Redelivery(notification_id=message_id), self.clock()
        )
        again = await repo.get_email(uow.conn, person.id, message_id)
        assert again is not None
        log.info("email.redelivery_requested", notification_id=str(message_id))
        return again

    async def redeliver_everywhere(self, uow: UnitOfWork, since: datetime, until: datetime) -> int:
        """Operator's bulk redelivery of dead e-mails, e.g. after the mail relay
        refused everything for an hour (a 5xx kills at once)."""
        count = await outbound.redeliver(
            uow.conn, "email", Redelivery(since=since, until=until), self.clock()
        )
        log.info("email.operator_redelivery_requested", messages=count)
        return count


def _person_of(data: Participant | Enterprise) -> tuple[uuid.UUID, Person]:
    return (
        (data.enterprise_id, data.president)
        if isinstance(data, Enterprise)
        else (data.participant_id, data.contact)
    )


def _kept_person(uow: UnitOfWork, data: Participant | Enterprise) -> bool:
    # A participant is only known with its partner (as in the parties read model).
    return isinstance(data, Enterprise) or uow.ctx.partner_id is not None
