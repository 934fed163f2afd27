-- Issue 12: a road show's venues, travel, agenda and interpreters (as its event
-- carries them), the languages of each party's people, and where each meeting
-- is and which languages its interpreter speaks. Numbered 0006 to stay clear of
-- the other branches' 0004-0005.
ALTER TABLE roadshows ADD COLUMN layout jsonb NOT NULL DEFAULT '{}';
ALTER TABLE enterprises ADD COLUMN languages text[] NOT NULL DEFAULT '{}';
ALTER TABLE participants ADD COLUMN languages text[] NOT NULL DEFAULT '{}';
ALTER TABLE meetings
    ADD COLUMN venue_name            text,
    ADD COLUMN venue_table           integer,
    ADD COLUMN interpreter_languages text[] NOT NULL DEFAULT '{}';
