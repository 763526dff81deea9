-- A toy service for the platform's own replay tests: cancellations counted per reason.
CREATE TABLE cancellations (
    reason     text PRIMARY KEY,
    n          bigint      NOT NULL,
    last_order text        NOT NULL,
    last_at    timestamptz NOT NULL
);
-- Not a projection: replay must leave it alone (and find it in the live schema).
CREATE TABLE notes (id text PRIMARY KEY);
