-- Coupons (issues 8/9): the operator's coupons and the uses orders hold of them, both projections of orders'
-- own events (quanyi_orders.projections.coupons). `coupons` is a row per coupon (CouponCreated, its terms
-- as the event's payload; CouponDisabled sets `disabled`); placement locks a coupon's row and counts its
-- held uses before it takes one, so two placements racing for the last use are decided one after the other.
-- `coupon_uses` is a row per order placed with a coupon (OrderPlaced); its use is `released` by the order's
-- OrderCancelled, OrderExpired or OrderRefunded, and taken again by an OrderPaid with a discount (a late
-- payment completes an expired order at the price it was placed at).
CREATE TABLE coupons (
    code_key   text        PRIMARY KEY,
    code       text        NOT NULL,
    terms      bytea       NOT NULL,
    disabled   boolean     NOT NULL DEFAULT false,
    version    integer     NOT NULL,
    created_at timestamptz NOT NULL,
    created_by text        NOT NULL
);
CREATE INDEX coupons_created ON coupons (created_at DESC, code_key);

CREATE TABLE coupon_uses (
    order_id       text        PRIMARY KEY,
    code_key       text        NOT NULL,
    buyer_id       text        NOT NULL,
    discount_minor bigint      NOT NULL CHECK (discount_minor > 0),
    currency       text        NOT NULL,
    placed_at      timestamptz NOT NULL,
    released       boolean     NOT NULL DEFAULT false
);
CREATE INDEX coupon_uses_held ON coupon_uses (code_key, buyer_id) WHERE NOT released;
