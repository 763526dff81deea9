-- Keyset paging of a buyer's deliveries (ListDeliveries, quanyi_platform.paging): newest delivered first,
-- the order id breaking ties, so a page reads its orders' rows and no more.
CREATE INDEX deliveries_buyer_keyset ON deliveries (buyer_id, delivered_at DESC, order_id DESC);
