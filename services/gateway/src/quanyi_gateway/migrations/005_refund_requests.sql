-- A buyer's request for a refund (issue 11): the buyer asks, an operator decides (POST
-- /v1/admin/orders/{id}/refunds refunds; the request only asks). One request per order; the reason is one of
-- a fixed list, never free text, so the table holds no personal data and an erasure leaves it as it is
-- (the buyer is named by id, as the orders are).
CREATE TABLE refund_requests (
    request_id   text        PRIMARY KEY,
    order_id     text        NOT NULL UNIQUE,
    buyer_id     text        NOT NULL,
    reason       text        NOT NULL
        CHECK (reason IN ('not_received', 'not_working', 'wrong_item', 'changed_mind', 'other')),
    requested_at timestamptz NOT NULL
);
CREATE INDEX refund_requests_buyer ON refund_requests (buyer_id);
CREATE INDEX refund_requests_requested_at ON refund_requests (requested_at);
