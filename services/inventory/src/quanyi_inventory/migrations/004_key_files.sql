-- Issue 7 (import at scale): what a key file's row may say about its key, and where each batch came from.
--
-- The record: a key's own face value, cost and supplier, as its import row gave them (NULL: the batch's
-- unit cost, no face value, no supplier). Its own validity (valid_from, expires_at) is in 003.
ALTER TABLE key_material
    ADD COLUMN face_value_minor bigint CHECK (face_value_minor >= 0),
    ADD COLUMN unit_cost_minor  bigint CHECK (unit_cost_minor >= 0),
    ADD COLUMN supplier         text;

-- Projection `key_batches`: the file of each batch (KeysImported.source); empty for earlier batches.
ALTER TABLE key_batches
    ADD COLUMN file_sha256 text   NOT NULL DEFAULT '',
    ADD COLUMN file_name   text   NOT NULL DEFAULT '',
    ADD COLUMN format      text   NOT NULL DEFAULT '',
    ADD COLUMN mode        text   NOT NULL DEFAULT '',
    ADD COLUMN file_rows   bigint NOT NULL DEFAULT 0,
    ADD COLUMN file_bytes  bigint NOT NULL DEFAULT 0;
ALTER TABLE key_batches
    ALTER COLUMN file_sha256 DROP DEFAULT,
    ALTER COLUMN file_name DROP DEFAULT,
    ALTER COLUMN format DROP DEFAULT,
    ALTER COLUMN mode DROP DEFAULT,
    ALTER COLUMN file_rows DROP DEFAULT,
    ALTER COLUMN file_bytes DROP DEFAULT;
