-- Whether the run's solver proved that no schedule of its problem scores more
-- (NULL until the job succeeds; false when it stopped at its time limit).
ALTER TABLE scheduling_jobs ADD COLUMN proven boolean;
