-- Issue 7: key states and validity, channels, allocation strategy per SKU, pool priority, stock per state.
--
-- A key is available -> reserved -> delivered -> redeemed, or expired, void or recycled. It is universal
-- (channel '') or for one sales channel, and is handed out only within [valid_from, expires_at) (NULL: no
-- bound). Its validity comes from its own row in the record (key_material, which an import fills per
-- row) or else from its batch (KeysImported.valid_from / expires_at); its channel from KeysImported.
-- A SKU draws from its pools in ascending priority; within a pool FIFO (key id: UUIDv7, import order) or
-- FEFO (earliest expires_at first, then FIFO), as the SKU's allocation_strategy says.
-- The projections:
--   keys         KeysImported, KeyReserved, KeysExpired (+ the states later events move keys to)
--   sku_stock    counts per state, per SKU
--   pool_stock   counts per state, per pool (new)
--   pools        priority (PoolCreated, PoolPriorityChanged)
--   skus         allocation_strategy (SkuCreated)

-- The record: a key's own validity, as its import row gave it (NULL: the batch's).
ALTER TABLE key_material
    ADD COLUMN valid_from timestamptz,
    ADD COLUMN expires_at timestamptz;

ALTER TABLE skus ADD COLUMN allocation_strategy text NOT NULL DEFAULT 'fifo'
    CHECK (allocation_strategy IN ('fifo', 'fefo'));
ALTER TABLE skus ALTER COLUMN allocation_strategy DROP DEFAULT;

-- version: the pool's aggregate version (PoolCreated 1, each PoolPriorityChanged one more).
ALTER TABLE pools ADD COLUMN priority int NOT NULL DEFAULT 0, ADD COLUMN version int NOT NULL DEFAULT 1;
ALTER TABLE pools ALTER COLUMN priority DROP DEFAULT, ALTER COLUMN version DROP DEFAULT;
CREATE INDEX pools_sku_priority ON pools (sku_id, priority, pool_id);

ALTER TABLE keys
    DROP CONSTRAINT keys_state_check,
    DROP CONSTRAINT keys_check,
    ADD CONSTRAINT keys_state_check
        CHECK (state IN ('available', 'reserved', 'delivered', 'redeemed', 'expired', 'void', 'recycled')),
    -- A key held by an order is reserved, delivered or redeemed, and names its unit.
    ADD CONSTRAINT keys_held_check
        CHECK ((state IN ('reserved', 'delivered', 'redeemed')) = (order_id IS NOT NULL)),
    ADD COLUMN channel text NOT NULL DEFAULT '',
    ADD COLUMN valid_from timestamptz,
    ADD COLUMN expires_at timestamptz,
    -- When the key left `available` for `expired`, `void` or `recycled`.
    ADD COLUMN retired_at timestamptz;
ALTER TABLE keys ALTER COLUMN channel DROP DEFAULT;

-- The claim's scans, per pool: FIFO by key id, FEFO by expiry (keys that never expire last), and the
-- sweeper's: available keys by expiry.
DROP INDEX keys_available;
CREATE INDEX keys_available_fifo ON keys (pool_id, key_id) WHERE state = 'available';
CREATE INDEX keys_available_fefo ON keys (pool_id, expires_at, key_id) WHERE state = 'available';
CREATE INDEX keys_available_expiry ON keys (expires_at) WHERE state = 'available' AND expires_at IS NOT NULL;

ALTER TABLE sku_stock
    ADD COLUMN delivered bigint NOT NULL DEFAULT 0 CHECK (delivered >= 0),
    ADD COLUMN redeemed  bigint NOT NULL DEFAULT 0 CHECK (redeemed >= 0),
    ADD COLUMN expired   bigint NOT NULL DEFAULT 0 CHECK (expired >= 0),
    ADD COLUMN void      bigint NOT NULL DEFAULT 0 CHECK (void >= 0),
    ADD COLUMN recycled  bigint NOT NULL DEFAULT 0 CHECK (recycled >= 0);
ALTER TABLE sku_stock
    ALTER COLUMN delivered DROP DEFAULT,
    ALTER COLUMN redeemed DROP DEFAULT,
    ALTER COLUMN expired DROP DEFAULT,
    ALTER COLUMN void DROP DEFAULT,
    ALTER COLUMN recycled DROP DEFAULT;

-- Projection `pool_stock`: one row per pool, its keys counted by state.
CREATE TABLE pool_stock (
    pool_id   text PRIMARY KEY,
    sku_id    text   NOT NULL,
    available bigint NOT NULL CHECK (available >= 0),
    reserved  bigint NOT NULL CHECK (reserved >= 0),
    delivered bigint NOT NULL CHECK (delivered >= 0),
    redeemed  bigint NOT NULL CHECK (redeemed >= 0),
    expired   bigint NOT NULL CHECK (expired >= 0),
    void      bigint NOT NULL CHECK (void >= 0),
    recycled  bigint NOT NULL CHECK (recycled >= 0)
);
CREATE INDEX pool_stock_sku ON pool_stock (sku_id);
INSERT INTO pool_stock (pool_id, sku_id, available, reserved, delivered, redeemed, expired, void, recycled)
    SELECT p.pool_id, p.sku_id,
           count(k.key_id) FILTER (WHERE k.state = 'available'),
           count(k.key_id) FILTER (WHERE k.state = 'reserved'),
           0, 0, 0, 0, 0
    FROM pools p LEFT JOIN keys k ON k.pool_id = p.pool_id
    GROUP BY p.pool_id, p.sku_id;
