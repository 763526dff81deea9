-- Issues 7 and 8: a key after its reservation. Fulfillment's KeyDelivered and Redeemed move it reserved ->
-- delivered -> redeemed (KeysDelivered, KeysRedeemed); orders' RefundRequested takes the refunded units'
-- keys back (RefundKeysSettled): a key never revealed is available again, a revealed or delivered one is
-- `recycled` (taken back from its order, never sold again: the recycle bin's `void` can be restored, this
-- cannot), a redeemed one stays redeemed and is refunded only on an operator's audited override; or the
-- refund is refused (RefundKeysRefused). These events are versions 2.. of the order's Allocation stream.

-- Projection `allocations`: the version of the order's Allocation stream (KeyReserved / StockShort 1).
ALTER TABLE allocations ADD COLUMN version int NOT NULL DEFAULT 1;
ALTER TABLE allocations ALTER COLUMN version DROP DEFAULT;

-- Projection `keys`: when the key was delivered and redeemed; the refund that took it back (a recycled
-- key, which holds no order any more, and a redeemed key refunded on an override).
ALTER TABLE keys
    ADD COLUMN delivered_at timestamptz,
    ADD COLUMN redeemed_at  timestamptz,
    ADD COLUMN refund_id    text;

-- Projection `refund_settlements`: inventory's answer to each refund that names keys, with the operator,
-- the override and the note: the audit of refunds of redeemed keys.
CREATE TABLE refund_settlements (
    refund_id         text PRIMARY KEY,
    order_id          text        NOT NULL,
    outcome           text        NOT NULL CHECK (outcome IN ('settled', 'refused')),
    released          int         NOT NULL,
    voided            int         NOT NULL,
    redeemed          int         NOT NULL,
    override_redeemed boolean     NOT NULL,
    actor             text        NOT NULL,
    note              text        NOT NULL,
    reason            text        NOT NULL,
    settled_at        timestamptz NOT NULL
);
CREATE INDEX refund_settlements_order ON refund_settlements (order_id);
