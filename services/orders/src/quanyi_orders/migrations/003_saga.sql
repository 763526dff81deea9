-- The order saga (issue 8): expiry, refused payments, refunds through the provider, and the due-events
-- table the service polls for its timeouts. All of these are projections of orders' events
-- (quanyi_orders.projections): written only by their projectors, rebuilt by `quanyi replay orders`.

-- When an unpaid order expires (OrderPlaced.pay_by; NULL: never) and which provider captured it.
ALTER TABLE orders ADD COLUMN pay_by timestamptz, ADD COLUMN captured_provider text;

-- A payment the order could not take (wrong amount or currency, second payment, cancelled order) is
-- recorded all the same, with the reason; its refund is in `refunds`.
ALTER TABLE payments ADD COLUMN refused_reason text;

-- Every refund owed to a buyer, from its request to the provider's confirmation.
CREATE TABLE refunds (
    refund_id          text PRIMARY KEY,
    order_id           text        NOT NULL,
    provider           text        NOT NULL,
    txn_id             text        NOT NULL,
    amount_minor       bigint      NOT NULL CHECK (amount_minor >= 0),
    currency           text        NOT NULL,
    reason             text        NOT NULL,
    -- [{"line_no", "sku_id", "quantity", "amount_minor"}]; [] for a refused payment.
    lines              jsonb       NOT NULL,
    actor              text        NOT NULL,
    -- REQUESTED until the provider confirms it, then SUCCEEDED.
    status             text        NOT NULL,
    attempts           integer     NOT NULL,
    last_outcome       text,
    provider_refund_id text,
    requested_at       timestamptz NOT NULL,
    succeeded_at       timestamptz
);
CREATE INDEX refunds_order ON refunds (order_id);

-- Scheduled, durable timeouts: a row is due at `due_at`; the service's poller acts on due rows and the
-- event it records moves or removes the row. Kinds: 'order.expire' (the order's pay_by) and
-- 'refund.send' (call or query the provider's refund API).
CREATE TABLE due_events (
    kind         text        NOT NULL,
    aggregate_id text        NOT NULL,
    due_at       timestamptz NOT NULL,
    PRIMARY KEY (kind, aggregate_id)
);
CREATE INDEX due_events_due ON due_events (kind, due_at);
