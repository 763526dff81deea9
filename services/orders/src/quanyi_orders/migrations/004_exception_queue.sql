-- The exception queue (issue 8): paid orders that need an operator. A projection of OrderQueued and
-- QueueEntryResolved (quanyi_orders.projections.queue); an entry whose order was delivered or refunded since
-- is shown resolved by the query, not by this table (so delivering costs no extra statement).
CREATE TABLE exception_queue (
    order_id    text PRIMARY KEY,
    reason      text        NOT NULL,
    source      text        NOT NULL,
    queued_at   timestamptz NOT NULL,
    -- NULL while open; 'refund' or 'resolve' once an operator acted.
    resolution  text,
    actor       text,
    note        text,
    resolved_at timestamptz
);
CREATE INDEX exception_queue_open ON exception_queue (queued_at) WHERE resolution IS NULL;
