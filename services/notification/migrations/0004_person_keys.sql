-- Notification's copy of people's keys (crypto-shredding), kept only while e-mail
-- is on: it opens the sealed name and address in registration's events. A
-- destroyed key stays as a keyless row, so a late copy of the key is not taken back.
CREATE TABLE person_keys (
    subject_id    uuid PRIMARY KEY,
    key           bytea,
    destroyed_at  timestamptz
);
