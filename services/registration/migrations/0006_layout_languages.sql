-- Issue 12: a road show's venues (with the travel minutes between them), agenda
-- blocks and interpreters, as its event carries them; the languages people speak.
-- Numbered 0006 to stay clear of the other branches' 0003-0005.
ALTER TABLE roadshows
    ADD COLUMN venues       jsonb NOT NULL DEFAULT '[]',
    ADD COLUMN travel       jsonb NOT NULL DEFAULT '[]',
    ADD COLUMN agenda       jsonb NOT NULL DEFAULT '[]',
    ADD COLUMN interpreters jsonb NOT NULL DEFAULT '[]';
ALTER TABLE enterprises ADD COLUMN president_languages text[] NOT NULL DEFAULT '{}';
ALTER TABLE participants ADD COLUMN contact_languages text[] NOT NULL DEFAULT '{}';
