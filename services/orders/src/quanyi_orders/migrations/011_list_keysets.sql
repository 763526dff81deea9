-- Keyset paging of the listed pages (quanyi_platform.paging): each list's ORDER BY is an index's order,
-- so a page reads its rows and no more, however many orders there are.
-- A buyer's orders, newest first (the user centre, /v1/me/orders); replaces orders_buyer_newest, which
-- lacked the tie-breaking order id.
CREATE INDEX orders_buyer_keyset ON orders (buyer_id, created_at DESC, order_id DESC);
DROP INDEX orders_buyer_newest;
-- Every buyer's orders, newest first (the back office's orders without a filter).
CREATE INDEX orders_newest ON orders (created_at DESC, order_id DESC);
-- The exception queue, oldest first, resolved entries included.
CREATE INDEX exception_queue_keyset ON exception_queue (queued_at, order_id);
