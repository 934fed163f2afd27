"""E-mail to people: use cases of the consumer (the read model of road shows,
recipients, schedules and meetings; publication, change notices, reminders,
erasure), of the HTTP API (opt-out, unsubscribe, messages, redelivery) and of
the delivery worker (claiming due e-mails, recording attempts).

E-mails are rows of the shared `notifications` table (channel 'email'), so
they get the webhook's machinery: stored state, leases, every attempt kept,
retries with jitter on the injectable clock, dead and redelivery. See
docs/notification.md, "E-mail"."""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import asyncpg

from services.notification import domain
from services.notification import email_repository as mrepo
from services.notification import email_rules as rules
from services.notification import repository as repo
from services.notification.email_compose import Identity, Recipient
from services.notification.email_rules import Content, MeetingLine, Previous
from services.notification.email_tokens import sign, verify
from services.notification.schemas import (
    AttemptOut,
    EmailDetail,
    EmailOut,
    EmailQuery,
    EmailRecipientOut,
    OptOutIn,
    RedeliverRangeIn,
)
from services.notification.settings import NotificationSettings
from shared.contracts.matching import Meeting, MeetingMoved, ScheduleCompleted
from shared.contracts.registration import (
    Enterprise,
    Participant,
    PersonErased,
    Roadshow,
    Withdrawn,
)
from shared.envelope import Context, Envelope, utcnow
from shared.errors import Conflict, NotFound
from shared.logging import get_logger

log = get_logger(__name__)

ROLES = {"presidents": rules.PRESIDENT, "contacts": rules.CONTACT}


@dataclass(frozen=True)
class EmailDelivery:
    """One claimed e-mail attempt: what to say to whom, under which lease."""

    notification_id: uuid.UUID
    number: int
    tries: int
    token: uuid.UUID
    recipient_id: uuid.UUID
    correlation_id: str
    content: Content
    to: Recipient
    unsubscribe_token: str


def _sendable(recipient: asyncpg.Record | None) -> bool:
    return (
        recipient is not None
        and recipient["email"] is not None
        and recipient["opted_out_at"] is None
    )


