"""SQL of the e-mail channel: road shows, recipients (the one table with
personal data), schedules and meetings, and the e-mail rows of the shared
notifications table. Every function takes the caller's connection."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import asyncpg

from services.notification.email.model import (
    Cause,
    Email,
    MatchEmail,
    MatchMailDue,
    PersonOnFile,
    Registered,
    RoadshowInfo,
    Schedule,
    StoredMeeting,
)
from services.notification.email.rules import Content, KnownMatch, Role
from services.notification.outbound.repository import fetch_page
from shared.contracts.matching import Match, Meeting
from shared.contracts.registration import Roadshow

# --- road shows and recipients ---------------------------------------------------------


async def upsert_roadshow(conn: asyncpg.Connection, r: Roadshow) -> None:
    await conn.execute(
        """INSERT INTO roadshows (id, name, venue, timezone, version)
           VALUES ($1, $2, $3, $4, $5)
           ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, venue = EXCLUDED.venue,
                  timezone = EXCLUDED.timezone, version = EXCLUDED.version
            WHERE roadshows.version < EXCLUDED.version""",
        r.roadshow_id,
        r.name,
        r.venue,
        r.timezone,
        r.version,
    )


async def get_roadshow(conn: asyncpg.Connection, id_: uuid.UUID) -> RoadshowInfo | None:
    row = await conn.fetchrow("SELECT id, name, venue, timezone FROM roadshows WHERE id = $1", id_)
    return None if row is None else RoadshowInfo(**dict(row))


async def upsert_recipients(conn: asyncpg.Connection, people: Sequence[Registered]) -> None:
    # Only ever forward, like the rest of the read model. Opt-out and erasure
    # marks are not touched: a later registration version does not undo them.
    await conn.executemany(
        """INSERT INTO recipients (id, kind, party_id, partner_id, roadshow_id, name, email,
                                   version)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
           ON CONFLICT (id) DO UPDATE SET partner_id = EXCLUDED.partner_id,
                  roadshow_id = EXCLUDED.roadshow_id, name = EXCLUDED.name,
                  email = EXCLUDED.email, version = EXCLUDED.version
            WHERE recipients.version < EXCLUDED.version""",
        [
            (p.id, p.kind, p.party_id, p.partner_id, p.roadshow_id, p.name, p.email, p.version)
            for p in people
        ],
    )


async def forget_recipient(
    conn: asyncpg.Connection,
    id_: uuid.UUID,
    *,
    now: datetime,
    erased: bool,
    version: int | None = None,
) -> bool:
    """Null the recipient's name and address (erasure, withdrawal); the row
    stays, without personal data, so its opt-out and history stay."""
    result = await conn.execute(
        """UPDATE recipients SET name = NULL, email = NULL,
                  erased_at = CASE WHEN $2 THEN $3::timestamptz ELSE erased_at END,
                  version = GREATEST(version, COALESCE($4, version))
            WHERE id = $1""",
        id_,
        erased,
        now,
        version,
    )
    return bool(result != "UPDATE 0")


_PERSON = "id, kind, party_id, partner_id, name, email, opted_out_at, opted_out_by, erased_at"


async def get_recipient(
    conn: asyncpg.Connection, id_: uuid.UUID, *, for_update: bool = False
) -> PersonOnFile | None:
    lock = " FOR UPDATE" if for_update else ""
    row = await conn.fetchrow(f"SELECT {_PERSON} FROM recipients WHERE id = $1{lock}", id_)
    return None if row is None else PersonOnFile(**dict(row))


async def recipients_by_id(
    conn: asyncpg.Connection, ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, PersonOnFile]:
    rows = await conn.fetch(
        f"SELECT {_PERSON} FROM recipients WHERE id = ANY($1::uuid[])", list(ids)
    )
    return {r["id"]: PersonOnFile(**dict(r)) for r in rows}


async def set_opt_out(
    conn: asyncpg.Connection, id_: uuid.UUID, at: datetime | None, by: str | None
) -> None:
    await conn.execute(
        "UPDATE recipients SET opted_out_at = $2, opted_out_by = $3 WHERE id = $1", id_, at, by
    )


# --- schedules and meetings ---------------------------------------------------------------


async def upsert_meeting(
    conn: asyncpg.Connection, m: Meeting, *, status: str, sequence: int, reasons: list[str]
) -> None:
    await conn.execute(
        """INSERT INTO meetings (id, schedule_id, roadshow_id, enterprise_id, participant_id,
                                 slot, table_no, starts_at, ends_at, status, sequence,
                                 venue, venue_table, interpreter_languages, reasons)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)
           ON CONFLICT (id) DO UPDATE SET schedule_id = EXCLUDED.schedule_id,
                  slot = EXCLUDED.slot, table_no = EXCLUDED.table_no,
                  starts_at = EXCLUDED.starts_at, ends_at = EXCLUDED.ends_at,
                  status = EXCLUDED.status, sequence = EXCLUDED.sequence,
                  venue = EXCLUDED.venue, venue_table = EXCLUDED.venue_table,
                  interpreter_languages = EXCLUDED.interpreter_languages,
                  reasons = EXCLUDED.reasons""",
        m.meeting_id,
        m.schedule_id,
        m.roadshow_id,
        m.enterprise_id,
        m.participant_id,
        m.slot,
        m.table,
        m.starts_at,
        m.ends_at,
        status,
        sequence,
        m.venue,
        m.venue_table,
        list(m.interpreter_languages),
        reasons,
    )
    await conn.execute(
        "INSERT INTO schedule_meetings (schedule_id, meeting_id) VALUES ($1, $2)"
        " ON CONFLICT DO NOTHING",
        m.schedule_id,
        m.meeting_id,
    )


_MEETING = """m.id, m.schedule_id, m.roadshow_id, m.enterprise_id, m.participant_id, m.slot,
               m.table_no AS "table", m.starts_at, m.ends_at, m.status, m.sequence, m.published,
               m.venue, m.venue_table, m.interpreter_languages, m.reasons"""


async def get_meeting(
    conn: asyncpg.Connection, id_: uuid.UUID, *, for_update: bool = True
) -> StoredMeeting | None:
    lock = " FOR UPDATE" if for_update else ""
    row = await conn.fetchrow(f"SELECT {_MEETING} FROM meetings m WHERE id = $1{lock}", id_)
    return None if row is None else StoredMeeting(**dict(row))


async def ended_unasked_meetings(
    conn: asyncpg.Connection, now: datetime, limit: int
) -> list[StoredMeeting]:
    """Published meetings still on that ended by `now` and whose people were
    not asked for feedback yet, locked (others skipped: two loops never make
    the same meeting's requests at once), the earliest ended first."""
    rows = await conn.fetch(
        f"""SELECT {_MEETING} FROM meetings m
             WHERE m.published AND m.status = 'scheduled' AND m.feedback_requested_at IS NULL
               AND m.ends_at <= $1
             ORDER BY m.ends_at, m.id LIMIT $2 FOR UPDATE SKIP LOCKED""",
        now,
        limit,
    )
    return [StoredMeeting(**dict(r)) for r in rows]


async def mark_feedback_requested(
    conn: asyncpg.Connection, meeting_id: uuid.UUID, now: datetime
) -> None:
    await conn.execute(
        "UPDATE meetings SET feedback_requested_at = $2 WHERE id = $1", meeting_id, now
    )


async def insert_schedule(
    conn: asyncpg.Connection,
    *,
    id_: uuid.UUID,
    roadshow_id: uuid.UUID,
    expected: int,
    event_id: uuid.UUID,
    correlation_id: str,
    now: datetime,
) -> None:
    await conn.execute(
        """INSERT INTO schedules (id, roadshow_id, expected, event_id, correlation_id,
                                  completed_at)
           VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (id) DO NOTHING""",
        id_,
        roadshow_id,
        expected,
        event_id,
        correlation_id,
        now,
    )


async def get_schedule(conn: asyncpg.Connection, id_: uuid.UUID) -> Schedule | None:
    row = await conn.fetchrow(
        """SELECT id, roadshow_id, expected, event_id, correlation_id, published_at
             FROM schedules WHERE id = $1""",
        id_,
    )
    return None if row is None else Schedule(**dict(row))


async def unpublished_schedules(
    conn: asyncpg.Connection, *, roadshow_id: uuid.UUID | None = None
) -> list[uuid.UUID]:
    rows = await conn.fetch(
        """SELECT id FROM schedules WHERE published_at IS NULL
              AND ($1::uuid IS NULL OR roadshow_id = $1) ORDER BY completed_at""",
        roadshow_id,
    )
    return [r["id"] for r in rows]


async def announced_count(conn: asyncpg.Connection, schedule_id: uuid.UUID) -> int:
    n: int = await conn.fetchval(
        "SELECT count(*) FROM schedule_meetings WHERE schedule_id = $1", schedule_id
    )
    return n


async def unknown_parties(conn: asyncpg.Connection, schedule_id: uuid.UUID) -> int:
    """Parties of the schedule's meetings that registration has not told us
    about yet (their organisation name and recipient are missing)."""
    n: int = await conn.fetchval(
        """SELECT count(*) FROM schedule_meetings sm JOIN meetings m ON m.id = sm.meeting_id
            WHERE sm.schedule_id = $1
              AND (NOT EXISTS (SELECT 1 FROM enterprises e WHERE e.id = m.enterprise_id)
                   OR NOT EXISTS (SELECT 1 FROM participants p WHERE p.id = m.participant_id))""",
        schedule_id,
    )
    return n


async def publish(conn: asyncpg.Connection, schedule_id: uuid.UUID, now: datetime) -> bool:
    """Mark the schedule published and its meetings known to their people;
    False when it already was (publication happens once)."""
    done = await conn.fetchval(
        """UPDATE schedules SET published_at = $2 WHERE id = $1 AND published_at IS NULL
        RETURNING true""",
        schedule_id,
        now,
    )
    if not done:
        return False
    await conn.execute(
        """UPDATE meetings SET published = true
            WHERE id IN (SELECT meeting_id FROM schedule_meetings WHERE schedule_id = $1)""",
        schedule_id,
    )
    return True


async def schedule_parties(
    conn: asyncpg.Connection, schedule_id: uuid.UUID
) -> list[tuple[uuid.UUID, uuid.UUID]]:
    """(enterprise_id, participant_id) of the schedule's meetings still on."""
    rows = await conn.fetch(
        """SELECT DISTINCT m.enterprise_id, m.participant_id
             FROM schedule_meetings sm JOIN meetings m ON m.id = sm.meeting_id
            WHERE sm.schedule_id = $1 AND m.status = 'scheduled'""",
        schedule_id,
    )
    return [(r["enterprise_id"], r["participant_id"]) for r in rows]


async def agenda(
    conn: asyncpg.Connection, role: Role, party_id: uuid.UUID, roadshow_id: uuid.UUID
) -> list[tuple[StoredMeeting, str | None]]:
    """A party's published meetings still on, with the other side's
    organisation, in time order: what its person should have in their diary."""
    if role == "enterprise.president":
        sql = f"""SELECT {_MEETING}, p.name AS counterpart FROM meetings m
                   LEFT JOIN participants p ON p.id = m.participant_id
                  WHERE m.enterprise_id = $1 AND m.roadshow_id = $2
                    AND m.published AND m.status = 'scheduled'
                  ORDER BY m.starts_at, m.table_no"""
    else:
        sql = f"""SELECT {_MEETING}, e.name AS counterpart FROM meetings m
                   LEFT JOIN enterprises e ON e.id = m.enterprise_id
                  WHERE m.participant_id = $1 AND m.roadshow_id = $2
                    AND m.published AND m.status = 'scheduled'
                  ORDER BY m.starts_at, m.table_no"""
    rows = await conn.fetch(sql, party_id, roadshow_id)
    return [
        (StoredMeeting(**{k: v for k, v in r.items() if k != "counterpart"}), r["counterpart"])
        for r in rows
    ]


async def counterpart_name(conn: asyncpg.Connection, role: Role, meeting: StoredMeeting) -> str:
    if role == "enterprise.president":
        name = await conn.fetchval(
            "SELECT name FROM participants WHERE id = $1", meeting.participant_id
        )
    else:
        name = await conn.fetchval(
            "SELECT name FROM enterprises WHERE id = $1", meeting.enterprise_id
        )
    return str(name or "(unknown organisation)")


# --- e-mail notifications ----------------------------------------------------------------------


async def insert_email(conn: asyncpg.Connection, row: dict[str, Any]) -> uuid.UUID | None:
    """A new e-mail, unless one with its dedupe key exists (None then): a
    replayed or repeated event never makes a second message."""
    inserted: uuid.UUID | None = await conn.fetchval(
        """INSERT INTO notifications (id, channel, recipient_id, partner_id, event_id, event_type,
                                      correlation_id, email_kind, category, roadshow_id,
                                      dedupe_key, body, next_attempt_at, send_before,
                                      created_at, updated_at)
           VALUES ($1, 'email', $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $14)
           ON CONFLICT (dedupe_key) WHERE channel = 'email' DO NOTHING
        RETURNING id""",
        row["id"],
        row["recipient_id"],
        row["partner_id"],
        row["event_id"],
        row["event_type"],
        row["correlation_id"],
        row["email_kind"],
        row["category"],
        row["roadshow_id"],
        row["dedupe_key"],
        row["body"],
        row["next_attempt_at"],
        row.get("send_before"),
        row["now"],
    )
    return inserted


async def last_told_digest(
    conn: asyncpg.Connection, recipient_id: uuid.UUID, roadshow_id: uuid.UUID
) -> str | None:
    """The agenda digest of the latest schedule or change notice that went, or
    is going, to this person for this road show."""
    digest: str | None = await conn.fetchval(
        """SELECT body::jsonb ->> 'agenda_digest' FROM notifications
            WHERE recipient_id = $1 AND roadshow_id = $2 AND channel = 'email'
              AND email_kind IN ('schedule', 'change') AND status IN ('pending', 'delivered')
            ORDER BY seq DESC LIMIT 1""",
        recipient_id,
        roadshow_id,
    )
    return digest


async def pending_reminder(conn: asyncpg.Connection, dedupe_key: str) -> uuid.UUID | None:
    """The reminder with this key, if it is still to be sent (locked)."""
    found: uuid.UUID | None = await conn.fetchval(
        """SELECT id FROM notifications WHERE dedupe_key = $1 AND channel = 'email'
              AND status = 'pending' FOR UPDATE""",
        dedupe_key,
    )
    return found


async def refresh_reminder(
    conn: asyncpg.Connection,
    id_: uuid.UUID,
    *,
    body: str,
    due: datetime | None,
    send_before: datetime,
    now: datetime,
) -> None:
    """New content for a reminder not yet sent; its due time moves too unless a
    try already failed (then the retry schedule decides) or one is in flight."""
    await conn.execute(
        """UPDATE notifications SET body = $2, send_before = $4, updated_at = $5,
                  next_attempt_at = CASE WHEN tries = 0 AND lease_token IS NULL AND $3::timestamptz
                                         IS NOT NULL THEN $3 ELSE next_attempt_at END
            WHERE id = $1 AND status = 'pending'""",
        id_,
        body,
        due,
        send_before,
        now,
    )


async def cancel_pending(
    conn: asyncpg.Connection,
    recipient_ids: Sequence[uuid.UUID],
    reason: str,
    now: datetime,
    *,
    only_id: uuid.UUID | None = None,
) -> int:
    """Pending e-mails that must not go (one, or all of these recipients')
    end cancelled. One in flight cannot be called back; its worker finds the
    row settled and records nothing more."""
    result = await conn.execute(
        """UPDATE notifications
              SET status = 'cancelled', next_attempt_at = NULL, lease_token = NULL,
                  last_error = $2, cancelled_at = $3, updated_at = $3
            WHERE channel = 'email' AND status = 'pending' AND recipient_id = ANY($1::uuid[])
              AND ($4::uuid IS NULL OR id = $4)""",
        list(recipient_ids),
        reason,
        now,
        only_id,
    )
    return int(result.split()[-1])


async def cancel_late(conn: asyncpg.Connection, now: datetime) -> int:
    """Pending e-mails past their send_before (a reminder once the meeting has
    begun), unless one is in flight right now."""
    result = await conn.execute(
        """UPDATE notifications
              SET status = 'cancelled', next_attempt_at = NULL, lease_token = NULL,
                  last_error = 'too late to be of use', cancelled_at = $1, updated_at = $1
            WHERE channel = 'email' AND status = 'pending' AND send_before <= $1
              AND (lease_token IS NULL OR next_attempt_at <= $1)""",
        now,
    )
    return int(result.split()[-1])


async def due_emails(
    conn: asyncpg.Connection, now: datetime, limit: int
) -> list[tuple[uuid.UUID, uuid.UUID]]:
    """Due e-mails (id, recipient_id), oldest due first, locked; rows another
    worker is claiming are skipped, not waited for."""
    rows = await conn.fetch(
        """SELECT id, recipient_id FROM notifications
            WHERE channel = 'email' AND status = 'pending' AND next_attempt_at <= $1
            ORDER BY next_attempt_at LIMIT $2 FOR UPDATE SKIP LOCKED""",
        now,
        limit,
    )
    return [(r["id"], r["recipient_id"]) for r in rows]


_EMAIL = """id, email_kind AS kind, category, event_id, event_type, status, attempts,
             next_attempt_at, last_status_code, last_error, created_at, delivered_at, dead_at,
             cancelled_at, body"""


async def list_emails(
    conn: asyncpg.Connection, recipient_id: uuid.UUID, *, after: int | None, limit: int
) -> tuple[list[Email], int | None]:
    page, key = await fetch_page(
        conn,
        f"""SELECT seq, {_EMAIL} FROM notifications WHERE recipient_id = $1 AND channel = 'email'
              AND seq > $2 ORDER BY seq LIMIT $3""",
        recipient_id,
        after=after,
        limit=limit,
    )
    return [Email(**r) for r in page], key


async def get_email(
    conn: asyncpg.Connection,
    recipient_id: uuid.UUID,
    id_: uuid.UUID,
    *,
    for_update: bool = False,
) -> Email | None:
    lock = " FOR UPDATE" if for_update else ""
    row = await conn.fetchrow(
        f"""SELECT {_EMAIL} FROM notifications WHERE id = $1 AND recipient_id = $2
               AND channel = 'email'{lock}""",
        id_,
        recipient_id,
    )
    return None if row is None else Email(**dict(row))


# --- match e-mails: the matches, the person's match e-mails, their answers ----------------


async def upsert_matches(
    conn: asyncpg.Connection, matches: Sequence[Match], reasons: Sequence[list[str]], now: datetime
) -> list[uuid.UUID]:
    """Matching's latest word on these matches, in one statement; only ever
    forward (a higher version). Returns the ids that changed."""
    if not matches:
        return []
    latest = _latest(matches, reasons)
    # Typed arrays, one per column; each match's reasons are a slice of one flat
    # array (arrays of arrays must be rectangular in Postgres). A JSON document
    # per call cost the most of any statement here.
    flat: list[str] = []
    bounds: list[tuple[int, int]] = []
    for _, r in latest:
        bounds.append((len(flat) + 1, len(flat) + len(r)))
        flat.extend(r)
    rows = await conn.fetch(
        """INSERT INTO email_matches AS em (match_id, roadshow_id, enterprise_id, participant_id,
                                            score, reasons, status, version, first_seen_at,
                                            changed_at)
           SELECT m.match_id, m.roadshow_id, m.enterprise_id, m.participant_id, m.score,
                  ($6::text[])[m.first:m.last], m.status, m.version, $2, $2
             FROM unnest($1::uuid[], $3::uuid[], $4::uuid[], $5::uuid[], $7::float8[],
                         $8::text[], $9::int[], $10::int[], $11::int[])
                  AS m(match_id, roadshow_id, enterprise_id, participant_id, score,
                       status, version, first, last)
           ON CONFLICT (match_id) DO UPDATE SET score = EXCLUDED.score,
                  reasons = EXCLUDED.reasons, status = EXCLUDED.status,
                  version = EXCLUDED.version, changed_at = EXCLUDED.changed_at
            WHERE em.version < EXCLUDED.version
        RETURNING match_id""",
        [m.match_id for m, _ in latest],
        now,
        [m.roadshow_id for m, _ in latest],
        [m.enterprise_id for m, _ in latest],
        [m.participant_id for m, _ in latest],
        flat,
        [m.score for m, _ in latest],
        [m.status for m, _ in latest],
        [m.version for m, _ in latest],
        [first for first, _ in bounds],
        [last for _, last in bounds],
    )
    return [r["match_id"] for r in rows]


def _latest(
    matches: Sequence[Match], reasons: Sequence[list[str]]
) -> list[tuple[Match, list[str]]]:
    # One row per match in a statement (ON CONFLICT cannot touch a row twice):
    # a batch may carry two versions of one match; the higher one wins.
    best: dict[uuid.UUID, tuple[Match, list[str]]] = {}
    for m, r in zip(matches, reasons, strict=True):
        if m.match_id not in best or best[m.match_id][0].version < m.version:
            best[m.match_id] = (m, r)
    return list(best.values())


async def party_matches(
    conn: asyncpg.Connection, role: Role, party_id: uuid.UUID, roadshow_id: uuid.UUID
) -> list[KnownMatch]:
    """A party's matches of a road show (withdrawn ones too), with the other
    side's organisation."""
    if role == "enterprise.president":
        sql = """SELECT em.*, p.name AS counterpart FROM email_matches em
                   LEFT JOIN participants p ON p.id = em.participant_id
                  WHERE em.enterprise_id = $1 AND em.roadshow_id = $2"""
    else:
        sql = """SELECT em.*, e.name AS counterpart FROM email_matches em
                   LEFT JOIN enterprises e ON e.id = em.enterprise_id
                  WHERE em.participant_id = $1 AND em.roadshow_id = $2"""
    return [
        KnownMatch(
            match_id=r["match_id"],
            counterpart=r["counterpart"] or "(unknown organisation)",
            score=r["score"],
            reasons=tuple(r["reasons"]),
            status=r["status"],
            first_seen_at=r["first_seen_at"],
            changed_at=r["changed_at"],
        )
        for r in await conn.fetch(sql, party_id, roadshow_id)
    ]


async def get_email_match(conn: asyncpg.Connection, match_id: uuid.UUID) -> asyncpg.Record | None:
    row: asyncpg.Record | None = await conn.fetchrow(
        "SELECT * FROM email_matches WHERE match_id = $1", match_id
    )
    return row


async def mark_match_mail_due(conn: asyncpg.Connection, rows: Sequence[MatchMailDue]) -> None:
    """People whose matches changed: a row each, in one statement. A person
    already waiting keeps their due time (a burst joins its first change)."""
    if not rows:
        return
    await conn.execute(
        """INSERT INTO match_mail_due (recipient_id, roadshow_id, kind, party_id, due_at,
                                       event_id, event_type, correlation_id)
           SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::uuid[],
                                $5::timestamptz[], $6::uuid[], $7::text[], $8::text[])
           ON CONFLICT (recipient_id, roadshow_id) DO NOTHING""",
        [r.recipient_id for r in rows],
        [r.roadshow_id for r in rows],
        [r.role for r in rows],
        [r.party_id for r in rows],
        [r.due_at for r in rows],
        [r.cause.event_id for r in rows],
        [r.cause.event_type for r in rows],
        [r.cause.correlation_id for r in rows],
    )


async def due_match_mail(conn: asyncpg.Connection, now: datetime, limit: int) -> list[MatchMailDue]:
    """People whose match e-mail is due, oldest first, locked; those another
    loop is making are skipped, not waited for."""
    rows = await conn.fetch(
        """SELECT * FROM match_mail_due WHERE due_at <= $1 ORDER BY due_at LIMIT $2
           FOR UPDATE SKIP LOCKED""",
        now,
        limit,
    )
    return [
        MatchMailDue(
            recipient_id=r["recipient_id"],
            roadshow_id=r["roadshow_id"],
            role=r["kind"],
            party_id=r["party_id"],
            due_at=r["due_at"],
            cause=Cause(r["event_id"], r["event_type"], r["correlation_id"]),
        )
        for r in rows
    ]


async def postpone_match_mail(conn: asyncpg.Connection, due: MatchMailDue, at: datetime) -> None:
    await conn.execute(
        "UPDATE match_mail_due SET due_at = $3 WHERE recipient_id = $1 AND roadshow_id = $2",
        due.recipient_id,
        due.roadshow_id,
        at,
    )


async def drop_match_mail(conn: asyncpg.Connection, due: MatchMailDue) -> None:
    await conn.execute(
        "DELETE FROM match_mail_due WHERE recipient_id = $1 AND roadshow_id = $2",
        due.recipient_id,
        due.roadshow_id,
    )


async def last_match_email(
    conn: asyncpg.Connection, recipient_id: uuid.UUID, roadshow_id: uuid.UUID
) -> MatchEmail | None:
    """The person's latest proposals or digest e-mail of the road show that was
    not cancelled: when it went (or was made, if it has not gone yet) and what
    it covered."""
    row = await conn.fetchrow(
        """SELECT id, email_kind, body, COALESCE(delivered_at, created_at) AS sent_at
             FROM notifications
            WHERE recipient_id = $1 AND roadshow_id = $2 AND channel = 'email'
              AND email_kind IN ('proposals', 'digest') AND status <> 'cancelled'
            ORDER BY seq DESC LIMIT 1""",
        recipient_id,
        roadshow_id,
    )
    if row is None:
        return None
    content = Content.model_validate_json(row["body"])
    return MatchEmail(
        id=row["id"],
        kind=row["email_kind"],
        sent_at=row["sent_at"],
        told_at=content.told_at or row["sent_at"],
    )


async def latest_answer(
    conn: asyncpg.Connection, match_id: uuid.UUID, side: str
) -> asyncpg.Record | None:
    """The last answer given by e-mail for this side of the match."""
    row: asyncpg.Record | None = await conn.fetchrow(
        """SELECT id, answer, given_at FROM email_answers WHERE match_id = $1 AND side = $2
            ORDER BY seq DESC LIMIT 1""",
        match_id,
        side,
    )
    return row


async def insert_answer(
    conn: asyncpg.Connection,
    *,
    id_: uuid.UUID,
    recipient_id: uuid.UUID,
    match_id: uuid.UUID,
    roadshow_id: uuid.UUID,
    side: str,
    answer: str,
    at: datetime,
) -> None:
    await conn.execute(
        """INSERT INTO email_answers (id, recipient_id, match_id, roadshow_id, side, answer,
                                      given_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7)""",
        id_,
        recipient_id,
        match_id,
        roadshow_id,
        side,
        answer,
        at,
    )


# --- feedback given through a link -------------------------------------------------------


async def latest_feedback(
    conn: asyncpg.Connection, meeting_id: uuid.UUID, side: str
) -> asyncpg.Record | None:
    """The last feedback given by e-mail for this side of the meeting."""
    row: asyncpg.Record | None = await conn.fetchrow(
        """SELECT id, took_place, interest, next_step, given_at FROM email_feedback
            WHERE meeting_id = $1 AND side = $2 ORDER BY seq DESC LIMIT 1""",
        meeting_id,
        side,
    )
    return row


async def insert_feedback(conn: asyncpg.Connection, row: dict[str, Any]) -> None:
    await conn.execute(
        """INSERT INTO email_feedback (id, recipient_id, meeting_id, roadshow_id, side,
                                       took_place, interest, next_step, given_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)""",
        row["id"],
        row["recipient_id"],
        row["meeting_id"],
        row["roadshow_id"],
        row["side"],
        row["took_place"],
        row["interest"],
        row["next_step"],
        row["given_at"],
    )
