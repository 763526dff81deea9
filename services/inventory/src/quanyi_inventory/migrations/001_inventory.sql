-- Inventory: catalogue, encrypted card-key pools, import batches, allocations and the reveal audit trail.
-- No column ever holds a card key in plaintext (DESIGN.md, invariant I5).

CREATE TABLE products (
    product_id text PRIMARY KEY,
    name       text        NOT NULL,
    kind       text        NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE skus (
    sku_id              text PRIMARY KEY,
    product_id          text        NOT NULL REFERENCES products,
    name                text        NOT NULL,
    price_minor         bigint      NOT NULL CHECK (price_minor >= 0),
    currency            text        NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    low_stock_threshold bigint      NOT NULL DEFAULT 0 CHECK (low_stock_threshold >= 0),
    -- One StockLow per low episode: set when it is recorded, cleared when an import lifts stock above
    -- the threshold. low_stock_alerts numbers the StockLow events of the SKU (their aggregate version).
    low_stock_alerted   boolean     NOT NULL DEFAULT false,
    low_stock_alerts    bigint      NOT NULL DEFAULT 0,
    created_at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX skus_product ON skus (product_id);

CREATE TABLE pools (
    pool_id    text PRIMARY KEY,
    sku_id     text        NOT NULL REFERENCES skus,
    name       text        NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX pools_sku ON pools (sku_id);

-- The batch's data key exists only wrapped by the master key master_key_id (AES-GCM, AAD = batch_id).
CREATE TABLE key_batches (
    batch_id         text PRIMARY KEY,
    pool_id          text        NOT NULL REFERENCES pools,
    sku_id           text        NOT NULL REFERENCES skus,
    master_key_id    text        NOT NULL,
    wrapped_data_key bytea       NOT NULL,
    unit_cost_minor  bigint      NOT NULL CHECK (unit_cost_minor >= 0),
    currency         text        NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    imported         bigint      NOT NULL DEFAULT 0,
    duplicates       bigint      NOT NULL DEFAULT 0,
    rejected         bigint      NOT NULL DEFAULT 0,
    actor            text        NOT NULL,
    created_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX key_batches_master_key ON key_batches (master_key_id);

-- ciphertext = AES-GCM(batch data key, nonce, {"c": code, "p": password}, AAD = key_id).
-- fingerprint = HMAC-SHA256(fingerprint key, normalized code): a code is stored once per SKU.
CREATE TABLE keys (
    key_id          text PRIMARY KEY,
    pool_id         text        NOT NULL REFERENCES pools,
    sku_id          text        NOT NULL REFERENCES skus,
    batch_id        text        NOT NULL REFERENCES key_batches,
    fingerprint     bytea       NOT NULL,
    ciphertext      bytea       NOT NULL,
    nonce           bytea       NOT NULL,
    state           text        NOT NULL DEFAULT 'available' CHECK (state IN ('available', 'reserved')),
    order_id        text,
    line_no         int,
    unit_no         int,
    reserved_at     timestamptz,
    unit_cost_minor bigint      NOT NULL,
    currency        text        NOT NULL,
    CHECK ((state = 'available') = (order_id IS NULL)),
    CHECK ((order_id IS NULL) = (line_no IS NULL) AND (order_id IS NULL) = (unit_no IS NULL)),
    UNIQUE (sku_id, fingerprint),
    -- A unit of an order line holds at most one key (DESIGN.md, correctness item 4).
    UNIQUE (order_id, line_no, unit_no)
);
-- The claim's scan: the oldest available keys of a SKU.
CREATE INDEX keys_available ON keys (sku_id, key_id) WHERE state = 'available';
CREATE INDEX keys_fingerprint ON keys (fingerprint);

-- The outcome of each paid order, decided once: a redelivered or repeated OrderPaid finds it here.
CREATE TABLE allocations (
    order_id   text PRIMARY KEY,
    outcome    text        NOT NULL CHECK (outcome IN ('pending', 'reserved', 'short')),
    -- For a short order: [{line_no, sku_id, wanted, available}], as recorded in StockShort.
    short_lines jsonb,
    decided_at timestamptz NOT NULL DEFAULT now()
);

-- Every reveal of a key's plaintext: who, why, when, for which order. Append-only.
CREATE TABLE key_reveals (
    id          bigserial PRIMARY KEY,
    key_id      text        NOT NULL REFERENCES keys,
    order_id    text        NOT NULL,
    actor       text        NOT NULL,
    purpose     text        NOT NULL,
    revealed_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX key_reveals_order ON key_reveals (order_id);
CREATE INDEX key_reveals_key ON key_reveals (key_id);

CREATE FUNCTION key_reveals_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'key_reveals is append-only';
END;
$$;
CREATE TRIGGER key_reveals_append_only BEFORE UPDATE OR DELETE ON key_reveals
    FOR EACH ROW EXECUTE FUNCTION key_reveals_append_only();
