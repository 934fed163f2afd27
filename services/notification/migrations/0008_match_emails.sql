-- People answer from their inbox (issue 12, item 7): each person's proposed
-- matches by e-mail, with signed accept / decline / must-meet links, and a
-- daily digest of what changed; their answers, recorded here and published.

-- Matches as matching last described them (no personal data: parties' ids,
-- the score and the reasons that count). Kept only while e-mail is on.
-- `first_seen_at` and `changed_at` are this service's clock: what a person's
-- digest covers is what changed after the last match e-mail they were sent.
CREATE TABLE email_matches (
    match_id        uuid PRIMARY KEY,
    roadshow_id     uuid NOT NULL,
    enterprise_id   uuid NOT NULL,
    participant_id  uuid NOT NULL,
    score           double precision NOT NULL,
    reasons         text[] NOT NULL DEFAULT '{}',
    status          text NOT NULL CHECK (status IN ('proposed', 'withdrawn')),
    version         integer NOT NULL,
    first_seen_at   timestamptz NOT NULL,
    changed_at      timestamptz NOT NULL
);
CREATE INDEX email_matches_enterprise ON email_matches (enterprise_id, changed_at);
CREATE INDEX email_matches_participant ON email_matches (participant_id, changed_at);

-- People whose matches changed, waiting for their match e-mail to be made: one
-- row per person and road show, written in bulk by the matching consumer (the
-- earliest due wins: a burst joins the row its first change made). The match
-- e-mail loop makes the message once due (and not sooner than a day after the
-- person's last one), then deletes the row.
CREATE TABLE match_mail_due (
    recipient_id    uuid NOT NULL,
    roadshow_id     uuid NOT NULL,
    kind            text NOT NULL CHECK (kind IN ('enterprise.president', 'participant.contact')),
    party_id        uuid NOT NULL,
    due_at          timestamptz NOT NULL,
    event_id        uuid NOT NULL,  -- the (last) event that changed their matches
    event_type      text NOT NULL,
    correlation_id  text NOT NULL,
    PRIMARY KEY (recipient_id, roadshow_id)
);
CREATE INDEX match_mail_due_at ON match_mail_due (due_at);

-- Answers people gave through a link (after the confirmation page's POST). Each
-- row is published once as answer.given; matching records it as the side's
-- interest. A repeat of the side's latest answer adds no row.
CREATE TABLE email_answers (
    id            uuid PRIMARY KEY,
    recipient_id  uuid NOT NULL REFERENCES recipients (id),
    match_id      uuid NOT NULL,
    roadshow_id   uuid NOT NULL,
    side          text NOT NULL CHECK (side IN ('enterprise', 'participant')),
    answer        text NOT NULL CHECK (answer IN ('accept', 'decline', 'must-meet')),
    given_at      timestamptz NOT NULL,
    seq           bigserial NOT NULL
);
CREATE INDEX email_answers_latest ON email_answers (match_id, side, seq DESC);

-- Two more kinds of e-mail: the first list of a person's proposed matches, and
-- the digest of their changes (at most one a day; not transactional).
ALTER TABLE notifications DROP CONSTRAINT notifications_email_kind_check;
ALTER TABLE notifications ADD CONSTRAINT notifications_email_kind_check
    CHECK (email_kind IN ('schedule', 'change', 'reminder', 'proposals', 'digest'));
ALTER TABLE notifications DROP CONSTRAINT notifications_category_check;
ALTER TABLE notifications ADD CONSTRAINT notifications_category_check
    CHECK (category IN ('transactional', 'reminder', 'matches', 'digest'));
-- A person's match e-mails of a road show, newest first (which one to refresh,
-- when the last one went).
CREATE INDEX notifications_match_emails ON notifications (recipient_id, roadshow_id, seq DESC)
    WHERE channel = 'email' AND email_kind IN ('proposals', 'digest');
