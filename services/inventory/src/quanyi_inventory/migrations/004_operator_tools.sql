-- Issue 7 (operator tools): void and restore batches (the recycle bin), exports, the pools' operation log.
--
-- Projection `key_batches`: whether the batch is in the recycle bin, and its aggregate version
-- (KeysImported 1, each BatchVoided / BatchRestored one more).
ALTER TABLE key_batches
    ADD COLUMN voided  boolean NOT NULL DEFAULT false,
    ADD COLUMN version int     NOT NULL DEFAULT 1;
ALTER TABLE key_batches ALTER COLUMN voided DROP DEFAULT, ALTER COLUMN version DROP DEFAULT;
CREATE INDEX key_batches_pool ON key_batches (pool_id, created_at);

-- Projection `keys`: a batch's keys by state (voiding, restoring, exporting a batch).
CREATE INDEX keys_batch_state ON keys (batch_id, state);

-- Projection `pool_operations`: every action on the card-key pools, one row per event (its id), in the
-- order of the events' times. Append-only.
CREATE TABLE pool_operations (
    operation_id text PRIMARY KEY,
    at           timestamptz NOT NULL,
    action       text        NOT NULL,
    actor        text        NOT NULL,
    pool_id      text        NOT NULL,
    sku_id       text        NOT NULL,
    batch_id     text        NOT NULL,
    keys         bigint      NOT NULL,
    detail       text        NOT NULL
);
CREATE INDEX pool_operations_at ON pool_operations (at DESC, operation_id DESC);
CREATE INDEX pool_operations_pool ON pool_operations (pool_id, at DESC, operation_id DESC);
