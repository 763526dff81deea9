-- The event store is the outbox: events are appended in the same transaction as the state they explain,
-- and the relay publishes rows whose published_at is NULL, in seq order.
CREATE TABLE events (
    seq               bigserial PRIMARY KEY,
    event_id          uuid        NOT NULL UNIQUE,
    aggregate_type    text        NOT NULL,
    aggregate_id      text        NOT NULL,
    aggregate_version bigint      NOT NULL,
    event_type        text        NOT NULL,
    topic             text        NOT NULL,
    correlation_id    text        NOT NULL DEFAULT '',
    envelope          bytea       NOT NULL,
    occurred_at       timestamptz NOT NULL,
    published_at      timestamptz,
    -- Optimistic concurrency: two writers cannot both append version N of one aggregate.
    UNIQUE (aggregate_type, aggregate_id, aggregate_version)
);
CREATE INDEX events_unpublished ON events (seq) WHERE published_at IS NULL;
CREATE INDEX events_correlation ON events (correlation_id);

-- Idempotent consumers: an event's effects and its inbox row commit together.
CREATE TABLE inbox (
    consumer    text        NOT NULL,
    event_id    uuid        NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, event_id)
);

-- Events a handler could not apply; kept, never dropped, for a person to re-drive.
CREATE TABLE dead_letters (
    id          bigserial PRIMARY KEY,
    consumer    text        NOT NULL,
    event_id    uuid        NOT NULL,
    event_type  text        NOT NULL,
    topic       text        NOT NULL,
    partition   int         NOT NULL,
    "offset"    bigint      NOT NULL,
    envelope    bytea       NOT NULL,
    error       text        NOT NULL,
    failed_at   timestamptz NOT NULL DEFAULT now(),
    UNIQUE (consumer, event_id)
);

-- The broker epoch each relay last published into; a new epoch means the broker lost its data.
CREATE TABLE relay_state (
    topic        text PRIMARY KEY,
    broker_epoch text NOT NULL,
    updated_at   timestamptz NOT NULL DEFAULT now()
);