class Emails:
    def __init__(
        self,
        settings: NotificationSettings,
        *,
        clock: domain.Clock = utcnow,
        rand: Callable[[], float] = random.random,
    ) -> None:
        self.enabled = settings.email_enabled
        self.policy = domain.RetryPolicy(
            schedule=settings.email_schedule,
            jitter=settings.retry_jitter,
            retry_after_cap=settings.retry_after_cap_seconds,
        )
        self.lead = settings.email_reminder_lead
        self.identity = Identity(
            mail_from=settings.mail_from,
            reply_to=settings.mail_reply_to,
            unsubscribe_base=settings.email_public_base_url,
        )
        self._token_secret = settings.email_token_secret.get_secret_value()
        self.clock = clock
        self._rand = rand

    def unsubscribe_token(self, recipient: uuid.UUID) -> str:
        return sign(self._token_secret, recipient)

    # --- read model (consumer) --------------------------------------------------------------

    async def roadshow_changed(
        self, conn: asyncpg.Connection, _envelope: Envelope, data: Roadshow
    ) -> None:
        if not self.enabled:
            return
        await mrepo.upsert_roadshow(conn, data)
        await self._release(conn, data.roadshow_id)

    async def enterprise_changed(
        self, conn: asyncpg.Connection, envelope: Envelope, data: Enterprise
    ) -> None:
        if not self.enabled:
            return  # nothing personal is kept when it is not needed
        p = data.president
        await mrepo.upsert_recipient(
            conn,
            id_=rules.recipient_id(rules.PRESIDENT, data.enterprise_id),
            kind=rules.PRESIDENT,
            party_id=data.enterprise_id,
            partner_id=envelope.partner_id,
            roadshow_id=data.roadshow_id,
            name=p.name,
            email=p.email,
            version=data.version,
        )
        await self._release(conn, data.roadshow_id)

    async def participant_changed(
        self, conn: asyncpg.Connection, envelope: Envelope, data: Participant
    ) -> None:
        if not self.enabled or envelope.partner_id is None:
            return
        c = data.contact
        await mrepo.upsert_recipient(
            conn,
            id_=rules.recipient_id(rules.CONTACT, data.participant_id),
            kind=rules.CONTACT,
            party_id=data.participant_id,
            partner_id=envelope.partner_id,
            roadshow_id=data.roadshow_id,
            name=c.name,
            email=c.email,
            version=data.version,
        )
        await self._release(conn, data.roadshow_id)

    async def enterprise_withdrawn(
        self, conn: asyncpg.Connection, _envelope: Envelope, data: Withdrawn
    ) -> None:
        await self._withdrawn(conn, rules.recipient_id(rules.PRESIDENT, data.id), data.version)

    async def participant_withdrawn(
        self, conn: asyncpg.Connection, _envelope: Envelope, data: Withdrawn
    ) -> None:
        await self._withdrawn(conn, rules.recipient_id(rules.CONTACT, data.id), data.version)

    async def _withdrawn(self, conn: asyncpg.Connection, rid: uuid.UUID, version: int) -> None:
        # A withdrawn party takes no part any more: its person's address is no
        # longer needed, and nothing pending should reach them.
        now = self.clock()
        if await mrepo.forget_recipient(conn, rid, now=now, erased=False, version=version):
            await mrepo.cancel_pending(conn, [rid], "the party withdrew", now)
            log.info("email.recipient_withdrawn", recipient_id=str(rid))

    async def person_erased(
        self, conn: asyncpg.Connection, _envelope: Envelope, data: PersonErased
    ) -> None:
        """Erase a person's name and address and cancel what was still to be
        sent to them. Runs even with e-mail switched off: data kept while it
        was on must go too."""
        now = self.clock()
        for subject in data.subjects:
            if subject.kind not in (rules.PRESIDENT, rules.CONTACT):
                continue
            rid = rules.recipient_id(subject.kind, subject.id)
            if await mrepo.forget_recipient(conn, rid, now=now, erased=True):
                cancelled = await mrepo.cancel_pending(
                    conn, [rid], "the person's data was erased", now
                )
                log.info("email.recipient_erased", recipient_id=str(rid), cancelled=cancelled)

    # --- schedules and meetings (consumer) ------------------------------------------------------

    async def schedule_completed(
        self, conn: asyncpg.Connection, envelope: Envelope, data: ScheduleCompleted
    ) -> None:
        if not self.enabled:
            return
        await mrepo.insert_schedule(
            conn,
            id_=data.schedule_id,
            roadshow_id=data.roadshow_id,
            expected=data.meetings,
            event_id=envelope.id,
            correlation_id=envelope.correlation_id,
            now=self.clock(),
        )
        await repo.lock_hold(conn)
        await self._try_publish(conn, data.schedule_id)

    async def meeting_scheduled(
        self, conn: asyncpg.Connection, envelope: Envelope, data: Meeting
    ) -> None:
        if not self.enabled:
            return
        await self._lock(conn)
        before = await mrepo.get_meeting(conn, data.meeting_id)
        if before is not None and before["published"] and _moved(before, data):
            # Announced again somewhere else: for the people, a move.
            await self._moved(conn, envelope, data, before, None)
        else:
            sequence = before["sequence"] if before is not None else 0
            await mrepo.upsert_meeting(conn, data, status="scheduled", sequence=sequence)
        await self._after_meeting(conn, data.schedule_id)

    async def meeting_moved(
        self, conn: asyncpg.Connection, envelope: Envelope, data: MeetingMoved
    ) -> None:
        if not self.enabled:
            return
        await self._lock(conn)
        before = await mrepo.get_meeting(conn, data.meeting_id)
        if before is not None and before["status"] == "scheduled" and not _moved(before, data):
            # Already where the event says: nothing changed for anyone.
            await mrepo.upsert_meeting(conn, data, status="scheduled", sequence=before["sequence"])
        elif before is not None and before["published"]:
            await self._moved(conn, envelope, data, before, data)
        else:
            sequence = before["sequence"] + 1 if before is not None else 0
            await mrepo.upsert_meeting(conn, data, status="scheduled", sequence=sequence)
        await self._after_meeting(conn, data.schedule_id)

    async def meeting_cancelled(
        self, conn: asyncpg.Connection, envelope: Envelope, data: Meeting
    ) -> None:
        if not self.enabled:
            return
        await self._lock(conn)
        before = await mrepo.get_meeting(conn, data.meeting_id)
        if before is not None and before["status"] == "cancelled":
            return  # a meeting is cancelled once
        # iCalendar wants a higher SEQUENCE on a CANCEL than on what it cancels.
        sequence = before["sequence"] + 1 if before is not None else 1
        await mrepo.upsert_meeting(conn, data, status="cancelled", sequence=sequence)
        if before is not None and before["published"]:
            await self._change_notices(
                conn, envelope, data, rules.CANCELLED, sequence, previous=None
            )
        await self._after_meeting(conn, data.schedule_id)

    async def _moved(
        self,
        conn: asyncpg.Connection,
        envelope: Envelope,
        data: Meeting,
        before: asyncpg.Record,
        moved: MeetingMoved | None,
    ) -> None:
        sequence = before["sequence"] + 1
        await mrepo.upsert_meeting(conn, data, status="scheduled", sequence=sequence)
        previous = Previous(
            starts_at=moved.previous_starts_at if moved else before["starts_at"],
            ends_at=moved.previous_ends_at if moved else before["ends_at"],
            table=moved.previous_table if moved else before["table_no"],
        )
        await self._change_notices(conn, envelope, data, rules.MOVED, sequence, previous)

    @staticmethod
    async def _lock(conn: asyncpg.Connection) -> None:
        """The hold lock, taken by a meeting handler before it touches the
        meeting's row: a publication (which takes the lock, then updates
        meeting rows) and a meeting handler then always lock in the same order,
        and never wait on each other in a cycle. Held until commit, so a
        schedule.completed handled concurrently either sees this meeting or is
        seen here."""
        await repo.lock_hold(conn)

    async def _after_meeting(self, conn: asyncpg.Connection, schedule_id: uuid.UUID) -> None:
        await self._try_publish(conn, schedule_id)

    async def _release(self, conn: asyncpg.Connection, roadshow_id: uuid.UUID) -> None:
        """Publications held for a party or the road show, tried again now that
        one more is known (same lock and order as the webhook hold)."""
        await repo.lock_hold(conn)
        for schedule_id in await mrepo.unpublished_schedules(conn, roadshow_id=roadshow_id):
            await self._try_publish(conn, schedule_id)

    async def _try_publish(self, conn: asyncpg.Connection, schedule_id: uuid.UUID) -> None:
        """Publish the schedule if everything it needs is here: all the meetings
        it announced, the road show, and every party. Otherwise it stays held
        and the arrival of what is missing tries again. The caller holds the
        hold lock."""
        schedule = await mrepo.get_schedule(conn, schedule_id)
        if schedule is None or schedule["published_at"] is not None:
            return
        reason = None
        if await mrepo.announced_count(conn, schedule_id) < schedule["expected"]:
            reason = "meetings"
        elif await mrepo.get_roadshow(conn, schedule["roadshow_id"]) is None:
            reason = "roadshow"
        elif await mrepo.unknown_parties(conn, schedule_id):
            reason = "parties"
        if reason is not None:
            log.info("email.publication_held", schedule_id=str(schedule_id), waiting_for=reason)
            return
        now = self.clock()
        if not await mrepo.publish(conn, schedule_id, now):
            return
        made = 0
        parties = await mrepo.schedule_parties(conn, schedule_id)
        cause = _Cause(schedule["event_id"], "schedule.completed", schedule["correlation_id"])
        for role, party_id in sorted(
            {(rules.PRESIDENT, p["enterprise_id"]) for p in parties}
            | {(rules.CONTACT, p["participant_id"]) for p in parties}
        ):
            made += await self._schedule_message(
                conn, cause, schedule_id, schedule["roadshow_id"], role, party_id
            )
        log.info("email.schedule_published", schedule_id=str(schedule_id), messages=made)

    # --- messages --------------------------------------------------------------------------

    async def _schedule_message(
        self,
        conn: asyncpg.Connection,
        cause: _Cause,
        schedule_id: uuid.UUID,
        roadshow_id: uuid.UUID,
        role: str,
        party_id: uuid.UUID,
    ) -> int:
        rid = rules.recipient_id(role, party_id)
        recipient = await mrepo.get_recipient(conn, rid)
        content = await self._content(conn, rules.SCHEDULE, role, party_id, roadshow_id)
        if recipient is None or not _sendable(recipient) or content is None:
            return 0
        if not content.agenda:
            return 0
        if await mrepo.last_told_digest(conn, rid, roadshow_id) == content.agenda_digest:
            # A re-published schedule that changes nothing for this person.
            return 0
        made = await self._insert(
            conn,
            cause,
            recipient,
            content,
            rules.schedule_key(schedule_id, rid),
            due=self.clock(),
        )
        await self._refresh_reminder(conn, cause, recipient, role, party_id, roadshow_id)
        return made

    async def _change_notices(
        self,
        conn: asyncpg.Connection,
        envelope: Envelope,
        data: Meeting,
        change: str,
        sequence: int,
        previous: Previous | None,
    ) -> None:
        cause = _Cause(envelope.id, envelope.type, envelope.correlation_id)
        made = 0
        for role, party_id in (
            (rules.PRESIDENT, data.enterprise_id),
            (rules.CONTACT, data.participant_id),
        ):
            rid = rules.recipient_id(role, party_id)
            recipient = await mrepo.get_recipient(conn, rid)
            base = await self._content(conn, rules.CHANGE, role, party_id, data.roadshow_id)
            if recipient is None or base is None or not _sendable(recipient):
                continue
            meeting = await mrepo.get_meeting(conn, data.meeting_id)
            assert meeting is not None
            changed = _line(meeting, await mrepo.counterpart_name(conn, role, meeting))
            content = base.model_copy(
                update={"change": change, "changed": changed, "previous": previous}
            )
            key = (
                rules.cancel_key(data.meeting_id, rid)
                if change == rules.CANCELLED
                else rules.move_key(envelope.id, rid)
            )
            made += await self._insert(conn, cause, recipient, content, key, due=self.clock())
            await self._refresh_reminder(conn, cause, recipient, role, party_id, data.roadshow_id)
        log.info(
            "email.change_notices",
            meeting_id=str(data.meeting_id),
            change=change,
            messages=made,
            sequence=sequence,
        )

    async def _refresh_reminder(
        self,
        conn: asyncpg.Connection,
        cause: _Cause,
        recipient: asyncpg.Record,
        role: str,
        party_id: uuid.UUID,
        roadshow_id: uuid.UUID,
    ) -> None:
        """Keep the person's one reminder in step with their agenda: made when
        there is time for it, moved and rewritten while it waits, cancelled
        when nothing is left to remind of or its moment has passed."""
        now = self.clock()
        key = rules.reminder_key(roadshow_id, recipient["id"])
        content = await self._content(conn, rules.REMINDER, role, party_id, roadshow_id)
        pending = await mrepo.pending_reminder(conn, key)
        due = None
        if content is not None and content.agenda:
            due = rules.reminder_due(content.agenda[0].starts_at, self.lead, now)
        if content is None or due is None:
            if pending is not None:
                await mrepo.cancel_pending(
                    conn, [recipient["id"]], "no reminder is due", now, only_id=pending["id"]
                )
            return
        send_before = content.agenda[0].starts_at
        if pending is not None:
            await mrepo.refresh_reminder(
                conn,
                pending["id"],
                body=content.to_json(),
                due=due,
                send_before=send_before,
                now=now,
            )
            return
        await self._insert(conn, cause, recipient, content, key, due=due, send_before=send_before)

    async def _insert(
        self,
        conn: asyncpg.Connection,
        cause: _Cause,
        recipient: asyncpg.Record,
        content: Content,
        key: str,
        *,
        due: datetime,
        send_before: datetime | None = None,
    ) -> int:
        inserted = await mrepo.insert_email(
            conn,
            {
                "id": uuid.uuid4(),
                "recipient_id": recipient["id"],
                "partner_id": recipient["partner_id"],
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

    async def _content(
        self,
        conn: asyncpg.Connection,
        kind: str,
        role: str,
        party_id: uuid.UUID,
        roadshow_id: uuid.UUID,
    ) -> Content | None:
        """The person's agenda as content of this kind, or None when the party
        is unknown or withdrawn, or the road show unknown."""
        roadshow = await mrepo.get_roadshow(conn, roadshow_id)
        party = (
            await repo.get_enterprise(conn, party_id)
            if role == rules.PRESIDENT
            else await repo.get_participant(conn, party_id)
        )
        if roadshow is None or party is None or party["status"] == "withdrawn":
            return None
        agenda = [
            _line(m, m["counterpart"] or "(unknown organisation)")
            for m in await mrepo.agenda(conn, role, party_id, roadshow_id)
        ]
        return Content(
            kind=kind,
            role=role,
            organisation=party["name"],
            roadshow_id=roadshow_id,
            roadshow_name=roadshow["name"],
            venue=roadshow["venue"],
            timezone=roadshow["timezone"],
            agenda=agenda,
            agenda_digest=rules.agenda_digest(agenda),
        )

    # --- delivery (worker) ---------------------------------------------------------------------

    async def claim(
        self, conn: asyncpg.Connection, *, capacity: int, lease: float
    ) -> list[EmailDelivery]:
        """Claim up to `capacity` due e-mails for one attempt each, as a lease
        (the webhook claim's rules: a dead worker's e-mails are due again when
        its lease ends and are sent with the same Message-ID)."""
        if capacity <= 0:
            return []
        now = self.clock()
        token = uuid.uuid4()
        async with conn.transaction():
            await mrepo.cancel_late(conn, now)
            due = await mrepo.due_emails(conn, now, capacity)
            recipients = await mrepo.recipients_by_id(conn, [r["recipient_id"] for r in due])
            ids = []
            for r in due:
                if _sendable(recipients.get(r["recipient_id"])):
                    ids.append(r["id"])
                else:
                    # Erasure and opt-out cancel in their own transaction; this
                    # only catches a row that slipped past them.
                    await mrepo.cancel_pending(
                        conn, [r["recipient_id"]], "no address, or opted out", now, only_id=r["id"]
                    )
            if not ids:
                return []
            rows = await repo.lease(conn, ids, token, now + timedelta(seconds=lease), now)
        out = []
        for r in rows:
            recipient = recipients.get(r["recipient_id"])
            assert recipient is not None  # a foreign key
            out.append(
                EmailDelivery(
                    notification_id=r["id"],
                    number=r["attempts"],
                    tries=r["tries"],
                    token=token,
                    recipient_id=r["recipient_id"],
                    correlation_id=r["correlation_id"],
                    content=Content.model_validate_json(r["body"]),
                    to=Recipient(name=recipient["name"], email=recipient["email"] or ""),
                    unsubscribe_token=self.unsubscribe_token(r["recipient_id"]),
                )
            )
        return out

    async def record(
        self, conn: asyncpg.Connection, delivery: EmailDelivery, attempt: domain.Attempt
    ) -> domain.Decision | None:
        """Store how an attempt ended and what happens next; None when the lease
        was lost (another worker owns the e-mail, or it was cancelled)."""
        now = self.clock()
        decision = domain.decide(attempt, delivery.tries, self.policy, now, self._rand)
        async with conn.transaction():
            settled = await repo.record_attempt(
                conn,
                delivery.notification_id,
                delivery.number,
                delivery.token,
                attempt,
                decision,
                now,
            )
        return decision if settled else None

    # --- opt-out, messages, redelivery (HTTP) -----------------------------------------------

    async def _partner_recipient(
        self,
        conn: asyncpg.Connection,
        ctx: Context,
        role: str,
        party_id: uuid.UUID,
        *,
        for_update: bool = False,
    ) -> asyncpg.Record:
        kind = ROLES.get(role)
        row = None
        if kind is not None:
            row = await mrepo.get_recipient(
                conn, rules.recipient_id(kind, party_id), for_update=for_update
            )
        # Another partner's person answers as missing: no existence leaks.
        if row is None or row["partner_id"] != ctx.partner_id:
            raise NotFound("no such person on file", field="party_id")
        return row

    async def get_recipient(
        self, conn: asyncpg.Connection, ctx: Context, role: str, party_id: uuid.UUID
    ) -> EmailRecipientOut:
        return _recipient_out(await self._partner_recipient(conn, ctx, role, party_id))

    async def set_opt_out(
        self,
        conn: asyncpg.Connection,
        ctx: Context,
        role: str,
        party_id: uuid.UUID,
        cmd: OptOutIn,
    ) -> EmailRecipientOut:
        now = self.clock()
        async with conn.transaction():
            row = await self._partner_recipient(conn, ctx, role, party_id, for_update=True)
            if cmd.opted_out and row["opted_out_at"] is None:
                await mrepo.set_opt_out(conn, row["id"], now, "partner")
                await mrepo.cancel_pending(conn, [row["id"]], "the person opted out", now)
            elif not cmd.opted_out and row["opted_out_at"] is not None:
                if row["opted_out_by"] == "recipient":
                    # Their own choice, made through the link in our e-mail: the
                    # partner cannot overrule it.
                    raise Conflict(
                        "the person unsubscribed themselves; only they can be asked again",
                        field="opted_out",
                    )
                await mrepo.set_opt_out(conn, row["id"], None, None)
            row = await mrepo.get_recipient(conn, row["id"])
            assert row is not None
        log.info("email.opt_out_set", recipient_id=str(row["id"]), opted_out=cmd.opted_out)
        return _recipient_out(row)

    async def unsubscribe(self, conn: asyncpg.Connection, token: str) -> bool:
        """The person's own opt-out through the signed link; idempotent. False
        for a token that is not ours (or a person we no longer know)."""
        rid = verify(self._token_secret, token)
        if rid is None:
            return False
        now = self.clock()
        async with conn.transaction():
            row = await mrepo.get_recipient(conn, rid, for_update=True)
            if row is None:
                return False
            if row["opted_out_by"] != "recipient":
                await mrepo.set_opt_out(conn, rid, now, "recipient")
            await mrepo.cancel_pending(conn, [rid], "the person opted out", now)
        log.info("email.unsubscribed", recipient_id=str(rid))
        return True

    def recipient_of_token(self, token: str) -> uuid.UUID | None:
        return verify(self._token_secret, token)

    async def list_emails(
        self,
        conn: asyncpg.Connection,
        ctx: Context,
        role: str,
        party_id: uuid.UUID,
        q: EmailQuery,
    ) -> tuple[list[EmailOut], int | None]:
        row = await self._partner_recipient(conn, ctx, role, party_id)
        rows, cursor = await mrepo.list_emails(conn, row["id"], cursor=q.cursor, limit=q.limit)
        return [_email_out(r) for r in rows], cursor

    async def get_email(
        self,
        conn: asyncpg.Connection,
        ctx: Context,
        role: str,
        party_id: uuid.UUID,
        message_id: uuid.UUID,
    ) -> EmailDetail:
        row = await self._partner_recipient(conn, ctx, role, party_id)
        email = await mrepo.get_email(conn, row["id"], message_id)
        if email is None:
            raise NotFound("no such message", field="message_id")
        attempts = await repo.attempts_of(conn, message_id)
        return EmailDetail(
            **_email_out(email).model_dump(),
            content=_json(email["body"]),
            attempt_log=[
                AttemptOut(**{k: a[k] for k in AttemptOut.model_fields}) for a in attempts
            ],
        )

    async def redeliver_one(
        self,
        conn: asyncpg.Connection,
        ctx: Context,
        role: str,
        party_id: uuid.UUID,
        message_id: uuid.UUID,
    ) -> EmailOut:
        """Send a dead (or delivered) message again, same Message-ID, on a
        fresh retry schedule."""
        async with conn.transaction():
            row = await self._partner_recipient(conn, ctx, role, party_id, for_update=True)
            email = await mrepo.get_email(conn, row["id"], message_id, for_update=True)
            if email is None:
                raise NotFound("no such message", field="message_id")
            if email["status"] == domain.PENDING:
                raise Conflict("this message is still being delivered", field="status")
            if email["status"] == domain.CANCELLED:
                raise Conflict("a cancelled message is never sent", field="status")
            if not _sendable(row):
                raise Conflict("the person opted out or has no address on file", field="opted_out")
            await mrepo.redeliver_emails(conn, self.clock(), notification_id=message_id)
            email = await mrepo.get_email(conn, row["id"], message_id)
        log.info("email.redelivery_requested", notification_id=str(message_id))
        return _email_out(email)

    async def redeliver_everywhere(self, conn: asyncpg.Connection, cmd: RedeliverRangeIn) -> int:
        """Operator's bulk redelivery of dead e-mails, e.g. after the mail relay
        refused everything for an hour (a 5xx kills at once)."""
        async with conn.transaction():
            count = await mrepo.redeliver_emails(
                conn, self.clock(), since=cmd.since, until=cmd.until
            )
        log.info("email.operator_redelivery_requested", messages=count)
        return count


@dataclass(frozen=True)
class _Cause:
    event_id: uuid.UUID
    event_type: str
    correlation_id: str


def _moved(before: asyncpg.Record, data: Meeting) -> bool:
    return bool(
        before["starts_at"] != data.starts_at
        or before["ends_at"] != data.ends_at
        or before["table_no"] != data.table
    )


def _line(m: asyncpg.Record, counterpart: str) -> MeetingLine:
    return MeetingLine(
        meeting_id=m["id"],
        starts_at=m["starts_at"],
        ends_at=m["ends_at"],
        table=m["table_no"],
        slot=m["slot"],
        sequence=m["sequence"],
        status=m["status"],
        counterpart=counterpart,
    )


def _recipient_out(row: asyncpg.Record) -> EmailRecipientOut:
    return EmailRecipientOut(
        role=row["kind"],
        party_id=row["party_id"],
        address_on_file=row["email"] is not None,
        opted_out=row["opted_out_at"] is not None,
        opted_out_at=row["opted_out_at"],
        opted_out_by=row["opted_out_by"],
        erased_at=row["erased_at"],
    )


def _email_out(row: asyncpg.Record) -> EmailOut:
    return EmailOut(
        message_id=row["id"],
        kind=row["email_kind"],
        **{k: row[k] for k in EmailOut.model_fields if k not in ("message_id", "kind")},
    )


def _json(text: str) -> dict[str, Any]:
    value: dict[str, Any] = json.loads(text)
    return value
