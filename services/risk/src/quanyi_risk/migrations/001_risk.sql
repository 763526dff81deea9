-- Authoritative velocity state lives in Postgres, so a restarted worker is exact (DESIGN.md, local broker).
CREATE TABLE order_velocity (
    order_id  text PRIMARY KEY,
    buyer_id  text        NOT NULL,
    placed_at timestamptz NOT NULL
);
CREATE INDEX order_velocity_buyer ON order_velocity (buyer_id, placed_at);

CREATE TABLE decisions (
    order_id   text PRIMARY KEY,
    buyer_id   text        NOT NULL,
    decision   text        NOT NULL,
    reasons    text[]      NOT NULL,
    decided_at timestamptz NOT NULL DEFAULT now()
);
