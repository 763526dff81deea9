-- The gateway's own records (not projections: no event feeds them), for the hardening of issue 10.

-- Idempotency keys, as Stripe keeps them: one row per (buyer, key) with the SHA-256 of the request it
-- first came with and, once that request has run, the response it got (status and exact bytes). A row
-- without a response is in progress until `locked_until`; after that another request may take it over.
-- Rows live 24 hours (created_at); an older row is as good as absent.
CREATE TABLE idempotency_keys (
    owner          text        NOT NULL,
    key            text        NOT NULL,
    request_sha256 bytea       NOT NULL CHECK (length(request_sha256) = 32),
    created_at     timestamptz NOT NULL,
    locked_until   timestamptz NOT NULL,
    status_code    integer,
    content_type   text,
    body           bytea,
    PRIMARY KEY (owner, key)
);
CREATE INDEX idempotency_keys_created_at ON idempotency_keys (created_at);

-- Fixed-window request counters of the abuse limits: one row per (bucket, window start), where a bucket
-- names the limit and whom it counts ("login:ip:203.0.113.7"). Past windows are deleted.
CREATE TABLE rate_counters (
    bucket       text        NOT NULL,
    window_start timestamptz NOT NULL,
    hits         integer     NOT NULL,
    PRIMARY KEY (bucket, window_start)
);
CREATE INDEX rate_counters_window_start ON rate_counters (window_start);

-- Failed sign-ins per account (lower-case e-mail): after a few, each further failure locks the account
-- for twice as long as the last, up to a ceiling. A successful sign-in or an operator's unlock deletes it.
CREATE TABLE login_failures (
    account        text        PRIMARY KEY,
    failures       integer     NOT NULL,
    last_failed_at timestamptz NOT NULL,
    locked_until   timestamptz
);

-- Buyers whose limits are tightened (divided by `factor`) until a time: flagged by the risk service.
CREATE TABLE tightened_buyers (
    buyer_id   text        PRIMARY KEY,
    factor     integer     NOT NULL CHECK (factor >= 1),
    until      timestamptz NOT NULL,
    reason     text        NOT NULL
);

-- The SKUs each partner may report redemptions of; any other code is answered as an unknown one.
CREATE TABLE partner_skus (
    partner    text        NOT NULL,
    sku_id     text        NOT NULL,
    granted_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (partner, sku_id)
);
