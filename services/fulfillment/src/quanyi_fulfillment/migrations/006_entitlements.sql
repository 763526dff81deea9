-- Issue 7 (bundles): a bundle's points and memberships granted with an order's delivery. Projection
-- `entitlements`: each credit and grant, a buyer's points balance (a sum) and membership of each plan
-- (the last grant of its stream, by version). Ids only, no personal data.
CREATE TABLE points_credits (
    order_id      text        NOT NULL,
    line_no       int         NOT NULL,
    unit_no       int         NOT NULL,
    buyer_id      text        NOT NULL,
    points        bigint      NOT NULL,
    value_minor   bigint      NOT NULL,
    currency      text        NOT NULL,
    bundle_sku_id text        NOT NULL,
    credited_at   timestamptz NOT NULL,
    PRIMARY KEY (order_id, line_no, unit_no)
);
CREATE INDEX points_credits_buyer ON points_credits (buyer_id);

CREATE TABLE points_balances (
    buyer_id text   PRIMARY KEY,
    points   bigint NOT NULL
);

CREATE TABLE membership_grants (
    order_id      text        NOT NULL,
    line_no       int         NOT NULL,
    unit_no       int         NOT NULL,
    buyer_id      text        NOT NULL,
    plan          text        NOT NULL,
    days          int         NOT NULL,
    valid_from    timestamptz NOT NULL,
    valid_until   timestamptz NOT NULL,
    version       bigint      NOT NULL,
    cost_minor    bigint      NOT NULL,
    currency      text        NOT NULL,
    bundle_sku_id text        NOT NULL,
    granted_at    timestamptz NOT NULL,
    PRIMARY KEY (order_id, line_no, unit_no),
    UNIQUE (buyer_id, plan, version)
);

CREATE TABLE memberships (
    buyer_id    text        NOT NULL,
    plan        text        NOT NULL,
    valid_until timestamptz NOT NULL,
    version     bigint      NOT NULL,
    PRIMARY KEY (buyer_id, plan)
);
