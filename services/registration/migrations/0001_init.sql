-- Registration owns partners, road shows, delegations, enterprises (with their
-- project and president) and local participants.
CREATE TABLE partners (
    id          uuid PRIMARY KEY,
    name        text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);
-- partner_keys (shared migration) holds their API keys.

CREATE TABLE roadshows (
    id            uuid PRIMARY KEY,
    seq           bigserial UNIQUE,
    partner_id    uuid NOT NULL REFERENCES partners (id),
    name          text NOT NULL,
    venue         text NOT NULL,
    timezone      text NOT NULL,
    start_date    date NOT NULL,
    end_date      date NOT NULL,
    day_start     time NOT NULL,
    day_end       time NOT NULL,
    slot_minutes  integer NOT NULL,
    tables        integer NOT NULL,
    version       integer NOT NULL DEFAULT 1,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    CHECK (end_date >= start_date),
    CHECK (day_end > day_start)
);

CREATE TABLE delegations (
    id              uuid PRIMARY KEY,
    seq             bigserial UNIQUE,
    partner_id      uuid NOT NULL REFERENCES partners (id),
    roadshow_id     uuid NOT NULL REFERENCES roadshows (id),
    name            text NOT NULL,
    origin_country  text NOT NULL,
    status          text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'withdrawn')),
    version         integer NOT NULL DEFAULT 1,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX delegations_partner ON delegations (partner_id, seq);

CREATE TABLE enterprises (
    id                  uuid PRIMARY KEY,
    seq                 bigserial UNIQUE,
    partner_id          uuid NOT NULL REFERENCES partners (id),
    delegation_id       uuid NOT NULL REFERENCES delegations (id),
    roadshow_id         uuid NOT NULL REFERENCES roadshows (id),
    name                text NOT NULL,
    country             text NOT NULL,
    sectors             text[] NOT NULL,
    president_name      text,
    president_title     text,
    president_email     text,
    president_phone     text,
    project_title       text NOT NULL,
    project_summary     text NOT NULL,
    stage               text NOT NULL,
    funding_amount      numeric(18, 2) NOT NULL CHECK (funding_amount > 0),
    funding_currency    text NOT NULL,
    partnership_types   text[] NOT NULL,
    status              text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'withdrawn')),
    version             integer NOT NULL DEFAULT 1,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX enterprises_partner ON enterprises (partner_id, seq);
CREATE INDEX enterprises_delegation ON enterprises (delegation_id);
CREATE INDEX enterprises_president_email ON enterprises (partner_id, lower(president_email));

CREATE TABLE participants (
    id              uuid PRIMARY KEY,
    seq             bigserial UNIQUE,
    partner_id      uuid NOT NULL REFERENCES partners (id),
    roadshow_id     uuid NOT NULL REFERENCES roadshows (id),
    kind            text NOT NULL CHECK (kind IN ('company', 'fund', 'bank')),
    name            text NOT NULL,
    sectors         text[] NOT NULL,
    focus           text NOT NULL,
    stages          text[] NOT NULL,
    ticket_min      numeric(18, 2),
    ticket_max      numeric(18, 2),
    currency        text,
    offers          text[] NOT NULL,
    max_meetings    integer,
    contact_name    text,
    contact_title   text,
    contact_email   text,
    contact_phone   text,
    status          text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'withdrawn')),
    version         integer NOT NULL DEFAULT 1,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    CHECK (ticket_min IS NULL OR ticket_max IS NULL OR ticket_min <= ticket_max)
);
CREATE INDEX participants_partner ON participants (partner_id, seq);
CREATE INDEX participants_contact_email ON participants (partner_id, lower(contact_email));

-- What was erased and when; never the erased data itself.
CREATE TABLE erasures (
    id            uuid PRIMARY KEY,
    partner_id    uuid NOT NULL REFERENCES partners (id),
    subjects      integer NOT NULL,
    requested_at  timestamptz NOT NULL DEFAULT now()
);
