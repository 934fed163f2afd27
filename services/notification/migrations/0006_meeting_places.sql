-- Issue 12: where a meeting is (venue, table there) and its interpreter's languages,
-- for e-mails and calendars. Numbered 0006 to stay clear of the other branches' 0005.
ALTER TABLE meetings
    ADD COLUMN venue                 text,
    ADD COLUMN venue_table           integer,
    ADD COLUMN interpreter_languages text[] NOT NULL DEFAULT '{}';
