-- Provisional schedules (issue 13). A run may stay provisional (publish = false):
-- the organiser reviews it, locks, moves, cancels or adds meetings by hand, then
-- publishes. Only publishing announces meetings (meeting.scheduled / moved /
-- cancelled events, and so webhooks and e-mail). Each meeting remembers where it
-- was when last announced, so publishing announces the difference from then.
ALTER TABLE scheduling_jobs ADD COLUMN publish boolean NOT NULL DEFAULT true;

ALTER TABLE meetings ADD COLUMN locked boolean NOT NULL DEFAULT false;
ALTER TABLE meetings ADD COLUMN added_by_hand boolean NOT NULL DEFAULT false;
-- Cancelled by the organiser: a re-run does not schedule the pair again.
ALTER TABLE meetings ADD COLUMN cancelled_by_hand boolean NOT NULL DEFAULT false;
-- NULL: never announced. Otherwise the status, place and time last announced.
ALTER TABLE meetings ADD COLUMN published_status text
    CHECK (published_status IN ('scheduled', 'cancelled'));
ALTER TABLE meetings ADD COLUMN published_slot integer;
ALTER TABLE meetings ADD COLUMN published_table integer;
ALTER TABLE meetings ADD COLUMN published_starts_at timestamptz;
ALTER TABLE meetings ADD COLUMN published_ends_at timestamptz;
-- Every meeting so far was announced when it was made.
UPDATE meetings SET published_status = status, published_slot = slot, published_table = table_no,
                    published_starts_at = starts_at, published_ends_at = ends_at;
