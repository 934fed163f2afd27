-- E-mail to people: presidents and participant contacts receive their own
-- schedule, change notices and a reminder. The e-mail channel reuses the
-- notifications table (status, scheduling, leases, attempts, redelivery); what
-- is new here is the read model it needs and one place for personal data.

-- Road shows, for the subject, the venue and the time zone of every message.
CREATE TABLE roadshows (
    id        uuid PRIMARY KEY,
    name      text NOT NULL,
    venue     text NOT NULL,
    timezone  text NOT NULL,
    version   integer NOT NULL
);

-- The only table holding personal data: a president's or a contact's name and
-- address, nothing else (no title, no phone). One row per role: the president
-- of an enterprise, the contact of a participant; its id is derived from the
-- role (see domain.recipient_id). Erasure and withdrawal null the name and
-- address; the row stays as a tombstone so an opt-out survives.
CREATE TABLE recipients (
    id              uuid PRIMARY KEY,
    kind            text NOT NULL CHECK (kind IN ('enterprise.president', 'participant.contact')),
    party_id        uuid NOT NULL,
    partner_id      uuid,
    roadshow_id     uuid NOT NULL,
    name            text,
    email           text,
    version         integer NOT NULL,
    opted_out_at    timestamptz,
    opted_out_by    text CHECK (opted_out_by IN ('recipient', 'partner')),
    erased_at       timestamptz,
    UNIQUE (kind, party_id),
    CHECK ((opted_out_at IS NULL) = (opted_out_by IS NULL))
);
CREATE INDEX recipients_partner ON recipients (partner_id);

-- Schedules matching completed; published (their e-mails made) once this
-- service holds all `expected` meetings and every party and the road show.
CREATE TABLE schedules (
    id              uuid PRIMARY KEY,
    roadshow_id     uuid NOT NULL,
    expected        integer NOT NULL,
    event_id        uuid NOT NULL,  -- the schedule.completed event
    correlation_id  text NOT NULL,
    completed_at    timestamptz NOT NULL,
    published_at    timestamptz
);
CREATE INDEX schedules_unpublished ON schedules (roadshow_id) WHERE published_at IS NULL;

-- Meetings as matching last described them. `published` becomes true when a
-- schedule holding the meeting is published and stays true: from then on the
-- people know about it, so a move or a cancellation is news to them.
CREATE TABLE meetings (
    id              uuid PRIMARY KEY,
    schedule_id     uuid NOT NULL,
    roadshow_id     uuid NOT NULL,
    enterprise_id   uuid NOT NULL,
    participant_id  uuid NOT NULL,
    slot            integer NOT NULL,
    table_no        integer NOT NULL,
    starts_at       timestamptz NOT NULL,
    ends_at         timestamptz NOT NULL,
    status          text NOT NULL CHECK (status IN ('scheduled', 'cancelled')),
    sequence        integer NOT NULL DEFAULT 0,  -- iCalendar SEQUENCE: bumped per move
    published       boolean NOT NULL DEFAULT false
);
CREATE INDEX meetings_schedule ON meetings (schedule_id);
CREATE INDEX meetings_enterprise ON meetings (enterprise_id);
CREATE INDEX meetings_participant ON meetings (participant_id);

-- Which meetings each schedule announced: a meeting can later move to another
-- schedule, but it still counts towards the one that announced it.
CREATE TABLE schedule_meetings (
    schedule_id  uuid NOT NULL,
    meeting_id   uuid NOT NULL,
    PRIMARY KEY (schedule_id, meeting_id)
);

-- The e-mail channel on the shared notifications table. An e-mail targets a
-- recipient instead of a subscription; its body is the message's content as
-- JSON without the recipient's name or address (those are read from
-- `recipients` when it is sent, so erasure needs to touch one table only).
ALTER TABLE notifications DROP CONSTRAINT notifications_channel_check;
ALTER TABLE notifications ADD CONSTRAINT notifications_channel_check
    CHECK (channel IN ('webhook', 'email'));
ALTER TABLE notifications DROP CONSTRAINT notifications_status_check;
-- cancelled: never to be sent (recipient erased, opted out or withdrawn; a
-- reminder that came too late). Unlike dead, it is not redeliverable.
ALTER TABLE notifications ADD CONSTRAINT notifications_status_check
    CHECK (status IN ('pending', 'delivered', 'dead', 'cancelled'));
ALTER TABLE notifications ALTER COLUMN partner_id DROP NOT NULL;
ALTER TABLE notifications ADD CONSTRAINT notifications_webhook_partner
    CHECK (channel <> 'webhook' OR partner_id IS NOT NULL);
ALTER TABLE notifications
    ADD COLUMN recipient_id  uuid REFERENCES recipients (id),
    ADD COLUMN email_kind    text CHECK (email_kind IN ('schedule', 'change', 'reminder')),
    ADD COLUMN category      text CHECK (category IN ('transactional', 'reminder')),
    ADD COLUMN roadshow_id   uuid,
    -- What makes two e-mails the same one: a replayed or repeated event finds
    -- its key taken and sends nothing.
    ADD COLUMN dedupe_key    text,
    -- Not worth sending after this (a reminder once the meeting has begun).
    ADD COLUMN send_before   timestamptz,
    ADD COLUMN cancelled_at  timestamptz,
    ADD CONSTRAINT notifications_email_target CHECK (
        channel <> 'email' OR (recipient_id IS NOT NULL AND email_kind IS NOT NULL
                               AND category IS NOT NULL AND dedupe_key IS NOT NULL));
CREATE UNIQUE INDEX notifications_email_once ON notifications (dedupe_key)
    WHERE channel = 'email';
CREATE INDEX notifications_email_due ON notifications (next_attempt_at)
    WHERE channel = 'email' AND status = 'pending';
CREATE INDEX notifications_recipient ON notifications (recipient_id, seq)
    WHERE recipient_id IS NOT NULL;

ALTER TABLE delivery_attempts DROP CONSTRAINT delivery_attempts_outcome_check;
-- rejected: the mail server refused the message for good (5xx).
ALTER TABLE delivery_attempts ADD CONSTRAINT delivery_attempts_outcome_check
    CHECK (outcome IN ('in_flight', 'delivered', 'failed', 'timeout', 'refused', 'gone',
                       'rejected', 'abandoned'));
