-- What registration now sends: each party's availability (the Availability
-- contract, turned into slots when a schedule is made), an enterprise's country,
-- and the countries and mandatory criteria of a participant.
ALTER TABLE enterprises ADD COLUMN country text;
ALTER TABLE enterprises ADD COLUMN availability jsonb NOT NULL DEFAULT '{}';
ALTER TABLE participants ADD COLUMN availability jsonb NOT NULL DEFAULT '{}';
ALTER TABLE participants ADD COLUMN countries text[] NOT NULL DEFAULT '{}';
ALTER TABLE participants ADD COLUMN mandatory text[] NOT NULL DEFAULT '{}';
-- Availability changed while a scheduling job was running: reschedule after it.
ALTER TABLE roadshows ADD COLUMN reschedule_requested boolean NOT NULL DEFAULT false;
