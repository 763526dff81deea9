-- A buyer's kept delivery targets (issue 8, delivery channels): where the buyer's keys also go on each
-- delivery, one per channel. Personal data, held only here: fulfillment asks for it when it delivers
-- (BuyerContactsService) and keeps no copy; a buyer's erasure deletes the account and, by the cascade,
-- these rows with it. The gateway's own table (like users), not a projection.
CREATE TABLE delivery_targets (
    buyer_id   uuid        NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
    channel    text        NOT NULL CHECK (channel IN ('webhook', 'sms', 'activation', 'app')),
    target     text        NOT NULL CHECK (length(target) BETWEEN 1 AND 2048),
    updated_at timestamptz NOT NULL,
    PRIMARY KEY (buyer_id, channel)
);
