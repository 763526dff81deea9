-- Issue 7: key file import jobs outlive the gateway that started them. Inventory records each job on its
-- own KeyFileImport stream (KeyFileImportStarted, KeyFileImportProgressed at most every few seconds,
-- KeyFileImportFinished); GetKeyFileImport and ListKeyFileImports read this projection.

-- Projection `key_file_imports`: one row per job, as its events left it (version: its stream's).
CREATE TABLE key_file_imports (
    job_id      text PRIMARY KEY,
    pool_id     text        NOT NULL,
    file_name   text        NOT NULL,
    actor       text        NOT NULL,
    status      text        NOT NULL CHECK (status IN ('running', 'done', 'failed')),
    stage       text        NOT NULL,
    rows_read   bigint      NOT NULL,
    bytes_read  bigint      NOT NULL,
    bytes_total bigint      NOT NULL,
    created_at  timestamptz NOT NULL,
    finished_at timestamptz,
    -- The outcome of a job that is done: its counts, file SHA-256 and bad rows (line and reason only).
    result      jsonb,
    error       text        NOT NULL,
    version     int         NOT NULL
);
CREATE INDEX key_file_imports_recent ON key_file_imports (created_at DESC, job_id DESC);
