-- Matching owns a read model of registration (organisations and projects only:
-- no presidents, no contacts, so there is no personal data here to erase), the
-- scored matches with their reasons, scheduling jobs and meeting schedules.

CREATE TABLE roadshows (
    id            uuid PRIMARY KEY,
    organiser_id  uuid NOT NULL,  -- the partner that created it
    name          text NOT NULL,
    venue         text NOT NULL,
    timezone      text NOT NULL,
    start_date    date NOT NULL,
    end_date      date NOT NULL,
    day_start     time NOT NULL,
    day_end       time NOT NULL,
    slot_minutes  integer NOT NULL,
    tables        integer NOT NULL,
    version       integer NOT NULL,
    schedule_id   uuid,           -- the current schedule, once one was made
    updated_at    timestamptz NOT NULL DEFAULT now()
);

-- Rows may be tombstones (a withdrawal seen before its registration): then only
-- id, roadshow_id, status and version are set, which keeps stale events out.
CREATE TABLE enterprises (
    id                 uuid PRIMARY KEY,
    roadshow_id        uuid NOT NULL,
    partner_id         uuid,  -- the partner that registered it
    name               text,  -- the organisation's name, for schedules
    sectors            text[] NOT NULL DEFAULT '{}',
    stage              text,
    funding_amount     numeric(18, 2),
    funding_currency   text,
    partnership_types  text[] NOT NULL DEFAULT '{}',
    summary            text,
    max_meetings       integer,
    -- Periods the party cannot meet; registration does not send them yet.
    unavailable        tstzrange[] NOT NULL DEFAULT '{}',
    status             text NOT NULL CHECK (status IN ('active', 'withdrawn')),
    version            integer NOT NULL,
    updated_at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX enterprises_active ON enterprises (roadshow_id) WHERE status = 'active';

CREATE TABLE participants (
    id            uuid PRIMARY KEY,
    roadshow_id   uuid NOT NULL,
    partner_id    uuid,
    kind          text CHECK (kind IN ('company', 'fund', 'bank')),
    name          text,
    sectors       text[] NOT NULL DEFAULT '{}',
    focus         text,
    stages        text[] NOT NULL DEFAULT '{}',
    ticket_min    numeric(18, 2),
    ticket_max    numeric(18, 2),
    currency      text,
    offers        text[] NOT NULL DEFAULT '{}',
    max_meetings  integer,
    unavailable   tstzrange[] NOT NULL DEFAULT '{}',
    status        text NOT NULL CHECK (status IN ('active', 'withdrawn')),
    version       integer NOT NULL,
    updated_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX participants_active ON participants (roadshow_id) WHERE status = 'active';

-- One row per pair ever proposed; the row holds what the last event published.
CREATE TABLE matches (
    match_id          uuid PRIMARY KEY,
    roadshow_id       uuid NOT NULL,
    enterprise_id     uuid NOT NULL,
    participant_id    uuid NOT NULL,
    participant_kind  text NOT NULL,
    score             double precision NOT NULL CHECK (score >= 0 AND score <= 1),
    components        jsonb NOT NULL,
    status            text NOT NULL CHECK (status IN ('proposed', 'withdrawn')),
    version           integer NOT NULL,
    updated_at        timestamptz NOT NULL DEFAULT now(),
    UNIQUE (enterprise_id, participant_id)
);
CREATE INDEX matches_by_enterprise ON matches (enterprise_id, score DESC, match_id DESC)
    WHERE status = 'proposed';
CREATE INDEX matches_by_participant ON matches (participant_id, score DESC, match_id DESC)
    WHERE status = 'proposed';
CREATE INDEX matches_by_roadshow ON matches (roadshow_id, score DESC, match_id DESC)
    WHERE status = 'proposed';

CREATE TABLE scheduling_jobs (
    id                       uuid PRIMARY KEY,
    roadshow_id              uuid NOT NULL,
    partner_id               uuid NOT NULL,
    correlation_id           text NOT NULL,
    status                   text NOT NULL
                             CHECK (status IN ('queued', 'running', 'succeeded', 'failed')),
    progress                 real NOT NULL DEFAULT 0,
    fair_minimum             integer NOT NULL,
    enterprise_max_meetings  integer,
    attempts                 integer NOT NULL DEFAULT 0,
    claim                    uuid,  -- the worker run holding it
    heartbeat_at             timestamptz,
    created_at               timestamptz NOT NULL DEFAULT now(),
    started_at               timestamptz,
    finished_at              timestamptz,
    error                    text,
    schedule_id              uuid,
    meetings                 integer,
    total_score              double precision,
    upper_bound              double precision,
    shortfall                integer
);
-- One job at a time per road show.
CREATE UNIQUE INDEX scheduling_jobs_one_active ON scheduling_jobs (roadshow_id)
    WHERE status IN ('queued', 'running');
CREATE INDEX scheduling_jobs_open ON scheduling_jobs (created_at)
    WHERE status IN ('queued', 'running');

CREATE TABLE schedules (
    id                uuid PRIMARY KEY,
    roadshow_id       uuid NOT NULL,
    job_id            uuid NOT NULL REFERENCES scheduling_jobs (id),
    roadshow_version  integer NOT NULL,
    meetings          integer NOT NULL,
    total_score       double precision NOT NULL,
    upper_bound       double precision,
    created_at        timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE meetings (
    id              uuid PRIMARY KEY,
    schedule_id     uuid NOT NULL REFERENCES schedules (id),
    roadshow_id     uuid NOT NULL,
    match_id        uuid NOT NULL,
    enterprise_id   uuid NOT NULL,
    participant_id  uuid NOT NULL,
    slot            integer NOT NULL,
    table_no        integer NOT NULL,
    starts_at       timestamptz NOT NULL,
    ends_at         timestamptz NOT NULL,
    score           double precision NOT NULL,
    status          text NOT NULL CHECK (status IN ('scheduled', 'cancelled')),
    updated_at      timestamptz NOT NULL DEFAULT now()
);
-- The scheduler's rules, kept by the database too: nobody double-booked, one
-- meeting per table and slot, a pair meets once.
CREATE UNIQUE INDEX meetings_enterprise_slot ON meetings (roadshow_id, enterprise_id, slot)
    WHERE status = 'scheduled';
CREATE UNIQUE INDEX meetings_participant_slot ON meetings (roadshow_id, participant_id, slot)
    WHERE status = 'scheduled';
CREATE UNIQUE INDEX meetings_table_slot ON meetings (roadshow_id, slot, table_no)
    WHERE status = 'scheduled';
CREATE UNIQUE INDEX meetings_pair ON meetings (match_id) WHERE status = 'scheduled';
CREATE INDEX meetings_by_roadshow ON meetings (roadshow_id, slot) WHERE status = 'scheduled';
