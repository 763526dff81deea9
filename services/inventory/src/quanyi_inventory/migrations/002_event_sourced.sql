-- Inventory becomes event-sourced (issue 6): its events are the record, and every table it reads is a
-- projection of them, written only by its projector (quanyi_inventory.projections), inline in the
-- transaction that appends the events, and rebuilt by `quanyi replay inventory`.
--
-- The record besides the event store:
--   key_material  the sealed keys of each import batch, append-only; KeysImported points to its rows.
--   data_keys     each batch's data key, wrapped by a master key. The one record that changes: a master-key
--                 rotation re-wraps it in place (and records DataKeysRewrapped), because the old wrapping
--                 must be destroyable, so it can live neither in the immutable event log nor on the broker.
-- The projections:
--   products, skus, pools     catalogue       ProductCreated, SkuCreated, PoolCreated
--   sku_stock                 stock           SkuCreated, KeysImported, KeyReserved, StockLow, StockLowCleared
--   key_batches               key_batches     KeysImported, DataKeysRewrapped
--   keys                      keys            KeysImported (rows of key_material), KeyReserved
--   allocations               allocations     KeyReserved, StockShort
--   key_reveals               key_reveals     KeysRevealed
-- Projections take their times from the events and have no defaults, serials or foreign keys: a rebuilt
-- table must equal the live one, and a shadow schema keeps only the projections' tables.
-- Rows written before this migration have no events; they stay, but a replay does not reproduce them.

-- The record: sealed keys. ciphertext = AES-GCM(batch data key, nonce, {"c": code, "p": password},
-- AAD = key_id); fingerprint = HMAC-SHA256(fingerprint key, normalized code): a code is stored once per SKU.
CREATE TABLE key_material (
    batch_id    text  NOT NULL,
    key_id      text  NOT NULL,
    sku_id      text  NOT NULL,
    fingerprint bytea NOT NULL,
    nonce       bytea NOT NULL,
    ciphertext  bytea NOT NULL,
    PRIMARY KEY (batch_id, key_id),
    -- Duplicates per SKU, and FindKey's look-up by fingerprint.
    UNIQUE (fingerprint, sku_id)
);
INSERT INTO key_material (batch_id, key_id, sku_id, fingerprint, nonce, ciphertext)
    SELECT batch_id, key_id, sku_id, fingerprint, nonce, ciphertext FROM keys;

CREATE FUNCTION key_material_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'key_material is append-only';
END;
$$;
CREATE TRIGGER key_material_append_only BEFORE UPDATE OR DELETE ON key_material
    FOR EACH ROW EXECUTE FUNCTION key_material_append_only();

-- The record: each batch's data key, wrapped by master key master_key_id (AES-GCM, AAD = batch_id).
CREATE TABLE data_keys (
    batch_id         text PRIMARY KEY,
    master_key_id    text  NOT NULL,
    wrapped_data_key bytea NOT NULL
);
INSERT INTO data_keys (batch_id, master_key_id, wrapped_data_key)
    SELECT batch_id, master_key_id, wrapped_data_key FROM key_batches;
CREATE INDEX data_keys_master_key ON data_keys (master_key_id);

-- Projection `stock`: one row per SKU; stock_version counts its StockLow and StockLowCleared events.
CREATE TABLE sku_stock (
    sku_id              text PRIMARY KEY,
    low_stock_threshold bigint  NOT NULL CHECK (low_stock_threshold >= 0),
    available           bigint  NOT NULL CHECK (available >= 0),
    reserved            bigint  NOT NULL CHECK (reserved >= 0),
    low_stock_alerted   boolean NOT NULL,
    stock_version       bigint  NOT NULL
);
INSERT INTO sku_stock (sku_id, low_stock_threshold, available, reserved, low_stock_alerted, stock_version)
    SELECT s.sku_id, s.low_stock_threshold,
           count(k.key_id) FILTER (WHERE k.state = 'available'),
           count(k.key_id) FILTER (WHERE k.state = 'reserved'),
           s.low_stock_alerted, s.low_stock_alerts
    FROM skus s LEFT JOIN keys k ON k.sku_id = s.sku_id
    GROUP BY s.sku_id;

-- Projection `catalogue`.
ALTER TABLE products ALTER COLUMN created_at DROP DEFAULT;
ALTER TABLE skus
    DROP CONSTRAINT skus_product_id_fkey,
    DROP COLUMN low_stock_threshold,
    DROP COLUMN low_stock_alerted,
    DROP COLUMN low_stock_alerts,
    ALTER COLUMN created_at DROP DEFAULT;
ALTER TABLE pools
    DROP CONSTRAINT pools_sku_id_fkey,
    ALTER COLUMN created_at DROP DEFAULT;

-- Projection `key_batches`: what each import stored, and which master key wraps its data key now.
ALTER TABLE key_batches
    DROP CONSTRAINT key_batches_pool_id_fkey,
    DROP CONSTRAINT key_batches_sku_id_fkey,
    DROP COLUMN wrapped_data_key,
    ALTER COLUMN imported DROP DEFAULT,
    ALTER COLUMN duplicates DROP DEFAULT,
    ALTER COLUMN rejected DROP DEFAULT,
    ALTER COLUMN created_at DROP DEFAULT;

-- Projection `keys`: each key's state. Its secrets stay in key_material.
ALTER TABLE keys
    DROP CONSTRAINT keys_pool_id_fkey,
    DROP CONSTRAINT keys_sku_id_fkey,
    DROP CONSTRAINT keys_batch_id_fkey,
    DROP CONSTRAINT keys_sku_id_fingerprint_key,
    DROP CONSTRAINT keys_order_id_line_no_unit_no_key,
    DROP COLUMN fingerprint,
    DROP COLUMN ciphertext,
    DROP COLUMN nonce,
    ALTER COLUMN state DROP DEFAULT;
-- A unit of an order line holds at most one key (DESIGN.md, correctness item 4); also the keys of an order.
CREATE UNIQUE INDEX keys_unit ON keys (order_id, line_no, unit_no) WHERE order_id IS NOT NULL;

-- Projection `allocations`: the outcome of each paid order, decided once.
DELETE FROM allocations WHERE outcome = 'pending';
ALTER TABLE allocations
    DROP CONSTRAINT allocations_outcome_check,
    ADD CONSTRAINT allocations_outcome_check CHECK (outcome IN ('reserved', 'short')),
    ALTER COLUMN decided_at DROP DEFAULT;

-- Projection `key_reveals`: every reveal of a key's plaintext (KeysRevealed), one row per key, in the order
-- the keys were handed out. Append-only.
ALTER TABLE key_reveals RENAME TO key_reveals_001;
CREATE TABLE key_reveals (
    reveal_id   text        NOT NULL,
    position    int         NOT NULL,
    key_id      text        NOT NULL,
    order_id    text        NOT NULL,
    actor       text        NOT NULL,
    purpose     text        NOT NULL,
    revealed_at timestamptz NOT NULL,
    PRIMARY KEY (reveal_id, position)
);
INSERT INTO key_reveals (reveal_id, position, key_id, order_id, actor, purpose, revealed_at)
    SELECT 'before-002-' || id, 1, key_id, order_id, actor, purpose, revealed_at FROM key_reveals_001;
DROP TABLE key_reveals_001;
CREATE INDEX key_reveals_order ON key_reveals (order_id);
CREATE INDEX key_reveals_key ON key_reveals (key_id);
CREATE TRIGGER key_reveals_append_only BEFORE UPDATE OR DELETE ON key_reveals
    FOR EACH ROW EXECUTE FUNCTION key_reveals_append_only();
