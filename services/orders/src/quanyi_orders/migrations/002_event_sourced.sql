-- Events are the record: `orders`, `payment_notices` and `payments` are projections of orders' events
-- (quanyi_orders.projections), written only by their projector, inline in the transaction that appends
-- the events, and rebuilt by `quanyi replay orders`. Their values come from the events alone, so nothing
-- here may default to the clock.

-- An accepted notice is a PaymentNoticeAccepted event; the row says which order and transaction it was
-- about. Columns added to a table that may already hold rows, hence nullable.
ALTER TABLE payment_notices ALTER COLUMN received_at DROP DEFAULT;
ALTER TABLE payment_notices ADD COLUMN order_id text, ADD COLUMN txn_id text;

-- A captured payment is a PaymentCaptured event. The foreign key goes: the projection writes the order
-- and its payment in one statement, and replay rebuilds the tables without caring about their order.
ALTER TABLE payments ALTER COLUMN captured_at DROP DEFAULT;
ALTER TABLE payments DROP CONSTRAINT payments_order_id_fkey;
