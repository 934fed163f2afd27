-- Notification owns subscriptions (endpoint, secrets, filters), notifications and
-- every delivery attempt, plus a small read model of who registered whom.

-- Read model from registration events: enough to route an event to the partner
-- that registered the participant, filter it and name the parties. Organisation
-- names only; nothing about people (contacts and presidents are never stored).
CREATE TABLE participants (
    id           uuid PRIMARY KEY,
    partner_id   uuid NOT NULL,
    roadshow_id  uuid NOT NULL,
    kind         text NOT NULL,
    name         text NOT NULL,
    sectors      text[] NOT NULL,
    status       text NOT NULL,
    version      integer NOT NULL
);
CREATE INDEX participants_partner ON participants (partner_id);

CREATE TABLE enterprises (
    id           uuid PRIMARY KEY,
    partner_id   uuid,
    roadshow_id  uuid NOT NULL,
    name         text NOT NULL,
    country      text NOT NULL,
    sectors      text[] NOT NULL,
    status       text NOT NULL,
    version      integer NOT NULL
);

-- Matching events that arrived before the participant or enterprise they concern
-- (topics are not ordered against each other); routed when both are known.
CREATE TABLE held_events (
    seq             bigserial PRIMARY KEY,
    event_id        uuid NOT NULL UNIQUE,
    participant_id  uuid NOT NULL,
    enterprise_id   uuid NOT NULL,
    envelope        jsonb NOT NULL,
    held_at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX held_events_participant ON held_events (participant_id);
CREATE INDEX held_events_enterprise ON held_events (enterprise_id);

CREATE TABLE subscriptions (
    id                 uuid PRIMARY KEY,
    seq                bigserial UNIQUE,
    partner_id         uuid NOT NULL,
    url                text NOT NULL,
    description        text,
    event_types        text[] NOT NULL CHECK (cardinality(event_types) > 0),
    -- NULL filter = no restriction on that dimension.
    participant_ids    uuid[],
    participant_kinds  text[],
    sectors            text[],
    status             text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'disabled')),
    disabled_reason    text,
    version            integer NOT NULL DEFAULT 1,
    created_at         timestamptz NOT NULL,
    updated_at         timestamptz NOT NULL
);
CREATE INDEX subscriptions_partner ON subscriptions (partner_id, seq);

-- Signing secrets: the current one (expires_at NULL) and, during a rotation's
-- overlap, the previous ones until they expire. Kept in clear because every
-- delivery is signed with them.
CREATE TABLE subscription_secrets (
    id               bigserial PRIMARY KEY,
    subscription_id  uuid NOT NULL REFERENCES subscriptions (id),
    secret           text NOT NULL,
    created_at       timestamptz NOT NULL,
    expires_at       timestamptz
);
CREATE INDEX subscription_secrets_subscription ON subscription_secrets (subscription_id);

-- One notification per (target, causing event), whatever the channel. Webhooks
-- target a subscription; the e-mail channel will add its own target columns and
-- reuse status, scheduling, leases and attempts as they are.
CREATE TABLE notifications (
    id                uuid PRIMARY KEY,  -- the webhook-id: stable across retries
    seq               bigserial UNIQUE,
    channel           text NOT NULL DEFAULT 'webhook' CHECK (channel IN ('webhook')),
    subscription_id   uuid REFERENCES subscriptions (id),
    partner_id        uuid NOT NULL,
    event_id          uuid NOT NULL,
    event_type        text NOT NULL,
    correlation_id    text NOT NULL,
    participant_id    uuid,
    body              text NOT NULL,  -- the exact bytes signed and sent on every try
    status            text NOT NULL DEFAULT 'pending'
                        CHECK (status IN ('pending', 'delivered', 'dead')),
    attempts          integer NOT NULL DEFAULT 0,  -- every attempt ever
    tries             integer NOT NULL DEFAULT 0,  -- attempts in the current schedule
    -- When the next attempt is due. While an attempt is in flight it is the end
    -- of the worker's lease: if the worker dies, the row is due again then.
    next_attempt_at   timestamptz,
    lease_token       uuid,
    last_status_code  integer,
    last_error        text,
    created_at        timestamptz NOT NULL,
    updated_at        timestamptz NOT NULL,
    delivered_at      timestamptz,
    dead_at           timestamptz,
    CHECK (channel <> 'webhook' OR subscription_id IS NOT NULL),
    CHECK ((status = 'pending') = (next_attempt_at IS NOT NULL))
);
CREATE UNIQUE INDEX notifications_once ON notifications (subscription_id, event_id);
-- Claims look for due work per subscription (see repository.due_candidates).
CREATE INDEX notifications_due ON notifications (subscription_id, next_attempt_at)
    WHERE status = 'pending';
CREATE INDEX notifications_subscription ON notifications (subscription_id, seq);
CREATE INDEX notifications_subscription_created ON notifications (subscription_id, created_at);

-- Every attempt, written when it is claimed ('in_flight') and completed when it
-- ends; an attempt whose worker died is marked 'abandoned' when claimed again.
CREATE TABLE delivery_attempts (
    notification_id  uuid NOT NULL REFERENCES notifications (id),
    number           integer NOT NULL,
    started_at       timestamptz NOT NULL,
    finished_at      timestamptz,
    outcome          text NOT NULL CHECK (outcome IN (
                         'in_flight', 'delivered', 'failed', 'timeout', 'refused',
                         'gone', 'abandoned')),
    status_code      integer,
    latency_ms       integer,
    error            text,
    PRIMARY KEY (notification_id, number)
);

CREATE FUNCTION notifications_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('notifications', '');
    RETURN NULL;
END $$;

-- Wakes the delivery workers when new notifications commit.
CREATE TRIGGER notifications_inserted AFTER INSERT ON notifications
    FOR EACH STATEMENT EXECUTE FUNCTION notifications_notify();
