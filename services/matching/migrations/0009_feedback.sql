-- Feedback and follow-up after a meeting (issue 12, item 8). Numbered 0009 to
-- stay clear of the other branches' 0008.

-- Each side's latest feedback on a meeting; `version` grows with each change
-- (the event carries it). The note is the side's own words: kept here, never
-- put in an event.
CREATE TABLE meeting_feedback (
    meeting_id   uuid NOT NULL REFERENCES meetings (id),
    side         text NOT NULL CHECK (side IN ('enterprise', 'participant')),
    roadshow_id  uuid NOT NULL,
    took_place   text NOT NULL CHECK (took_place IN ('held', 'no-show', 'cancelled')),
    interest     text CHECK (interest IN ('none', 'low', 'medium', 'high')),
    next_step    text CHECK (next_step IN ('none', 'follow-up-call', 'follow-up-meeting',
                                           'site-visit', 'due-diligence', 'term-sheet')),
    note         text,
    version      integer NOT NULL,
    recorded_at  timestamptz NOT NULL,
    PRIMARY KEY (meeting_id, side),
    -- Interest and a next step belong to a meeting that took place.
    CHECK ((took_place = 'held') = (interest IS NOT NULL AND next_step IS NOT NULL))
);
CREATE INDEX meeting_feedback_by_roadshow ON meeting_feedback (roadshow_id);

-- One follow-up per meeting. The row is made either by the follow-up loop when
-- the meeting's delay has passed (opened_at: when follow-up.due was emitted) or
-- by a partner recording deal progress first (then it never falls due). The
-- primary key is what makes follow-up.due once per meeting, across restarts and
-- concurrent loops.
CREATE TABLE follow_ups (
    meeting_id   uuid PRIMARY KEY REFERENCES meetings (id),
    roadshow_id  uuid NOT NULL,
    due_at       timestamptz NOT NULL,
    opened_at    timestamptz,
    stage        text CHECK (stage IN ('negotiating', 'agreement-signed', 'invested', 'no-deal')),
    amount       numeric(18, 2) CHECK (amount > 0),
    currency     text,
    reported_by  text CHECK (reported_by IN ('enterprise', 'participant', 'organiser')),
    version      integer NOT NULL DEFAULT 0,
    recorded_at  timestamptz,
    CHECK ((amount IS NULL) = (currency IS NULL))
);
CREATE INDEX follow_ups_by_roadshow ON follow_ups (roadshow_id);
-- The loop's scan: scheduled, announced meetings without a follow-up yet, by end.
CREATE INDEX meetings_awaiting_follow_up ON meetings (ends_at)
    WHERE status = 'scheduled' AND published_status = 'scheduled';
