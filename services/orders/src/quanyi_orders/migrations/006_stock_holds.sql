-- Stock holds (issue 8): what each unpaid order holds of a SKU's stock, a count per SKU, never a key. A
-- projection of OrderPlaced (a row per order and SKU) until the order is paid (the hold becomes inventory's
-- claim), cancelled, expired or refunded (quanyi_orders.projections.holds). Placement sums it per SKU, and
-- counts open holds per buyer and per client address (a keyed digest, never the address).
CREATE TABLE stock_holds (
    order_id   text        NOT NULL,
    sku_id     text        NOT NULL,
    quantity   integer     NOT NULL CHECK (quantity > 0),
    buyer_id   text        NOT NULL,
    client_tag text        NOT NULL DEFAULT '',
    placed_at  timestamptz NOT NULL,
    PRIMARY KEY (order_id, sku_id)
);
CREATE INDEX stock_holds_sku ON stock_holds (sku_id);
CREATE INDEX stock_holds_buyer ON stock_holds (buyer_id);
CREATE INDEX stock_holds_client ON stock_holds (client_tag) WHERE client_tag <> '';
