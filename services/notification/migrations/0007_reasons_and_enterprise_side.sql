-- Why the two sides meet: the match's reasons as matching's meeting events
-- carry them (the strongest few, as sentences), shown in the schedule e-mails.
ALTER TABLE meetings ADD COLUMN reasons jsonb NOT NULL DEFAULT '[]';

-- Whose events a subscription takes: those about the partner's participants
-- (as before), and/or about the enterprises it registered; and a filter on them.
ALTER TABLE subscriptions ADD COLUMN sides text[] NOT NULL DEFAULT '{participant}'
    CHECK (cardinality(sides) > 0 AND sides <@ ARRAY['participant', 'enterprise']);
ALTER TABLE subscriptions ADD COLUMN enterprise_ids uuid[];
