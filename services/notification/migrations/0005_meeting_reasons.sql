-- Why the two sides meet: the match's reasons as matching's meeting events
-- carry them (the strongest few, as sentences), shown in the schedule e-mails.
ALTER TABLE meetings ADD COLUMN reasons jsonb NOT NULL DEFAULT '[]';
