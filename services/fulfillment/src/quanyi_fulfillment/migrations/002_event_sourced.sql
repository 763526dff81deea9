-- Fulfillment's tables become projections of its events (quanyi_fulfillment.projections): written only
-- by their projectors, inline with the append, and rebuildable by `quanyi replay fulfillment`. Every value
-- comes from an event (times from occurred_at or the payload): no defaults that read the clock, no
-- sequences, and no foreign keys to tables that are not projections.

-- The e-mail queue carries the order's Delivery stream version and the sender's claim (lease) number;
-- 'sending' is an e-mail claimed by a sender, due again when its lease runs out (next_attempt_at).
ALTER TABLE email_outbox ADD COLUMN version bigint NOT NULL DEFAULT 0;
ALTER TABLE email_outbox ADD COLUMN lease int NOT NULL DEFAULT 0;
UPDATE email_outbox AS e SET version = o.version FROM delivery_orders AS o WHERE o.order_id = e.order_id;
ALTER TABLE email_outbox ALTER COLUMN version DROP DEFAULT;
ALTER TABLE email_outbox ALTER COLUMN lease DROP DEFAULT;
ALTER TABLE email_outbox ALTER COLUMN updated_at DROP DEFAULT;
ALTER TABLE email_outbox DROP CONSTRAINT IF EXISTS email_outbox_state_check;
ALTER TABLE email_outbox ADD CONSTRAINT email_outbox_state_check
    CHECK (state IN ('pending', 'sending', 'sent', 'failed'));
DROP INDEX IF EXISTS email_outbox_due;
CREATE INDEX email_outbox_due ON email_outbox (next_attempt_at) WHERE state IN ('pending', 'sending');

-- delivery_orders is folded away: the Delivery aggregate is its deliveries rows and its e-mail row (its
-- version lives with the e-mail, the only part that changes after delivery). The foreign keys to it go
-- with it.
DROP TABLE delivery_orders CASCADE;
