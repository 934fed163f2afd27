-- Mutual interest, the organiser's matching settings, what a rescheduling
-- changed, and attendance after the event.

-- The organiser's choices per road show; the defaults are the behaviour before
-- interest existed (every match above the threshold is eligible).
ALTER TABLE roadshows
    ADD COLUMN matching_mode        text NOT NULL DEFAULT 'opt-out'
                                    CHECK (matching_mode IN ('opt-in', 'opt-out')),
    ADD COLUMN interest_ttl_hours   integer NOT NULL DEFAULT 72 CHECK (interest_ttl_hours > 0),
    ADD COLUMN scheduling_closes_at timestamptz;

-- Each side's latest answer and when it was given; NULL is "not answered yet".
-- 'expired' is set by matching itself when the other side answered and this
-- one stayed silent for the road show's interest_ttl_hours.
ALTER TABLE matches
    ADD COLUMN enterprise_interest     text
        CHECK (enterprise_interest IN ('accept', 'decline', 'must-meet', 'expired')),
    ADD COLUMN enterprise_interest_at  timestamptz,
    ADD COLUMN participant_interest    text
        CHECK (participant_interest IN ('accept', 'decline', 'must-meet', 'expired')),
    ADD COLUMN participant_interest_at timestamptz;
-- The expiry check looks only at pairs with exactly one side silent.
CREATE INDEX matches_awaiting_answer ON matches (roadshow_id)
    WHERE status = 'proposed' AND (enterprise_interest IS NULL) <> (participant_interest IS NULL);

-- What a job's schedule changed against the previous one (counts and meeting ids).
ALTER TABLE scheduling_jobs ADD COLUMN changes jsonb;

ALTER TABLE meetings
    ADD COLUMN attendance     text CHECK (attendance IN ('held', 'no-show', 'cancelled')),
    ADD COLUMN attendance_at  timestamptz;
