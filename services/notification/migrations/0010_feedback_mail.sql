-- Feedback after a meeting by e-mail (issue 12, item 8): once a published
-- meeting has ended, each side's person is asked by e-mail whether it took
-- place, how interested they are and what next, through a signed link; what
-- they send is recorded here and published as feedback.given.

-- When the feedback e-mails of a meeting were made (or the meeting was passed
-- over: ended too long ago when this service first saw it over). Set once by
-- the feedback loop; the meeting upsert never touches it, so a replayed
-- meeting event asks nobody twice (the e-mails' dedupe keys hold that too).
ALTER TABLE meetings ADD COLUMN feedback_requested_at timestamptz;
CREATE INDEX meetings_feedback_due ON meetings (ends_at)
    WHERE published AND status = 'scheduled' AND feedback_requested_at IS NULL;

-- Feedback people gave through the link (after the form's POST). Each row is
-- published once as feedback.given; matching records it as the side's
-- feedback. A repeat of the side's latest feedback adds no row. No free text.
CREATE TABLE email_feedback (
    id            uuid PRIMARY KEY,
    recipient_id  uuid NOT NULL REFERENCES recipients (id),
    meeting_id    uuid NOT NULL,
    roadshow_id   uuid NOT NULL,
    side          text NOT NULL CHECK (side IN ('enterprise', 'participant')),
    took_place    text NOT NULL CHECK (took_place IN ('held', 'no-show', 'cancelled')),
    interest      text CHECK (interest IN ('none', 'low', 'medium', 'high')),
    next_step     text,
    given_at      timestamptz NOT NULL,
    seq           bigserial NOT NULL
);
CREATE INDEX email_feedback_latest ON email_feedback (meeting_id, side, seq DESC);

-- One more kind of e-mail: the feedback request after a meeting (a courtesy).
ALTER TABLE notifications DROP CONSTRAINT notifications_email_kind_check;
ALTER TABLE notifications ADD CONSTRAINT notifications_email_kind_check
    CHECK (email_kind IN ('schedule', 'change', 'reminder', 'proposals', 'digest', 'feedback'));
ALTER TABLE notifications DROP CONSTRAINT notifications_category_check;
ALTER TABLE notifications ADD CONSTRAINT notifications_category_check
    CHECK (category IN ('transactional', 'reminder', 'matches', 'digest', 'feedback'));
