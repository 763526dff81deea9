-- Issue 8: a refund's standing with inventory and an operator's closing of it (projection `refunds`, from
-- RefundRequested, RefundKeysCleared and RefundDeclined). keys_state: 'none' (names no keys), 'pending'
-- (waits for inventory; nothing is sent), 'cleared' or 'refused' (keys_reason: inventory's). status gains
-- 'DECLINED': closed by an operator after inventory refused it (closed_action 'decline' or 'override'),
-- never sent.
ALTER TABLE refunds
    ADD COLUMN keys_state text NOT NULL DEFAULT 'none',
    ADD COLUMN keys_reason text,
    ADD COLUMN override_redeemed boolean NOT NULL DEFAULT false,
    ADD COLUMN closed_action text,
    ADD COLUMN closed_by text,
    ADD COLUMN closed_note text;
