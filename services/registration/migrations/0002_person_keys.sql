-- Per-person keys of crypto-shredding: a person's name, e-mail and phone travel in
-- events sealed with their key; erasure destroys the key (the row stays, keyless,
-- so that a late re-registration gets a new key rather than the old one back).
CREATE TABLE person_keys (
    subject_id    uuid PRIMARY KEY,
    kind          text NOT NULL CHECK (kind IN ('enterprise.president', 'participant.contact')),
    key           bytea,
    created_at    timestamptz NOT NULL DEFAULT now(),
    destroyed_at  timestamptz
);
