-- Fulfillment stores key ids only: a key's code and password never enter these tables (I5).

-- One row per order that fulfillment has taken on; `version` is the Delivery aggregate's last event
-- version (KeyDelivered is 1, each later DeliveryFailed takes the next). Inserting the row first also
-- serialises two handlers of the same order.
CREATE TABLE delivery_orders (
    order_id   text PRIMARY KEY,
    version    bigint      NOT NULL DEFAULT 0,
    created_at timestamptz NOT NULL DEFAULT now()
);

-- The user centre channel: one row per delivered key. A key is delivered to one order, once (I1).
CREATE TABLE deliveries (
    order_id            text        NOT NULL REFERENCES delivery_orders (order_id),
    key_id              text        NOT NULL UNIQUE,
    sku_id              text        NOT NULL,
    buyer_id            text        NOT NULL,
    line_no             int         NOT NULL,
    unit_no             int         NOT NULL,
    unit_cost_minor     bigint      NOT NULL,
    currency            text        NOT NULL,
    delivered_at        timestamptz NOT NULL,
    redeemed_at         timestamptz,
    redeemed_by_partner text,
    PRIMARY KEY (order_id, key_id),
    UNIQUE (order_id, line_no, unit_no)
);
CREATE INDEX deliveries_buyer ON deliveries (buyer_id, delivered_at);

-- Delivery e-mails that failed and are retried by the retry loop. 'failed' is the exception queue:
-- no more attempts (the keys are still in the user centre). 'sent' keeps the history of a late success.
CREATE TABLE email_outbox (
    order_id        text PRIMARY KEY REFERENCES delivery_orders (order_id),
    buyer_email     text        NOT NULL,
    attempts        int         NOT NULL,
    next_attempt_at timestamptz NOT NULL,
    last_error      text        NOT NULL,
    state           text        NOT NULL CHECK (state IN ('pending', 'failed', 'sent')),
    updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX email_outbox_due ON email_outbox (next_attempt_at) WHERE state = 'pending';
