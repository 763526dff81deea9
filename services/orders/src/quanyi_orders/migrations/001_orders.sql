-- The order aggregate's state, which is also the read model the gRPC queries answer from.
-- Saving expects the version loaded (UPDATE ... WHERE version = expected) and appends the new events to
-- `events` in the same transaction.
CREATE TABLE orders (
    order_id        text PRIMARY KEY,
    buyer_id        text        NOT NULL,
    buyer_email     text        NOT NULL,
    channel         text        NOT NULL,
    status          text        NOT NULL,
    risk_decision   text        NOT NULL,
    -- [{"line_no", "sku_id", "quantity", "unit_price_minor"}], priced in `currency`.
    lines           jsonb       NOT NULL,
    total_minor     bigint      NOT NULL CHECK (total_minor >= 0),
    currency        text        NOT NULL,
    captured_txn_id text,
    version         bigint      NOT NULL,
    idempotency_key text,
    created_at      timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL,
    -- The same buyer and key always mean the same order.
    UNIQUE (buyer_id, idempotency_key)
);
CREATE INDEX orders_buyer_newest ON orders (buyer_id, created_at DESC);

-- Nonces of accepted payment notices: a notice replayed with the same nonce is refused. Notices older than
-- the allowed clock skew are refused anyway, so rows older than twice the skew may be deleted.
CREATE TABLE payment_notices (
    provider    text        NOT NULL,
    nonce       text        NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (provider, nonce)
);

-- Captured payments: one provider transaction pays one order, once.
CREATE TABLE payments (
    provider     text        NOT NULL,
    txn_id       text        NOT NULL,
    order_id     text        NOT NULL REFERENCES orders (order_id),
    amount_minor bigint      NOT NULL,
    currency     text        NOT NULL,
    captured_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (provider, txn_id)
);
CREATE INDEX payments_order ON payments (order_id);
