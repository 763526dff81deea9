-- Delivery on the channels a buyer keeps a target for (issue 8, delivery channels): a projection of the
-- KeptChannel streams, one row per order and channel still to deliver (requested, or claimed until
-- due_at); the row goes when its outcome is recorded, so the table holds only the work in hand. It names
-- the channel, never the target: the sender asks the gateway for that when it delivers.
CREATE TABLE kept_channels (
    order_id text        NOT NULL,
    channel  text        NOT NULL,
    state    text        NOT NULL CHECK (state IN ('pending', 'sending')),
    due_at   timestamptz NOT NULL,
    lease    integer     NOT NULL,
    version  bigint      NOT NULL,
    PRIMARY KEY (order_id, channel)
);
CREATE INDEX kept_channels_due ON kept_channels (due_at);
