-- API keys of partner organisations. Registration issues them; every other
-- service keeps this table as a replica fed by partner.key_* events, so one key
-- works everywhere and a revocation reaches everywhere.
CREATE TABLE partner_keys (
    key_id      uuid PRIMARY KEY,
    partner_id  uuid NOT NULL,
    key_hash    text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    revoked_at  timestamptz
);
CREATE INDEX partner_keys_partner ON partner_keys (partner_id);
