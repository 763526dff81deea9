-- Projection `delivery_latency` (issue 11): one row per delivered order, the time from its payment (or,
-- for records that do not say when it was paid, from its keys' reservation) to its first keys delivered.
-- Percentiles per hour or day are computed when asked (percentile_cont), so rows only ever get added.
-- Orders delivered before this migration appear after `quanyi replay fulfillment --projection
-- delivery_latency --swap` (those whose KeyDelivered names neither time stay out).
CREATE TABLE delivery_latency (
    order_id     text        PRIMARY KEY,
    delivered_at timestamptz NOT NULL,
    latency_ms   bigint      NOT NULL CHECK (latency_ms >= 0),
    since        text        NOT NULL CHECK (since IN ('paid', 'reserved'))
);
CREATE INDEX delivery_latency_delivered_at ON delivery_latency (delivered_at);
