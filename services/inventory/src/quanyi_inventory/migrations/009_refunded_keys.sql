-- A redemption heard after the refund that took its key back (issue: the refund/redemption race). Inventory
-- hears refunds on orders' topic and redemptions on fulfillment's, so a refund may void a key whose
-- redemption happened first but is heard later; that redemption records RefundedKeyRedeemed (a later
-- version of the order's Allocation stream) and orders puts the order in its exception queue.

-- Projection `refunded_keys`: every key a refund took back from its order (RefundKeysSettled: released,
-- voided, voided_undelivered), with the refund, and the redemption fulfillment reported after it
-- (RefundedKeyRedeemed), written once. Read by the key-life decisions (HeldKeys.lock: a recycled or
-- released key no longer names its order in `keys`) and by a key's history.
-- Refunds settled before this migration appear after `quanyi replay inventory --projection refunded_keys
-- --swap`; until then a late redemption of their keys records nothing, as before.
CREATE TABLE refunded_keys (
    order_id            text        NOT NULL,
    key_id              text        NOT NULL,
    sku_id              text        NOT NULL,
    pool_id             text        NOT NULL,
    line_no             int         NOT NULL,
    unit_no             int         NOT NULL,
    refund_id           text        NOT NULL,
    taken               text        NOT NULL CHECK (taken IN ('released', 'voided', 'voided_undelivered')),
    refunded_at         timestamptz NOT NULL,
    -- Once a redemption was heard after the refund: the partner, when it says the key was redeemed (else
    -- when inventory heard it), fulfillment's Redeemed event, and when inventory recorded it.
    redeemed_partner    text,
    redeemed_at         timestamptz,
    redemption_event_id text,
    redemption_recorded_at timestamptz,
    PRIMARY KEY (order_id, key_id)
);
CREATE INDEX refunded_keys_key ON refunded_keys (key_id);
