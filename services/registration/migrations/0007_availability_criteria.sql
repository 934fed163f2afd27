-- When each party can meet (windows of local time and/or slot ids, as the
-- Availability contract), and the criteria a participant makes mandatory.
ALTER TABLE enterprises ADD COLUMN availability jsonb NOT NULL DEFAULT '{}';
ALTER TABLE participants ADD COLUMN availability jsonb NOT NULL DEFAULT '{}';
ALTER TABLE participants ADD COLUMN countries text[] NOT NULL DEFAULT '{}';
ALTER TABLE participants ADD COLUMN mandatory text[] NOT NULL DEFAULT '{}';
